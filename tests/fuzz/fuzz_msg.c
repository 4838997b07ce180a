/* fuzz_msg.c — libFuzzer target: one direction of a connection through a message framer
 * (src/proto/msg.h).
 *
 * Input: the first byte picks the protocol (bits 0-1: RESP, HTTP, MySQL, NONE), the direction
 * (bit 2: the server's responses), HEAD hints for an HTTP response framer (bits 5-7: the first
 * three responses answer HEAD) and seeds the chunk sizes; the rest is the stream.  The stream is
 * framed a byte at a time, whole, and in chunks of pseudo-random sizes; each run finishes the
 * stream.  Besides the sanitizers' checks, it asserts the framer's promises: every call consumes
 * bytes within its chunk (all of them with MORE and LOST; none only for a MySQL response's
 * PART or END), events come in increasing offsets, the message count is the number of ENDs, and
 * how the stream is cut changes no event (the same events at the same offsets — for MySQL
 * responses within the 3 bytes msg.h allows — and a LOST in the chunk holding the byte at which
 * the byte-wise run got lost).
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
	if (r->n > 0 && ev != PK_MSG_LOST)
		require(at > r->at[r->n - 1], "events at increasing offsets");
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
				require(ev == PK_MSG_PART || ev == PK_MSG_END,
					"0 bytes only for an event");
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
			require(a->at[i] <= b->at[i] + slack && b->at[i] <= a->at[i] + slack,
				"chunking moves no event");
	}
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
