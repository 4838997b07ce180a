/* fuzz_msg.c — libFuzzer target: one direction of a connection through a message framer
 * (src/proto/msg.h).
 *
 * Input: the first byte picks the protocol (bits 0-1: RESP, HTTP, MySQL, NONE), the direction
 * (bit 2: the server's responses), HEAD hints for an HTTP response framer (bits 5-7: the first
 * three responses answer HEAD) and seeds the chunk sizes; the rest is the stream.  The stream is
 * framed a byte at a time, whole, and in chunks of pseudo-random sizes; each run finishes the
 * stream.  Besides the sanitizers' checks, it asserts the framer's promises: every call consumes
 * bytes within its chunk (all of them with MORE and LOST; none only for a MySQL response's
 * END), events come in increasing offsets, the message count is the number of ENDs, and
 * how the stream is cut changes no event (the same events at the same offsets — for a MySQL
 * response's END within the 3 bytes msg.h allows — and a LOST in the chunk holding the byte at
 * which the byte-wise run got lost).
 *
 * When bit 3 of the first byte is set, the rest is not the stream but describes well-formed
 * messages (0xff between messages, 0xfe between their parts) that the target encodes: RESP
 * arrays of bulk strings (a reply of one part: a bulk string), HTTP messages (start line,
 * header lines, a body by Content-Length or chunked), MySQL commands (one packet of sequence id
 * 0) or responses (a packet per part).  The framer must then find exactly those messages and
 * parts, and never get lost.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"

#define FUZZ_TARGET "fuzz_msg"
#include "fuzz.h"

#define FUZZ_MAX_STREAM 65536

struct run {
	size_t n;	  /* events recorded (MORE is not) */
	uint64_t *at;	  /* stream offset after each event (LOST: where its chunk ends) */
	uint8_t *ev;	  /* each event */
	size_t lost_from; /* the chunk in which it got lost: [lost_from, lost_to) */
	size_t lost_to;
};

struct cfg {
	enum pk_proto proto;
	bool response;
	unsigned heads; /* HEAD hints, oldest in bit 0 */
};

static void record(struct run *r, enum pk_msg_event ev, uint64_t at)
{
	if (r->n > 0 && ev != PK_MSG_LOST) /* a MySQL response's END may come with 0 bytes */
		require(at > r->at[r->n - 1] || (ev == PK_MSG_END && at == r->at[r->n - 1]),
			"events at increasing offsets");
	r->ev[r->n] = (uint8_t)ev;
	r->at[r->n++] = at;
}

/* Frames s[0..n) in chunks: whole (seed 0), a byte at a time (seed 1), or of pseudo-random
 * sizes from seed; records the events in r (room for n + 2). */
static void frame(const struct cfg *c, const char *s, size_t n, uint32_t seed, struct run *r)
{
	bool zero_ok = c->proto == PK_PROTO_MYSQL && c->response;
	uint64_t ends = 0;
	struct pk_msgr m;
	size_t off = 0;

	r->n = 0;
	r->lost_from = r->lost_to = SIZE_MAX;
	pk_msgr_init(&m, c->proto, c->response);
	for (int i = 0; i < 3; i++)
		pk_msgr_expect(&m, c->heads >> i & 1 ? PK_MSG_HEAD : 0);
	while (off < n) {
		size_t len = n - off, left;
		const char *p = s + off;
		int zeros = 0;

		if (seed == 1) {
			len = 1;
		} else if (seed) {
			seed = seed * 1103515245u + 12345u;
			len = 1 + (seed >> 16) % 97;
			if (len > n - off)
				len = n - off;
		}
		left = len;
		while (left > 0) {
			enum pk_msg_event ev;
			size_t k = pk_msgr_feed(&m, p, left, &ev);

			require(k <= left, "consumed within the chunk");
			require(m.consumed == (uint64_t)(p + k - s), "consumed counts the bytes");
			if (ev == PK_MSG_LOST) {
				require(k == left, "lost takes the whole chunk");
				require(m.lost, "lost says so");
				record(r, ev, m.consumed);
				r->lost_from = off;
				r->lost_to = off + len;
				return;
			}
			if (ev == PK_MSG_MORE)
				require(k == left, "more: every byte consumed");
			else
				record(r, ev, m.consumed);
			if (ev == PK_MSG_END)
				ends++;
			if (k == 0) {
				require(zero_ok, "0 bytes only for a MySQL response");
				require(ev == PK_MSG_END, "0 bytes only for an END");
				require(++zeros < 2, "progress after an event of 0 bytes");
			} else {
				zeros = 0;
			}
			p += k;
			left -= k;
		}
		off += len;
	}
	{
		enum pk_msg_event ev = pk_msgr_finish(&m);

		if (ev == PK_MSG_END)
			ends++;
		if (ev != PK_MSG_MORE)
			r->ev[r->n++] = (uint8_t)ev; /* at the end: its offset is n */
		if (ev != PK_MSG_MORE)
			r->at[r->n - 1] = n;
		require(pk_msgr_finish(&m) == (ev == PK_MSG_LOST ? PK_MSG_LOST : PK_MSG_MORE),
			"finished once");
	}
	require(m.messages == ends, "messages counts the ENDs");
}

/* Checks run b against the byte-wise run a. */
static void same(const struct cfg *c, const struct run *a, const struct run *b)
{
	uint64_t slack = c->proto == PK_PROTO_MYSQL && c->response ? 3 : 0;

	require(a->n == b->n, "chunking changes no event");
	for (size_t i = 0; i < a->n; i++) {
		require(a->ev[i] == b->ev[i], "chunking changes no event");
		if (a->ev[i] == PK_MSG_LOST) {
			if (a->lost_from == SIZE_MAX) /* at the end: cut short */
				require(b->lost_from == SIZE_MAX, "lost at the same byte");
			else
				require(b->lost_from <= a->lost_from && a->lost_from < b->lost_to,
					"lost in the chunk of the same byte");
			continue;
		}
		if (a->at[i] != b->at[i])
			require(a->ev[i] == PK_MSG_END && a->at[i] <= b->at[i] + slack &&
					b->at[i] <= a->at[i] + slack,
				"chunking moves no event");
	}
}

/* A well-formed stream being written (see structured()). */
struct gen {
	char *s;
	size_t len, cap;
	uint64_t messages, parts; /* messages written, and parts beyond each one's first */
};

static void put(struct gen *g, const void *p, size_t n)
{
	if (g->len + n > g->cap)
		return; /* cut: the caller checks g->len against the cap */
	memcpy(g->s + g->len, p, n);
	g->len += n;
}

/* Writes before, the number v (in hex when hex) and a line end. */
static void put_num(struct gen *g, const char *before, size_t v, bool hex)
{
	char buf[48];
	int n = snprintf(buf, sizeof(buf), hex ? "%s%zx\r\n" : "%s%zu\r\n", before, v);

	put(g, buf, (size_t)n);
}

/* Copies p[0..n) with line ends turned into blanks (for start and header lines). */
static void put_line(struct gen *g, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i] == '\r' || p[i] == '\n' ? ' ' : (char)p[i];

		put(g, &c, 1);
	}
}

/* The parts of message r[0..n): split at 0xfe (at most max of them: the last takes the rest);
 * returns their number and the bounds of each in b[], e[]. */
static size_t split(const uint8_t *r, size_t n, size_t *b, size_t *e, size_t max)
{
	size_t k = 0, start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && (r[i] != 0xfe || k + 1 == max))
			continue;
		b[k] = start;
		e[k++] = i;
		start = i + 1;
	}
	return k;
}

#define GEN_PARTS 200 /* MySQL: fewer than 256 packets, so that sequence ids do not wrap to 1 */

/* Writes message r[0..n) of protocol c (its parts split at 0xfe). */
static void gen_msg(const struct cfg *c, struct gen *g, const uint8_t *r, size_t n)
{
	static size_t b[GEN_PARTS], e[GEN_PARTS];
	size_t k = split(r, n, b, e, GEN_PARTS);

	g->messages++;
	switch (c->proto) {
	case PK_PROTO_RESP:
		if (c->response && k == 1) { /* a bulk string */
			put_num(g, "$", e[0] - b[0], false);
			put(g, r + b[0], e[0] - b[0]);
			put(g, "\r\n", 2);
			return;
		}
		put_num(g, "*", k, false);
		for (size_t i = 0; i < k; i++) {
			put_num(g, "$", e[i] - b[i], false);
			put(g, r + b[i], e[i] - b[i]);
			put(g, "\r\n", 2);
		}
		if (c->response)
			g->parts += k - 1;
		return;
	case PK_PROTO_HTTP: {
		/* start line, a header line per middle part, the last part as the body: by
		 * Content-Length or chunked */
		bool chunked = (e[0] - b[0]) % 3 == 1;

		if (c->response)
			put(g, "HTTP/1.1 200 ", 13);
		else
			put(g, "G", 1);
		put_line(g, r + b[0], e[0] - b[0]);
		put(g, "\r\n", 2);
		for (size_t i = 1; i + 1 < k; i++) {
			put(g, "X-", 2);
			put_line(g, r + b[i], e[i] - b[i]);
			put(g, "\r\n", 2);
		}
		g->parts += k > 1 ? k - 2 : 0;
		if (chunked) {
			put(g, "Transfer-Encoding: chunked\r\n\r\n", 30);
			for (size_t o = k > 1 ? b[k - 1] : 0; k > 1 && o < e[k - 1]; o += 7) {
				size_t len = e[k - 1] - o < 7 ? e[k - 1] - o : 7;

				put_num(g, "", len, true);
				put(g, r + o, len);
				put(g, "\r\n", 2);
			}
			put(g, "0\r\n\r\n", 5);
		} else {
			put_num(g, "Content-Length: ", k > 1 ? e[k - 1] - b[k - 1] : 0, false);
			put(g, "\r\n", 2);
			if (k > 1)
				put(g, r + b[k - 1], e[k - 1] - b[k - 1]);
		}
		g->parts += 2; /* the length or encoding header, the body */
		return;
	}
	case PK_PROTO_MYSQL:
		/* a command (sequence id 0, one packet); a response: a packet per part, 1, 2, ...
		 */
		for (size_t i = 0; i < (c->response ? k : 1); i++) {
			size_t from = c->response ? b[i] : 0, to = c->response ? e[i] : n;
			uint8_t h[4] = { (uint8_t)(to - from), (uint8_t)((to - from) >> 8),
					 (uint8_t)((to - from) >> 16),
					 (uint8_t)(c->response ? i + 1 : 0) };

			put(g, h, 4);
			put(g, r + from, to - from);
		}
		if (c->response)
			g->parts += k; /* and an empty last part */
		return;
	default:
		return;
	}
}

/* Encodes the messages described by d[0..n) (0xff between messages, 0xfe between parts) and
 * checks that the framer finds exactly them, never lost. */
static void structured(const struct cfg *c, const uint8_t *d, size_t n)
{
	struct gen g = { .cap = 64 * n + 128 }; /* the most one input byte can make */
	struct run r = { 0 };
	uint64_t ends = 0, parts = 0;
	size_t start = 0;

	if (c->proto == PK_PROTO_NONE)
		return;
	g.s = malloc(g.cap);
	r.at = malloc((g.cap + 2) * sizeof(*r.at));
	r.ev = malloc(g.cap + 2);
	if (!g.s || !r.at || !r.ev)
		goto out;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] != 0xff)
			continue;
		gen_msg(c, &g, d + start, i - start);
		start = i + 1;
	}
	require(g.len < g.cap, "the stream fits");
	frame(c, g.s, g.len, (uint32_t)n * 2654435761u | 2u, &r);
	for (size_t i = 0; i < r.n; i++) {
		require(r.ev[i] != PK_MSG_LOST, "never lost on well-formed messages");
		ends += r.ev[i] == PK_MSG_END;
		parts += r.ev[i] == PK_MSG_PART;
	}
	require(ends == g.messages, "exactly the messages written");
	require(parts == g.parts, "exactly the parts written");
out:
	free(g.s);
	free(r.at);
	free(r.ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum pk_proto protos[] = { PK_PROTO_RESP, PK_PROTO_HTTP, PK_PROTO_MYSQL,
						PK_PROTO_NONE };
	struct run r[3] = { { 0 } };
	struct cfg c;
	size_t n;

	if (size < 1 || size - 1 > FUZZ_MAX_STREAM)
		return 0;
	n = size - 1;
	c.proto = protos[data[0] & 3];
	c.response = data[0] & 4;
	c.heads = data[0] >> 5;
	if (data[0] & 8) {
		c.heads = 0;
		structured(&c, data + 1, n);
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		r[i].at = malloc((n + 2) * sizeof(*r[i].at));
		r[i].ev = malloc(n + 2);
		if (!r[i].at || !r[i].ev)
			goto out;
	}
	frame(&c, (const char *)data + 1, n, 1, &r[0]);
	frame(&c, (const char *)data + 1, n, 0, &r[1]);
	frame(&c, (const char *)data + 1, n, (uint32_t)data[0] << 1 | 2u, &r[2]);
	same(&c, &r[0], &r[1]);
	same(&c, &r[0], &r[2]);
	if (c.proto == PK_PROTO_MYSQL || c.proto == PK_PROTO_NONE)
		require(r[0].lost_from == SIZE_MAX, "MySQL, NONE: lost only at the end, cut short");
out:
	for (int i = 0; i < 3; i++) {
		free(r[i].at);
		free(r[i].ev);
	}
	return 0;
}
