/* fuzz_framer.c — libFuzzer target: a client's byte stream through the RESP or HTTP framer.
 *
 * Input: the first byte picks the framer (even: RESP, odd: HTTP) and seeds the chunk sizes;
 * the rest is the stream.  The stream is framed three ways: a byte at a time (which gives every
 * boundary and the byte at which the framer got lost), whole, and in chunks of pseudo-random
 * sizes.  Besides the sanitizers' checks, it asserts the framer's promise: how a stream is cut
 * into chunks changes nothing, so each chunk reports exactly the first boundary the byte-wise
 * run found in it (none once the framer is lost), and every answer lies inside its chunk.
 *
 * When bit 1 of the first byte is set, the rest is not the stream but describes well-formed
 * requests (0xff between requests, 0xfe between their parts): RESP arrays of bulk strings (or an
 * inline command after a leading 0xfd), or HTTP requests (request line, header lines, and a
 * body sent with Content-Length, written with varying whitespace, or chunked).  The framer must
 * then find exactly the starts of those requests and never get lost.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/proto.h"

#define FUZZ_TARGET "fuzz_framer"
#include "fuzz.h"

#define FUZZ_MAX_STREAM 65536

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

/* A stream being written, with the offsets where requests start marked. */
struct gen {
	char *s;
	uint8_t *starts;
	size_t len, cap;
};

static void put(struct gen *g, const void *p, size_t n)
{
	if (g->len + n > g->cap)
		return; /* cut: the caller checks g->len against what it wrote */
	memcpy(g->s + g->len, p, n);
	g->len += n;
}

/* Writes before, the number v and a line end. */
static void put_num(struct gen *g, const char *before, size_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%s%zu\r\n", before, v);

	put(g, buf, (size_t)n);
}

/* Copies p[0..n) with line ends turned into blanks (for request and header lines). */
static void put_line(struct gen *g, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i] == '\r' || p[i] == '\n' ? ' ' : (char)p[i];

		put(g, &c, 1);
	}
}

/* Number of parts (separated by 0xfe) of request r[0..n), and where part k starts and ends. */
static size_t part(const uint8_t *r, size_t n, size_t k, size_t *b, size_t *e)
{
	size_t count = 1, start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && r[i] != 0xfe)
			continue;
		if (count - 1 == k) {
			*b = start;
			*e = i;
		}
		count++;
		start = i + 1;
	}
	return count - 1;
}

static void gen_resp(struct gen *g, const uint8_t *r, size_t n)
{
	size_t parts, b = 0, e = 0;

	g->starts[g->len] = 1;
	if (n > 0 && r[0] == 0xfd) { /* inline command: a line that does not start with '*' */
		put(g, "X", 1);
		put_line(g, r + 1, n - 1);
		put(g, "\r\n", 2);
		return;
	}
	parts = part(r, n, 0, &b, &e);
	put_num(g, "*", parts);
	for (size_t k = 0; k < parts; k++) {
		part(r, n, k, &b, &e);
		put_num(g, "$", e - b);
		put(g, r + b, e - b);
		put(g, "\r\n", 2);
	}
}

static void gen_http(struct gen *g, const uint8_t *r, size_t n)
{
	size_t parts, b = 0, e = 0, body_b = 0, body_e = 0, ows;

	g->starts[g->len] = 1;
	parts = part(r, n, 0, &b, &e);
	ows = (e - b) % 41; /* whitespace before the length: any amount is valid */
	put(g, "G", 1);	    /* a request line that does not start with a line end */
	put_line(g, r + b, e - b);
	put(g, "\r\n", 2);
	for (size_t k = 1; k + 1 < parts; k++) {
		part(r, n, k, &b, &e);
		if (e == b ||
		    (e - b >= 14 && strncasecmp((const char *)r + b, "content-length", 14) == 0) ||
		    (e - b >= 17 && strncasecmp((const char *)r + b, "transfer-encoding", 17) == 0))
			continue;
		put(g, "X-", 2); /* never a blank line, never a length header */
		put_line(g, r + b, e - b);
		put(g, "\r\n", 2);
	}
	if (parts > 1)
		part(r, n, parts - 1, &body_b, &body_e);
	if (ows % 7 ==
	    3) { /* chunked: the body in chunks of up to 5 bytes, an extension, a trailer */
		put(g, "Transfer-Encoding: chunked\r\n\r\n", 30);
		for (size_t o = body_b; o < body_e; o += 5) {
			size_t k = body_e - o < 5 ? body_e - o : 5;
			char line[16];

			put(g, line,
			    (size_t)snprintf(line, sizeof(line), "%zx%s\r\n", k,
					     o % 2 ? ";x=1" : ""));
			put(g, r + o, k);
			put(g, "\r\n", 2);
		}
		put(g, "0\r\nX-T: 1\r\n\r\n", 13);
		return;
	}
	if (body_e > body_b || ows % 2) {
		put(g, ows % 3 ? "Content-Length:" : "content-length:", 15);
		for (size_t i = 0; i < ows; i++)
			put(g, i % 5 == 4 ? "\t" : " ", 1);
		put_num(g, "", body_e - body_b);
	}
	put(g, "\r\n", 2);
	put(g, r + body_b, body_e - body_b);
}

/* Encodes the requests described by d[0..n) (see the top) and checks the framer on them. */
static void structured(enum pk_proto proto, const uint8_t *d, size_t n)
{
	struct gen g = { .cap = 80 * n + 128 }; /* the most one input byte can make */
	struct pk_framer f;
	size_t start = 0;

	g.s = malloc(g.cap);
	g.starts = calloc(g.cap + 1, 1);
	if (!g.s || !g.starts)
		goto out;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] != 0xff)
			continue;
		(proto == PK_PROTO_RESP ? gen_resp : gen_http)(&g, d + start, i - start);
		start = i + 1;
	}
	require(g.len < g.cap, "the stream fits");
	pk_framer_init(&f, proto);
	for (size_t i = 0; i < g.len; i++) {
		ssize_t got = pk_framer_feed(&f, g.s + i, 1);

		if ((got == 0) != g.starts[i])
			fprintf(stderr, "fuzz_framer: at %zu of %zu: %s\n", i, g.len,
				g.starts[i] ? "a request start missed" : "a start where none is");
		require(!f.lost, "never lost on well-formed requests");
		require((got == 0) == g.starts[i], "exactly the starts of the requests");
	}
out:
	free(g.s);
	free(g.starts);
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
	if (data[0] & 2) {
		structured(proto, data + 1, n);
		return 0;
	}
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
