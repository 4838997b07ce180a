/* wire.h — the incremental parser of the byte stream one traced process sends to logd
 * (include/parikshan/trace.h): frames, a hello first, then frames of records.  Every byte is
 * untrusted: a bad frame is an error for that connection, never a crash.  No I/O. */
#ifndef PK_TRACE_WIRE_H
#define PK_TRACE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parikshan/trace.h"

/* One connection's parser state. */
struct pk_trace_wire {
	struct pk_trace_frame hdr; /* the frame being read */
	size_t have;		   /* bytes of it read so far (header, then payload) */
	uint8_t *buf;		   /* the payload (grown up to PK_TRACE_FRAME_MAX) */
	size_t cap;
	bool hello; /* a hello was seen */
	bool bad;   /* an error was returned: feed refuses further input */
};

/* A validated frame: a hello (h set, recs NULL) or n records (recs set). The pointers are valid
 * during the call only. Returns 0 to go on, or a negative errno that feed returns. */
typedef int (*pk_trace_wire_fn)(void *arg, const struct pk_trace_frame *f,
				const struct pk_trace_hello *h, const struct pk_trace_rec *recs,
				size_t n);

/* Initialises w (no allocation yet). */
void pk_trace_wire_init(struct pk_trace_wire *w);

/* Releases w's buffer. */
void pk_trace_wire_free(struct pk_trace_wire *w);

/* Feeds len bytes; calls fn for every whole validated frame.  0, -EPROTO with a reason (bad
 * magic, version, type, length, count, a record out of range, records before the hello, a
 * second hello), -ENOMEM, or what fn returned. */
int pk_trace_wire_feed(struct pk_trace_wire *w, const void *data, size_t len, pk_trace_wire_fn fn,
		       void *arg, char *err, size_t errlen);

/* True when w holds part of a frame (the stream stopped mid-frame). */
bool pk_trace_wire_partial(const struct pk_trace_wire *w);

/* Checks a frame header as it arrives (magic, type, len <= PK_TRACE_FRAME_MAX, len ==
 * count * the type's size).  0 or -EPROTO with a reason. */
int pk_trace_wire_check_hdr(const struct pk_trace_frame *f, char *err, size_t errlen);

/* Checks a hello (version, pid > 0). 0 or -EPROTO with a reason. */
int pk_trace_wire_check_hello(const struct pk_trace_hello *h, char *err, size_t errlen);

/* Checks a record (call in range, peek_len <= PK_TRACE_PEEK). 0 or -EPROTO with a reason. */
int pk_trace_wire_check_rec(const struct pk_trace_rec *r, char *err, size_t errlen);

/* Formats an endpoint as "ip:port", "[ip6]:port", "unix" or "-" into buf; returns buf. */
const char *pk_trace_wire_addr_str(const struct pk_trace_addr *a, char *buf, size_t len);

/* The name of a call ("read", ...), "?" when out of range. */
const char *pk_trace_call_name(unsigned call);

#endif
