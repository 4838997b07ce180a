/* divlog.c — the compare log read back: one line into a row (cJSON), and the bounded table of
 * first and later divergences per connection.
 *
 * The table keeps its firsts in an array, found by (target, conn) through an open-addressing
 * index of array positions (XXH3 of the target, seeded with conn; linear probing, at most half
 * full since it has twice max_rows slots).  Sorting the firsts by time moves them, so the index
 * is rebuilt before the next add.
 */
#include "diverge/divlog.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/errbuf.h"
#include "common/text.h"

#define DIVLOG_MAX_INT 9007199254740992.0 /* 2^53: every integer below is exact in a double */
#define DIVLOG_NO_SLOT UINT32_MAX

const enum pk_rcmp_verdict pk_divlog_verdicts[PK_DIVLOG_NVERDICTS] = {
	PK_RCMP_DIFFERENT,
	PK_RCMP_NOISE,
	PK_RCMP_LAG,
};

int pk_divlog_verdict_parse(const char *s)
{
	for (int i = 0; i < PK_DIVLOG_NVERDICTS; i++)
		if (strcmp(s, pk_rcmp_verdict_name(pk_divlog_verdicts[i])) == 0)
			return pk_divlog_verdicts[i];
	return -EINVAL;
}

/* The string field key of o into dst (cap bytes); false when absent or not a string. */
static bool get_string(const cJSON *o, const char *key, char *dst, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(it) || !it->valuestring)
		return false;
	pk_text_printable(dst, cap, it->valuestring, strlen(it->valuestring), 0);
	return true;
}

/* The integer field key of o, min .. 2^53, into *v; false when absent or not such a number. */
static bool get_int(const cJSON *o, const char *key, double min, double *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(it))
		return false;
	*v = it->valuedouble;
	return isfinite(*v) && *v >= min && *v <= DIVLOG_MAX_INT && *v == floor(*v);
}

/* The fields of a record object o into out; 0 or -EINVAL with err. */
static int read_record(const cJSON *o, struct pk_divlog_row *out, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		size_t off;
		size_t cap;
	} strings[] = {
		{ "target", offsetof(struct pk_divlog_row, target), PK_DIVLOG_TARGET_MAX },
		{ "reason", offsetof(struct pk_divlog_row, reason), PK_DIVLOG_REASON_MAX },
		{ "request_excerpt", offsetof(struct pk_divlog_row, request_excerpt),
		  PK_DIVLOG_EXCERPT_MAX },
		{ "production_excerpt", offsetof(struct pk_divlog_row, production_excerpt),
		  PK_DIVLOG_EXCERPT_MAX },
		{ "clone_excerpt", offsetof(struct pk_divlog_row, clone_excerpt),
		  PK_DIVLOG_EXCERPT_MAX },
	};
	const cJSON *it;
	double v;
	int verdict;

	it = cJSON_GetObjectItemCaseSensitive(o, "time");
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0)
		return pk_errbuf_set(-EINVAL, err, errlen, "\"time\": not a number of seconds");
	out->time = it->valuedouble;
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (!get_string(o, strings[i].key, (char *)out + strings[i].off, strings[i].cap))
			return pk_errbuf_set(-EINVAL, err, errlen,
					     "\"%s\": missing or not a string", strings[i].key);
	if (!get_int(o, "conn", 0, &v))
		return pk_errbuf_set(-EINVAL, err, errlen, "\"conn\": missing or not a count");
	out->conn = (uint64_t)v;
	if (!get_int(o, "request", 0, &v))
		return pk_errbuf_set(-EINVAL, err, errlen, "\"request\": missing or not a count");
	out->request = (uint64_t)v;
	if (!get_int(o, "requests", 0, &v))
		return pk_errbuf_set(-EINVAL, err, errlen, "\"requests\": missing or not a count");
	out->requests = (uint64_t)v;
	it = cJSON_GetObjectItemCaseSensitive(o, "verdict");
	verdict = cJSON_IsString(it) && it->valuestring ? pk_divlog_verdict_parse(it->valuestring)
							: -EINVAL;
	if (verdict < 0)
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "\"verdict\": not \"different\", \"noise\" or \"lag\"");
	out->verdict = (enum pk_rcmp_verdict)verdict;
	it = cJSON_GetObjectItemCaseSensitive(o, "part");
	if (cJSON_IsNull(it))
		out->part = -1;
	else if (get_int(o, "part", -1, &v) && v <= PK_DIVLOG_LINE_MAX)
		out->part = (int)v;
	else
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "\"part\": missing, or not null or an index");
	out->seq = 0;
	return 0;
}

int pk_divlog_parse_line(const char *line, size_t n, struct pk_divlog_row *out, char *err,
			 size_t errlen)
{
	const char *end = NULL;
	cJSON *o;
	int rc;

	if (errlen)
		err[0] = '\0';
	if (n > PK_DIVLOG_LINE_MAX)
		return pk_errbuf_set(-EINVAL, err, errlen, "longer than %d bytes",
				     PK_DIVLOG_LINE_MAX);
	if (memchr(line, '\0', n))
		return pk_errbuf_set(-EINVAL, err, errlen, "a NUL byte: not text");
	o = cJSON_ParseWithLengthOpts(line, n, &end, false);
	if (!o)
		return pk_errbuf_set(-EINVAL, err, errlen, "not JSON");
	for (; end && end < line + n; end++)
		if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
			cJSON_Delete(o);
			return pk_errbuf_set(-EINVAL, err, errlen,
					     "not JSON (text after the object)");
		}
	if (!cJSON_IsObject(o))
		rc = pk_errbuf_set(-EINVAL, err, errlen, "not a JSON object");
	else
		rc = read_record(o, out, err, errlen);
	cJSON_Delete(o);
	return rc;
}

struct pk_divlog_table {
	size_t max_rows;
	bool keep_later;
	struct pk_divlog_row *firsts, *later;
	size_t nfirsts, nlater, cap_firsts, cap_later;
	uint32_t *index;  /* positions in firsts, DIVLOG_NO_SLOT when empty; nslots of them */
	size_t nslots;	  /* a power of two >= 2 * max_rows */
	bool index_stale; /* firsts moved (sorted) since the index was built */
	bool firsts_sorted, later_sorted;
	struct pk_divlog_summary sum;
};

struct pk_divlog_table *pk_divlog_table_new(size_t max_rows, bool keep_later)
{
	struct pk_divlog_table *t;

	if (max_rows < 1 || max_rows > PK_DIVLOG_MAX_MAX_ROWS) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max_rows = max_rows;
	t->keep_later = keep_later;
	for (t->nslots = 2; t->nslots < 2 * max_rows;)
		t->nslots *= 2;
	t->index = malloc(t->nslots * sizeof(*t->index));
	if (!t->index) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	memset(t->index, 0xff, t->nslots * sizeof(*t->index));
	return t;
}

void pk_divlog_table_free(struct pk_divlog_table *t)
{
	if (!t)
		return;
	free(t->firsts);
	free(t->later);
	free(t->index);
	free(t);
}

static size_t slot_of(const struct pk_divlog_table *t, const char *target, uint64_t conn)
{
	return (size_t)XXH3_64bits_withSeed(target, strlen(target), conn) & (t->nslots - 1);
}

/* The index slot of (target, conn): the one holding it, or the empty one where it would go. */
static size_t find_slot(const struct pk_divlog_table *t, const char *target, uint64_t conn)
{
	size_t s = slot_of(t, target, conn);

	while (t->index[s] != DIVLOG_NO_SLOT) {
		const struct pk_divlog_row *f = &t->firsts[t->index[s]];

		if (f->conn == conn && strcmp(f->target, target) == 0)
			break;
		s = (s + 1) & (t->nslots - 1);
	}
	return s;
}

static void rebuild_index(struct pk_divlog_table *t)
{
	memset(t->index, 0xff, t->nslots * sizeof(*t->index));
	for (size_t i = 0; i < t->nfirsts; i++)
		t->index[find_slot(t, t->firsts[i].target, t->firsts[i].conn)] = (uint32_t)i;
	t->index_stale = false;
}

/* Makes room for one more row in *rows (n used of *cap, never more than max); -ENOMEM. */
static int reserve(struct pk_divlog_row **rows, size_t n, size_t *cap, size_t max)
{
	struct pk_divlog_row *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 64;
	c = c > max ? max : c;
	p = realloc(*rows, c * sizeof(*p));
	if (!p)
		return -ENOMEM;
	*rows = p;
	*cap = c;
	return 0;
}

static bool room(const struct pk_divlog_table *t)
{
	return t->nfirsts + t->nlater < t->max_rows;
}

/* Keeps r as a later row (room reserved by the caller), or counts it as not kept. */
static void keep_later(struct pk_divlog_table *t, const struct pk_divlog_row *r)
{
	t->sum.later++;
	if (!t->keep_later)
		return;
	if (!room(t)) {
		t->sum.not_kept++;
		return;
	}
	t->later[t->nlater++] = *r;
	t->later_sorted = false;
}

/* Whether a should be its connection's first rather than b. */
static bool before(const struct pk_divlog_row *a, const struct pk_divlog_row *b)
{
	if (a->request != b->request)
		return a->request < b->request;
	if (a->time != b->time)
		return a->time < b->time;
	return a->seq < b->seq;
}

static void count(struct pk_divlog_summary *s, const struct pk_divlog_row *r)
{
	struct pk_divlog_target_count *tc = NULL;

	if (s->rows == 0 || r->time < s->first_time)
		s->first_time = r->time;
	if (s->rows == 0 || r->time > s->last_time)
		s->last_time = r->time;
	s->rows++;
	s->verdicts[r->verdict]++;
	for (size_t i = 0; i < s->ntargets && !tc; i++)
		if (strcmp(s->targets[i].name, r->target) == 0)
			tc = &s->targets[i];
	if (!tc && s->ntargets < PK_DIVLOG_MAX_TARGETS) {
		tc = &s->targets[s->ntargets++];
		memcpy(tc->name, r->target, sizeof(tc->name));
	}
	if (!tc)
		tc = &s->other_targets;
	tc->rows++;
	tc->verdicts[r->verdict]++;
}

int pk_divlog_table_add(struct pk_divlog_table *t, const struct pk_divlog_row *r)
{
	struct pk_divlog_row row = *r, added, old;
	size_t s;

	row.seq = t->sum.rows;
	row.verdict = (unsigned)row.verdict < PK_RCMP_VERDICTS ? row.verdict : PK_RCMP_LAG;
	row.target[sizeof(row.target) - 1] = '\0';
	added = row;
	if (t->index_stale)
		rebuild_index(t);
	s = find_slot(t, row.target, row.conn);
	if (t->index[s] != DIVLOG_NO_SLOT) {
		struct pk_divlog_row *f = &t->firsts[t->index[s]];

		/* room for the later row first, so that a failure changes nothing */
		if (t->keep_later && room(t) &&
		    reserve(&t->later, t->nlater, &t->cap_later, t->max_rows) < 0)
			return -ENOMEM;
		if (before(&row, f)) {
			old = *f;
			*f = row;
			t->firsts_sorted = false;
			row = old;
		}
		keep_later(t, &row);
	} else if (!room(t)) {
		t->sum.not_kept++;
	} else {
		if (reserve(&t->firsts, t->nfirsts, &t->cap_firsts, t->max_rows) < 0)
			return -ENOMEM;
		t->index[s] = (uint32_t)t->nfirsts;
		t->firsts[t->nfirsts++] = row;
		t->firsts_sorted = false;
	}
	count(&t->sum, &added);
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct pk_divlog_row *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

const struct pk_divlog_row *pk_divlog_table_firsts(struct pk_divlog_table *t, size_t *n)
{
	if (!t->firsts_sorted && t->nfirsts) {
		qsort(t->firsts, t->nfirsts, sizeof(*t->firsts), by_time);
		t->index_stale = true;
	}
	t->firsts_sorted = true;
	*n = t->nfirsts;
	return t->firsts;
}

const struct pk_divlog_row *pk_divlog_table_later(struct pk_divlog_table *t, size_t *n)
{
	if (!t->later_sorted && t->nlater)
		qsort(t->later, t->nlater, sizeof(*t->later), by_time);
	t->later_sorted = true;
	*n = t->nlater;
	return t->later;
}

const struct pk_divlog_summary *pk_divlog_table_summary(const struct pk_divlog_table *t)
{
	return &t->sum;
}
