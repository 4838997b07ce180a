/* wire.c — the agent protocol's framing, authentication and requests.
 *
 * One JSON object per line over TCP.  Authentication: the agent sends a random nonce, the
 * client answers HMAC-SHA256(token, nonce) (GnuTLS); the agent compares in constant time.
 * Data never travels here: memory pages go through CRIU's page server, files through rsync.
 * What comes from the peer is read by pure functions (pk_wire_parse, pk_wire_authentic,
 * pk_wire_request) that the fuzz target tests/fuzz/fuzz_wire.c calls as the agent does.
 */
#include "clone/clone_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/sock.h"

#define WIRE_LINE_MAX (256 * 1024)

int pk_wire_send(int fd, cJSON *msg)
{
	char *text = cJSON_PrintUnformatted(msg);
	size_t len, off = 0;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL; the length is known */
	while (off <= len) {
		ssize_t n = send(fd, text + off, len + 1 - off, MSG_NOSIGNAL);

		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			cJSON_free(text);
			return -e;
		}
		off += (size_t)n;
	}
	cJSON_free(text);
	return 0;
}

cJSON *pk_wire_recv(int fd, int timeout_ms, int *err)
{
	struct pk_strbuf line = { 0 };
	uint64_t deadline = pk_now_ms() + (uint64_t)timeout_ms;
	cJSON *msg = NULL;

	*err = 0;
	for (;;) {
		char c;
		ssize_t n;

		*err = pk_sock_wait(fd, POLLIN, deadline);
		if (*err)
			break;
		n = read(fd, &c, 1); /* byte at a time: lines are short and rare */
		if (n == 0) {
			*err = -ECONNRESET;
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = -errno;
			break;
		}
		if (c == '\n') {
			msg = pk_wire_parse(line.s, line.len, err);
			break;
		}
		pk_strbuf_append(&line, &c, 1);
		if (line.len > WIRE_LINE_MAX) {
			*err = -EMSGSIZE;
			break;
		}
	}
	pk_strbuf_release(&line);
	return msg;
}

cJSON *pk_wire_parse(const char *line, size_t len, int *err)
{
	const char *end = NULL;
	cJSON *msg;

	*err = -EPROTO;
	if (!line || memchr(line, '\0', len)) /* nothing hidden behind a NUL */
		return NULL;
	msg = cJSON_ParseWithLengthOpts(line, len, &end, false);
	while (msg && end < line + len && (*end == ' ' || *end == '\t' || *end == '\r'))
		end++;
	if (!msg || end != line + len || !cJSON_IsObject(msg)) { /* one object and nothing else */
		cJSON_Delete(msg);
		return NULL;
	}
	*err = 0;
	return msg;
}

int pk_wire_nonce(char *hex, size_t len)
{
	uint8_t raw[16];

	if (len < 2 * sizeof(raw) + 1 || getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int pk_wire_mac(const char *token, const char *nonce, char *hex, size_t len)
{
	uint8_t mac[32];

	if (len < 2 * sizeof(mac) + 1 || gnutls_hmac_fast(GNUTLS_MAC_SHA256, token, strlen(token),
							  nonce, strlen(nonce), mac) < 0)
		return -EIO;
	for (size_t i = 0; i < sizeof(mac); i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

bool pk_wire_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

bool pk_wire_authentic(const cJSON *msg, const char *token, const char *nonce)
{
	const char *got = pk_wire_str(msg, "mac");
	char mac[80];

	return got && pk_wire_mac(token, nonce, mac, sizeof(mac)) == 0 && pk_wire_equal(got, mac);
}

/* Tells whether the string member key of msg is absent (then *out is "") or valid. */
static bool optional_name(const cJSON *msg, const char *key, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);

	*out = cJSON_IsString(v) ? v->valuestring : "";
	return !v || (cJSON_IsString(v) && (!**out || pk_name_valid(*out)));
}

/* Tells whether config is the text of a JSON object (production's OCI config). */
static bool json_object_text(const char *config)
{
	cJSON *spec = cJSON_Parse(config);
	bool ok = cJSON_IsObject(spec);

	cJSON_Delete(spec);
	return ok;
}

int pk_wire_request(const cJSON *msg, bool prepared, struct pk_wire_req *req, char *err,
		    size_t errlen)
{
	const char *op = pk_wire_str(msg, "op"), *bad = NULL;
	struct in_addr ip;

	memset(req, 0, sizeof(*req));
	if (op && strcmp(op, "restore") == 0 && prepared) {
		req->op = PK_WIRE_RESTORE;
		return 0;
	}
	if (!op || strcmp(op, "prepare") != 0 || prepared) {
		snprintf(err, errlen, "unexpected request");
		return -EPROTO;
	}
	req->name = pk_wire_str(msg, "name");
	req->ip = pk_wire_str(msg, "ip");
	req->lower = pk_wire_str(msg, "lower");
	req->config = pk_wire_str(msg, "config");
	req->limits = cJSON_GetObjectItemCaseSensitive(msg, "limits");
	if (!req->name || !pk_name_valid(req->name))
		bad = "name";
	else if (!optional_name(msg, "parent", &req->parent))
		bad = "parent";
	else if (!req->ip || inet_pton(AF_INET, req->ip, &ip) != 1)
		bad = "ip";
	else if (!req->lower || req->lower[0] != '/' || strlen(req->lower) >= PK_PATH_MAX)
		bad = "lower";
	else if (!req->config || !json_object_text(req->config))
		bad = "config";
	else if (req->limits && !cJSON_IsObject(req->limits))
		bad = "limits";
	if (bad) {
		snprintf(err, errlen, "malformed prepare request: bad or missing '%s'", bad);
		return -EPROTO;
	}
	req->op = PK_WIRE_PREPARE;
	return 0;
}

int pk_token_load(const char *path, char *token, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		int e = errno;

		snprintf(err, errlen, "token file %s: %s", path, strerror(e));
		return -e;
	}
	n = fread(token, 1, len - 1, f);
	fclose(f);
	token[n] = '\0';
	token[strcspn(token, "\r\n")] = '\0';
	if (strlen(token) < 16) {
		snprintf(err, errlen, "token file %s: the token must be at least 16 characters",
			 path);
		return -EINVAL;
	}
	return 0;
}

const char *pk_wire_str(const cJSON *msg, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int pk_wire_port(const cJSON *msg, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 65535 ||
	    v->valuedouble != (double)(int)v->valuedouble)
		return -EPROTO;
	return (int)v->valuedouble;
}
