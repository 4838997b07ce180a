/* dump.h — draining a target's event rings into a format people open: text, JSON, Chrome
 * trace-event JSON, Perfetto's protobuf trace, folded stacks, or a per-function table of calls
 * and inclusive/exclusive time.  Streaming: events are read a chunk at a time and written at once
 * (the table and the folded stacks keep one counter per function or per distinct stack, never the
 * events). */
#ifndef PK_PROBE_DUMP_H
#define PK_PROBE_DUMP_H

#include <stdint.h>
#include <stdio.h>

#include "probe/probe.h"

/* The formats, one table: X(enum suffix, name, description). */
#define PK_DUMP_FORMATS(X)                                                                         \
	X(TEXT, "text", "one line per event, indented by call depth")                              \
	X(JSON, "json", "a JSON document with every event")                                        \
	X(CHROME, "chrome", "Chrome trace-event JSON (Perfetto UI, chrome://tracing)")             \
	X(PERFETTO, "perfetto", "Perfetto protobuf trace (ui.perfetto.dev, trace_processor)")      \
	X(FOLDED, "folded", "folded stacks weighted by exclusive ns (flamegraph.pl)")              \
	X(TABLE, "table",                                                                          \
	  "per function: calls, sampling rate, estimated calls, inclusive and "                    \
	  "exclusive time; drops")

enum pk_dump_format {
#define PK_DUMP_ENUM(e, name, help) PK_DUMP_##e,
	PK_DUMP_FORMATS(PK_DUMP_ENUM)
#undef PK_DUMP_ENUM
		PK_DUMP_NFORMATS
};

/* The format named name; -EINVAL when there is none. */
int pk_dump_format_parse(const char *name);

/* The name of format f. */
const char *pk_dump_format_name(enum pk_dump_format f);

struct pk_dump_stats {
	uint64_t events;   /* probe events read */
	uint64_t drops;	   /* events the target dropped (rings full), as markers told */
	uint64_t no_ring;  /* events dropped because no ring was free */
	uint64_t threads;  /* rings with events */
	uint64_t bad;	   /* events with an unknown probe id (counted, skipped) */
	uint64_t counters; /* fperf counter events read */
	uint64_t samples;  /* sampling-rate markers read */
};

/* One function's row of the table.  Counter i's totals cover the ctr_calls[i] calls that had
 * it read at both their entry and their exit. */
struct pk_dump_func {
	char name[sizeof(((struct pk_iprobe_probe *)0)->name)]; /* "" when unused */
	uint64_t calls;						/* counted at entry */
	uint64_t est_calls; /* calls x 2^(sampling log2 each was recorded at) */
	uint64_t incl_ns, excl_ns;
	uint64_t ctr_calls[PK_IPROBE_FPERF_MAX];
	uint64_t ctr_incl[PK_IPROBE_FPERF_MAX];
	uint64_t ctr_excl[PK_IPROBE_FPERF_MAX]; /* minus the callees' (probed ones) */
};

/* The table, as data: one row per registry entry (index = probe id). */
struct pk_dump_table {
	struct pk_dump_func *funcs; /* owned: pk_dump_table_release */
	uint32_t nfuncs;
	uint32_t nctr;				    /* fperf counters, in the segment's order */
	const char *ctr_names[PK_IPROBE_FPERF_MAX]; /* static strings */
	struct pk_dump_saved *saved; /* per ring: calls still open at the last drain */
	uint32_t nsaved;
};

/* Drains every ring of the attached target t into out in format fmt (the events are consumed).
 * 0 or -errno with a reason (a write error). */
int pk_probe_dump(struct pk_probe_target *t, enum pk_dump_format fmt, FILE *out,
		  struct pk_dump_stats *st, char *err, size_t errlen);

/* Drains every ring of t into out as text, like pk_probe_dump, keeping each thread's open calls
 * in state (zeroed before the first call; pk_dump_table_release) so that repeated calls print
 * one continuous stream, indented right across drains (`probe dump --follow`).  0 or -errno
 * with a reason. */
int pk_probe_dump_text_next(struct pk_probe_target *t, FILE *out, struct pk_dump_stats *st,
			    struct pk_dump_table *state, char *err, size_t errlen);

/* Drains every ring of t like pk_probe_dump, writing nothing, and adds what it read to tb
 * (zeroed before the first drain; the caller releases it).  Each thread's open calls are kept
 * in tb from one drain to the next, so a call whose entry and exit fall in two drains is
 * timed and counted as any other.  0 or -errno with a reason. */
int pk_probe_dump_table(struct pk_probe_target *t, struct pk_dump_table *tb,
			struct pk_dump_stats *st, char *err, size_t errlen);

/* Frees what tb holds. */
void pk_dump_table_release(struct pk_dump_table *tb);

#endif
