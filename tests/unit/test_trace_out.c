/* test_trace_out.c — the outputs of paths_out.h on the synthetic chain (trace_synth.h),
 * parsed back with cJSON: the JSON shape other tests read, Chrome trace events, OTLP/JSON
 * spans (ids, parents, resources, wall-clock times as strings), the analyze summary, text. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "trace/paths_out.h"
#include "trace_synth.h"
#include "unit.h"

/* The chain with drops, a static program and a skewed backend, written in format fmt. */
static char *render(enum pk_trace_fmt fmt, size_t limit, struct pk_trace_paths **keep)
{
	struct synth_opts o = { .n = 6, .conc = 3, .skew_ns = 200000000, .extras = true };
	struct synth s;
	struct pk_trace_paths *p = NULL;
	char *buf = NULL, err[128];
	size_t len = 0;
	FILE *f;

	CHECK(synth_chain(&s, &o));
	CHECK_EQ_INT(pk_trace_analyze(s.procs, s.nprocs, s.ev, s.nev, &p, err, sizeof(err)), 0);
	free(s.ev);
	f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	if (f && p)
		CHECK_EQ_INT(pk_trace_paths_write(p, fmt, limit, f, err, sizeof(err)), 0);
	if (f)
		fclose(f);
	if (keep)
		*keep = p;
	else
		pk_trace_paths_free(p);
	return buf;
}

static bool is_hex(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

static const char *str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

static void test_json(void)
{
	char *out = render(PK_TRACE_FMT_JSON, 0, NULL);
	cJSON *root = cJSON_Parse(out), *paths = cJSON_GetObjectItem(root, "paths"), *path;

	CHECK(root != NULL);
	CHECK_EQ_INT(cJSON_GetArraySize(paths), 6);
	cJSON_ArrayForEach(path, paths)
	{
		cJSON *hops = cJSON_GetObjectItem(path, "hops"), *h;
		int i = 0;

		CHECK(is_hex(str(path, "trace_id"), 32));
		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(path, "complete")));
		CHECK(num(path, "duration_ns") > 0);
		CHECK_EQ_INT(cJSON_GetArraySize(hops), 3);
		cJSON_ArrayForEach(h, hops)
		{
			CHECK_EQ_INT(num(h, "id"), i);
			CHECK_EQ_INT(num(h, "parent"), i - 1);
			CHECK(num(h, "latency_ns") == num(h, "end_ns") - num(h, "start_ns"));
			CHECK(num(h, "confidence") > 0);
			CHECK(num(h, "tid") > 0);
			i++;
		}
		h = cJSON_GetArrayItem(hops, 0);
		CHECK_STR(str(h, "comm"), "nginx");
		CHECK_STR(str(h, "proto"), "http");
		CHECK_STR(str(h, "rule"), "root");
		CHECK_STR(str(h, "local"), "127.0.0.1:8080");
		CHECK(strncmp(str(h, "request"), "GET /r/", 7) == 0);
		CHECK(strstr(str(h, "request"), "HTTP/1.1\r\nHost: front\r\n") != NULL);
		h = cJSON_GetArrayItem(hops, 1);
		CHECK_STR(str(h, "comm"), "backend");
		CHECK_STR(str(h, "rule"), "byte-match+tcp-endpoints");
		CHECK(num(h, "call_start_ns") <= num(h, "start_ns"));
		h = cJSON_GetArrayItem(hops, 2);
		CHECK_STR(str(h, "proto"), "resp");
		CHECK_STR(str(h, "local"), "127.0.0.1:6379");
	}
	cJSON *procs = cJSON_GetObjectItem(root, "processes"), *q;
	int backend = 0;

	CHECK_EQ_INT(cJSON_GetArraySize(procs), 5);
	cJSON_ArrayForEach(q, procs)
	{
		CHECK(num(q, "pid") > 0);
		CHECK(cJSON_GetObjectItem(q, "offset_lo_ns") != NULL);
		CHECK(cJSON_GetObjectItem(q, "offset_hi_ns") != NULL);
		if (num(q, "pid") == SYN_BACKEND) {
			backend++;
			CHECK(num(q, "clock_offset_ns") > 199e6 &&
			      num(q, "clock_offset_ns") < 201e6);
			CHECK_EQ_INT(num(q, "dropped"), 3);
			CHECK_STR(str(q, "exe"), "/usr/bin/python3");
		}
	}
	CHECK_EQ_INT(backend, 1);
	CHECK_EQ_INT(num(root, "dropped"), 10);
	cJSON *un = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "untraceable"), 0);

	CHECK_STR(str(un, "path"), "/x/static-bin");
	CHECK_EQ_INT(num(un, "pid"), SYN_MASTER);
	cJSON_Delete(root);
	free(out);

	out = render(PK_TRACE_FMT_JSON, 2, NULL);
	root = cJSON_Parse(out);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "paths")), 2);
	cJSON_Delete(root);
	free(out);
}

static void test_chrome(void)
{
	char *out = render(PK_TRACE_FMT_CHROME, 0, NULL);
	cJSON *root = cJSON_Parse(out), *ev;
	int meta = 0, x = 0;

	CHECK(root != NULL);
	cJSON_ArrayForEach(ev, cJSON_GetObjectItem(root, "traceEvents"))
	{
		if (strcmp(str(ev, "ph"), "M") == 0) {
			meta++;
			CHECK_STR(str(ev, "name"), "process_name");
		} else if (strcmp(str(ev, "ph"), "X") == 0) {
			cJSON *args = cJSON_GetObjectItem(ev, "args");

			x++;
			CHECK(num(ev, "ts") > 0 && num(ev, "dur") >= 0);
			CHECK(num(args, "path") >= 1 && num(args, "path") <= 6);
			CHECK(str(args, "rule")[0] != 0);
			CHECK(num(args, "confidence") > 0);
		}
	}
	CHECK_EQ_INT(meta, 5);
	CHECK_EQ_INT(x, 18);
	cJSON_Delete(root);
	free(out);
}

static void test_otlp(void)
{
	struct pk_trace_paths *p = NULL;
	char *out = render(PK_TRACE_FMT_OTLP, 0, &p);
	cJSON *root = cJSON_Parse(out), *rs, *span;
	cJSON *ids = cJSON_CreateObject();
	int nspans = 0, roots = 0;

	CHECK(root != NULL);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "resourceSpans")), 5);
	/* first pass: every span id, second: every parent is one of them */
	for (int pass = 0; pass < 2; pass++)
		cJSON_ArrayForEach(rs, cJSON_GetObjectItem(root, "resourceSpans"))
		{
			cJSON *res = cJSON_GetObjectItem(rs, "resource");
			cJSON *a0 = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "attributes"), 0);
			cJSON *ss = cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "scopeSpans"), 0);

			CHECK_STR(str(a0, "key"), "service.name");
			CHECK_STR(str(cJSON_GetObjectItem(ss, "scope"), "name"), "parikshan");
			cJSON_ArrayForEach(span, cJSON_GetObjectItem(ss, "spans"))
			{
				const char *par = str(span, "parentSpanId");

				if (pass == 0) {
					nspans++;
					CHECK(is_hex(str(span, "traceId"), 32));
					CHECK(is_hex(str(span, "spanId"), 16));
					CHECK_EQ_INT(num(span, "kind"), 2);
					CHECK(strtoull(str(span, "startTimeUnixNano"), NULL, 10) >
					      1700000000ull * 1000000000ull);
					CHECK(strtoull(str(span, "endTimeUnixNano"), NULL, 10) >=
					      strtoull(str(span, "startTimeUnixNano"), NULL, 10));
					cJSON_AddBoolToObject(ids, str(span, "spanId"), 1);
				} else if (*par) {
					CHECK(cJSON_GetObjectItem(ids, par) != NULL);
				} else {
					roots++;
				}
			}
		}
	CHECK_EQ_INT(nspans, 18);
	CHECK_EQ_INT(cJSON_GetArraySize(ids), 18);
	CHECK_EQ_INT(roots, 6);
	cJSON_Delete(ids);
	cJSON_Delete(root);
	pk_trace_paths_free(p);
	free(out);
}

static void test_summary(void)
{
	char *out = render(PK_TRACE_FMT_SUMMARY_JSON, 0, NULL);
	cJSON *root = cJSON_Parse(out), *rules = cJSON_GetObjectItem(root, "rules");

	CHECK_EQ_INT(num(root, "paths"), 6);
	CHECK_EQ_INT(num(root, "complete"), 6);
	CHECK_EQ_INT(num(root, "hops"), 18);
	CHECK_EQ_INT(num(root, "dropped"), 10);
	CHECK_EQ_INT(num(rules, "same-thread"), 6);
	CHECK_EQ_INT(num(rules, "byte-match"), 6);
	CHECK_EQ_INT(num(rules, "tcp-endpoints"), 12);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "processes")), 5);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "untraceable")), 1);
	cJSON_Delete(root);
	free(out);
	out = render(PK_TRACE_FMT_SUMMARY, 0, NULL);
	CHECK(out && strstr(out, "paths: 6 (6 complete), hops: 18") != NULL);
	free(out);
}

static void test_text(void)
{
	char *out = render(PK_TRACE_FMT_TEXT, 0, NULL);

	CHECK(out != NULL);
	if (!out)
		return;
	CHECK(strstr(out, "path 1  ") == out);
	CHECK(strstr(out, "path 6  ") != NULL);
	CHECK(strstr(out, "  complete  GET /r/") != NULL);
	CHECK(strstr(out, "\n  nginx[10") != NULL);
	CHECK(strstr(out, "\n    backend[200] http ") != NULL);
	CHECK(strstr(out, "(byte-match+tcp-endpoints, 0.90)") != NULL);
	CHECK(strstr(out, "\n      redis-server[300] resp ") != NULL);
	CHECK(strstr(out, "  GET r:") != NULL);
	CHECK(strstr(out, "backend[200]  clock offset +19") != NULL);
	CHECK(strstr(out, "dropped: 10\n") != NULL);
	CHECK(strstr(out, "untraceable: /x/static-bin (pid 100") != NULL);
	free(out);
}

/* A hop's request readably: MySQL's command after the 4-byte header, DNS's question. */
static void test_titles(void)
{
	static const struct {
		enum pk_trace_proto proto;
		const char *bytes;
		size_t len;
		const char *want;
	} cases[] = {
		{ PK_TRACE_PROTO_MYSQL, "\x0a\x00\x00\x00\x03select 1", 13, "QUERY select 1" },
		{ PK_TRACE_PROTO_MYSQL, "\x0a\x00\x00\x00\x17\x07\x00\x00\x00\x00", 10,
		  "EXECUTE stmt 7" },
		{ PK_TRACE_PROTO_MYSQL, "\x01\x00\x00\x00\x01", 5, "QUIT" },
		{ PK_TRACE_PROTO_MYSQL, "\x20\x00\x00\x01\x85\xa6", 6, "HANDSHAKE" },
		{ PK_TRACE_PROTO_MYSQL, "\x01\x00\x00\x00\x7f", 5, "COM_0x7f" },
		{ PK_TRACE_PROTO_MYSQL,
		  "\x06\x00\x00\x00\x16"
		  "a\x01"
		  "b",
		  8, "PREPARE a\\x01b" },
		{ PK_TRACE_PROTO_MYSQL, "\x01\x00", 2, "\\x01\\x00" }, /* too short: the bytes */
		{ PK_TRACE_PROTO_DNS,
		  "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07"
		  "example\x03"
		  "com\x00\x00\x1c\x00\x01",
		  33, "AAAA www.example.com" },
		{ PK_TRACE_PROTO_DNS,
		  "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x63", 15, "TYPE99 ." },
		/* cut inside the name, and a compression pointer: the bytes */
		{ PK_TRACE_PROTO_DNS,
		  "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05"
		  "ab",
		  15, "\\x124\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x05ab" },
		{ PK_TRACE_PROTO_DNS,
		  "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00", 15,
		  "\\x124\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\xc0\\x0c\\x00" },
	};
	struct pk_trace_hop h = { 0 };
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h.proto = cases[i].proto;
		memcpy(h.request, cases[i].bytes, cases[i].len);
		h.request_len = (uint16_t)cases[i].len;
		pk_trace_request_str(&h, false, buf, sizeof(buf));
		CHECK_STR(buf, cases[i].want);
	}
	pk_trace_request_str(&h, false, buf, 5); /* cut to fit, still terminated */
	CHECK(strlen(buf) < 5);
}

static void test_fmt_parse(void)
{
	enum pk_trace_fmt f;

	CHECK_EQ_INT(pk_trace_fmt_parse("otlp", &f), 0);
	CHECK_EQ_INT(f, PK_TRACE_FMT_OTLP);
	CHECK_EQ_INT(pk_trace_fmt_parse("chrome", &f), 0);
	CHECK_EQ_INT(f, PK_TRACE_FMT_CHROME);
	CHECK_EQ_INT(pk_trace_fmt_parse("html", &f), 0);
	CHECK_EQ_INT(f, PK_TRACE_FMT_HTML);
	CHECK(pk_trace_fmt_parse("svg", &f) < 0);
}

/* Times from outside may be anything: a hop recorded at 8.6e18 ns on a clock whose wall base
 * is 1.7e18 ns gives wall times modulo 2^64, never a signed overflow (fuzz_trace_analyze). */
static void test_otlp_huge_times(void)
{
	struct pk_trace_pproc proc = { .pid = 100, .wall_base_ns = 1700000000000000000 };
	struct pk_trace_hop hop = { .parent = -1, .pid = 100, .start_ns = 8646911285550652320ull };
	struct pk_trace_path path = { .id = 1,
				      .trace_id = "0123456789abcdef0123456789abcdef",
				      .nhops = 1 };
	struct pk_trace_paths p = {
		.paths = &path, .npaths = 1, .hops = &hop, .nhops = 1, .procs = &proc, .nprocs = 1
	};
	char *out = NULL, err[128];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cJSON *root, *span;

	hop.end_ns = hop.start_ns + 1000;
	snprintf(hop.rule, sizeof(hop.rule), "root");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ_INT(pk_trace_paths_write(&p, PK_TRACE_FMT_OTLP, 0, f, err, sizeof(err)), 0);
	fclose(f);
	root = cJSON_Parse(out);
	span = cJSON_GetArrayItem(
		cJSON_GetObjectItem(
			cJSON_GetArrayItem(
				cJSON_GetObjectItem(
					cJSON_GetArrayItem(
						cJSON_GetObjectItem(root, "resourceSpans"), 0),
					"scopeSpans"),
				0),
			"spans"),
		0);
	CHECK(strtoull(str(span, "startTimeUnixNano"), NULL, 10) ==
	      1700000000000000000ull + 8646911285550652320ull);
	CHECK(strtoull(str(span, "endTimeUnixNano"), NULL, 10) ==
	      1700000000000000000ull + 8646911285550653320ull);
	cJSON_Delete(root);
	free(out);
}

int main(void)
{
	UNIT_RUN(test_json);
	UNIT_RUN(test_chrome);
	UNIT_RUN(test_otlp);
	UNIT_RUN(test_otlp_huge_times);
	UNIT_RUN(test_summary);
	UNIT_RUN(test_text);
	UNIT_RUN(test_fmt_parse);
	UNIT_RUN(test_titles);
	return unit_done();
}
