/* proto.h — request framers: where, in a client's byte stream, one request ends and the next
 * begins.  The duplicator uses them to attach a clone to a connection that is already open
 * (the clone joined late, or fell out of sync) at the next request boundary; the divergence
 * checker and the tracer will use them to cut streams into requests.
 *
 * A framer is fed the stream chunk by chunk, in order, and never sees a byte twice.  It is
 * msg.h's request-side message framer (one parser per protocol), reporting where messages
 * start: for RESP and HTTP past stray line ends; for MySQL only commands (a packet of
 * sequence id 0), and only when the chunk holds the packet's first byte and its sequence id
 * (a command whose header is cut between two chunks is missed: the next one will do).
 */
#ifndef PK_PROTO_PROTO_H
#define PK_PROTO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/msg.h"

/* The protocols (enum pk_proto) are msg.h's: a framer is a request-side message framer. */
struct pk_framer {
	enum pk_proto proto;
	bool lost;	  /* saw something it cannot frame: no boundary will be reported again */
	struct pk_msgr m; /* frames the client's stream (NONE: not used) */
};

/* Parses "resp", "http", "mysql" (or "none", also "raw").  Returns 0 or -EINVAL. */
int pk_proto_parse(const char *name, enum pk_proto *out);

/* Starts a framer at a request boundary (the start of a connection). */
void pk_framer_init(struct pk_framer *f, enum pk_proto proto);

/* Feeds the next n bytes of the stream (all of them are consumed) and returns the smallest
 * offset o such that a request starts at buf + o, or -1 when no request starts in this chunk
 * (or the framer is lost). */
ssize_t pk_framer_feed(struct pk_framer *f, const char *buf, size_t n);

#endif
