/* fuzz_framer.c — libFuzzer target: a client's byte stream through the RESP or HTTP framer.
 *
 * Input: the first byte picks the framer (even: RESP, odd: HTTP) and seeds the chunk sizes;
 * the rest is the stream.  The stream is framed three ways: a byte at a time (which gives every
 * boundary and the byte at which the framer got lost), whole, and in chunks of pseudo-random
 * sizes.  Besides the sanitizers' checks, it asserts the framer's promise: how a stream is cut
 * into chunks changes nothing, so each chunk reports exactly the first boundary the byte-wise
 * run found in it (none once the framer is lost), and every answer lies inside its chunk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/proto.h"

#define FUZZ_MAX_STREAM 65536

/* Aborts (so that the fuzzer keeps the input) when a promise does not hold. */
static void require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_framer: broken promise: %s\n", what);
		abort();
	}
}

/* Frames s[0..n) in chunks whose sizes come from seed (0: one chunk), checking each answer
 * against the byte-wise run: starts[i] tells whether a request starts at i, lost_at is the
 * first byte after which the framer was lost (n if never). */
static void frame_in_chunks(enum pk_proto proto, const char *s, size_t n, uint32_t seed,
			    const uint8_t *starts, size_t lost_at)
{
	struct pk_framer f;
	size_t off = 0;

	pk_framer_init(&f, proto);
	while (off < n) {
		size_t len = n - off, want = (size_t)-1;
		ssize_t got;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			len = 1 + (seed >> 16) % 97;
			if (len > n - off)
				len = n - off;
		}
		got = pk_framer_feed(&f, s + off, len);
		if (off + len <= lost_at)
			for (size_t i = off; i < off + len; i++)
				if (starts[i]) {
					want = i - off;
					break;
				}
		require(got == -1 || (got >= 0 && (size_t)got < len), "an answer inside the chunk");
		require(got == (ssize_t)want, "chunking changes no boundary");
		off += len;
	}
	require(f.lost == (lost_at < n), "lost at the same byte");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum pk_proto proto;
	const char *s = (const char *)data + 1;
	size_t n, lost_at;
	struct pk_framer f;
	uint8_t *starts;

	if (size < 1 || size - 1 > FUZZ_MAX_STREAM)
		return 0;
	proto = data[0] & 1 ? PK_PROTO_HTTP : PK_PROTO_RESP;
	n = size - 1;
	starts = calloc(n + 1, 1);
	if (!starts)
		return 0;
	pk_framer_init(&f, proto);
	lost_at = n;
	for (size_t i = 0; i < n; i++) {
		ssize_t got = pk_framer_feed(&f, s + i, 1);

		require(got == -1 || got == 0, "one byte: a boundary at 0 or none");
		starts[i] = got == 0;
		if (f.lost && lost_at == n)
			lost_at = i;
		require(!f.lost || got == -1, "no boundary once lost");
	}
	frame_in_chunks(proto, s, n, 0, starts, lost_at);
	frame_in_chunks(proto, s, n, data[0] | 1u, starts, lost_at);
	free(starts);
	return 0;
}
