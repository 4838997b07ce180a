/* test_trace_report.c — the HTML report from a paths document: the counts in the summary, one
 * <details class=req> per path (the slowest first, capped), service percentiles, escaping of
 * what the traced programs sent, the untraceable list, and a document of the wrong shape
 * refused. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/report.h"
#include "unit.h"

/* A document of n paths of three hops (nginx -> python3 -> redis-server), path i lasting
 * (n - i) ms; the first request carries markup. */
static cJSON *doc_of(int n)
{
	cJSON *doc = cJSON_CreateObject(), *paths = cJSON_AddArrayToObject(doc, "paths");
	cJSON *procs = cJSON_AddArrayToObject(doc, "processes");
	cJSON *untr = cJSON_AddArrayToObject(doc, "untraceable"), *u = cJSON_CreateObject();
	static const char *const comm[] = { "nginx", "python3", "redis-server" };
	static const char *const proto[] = { "http", "http", "resp" };

	for (int i = 0; i < 3; i++) {
		cJSON *p = cJSON_CreateObject();

		cJSON_AddNumberToObject(p, "pid", 100 + i);
		cJSON_AddStringToObject(p, "comm", comm[i]);
		cJSON_AddStringToObject(p, "exe", "/usr/bin/x");
		cJSON_AddNumberToObject(p, "clock_offset_ns", i == 2 ? 200e6 : 0);
		cJSON_AddNumberToObject(p, "dropped", 0);
		cJSON_AddItemToArray(procs, p);
	}
	for (int k = 0; k < n; k++) {
		cJSON *p = cJSON_CreateObject(), *hops = cJSON_CreateArray();
		double dur = (n - k) * 1e6, t0 = 1e9 + k * 1e7;

		cJSON_AddNumberToObject(p, "id", k + 1);
		cJSON_AddBoolToObject(p, "complete", k != 1);
		cJSON_AddNumberToObject(p, "duration_ns", dur);
		for (int i = 0; i < 3; i++) {
			cJSON *h = cJSON_CreateObject();
			char req[64];

			snprintf(req, sizeof(req),
				 k == 0 && i == 0 ? "GET /<b>%d HTTP/1.1\\r\\n"
						  : "GET /r/%d HTTP/1.1\\r\\n",
				 k + 1);
			cJSON_AddNumberToObject(h, "id", i);
			cJSON_AddNumberToObject(h, "parent", i - 1);
			cJSON_AddNumberToObject(h, "pid", 100 + i);
			cJSON_AddStringToObject(h, "comm", comm[i]);
			cJSON_AddStringToObject(h, "proto", proto[i]);
			cJSON_AddStringToObject(h, "request", req);
			cJSON_AddNumberToObject(h, "start_ns", t0 + i * dur / 10);
			cJSON_AddNumberToObject(h, "end_ns", t0 + dur - i * dur / 10);
			cJSON_AddNumberToObject(h, "latency_ns", dur - 2 * i * dur / 10);
			cJSON_AddStringToObject(h, "rule",
						i ? "same-thread+tcp-endpoints" : "root");
			cJSON_AddNumberToObject(h, "confidence", 1);
			cJSON_AddItemToArray(hops, h);
		}
		cJSON_AddItemToObject(p, "hops", hops);
		cJSON_AddItemToArray(paths, p);
	}
	cJSON_AddNumberToObject(u, "pid", 7);
	cJSON_AddStringToObject(u, "path", "/x/static&bin");
	cJSON_AddItemToArray(untr, u);
	cJSON_AddNumberToObject(doc, "dropped", 42);
	return doc;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_page(void)
{
	cJSON *doc = doc_of(30);
	struct pk_strbuf out = { 0 };
	char err[256];
	const char *s;

	CHECK_EQ_INT(pk_trace_report_html(doc, NULL, &out, err, sizeof(err)), 0);
	s = pk_strbuf_str(&out);
	CHECK(strncmp(s, "<!DOCTYPE html>", 15) == 0);
	CHECK(strstr(s, "<b id=requests>30</b> requests") != NULL);
	CHECK(strstr(s, "<b id=complete>29</b> complete") != NULL);
	CHECK(strstr(s, "<b id=dropped>42</b> records dropped") != NULL);
	CHECK_EQ_INT(count(s, "<details class=req"), 30);
	CHECK_EQ_INT(count(s, "<details class=req open>"), 10); /* the slowest ten open */
	CHECK_EQ_INT(count(s, "<tr class=svc>"), 3);
	/* what the programs sent is escaped, and cut at the line end */
	CHECK(strstr(s, "GET /&lt;b&gt;1 HTTP/1.1") != NULL);
	CHECK(strstr(s, "<b>1") == NULL);
	CHECK(strstr(s, "\\r\\n") == NULL);
	CHECK(strstr(s, "/x/static&amp;bin") != NULL);
	/* the slowest first, as the document orders them */
	CHECK(strstr(s, "30.000 ms</span>GET /&lt;b&gt;1") != NULL);
	/* no script, nothing fetched */
	CHECK(strstr(s, "<script") == NULL && strstr(s, "http://") == NULL &&
	      strstr(s, "https://") == NULL);
	pk_strbuf_release(&out);
	cJSON_Delete(doc);
}

static void test_cap(void)
{
	cJSON *doc = doc_of(50);
	struct pk_trace_report_opts o = { .max_paths = 20, .title = "t<1>" };
	struct pk_strbuf out = { 0 };
	char err[256];

	CHECK_EQ_INT(pk_trace_report_html(doc, &o, &out, err, sizeof(err)), 0);
	CHECK_EQ_INT(count(pk_strbuf_str(&out), "<details class=req"), 20);
	CHECK(strstr(pk_strbuf_str(&out), "the 20 slowest of 50") != NULL);
	CHECK(strstr(pk_strbuf_str(&out), "<title>t&lt;1&gt;</title>") != NULL);
	pk_strbuf_release(&out);
	cJSON_Delete(doc);
}

static void test_bad_shape(void)
{
	cJSON *doc = cJSON_Parse("{\"paths\": 3}");
	cJSON *empty = cJSON_Parse("{\"paths\": [{\"hops\": []}], \"processes\": []}");
	struct pk_strbuf out = { 0 };
	char err[256] = "";

	CHECK_EQ_INT(pk_trace_report_html(doc, NULL, &out, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a paths document") != NULL);
	CHECK_EQ_INT(pk_trace_report_html(empty, NULL, &out, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "without hops") != NULL);
	pk_strbuf_release(&out);
	cJSON_Delete(doc);
	cJSON_Delete(empty);
}

int main(void)
{
	UNIT_RUN(test_page);
	UNIT_RUN(test_cap);
	UNIT_RUN(test_bad_shape);
	return unit_done();
}
