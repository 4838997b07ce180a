/* storeq.h — logd's store behind a queue: the frames logd receives are queued in memory and
 * written to the store (store.h) by a thread of their own at idle CPU priority (SCHED_IDLE), so
 * that on a busy machine the database work waits for idle cores instead of taking them from
 * the traced service.  When the queue holds its cap, the writer is raised to normal priority and
 * the caller waits for room (the traced processes' rings then fill and count drops, as with a
 * slow store).  Rows are committed when PK_TRACE_LOGD_COMMIT_ROWS are pending or the queue has
 * been empty for PK_TRACE_LOGD_COMMIT_MS.
 *
 * One caller thread (logd's loop) calls everything here; the writer is the only user of the
 * store from start to finish.
 */
#ifndef PK_TRACE_STOREQ_H
#define PK_TRACE_STOREQ_H

#include <stddef.h>
#include <stdint.h>

#include "parikshan/trace.h"
#include "trace/store.h"

#define PK_TRACE_STOREQ_CAP (256u << 20) /* bytes of frames queued at most */

struct pk_trace_storeq;

/* Starts the writer of store s (owned by the queue from now on, closed by finish), with at
 * most cap bytes queued (0: PK_TRACE_STOREQ_CAP).  0 or -errno with a reason. */
int pk_trace_storeq_start(struct pk_trace_store *s, size_t cap, struct pk_trace_storeq **out,
			  char *err, size_t errlen);

/* A descriptor that becomes readable when the writer has failed (for the caller's loop). */
int pk_trace_storeq_fd(const struct pk_trace_storeq *q);

/* Queues the hello of logd connection conn.  0, or -errno with a reason: out of memory, or the
 * writer's error. */
int pk_trace_storeq_hello(struct pk_trace_storeq *q, uint32_t conn, const struct pk_trace_hello *h,
			  char *err, size_t errlen);

/* Queues n records of connection conn (after its hello).  As pk_trace_storeq_hello. */
int pk_trace_storeq_recs(struct pk_trace_storeq *q, uint32_t conn, const struct pk_trace_rec *r,
			 size_t n, char *err, size_t errlen);

/* Writes out everything queued at normal priority, stops the writer, closes the store and frees
 * q (NULL is fine).  0, or the writer's error (-errno with its reason). */
int pk_trace_storeq_finish(struct pk_trace_storeq *q, char *err, size_t errlen);

#endif
