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
 * every side finishes.
 *
 * Besides the sanitizers' checks, it asserts the promises: counts come one request at a time,
 * for a clone that exists, with a verdict that exists; per clone, the verdicts counted never
 * exceed the requests that have a response (an independent framer counts them); every report
 * but LAG is counted as DIFFERENT or NOISE (as many reports as those counts), LAG is reported at
 * most once per clone and never SAME; a report names a request the client sent (or the next);
 * excerpts are printable ASCII; the JSON line parses back as one object.
 */
#include <regex.h>
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
	uint64_t requests; /* requests ended so far (any) */
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

static const regex_t *mask(void)
{
	static regex_t re;
	static int state; /* 0: not compiled, 1: compiled, -1: failed */

	if (state == 0)
		state = regcomp(&re, "[0-9]+|id=[a-z]*", REG_EXTENDED) == 0 ? 1 : -1;
	return state == 1 ? &re : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum pk_proto protos[] = { PK_PROTO_NONE, PK_PROTO_RESP, PK_PROTO_HTTP,
						PK_PROTO_MYSQL };
	struct pk_rcmp_config cfg = { 0 };
	struct tally t = { 0 };
	struct pk_rcmp_sink sink = { on_report, on_count, &t };
	const char *s[2 + PK_RCMP_MAX_CLONES];
	size_t len[2 + PK_RCMP_MAX_CLONES], off[2 + PK_RCMP_MAX_CLONES] = { 0 };
	uint64_t responding = 0;
	struct pk_msgr rq;
	struct pk_rcmp *c;
	int nclones, nstreams, lag_clone = -1;
	size_t pos = 3, total = 0, lag_at = 0, fed = 0;
	uint32_t seed;

	if (size < 3)
		return 0;
	cfg.proto = protos[data[0] & 3];
	nclones = 1 + ((data[0] >> 2) & 3);
	if (nclones > 3)
		nclones = 3;
	t.nclones = nclones;
	if ((data[0] & 0x10) && mask()) {
		cfg.ignore = mask();
		cfg.nignore = 1;
	}
	cfg.no_default_ignore = data[0] & 0x20;
	cfg.max_pending = data[1] & 15;
	cfg.mask_limit = (size_t)(data[1] >> 4) * 4;
	seed = data[2];
	nstreams = 2 + nclones;
	for (int i = 0; i < nstreams - 1; i++) {
		len[i] = pos + 2 <= size ? (data[pos] | (size_t)data[pos + 1] << 8) : 0;
		pos = pos + 2 <= size ? pos + 2 : size;
	}
	len[nstreams - 1] = SIZE_MAX;
	for (int i = 0; i < nstreams; i++) {
		if (len[i] > size - pos)
			len[i] = size - pos;
		s[i] = (const char *)data + pos;
		pos += len[i];
		total += len[i];
	}
	if (data[0] & 0x40) {
		lag_clone = (int)(next(&seed) % (unsigned)nclones);
		lag_at = total ? next(&seed) % total : 0;
	}

	c = pk_rcmp_new(&cfg, nclones, 1, &sink);
	if (!c)
		return 0;
	pk_msgr_init(&rq, cfg.proto, false);
	if (cfg.proto == PK_PROTO_NONE)
		responding = 1;
	for (;;) {
		int w = (int)(next(&seed) % (unsigned)nstreams), tries = 0;
		size_t k;

		while (off[w] == len[w] && tries++ < nstreams)
			w = (w + 1) % nstreams;
		if (off[w] == len[w])
			break;
		k = 1 + next(&seed) % 64;
		if (k > len[w] - off[w])
			k = len[w] - off[w];
		if (w == 0) {
			/* the independent count of requests, on the same chunks */
			for (size_t at = 0; cfg.proto != PK_PROTO_NONE && at < k;) {
				enum pk_msg_event ev;
				size_t used = pk_msgr_feed(&rq, s[0] + off[0] + at, k - at, &ev);

				at += used;
				if (ev == PK_MSG_END) {
					t.requests++;
					if (!(rq.flags & PK_MSG_NO_RESPONSE))
						responding++;
				} else if (used == 0 || ev == PK_MSG_LOST) {
					break;
				}
			}
			if (cfg.proto == PK_PROTO_NONE)
				t.requests = 1;
			pk_rcmp_request(c, s[0] + off[0], k);
		} else {
			pk_rcmp_response(c, w - 2, s[w] + off[w], k);
		}
		off[w] += k;
		fed += k;
		if (lag_clone >= 0 && fed >= lag_at) {
			pk_rcmp_lag(c, lag_clone, "desynced: buffer full");
			lag_clone = -1;
		}
	}
	if (data[0] & 0x80)
		for (int i = 0; i < nclones; i++)
			pk_rcmp_finish(c, i);
	pk_rcmp_finish(c, PK_RCMP_PROD);
	for (int i = 0; i < nclones; i++)
		pk_rcmp_finish(c, i);
	pk_rcmp_free(c);

	for (int i = 0; i < nclones; i++) {
		uint64_t counted = 0;

		for (int v = 0; v < PK_RCMP_VERDICTS; v++)
			counted += t.counts[i][v];
		require(counted <= responding, "per clone, verdicts counted <= requests answered");
		require(t.reports[i][PK_RCMP_DIFFERENT] == t.counts[i][PK_RCMP_DIFFERENT],
			"every DIFFERENT counted is reported");
		require(t.reports[i][PK_RCMP_NOISE] == t.counts[i][PK_RCMP_NOISE],
			"every NOISE counted is reported");
	}
	return 0;
}
