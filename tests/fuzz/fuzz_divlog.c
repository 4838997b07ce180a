/* fuzz_divlog.c — libFuzzer target: any bytes, as the compare log `parikshan diverge` reads (one
 * JSON object per line, written by `dup --compare --compare-log`): each line through
 * pk_divlog_parse_line(), the records into a small table (pk_divlog_table_*, 8 rows, later rows
 * kept, so that the bound is reached).
 *
 * Besides the sanitizers' checks, it asserts the promises: a line is a record (0) or refused
 * (-EINVAL with a reason); a record's strings are printable ASCII within their fields, its
 * numbers in range, and written back as JSON it reads back the same (a fixpoint); the table
 * keeps at most its bound, its firsts are one per (target, conn) with the lowest request of the
 * rows kept, both lists in time order, and the counts add up.  Built with clang by `make fuzz`,
 * and with gcc+ASan into test_fuzz_corpus.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diverge/divlog.h"

#define FUZZ_TARGET "fuzz_divlog"
#include "fuzz.h"

#define FUZZ_MAX_ROWS 8

static void check_string(const char *s, size_t cap, const char *what)
{
	size_t n = strnlen(s, cap);

	require(n < cap, what);
	for (size_t i = 0; i < n; i++)
		require(s[i] >= 0x20 && s[i] <= 0x7e, what);
}

static void check_row(const struct pk_divlog_row *r)
{
	check_string(r->target, sizeof(r->target), "target: printable, in its field");
	check_string(r->reason, sizeof(r->reason), "reason: printable, in its field");
	check_string(r->request_excerpt, sizeof(r->request_excerpt), "request_excerpt");
	check_string(r->production_excerpt, sizeof(r->production_excerpt), "production_excerpt");
	check_string(r->clone_excerpt, sizeof(r->clone_excerpt), "clone_excerpt");
	require(isfinite(r->time) && r->time >= 0, "time: finite, >= 0");
	require(r->verdict == PK_RCMP_DIFFERENT || r->verdict == PK_RCMP_NOISE ||
			r->verdict == PK_RCMP_LAG,
		"verdict: one of the three");
	require(r->part >= -1, "part: >= -1");
}

/* Adds a number as exact text (cJSON's own printer rounds past 15 digits). */
static void add_exact(cJSON *o, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_exact(cJSON *o, const char *key, const char *fmt, ...)
{
	char num[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(num, sizeof(num), fmt, ap);
	va_end(ap);
	cJSON_AddRawToObject(o, key, num);
}

/* The row written back as a log line, read again: the same row. */
static void check_fixpoint(const struct pk_divlog_row *r)
{
	struct pk_divlog_row again;
	cJSON *o = cJSON_CreateObject();
	char *text, why[256];

	if (!o)
		return;
	add_exact(o, "time", "%.17g", r->time);
	cJSON_AddStringToObject(o, "target", r->target);
	add_exact(o, "conn", "%llu", (unsigned long long)r->conn);
	add_exact(o, "request", "%llu", (unsigned long long)r->request);
	cJSON_AddStringToObject(o, "verdict", pk_rcmp_verdict_name(r->verdict));
	cJSON_AddStringToObject(o, "reason", r->reason);
	if (r->part < 0)
		cJSON_AddNullToObject(o, "part");
	else
		add_exact(o, "part", "%d", r->part);
	add_exact(o, "requests", "%llu", (unsigned long long)r->requests);
	cJSON_AddStringToObject(o, "request_excerpt", r->request_excerpt);
	cJSON_AddStringToObject(o, "production_excerpt", r->production_excerpt);
	cJSON_AddStringToObject(o, "clone_excerpt", r->clone_excerpt);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return;
	require(pk_divlog_parse_line(text, strlen(text), &again, why, sizeof(why)) == 0,
		"a record written back is read again");
	require(again.time == r->time && again.conn == r->conn && again.request == r->request &&
			again.requests == r->requests && again.verdict == r->verdict &&
			again.part == r->part,
		"a record written back has the same numbers");
	require(strcmp(again.target, r->target) == 0 && strcmp(again.reason, r->reason) == 0 &&
			strcmp(again.request_excerpt, r->request_excerpt) == 0 &&
			strcmp(again.production_excerpt, r->production_excerpt) == 0 &&
			strcmp(again.clone_excerpt, r->clone_excerpt) == 0,
		"a record written back has the same strings");
	free(text);
}

static bool same_conn(const struct pk_divlog_row *a, const struct pk_divlog_row *b)
{
	return a->conn == b->conn && strcmp(a->target, b->target) == 0;
}

static void check_sorted(const struct pk_divlog_row *rows, size_t n, const char *what)
{
	for (size_t i = 1; i < n; i++)
		require(rows[i - 1].time < rows[i].time ||
				(rows[i - 1].time == rows[i].time && rows[i - 1].seq < rows[i].seq),
			what);
}

static void check_table(struct pk_divlog_table *t, uint64_t records)
{
	const struct pk_divlog_summary *s = pk_divlog_table_summary(t);
	size_t nf, nl;
	const struct pk_divlog_row *f = pk_divlog_table_firsts(t, &nf);
	const struct pk_divlog_row *l = pk_divlog_table_later(t, &nl);
	uint64_t by_verdict = 0, by_target = s->other_targets.rows;

	require(s->rows == records, "summary: every record counted");
	for (int i = 0; i < PK_DIVLOG_NVERDICTS; i++)
		by_verdict += s->verdicts[pk_divlog_verdicts[i]];
	for (size_t i = 0; i < s->ntargets; i++)
		by_target += s->targets[i].rows;
	require(by_verdict == records && by_target == records, "summary: the counts add up");
	require(nf + nl <= FUZZ_MAX_ROWS, "table: at most its bound");
	require(nf + s->later + s->not_kept >= records && nf + s->later <= records,
		"table: every row a first, a later one or not kept");
	check_sorted(f, nf, "firsts in time order");
	check_sorted(l, nl, "later rows in time order");
	for (size_t i = 0; i < nf; i++)
		for (size_t j = i + 1; j < nf; j++)
			require(!same_conn(&f[i], &f[j]), "one first per (target, conn)");
	for (size_t i = 0; i < nl; i++) {
		bool found = false;

		for (size_t j = 0; j < nf && !found; j++)
			if (same_conn(&l[i], &f[j])) {
				found = true;
				require(f[j].request <= l[i].request,
					"a first has the lowest request of its connection");
			}
		require(found, "a later row's connection has its first");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pk_divlog_table *t = pk_divlog_table_new(FUZZ_MAX_ROWS, true);
	const char *p = (const char *)data, *end = p + size;
	struct pk_divlog_row row;
	uint64_t records = 0;
	char why[256];

	require(t != NULL, "a table");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		int rc = pk_divlog_parse_line(p, n, &row, why, sizeof(why));

		require(rc == 0 || rc == -EINVAL, "a record or -EINVAL");
		if (rc == 0) {
			check_row(&row);
			check_fixpoint(&row);
			require(pk_divlog_table_add(t, &row) == 0, "added");
			records++;
		} else {
			require(why[0] != '\0' && strlen(why) < sizeof(why) && !strchr(why, '\n'),
				"a refusal says why, on one line");
		}
		p += n;
	}
	check_table(t, records);
	pk_divlog_table_free(t);
	return 0;
}
