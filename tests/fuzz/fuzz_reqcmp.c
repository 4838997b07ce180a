/* fuzz_reqcmp.c — libFuzzer target: one connection's streams through the per-request divergence
 * checker (src/diverge/reqcmp.c), fed in interleaved chunks.
 *
 * Input: a header, then the streams.
 *   byte 0   bits 0-1: protocol (NONE, RESP, HTTP, MySQL); bits 2-3: clones - 1 (1..3, 3 is 3);
 *            bit 4: a mask regex; bit 5: no default HTTP mask; bit 6: lag a clone midway;
 *            bit 7: the clones end before production
 *   byte 1   bits 0-3: max_pending (0: the default); bits 4-7: the mask limit (0: default, else
 *            that many times 4 bytes)
 *   byte 2   seed of the chunking
 *   then two bytes (little-endian) per stream but the last: the lengths of the client's,
 *   production's and each clone's stream (cut to what is left); the last clone's stream is
 *   the rest.
 * The streams are fed in chunks of 1..64 bytes, the next stream picked at random; at the end
 * every side finishes.  Then they are fed again, one stream after the other, whole and in
 * random chunks: both runs must give the same counts and reports.  With RESP and no mask (the
 * fast way), the same runs with a mask that never matches (everything framed) must decide
 * alike, also when production's stream ends before the clones' come, and when the clones'
 * streams come before production's.
 *
 * Besides the sanitizers' checks, it asserts the promises: counts come one request at a time,
 * for a clone that exists, with a verdict that exists; per clone, the verdicts counted never
 * exceed the requests that have a response (an independent framer counts them); every report
 * but LAG is counted as DIFFERENT or NOISE (as many reports as those counts), LAG is reported at
 * most once per clone and never SAME; a report names a request the client sent (or the next);
 * excerpts are printable ASCII; the JSON line parses back as one object.
 */
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "diverge/reqcmp.h"
#include "proto/msg.h"

#define FUZZ_TARGET "fuzz_reqcmp"
#include "fuzz.h"

struct tally {
	int nclones;
	uint64_t requests;   /* requests ended so far (any) */
	uint64_t responding; /* of which have a response */
	uint64_t digest;     /* of the reports' clone, request, verdict and part, in order */
	uint64_t counts[PK_RCMP_MAX_CLONES][PK_RCMP_VERDICTS];
	uint64_t reports[PK_RCMP_MAX_CLONES][PK_RCMP_VERDICTS];
};

static void check_excerpt(const char *s)
{
	size_t n = strlen(s);

	require(n <= 4 * PK_RCMP_EXCERPT, "an excerpt of at most 4 x PK_RCMP_EXCERPT bytes");
	for (size_t i = 0; i < n; i++)
		require(s[i] >= 0x20 && s[i] <= 0x7e, "an excerpt in printable ASCII");
}

static void on_report(void *ctx, const struct pk_rcmp_report *r)
{
	struct tally *t = ctx;
	struct pk_strbuf sb = { 0 };
	cJSON *o;

	require(r->clone >= 0 && r->clone < t->nclones, "a report for a clone that exists");
	require(r->verdict > PK_RCMP_SAME && r->verdict < PK_RCMP_VERDICTS,
		"SAME is never reported");
	require(r->request <= t->requests, "a report names a request sent (or the next)");
	require(r->verdict == PK_RCMP_LAG || r->requests == 1, "requests is 1 but for LAG");
	require(r->reason != NULL, "a reason");
	check_excerpt(r->request_excerpt);
	check_excerpt(r->production_excerpt);
	check_excerpt(r->clone_excerpt);
	require(r->verdict != PK_RCMP_LAG || r->clone_excerpt[0] == '\0',
		"no clone excerpt in LAG");
	t->reports[r->clone][r->verdict]++;
	t->digest = t->digest * 1000003u ^ ((uint64_t)r->clone << 56 ^ (uint64_t)r->verdict << 48 ^
					    (uint64_t)(r->part + 1) << 32 ^ r->request);
	require(t->reports[r->clone][PK_RCMP_LAG] <= 1, "LAG reported once per clone");
	if (pk_rcmp_report_json(r, "fuzz", 1.5, &sb) == 0) {
		require(sb.len > 0 && sb.s[sb.len - 1] == '\n' &&
				strchr(sb.s, '\n') == sb.s + sb.len - 1,
			"one JSON line");
		o = cJSON_Parse(sb.s);
		require(cJSON_IsObject(o), "the JSON line parses as an object");
		cJSON_Delete(o);
	}
	pk_strbuf_release(&sb);
}

static void on_count(void *ctx, int clone, enum pk_rcmp_verdict v, uint64_t n)
{
	struct tally *t = ctx;

	require(clone >= 0 && clone < t->nclones, "a count for a clone that exists");
	require(v >= PK_RCMP_SAME && v < PK_RCMP_VERDICTS, "a verdict that exists");
	require(n == 1, "counted one request at a time");
	t->counts[clone][v] += n;
}

static uint32_t next(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 16;
}

/* A mask that never matches (an anchor after a character): it turns the fast way off and
 * changes no hash. */
static const regex_t *never(void)
{
	static regex_t re;
	static int state;

	if (state == 0)
		state = regcomp(&re, "a^", REG_EXTENDED) == 0 ? 1 : -1;
	return state == 1 ? &re : NULL;
}

static const regex_t *mask(void)
{
	static regex_t re;
	static int state; /* 0: not compiled, 1: compiled, -1: failed */

	if (state == 0)
		state = regcomp(&re, "[0-9]+|id=[a-z]*", REG_EXTENDED) == 0 ? 1 : -1;
	return state == 1 ? &re : NULL;
}

/* One input: the configuration and the streams (client, production, clones). */
struct input {
	struct pk_rcmp_config cfg;
	int nclones, nstreams;
	const char *s[2 + PK_RCMP_MAX_CLONES];
	size_t len[2 + PK_RCMP_MAX_CLONES];
	size_t total;
};

/* Feeds k client bytes to c and to t's own request framer (which counts the requests). */
static void feed_client(struct pk_rcmp *c, struct tally *t, struct pk_msgr *rq, const char *p,
			size_t k)
{
	for (size_t at = 0; rq->proto != PK_PROTO_NONE && at < k;) {
		enum pk_msg_event ev;
		size_t used = pk_msgr_feed(rq, p + at, k - at, &ev);

		at += used;
		if (ev == PK_MSG_END) {
			t->requests++;
			if (!(rq->flags & PK_MSG_NO_RESPONSE))
				t->responding++;
		} else if (used == 0 || ev == PK_MSG_LOST) {
			break;
		}
	}
	pk_rcmp_request(c, p, k);
}

/* Ends every side (the clones first when clones_first) and checks the totals of t. */
static void finish(struct pk_rcmp *c, const struct input *in, struct tally *t, bool clones_first)
{
	if (clones_first)
		for (int i = 0; i < in->nclones; i++)
			pk_rcmp_finish(c, i);
	pk_rcmp_finish(c, PK_RCMP_PROD);
	for (int i = 0; i < in->nclones; i++)
		pk_rcmp_finish(c, i);
	pk_rcmp_free(c);
	for (int i = 0; i < in->nclones; i++) {
		uint64_t counted = 0;

		for (int v = 0; v < PK_RCMP_VERDICTS; v++)
			counted += t->counts[i][v];
		require(counted <= t->responding,
			"per clone, verdicts counted <= requests answered");
		require(t->reports[i][PK_RCMP_DIFFERENT] == t->counts[i][PK_RCMP_DIFFERENT],
			"every DIFFERENT counted is reported");
		require(t->reports[i][PK_RCMP_NOISE] == t->counts[i][PK_RCMP_NOISE],
			"every NOISE counted is reported");
	}
}

static struct pk_rcmp *start(const struct input *in, struct tally *t, struct pk_msgr *rq)
{
	struct pk_rcmp_sink sink = { on_report, on_count, t };

	memset(t, 0, sizeof(*t));
	t->nclones = in->nclones;
	if (in->cfg.proto == PK_PROTO_NONE)
		t->requests = t->responding = 1;
	pk_msgr_init(rq, in->cfg.proto, false);
	return pk_rcmp_new(&in->cfg, in->nclones, 1, &sink);
}

/* The streams in chunks of 1..64 bytes, the next stream picked at random; lag_clone (>= 0) is
 * lagged once lag_at bytes were fed. */
static void run_interleaved(const struct input *in, uint32_t seed, int lag_clone, size_t lag_at,
			    bool clones_first)
{
	size_t off[2 + PK_RCMP_MAX_CLONES] = { 0 }, fed = 0;
	struct pk_msgr rq;
	struct tally t;
	struct pk_rcmp *c = start(in, &t, &rq);

	if (!c)
		return;
	for (;;) {
		int w = (int)(next(&seed) % (unsigned)in->nstreams), tries = 0;
		size_t k;

		while (off[w] == in->len[w] && tries++ < in->nstreams)
			w = (w + 1) % in->nstreams;
		if (off[w] == in->len[w])
			break;
		k = 1 + next(&seed) % 64;
		if (k > in->len[w] - off[w])
			k = in->len[w] - off[w];
		if (w == 0)
			feed_client(c, &t, &rq, in->s[0] + off[0], k);
		else
			pk_rcmp_response(c, w - 2, in->s[w] + off[w], k);
		off[w] += k;
		fed += k;
		if (lag_clone >= 0 && fed >= lag_at) {
			pk_rcmp_lag(c, lag_clone, "desynced: buffer full");
			lag_clone = -1;
		}
	}
	finish(c, in, &t, clones_first);
}

enum order {
	IN_ORDER,    /* the client's stream, production's, each clone's */
	PROD_ENDS,   /* the same, production's stream ending before the clones' start */
	CLONES_FIRST /* the client's, each clone's, production's (the clones answer first) */
};

/* The streams one after the other (enum order), each in chunks of 1..64 bytes from seed (0:
 * whole); the outcome goes to t. */
static void run_in_order(const struct input *in, uint32_t seed, enum order order, struct tally *t)
{
	struct pk_msgr rq;
	struct pk_rcmp *c = start(in, t, &rq);

	if (!c)
		return;
	for (int i = 0; i < in->nstreams; i++) {
		int w = order != CLONES_FIRST || i == 0 ? i : i == in->nstreams - 1 ? 1 : i + 1;

		for (size_t off = 0; off < in->len[w];) {
			size_t k = seed ? 1 + next(&seed) % 64 : in->len[w];

			if (k > in->len[w] - off)
				k = in->len[w] - off;
			if (w == 0)
				feed_client(c, t, &rq, in->s[0] + off, k);
			else
				pk_rcmp_response(c, w - 2, in->s[w] + off, k);
			off += k;
		}
		if (w == 1 && order == PROD_ENDS)
			pk_rcmp_finish(c, PK_RCMP_PROD);
	}
	finish(c, in, t, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum pk_proto protos[] = { PK_PROTO_NONE, PK_PROTO_RESP, PK_PROTO_HTTP,
						PK_PROTO_MYSQL };
	struct input in = { 0 };
	struct tally whole, cut;
	int lag_clone = -1;
	size_t pos = 3, lag_at = 0;
	uint32_t seed;

	if (size < 3)
		return 0;
	in.cfg.proto = protos[data[0] & 3];
	in.nclones = 1 + ((data[0] >> 2) & 3);
	if (in.nclones > 3)
		in.nclones = 3;
	if ((data[0] & 0x10) && mask()) {
		in.cfg.ignore = mask();
		in.cfg.nignore = 1;
	}
	in.cfg.no_default_ignore = data[0] & 0x20;
	in.cfg.max_pending = data[1] & 15;
	in.cfg.mask_limit = (size_t)(data[1] >> 4) * 4;
	seed = data[2];
	in.nstreams = 2 + in.nclones;
	for (int i = 0; i < in.nstreams - 1; i++) {
		in.len[i] = pos + 2 <= size ? (data[pos] | (size_t)data[pos + 1] << 8) : 0;
		pos = pos + 2 <= size ? pos + 2 : size;
	}
	in.len[in.nstreams - 1] = SIZE_MAX;
	for (int i = 0; i < in.nstreams; i++) {
		if (in.len[i] > size - pos)
			in.len[i] = size - pos;
		in.s[i] = (const char *)data + pos;
		pos += in.len[i];
		in.total += in.len[i];
	}
	if (data[0] & 0x40) {
		lag_clone = (int)(next(&seed) % (unsigned)in.nclones);
		lag_at = in.total ? next(&seed) % in.total : 0;
	}
	run_interleaved(&in, seed, lag_clone, lag_at, data[0] & 0x80);

	/* how the streams are cut changes no verdict (MySQL too: reqcmp hands its framer every
	 * packet header whole) */
	run_in_order(&in, 0, IN_ORDER, &whole);
	run_in_order(&in, seed | 1, IN_ORDER, &cut);
	require(memcmp(whole.counts, cut.counts, sizeof(whole.counts)) == 0,
		"the same counts however the streams are cut");
	require(whole.digest == cut.digest, "the same reports however the streams are cut");

	/* RESP without masks takes the fast way (a clone's answers equal to production's bytes
	 * are not framed): it must decide exactly as framing everything does, also when
	 * production's stream ended before the clones answer (a short exchange) and when the
	 * clones answer first (their bytes wait for production's) */
	if (in.cfg.proto == PK_PROTO_RESP && in.cfg.nignore == 0 && never()) {
		struct input framed = in;

		framed.cfg.ignore = never();
		framed.cfg.nignore = 1;
		/* (Clones first with a small max_pending is left out: a framed clone's answers
		 * past the client's requests make room by dropping slots, a clone ahead on the
		 * fast way waits for production's bytes instead — a difference only where more
		 * than max_pending answers have no request yet.) */
		enum order last = in.cfg.max_pending ? PROD_ENDS : CLONES_FIRST;

		for (enum order o = IN_ORDER; o <= last; o++) {
			struct tally fast, all;

			run_in_order(&in, seed | 1, o, &fast);
			run_in_order(&framed, seed | 1, o, &all);
			require(memcmp(fast.counts, all.counts, sizeof(all.counts)) == 0,
				"the fast way counts as framing does");
			require(fast.digest == all.digest, "the fast way reports as framing does");
		}
	}
	return 0;
}
