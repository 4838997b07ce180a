/* store_int.h — what the two back ends of store.h (store_sqlite.c, store_pg.c) share. */
#ifndef PK_TRACE_STORE_INT_H
#define PK_TRACE_STORE_INT_H

#include "trace/store.h"

struct pk_trace_store_ops {
	void (*close)(struct pk_trace_store *s);
	int (*add_proc)(struct pk_trace_store *s, const struct pk_trace_hello *h, int64_t *proc,
			char *err, size_t errlen);
	int (*add_recs)(struct pk_trace_store *s, int64_t proc, const struct pk_trace_rec *r,
			size_t n, char *err, size_t errlen);
	int (*commit)(struct pk_trace_store *s, char *err, size_t errlen);
	int (*procs)(struct pk_trace_store *s, struct pk_trace_proc **procs, size_t *n, char *err,
		     size_t errlen);
	int (*each)(struct pk_trace_store *s,
		    int (*cb)(void *arg, int64_t proc, const struct pk_trace_rec *r), void *arg,
		    char *err, size_t errlen);
};

/* The head of every back end's store. */
struct pk_trace_store {
	const struct pk_trace_store_ops *ops;
};

/* Opens a SQLite store (store.h's contract). */
int pk_trace_store_sqlite_open(const char *db, bool create, struct pk_trace_store **out, char *err,
			       size_t errlen);

/* Opens a PostgreSQL store (store.h's contract). */
int pk_trace_store_pg_open(const char *conninfo, bool create, struct pk_trace_store **out,
			   char *err, size_t errlen);

/* Copies the NUL-padded field src (at most len bytes) into dst[len + 1] as printable ASCII
 * (other bytes become '?'), so that every database takes it as text. */
void pk_trace_store_text(char *dst, const char *src, size_t len);

#endif
