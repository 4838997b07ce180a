/* proto.h — request framers: where, in a client's byte stream, one request ends and the next
 * begins.  The duplicator uses them to attach a clone to a connection that is already open
 * (the clone joined late, or fell out of sync) at the next request boundary; the divergence
 * checker and the tracer will use them to cut streams into requests.
 *
 * A framer is fed the stream chunk by chunk, in order, and never sees a byte twice.
 */
#ifndef PK_PROTO_PROTO_H
#define PK_PROTO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum pk_proto {
	PK_PROTO_NONE = 0, /* no framing known: never a boundary after the first byte */
	PK_PROTO_RESP,	   /* Redis protocol requests: arrays of bulk strings, or inline lines */
	PK_PROTO_HTTP,	   /* HTTP/1.x requests (Content-Length, chunked or no body) */
	PK_PROTO_MYSQL,	   /* MySQL client/server protocol: commands start with sequence id 0 */
};

struct pk_framer {
	enum pk_proto proto;
	int state;
	bool lost;     /* saw something it cannot frame: no boundary will be reported again */
	int64_t num;   /* number being parsed (RESP counts and lengths) */
	int64_t left;  /* RESP: elements left in the array / HTTP: body bytes left */
	int64_t bulk;  /* RESP: bytes of the current bulk string left */
	uint32_t line; /* HTTP: length of the current header line */
	char hdr[32];  /* HTTP: start of the current header line (for the header's name) */
	int length_at; /* HTTP: where in a Content-Length value (its digits go to num) */
	int64_t content_length;
};

/* Parses "resp", "http", "mysql" (or "none").  Returns 0 or -EINVAL. */
int pk_proto_parse(const char *name, enum pk_proto *out);

/* Starts a framer at a request boundary (the start of a connection). */
void pk_framer_init(struct pk_framer *f, enum pk_proto proto);

/* Feeds the next n bytes of the stream (all of them are consumed) and returns the smallest
 * offset o such that a request starts at buf + o, or -1 when no request starts in this chunk
 * (or the framer is lost). */
ssize_t pk_framer_feed(struct pk_framer *f, const char *buf, size_t n);

#endif
