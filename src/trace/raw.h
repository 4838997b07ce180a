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

#endif
