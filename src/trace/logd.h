/* logd.h — `parikshan trace logd`: collects the frames of every traced process on a Unix
 * stream socket and writes them to the store (and, when asked, to a raw log), or only to the
 * raw log (no store: the cheapest way to record; `trace load` stores the log afterwards). */
#ifndef PK_TRACE_LOGD_H
#define PK_TRACE_LOGD_H

#include <stddef.h>
#include <stdint.h>

#define PK_TRACE_LOGD_COMMIT_MS 100	/* commit at least this often */
#define PK_TRACE_LOGD_COMMIT_ROWS 10000 /* or when this many rows are pending */

struct pk_trace_logd_opts {
	const char *sock; /* the socket's path */
	const char *db;	  /* SQLite file; NULL with pg set, or with neither: raw log only */
	const char *pg;	  /* PostgreSQL conninfo */
	const char *raw;  /* raw log path; required when neither db nor pg is set */
};

struct pk_trace_logd_stats {
	uint64_t procs;	  /* hellos */
	uint64_t recs;	  /* records stored (or logged, with no store) */
	uint64_t dropped; /* records the processes reported lost (hellos + DROPS records) */
	uint64_t bad;	  /* connections dropped for bad input */
};

/* Runs logd until SIGINT or SIGTERM (blocked in the caller's thread and taken through a
 * signalfd), then commits.  0, or -errno with a reason (socket, store, raw log); st is filled
 * either way.  A bad connection is logged (one line) and closed, never fatal. */
int pk_trace_logd_run(const struct pk_trace_logd_opts *o, struct pk_trace_logd_stats *st, char *err,
		      size_t errlen);

#endif
