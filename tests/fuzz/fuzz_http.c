/* fuzz_http.c — libFuzzer target: any bytes, as a request to the admin HTTP server
 * (pk_http_answer(), what the server does with the bytes it read) and as a response to the
 * CLI's client (pk_http_response_parse()).
 *
 * Besides the sanitizers' checks, it asserts the promises: the handler sees GET or POST and a
 * path of at most 1023 bytes without blanks; the server's answer is a well-formed response whose
 * status and body the client reads back exactly (400 and 405 for what the handler never sees);
 * the client returns a status of 100..999 or -EPROTO, and the body it gives is the tail of the
 * input.  Built with clang by `make fuzz`, and with gcc+ASan into test_fuzz_corpus.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"

#define FUZZ_TARGET "fuzz_http"
#include "fuzz.h"

struct handled {
	int calls, code;
	size_t body_len;
};

/* A handler like the proxy's: 200 with a body for two paths, 405 or 404 for the rest. */
static int handler(const char *method, const char *path, struct pk_strbuf *body, const char **ctype,
		   void *data)
{
	struct handled *h = data;
	size_t plen = strlen(path);

	require(strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0, "GET or POST");
	require(plen > 0 && plen <= 1023, "a path of 1..1023 bytes");
	for (size_t i = 0; i < plen; i++)
		require(!isspace((unsigned char)path[i]), "no blank in the path");
	h->calls++;
	if (strcmp(path, "/metrics") == 0) {
		*ctype = "text/plain; version=0.0.4";
		pk_strbuf_printf(body, "up 1\n");
		h->code = 200;
	} else if (strcmp(path, "/pairing/reset") == 0) {
		h->code = strcmp(method, "POST") == 0 ? 200 : 405;
		pk_strbuf_printf(body, "%s\n", h->code == 200 ? "pairing reset" : "POST only");
	} else {
		pk_strbuf_printf(body, "no such page: %s\n", path);
		h->code = 404;
	}
	h->body_len = body->len;
	return h->code;
}

static void serve(const uint8_t *data, size_t size)
{
	char req[PK_HTTP_REQ_MAX];
	struct handled h = { 0 };
	struct pk_strbuf out = { 0 }, body = { 0 };
	size_t n = size < sizeof(req) - 1 ? size : sizeof(req) - 1; /* the server's cap */
	int code;

	memcpy(req, data, n);
	req[n] = '\0';
	pk_http_answer(req, handler, &h, &out);
	require(h.calls <= 1, "the handler called at most once");
	require(pk_strbuf_ok(&out), "an answer");
	code = pk_http_response_parse(out.s, out.len, &body);
	if (h.calls) {
		require(code == h.code, "the client reads the handler's status");
		require(body.len == h.body_len, "the client reads the handler's body");
	} else {
		require(code == 400 || code == 405, "400 or 405 without the handler");
	}
	require(strstr(out.s, "Content-Length: ") != NULL &&
			strtoul(strstr(out.s, "Content-Length: ") + 16, NULL, 10) == body.len,
		"Content-Length is the body's length");
	pk_strbuf_release(&out);
	pk_strbuf_release(&body);
}

static void read_response(const uint8_t *data, size_t size)
{
	struct pk_strbuf body = { 0 };
	const char *resp = (const char *)data;
	int code = pk_http_response_parse(resp, size, &body);

	require(code == -EPROTO || (code >= 100 && code <= 999), "a status or -EPROTO");
	require(code > 0 || body.len == 0, "no body without a status");
	require(code < 0 ||
			(body.len <= size &&
			 (body.len == 0 || memcmp(body.s, resp + size - body.len, body.len) == 0)),
		"the body is the input's tail");
	pk_strbuf_release(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	serve(data, size);
	read_response(data, size);
	return 0;
}
