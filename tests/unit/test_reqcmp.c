/* test_reqcmp.c — per-request divergence: pipelined RESP requests answered alike (only SAME), a
 * changed reply (one DIFFERENT naming its request, with excerpts), a random token on several
 * clones (NOISE) beside a real change (DIFFERENT), masks (--compare-ignore, HTTP's Date), the
 * same verdicts however the streams are cut, LAG reported once and counted per request, the
 * pending bound, lost framers, early closes, raw streams, and the JSON line. */
#include <cjson/cJSON.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diverge/reqcmp.h"
#include "unit.h"

#define MAX_REPORTS 64

struct rep {
	int clone;
	uint64_t request;
	enum pk_rcmp_verdict verdict;
	int part;
	uint64_t requests;
	char reason[128];
	char req[4 * PK_RCMP_EXCERPT + 1], prod[4 * PK_RCMP_EXCERPT + 1],
		clone_ex[4 * PK_RCMP_EXCERPT + 1];
};

struct rec {
	uint64_t counts[PK_RCMP_MAX_CLONES][PK_RCMP_VERDICTS];
	struct rep reps[MAX_REPORTS];
	int nreps;
	struct pk_strbuf json; /* every report as a JSON line */
};

static void on_report(void *ctx, const struct pk_rcmp_report *r)
{
	struct rec *rc = ctx;
	struct rep *p;

	CHECK(pk_rcmp_report_json(r, "clone", 1700000000.25, &rc->json) == 0);
	if (rc->nreps >= MAX_REPORTS)
		return;
	p = &rc->reps[rc->nreps++];
	p->clone = r->clone;
	p->request = r->request;
	p->verdict = r->verdict;
	p->part = r->part;
	p->requests = r->requests;
	snprintf(p->reason, sizeof(p->reason), "%s", r->reason ? r->reason : "");
	memcpy(p->req, r->request_excerpt, sizeof(p->req));
	memcpy(p->prod, r->production_excerpt, sizeof(p->prod));
	memcpy(p->clone_ex, r->clone_excerpt, sizeof(p->clone_ex));
}

static void on_count(void *ctx, int clone, enum pk_rcmp_verdict v, uint64_t n)
{
	struct rec *rc = ctx;

	rc->counts[clone][v] += n;
}

static struct pk_rcmp *start(const struct pk_rcmp_config *cfg, int nclones, struct rec *rc)
{
	struct pk_rcmp_sink sink = { on_report, on_count, rc };

	memset(rc, 0, sizeof(*rc));
	return pk_rcmp_new(cfg, nclones, 7, &sink);
}

static void done(struct pk_rcmp *c, struct rec *rc)
{
	pk_rcmp_free(c);
	pk_strbuf_release(&rc->json);
}

/* Feeds s[0..n) to side (-2: the client) in chunks of chunk bytes (0: whole). */
static void feed(struct pk_rcmp *c, int side, const char *s, size_t n, size_t chunk)
{
	for (size_t off = 0; off < n;) {
		size_t k = chunk && chunk < n - off ? chunk : n - off;

		if (side == -2)
			pk_rcmp_request(c, s + off, k);
		else
			pk_rcmp_response(c, side, s + off, k);
		off += k;
	}
}

#define CLIENT (-2)

/* One connection: the client's stream, then production's, then each clone's, then their ends;
 * each in chunks of chunk bytes. */
static void run(const struct pk_rcmp_config *cfg, struct rec *rc, const char *client,
		const char *prod, const char *const *clones, int nclones, size_t chunk)
{
	struct pk_rcmp *c = start(cfg, nclones, rc);

	CHECK(c != NULL);
	if (!c)
		return;
	feed(c, CLIENT, client, strlen(client), chunk);
	feed(c, PK_RCMP_PROD, prod, strlen(prod), chunk);
	for (int i = 0; i < nclones; i++)
		feed(c, i, clones[i], strlen(clones[i]), chunk);
	pk_rcmp_finish(c, PK_RCMP_PROD);
	for (int i = 0; i < nclones; i++)
		pk_rcmp_finish(c, i);
	pk_rcmp_free(c);
}

static const struct pk_rcmp_config resp_cfg = { .proto = PK_PROTO_RESP };

/* RESP: request i is "SET k<i> v<i>" for even i, "GET k<i-1>" for odd i. */
static void resp_session(char *client, size_t clen, char *reply, size_t rlen, int n, int changed)
{
	size_t c = 0, r = 0;

	for (int i = 0; i < n; i++) {
		if (i % 2 == 0) {
			c += (size_t)snprintf(client + c, clen - c,
					      "*3\r\n$3\r\nSET\r\n$2\r\nk%d\r\n$2\r\nv%d\r\n", i,
					      i);
			r += (size_t)snprintf(reply + r, rlen - r, "+OK\r\n");
		} else {
			c += (size_t)snprintf(client + c, clen - c,
					      "*2\r\n$3\r\nGET\r\n$2\r\nk%d\r\n", i - 1);
			r += (size_t)snprintf(reply + r, rlen - r, "$2\r\n%c%d\r\n",
					      i == changed ? 'X' : 'v', i - 1);
		}
	}
}

static void test_resp_same(void)
{
	char client[2048], reply[1024];
	struct rec rc;

	resp_session(client, sizeof(client), reply, sizeof(reply), 10, -1);
	run(&resp_cfg, &rc, client, reply, (const char *const[]){ reply, reply }, 2, 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(rc.counts[i][PK_RCMP_SAME], 10);
		CHECK_EQ_INT(rc.counts[i][PK_RCMP_DIFFERENT] + rc.counts[i][PK_RCMP_NOISE] +
				     rc.counts[i][PK_RCMP_LAG],
			     0);
	}
	CHECK_EQ_INT(rc.nreps, 0);
	done(NULL, &rc);
}

static void test_resp_different(void)
{
	char client[2048], reply[1024], changed[1024];
	struct rec rc;

	resp_session(client, sizeof(client), reply, sizeof(reply), 10, -1);
	resp_session(client, sizeof(client), changed, sizeof(changed), 10, 7);
	run(&resp_cfg, &rc, client, reply, (const char *const[]){ changed }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 9);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.reps[0].request, 7);
	CHECK_EQ_INT(rc.reps[0].verdict, PK_RCMP_DIFFERENT);
	CHECK_EQ_INT(rc.reps[0].part, 0);
	CHECK_EQ_INT(rc.reps[0].requests, 1);
	CHECK_STR(rc.reps[0].req, "*2\\r\\n$3\\r\\nGET\\r\\n$2\\r\\nk6\\r\\n");
	CHECK_STR(rc.reps[0].prod, "$2\\r\\nv6\\r\\n");
	CHECK_STR(rc.reps[0].clone_ex, "$2\\r\\nX6\\r\\n");
	CHECK_STR(rc.reps[0].reason, "part 0 differs");
	done(NULL, &rc);
}

/* Three requests; request 1's reply is an array: a token, then two elements. */
static const char noise_client[] = "*1\r\n$4\r\nPING\r\n*1\r\n$5\r\nTOKEN\r\n*1\r\n$4\r\nPING\r\n";
#define NOISE_REPLY(tok, a) "+PONG\r\n*3\r\n$4\r\n" tok "\r\n$1\r\nx\r\n$1\r\n" a "\r\n+PONG\r\n"

static void test_noise(void)
{
	struct rec rc;

	run(&resp_cfg, &rc, noise_client, NOISE_REPLY("p000", "y"),
	    (const char *const[]){ NOISE_REPLY("a111", "y"), NOISE_REPLY("b222", "y") }, 2, 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(rc.counts[i][PK_RCMP_SAME], 2);
		CHECK_EQ_INT(rc.counts[i][PK_RCMP_NOISE], 1);
	}
	CHECK_EQ_INT(rc.nreps, 2);
	for (int i = 0; i < rc.nreps && i < 2; i++) {
		CHECK_EQ_INT(rc.reps[i].verdict, PK_RCMP_NOISE);
		CHECK_EQ_INT(rc.reps[i].request, 1);
		CHECK_EQ_INT(rc.reps[i].part, 0);
	}
	done(NULL, &rc);

	/* a third clone changes element 2 as well: DIFFERENT there, on that request only */
	run(&resp_cfg, &rc, noise_client, NOISE_REPLY("p000", "y"),
	    (const char *const[]){ NOISE_REPLY("a111", "y"), NOISE_REPLY("b222", "y"),
				   NOISE_REPLY("c333", "Z") },
	    3, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_NOISE], 1);
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_NOISE], 1);
	CHECK_EQ_INT(rc.counts[2][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.counts[2][PK_RCMP_SAME], 2);
	CHECK_EQ_INT(rc.counts[2][PK_RCMP_NOISE], 0);
	CHECK_EQ_INT(rc.nreps, 3);
	CHECK_EQ_INT(rc.reps[2].clone, 2);
	CHECK_EQ_INT(rc.reps[2].request, 1);
	CHECK_EQ_INT(rc.reps[2].part, 2);
	done(NULL, &rc);

	/* with one clone, a changed token is DIFFERENT: nothing to tell noise from a change */
	run(&resp_cfg, &rc, noise_client, NOISE_REPLY("p000", "y"),
	    (const char *const[]){ NOISE_REPLY("a111", "y") }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 1);
	done(NULL, &rc);
}

static void test_mask(void)
{
	struct pk_rcmp_config cfg = resp_cfg;
	regex_t re[2];
	struct rec rc;

	CHECK(regcomp(&re[0], "[a-z][0-9]+", REG_EXTENDED) == 0);
	CHECK(regcomp(&re[1], "\\$[0-9]+", REG_EXTENDED) == 0);
	cfg.ignore = re;
	cfg.nignore = 1;
	run(&cfg, &rc, noise_client, NOISE_REPLY("p000", "y"),
	    (const char *const[]){ NOISE_REPLY("a111", "y") }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 3);
	CHECK_EQ_INT(rc.nreps, 0);
	done(NULL, &rc);

	/* a token of another length: the length line differs too, masked by the second regex */
	cfg.nignore = 2;
	run(&cfg, &rc, noise_client, NOISE_REPLY("p000", "y"),
	    (const char *const[]){
		    "+PONG\r\n*3\r\n$6\r\nq12345\r\n$1\r\nx\r\n$1\r\ny\r\n+PONG\r\n" },
	    1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 3);
	done(NULL, &rc);

	/* what the masks leave still counts */
	run(&cfg, &rc, noise_client, NOISE_REPLY("p000", "y"),
	    (const char *const[]){ NOISE_REPLY("a111", "Q") }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.reps[0].part, 2);
	done(NULL, &rc);

	/* a part longer than the mask limit is hashed unmasked */
	cfg.nignore = 1;
	cfg.mask_limit = 8;
	run(&cfg, &rc, noise_client, NOISE_REPLY("p000", "y"),
	    (const char *const[]){ NOISE_REPLY("a111", "y") }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 1);
	done(NULL, &rc);
	regfree(&re[0]);
	regfree(&re[1]);
}

#define HTTP_REQ "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
#define HTTP_RESP(date, body) "HTTP/1.1 200 OK\r\ndate: " date "\r\nContent-Length: 2\r\n\r\n" body

static void test_http_date(void)
{
	struct pk_rcmp_config cfg = { .proto = PK_PROTO_HTTP };
	const char *prod = HTTP_RESP("Fri, 04 Dec 2026 10:00:00 GMT", "hi")
		HTTP_RESP("Fri, 04 Dec 2026 10:00:01 GMT", "hi");
	const char *clone = HTTP_RESP("Fri, 04 Dec 2026 10:00:07 GMT", "hi")
		HTTP_RESP("Fri, 04 Dec 2026 10:00:09 GMT", "ho");
	struct rec rc;

	run(&cfg, &rc, HTTP_REQ HTTP_REQ, prod, (const char *const[]){ clone }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 1);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.reps[0].request, 1);
	CHECK(rc.reps[0].part >= 3); /* the body, after three lines */
	done(NULL, &rc);

	/* a HEAD answer has no body: the framers learn it from the request */
	run(&cfg, &rc, "HEAD /a HTTP/1.1\r\n\r\n" HTTP_REQ,
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" HTTP_RESP("x", "hi"),
	    (const char *const[]){
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" HTTP_RESP("y", "hi") },
	    1, 1);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 2);
	CHECK_EQ_INT(rc.nreps, 0);
	done(NULL, &rc);

	cfg.no_default_ignore = true;
	run(&cfg, &rc, HTTP_REQ HTTP_REQ, prod, (const char *const[]){ clone }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 2);
	CHECK_EQ_INT(rc.reps[0].part, 1);
	done(NULL, &rc);
}

/* The reports and counts of a run, as text, to compare runs. */
static void summarise(const struct rec *rc, char *out, size_t len)
{
	size_t o = 0;

	for (int i = 0; i < 3; i++)
		for (int v = 0; v < PK_RCMP_VERDICTS; v++)
			o += (size_t)snprintf(out + o, len - o, "%llu ",
					      (unsigned long long)rc->counts[i][v]);
	for (int i = 0; i < rc->nreps; i++) {
		const struct rep *p = &rc->reps[i];

		o += (size_t)snprintf(out + o, len - o, "|%d %llu %d %d %s %s %s", p->clone,
				      (unsigned long long)p->request, p->verdict, p->part,
				      p->reason, p->prod, p->clone_ex);
	}
}

/* Feeds each stream split at one point (or byte by byte: at == 0), one stream at a time. */
static void run_split(struct rec *rc, const char *const *streams, int which, size_t at)
{
	struct pk_rcmp *c = start(&resp_cfg, 3, rc);

	for (int s = 0; s < 5; s++) {
		const char *p = streams[s];
		size_t n = strlen(p);
		int side = s - 2;

		if (s != which)
			feed(c, side, p, n, 0);
		else if (at == 0)
			feed(c, side, p, n, 1);
		else {
			feed(c, side, p, at, 0);
			feed(c, side, p + at, n - at, 0);
		}
	}
	for (int i = -1; i < 3; i++)
		pk_rcmp_finish(c, i);
	pk_rcmp_free(c);
}

static void test_chunking(void)
{
	const char *const streams[] = { noise_client, NOISE_REPLY("p000", "y"),
					NOISE_REPLY("a111", "y"), NOISE_REPLY("b222", "y"),
					NOISE_REPLY("c333", "Z") };
	char want[4096], got[4096];
	struct rec rc;
	int bad = 0;

	run_split(&rc, streams, -1, 0);
	summarise(&rc, want, sizeof(want));
	CHECK_EQ_INT(rc.nreps, 3);
	done(NULL, &rc);
	for (int w = 0; w < 5; w++)
		for (size_t at = 0; at < strlen(streams[w]); at++) {
			run_split(&rc, streams, w, at);
			summarise(&rc, got, sizeof(got));
			if (strcmp(want, got) != 0 && bad++ < 3)
				printf("  stream %d cut at %zu: %s\n  want %s\n", w, at, got, want);
			done(NULL, &rc);
		}
	CHECK_EQ_INT(bad, 0);
}

static void test_lag(void)
{
	char client[2048], reply[1024];
	struct rec rc;
	struct pk_rcmp *c = start(&resp_cfg, 2, &rc);
	size_t cut;

	resp_session(client, sizeof(client), reply, sizeof(reply), 10, -1);
	cut = (size_t)(strstr(reply, "+OK\r\n$2\r\nv2\r\n+OK") - reply); /* 2 replies */
	feed(c, CLIENT, client, strlen(client), 0);
	feed(c, PK_RCMP_PROD, reply, strlen(reply), 0);
	feed(c, 0, reply, strlen(reply), 0);
	feed(c, 1, reply, cut, 0);
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_SAME], 2);
	pk_rcmp_lag(c, 1, "desynced: buffer full");
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.reps[0].clone, 1);
	CHECK_EQ_INT(rc.reps[0].verdict, PK_RCMP_LAG);
	CHECK_EQ_INT(rc.reps[0].request, 2);
	CHECK_EQ_INT(rc.reps[0].requests, 8);
	CHECK_EQ_INT(rc.reps[0].part, -1);
	CHECK_STR(rc.reps[0].reason, "desynced: buffer full");
	CHECK_STR(rc.reps[0].clone_ex, "");
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_LAG], 8);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 10);
	/* more requests: counted, not reported again; a second lag() changes nothing */
	feed(c, CLIENT, client, strlen(client), 0);
	feed(c, 1, reply + cut, strlen(reply) - cut, 0);
	pk_rcmp_lag(c, 1, "again");
	feed(c, PK_RCMP_PROD, reply, strlen(reply), 0);
	feed(c, 0, reply, strlen(reply), 0);
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_LAG], 18);
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_SAME], 2);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 20);
	done(c, &rc);
}

/* Request by request, clone 1 never answers: past max_pending it is too far behind. */
static void test_bounded(void)
{
	struct pk_rcmp_config cfg = { .proto = PK_PROTO_RESP, .max_pending = 4 };
	struct rec rc;
	struct pk_rcmp *c = start(&cfg, 2, &rc);
	static const char req[] = "*1\r\n$4\r\nPING\r\n", rep[] = "+PONG\r\n";

	for (int i = 0; i < 10; i++) {
		feed(c, CLIENT, req, strlen(req), 0);
		feed(c, PK_RCMP_PROD, rep, strlen(rep), 0);
		feed(c, 0, rep, strlen(rep), 0);
	}
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 10);
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_LAG], 10);
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.reps[0].clone, 1);
	CHECK_EQ_INT(rc.reps[0].request, 0);
	CHECK_EQ_INT(rc.reps[0].requests, 4);
	CHECK_STR(rc.reps[0].reason, "too far behind");
	done(c, &rc);

	/* the client far ahead of every answer: the oldest requests go uncompared, memory stays */
	c = start(&cfg, 1, &rc);
	for (int i = 0; i < 10; i++)
		feed(c, CLIENT, req, strlen(req), 0);
	for (int i = 0; i < 10; i++) {
		feed(c, PK_RCMP_PROD, rep, strlen(rep), 0);
		feed(c, 0, rep, strlen(rep), 0);
	}
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 4);
	CHECK_EQ_INT(rc.nreps, 0);
	done(c, &rc);
}

static void test_lost_and_closed(void)
{
	static const char client[] = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
	struct rec rc;

	/* clone 0's replies cannot be framed after the first: DIFFERENT once, then nothing */
	run(&resp_cfg, &rc, client, "+PONG\r\n+PONG\r\n+PONG\r\n",
	    (const char *const[]){ "+PONG\r\n\x01garbage\r\n+PONG\r\n", "+PONG\r\n+PONG\r\n" }, 2,
	    0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 1);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_LAG] + rc.counts[0][PK_RCMP_NOISE], 0);
	/* clone 1 closed before its third answer */
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_SAME], 2);
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.nreps, 2);
	CHECK_EQ_INT(rc.reps[0].request, 1);
	CHECK_STR(rc.reps[0].reason, "could not frame the clone's responses");
	CHECK_EQ_INT(rc.reps[1].request, 2);
	CHECK_STR(rc.reps[1].reason, "the clone closed the connection before answering");
	done(NULL, &rc);

	/* production's replies cannot be framed: nothing more is compared, silently */
	run(&resp_cfg, &rc, client, "+PONG\r\n\x01garbage\r\n",
	    (const char *const[]){ "+PONG\r\n+PONG\r\n+PONG\r\n" }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME] + rc.counts[0][PK_RCMP_DIFFERENT], 0);
	CHECK_EQ_INT(rc.nreps, 0);
	done(NULL, &rc);

	/* production closed early: its unanswered requests are not compared */
	run(&resp_cfg, &rc, client, "+PONG\r\n", (const char *const[]){ "+PONG\r\n+PONG\r\n" }, 1,
	    0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 1);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 0);
	done(NULL, &rc);
}

/* A MySQL packet: 3-byte length, sequence id, payload. */
static size_t my_pkt(char *out, uint8_t seq, const char *payload, size_t n)
{
	out[0] = (char)(n & 0xff);
	out[1] = (char)((n >> 8) & 0xff);
	out[2] = (char)((n >> 16) & 0xff);
	out[3] = (char)seq;
	memcpy(out + 4, payload, n);
	return 4 + n;
}

#define MY_PKT(buf, len, seq, lit) (len += my_pkt(buf + len, seq, lit, sizeof(lit) - 1))

/* MySQL: the greeting before any request, the handshake never compared, COM_STMT_CLOSE without
 * a response skipped when pairing. */
static void test_mysql(void)
{
	struct pk_rcmp_config cfg = { .proto = PK_PROTO_MYSQL };
	char client[512], prod[512], clone[512];
	size_t nc = 0, np = 0, nk = 0;
	struct rec rc;
	struct pk_rcmp *c;

	MY_PKT(client, nc, 1, "\x00\x02\x00\x00\x00\x00\x00\x00root\x00"); /* auth */
	MY_PKT(client, nc, 0, "\x03SELECT 1");				   /* request 1 */
	MY_PKT(client, nc, 0, "\x19\x01\x00\x00\x00");			   /* stmt close */
	MY_PKT(client, nc, 0, "\x03SELECT 2");				   /* request 3 */
	for (int side = 0; side < 2; side++) {
		char *b = side ? clone : prod;
		size_t *n = side ? &nk : &np;

		MY_PKT(b, *n, 0,
		       "\x0a"
		       "8.0.0\x00\x01\x00\x00\x00salt1234\x00");
		MY_PKT(b, *n, 2, "\x00\x00\x00\x02\x00\x00\x00"); /* OK */
		MY_PKT(b, *n, 1, "\x01");			  /* 1 column */
		MY_PKT(b, *n, 2,
		       "\x03"
		       "def");
		MY_PKT(b, *n, 3,
		       "\x01"
		       "1");
		MY_PKT(b, *n, 1, "\x01");
		MY_PKT(b, *n, 2,
		       "\x03"
		       "def");
		if (side)
			MY_PKT(b, *n, 3,
			       "\x01"
			       "3");
		else
			MY_PKT(b, *n, 3,
			       "\x01"
			       "2");
	}
	c = start(&cfg, 1, &rc);
	feed(c, PK_RCMP_PROD, prod, 15, 0); /* the greeting comes first */
	feed(c, 0, clone, 15, 0);
	feed(c, CLIENT, client, nc, 0);
	feed(c, PK_RCMP_PROD, prod + 15, np - 15, 0);
	feed(c, 0, clone + 15, nk - 15, 0);
	pk_rcmp_finish(c, PK_RCMP_PROD);
	pk_rcmp_finish(c, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 1);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.reps[0].request, 3);
	CHECK_EQ_INT(rc.reps[0].part, 2);
	done(c, &rc);
}

/* An array reply of n elements "e<i>", element bad (if any) changed. */
static void array_reply(char *out, size_t len, int n, int bad)
{
	size_t o = (size_t)snprintf(out, len, "*%d\r\n", n);

	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, len - o, "+%c%d\r\n", i == bad ? 'X' : 'e', i);
}

/* Parts past PK_RCMP_MAX_PARTS fold into the last hash; a missing part is a difference. */
static void test_many_parts(void)
{
	static const char client[] = "*1\r\n$4\r\nKEYS\r\n";
	char prod[1024], clone[1024];
	struct rec rc;

	array_reply(prod, sizeof(prod), 40, -1);
	array_reply(clone, sizeof(clone), 40, 35);
	run(&resp_cfg, &rc, client, prod, (const char *const[]){ prod, clone }, 2, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 1);
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.reps[0].part, PK_RCMP_MAX_PARTS - 1);
	done(NULL, &rc);

	array_reply(clone, sizeof(clone), 3, -1);
	array_reply(prod, sizeof(prod), 4, -1);
	run(&resp_cfg, &rc, client, prod, (const char *const[]){ clone }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.reps[0].part, 0); /* the array header differs first */
	done(NULL, &rc);
}

static void test_raw(void)
{
	struct pk_rcmp_config cfg = { .proto = PK_PROTO_NONE };
	struct rec rc;

	run(&cfg, &rc, "hello\x01", "world", (const char *const[]){ "world", "w0rld" }, 2, 2);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 1);
	CHECK_EQ_INT(rc.counts[1][PK_RCMP_DIFFERENT], 1);
	CHECK_EQ_INT(rc.nreps, 1);
	CHECK_EQ_INT(rc.reps[0].request, 0);
	CHECK_STR(rc.reps[0].req, "hello\\x01");
	CHECK_STR(rc.reps[0].clone_ex, "w0rld");
	done(NULL, &rc);
}

static void test_json(void)
{
	char client[2048], reply[1024], changed[1024];
	struct rec rc;
	cJSON *o;

	resp_session(client, sizeof(client), reply, sizeof(reply), 10, -1);
	resp_session(client, sizeof(client), changed, sizeof(changed), 10, 7);
	run(&resp_cfg, &rc, client, reply, (const char *const[]){ changed }, 1, 0);
	CHECK(rc.json.len > 0 && rc.json.s[rc.json.len - 1] == '\n');
	CHECK(strchr(pk_strbuf_str(&rc.json), '\n') == rc.json.s + rc.json.len - 1);
	o = cJSON_Parse(pk_strbuf_str(&rc.json));
	CHECK(o != NULL);
	if (o) {
		CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "time")) == 1700000000.25);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "target")), "clone");
		CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "conn")) == 7);
		CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "request")) == 7);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "verdict")), "different");
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "reason")), "part 0 differs");
		CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "part")) == 0);
		CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "requests")) == 1);
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "request_excerpt")),
			  "*2\\r\\n$3\\r\\nGET\\r\\n$2\\r\\nk6\\r\\n");
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "production_excerpt")),
			  "$2\\r\\nv6\\r\\n");
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "clone_excerpt")),
			  "$2\\r\\nX6\\r\\n");
		cJSON_Delete(o);
	}
	done(NULL, &rc);

	/* a LAG line: part is null; odd bytes in the reason stay valid JSON */
	{
		struct pk_rcmp_report r = { .conn = 1,
					    .verdict = PK_RCMP_LAG,
					    .reason = "a \"q\"\n",
					    .part = -1,
					    .requests = 3 };
		struct pk_strbuf sb = { 0 };

		CHECK(pk_rcmp_report_json(&r, "t\x01", 1.5, &sb) == 0);
		o = cJSON_Parse(pk_strbuf_str(&sb));
		CHECK(o != NULL);
		if (o) {
			CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "part")));
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "verdict")), "lag");
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "reason")),
				  "a \"q\"\n");
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "clone_excerpt")),
				  "");
			cJSON_Delete(o);
		}
		pk_strbuf_release(&sb);
	}
}

/* Answers a server leaves unordered or volatile (proto/answers.h): COMMAND's parts in another
 * order are the same; an INFO that differs is noise; a GET that differs is still different;
 * MySQL: a SELECT NOW() that differs is noise. */
static void test_answer_kinds(void)
{
	static const char client[] = "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n"
				     "*1\r\n$4\r\ninfo\r\n"
				     "SMEMBERS s\r\n"
				     "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
	static const char prod[] = "*2\r\n$3\r\nget\r\n$3\r\nset\r\n"
				   "$12\r\nuptime:12345\r\n"
				   "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
				   "$1\r\nv\r\n";
	static const char clone[] = "*2\r\n$3\r\nset\r\n$3\r\nget\r\n"
				    "$12\r\nuptime:99999\r\n"
				    "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"
				    "$1\r\nX\r\n";
	static const struct pk_rcmp_config mysql_cfg = { .proto = PK_PROTO_MYSQL };
	/* handshake: greeting, auth, OK; then COM_QUERY "select now()" answered by one packet */
	static const char my_client[] = "\x01\x00\x00\x01\x00"
					"\x0d\x00\x00\x00\x03select now()";
	static const char my_prod[] = "\x01\x00\x00\x00\x0a"
				      "\x01\x00\x00\x02\x00"
				      "\x02\x00\x00\x01\x01\x31";
	static const char my_clone[] = "\x01\x00\x00\x00\x0a"
				       "\x01\x00\x00\x02\x00"
				       "\x02\x00\x00\x01\x01\x32";
	struct rec rc;
	struct pk_rcmp *c;

	run(&resp_cfg, &rc, client, prod, (const char *const[]){ clone }, 1, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], 1);	  /* COMMAND DOCS, reordered */
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_NOISE], 1);	  /* info */
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 2); /* SMEMBERS: other members; GET */
	CHECK_EQ_INT(rc.nreps, 3);
	CHECK_EQ_INT(rc.reps[0].request, 1);
	CHECK_EQ_INT(rc.reps[0].verdict, PK_RCMP_NOISE);
	CHECK_EQ_INT(rc.reps[1].request, 2);
	CHECK_EQ_INT(rc.reps[2].request, 3);
	done(NULL, &rc);

	c = start(&mysql_cfg, 1, &rc);
	CHECK(c != NULL);
	if (!c)
		return;
	feed(c, PK_RCMP_PROD, my_prod, 5, 0); /* the greeting comes first */
	feed(c, 0, my_clone, 5, 0);
	feed(c, CLIENT, my_client, sizeof(my_client) - 1, 0);
	feed(c, PK_RCMP_PROD, my_prod + 5, sizeof(my_prod) - 6, 0);
	feed(c, 0, my_clone + 5, sizeof(my_clone) - 6, 0);
	pk_rcmp_finish(c, PK_RCMP_PROD);
	pk_rcmp_finish(c, 0);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_NOISE], 1);
	CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], 0);
	done(c, &rc);
}

/* redis-cli's short exchange through dup: production answers everything and its connection
 * ends before the clone's first byte comes.  The clone leaves the fast way at its reordered
 * COMMAND DOCS: production's answers, held, are framed and hashed again although its stream
 * ended (they were not, and every answer was DIFFERENT). */
static void test_prod_ended_first(void)
{
	static const char client[] = "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n"
				     "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
				     "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
	static const char prod[] = "*4\r\n$3\r\nget\r\n*1\r\n:1\r\n$3\r\nset\r\n*1\r\n:2\r\n"
				   "+OK\r\n$1\r\nv\r\n";
	static const char same[] = "*4\r\n$3\r\nset\r\n*1\r\n:2\r\n$3\r\nget\r\n*1\r\n:1\r\n"
				   "+OK\r\n$1\r\nv\r\n";
	static const char changed[] = "*4\r\n$3\r\nset\r\n*1\r\n:2\r\n$3\r\nget\r\n*1\r\n:1\r\n"
				      "+OK\r\n$1\r\nX\r\n";
	const char *clones[] = { same, changed };

	for (size_t chunk = 0; chunk <= 7; chunk += 7)
		for (int i = 0; i < 2; i++) {
			struct rec rc;
			struct pk_rcmp *c = start(&resp_cfg, 1, &rc);

			CHECK(c != NULL);
			if (!c)
				return;
			feed(c, CLIENT, client, strlen(client), chunk);
			feed(c, PK_RCMP_PROD, prod, strlen(prod), chunk);
			pk_rcmp_finish(c, PK_RCMP_PROD);
			feed(c, 0, clones[i], strlen(clones[i]), chunk);
			pk_rcmp_finish(c, 0);
			CHECK_EQ_INT(rc.counts[0][PK_RCMP_SAME], i == 0 ? 3 : 2);
			CHECK_EQ_INT(rc.counts[0][PK_RCMP_DIFFERENT], i == 0 ? 0 : 1);
			CHECK_EQ_INT(rc.nreps, i);
			if (rc.nreps == 1)
				CHECK_EQ_INT(rc.reps[0].request, 2);
			done(c, &rc);
		}
}

static void test_bad_args(void)
{
	struct pk_rcmp_config cfg = resp_cfg;

	CHECK(pk_rcmp_new(&cfg, 0, 1, NULL) == NULL);
	CHECK(pk_rcmp_new(&cfg, PK_RCMP_MAX_CLONES + 1, 1, NULL) == NULL);
	cfg.nignore = 1;
	CHECK(pk_rcmp_new(&cfg, 1, 1, NULL) == NULL);
	CHECK_STR(pk_rcmp_verdict_name(PK_RCMP_NOISE), "noise");
	pk_rcmp_free(NULL);
}

int main(void)
{
	UNIT_RUN(test_resp_same);
	UNIT_RUN(test_resp_different);
	UNIT_RUN(test_noise);
	UNIT_RUN(test_mask);
	UNIT_RUN(test_http_date);
	UNIT_RUN(test_chunking);
	UNIT_RUN(test_lag);
	UNIT_RUN(test_bounded);
	UNIT_RUN(test_lost_and_closed);
	UNIT_RUN(test_mysql);
	UNIT_RUN(test_many_parts);
	UNIT_RUN(test_raw);
	UNIT_RUN(test_json);
	UNIT_RUN(test_answer_kinds);
	UNIT_RUN(test_prod_ended_first);
	UNIT_RUN(test_bad_args);
	return unit_done();
}
