/* cmd_diverge.c — `parikshan diverge FILE`: the compare log of `dup --compare` as a table (or
 * JSON): the first divergence of each connection, then the later ones.  Reading a line and the
 * bounded table are src/diverge/divlog's; this file reads the file line by line, filters, and
 * prints. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "common/args.h"
#include "common/json.h"
#include "diverge/divlog.h"

#define DIV_WARN_LINES 3 /* bad lines named one by one; the rest only counted */
#define DIV_WIDTH 100	 /* the table fits this many columns unless --wide */
#define DIV_MAX_TARGET_COL 16
#define DIV_MAX_REASON_COL 16
#define DIV_MIN_EXCERPT_COL 10
#define DIV_DIFF_CONTEXT 1   /* bytes shown before production's and a clone's excerpts differ */
#define DIV_TIME_COL 12	     /* HH:MM:SS.mmm */
#define DIV_WIDE_TIME_COL 26 /* YYYY-MM-DD HH:MM:SS.uuuuuu */
#define DIV_MAX_TIME 253402300799.0 /* 9999-12-31 23:59:59 UTC */

/* The help text, around the line that shows --max-rows's limits (from their constants). */
static const char diverge_usage_head[] =
	"usage: parikshan diverge [--all] [--wide] [--json] [--verdict V]... [--target T]...\n"
	"                         [--max-rows N] FILE|-\n"
	"\n"
	"Show the compare log that 'dup --compare PROTO --compare-log FILE' writes (one JSON line\n"
	"per divergence) as a table: first the first divergence of each connection (per target\n"
	"and connection, the row of its lowest request), in time order; then how many later\n"
	"divergences those connections had (--all lists them, in time order).  Above the table,\n"
	"counts by verdict and by target.  Times are local (set TZ for another zone).\n"
	"\n"
	"  FILE|-           the log; - reads standard input.  A log still being written is read\n"
	"                   as far as it was when opened (an unfinished last line is skipped)\n"
	"  --all            also list every later divergence\n"
	"  --wide           full excerpts, targets and times (else cut to ~100 columns)\n"
	"  --json           one JSON object: the summary and the rows in the table's order\n"
	"  --verdict V      only divergences with verdict V (different, noise, lag); repeatable\n"
	"  --target T       only divergences of target T; repeatable\n";

static const char diverge_usage_tail[] =
	"                   are counted, not shown, and a note says so\n"
	"  --help           show this text\n"
	"\n"
	"A line that is not a divergence record (not JSON, a field missing) is skipped: the first\n"
	"few are named on stderr, then their count.  Exit status: 0 shown (also for an empty log:\n"
	"\"no divergences\"), 1 the file cannot be read or holds no valid record at all, 2 "
	"usage.\n";

static void usage(void)
{
	fputs(diverge_usage_head, stdout);
	printf("  --max-rows N     keep at most N rows (default %d, at most %d); past it rows\n",
	       PK_DIVLOG_DEFAULT_MAX_ROWS, PK_DIVLOG_MAX_MAX_ROWS);
	fputs(diverge_usage_tail, stdout);
}

enum {
	OPT_ALL = 256,
	OPT_WIDE,
	OPT_JSON,
	OPT_VERDICT,
	OPT_TARGET,
	OPT_MAX_ROWS,
	OPT_HELP,
};

static const struct option diverge_options[] = {
	{ "all", no_argument, NULL, OPT_ALL },
	{ "wide", no_argument, NULL, OPT_WIDE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verdict", required_argument, NULL, OPT_VERDICT },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "max-rows", required_argument, NULL, OPT_MAX_ROWS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct diverge_opts {
	bool all, wide, json;
	bool verdicts[PK_RCMP_VERDICTS]; /* --verdict given: only these */
	bool verdict_set;
	const char *targets[PK_DIVLOG_MAX_TARGETS];
	size_t ntargets;
	uint64_t max_rows;
	const char *file;
};

/* What reading the log found besides the rows. */
struct diverge_read {
	const char *name; /* as messages name the file */
	uint64_t records; /* valid lines, matching the filters or not */
	uint64_t skipped; /* lines that are not records */
	bool incomplete;  /* an unfinished last line was skipped */
};

/* Parses one option into o; returns -1 to go on, else the exit status. */
static int parse_opt(int c, struct diverge_opts *o, char **argv)
{
	int v, err;

	switch (c) {
	case OPT_ALL:
		o->all = true;
		return -1;
	case OPT_WIDE:
		o->wide = true;
		return -1;
	case OPT_JSON:
		o->json = true;
		return -1;
	case OPT_VERDICT:
		if ((v = pk_divlog_verdict_parse(optarg)) < 0)
			return pk_cli_fail(
				PK_EXIT_USAGE, "diverge",
				"--verdict '%s': not a verdict (different, noise or lag)", optarg);
		o->verdicts[v] = true;
		o->verdict_set = true;
		return -1;
	case OPT_TARGET:
		if (o->ntargets == PK_DIVLOG_MAX_TARGETS)
			return pk_cli_bad(
				"diverge", "--target",
				"given more than " PK_STR(PK_DIVLOG_MAX_TARGETS) " times");
		o->targets[o->ntargets++] = optarg;
		return -1;
	case OPT_MAX_ROWS:
		if ((err = pk_parse_uint(optarg, PK_DIVLOG_MAX_MAX_ROWS, &o->max_rows)) ||
		    o->max_rows == 0)
			return pk_cli_bad_value("diverge", "--max-rows", optarg,
						err ? err : -ERANGE);
		return -1;
	case OPT_HELP:
		usage();
		return PK_EXIT_OK;
	case ':':
		return pk_cli_bad("diverge", argv[optind - 1], "needs a value");
	default:
		return pk_cli_bad("diverge", argv[optind - 1],
				  "unknown option (see 'parikshan diverge --help')");
	}
}

static bool wanted(const struct diverge_opts *o, const struct pk_divlog_row *r)
{
	bool target_ok = o->ntargets == 0;

	for (size_t i = 0; i < o->ntargets && !target_ok; i++)
		target_ok = strcmp(o->targets[i], r->target) == 0;
	return target_ok && (!o->verdict_set || o->verdicts[r->verdict]);
}

/* The log, line by line: a regular file up to the size it had when opened (and the line that
 * size ends in), anything else to its end.  A line longer than PK_DIVLOG_LINE_MAX keeps its
 * first PK_DIVLOG_LINE_MAX + 1 bytes (enough for the parser to refuse it). */
struct line_reader {
	FILE *f;
	char *buf; /* PK_DIVLOG_LINE_MAX + 1 bytes */
	size_t len;
	bool eol;	/* the line ended in '\n' */
	long long left; /* bytes before the size at open; -1: no limit */
};

/* Reads the next line; false at the end of the log. */
static bool next_line(struct line_reader *r)
{
	int c;

	r->len = 0;
	r->eol = false;
	for (;;) {
		if (r->left == 0 && (r->len == 0 || r->len > PK_DIVLOG_LINE_MAX))
			return r->len > 0;
		c = getc_unlocked(r->f);
		if (c == EOF)
			return r->len > 0;
		if (r->left > 0)
			r->left--;
		if (c == '\n') {
			r->eol = true;
			return true;
		}
		if (r->len <= PK_DIVLOG_LINE_MAX)
			r->buf[r->len++] = (char)c;
	}
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Reads every line of r into t (those the filters keep); 0 or -errno (read error, ENOMEM). */
static int read_log(struct line_reader *r, const struct diverge_opts *o, struct diverge_read *rd,
		    struct pk_divlog_table *t)
{
	struct pk_divlog_row *row = malloc(sizeof(*row));
	unsigned long long lineno = 0;
	char why[160];
	int err = 0;

	if (!row)
		return -ENOMEM;
	while (!err && next_line(r)) {
		lineno++;
		if (blank(r->buf, r->len))
			continue;
		if (pk_divlog_parse_line(r->buf, r->len, row, why, sizeof(why)) < 0) {
			if (!r->eol) {
				rd->incomplete = true;
				pk_cli_error("diverge",
					     "%s:%llu: unfinished last line (still being "
					     "written?): skipped",
					     rd->name, lineno);
			} else if (++rd->skipped <= DIV_WARN_LINES) {
				pk_cli_error("diverge", "%s:%llu: %s", rd->name, lineno, why);
			}
			continue;
		}
		rd->records++;
		if (wanted(o, row))
			err = pk_divlog_table_add(t, row);
	}
	if (!err && ferror(r->f))
		err = -(errno ? errno : EIO);
	free(row);
	return err;
}

/* A time as the table shows it: local HH:MM:SS.mmm, or with --wide the date and microseconds;
 * past the year 9999, the number of seconds. */
static const char *fmt_time(double t, bool wide, char *buf, size_t len)
{
	double whole = floor(t);
	time_t secs;
	long frac;
	struct tm tm;
	char hms[64];

	if (!(t >= 0 && t < DIV_MAX_TIME)) {
		snprintf(buf, len, "%.6g", t);
		return buf;
	}
	secs = (time_t)whole;
	frac = lround((t - whole) * (wide ? 1e6 : 1e3));
	if (frac >= (wide ? 1000000 : 1000)) { /* rounded up to the next second */
		secs++;
		frac = 0;
	}
	if (!localtime_r(&secs, &tm) ||
	    !strftime(hms, sizeof(hms), wide ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm)) {
		snprintf(buf, len, "%.3f", t);
		return buf;
	}
	snprintf(buf, len, wide ? "%s.%06ld" : "%s.%03ld", hms, frac);
	return buf;
}

/* The reason column: the writer's reason, and for LAG how many requests were not compared. */
static const char *fmt_reason(const struct pk_divlog_row *r, char *buf, size_t len)
{
	if (r->verdict == PK_RCMP_LAG)
		snprintf(buf, len, "%s (%llu not compared)", r->reason,
			 (unsigned long long)r->requests);
	else
		snprintf(buf, len, "%s", r->reason[0] ? r->reason : "-");
	return buf;
}

/* How a cell too long for its column is cut. */
enum cut {
	CUT_END,   /* "abc..." */
	CUT_START, /* "...xyz": a target's port is what tells two apart */
	CUT_MID,   /* s starts inside a longer text: "...s" or "...s..." */
};

/* How many bytes of s to show in at most max: whole characters of the excerpts' escapes (\r,
 * \n, \t, \\, \xHH), never half of one. */
static int cut_len(const char *s, size_t max)
{
	size_t i = 0, len;

	for (; s[i]; i += len) {
		len = strnlen(s + i, s[i] != '\\' ? 1 : s[i + 1] == 'x' ? 4 : 2);
		if (i + len > max)
			break;
	}
	return (int)i;
}

/* s in a column of w (>= 7) characters, then a space unless last; "-" for "". */
static void put_cell(struct pk_strbuf *out, const char *s, size_t w, enum cut how, bool last)
{
	char cell[2 * PK_DIVLOG_EXCERPT_MAX];
	size_t n = strlen(s);

	if (!n)
		snprintf(cell, sizeof(cell), "-");
	else if (how == CUT_MID && n + 3 <= w)
		snprintf(cell, sizeof(cell), "...%s", s);
	else if (how == CUT_MID)
		snprintf(cell, sizeof(cell), "...%.*s...", cut_len(s, w - 6), s);
	else if (n <= w)
		snprintf(cell, sizeof(cell), "%s", s);
	else if (how == CUT_START)
		snprintf(cell, sizeof(cell), "...%s", s + n - (w - 3));
	else
		snprintf(cell, sizeof(cell), "%.*s...", cut_len(s, w - 3), s);
	if (last)
		pk_strbuf_printf(out, "%s", cell);
	else
		pk_strbuf_printf(out, "%-*s ", (int)w, cell);
}

enum {
	COL_TIME,
	COL_TARGET,
	COL_CONN,
	COL_REQ,
	COL_VERDICT,
	COL_REASON,
	COL_REQUEST,
	COL_PRODUCTION,
	COL_CLONE,
	NCOLS
};

static const char *const col_names[NCOLS] = {
	"TIME", "TARGET", "CONN", "REQ", "VERDICT", "REASON", "REQUEST", "PRODUCTION", "CLONE",
};

static size_t max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* Widens w[] to fit rows (each cell's full text). */
static void fit(size_t *w, const struct pk_divlog_row *rows, size_t n)
{
	char buf[PK_DIVLOG_REASON_MAX + 64];

	for (size_t i = 0; i < n; i++) {
		const struct pk_divlog_row *r = &rows[i];

		w[COL_TARGET] = max_sz(w[COL_TARGET], strlen(r->target));
		w[COL_CONN] = max_sz(w[COL_CONN], (size_t)snprintf(buf, sizeof(buf), "%llu",
								   (unsigned long long)r->conn));
		w[COL_REQ] = max_sz(w[COL_REQ], (size_t)snprintf(buf, sizeof(buf), "%llu",
								 (unsigned long long)r->request));
		w[COL_REASON] = max_sz(w[COL_REASON], strlen(fmt_reason(r, buf, sizeof(buf))));
		w[COL_REQUEST] = max_sz(w[COL_REQUEST], strlen(r->request_excerpt));
		w[COL_PRODUCTION] = max_sz(w[COL_PRODUCTION], strlen(r->production_excerpt));
		w[COL_CLONE] = max_sz(w[COL_CLONE], strlen(r->clone_excerpt));
	}
}

/* Column widths: what the cells need; without --wide, targets and reasons capped and the three
 * excerpts sharing what is left of DIV_WIDTH columns (at least DIV_MIN_EXCERPT_COL each): an
 * excerpt shorter than its share leaves the rest to the others. */
static void widths(size_t *w, bool wide, const struct pk_divlog_row *a, size_t na,
		   const struct pk_divlog_row *b, size_t nb)
{
	size_t used = 0, avail, left = NCOLS - COL_REQUEST;
	bool fixed[NCOLS] = { false }, changed = true;

	for (int c = 0; c < NCOLS; c++)
		w[c] = strlen(col_names[c]);
	w[COL_TIME] = wide ? DIV_WIDE_TIME_COL : DIV_TIME_COL;
	w[COL_VERDICT] = strlen("different");
	fit(w, a, na);
	fit(w, b, nb);
	if (wide)
		return;
	w[COL_TARGET] = w[COL_TARGET] > DIV_MAX_TARGET_COL ? DIV_MAX_TARGET_COL : w[COL_TARGET];
	w[COL_REASON] = w[COL_REASON] > DIV_MAX_REASON_COL ? DIV_MAX_REASON_COL : w[COL_REASON];
	for (int c = 0; c < NCOLS; c++)
		used += c < COL_REQUEST ? w[c] + 1 : 0;
	used += NCOLS - COL_REQUEST - 1; /* the spaces between the excerpts */
	avail = used + left * DIV_MIN_EXCERPT_COL < DIV_WIDTH ? DIV_WIDTH - used
							      : left * DIV_MIN_EXCERPT_COL;
	while (changed && left) {
		changed = false;
		for (int c = COL_REQUEST; c < NCOLS; c++)
			if (!fixed[c] && w[c] <= avail / left) {
				fixed[c] = changed = true;
				avail -= w[c];
				left--;
			}
	}
	for (int c = COL_REQUEST; c < NCOLS; c++)
		if (!fixed[c])
			w[c] = avail / left;
}

static void render_header(const size_t *w, struct pk_strbuf *out)
{
	for (int c = 0; c < NCOLS; c++)
		put_cell(out, col_names[c], w[c], CUT_END, c == NCOLS - 1);
	pk_strbuf_printf(out, "\n");
}

/* Where the production and clone cells start: when the two excerpts agree further than their
 * cells show, a few bytes before they differ (so that the cells show the difference). */
static size_t diff_start(const struct pk_divlog_row *r, const size_t *w, bool wide)
{
	const char *p = r->production_excerpt, *c = r->clone_excerpt;
	size_t same = 0, cell = w[COL_PRODUCTION] < w[COL_CLONE] ? w[COL_PRODUCTION] : w[COL_CLONE];

	while (p[same] && p[same] == c[same])
		same++;
	if (wide || same + DIV_DIFF_CONTEXT + 3 < cell || !p[same] || !c[same])
		return 0;
	return same - DIV_DIFF_CONTEXT;
}

static void render_rows(const size_t *w, bool wide, const struct pk_divlog_row *rows, size_t n,
			struct pk_strbuf *out)
{
	char buf[PK_DIVLOG_REASON_MAX + 64];
	size_t skip;

	for (size_t i = 0; i < n; i++) {
		const struct pk_divlog_row *r = &rows[i];

		put_cell(out, fmt_time(r->time, wide, buf, sizeof(buf)), w[COL_TIME], CUT_END,
			 false);
		put_cell(out, r->target, w[COL_TARGET], CUT_START, false);
		pk_strbuf_printf(out, "%*llu %*llu ", (int)w[COL_CONN], (unsigned long long)r->conn,
				 (int)w[COL_REQ], (unsigned long long)r->request);
		put_cell(out, pk_rcmp_verdict_name(r->verdict), w[COL_VERDICT], CUT_END, false);
		put_cell(out, fmt_reason(r, buf, sizeof(buf)), w[COL_REASON], CUT_END, false);
		put_cell(out, r->request_excerpt, w[COL_REQUEST], CUT_END, false);
		skip = diff_start(r, w, wide);
		put_cell(out, r->production_excerpt + skip, w[COL_PRODUCTION],
			 skip ? CUT_MID : CUT_END, false);
		put_cell(out, r->clone_excerpt + skip, w[COL_CLONE], skip ? CUT_MID : CUT_END,
			 true);
		pk_strbuf_printf(out, "\n");
	}
}

/* "N different, N noise, N lag" (the verdicts that occur). */
static void render_verdicts(const uint64_t *v, struct pk_strbuf *out)
{
	const char *sep = "";

	for (int i = 0; i < PK_DIVLOG_NVERDICTS; i++) {
		enum pk_rcmp_verdict k = pk_divlog_verdicts[i];

		if (v[k]) {
			pk_strbuf_printf(out, "%s%llu %s", sep, (unsigned long long)v[k],
					 pk_rcmp_verdict_name(k));
			sep = ", ";
		}
	}
}

static void render_summary(const struct diverge_opts *o, const struct diverge_read *rd,
			   const struct pk_divlog_summary *s, size_t nfirsts, struct pk_strbuf *out)
{
	char a[64], b[64];

	pk_strbuf_printf(out, "%llu divergence%s (", (unsigned long long)s->rows,
			 s->rows == 1 ? "" : "s");
	render_verdicts(s->verdicts, out);
	pk_strbuf_printf(out, ") on %s%zu connection%s; by target:", s->not_kept ? "at least " : "",
			 nfirsts, nfirsts == 1 ? "" : "s");
	for (size_t i = 0; i < s->ntargets; i++)
		pk_strbuf_printf(out, "%s %s %llu", i ? "," : "", s->targets[i].name,
				 (unsigned long long)s->targets[i].rows);
	if (s->other_targets.rows)
		pk_strbuf_printf(out, ", %llu more on other targets",
				 (unsigned long long)s->other_targets.rows);
	pk_strbuf_printf(out, "\n");
	pk_strbuf_printf(out, "from %s to %s", fmt_time(s->first_time, true, a, sizeof(a)),
			 fmt_time(s->last_time, true, b, sizeof(b)));
	if (o->verdict_set || o->ntargets)
		pk_strbuf_printf(out, "; %llu of the log's %llu match --verdict/--target",
				 (unsigned long long)s->rows, (unsigned long long)rd->records);
	pk_strbuf_printf(out, "\n");
}

static void render_text(const struct diverge_opts *o, const struct diverge_read *rd,
			struct pk_divlog_table *t, struct pk_strbuf *out)
{
	const struct pk_divlog_summary *s = pk_divlog_table_summary(t);
	size_t nf, nl, w[NCOLS];
	const struct pk_divlog_row *firsts = pk_divlog_table_firsts(t, &nf);
	const struct pk_divlog_row *later = pk_divlog_table_later(t, &nl);

	if (s->rows == 0) {
		if (rd->records)
			pk_strbuf_printf(out,
					 "no divergences match --verdict/--target (%llu in the "
					 "log)\n",
					 (unsigned long long)rd->records);
		else
			pk_strbuf_printf(out, "no divergences\n");
		return;
	}
	widths(w, o->wide, firsts, nf, later, nl);
	render_summary(o, rd, s, nf, out);
	pk_strbuf_printf(out, "\nfirst divergence of each connection, in time order:\n");
	render_header(w, out);
	render_rows(w, o->wide, firsts, nf, out);
	if (o->all && nl) {
		pk_strbuf_printf(out, "\nlater divergences on these connections, in time order:\n");
		render_header(w, out);
		render_rows(w, o->wide, later, nl, out);
	} else if (!o->all && s->later) {
		pk_strbuf_printf(out,
				 "\n%llu later divergence%s on these connections (--all "
				 "lists them)\n",
				 (unsigned long long)s->later, s->later == 1 ? "" : "s");
	}
	if (s->not_kept)
		pk_strbuf_printf(out,
				 "\nnote: %llu row%s not shown: at most %llu rows are kept "
				 "(--max-rows); the log's first are shown\n",
				 (unsigned long long)s->not_kept, s->not_kept == 1 ? "" : "s",
				 (unsigned long long)o->max_rows);
}

static cJSON *counts_json(const struct pk_divlog_target_count *tc, bool other)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (other)
		cJSON_AddNullToObject(o, "target");
	else
		cJSON_AddStringToObject(o, "target", tc->name);
	cJSON_AddNumberToObject(o, "divergences", (double)tc->rows);
	for (int i = 0; i < PK_DIVLOG_NVERDICTS; i++)
		cJSON_AddNumberToObject(o, pk_rcmp_verdict_name(pk_divlog_verdicts[i]),
					(double)tc->verdicts[pk_divlog_verdicts[i]]);
	return o;
}

static cJSON *summary_json(const struct diverge_opts *o, const struct diverge_read *rd,
			   const struct pk_divlog_summary *s, size_t nfirsts)
{
	cJSON *j = cJSON_CreateObject(), *v, *targets;

	if (!j)
		return NULL;
	cJSON_AddNumberToObject(j, "divergences", (double)s->rows);
	cJSON_AddNumberToObject(j, "connections", (double)nfirsts);
	v = cJSON_AddObjectToObject(j, "verdicts");
	targets = cJSON_AddArrayToObject(j, "targets");
	if (!v || !targets) {
		cJSON_Delete(j);
		return NULL;
	}
	for (int i = 0; i < PK_DIVLOG_NVERDICTS; i++)
		cJSON_AddNumberToObject(v, pk_rcmp_verdict_name(pk_divlog_verdicts[i]),
					(double)s->verdicts[pk_divlog_verdicts[i]]);
	for (size_t i = 0; i < s->ntargets; i++)
		cJSON_AddItemToArray(targets, counts_json(&s->targets[i], false));
	if (s->other_targets.rows)
		cJSON_AddItemToArray(targets, counts_json(&s->other_targets, true));
	cJSON_AddNumberToObject(j, "later", (double)s->later);
	cJSON_AddBoolToObject(j, "later_listed", o->all);
	cJSON_AddNumberToObject(j, "not_kept", (double)s->not_kept);
	cJSON_AddNumberToObject(j, "records", (double)rd->records);
	cJSON_AddNumberToObject(j, "skipped_lines", (double)rd->skipped);
	cJSON_AddBoolToObject(j, "unfinished_last_line", rd->incomplete);
	if (s->rows) {
		cJSON_AddNumberToObject(j, "first_time", s->first_time);
		cJSON_AddNumberToObject(j, "last_time", s->last_time);
	} else {
		cJSON_AddNullToObject(j, "first_time");
		cJSON_AddNullToObject(j, "last_time");
	}
	return j;
}

static cJSON *row_json(const struct pk_divlog_row *r, bool first)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddBoolToObject(o, "first", first);
	cJSON_AddNumberToObject(o, "time", r->time);
	cJSON_AddStringToObject(o, "target", r->target);
	cJSON_AddNumberToObject(o, "conn", (double)r->conn);
	cJSON_AddNumberToObject(o, "request", (double)r->request);
	cJSON_AddStringToObject(o, "verdict", pk_rcmp_verdict_name(r->verdict));
	cJSON_AddStringToObject(o, "reason", r->reason);
	if (r->part < 0)
		cJSON_AddNullToObject(o, "part");
	else
		cJSON_AddNumberToObject(o, "part", r->part);
	cJSON_AddNumberToObject(o, "requests", (double)r->requests);
	cJSON_AddStringToObject(o, "request_excerpt", r->request_excerpt);
	cJSON_AddStringToObject(o, "production_excerpt", r->production_excerpt);
	cJSON_AddStringToObject(o, "clone_excerpt", r->clone_excerpt);
	return o;
}

/* Adds rows to the array a; false when memory ran out. */
static bool add_rows(cJSON *a, const struct pk_divlog_row *rows, size_t n, bool first)
{
	for (size_t i = 0; i < n; i++) {
		cJSON *r = row_json(&rows[i], first);

		if (!r || !cJSON_AddItemToArray(a, r)) {
			cJSON_Delete(r);
			return false;
		}
	}
	return true;
}

static int render_json(const struct diverge_opts *o, const struct diverge_read *rd,
		       struct pk_divlog_table *t, struct pk_strbuf *out)
{
	size_t nf, nl;
	const struct pk_divlog_row *firsts = pk_divlog_table_firsts(t, &nf);
	const struct pk_divlog_row *later = pk_divlog_table_later(t, &nl);
	cJSON *root = cJSON_CreateObject();
	cJSON *sum = summary_json(o, rd, pk_divlog_table_summary(t), nf);
	cJSON *rows = cJSON_CreateArray();
	bool ok = root && sum && rows;
	int rc;

	if (ok) {
		cJSON_AddItemToObject(root, "summary", sum);
		cJSON_AddItemToObject(root, "rows", rows);
		sum = rows = NULL;
		ok = add_rows(cJSON_GetObjectItemCaseSensitive(root, "rows"), firsts, nf, true) &&
		     (!o->all ||
		      add_rows(cJSON_GetObjectItemCaseSensitive(root, "rows"), later, nl, false));
	}
	rc = pk_json_print(ok ? root : NULL, out);
	cJSON_Delete(root);
	cJSON_Delete(sum);
	cJSON_Delete(rows);
	return rc;
}

/* Opens the log; the reader's limit is a regular file's size now. */
static int open_log(const char *file, struct line_reader *r)
{
	struct stat st;

	r->left = -1;
	if (strcmp(file, "-") == 0) {
		r->f = stdin;
	} else if (!(r->f = fopen(file, "re"))) {
		return -errno;
	} else if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode)) {
		r->left = st.st_size;
	}
	return 0;
}

/* Reads, then shows; returns the exit status. */
static int show(const struct diverge_opts *o, struct line_reader *r, struct diverge_read *rd)
{
	struct pk_divlog_table *t = pk_divlog_table_new(o->max_rows, o->all);
	struct pk_strbuf out = { 0 };
	int err, rc = PK_EXIT_OK;

	if (!t)
		return pk_cli_fail(PK_EXIT_RUNTIME, "diverge", "%s", strerror(errno));
	if ((err = read_log(r, o, rd, t)) < 0) {
		rc = pk_cli_fail(PK_EXIT_RUNTIME, "diverge", "%s: %s", rd->name, strerror(-err));
		goto out;
	}
	if (rd->skipped && !rd->records) {
		rc = pk_cli_fail(PK_EXIT_RUNTIME, "diverge",
				 "%s: not a compare log: no divergence record in %llu line%s",
				 rd->name, (unsigned long long)rd->skipped,
				 rd->skipped == 1 ? "" : "s");
		goto out;
	}
	if (rd->skipped)
		pk_cli_error("diverge", "%s: %llu line%s skipped (not divergence records)",
			     rd->name, (unsigned long long)rd->skipped,
			     rd->skipped == 1 ? "" : "s");
	if (o->json)
		err = render_json(o, rd, t, &out);
	else
		render_text(o, rd, t, &out);
	if (err < 0 || !pk_strbuf_ok(&out))
		rc = pk_cli_fail(PK_EXIT_RUNTIME, "diverge", "%s", strerror(ENOMEM));
	else
		fputs(pk_strbuf_str(&out), stdout);
out:
	pk_strbuf_release(&out);
	pk_divlog_table_free(t);
	return rc;
}

int pk_cmd_diverge(int argc, char **argv)
{
	struct diverge_opts o = { .max_rows = PK_DIVLOG_DEFAULT_MAX_ROWS };
	struct line_reader r = { 0 };
	struct diverge_read rd = { 0 };
	int c, rc, err;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", diverge_options, NULL)) != -1)
		if ((rc = parse_opt(c, &o, argv)) >= 0)
			return rc;
	if (optind >= argc)
		return pk_cli_bad("diverge", "FILE", "required (- for standard input)");
	if (optind + 1 < argc)
		return pk_cli_bad("diverge", argv[optind + 1], "unexpected argument");
	o.file = argv[optind];
	rd.name = strcmp(o.file, "-") == 0 ? "stdin" : o.file;
	if ((err = open_log(o.file, &r)) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "diverge", "%s: %s", rd.name, strerror(-err));
	r.buf = malloc(PK_DIVLOG_LINE_MAX + 1);
	if (!r.buf)
		rc = pk_cli_fail(PK_EXIT_RUNTIME, "diverge", "%s", strerror(ENOMEM));
	else
		rc = show(&o, &r, &rd);
	free(r.buf);
	if (r.f != stdin)
		fclose(r.f);
	return rc;
}
