/* store.h — where `parikshan trace logd` keeps what the traced processes sent, and where
 * `trace analyze`, `paths` and `report` read it: a SQLite file (default) or a PostgreSQL
 * database (libpq), the same two tables in both:
 *
 *   procs(id, pid, ppid, flags, mono_ns, real_ns, dropped, exe, comm)   one row per hello
 *   events(proc, tid, ts, call, flags, fd, arg, ret, off,
 *          lfam, lport, laddr, pfam, pport, paddr, peek)                  one row per record
 *
 * (proc = procs.id: a pid may appear in several rows, after exec or pid reuse.)  A writer
 * batches rows into transactions; readers see committed rows only.
 */
#ifndef PK_TRACE_STORE_H
#define PK_TRACE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parikshan/trace.h"

struct pk_trace_store;

/* A process as the store knows it (a hello, with its row id). */
struct pk_trace_proc {
	int64_t id;
	int32_t pid, ppid;
	uint32_t flags;
	uint64_t mono_ns, real_ns, dropped;
	char exe[PK_TRACE_EXE_MAX];
	char comm[16];
};

/* Opens the store: the SQLite file db, or (db NULL) the PostgreSQL database at conninfo pg.
 * create: make the tables when missing (logd); otherwise they must exist (readers).  0 or
 * -errno with a reason ("database is down", "not a trace store", ...). */
int pk_trace_store_open(const char *db, const char *pg, bool create, struct pk_trace_store **out,
			char *err, size_t errlen);

/* Commits what is pending and releases s (NULL is fine). */
void pk_trace_store_close(struct pk_trace_store *s);

/* Adds a process from its hello; *proc = its row id.  0 or -errno with a reason. */
int pk_trace_store_add_proc(struct pk_trace_store *s, const struct pk_trace_hello *h, int64_t *proc,
			    char *err, size_t errlen);

/* Adds n records of process row proc (pending until the next commit).  0 or -errno with a
 * reason (-ENOSPC: the disk or the database is full). */
int pk_trace_store_add_recs(struct pk_trace_store *s, int64_t proc, const struct pk_trace_rec *r,
			    size_t n, char *err, size_t errlen);

/* Commits the pending rows.  0 or -errno with a reason. */
int pk_trace_store_commit(struct pk_trace_store *s, char *err, size_t errlen);

/* Reads every process row into a new array (*procs, *n; free() it).  0 or -errno. */
int pk_trace_store_procs(struct pk_trace_store *s, struct pk_trace_proc **procs, size_t *n,
			 char *err, size_t errlen);

/* Calls cb for every record, ordered by (proc, ts, insertion order), until cb returns
 * non-zero (returned).  The record is valid during the call only.  0 or -errno. */
int pk_trace_store_each(struct pk_trace_store *s,
			int (*cb)(void *arg, int64_t proc, const struct pk_trace_rec *r), void *arg,
			char *err, size_t errlen);

#endif
