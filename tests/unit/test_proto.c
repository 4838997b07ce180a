/* test_proto.c — request framers: boundaries found in streams cut at every possible place. */
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "unit.h"

/* Feeds stream in chunks of `step` bytes; records the absolute offsets where requests start. */
static int starts(enum pk_proto proto, const char *stream, size_t len, size_t step, size_t *out,
		  int max)
{
	struct pk_framer f;
	int n = 0;

	pk_framer_init(&f, proto);
	for (size_t off = 0; off < len; off += step) {
		size_t k = len - off < step ? len - off : step;
		ssize_t s = pk_framer_feed(&f, stream + off, k);

		if (s >= 0 && n < max)
			out[n++] = off + (size_t)s;
	}
	return n;
}

static void test_resp_arrays_whole(void)
{
	const char *s = "*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
	size_t got[8];
	int n = starts(PK_PROTO_RESP, s, strlen(s), strlen(s), got, 8);

	CHECK_EQ_INT(n, 1); /* one chunk: only the first start is reported */
	CHECK_EQ_INT(got[0], 0);
}

static void test_resp_every_split(void)
{
	/* the second request starts at offset 14; cutting anywhere must find it exactly there */
	const char *s = "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n";
	size_t len = strlen(s);

	for (size_t cut = 1; cut < len; cut++) {
		struct pk_framer f;
		ssize_t a, b;

		pk_framer_init(&f, PK_PROTO_RESP);
		a = pk_framer_feed(&f, s, cut);
		b = pk_framer_feed(&f, s + cut, len - cut);
		CHECK_EQ_INT(a, 0);
		if (cut <= 14)
			CHECK_EQ_INT(b, (ssize_t)(14 - cut));
		else
			CHECK_EQ_INT(b, -1);
	}
}

static void test_resp_binary_payload(void)
{
	/* a bulk string holding '*' and CRLF must not be taken for a request start */
	const char *s = "*2\r\n$3\r\nGET\r\n$6\r\n*1\r\n$0\r\n*1\r\n$4\r\nPING\r\n";
	size_t got[8];
	int n = starts(PK_PROTO_RESP, s, strlen(s), 1, got, 8);

	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(got[0], 0);
	CHECK_EQ_INT(got[1], 25); /* after "$6\r\n*1\r\n$0\r\n" */
}

static void test_resp_inline(void)
{
	const char *s = "PING\r\nSET a b\r\n*1\r\n$4\r\nPING\r\n";
	size_t got[8];
	int n = starts(PK_PROTO_RESP, s, strlen(s), 1, got, 8);

	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(got[1], 6);
	CHECK_EQ_INT(got[2], 15);
}

static void test_resp_garbage_lost(void)
{
	struct pk_framer f;

	pk_framer_init(&f, PK_PROTO_RESP);
	CHECK_EQ_INT(pk_framer_feed(&f, "*x\r\n", 4), -1);
	CHECK(f.lost);
	CHECK_EQ_INT(pk_framer_feed(&f, "*1\r\n$4\r\nPING\r\n", 14), -1);
}

static void test_http_requests(void)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
			"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /"
			"GET /y HTTP/1.1\r\n\r\n";
	size_t len = strlen(s), got[8];
	int n = starts(PK_PROTO_HTTP, s, len, 1, got, 8);

	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(got[0], 0);
	CHECK_EQ_INT(got[1], 27);
	CHECK_EQ_INT(got[2], 27 + 44); /* 18 + 19 + 2 header bytes, 5 body bytes */
	/* the same in one chunk reports only the first */
	CHECK_EQ_INT(starts(PK_PROTO_HTTP, s, len, len, got, 8), 1);
}

/* Any amount of blanks (spaces or tabs) may surround the length; it used to be read only within
 * the first 32 bytes of the line and after spaces only, so the body was taken for requests. */
static void test_http_length_blanks(void)
{
	static const char *const heads[] = {
		"POST /x HTTP/1.1\r\nContent-Length:\t5\r\n\r\n",
		"POST /x HTTP/1.1\r\ncontent-length:                              5  \r\n\r\n",
		"POST /x HTTP/1.1\r\nCONTENT-LENGTH: \t \t000000000000000000000000005\t\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		char s[256];
		size_t got[8], head = strlen(heads[i]);
		int n;

		snprintf(s, sizeof(s), "%sGET /GET /y HTTP/1.1\r\n\r\n", heads[i]);
		for (size_t step = 1; step <= head; step += 7) {
			n = starts(PK_PROTO_HTTP, s, strlen(s), step, got, 8);
			CHECK_EQ_INT(n, 2);
			CHECK_EQ_INT(got[0], 0);
			CHECK_EQ_INT(got[1], head + 5);
		}
	}
}

/* A length that is not one number loses the framer: it cannot know where the body ends. */
static void test_http_bad_length_lost(void)
{
	static const char *const bad[] = {
		"POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 5 6\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length:  \r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\nGET / "
		"HTTP/1.1\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pk_framer f;

		pk_framer_init(&f, PK_PROTO_HTTP);
		CHECK_EQ_INT(pk_framer_feed(&f, bad[i], strlen(bad[i])), -1);
		CHECK(f.lost);
	}
}

/* Chunked bodies are framed (the old framer got lost on them): with an extension and a
 * trailer, the next request is found at every cut. */
static void test_http_chunked(void)
{
	const char *s =
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\n"
		"T: 1\r\n\r\n"
		"GET / HTTP/1.1\r\n\r\n";
	size_t got[8], len = strlen(s);

	for (size_t step = 1; step <= len; step++) {
		CHECK_EQ_INT(starts(PK_PROTO_HTTP, s, len, step, got, 8), step <= len - 18 ? 2 : 1);
		CHECK_EQ_INT(got[0], 0);
		if (step <= len - 18)
			CHECK_EQ_INT(got[1], len - 18);
	}
}

/* MySQL: commands start where their packet (sequence id 0) does; the handshake's packets
 * (sequence ids 1, 3) are not commands. */
static void test_mysql(void)
{
	static const char s[] = "\x05\x00\x00\x01hello" /* handshake response */
				"\x02\x00\x00\x03"
				"ab"			  /* authentication switch response */
				"\x04\x00\x00\x00\x03SEL" /* COM_QUERY at 15 */
				"\x01\x00\x00\x00\x0e"	  /* COM_PING at 23 */
				"\x01\x00\x00\x00\x01";	  /* COM_QUIT at 28 */
	size_t got[8], len = sizeof(s) - 1;

	CHECK_EQ_INT(starts(PK_PROTO_MYSQL, s, len, 1, got, 8), 0); /* headers always cut */
	CHECK_EQ_INT(starts(PK_PROTO_MYSQL, s, len, 15, got, 8), 1);
	CHECK_EQ_INT(got[0], 15);
	for (size_t i = 0; i < 3; i++) {
		static const size_t at[] = { 15, 23, 28 };
		struct pk_framer f;

		pk_framer_init(&f, PK_PROTO_MYSQL);
		CHECK_EQ_INT(pk_framer_feed(&f, s, at[i]), i == 0 ? -1 : 15);
		CHECK_EQ_INT(pk_framer_feed(&f, s + at[i], len - at[i]), 0);
		CHECK(!f.lost);
	}
}

static void test_none_and_parse(void)
{
	struct pk_framer f;
	enum pk_proto p;

	pk_framer_init(&f, PK_PROTO_NONE);
	CHECK_EQ_INT(pk_framer_feed(&f, "PING\r\n", 6), -1);
	CHECK_EQ_INT(pk_proto_parse("resp", &p), 0);
	CHECK_EQ_INT(p, PK_PROTO_RESP);
	CHECK_EQ_INT(pk_proto_parse("http", &p), 0);
	CHECK_EQ_INT(p, PK_PROTO_HTTP);
	CHECK_EQ_INT(pk_proto_parse("mysql", &p), 0);
	CHECK_EQ_INT(p, PK_PROTO_MYSQL);
	CHECK(pk_proto_parse("smtp", &p) < 0);
}

int main(void)
{
	UNIT_RUN(test_resp_arrays_whole);
	UNIT_RUN(test_resp_every_split);
	UNIT_RUN(test_resp_binary_payload);
	UNIT_RUN(test_resp_inline);
	UNIT_RUN(test_resp_garbage_lost);
	UNIT_RUN(test_http_requests);
	UNIT_RUN(test_http_length_blanks);
	UNIT_RUN(test_http_bad_length_lost);
	UNIT_RUN(test_http_chunked);
	UNIT_RUN(test_mysql);
	UNIT_RUN(test_none_and_parse);
	return unit_done();
}
