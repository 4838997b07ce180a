/* raw.h — logd's raw log: every validated frame, as it arrived, after a small header naming
 * its connection; `parikshan trace expand` reads it back. */
#ifndef PK_TRACE_RAW_H
#define PK_TRACE_RAW_H

#include <stddef.h>
#include <stdint.h>

#include "parikshan/trace.h"

#define PK_TRACE_RAW_MAGIC 0x4c525450u /* "PTRL" little-endian */

/* Before each frame in the raw log. */
struct pk_trace_raw_hdr {
	uint32_t magic; /* PK_TRACE_RAW_MAGIC */
	uint32_t conn;	/* logd's number for the connection (1, 2, ...) */
};

/* Appends one frame (header f, its payload) of connection conn to fd.  0 or -errno. */
int pk_trace_raw_append(int fd, uint32_t conn, const struct pk_trace_frame *f, const void *payload,
			char *err, size_t errlen);

/* Calls cb for each hello (h set) or record (r set) of the raw log at path, in order, until cb
 * returns non-zero (returned).  0, or -EPROTO with the byte offset and the reason when the log
 * is corrupt or cut, or -errno. */
int pk_trace_raw_each(const char *path,
		      int (*cb)(void *arg, uint32_t conn, const struct pk_trace_hello *h,
				const struct pk_trace_rec *r),
		      void *arg, char *err, size_t errlen);

#define PK_TRACE_RAW_COMMIT_ROWS 10000 /* pk_trace_raw_load commits at least this often */

struct pk_trace_store;

/* What pk_trace_raw_load stored. */
struct pk_trace_raw_stats {
	uint64_t procs; /* hellos */
	uint64_t recs;	/* records */
};

/* Stores every hello and record of the raw log at path into s, as logd would have, committing
 * every PK_TRACE_RAW_COMMIT_ROWS rows and at the end (what came before a corrupt entry is
 * kept); *st counts them.  0, or -EPROTO (corrupt or cut log, a record before its hello) or
 * another -errno (the store's) with a reason. */
int pk_trace_raw_load(const char *path, struct pk_trace_store *s, struct pk_trace_raw_stats *st,
		      char *err, size_t errlen);

#endif
