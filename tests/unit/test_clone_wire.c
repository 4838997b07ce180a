/* test_clone_wire.c — what the agent reads from a peer, without a socket: a line is one JSON
 * object and nothing else; only the exact MAC authenticates; a prepare request is taken only
 * with every field valid (the agent used to accept an address with a prefix, a relative root
 * path, a cut-down parent and trailing text after the object), a restore only after it. */
#include <errno.h>
#include <string.h>

#include "clone/clone_int.h"
#include "unit.h"

#define TOKEN "unit-token-0123456789"
#define NONCE "ffeeddccbbaa99887766554433221100"

/* Parses text (a line without its newline) as pk_wire_recv does; the caller frees it. */
static cJSON *parse(const char *text, int *err)
{
	return pk_wire_parse(text, strlen(text), err);
}

static void test_one_object_a_line(void)
{
	int err = 1;
	cJSON *m = parse(" {\"op\":\"restore\"} \r", &err);

	CHECK(m != NULL);
	CHECK_EQ_INT(err, 0);
	CHECK_STR(pk_wire_str(m, "op"), "restore");
	cJSON_Delete(m);
	CHECK(parse("{\"op\":\"restore\"}{}", &err) == NULL); /* trailing text */
	CHECK_EQ_INT(err, -EPROTO);
	CHECK(parse("{\"op\":\"restore\"} x", &err) == NULL);
	CHECK(parse("[{\"op\":\"restore\"}]", &err) == NULL); /* not an object */
	CHECK(parse("\"op\"", &err) == NULL);
	CHECK(parse("", &err) == NULL);
	CHECK(pk_wire_parse(NULL, 0, &err) == NULL);	 /* an empty strbuf */
	CHECK(pk_wire_parse("{}\0{}", 5, &err) == NULL); /* a NUL byte inside the line */
	CHECK_EQ_INT(err, -EPROTO);
}

static void test_only_the_exact_mac(void)
{
	char mac[80], text[128];
	int err;
	cJSON *m;

	CHECK_EQ_INT(pk_wire_mac(TOKEN, NONCE, mac, sizeof(mac)), 0);
	snprintf(text, sizeof(text), "{\"mac\":\"%s\"}", mac);
	m = parse(text, &err);
	CHECK(pk_wire_authentic(m, TOKEN, NONCE));
	CHECK(!pk_wire_authentic(m, TOKEN "x", NONCE));
	cJSON_Delete(m);
	mac[63] = mac[63] == '0' ? '1' : '0';
	snprintf(text, sizeof(text), "{\"mac\":\"%s\"}", mac);
	m = parse(text, &err);
	CHECK(!pk_wire_authentic(m, TOKEN, NONCE));
	cJSON_Delete(m);
	mac[63] = '\0'; /* a prefix of the right MAC */
	snprintf(text, sizeof(text), "{\"mac\":\"%s\"}", mac);
	m = parse(text, &err);
	CHECK(!pk_wire_authentic(m, TOKEN, NONCE));
	cJSON_Delete(m);
	m = parse("{\"mac\":17}", &err);
	CHECK(!pk_wire_authentic(m, TOKEN, NONCE));
	cJSON_Delete(m);
}

/* Reads a prepare request with field key set to value (a JSON value; NULL: the field left
 * out) into q, which points into *msg (the caller frees it). */
static int prepare_with(const char *key, const char *value, struct pk_wire_req *q, cJSON **msg,
			char *err, size_t errlen)
{
	static const char *const fields[][2] = {
		{ "name", "\"web-clone\"" },
		{ "parent", "\"web\"" },
		{ "ip", "\"10.89.0.2\"" },
		{ "lower", "\"/var/lib/pk/web/rootfs\"" },
		{ "config", "\"{\\\"linux\\\":{}}\"" },
	};
	char text[1024];
	size_t off = 0;
	int perr;

	off += (size_t)snprintf(text, sizeof(text), "{\"op\":\"prepare\"");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = strcmp(fields[i][0], key) == 0 ? value : fields[i][1];

		if (v)
			off += (size_t)snprintf(text + off, sizeof(text) - off, ",\"%s\":%s",
						fields[i][0], v);
	}
	snprintf(text + off, sizeof(text) - off, "}");
	*msg = parse(text, &perr);
	CHECK(*msg != NULL);
	return pk_wire_request(*msg, false, q, err, errlen);
}

static void test_prepare_fields(void)
{
	static const char *const bad[][2] = {
		{ "name", NULL },
		{ "name", "\"../etc\"" },
		{ "name", "7" },
		{ "parent", "\"Web Server\"" },
		{ "parent", "\"abcdefghijklmnopqrstuvwxyz0123456789\"" }, /* was cut to 32 */
		{ "parent", "null" },
		{ "ip", NULL },
		{ "ip", "\"10.89.0.2/24\"" },
		{ "ip", "\"fd00::2\"" },
		{ "ip", "\"10.89.0.256\"" },
		{ "lower", "\"rootfs\"" },
		{ "lower", "\"\"" },
		{ "config", NULL },
		{ "config", "\"\"" },
		{ "config", "\"[1]\"" },
		{ "config", "\"{\\\"linux\\\":\"" },
		{ "config", "{}" },
	};
	struct pk_wire_req q;
	char err[PK_ERR_MAX];
	cJSON *m;

	CHECK_EQ_INT(prepare_with("none", NULL, &q, &m, err, sizeof(err)), 0);
	CHECK_EQ_INT(q.op, PK_WIRE_PREPARE);
	CHECK_STR(q.name, "web-clone");
	CHECK_STR(q.parent, "web");
	CHECK_STR(q.ip, "10.89.0.2");
	CHECK_STR(q.lower, "/var/lib/pk/web/rootfs");
	CHECK_STR(q.config, "{\"linux\":{}}");
	cJSON_Delete(m);
	CHECK_EQ_INT(prepare_with("parent", NULL, &q, &m, err, sizeof(err)), 0); /* optional */
	CHECK_STR(q.parent, "");
	cJSON_Delete(m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[64];
		int rc;

		err[0] = '\0';
		rc = prepare_with(bad[i][0], bad[i][1], &q, &m, err, sizeof(err));
		cJSON_Delete(m);
		snprintf(want, sizeof(want), "'%s'", bad[i][0]);
		if (rc != -EPROTO || !strstr(err, want))
			printf("  %s=%s: rc %d, err \"%s\"\n", bad[i][0],
			       bad[i][1] ? bad[i][1] : "(absent)", rc, err);
		CHECK_EQ_INT(rc, -EPROTO);
		CHECK(strstr(err, want) != NULL);
	}
}

static void test_request_order(void)
{
	struct pk_wire_req q;
	char err[PK_ERR_MAX];
	int e;
	cJSON *restore = parse("{\"op\":\"restore\"}", &e), *other = parse("{\"op\":\"rm\"}", &e);
	cJSON *none = parse("{}", &e);

	CHECK_EQ_INT(pk_wire_request(restore, false, &q, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "unexpected request");
	CHECK_EQ_INT(pk_wire_request(restore, true, &q, err, sizeof(err)), 0);
	CHECK_EQ_INT(q.op, PK_WIRE_RESTORE);
	CHECK_EQ_INT(pk_wire_request(other, false, &q, err, sizeof(err)), -EPROTO);
	CHECK_EQ_INT(pk_wire_request(none, true, &q, err, sizeof(err)), -EPROTO);
	CHECK_EQ_INT(pk_wire_request(none, false, &q, err, sizeof(err)), -EPROTO);
	cJSON_Delete(restore);
	cJSON_Delete(other);
	cJSON_Delete(none);
}

int main(void)
{
	UNIT_RUN(test_one_object_a_line);
	UNIT_RUN(test_only_the_exact_mac);
	UNIT_RUN(test_prepare_fields);
	UNIT_RUN(test_request_order);
	return unit_done();
}
