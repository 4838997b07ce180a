/* divlog.h — reading the compare log that `dup --compare PROTO --compare-log FILE` writes: one
 * JSON object per line per divergence (the format is pk_rcmp_report_json()'s, reqcmp.h).
 *
 *   line ──pk_divlog_parse_line──► row ──pk_divlog_table_add──► table
 *                                                                ├─ firsts: per (target, conn)
 *                                                                │  its lowest-request row
 *                                                                ├─ later: every other row
 *                                                                └─ summary: counts of all rows
 *
 * The table holds at most max_rows rows (firsts and later together); a row past the bound is
 * counted, not kept.  Every string of a row is printable ASCII (bytes outside 0x20-0x7e are
 * written \xHH), so that a row can go to a terminal whatever the log held.
 * Prints nothing.
 */
#ifndef PK_DIVERGE_DIVLOG_H
#define PK_DIVERGE_DIVLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diverge/reqcmp.h"

#define PK_DIVLOG_LINE_MAX 65536 /* bytes of one log line; a longer line is not a record */
#define PK_DIVLOG_TARGET_MAX 128 /* bytes kept of a string field, NUL included; past it "..." */
#define PK_DIVLOG_REASON_MAX 128
#define PK_DIVLOG_EXCERPT_MAX (4 * PK_RCMP_EXCERPT + 1) /* as the writer's */
#define PK_DIVLOG_MAX_TARGETS 32 /* targets counted by name; the others as one */
#define PK_DIVLOG_DEFAULT_MAX_ROWS 10000
#define PK_DIVLOG_MAX_MAX_ROWS 100000 /* ~1.1 KB a row: at most ~110 MB */

/* The verdicts a log line can hold (SAME is never logged), most serious first: the order in which
 * counts are shown. */
#define PK_DIVLOG_NVERDICTS 3
extern const enum pk_rcmp_verdict pk_divlog_verdicts[PK_DIVLOG_NVERDICTS];

/* One divergence: one line of the log. */
struct pk_divlog_row {
	double time; /* Unix seconds of the verdict */
	uint64_t conn;
	uint64_t request;	      /* index of the request on the connection */
	uint64_t requests;	      /* LAG: requests not compared so far; else 1 */
	enum pk_rcmp_verdict verdict; /* NOISE, DIFFERENT or LAG */
	int part;		      /* the differing part that decided it; -1 for none (null) */
	uint64_t seq; /* the row's place among the rows added (pk_divlog_table_add sets it) */
	char target[PK_DIVLOG_TARGET_MAX];
	char reason[PK_DIVLOG_REASON_MAX];
	char request_excerpt[PK_DIVLOG_EXCERPT_MAX];
	char production_excerpt[PK_DIVLOG_EXCERPT_MAX];
	char clone_excerpt[PK_DIVLOG_EXCERPT_MAX];
};

/* Returns the verdict named s (pk_rcmp_verdict_name's "different", "noise" or "lag"; not
 * "same", which a log never holds), or -EINVAL. */
int pk_divlog_verdict_parse(const char *s);

/* Parses one log line, line[0..n) (any bytes; a trailing "\n" or "\r\n" is allowed), into *out.
 * A record is one JSON object with every field of the format: time (a finite number >= 0),
 * target (a string), conn, request and requests (integers 0 .. 2^53), verdict
 * ("different", "noise" or "lag"), reason (a string), part (an integer >= -1, or null), and
 * the three excerpts (strings); other keys are ignored.  Strings longer than their field are
 * cut, ending "...".  Returns 0, or -EINVAL with why in err (one line, no file or line number:
 * "not JSON", "no \"conn\"", ...) when line is not such a record; *out is then undefined. */
int pk_divlog_parse_line(const char *line, size_t n, struct pk_divlog_row *out, char *err,
			 size_t errlen) __attribute__((warn_unused_result));

/* Counts of one target's rows by verdict. */
struct pk_divlog_target_count {
	char name[PK_DIVLOG_TARGET_MAX]; /* "" for the targets past PK_DIVLOG_MAX_TARGETS */
	uint64_t rows;
	uint64_t verdicts[PK_RCMP_VERDICTS]; /* by enum pk_rcmp_verdict; SAME stays 0 */
};

/* What the table saw: every row added, kept or not. */
struct pk_divlog_summary {
	uint64_t rows;
	uint64_t verdicts[PK_RCMP_VERDICTS]; /* by enum pk_rcmp_verdict; SAME stays 0 */
	struct pk_divlog_target_count targets[PK_DIVLOG_MAX_TARGETS]; /* in order of appearance */
	size_t ntargets;
	struct pk_divlog_target_count other_targets; /* the targets past the first 32 */
	uint64_t later;	   /* rows that are not their connection's first (kept or not) */
	uint64_t not_kept; /* rows past max_rows: firsts of connections first seen then, and (with
			    * keep_later) later rows */
	double first_time, last_time; /* of all rows; 0 when none */
};

struct pk_divlog_table;

/* Starts an empty table of at most max_rows rows (1 .. PK_DIVLOG_MAX_MAX_ROWS); later rows are
 * kept only when keep_later (else only counted).  NULL with errno set (EINVAL, ENOMEM). */
struct pk_divlog_table *pk_divlog_table_new(size_t max_rows, bool keep_later);

/* Frees t; NULL is ignored. */
void pk_divlog_table_free(struct pk_divlog_table *t);

/* Adds a copy of r (its seq is set to the number of rows added before it).  r becomes the first
 * of its (target, conn) when it has the lowest request (on a tie, the earliest time, then the
 * earliest added); the first it replaces becomes a later row.  0, or -ENOMEM (r not added). */
int pk_divlog_table_add(struct pk_divlog_table *t, const struct pk_divlog_row *r)
	__attribute__((warn_unused_result));

/* The firsts, ordered by time (then as added), in *n rows.  Valid until the next add or free;
 * calling it sorts. */
const struct pk_divlog_row *pk_divlog_table_firsts(struct pk_divlog_table *t, size_t *n);

/* The later rows kept, ordered by time (then as added); as pk_divlog_table_firsts. */
const struct pk_divlog_row *pk_divlog_table_later(struct pk_divlog_table *t, size_t *n);

/* The counts so far. */
const struct pk_divlog_summary *pk_divlog_table_summary(const struct pk_divlog_table *t);

#endif
