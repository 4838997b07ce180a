/* test_divlog.c — the compare log read back (src/diverge/divlog): valid lines into rows, every
 * kind of malformed line refused with its reason, strings made printable and cut, and the table:
 * firsts per (target, conn) by lowest request, later rows, time order, the bound, the counts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diverge/divlog.h"
#include "unit.h"

#define LINE_A                                                                                     \
	"{\"time\": 1764870000.25, \"target\": \"127.0.0.1:7001\", \"conn\": 3, \"request\": 2, "  \
	"\"verdict\": \"different\", \"reason\": \"body\", \"part\": 1, \"requests\": 1, "         \
	"\"request_excerpt\": \"GET /b HTTP/1.1\\\\r\\\\n\", \"production_excerpt\": "             \
	"\"HTTP/1.1 200 OK\", \"clone_excerpt\": \"HTTP/1.1 500 Oops\"}\n"

static struct pk_divlog_row row;
static char why[256];

static int parse(const char *line)
{
	return pk_divlog_parse_line(line, strlen(line), &row, why, sizeof(why));
}

/* A record with one field replaced: key's value becomes value (NULL: the key is left out). */
static int parse_with(const char *key, const char *value)
{
	static const char *const keys[] = {
		"time",		"target", "conn",     "request",	 "verdict",
		"reason",	"part",	  "requests", "request_excerpt", "production_excerpt",
		"clone_excerpt"
	};
	static const char *const values[] = { "1.5",	   "\"t\"", "1",    "0",
					      "\"noise\"", "\"r\"", "null", "1",
					      "\"q\"",	   "\"p\"", "\"c\"" };
	char line[4096];
	size_t o = 0;

	o += (size_t)snprintf(line + o, sizeof(line) - o, "{");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = strcmp(keys[i], key) == 0 ? value : values[i];

		if (v)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s\"%s\": %s",
					      o > 1 ? ", " : "", keys[i], v);
	}
	snprintf(line + o, sizeof(line) - o, "}");
	return parse(line);
}

static void test_valid_line(void)
{
	CHECK_EQ_INT(parse(LINE_A), 0);
	CHECK(row.time == 1764870000.25);
	CHECK_STR(row.target, "127.0.0.1:7001");
	CHECK_EQ_INT(row.conn, 3);
	CHECK_EQ_INT(row.request, 2);
	CHECK_EQ_INT(row.verdict, PK_RCMP_DIFFERENT);
	CHECK_STR(row.reason, "body");
	CHECK_EQ_INT(row.part, 1);
	CHECK_EQ_INT(row.requests, 1);
	CHECK_STR(row.request_excerpt, "GET /b HTTP/1.1\\r\\n"); /* the writer's escapes stay */
	CHECK_STR(row.production_excerpt, "HTTP/1.1 200 OK");
	CHECK_STR(row.clone_excerpt, "HTTP/1.1 500 Oops");
	/* without its newline, with \r\n, with blanks around, keys in another order, extra keys */
	CHECK_EQ_INT(pk_divlog_parse_line(LINE_A, strlen(LINE_A) - 1, &row, why, sizeof(why)), 0);
	CHECK_EQ_INT(parse("  {\"clone_excerpt\": \"\", \"production_excerpt\": \"\", "
			   "\"request_excerpt\": \"\", \"requests\": 12, \"part\": null, "
			   "\"reason\": \"desynced: buffer full\", \"verdict\": \"lag\", "
			   "\"request\": 0, \"conn\": 9007199254740992, \"target\": \"web\", "
			   "\"time\": 0, \"future\": [1, {\"x\": 2}]}  \r\n"),
		     0);
	CHECK_EQ_INT(row.verdict, PK_RCMP_LAG);
	CHECK_EQ_INT(row.part, -1);
	CHECK_EQ_INT(row.requests, 12);
	CHECK(row.conn == 9007199254740992ull);
	CHECK_STR(row.clone_excerpt, "");
	CHECK_EQ_INT(parse_with("verdict", "\"noise\""), 0);
	CHECK_EQ_INT(row.verdict, PK_RCMP_NOISE);
	CHECK_EQ_INT(parse_with("part", "-1"), 0);
	CHECK_EQ_INT(row.part, -1);
	CHECK_EQ_INT(parse_with("time", "1.7e9"), 0);
	CHECK(row.time == 1.7e9);
}

/* Each malformed variant is refused with a reason naming what is wrong. */
static void check_refused(int rc, const char *want)
{
	CHECK_EQ_INT(rc, -EINVAL);
	if (!strstr(why, want))
		printf("  reason '%s' lacks '%s'\n", why, want);
	CHECK(strstr(why, want) != NULL);
}

static void test_malformed_lines(void)
{
	static const char *const fields[] = {
		"time",		"target", "conn",     "request",	 "verdict",
		"reason",	"part",	  "requests", "request_excerpt", "production_excerpt",
		"clone_excerpt"
	};
	char nul[] = "{\"time\": 1}\0{}";

	check_refused(parse(""), "not JSON");
	check_refused(parse("\n"), "not JSON");
	check_refused(parse("not json"), "not JSON");
	check_refused(parse("{\"time\": 1"), "not JSON");
	check_refused(parse("{\"time\": 1, }"), "not JSON");
	check_refused(parse("[1, 2]"), "not a JSON object");
	check_refused(parse("\"text\""), "not a JSON object");
	check_refused(parse("null"), "not a JSON object");
	check_refused(parse("{}"), "\"time\"");
	check_refused(parse(LINE_A "{}"), "text after the object");
	check_refused(parse("{} x"), "text after the object");
	check_refused(pk_divlog_parse_line(nul, sizeof(nul) - 1, &row, why, sizeof(why)), "NUL");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		check_refused(parse_with(fields[i], NULL), fields[i]);
	check_refused(parse_with("time", "\"now\""), "\"time\"");
	check_refused(parse_with("time", "-1"), "\"time\"");
	check_refused(parse_with("time", "1e999"), "\"time\"");
	CHECK_EQ_INT(parse_with("target", "\"\""), 0); /* the writer's target when it has none */
	check_refused(parse_with("target", "7"), "\"target\"");
	check_refused(parse_with("conn", "-1"), "\"conn\"");
	check_refused(parse_with("conn", "1.5"), "\"conn\"");
	check_refused(parse_with("conn", "\"3\""), "\"conn\"");
	check_refused(parse_with("conn", "1e300"), "\"conn\"");
	check_refused(parse_with("conn", "9007199254740994"), "\"conn\"");
	check_refused(parse_with("request", "true"), "\"request\"");
	check_refused(parse_with("requests", "null"), "\"requests\"");
	check_refused(parse_with("verdict", "\"same\""), "\"verdict\"");
	check_refused(parse_with("verdict", "\"DIFFERENT\""), "\"verdict\"");
	check_refused(parse_with("verdict", "1"), "\"verdict\"");
	check_refused(parse_with("reason", "null"), "\"reason\"");
	check_refused(parse_with("part", "-2"), "\"part\"");
	check_refused(parse_with("part", "0.5"), "\"part\"");
	check_refused(parse_with("part", "\"body\""), "\"part\"");
	check_refused(parse_with("part", "1e12"), "\"part\"");
	check_refused(parse_with("clone_excerpt", "[\"x\"]"), "\"clone_excerpt\"");
	check_refused(parse_with("request_excerpt", "{}"), "\"request_excerpt\"");
}

static void test_long_line_refused(void)
{
	size_t n = PK_DIVLOG_LINE_MAX + 1;
	char *big = malloc(n);

	CHECK(big != NULL);
	if (!big)
		return;
	memset(big, ' ', n);
	CHECK_EQ_INT(pk_divlog_parse_line(big, n, &row, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "longer than") != NULL);
	CHECK_EQ_INT(pk_divlog_parse_line(big, n, &row, NULL, 0), -EINVAL); /* no err buffer */
	free(big);
}

/* Strings become printable ASCII; too long ones are cut with "...". */
static void test_strings_printable_and_cut(void)
{
	char line[8192], longer[1000];

	CHECK_EQ_INT(parse_with("clone_excerpt", "\"a\\u0001b\\n\\u00e9\\\\\""), 0);
	CHECK_STR(row.clone_excerpt, "a\\x01b\\x0a\\xc3\\xa9\\");
	CHECK_EQ_INT(parse_with("target", "\"w\\teb\xff\""), 0);
	CHECK_STR(row.target, "w\\x09eb\\xff");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	snprintf(line, sizeof(line), "\"%s\"", longer);
	CHECK_EQ_INT(parse_with("production_excerpt", line), 0);
	CHECK_EQ_INT(strlen(row.production_excerpt), PK_DIVLOG_EXCERPT_MAX - 1);
	CHECK(strcmp(row.production_excerpt + PK_DIVLOG_EXCERPT_MAX - 4, "...") == 0);
	CHECK_EQ_INT(parse_with("target", line), 0);
	CHECK_EQ_INT(strlen(row.target), PK_DIVLOG_TARGET_MAX - 1);
	/* an escape is never cut in two */
	memset(longer, 0, sizeof(longer));
	for (size_t i = 0; i + 6 < 600; i += 6)
		memcpy(longer + i, "\\u0001", 6);
	snprintf(line, sizeof(line), "\"%s\"", longer);
	CHECK_EQ_INT(parse_with("reason", line), 0);
	CHECK(strlen(row.reason) <= PK_DIVLOG_REASON_MAX - 1);
	CHECK(strcmp(row.reason + strlen(row.reason) - 3, "...") == 0);
	CHECK(strncmp(row.reason + strlen(row.reason) - 7, "\\x01...", 7) == 0);
}

static void test_verdict_names(void)
{
	for (int i = 0; i < PK_DIVLOG_NVERDICTS; i++)
		CHECK_EQ_INT(pk_divlog_verdict_parse(pk_rcmp_verdict_name(pk_divlog_verdicts[i])),
			     pk_divlog_verdicts[i]);
	CHECK_EQ_INT(pk_divlog_verdicts[0], PK_RCMP_DIFFERENT); /* the most serious first */
	CHECK_EQ_INT(pk_divlog_verdict_parse("noise"), PK_RCMP_NOISE);
	CHECK_EQ_INT(pk_divlog_verdict_parse("same"), -EINVAL);
	CHECK_EQ_INT(pk_divlog_verdict_parse(""), -EINVAL);
}

/* What the writer (pk_rcmp_report_json) writes, the reader reads back as it was. */
static void test_writer_round_trip(void)
{
	struct pk_rcmp_report r = { .conn = 1ull << 40,
				    .clone = 1,
				    .request = 17,
				    .verdict = PK_RCMP_LAG,
				    .reason = "desynced: buffer full",
				    .part = -1,
				    .requests = 12 };
	struct pk_strbuf line = { 0 };

	snprintf(r.request_excerpt, sizeof(r.request_excerpt), "GET / HTTP/1.1\\r\\n\"q\"");
	CHECK_EQ_INT(pk_rcmp_report_json(&r, "127.0.0.1:7001", 1796378400.123456, &line), 0);
	CHECK_EQ_INT(pk_divlog_parse_line(pk_strbuf_str(&line), line.len, &row, why, sizeof(why)),
		     0);
	CHECK(row.time == 1796378400.123456);
	CHECK_STR(row.target, "127.0.0.1:7001");
	CHECK(row.conn == 1ull << 40);
	CHECK_EQ_INT(row.request, 17);
	CHECK_EQ_INT(row.verdict, PK_RCMP_LAG);
	CHECK_STR(row.reason, "desynced: buffer full");
	CHECK_EQ_INT(row.part, -1);
	CHECK_EQ_INT(row.requests, 12);
	CHECK_STR(row.request_excerpt, "GET / HTTP/1.1\\r\\n\"q\"");
	CHECK_STR(row.clone_excerpt, "");
	pk_strbuf_release(&line);

	/* a part, another verdict, no target (the writer writes "") */
	r.verdict = PK_RCMP_DIFFERENT;
	r.part = 3;
	r.requests = 1;
	CHECK_EQ_INT(pk_rcmp_report_json(&r, NULL, 5, &line), 0);
	CHECK_EQ_INT(pk_divlog_parse_line(pk_strbuf_str(&line), line.len, &row, why, sizeof(why)),
		     0);
	CHECK_EQ_INT(row.verdict, PK_RCMP_DIFFERENT);
	CHECK_EQ_INT(row.part, 3);
	CHECK_STR(row.target, "");
	pk_strbuf_release(&line);
}

static struct pk_divlog_row mk(double time, const char *target, uint64_t conn, uint64_t request,
			       enum pk_rcmp_verdict v)
{
	struct pk_divlog_row r = { .time = time, .conn = conn, .request = request, .verdict = v };

	snprintf(r.target, sizeof(r.target), "%s", target);
	return r;
}

static void add(struct pk_divlog_table *t, struct pk_divlog_row r)
{
	CHECK_EQ_INT(pk_divlog_table_add(t, &r), 0);
}

/* Out-of-order rows of several connections: each connection's lowest request is its first,
 * firsts and later rows come out in time order. */
static void test_table_order(void)
{
	struct pk_divlog_table *t = pk_divlog_table_new(100, true);
	const struct pk_divlog_row *f, *l;
	const struct pk_divlog_summary *s;
	size_t nf, nl;

	CHECK(t != NULL);
	if (!t)
		return;
	add(t, mk(10, "a", 1, 5, PK_RCMP_DIFFERENT));
	add(t, mk(12, "a", 2, 0, PK_RCMP_NOISE));
	add(t, mk(11, "a", 1, 3, PK_RCMP_NOISE));     /* lower request: replaces the first */
	add(t, mk(9, "b", 1, 7, PK_RCMP_LAG));	      /* same conn, another target */
	add(t, mk(13, "a", 1, 3, PK_RCMP_DIFFERENT)); /* same request, later: not first */
	add(t, mk(8, "a", 1, 9, PK_RCMP_DIFFERENT));
	f = pk_divlog_table_firsts(t, &nf);
	CHECK_EQ_INT(nf, 3);
	if (nf == 3) {
		CHECK_STR(f[0].target, "b");
		CHECK(f[1].time == 11 && f[1].conn == 1 && f[1].request == 3);
		CHECK(f[2].time == 12 && f[2].conn == 2);
	}
	l = pk_divlog_table_later(t, &nl);
	CHECK_EQ_INT(nl, 3);
	if (nl == 3) {
		CHECK(l[0].time == 8 && l[1].time == 10 && l[2].time == 13);
		CHECK_EQ_INT(l[1].request, 5);
	}
	/* adding after the firsts were sorted still finds each connection */
	add(t, mk(14, "a", 2, 1, PK_RCMP_DIFFERENT));
	add(t, mk(7, "b", 1, 0, PK_RCMP_DIFFERENT));
	f = pk_divlog_table_firsts(t, &nf);
	CHECK_EQ_INT(nf, 3);
	if (nf == 3)
		CHECK(f[0].time == 7 && f[0].request == 0);
	pk_divlog_table_later(t, &nl);
	CHECK_EQ_INT(nl, 5);
	s = pk_divlog_table_summary(t);
	CHECK_EQ_INT(s->rows, 8);
	CHECK_EQ_INT(s->later, 5);
	CHECK_EQ_INT(s->not_kept, 0);
	CHECK_EQ_INT(s->verdicts[PK_RCMP_DIFFERENT], 5);
	CHECK_EQ_INT(s->verdicts[PK_RCMP_NOISE], 2);
	CHECK_EQ_INT(s->verdicts[PK_RCMP_LAG], 1);
	CHECK_EQ_INT(s->ntargets, 2);
	CHECK_STR(s->targets[0].name, "a");
	CHECK_EQ_INT(s->targets[0].rows, 6);
	CHECK_EQ_INT(s->targets[1].verdicts[PK_RCMP_LAG], 1);
	CHECK(s->first_time == 7 && s->last_time == 14);
	pk_divlog_table_free(t);
}

/* Without keep_later, later rows are only counted; ties keep the row added first. */
static void test_table_counts_only(void)
{
	struct pk_divlog_table *t = pk_divlog_table_new(10, false);
	const struct pk_divlog_row *f;
	size_t nf, nl;

	CHECK(t != NULL);
	if (!t)
		return;
	add(t, mk(5, "a", 1, 2, PK_RCMP_NOISE));
	add(t, mk(5, "a", 1, 2, PK_RCMP_DIFFERENT));
	add(t, mk(6, "a", 1, 1, PK_RCMP_LAG));
	f = pk_divlog_table_firsts(t, &nf);
	CHECK_EQ_INT(nf, 1);
	CHECK_EQ_INT(f[0].verdict, PK_RCMP_LAG);
	CHECK_EQ_INT(f[0].seq, 2);
	pk_divlog_table_later(t, &nl);
	CHECK_EQ_INT(nl, 0);
	CHECK_EQ_INT(pk_divlog_table_summary(t)->later, 2);
	pk_divlog_table_free(t);

	t = pk_divlog_table_new(10, false);
	CHECK(t != NULL);
	if (!t)
		return;
	add(t, mk(5, "a", 1, 2, PK_RCMP_NOISE));
	add(t, mk(5, "a", 1, 2, PK_RCMP_DIFFERENT));
	f = pk_divlog_table_firsts(t, &nf);
	CHECK_EQ_INT(f[0].verdict, PK_RCMP_NOISE);
	pk_divlog_table_free(t);
}

/* The bound: at most max_rows rows kept; the rest counted as not kept. */
static void test_table_bound(void)
{
	struct pk_divlog_table *t = pk_divlog_table_new(4, true);
	size_t nf, nl;

	CHECK(t != NULL);
	if (!t)
		return;
	for (int i = 0; i < 6; i++)
		add(t, mk(i, "a", (uint64_t)i, 0, PK_RCMP_DIFFERENT)); /* 4 kept, 2 not */
	add(t, mk(10, "a", 0, 1, PK_RCMP_DIFFERENT));		       /* later: no room */
	add(t, mk(11, "a", 5, 0, PK_RCMP_DIFFERENT));		       /* a connection not kept */
	pk_divlog_table_firsts(t, &nf);
	pk_divlog_table_later(t, &nl);
	CHECK_EQ_INT(nf, 4);
	CHECK_EQ_INT(nl, 0);
	CHECK_EQ_INT(pk_divlog_table_summary(t)->rows, 8);
	CHECK_EQ_INT(pk_divlog_table_summary(t)->not_kept, 4);
	pk_divlog_table_free(t);

	/* many connections: the index finds each again */
	t = pk_divlog_table_new(PK_DIVLOG_DEFAULT_MAX_ROWS, false);
	CHECK(t != NULL);
	if (!t)
		return;
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 5000; i++)
			add(t, mk(i, i % 2 ? "a" : "b", (uint64_t)i / 2, (uint64_t)(5 - round),
				  PK_RCMP_DIFFERENT));
	pk_divlog_table_firsts(t, &nf);
	CHECK_EQ_INT(nf, 5000);
	CHECK_EQ_INT(pk_divlog_table_summary(t)->later, 5000);
	pk_divlog_table_free(t);

	errno = 0;
	CHECK(pk_divlog_table_new(0, true) == NULL && errno == EINVAL);
	CHECK(pk_divlog_table_new(PK_DIVLOG_MAX_MAX_ROWS + 1, true) == NULL);
	pk_divlog_table_free(NULL);
}

/* Past PK_DIVLOG_MAX_TARGETS names, targets are counted together. */
static void test_many_targets(void)
{
	struct pk_divlog_table *t = pk_divlog_table_new(100, false);
	const struct pk_divlog_summary *s;
	char name[16];

	CHECK(t != NULL);
	if (!t)
		return;
	for (int i = 0; i < PK_DIVLOG_MAX_TARGETS + 3; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		add(t, mk(i, name, 1, 0, PK_RCMP_NOISE));
	}
	s = pk_divlog_table_summary(t);
	CHECK_EQ_INT(s->ntargets, PK_DIVLOG_MAX_TARGETS);
	CHECK_EQ_INT(s->other_targets.rows, 3);
	CHECK_EQ_INT(s->other_targets.verdicts[PK_RCMP_NOISE], 3);
	pk_divlog_table_free(t);
}

int main(void)
{
	UNIT_RUN(test_valid_line);
	UNIT_RUN(test_malformed_lines);
	UNIT_RUN(test_long_line_refused);
	UNIT_RUN(test_strings_printable_and_cut);
	UNIT_RUN(test_verdict_names);
	UNIT_RUN(test_writer_round_trip);
	UNIT_RUN(test_table_order);
	UNIT_RUN(test_table_counts_only);
	UNIT_RUN(test_table_bound);
	UNIT_RUN(test_many_targets);
	return unit_done();
}
