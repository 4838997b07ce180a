/* test_msg.c — message framers: events of captured-looking streams, the same however the
 * stream is cut into chunks, and malformed streams lost without a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"
#include "unit.h"

#define MAX_EV 4096

struct evs {
	int n;
	enum pk_msg_event ev[MAX_EV];
	uint64_t at[MAX_EV]; /* stream offset after the event's last byte */
	unsigned flags[MAX_EV];
};

/* Frames s[0..len) in chunks: cuts[] (sorted offsets, ncuts of them) or, with step > 0, every
 * step bytes; then finishes.  Records every event but MORE (one LOST at most). */
static void frame(enum pk_proto proto, bool response, const char *s, size_t len, size_t step,
		  const size_t *cuts, int ncuts, const unsigned *expect, int nexpect,
		  struct evs *out)
{
	struct pk_msgr m;
	size_t off = 0;
	int cut = 0;

	out->n = 0;
	pk_msgr_init(&m, proto, response);
	for (int i = 0; i < nexpect; i++)
		pk_msgr_expect(&m, expect[i]);
	while (off < len) {
		size_t stop = step ? off + step : (cut < ncuts ? cuts[cut++] : len);
		const char *p = s + off;
		size_t left, zeros = 0;

		if (stop > len)
			stop = len;
		left = stop - off;
		while (left > 0) {
			enum pk_msg_event ev;
			size_t k = pk_msgr_feed(&m, p, left, &ev);

			CHECK(k <= left);
			if (k > left)
				return;
			zeros = k == 0 ? zeros + 1 : 0;
			CHECK(zeros < 3);
			if (zeros >= 3)
				return;
			p += k;
			left -= k;
			if (ev != PK_MSG_MORE && out->n < MAX_EV) {
				out->ev[out->n] = ev;
				out->at[out->n] = m.consumed;
				out->flags[out->n++] = m.flags;
			}
			if (ev == PK_MSG_LOST)
				return;
		}
		off = stop;
	}
	{
		enum pk_msg_event ev = pk_msgr_finish(&m);

		if (ev != PK_MSG_MORE && out->n < MAX_EV) {
			out->ev[out->n] = ev;
			out->at[out->n] = m.consumed;
			out->flags[out->n++] = m.flags;
		}
	}
}

/* MySQL responses: how far an END may move when a cut falls inside a packet's header (the
 * framer cannot tell yet whether the packet starts a new response; see msg.h). */
static uint64_t slack;

/* The same events at the same offsets (a LOST takes the rest of its chunk: any offset). */
static bool same(const struct evs *a, const struct evs *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++)
		if (a->ev[i] != b->ev[i] ||
		    (a->ev[i] != PK_MSG_LOST && a->at[i] != b->at[i] &&
		     (a->ev[i] != PK_MSG_END || a->at[i] > b->at[i] + slack ||
		      b->at[i] > a->at[i] + slack)) ||
		    (a->ev[i] == PK_MSG_END && a->flags[i] != b->flags[i]))
			return false;
	return true;
}

static void dump(const char *what, const struct evs *e)
{
	printf("  %s:", what);
	for (int i = 0; i < e->n && i < 40; i++)
		printf(" %c@%llu", "MPEL"[e->ev[i]], (unsigned long long)e -> at[i]);
	printf("\n");
}

/* Frames s whole, then cut once at every offset, twice at pairs of offsets (short streams),
 * and in steps of 1..9 bytes: every run must give the whole run's events.  *whole gets them. */
static void every_cut(enum pk_proto proto, bool response, const char *s, size_t len,
		      const unsigned *expect, int nexpect, struct evs *whole)
{
	static struct evs e;
	bool ok = true;

	frame(proto, response, s, len, 0, NULL, 0, expect, nexpect, whole);
	for (size_t c = 1; c < len && ok; c++) {
		frame(proto, response, s, len, 0, &c, 1, expect, nexpect, &e);
		ok = same(whole, &e);
		if (!ok)
			printf("  cut at %zu\n", c);
	}
	for (size_t c = 1; c < len && ok && len <= 400; c++)
		for (size_t d = c + 1; d < len && ok; d++) {
			size_t cuts[2] = { c, d };

			frame(proto, response, s, len, 0, cuts, 2, expect, nexpect, &e);
			ok = same(whole, &e);
			if (!ok)
				printf("  cuts at %zu, %zu\n", c, d);
		}
	for (size_t step = 1; step < 10 && ok; step++) {
		frame(proto, response, s, len, step, NULL, 0, expect, nexpect, &e);
		ok = same(whole, &e);
		if (!ok)
			printf("  step %zu\n", step);
	}
	if (!ok) {
		dump("whole", whole);
		dump("cut", &e);
	}
	CHECK(ok);
}

/* Counts events of kind ev in e. */
static int count(const struct evs *e, enum pk_msg_event ev)
{
	int n = 0;

	for (int i = 0; i < e->n; i++)
		n += e->ev[i] == ev;
	return n;
}

/* The offset of the k-th END (-1 if none). */
static long long end_at(const struct evs *e, int k)
{
	for (int i = 0; i < e->n; i++)
		if (e->ev[i] == PK_MSG_END && k-- == 0)
			return (long long)e->at[i];
	return -1;
}

/* ---- RESP ---- */

static char *resp_cmd(char *out, int argc, const char *const *argv)
{
	char *p = out + sprintf(out, "*%d\r\n", argc);

	for (int i = 0; i < argc; i++)
		p += sprintf(p, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
	return p;
}

/* redis-benchmark -P 4 -t set,get: pipelined SETs and GETs of key:__rand_int__, values "xxx". */
static void test_resp_pipeline(void)
{
	static char s[4096];
	static const char *const set[] = { "SET", "key:__rand_int__", "xxx" }, *const get[] = {
		"GET", "key:__rand_int__"
	};
	char *p = s;
	size_t ends[8];
	struct evs e;

	for (int i = 0; i < 4; i++) {
		p = resp_cmd(p, 3, set);
		ends[i] = (size_t)(p - s);
	}
	for (int i = 4; i < 8; i++) {
		p = resp_cmd(p, 2, get);
		ends[i] = (size_t)(p - s);
	}
	every_cut(PK_PROTO_RESP, false, s, (size_t)(p - s), NULL, 0, &e);
	CHECK_EQ_INT(e.n, 8);
	CHECK_EQ_INT(count(&e, PK_MSG_END), 8); /* a command is one part */
	for (int i = 0; i < 8; i++)
		CHECK_EQ_INT(end_at(&e, i), ends[i]);

	/* the replies: +OK four times, then $3 xxx four times (and a miss) */
	{
		const char *r = "+OK\r\n+OK\r\n+OK\r\n+OK\r\n$3\r\nxxx\r\n$3\r\nxxx\r\n$-1\r\n"
				"$3\r\nxxx\r\n";

		every_cut(PK_PROTO_RESP, true, r, strlen(r), NULL, 0, &e);
		CHECK_EQ_INT(e.n, 8);
		CHECK_EQ_INT(count(&e, PK_MSG_END), 8);
		CHECK_EQ_INT(end_at(&e, 0), 5);
		CHECK_EQ_INT(end_at(&e, 4), 29);
		CHECK_EQ_INT(end_at(&e, 6), 43);
	}
}

static void test_resp_inline_and_stray(void)
{
	const char *s = "PING\r\n\r\nSET a b\n*1\r\n$4\r\nPING\r\n\n";
	struct evs e;

	every_cut(PK_PROTO_RESP, false, s, strlen(s), NULL, 0, &e);
	CHECK_EQ_INT(e.n, 3);
	CHECK_EQ_INT(end_at(&e, 0), 6);
	CHECK_EQ_INT(end_at(&e, 1), 16); /* the stray CRLF belongs to SET's message */
	CHECK_EQ_INT(end_at(&e, 2), 30);
}

/* Replies: each leaf a part, aggregate headers with the leaf after them. */
static void test_resp_replies_nested(void)
{
	/* LRANGE: *3 of bulk strings; an empty array; a nested array (EXEC with a null); an
	 * error; an integer */
	const char *s = "*3\r\n$1\r\na\r\n$1\r\nb\r\n$0\r\n\r\n"
			"*0\r\n"
			"*2\r\n*2\r\n:1\r\n$-1\r\n*-1\r\n"
			"-ERR unknown command 'FOO'\r\n"
			":42\r\n";
	struct evs e;

	every_cut(PK_PROTO_RESP, true, s, strlen(s), NULL, 0, &e);
	CHECK_EQ_INT(count(&e, PK_MSG_END), 5);
	CHECK_EQ_INT(count(&e, PK_MSG_PART), 2 + 0 + 2);
	CHECK_EQ_INT(e.ev[0], PK_MSG_PART);
	CHECK_EQ_INT(e.at[0], 11); /* "*3\r\n$1\r\na\r\n" */
	CHECK_EQ_INT(end_at(&e, 0), 24);
	CHECK_EQ_INT(end_at(&e, 1), 28);
}

/* RESP3 (HELLO 3): maps, sets, pushes, attributes, nulls, doubles, booleans, big numbers,
 * verbatim strings, bulk errors. */
static void test_resp3(void)
{
	const char *s = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n"
			"$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
			"$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
			"~2\r\n+a\r\n+b\r\n"
			"_\r\n,3.14\r\n#t\r\n(3492890328409238509324850943850943825024385\r\n"
			"=15\r\ntxt:Some string\r\n!21\r\nSYNTAX invalid syntax\r\n"
			">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
			"|1\r\n+ttl\r\n:3600\r\n$3\r\nval\r\n"
			"%1\r\n+k\r\n%1\r\n+k2\r\n~1\r\n,inf\r\n";
	struct evs e;

	every_cut(PK_PROTO_RESP, true, s, strlen(s), NULL, 0, &e);
	/* HELLO map, set, null, double, bool, big, verbatim, bulk error, push, attributed
	 * string, nested map */
	CHECK_EQ_INT(count(&e, PK_MSG_END), 11);
	CHECK_EQ_INT(count(&e, PK_MSG_LOST), 0);
	CHECK_EQ_INT(count(&e, PK_MSG_PART), 13 + 1 + 2 + 2 + 2);
}

static void test_resp_malformed(void)
{
	static const struct {
		bool response;
		const char *s;
	} bad[] = {
		{ false, "*x\r\n" },
		{ false, "*2\r\n:1\r\n$1\r\nx\r\n" },
		{ false, "*-1\r\n" },
		{ false, "*1\r\n$3\r\nabcd\r\n" },
		{ false, "*99999999999999999999\r\n" },
		{ true, "?what\r\n" },
		{ true, "$-2\r\n" },
		{ true, "$?\r\n;4\r\nHell\r\n;0\r\n" },
		{ true, "*1\r\n" },
		{ true, "$5\r\nab" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct evs e;

		every_cut(PK_PROTO_RESP, bad[i].response, bad[i].s, strlen(bad[i].s), NULL, 0, &e);
		CHECK(e.n > 0 && e.ev[e.n - 1] == PK_MSG_LOST);
	}
	{ /* deeper than PK_MSG_DEPTH */
		char s[4 * PK_MSG_DEPTH + 16] = "";
		struct evs e;

		for (int i = 0; i <= PK_MSG_DEPTH; i++)
			strcat(s, "*1\r\n");
		strcat(s, ":1\r\n");
		frame(PK_PROTO_RESP, true, s, strlen(s), 0, NULL, 0, NULL, 0, &e);
		CHECK(e.n == 1 && e.ev[0] == PK_MSG_LOST);
	}
}

/* Concatenates msgs[0..n) into one stream, frames it under every cut and checks: one END at the
 * end of each message (the last may end at pk_msgr_finish), with flags[k], parts[k] parts each
 * (0: not checked), nothing else. */
static void check_msgs(enum pk_proto proto, bool response, const char *const *msgs,
		       const size_t *lens, int n, const int *parts, const unsigned *flags,
		       const unsigned *expect, int nexpect)
{
	static char s[1 << 16];
	static struct evs e;
	size_t len = 0;
	int k = 0, p = 1;

	for (int i = 0; i < n; i++) {
		size_t l = lens ? lens[i] : strlen(msgs[i]);

		memcpy(s + len, msgs[i], l);
		len += l;
	}
	every_cut(proto, response, s, len, expect, nexpect, &e);
	CHECK_EQ_INT(count(&e, PK_MSG_END), n);
	CHECK_EQ_INT(count(&e, PK_MSG_LOST), 0);
	len = 0;
	for (int i = 0; i < e.n && k < n; i++) {
		if (e.ev[i] == PK_MSG_PART) {
			p++;
			continue;
		}
		len += lens ? lens[k] : strlen(msgs[k]);
		if (e.at[i] != len || (parts && parts[k] && parts[k] != p) ||
		    (flags && flags[k] != e.flags[i]))
			printf("  message %d: ends at %llu (%zu), %d parts (%d), flags %u (%u)\n",
			       k, (unsigned long long)e.at[i], len, p, parts ? parts[k] : 0,
			       e.flags[i], flags ? flags[k] : 0);
		CHECK_EQ_INT(e.at[i], len);
		if (parts && parts[k])
			CHECK_EQ_INT(p, parts[k]);
		if (flags)
			CHECK_EQ_INT(e.flags[i], flags[k]);
		k++;
		p = 1;
	}
}

/* ---- HTTP ---- */

/* curl-like requests on one keep-alive connection, pipelined: GET, HEAD, POST with
 * 100-continue, a chunked upload with an extension and a trailer, a conditional GET. */
static void test_http_requests(void)
{
	static const char *const req[] = {
		"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/7.88.1\r\nAccept: "
		"*/*\r\n\r\n",
		"HEAD /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"\r\nPOST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n"
		"Expect: 100-continue\r\n\r\nhello world",
		"POST /chunk HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"GET /gone HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: \"abc\"\r\n\r\n",
		"DELETE /x HTTP/1.0\nHost: localhost\n\n",
	};
	static const int parts[] = { 5, 3, 5, 4, 4, 3 };
	static const unsigned flags[] = { 0, PK_MSG_HEAD, 0, 0, 0, 0 };

	check_msgs(PK_PROTO_HTTP, false, req, NULL, 6, parts, flags, NULL, 0);
}

/* nginx's answers to those: a chunked page, a HEAD answer with a length and no body, 100
 * Continue then 201, a chunked body with a trailer, 304, 204. */
static void test_http_responses(void)
{
	static const char *const resp[] = {
		"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 04 Dec 2026 17:00:00 GMT\r\n"
		"Content-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: "
		"keep-alive\r\n"
		"\r\n1f\r\n<html><body>hello</body></html>\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n"
		"Content-Length: 615\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nServer: nginx\r\n"
		"Content-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nServer: nginx\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		"4\r\nabcd\r\n0\r\nX-Checksum: 9\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nServer: nginx\r\nETag: \"abc\"\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nServer: nginx\r\n\r\n",
	};
	static const int parts[] = { 7, 6, 6, 4, 4, 3 };
	static const unsigned expect[] = { 0, PK_MSG_HEAD, 0, 0, 0, 0 };

	check_msgs(PK_PROTO_HTTP, true, resp, NULL, 6, parts, NULL, expect, 6);
	/* without the HEAD hint the 615 bytes of body are waited for: cut short, lost */
	{
		struct evs e;
		const char *s = resp[1];

		frame(PK_PROTO_HTTP, true, s, strlen(s), 0, NULL, 0, NULL, 0, &e);
		CHECK(e.n > 0 && e.ev[e.n - 1] == PK_MSG_LOST);
	}
}

/* An HTTP/1.0 answer without a length ends with the stream; so does a 1.1 one. */
static void test_http_close_delimited(void)
{
	static const char *const a[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nServer: nginx\r\n\r\n<html>until the close\r\n\r\n</html>",
	};
	static const int parts[] = { 3, 3 };

	check_msgs(PK_PROTO_HTTP, true, a, NULL, 2, parts, NULL, NULL, 0);
}

static void test_http_malformed(void)
{
	static const struct {
		bool response;
		const char *s;
	} bad[] = {
		{ true, "garbage\r\n\r\n" },
		{ true, "HTTP/1.1 2x0 OK\r\n\r\n" },
		{ true, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" },
		{ true, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n" },
		{ true, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n" },
		{ true, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab" },
		{ false, "POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\nhello" },
		{ false, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nhello" },
		{ false, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "fffffffffffffffffff\r\n" },
		{ false, "GET / HTTP/1.1\r\nHost: x\r\n" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct evs e;

		every_cut(PK_PROTO_HTTP, bad[i].response, bad[i].s, strlen(bad[i].s), NULL, 0, &e);
		if (!(e.n > 0 && e.ev[e.n - 1] == PK_MSG_LOST))
			printf("  bad[%zu] not lost\n", i);
		CHECK(e.n > 0 && e.ev[e.n - 1] == PK_MSG_LOST);
	}
}

/* ---- MySQL ---- */

/* Messages being written: packets appended to the last message. */
struct msgs {
	char s[1 << 16];
	size_t len;
	int n;
	const char *msg[64];
	size_t lens[64];
};

static void msg_new(struct msgs *b)
{
	b->msg[b->n] = b->s + b->len;
	b->lens[b->n++] = 0;
}

static void pkt(struct msgs *b, uint8_t seq, const void *p, size_t len)
{
	char *o = b->s + b->len;

	o[0] = (char)(len & 0xff);
	o[1] = (char)(len >> 8 & 0xff);
	o[2] = (char)(len >> 16);
	o[3] = (char)seq;
	memcpy(o + 4, p, len);
	b->len += len + 4;
	b->lens[b->n - 1] += len + 4;
}

#define PKT(b, seq, lit) pkt(b, seq, lit, sizeof(lit) - 1)

/* A column definition packet (protocol 4.1) of column name in table t of db test. */
static void coldef(struct msgs *b, uint8_t seq, const char *name)
{
	char p[128];
	size_t n = (size_t)sprintf(p, "\3def\4test\1t\1t%c%s%c%s", (int)strlen(name), name,
				   (int)strlen(name), name);

	memcpy(p + n, "\x0c\x3f\x00\x0b\x00\x00\x00\x03\x03\x50\x00\x00\x00", 13);
	pkt(b, seq, p, n + 13);
}

#define EOF_PKT "\xfe\x00\x00\x02\x00"

/* mysql 8 client and server: greeting, authentication, OK; SELECT @@version_comment; a query
 * with a result set; prepare, execute, send long data, close a statement; a result of 304
 * packets (sequence ids wrap: ..., 255, 0, 1, ...); COM_QUIT. */
static void test_mysql_session(void)
{
	static struct msgs c, sv;
	static const unsigned cflags[] = {
		PK_MSG_HANDSHAKE,  0, 0, 0, 0, PK_MSG_NO_RESPONSE, PK_MSG_NO_RESPONSE, 0,
		PK_MSG_NO_RESPONSE
	};
	static const int sparts[] = { 3, 6, 9, 6, 6, 305 }; /* packets, an empty part */
	static const unsigned sflags[] = { PK_MSG_HANDSHAKE, 0, 0, 0, 0, 0 };
	uint8_t seq;

	c.n = c.len = 0;
	sv.n = sv.len = 0;
	/* the client */
	msg_new(&c);
	PKT(&c, 1,
	    "\x85\xa6\xff\x01\x00\x00\x00\x01\x21\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00root\x00\x14\x11\x22\x33\x44\x55"
	    "\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x10\x20\x30\x40\x50mysql_native_password");
	msg_new(&c);
	PKT(&c, 0, "\x03select @@version_comment limit 1");
	msg_new(&c);
	PKT(&c, 0, "\x03SELECT id, name FROM t");
	msg_new(&c);
	PKT(&c, 0, "\x16SELECT ? + 1");
	msg_new(&c);
	PKT(&c, 0,
	    "\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00\x00\x01\x08\x00\x29\x00\x00\x00\x00"
	    "\x00\x00\x00");
	msg_new(&c);
	PKT(&c, 0, "\x18\x01\x00\x00\x00\x00\x00long data");
	msg_new(&c);
	PKT(&c, 0, "\x19\x01\x00\x00\x00");
	msg_new(&c);
	PKT(&c, 0, "\x03SELECT * FROM big");
	msg_new(&c);
	PKT(&c, 0, "\x01");
	check_msgs(PK_PROTO_MYSQL, false, c.msg, c.lens, c.n, NULL, cflags, NULL, 0);

	/* the server */
	msg_new(&sv);
	PKT(&sv, 0,
	    "\x0a"
	    "8.0.36\x00\x0b\x00\x00\x00\x15\x2f\x3d\x4e\x5b\x6a\x01\x22\x00\xff\xff\xff\x02\x00"
	    "\xff\xdf\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x12\x34\x56\x78\x12\x34\x56"
	    "\x78\x12\x34\x56\x00mysql_native_password\x00");
	PKT(&sv, 2, "\x00\x00\x00\x02\x00\x00\x00");
	msg_new(&sv);
	PKT(&sv, 1, "\x01");
	coldef(&sv, 2, "@@version_comment");
	PKT(&sv, 3, EOF_PKT);
	PKT(&sv, 4, "\x1cMySQL Community Server - GPL");
	PKT(&sv, 5, EOF_PKT);
	msg_new(&sv);
	PKT(&sv, 1, "\x02");
	coldef(&sv, 2, "id");
	coldef(&sv, 3, "name");
	PKT(&sv, 4, EOF_PKT);
	PKT(&sv, 5,
	    "\x01"
	    "1\x05alice");
	PKT(&sv, 6,
	    "\x01"
	    "2\x03"
	    "bob");
	PKT(&sv, 7,
	    "\x01"
	    "3\xfb");
	PKT(&sv, 8, EOF_PKT);
	msg_new(&sv); /* COM_STMT_PREPARE_OK: statement 1, 1 column, 1 parameter */
	PKT(&sv, 1, "\x00\x01\x00\x00\x00\x01\x00\x01\x00\x00\x00\x00");
	coldef(&sv, 2, "?");
	PKT(&sv, 3, EOF_PKT);
	coldef(&sv, 4, "? + 1");
	PKT(&sv, 5, EOF_PKT);
	msg_new(&sv); /* the binary result of COM_STMT_EXECUTE */
	PKT(&sv, 1, "\x01");
	coldef(&sv, 2, "? + 1");
	PKT(&sv, 3, EOF_PKT);
	PKT(&sv, 4, "\x00\x00\x2a\x00\x00\x00\x00\x00\x00\x00");
	PKT(&sv, 5, EOF_PKT);
	msg_new(&sv); /* SELECT * FROM big: 300 rows */
	PKT(&sv, 1, "\x01");
	coldef(&sv, 2, "v");
	PKT(&sv, 3, EOF_PKT);
	seq = 4;
	for (int r = 0; r < 300; r++) {
		char row[16];
		int n = sprintf(row + 1, "%d", r);

		row[0] = (char)n;
		pkt(&sv, seq++, row, (size_t)n + 1);
	}
	PKT(&sv, seq, EOF_PKT);
	CHECK_EQ_INT(seq, 48); /* 304 packets: 1 ... 255, 0, 1, ... 48 */
	slack = 3;
	check_msgs(PK_PROTO_MYSQL, true, sv.msg, sv.lens, sv.n, sparts, sflags, NULL, 0);
	slack = 0;
}

/* A packet of 16 MiB - 1 bytes continues in the next one: one command, one part; a response
 * packet too (and a response's empty last part). */
static void test_mysql_long_packets(void)
{
	size_t big = 0xffffff, len = 2 * (big + 4) + 2 * 9 + 5;
	char *s = calloc(len, 1);
	size_t cuts[3] = { 3, big + 6, big + 4 + big + 4 + 2 };
	struct evs e;

	if (!s)
		return;
	for (int side = 0; side < 2; side++) {
		/* packet 1: 0xffffff bytes (seq 0 / 1), packet 2: the same, packet 3: 5 bytes,
		 * then a 5-byte request / response of its own */
		uint8_t s0 = side ? 1 : 0;
		size_t o = 0;

		memset(s, 'x', len);
		for (int k = 0; k < 2; k++) {
			memcpy(s + o, "\xff\xff\xff", 3);
			s[o + 3] = (char)(s0 + k);
			s[o + 4] = 0x03;
			o += big + 4;
		}
		memcpy(s + o, "\x05\x00\x00", 3);
		s[o + 3] = (char)(s0 + 2);
		o += 9;
		memcpy(s + o, "\x05\x00\x00", 3);
		s[o + 3] = (char)s0;
		o += 9;
		frame(PK_PROTO_MYSQL, side, s, o, 0, cuts, 3, NULL, 0, &e);
		CHECK_EQ_INT(count(&e, PK_MSG_END), 2);
		CHECK_EQ_INT(count(&e, PK_MSG_PART), side ? 2 : 0); /* a response: + empty part */
		CHECK_EQ_INT(end_at(&e, 0), o - 9);
		CHECK_EQ_INT(end_at(&e, 1), o);
	}
	free(s);
}

/* Cut short: lost at the end; a response's end waits for the next one, or the stream's end. */
static void test_mysql_finish(void)
{
	struct evs e;

	frame(PK_PROTO_MYSQL, false, "\x05\x00\x00\x00\x03SE", 7, 0, NULL, 0, NULL, 0, &e);
	CHECK(e.n == 1 && e.ev[0] == PK_MSG_LOST);
	frame(PK_PROTO_MYSQL, true, "\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x07\x00", 13, 0,
	      NULL, 0, NULL, 0, &e);
	CHECK(e.n == 2 && e.ev[0] == PK_MSG_PART && e.at[0] == 11 && e.ev[1] == PK_MSG_LOST);
	frame(PK_PROTO_MYSQL, true, "\x01\x00\x00\x01\x00", 5, 0, NULL, 0, NULL, 0, &e);
	CHECK(e.n == 2 && e.ev[0] == PK_MSG_PART && e.ev[1] == PK_MSG_END && e.at[1] == 5);
	frame(PK_PROTO_MYSQL, false, "", 0, 0, NULL, 0, NULL, 0, &e);
	CHECK_EQ_INT(e.n, 0);
}

static void test_none_and_names(void)
{
	enum pk_proto p;
	struct evs e;

	frame(PK_PROTO_NONE, true, "abc\r\n*1\r\n", 9, 2, NULL, 0, NULL, 0, &e);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.ev[0], PK_MSG_END);
	CHECK_EQ_INT(e.at[0], 9);
	frame(PK_PROTO_NONE, false, "", 0, 0, NULL, 0, NULL, 0, &e);
	CHECK_EQ_INT(e.n, 0);
	static const char *const names[] = { "resp", "http", "mysql", "none" };
	for (size_t i = 0; i < 4; i++) {
		CHECK_EQ_INT(pk_msg_proto_parse(names[i], &p), 0);
		CHECK_STR(pk_msg_proto_name(p), names[i]);
	}
	CHECK_EQ_INT(pk_msg_proto_parse("raw", &p), 0);
	CHECK_EQ_INT(p, PK_PROTO_NONE);
	CHECK(pk_msg_proto_parse("smtp", &p) < 0);
}

int main(void)
{
	UNIT_RUN(test_resp_pipeline);
	UNIT_RUN(test_resp_inline_and_stray);
	UNIT_RUN(test_resp_replies_nested);
	UNIT_RUN(test_resp3);
	UNIT_RUN(test_resp_malformed);
	UNIT_RUN(test_http_requests);
	UNIT_RUN(test_http_responses);
	UNIT_RUN(test_http_close_delimited);
	UNIT_RUN(test_http_malformed);
	UNIT_RUN(test_mysql_session);
	UNIT_RUN(test_mysql_long_packets);
	UNIT_RUN(test_mysql_finish);
	UNIT_RUN(test_none_and_names);
	return unit_done();
}
