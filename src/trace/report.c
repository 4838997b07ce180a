/* report.c — `trace report`: the paths document as one HTML page (see report.h). */
#include "trace/report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/errbuf.h"

#define MAX_DEPTH 12	/* hops indented deeper than this are drawn at this depth */
#define LABEL_EM 22	/* width of the timeline's label column */
#define DEPTH_EM 1.2	/* indentation per level */
#define MAX_SERVICES 64 /* services in the percentile table (the others are summed as "other") */

static const char style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}"
	"h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}"
	".src{color:#666;margin:0 0 12px}"
	"table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;"
	"text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
	".warn{background:#fff3cd;border:1px solid #e0c46c;padding:8px 12px;margin:12px 0}"
	"details.req{border-bottom:1px solid #ddd;padding:4px 0}"
	"details.req summary{cursor:pointer;font-variant-numeric:tabular-nums}"
	".dur{display:inline-block;width:7em;text-align:right;margin-right:1em}"
	".bad{color:#b00020}.ok{color:#1b7f3b}"
	".hop{display:flex;align-items:center;height:20px;margin:2px 0}"
	".lab{flex:none;box-sizing:border-box;width:" PK_STR(
		LABEL_EM) "em;overflow:hidden;white-space:nowrap;"
			  "text-overflow:ellipsis;font-size:12px}"
			  ".trk{flex:1;position:relative;height:14px;background:#f3f3f3}"
			  ".bar{position:absolute;top:0;height:14px;min-width:2px;background:#"
			  "0072b2}"
			  ".d1 .bar{background:#d55e00}.d2 .bar{background:#009e73}.d3 "
			  ".bar{background:#cc79a7}"
			  "code{font-size:12px}";

/* The value of a number member (0 when missing), also when it is a raw integer (paths_out.c
 * writes nanoseconds that way). */
static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsRaw(v) && v->valuestring) /* a 64-bit integer written as it is */
		return strtod(v->valuestring, NULL);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The value of a string member ("" when missing). */
static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

/* Appends the first line of a request as the page shows it (escaped, cut at 120 bytes). */
static void put_request(struct pk_strbuf *out, const char *req)
{
	char line[124];
	size_t n = strcspn(req, "\r\n");
	const char *esc = strstr(req, "\\r"); /* the JSON text escapes control bytes as \r */

	if (esc && (size_t)(esc - req) < n)
		n = (size_t)(esc - req);
	if (n > 120)
		n = 120;
	memcpy(line, req, n);
	line[n] = 0;
	pk_strbuf_xml(out, line);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile p (0..1] of the sorted v[0..n), n > 0. */
static double pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n + 0.999999);

	return v[k ? k - 1 : 0];
}

/* One service's latencies (ms), a growing array. */
struct service {
	const char *name;
	double *ms;
	size_t n, cap;
};

static int service_add(struct service *s, double ms)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		double *p = realloc(s->ms, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->ms = p;
		s->cap = cap;
	}
	s->ms[s->n++] = ms;
	return 0;
}

/* The services table: per process name, the latency percentiles of its hops. */
static int put_services(struct pk_strbuf *out, const cJSON *paths)
{
	struct service sv[MAX_SERVICES + 1] = { 0 };
	size_t nsv = 0;
	const cJSON *p, *h;
	int rc = 0;

	cJSON_ArrayForEach(p, paths)
	{
		cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(p, "hops"))
		{
			const char *name = str(h, "comm");
			size_t i;

			for (i = 0; i < nsv && strcmp(sv[i].name, name); i++)
				;
			if (i == nsv) {
				if (nsv == MAX_SERVICES)
					i = MAX_SERVICES; /* "other" */
				else
					sv[nsv++].name = name;
			}
			if (!rc)
				rc = service_add(&sv[i], num(h, "latency_ns") / 1e6);
		}
	}
	if (sv[MAX_SERVICES].n)
		sv[MAX_SERVICES].name = "other";
	pk_strbuf_printf(out,
			 "<h2>Services</h2><table><tr><th>service</th><th class=n>hops</th>"
			 "<th class=n>p50 ms</th><th class=n>p90 ms</th><th class=n>p99 ms</th>"
			 "<th class=n>max ms</th></tr>");
	for (size_t i = 0; i <= MAX_SERVICES && !rc; i++) {
		struct service *s = &sv[i];

		if (!s->n)
			continue;
		qsort(s->ms, s->n, sizeof(*s->ms), cmp_double);
		pk_strbuf_printf(out, "<tr class=svc><td>");
		pk_strbuf_xml(out, s->name);
		pk_strbuf_printf(
			out,
			"</td><td class=n>%zu</td><td class=n>%.3f</td><td class=n>%.3f</td>"
			"<td class=n>%.3f</td><td class=n>%.3f</td></tr>",
			s->n, pct(s->ms, s->n, 0.5), pct(s->ms, s->n, 0.9), pct(s->ms, s->n, 0.99),
			s->ms[s->n - 1]);
	}
	pk_strbuf_printf(out, "</table>");
	for (size_t i = 0; i <= MAX_SERVICES; i++)
		free(sv[i].ms);
	return rc;
}

static void put_processes(struct pk_strbuf *out, const cJSON *procs)
{
	const cJSON *p;

	pk_strbuf_printf(out, "<h2>Processes</h2><table><tr><th class=n>pid</th><th>name</th>"
			      "<th>executable</th><th class=n>clock offset ms</th>"
			      "<th class=n>bounds ms</th><th class=n>dropped</th></tr>");
	cJSON_ArrayForEach(p, procs)
	{
		pk_strbuf_printf(out, "<tr><td class=n>%.0f</td><td>", num(p, "pid"));
		pk_strbuf_xml(out, str(p, "comm"));
		pk_strbuf_printf(out, "</td><td><code>");
		pk_strbuf_xml(out, str(p, "exe"));
		pk_strbuf_printf(out,
				 "</code></td><td class=n>%.3f</td><td class=n>%.3f .. %.3f</td>"
				 "<td class=n>%.0f</td></tr>",
				 num(p, "clock_offset_ns") / 1e6, num(p, "offset_lo_ns") / 1e6,
				 num(p, "offset_hi_ns") / 1e6, num(p, "dropped"));
	}
	pk_strbuf_printf(out, "</table>");
}

/* One path: its summary line and its timeline. */
static void put_path(struct pk_strbuf *out, const cJSON *p, bool open)
{
	const cJSON *hops = cJSON_GetObjectItemCaseSensitive(p, "hops"), *h;
	const cJSON *root = cJSON_GetArrayItem(hops, 0);
	double t0 = num(root, "start_ns"), span = num(root, "end_ns") - t0;
	int nh = cJSON_GetArraySize(hops);
	int depth[256] = { 0 };
	bool complete = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "complete"));
	int i = 0;

	if (span <= 0)
		span = 1;
	pk_strbuf_printf(out, "<details class=req%s><summary><span class=dur>%.3f ms</span>",
			 open ? " open" : "", num(p, "duration_ns") / 1e6);
	put_request(out, str(root, "request"));
	pk_strbuf_printf(out, " &middot; %d hop%s &middot; <span class=%s>%s</span></summary>", nh,
			 nh == 1 ? "" : "s", complete ? "ok" : "bad",
			 complete ? "complete" : "incomplete");
	cJSON_ArrayForEach(h, hops)
	{
		int parent = (int)num(h, "parent"), d;
		double x = (num(h, "start_ns") - t0) / span * 100, w;

		w = (num(h, "end_ns") - num(h, "start_ns")) / span * 100;
		d = i < 256 ? (parent >= 0 && parent < i && parent < 256 ? depth[parent] + 1 : 0)
			    : 0;
		if (i < 256)
			depth[i] = d;
		if (d > MAX_DEPTH)
			d = MAX_DEPTH;
		x = x < 0 ? 0 : x > 100 ? 100 : x;
		w = w < 0 ? 0 : w > 100 - x ? 100 - x : w;
		pk_strbuf_printf(
			out, "<div class=\"hop d%d\"><div class=lab style=\"padding-left:%.1fem\">",
			d % 4, d * DEPTH_EM);
		pk_strbuf_xml(out, str(h, "comm"));
		pk_strbuf_printf(out, "[%.0f] ", num(h, "pid"));
		pk_strbuf_xml(out, str(h, "proto"));
		pk_strbuf_printf(out,
				 " %.3f ms</div><div class=trk><div class=bar "
				 "style=\"left:%.2f%%;width:%.2f%%\" title=\"",
				 num(h, "latency_ns") / 1e6, x, w);
		put_request(out, str(h, "request"));
		pk_strbuf_printf(out, " (");
		pk_strbuf_xml(out, str(h, "rule"));
		pk_strbuf_printf(out, ", %.2f)\"></div></div></div>", num(h, "confidence"));
		i++;
	}
	pk_strbuf_printf(out, "</details>");
}

int pk_trace_report_html(const cJSON *doc, const struct pk_trace_report_opts *o,
			 struct pk_strbuf *out, char *err, size_t errlen)
{
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");
	const cJSON *procs = cJSON_GetObjectItemCaseSensitive(doc, "processes");
	const cJSON *untr = cJSON_GetObjectItemCaseSensitive(doc, "untraceable"), *p;
	size_t max = o && o->max_paths ? o->max_paths : PK_TRACE_REPORT_MAX_PATHS, shown = 0;
	const char *title = o && o->title ? o->title : "Parikshan request paths";
	int n, complete = 0;

	if (!cJSON_IsArray(paths) || !cJSON_IsArray(procs))
		return pk_errbuf_set(
			-EINVAL, err, errlen,
			"not a paths document (no \"paths\" and \"processes\" arrays)");
	n = cJSON_GetArraySize(paths);
	cJSON_ArrayForEach(p, paths)
	{
		if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(p, "hops")) ||
		    !cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "hops")))
			return pk_errbuf_set(-EINVAL, err, errlen, "a path without hops");
		complete += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "complete"));
	}
	pk_strbuf_printf(out, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>");
	pk_strbuf_xml(out, title);
	pk_strbuf_printf(out, "</title><style>%s</style></head>\n<body data-requests=%d><h1>",
			 style, n);
	pk_strbuf_xml(out, title);
	pk_strbuf_printf(out, "</h1>");
	if (o && o->source) {
		pk_strbuf_printf(out, "<p class=src>");
		pk_strbuf_xml(out, o->source);
		pk_strbuf_printf(out, "</p>");
	}
	pk_strbuf_printf(out,
			 "<p class=summary><b id=requests>%d</b> requests, <b id=complete>%d</b> "
			 "complete, %d processes, <b id=dropped>%.0f</b> records dropped</p>",
			 n, complete, cJSON_GetArraySize(procs), num(doc, "dropped"));
	if (cJSON_GetArraySize(untr) > 0) {
		pk_strbuf_printf(out,
				 "<div class=warn id=untraceable>Not traced (statically linked: "
				 "the library cannot see their calls):<ul>");
		cJSON_ArrayForEach(p, untr)
		{
			pk_strbuf_printf(out, "<li><code>");
			pk_strbuf_xml(out, str(p, "path"));
			pk_strbuf_printf(out, "</code> (run by pid %.0f)</li>", num(p, "pid"));
		}
		pk_strbuf_printf(out, "</ul></div>");
	}
	if (put_services(out, paths))
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	put_processes(out, procs);
	pk_strbuf_printf(out, "<h2>Requests, slowest first</h2>");
	if ((size_t)n > max)
		pk_strbuf_printf(out, "<p>the %zu slowest of %d</p>", max, n);
	cJSON_ArrayForEach(p, paths)
	{
		if (shown == max)
			break;
		put_path(out, p, shown < 10);
		shown++;
	}
	pk_strbuf_printf(out, "</body></html>\n");
	return pk_strbuf_ok(out) ? 0 : pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
}
