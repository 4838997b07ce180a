/* fuzz_wire.c — libFuzzer target: any bytes, as a remote peer sends them to `parikshan agent`
 * after its hello: one line answering the challenge, then requests, one JSON object a line.
 *
 * It plays the agent's session with the functions the agent reads messages with
 * (pk_wire_parse, pk_wire_authentic, pk_wire_request; no side effect, no I/O): the token and
 * the nonce are fixed, so a seed that carries the right MAC reaches the requests.  Every line is
 * also read as a request whatever the authentication, so that the request parser is fuzzed
 * without the MAC.  Besides the sanitizers' checks, it asserts the promises: a message is a JSON
 * object; only the exact MAC authenticates; a prepare is accepted only before a clone is
 * prepared and only with a valid name and parent, an IPv4 address, an absolute root path and a
 * JSON object as config; a restore only after a prepare; a refusal says why.
 * Built with clang by `make fuzz`, and with gcc+ASan into test_fuzz_corpus.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clone/clone_int.h"

#define FUZZ_TARGET "fuzz_wire"
#include "fuzz.h"

/* The seeds in tests/fuzz/corpus/wire carry hex(HMAC-SHA256(FUZZ_TOKEN, FUZZ_NONCE)). */
#define FUZZ_TOKEN "fuzz-token-0123456789abcdef"
#define FUZZ_NONCE "00112233445566778899aabbccddeeff"
#define FUZZ_LINE_MAX (256 * 1024) /* as pk_wire_recv's */

/* Checks one answer of pk_wire_request; returns rc. */
static int request(const cJSON *msg, bool prepared, struct pk_wire_req *q)
{
	char err[PK_ERR_MAX] = "";
	int rc = pk_wire_request(msg, prepared, q, err, sizeof(err));
	struct in_addr ip;
	cJSON *spec;

	if (rc) {
		require(rc == -EPROTO && err[0], "a refusal is -EPROTO with a reason");
		return rc;
	}
	require(q->op == (prepared ? PK_WIRE_RESTORE : PK_WIRE_PREPARE),
		"prepare before, restore after");
	if (q->op == PK_WIRE_RESTORE)
		return 0;
	require(q->name && pk_name_valid(q->name), "a valid name");
	require(q->parent && (!q->parent[0] || pk_name_valid(q->parent)), "a valid parent");
	require(q->ip && inet_pton(AF_INET, q->ip, &ip) == 1, "an IPv4 address");
	require(q->lower && q->lower[0] == '/' && strlen(q->lower) < PK_PATH_MAX,
		"an absolute root path");
	spec = q->config ? cJSON_Parse(q->config) : NULL;
	require(cJSON_IsObject(spec), "a JSON object as config");
	cJSON_Delete(spec);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char mac[80];
	bool authed = false, prepared = false, over = false;
	int lines = 0;

	require(pk_wire_mac(FUZZ_TOKEN, FUZZ_NONCE, mac, sizeof(mac)) == 0, "a MAC");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct pk_wire_req q;
		int err = 1;
		cJSON *msg;

		if (!nl || len > FUZZ_LINE_MAX)
			break; /* the agent's read ends: peer gone, or line too long */
		msg = pk_wire_parse(p, len, &err);
		p = nl + 1;
		require(msg ? err == 0 && cJSON_IsObject(msg) : err == -EPROTO,
			"a JSON object, or -EPROTO");
		if (!msg) {
			over = true;
			continue;
		}
		request(msg, false, &q);
		request(msg, true, &q);
		if (!over && lines++ == 0) { /* the answer to the challenge */
			authed = pk_wire_authentic(msg, FUZZ_TOKEN, FUZZ_NONCE);
			require(!authed || strcmp(pk_wire_str(msg, "mac"), mac) == 0,
				"only the exact MAC authenticates");
			over = !authed;
		} else if (!over) {
			/* the agent's loop: a refusal ends the session; prepare is taken as done */
			if (request(msg, prepared, &q) < 0 || q.op == PK_WIRE_RESTORE)
				over = true;
			else
				prepared = true;
		}
		cJSON_Delete(msg);
	}
	return 0;
}
