/* msg.h — messages of a connection, in both directions: a client's requests and a server's
 * responses, each cut into parts.  The divergence checker (src/diverge) pairs the k-th response
 * of production with the k-th response of a clone and compares them part by part (a part on
 * which two unchanged clones disagree is noise); the resync framer (proto.h) finds request
 * boundaries with it.  One parser per protocol, used by both.
 *
 * A message framer (struct pk_msgr, caller-owned, bounded: it holds no memory, so there is no
 * release) is fed one direction of one connection, in order, chunk by chunk.  Each call
 * consumes bytes up to the next event and says which:
 *
 *   stream:   |  message 0                     |  message 1      | ...
 *             |part 0 |part 1 |  ...   |part p |part 0 | ...
 *   events:          PART    PART     PART    END             ...
 *
 * Every byte belongs to exactly one part of exactly one message; the bytes consumed up to an
 * event are the end of the part (and message) it reports.  How the stream is cut into chunks
 * changes no event (but see MySQL responses).  Parts, per protocol:
 *   RESP      requests: the whole command is one part.  Responses: one reply per request;
 *             each leaf element (simple string, error, integer, bulk string, null, ...) is a
 *             part, the array headers before a leaf belong to it (RESP2 and RESP3 types).
 *             Inline commands are requests too.
 *   HTTP/1.x  requests and responses: the start line, each header line, the body (chunked
 *             bodies with their chunk lines and trailers, Content-Length bodies; a response to
 *             HEAD, 1xx, 204 and 304 has none; a response with neither length nor chunking
 *             ends at the end of the stream).  Interim 1xx responses belong to the final
 *             response that follows (they are parts of it).  Keep-alive and pipelining.
 *             The blank line that ends the headers is the first byte(s) of the body part (the
 *             last part, alone, when there is no body).  A 101 response's body is the rest of
 *             the stream; a request with a Transfer-Encoding other than chunked is lost.
 *   MySQL     client/server packets (3-byte length, sequence id).  Requests: a command starts
 *             with a packet of sequence id 0 (a packet of 16 MiB - 1 continues in the next)
 *             and is one part; it ends with its packet (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA,
 *             COM_QUIT: PK_MSG_NO_RESPONSE).  The client's first packet (its answer to the
 *             greeting) is request 0 with PK_MSG_HANDSHAKE; its other packets before its first
 *             command (authentication switches) are requests with PK_MSG_HANDSHAKE |
 *             PK_MSG_NO_RESPONSE, and packets with another sequence id than 0 after that
 *             (LOAD DATA LOCAL's file) requests with PK_MSG_NO_RESPONSE: the server answers
 *             them within another response.  Responses: the server's greeting and
 *             authentication exchange is response 0 (PK_MSG_HANDSHAKE); then one response per
 *             command that has one, each packet a part, and an empty last part: a response's
 *             end is only known when the next one starts (its first packet has sequence id 1
 *             again, after a packet whose id was not 0: ids wrap, ..., 255, 0, 1 goes on) or at
 *             the end of the stream.  So after the PART that ends its last packet, its END
 *             comes with 0 bytes, before any byte of response k + 1 is consumed — when the
 *             chunk holds that packet's sequence id.  When a chunk ends within the first three
 *             bytes of its header, the framer cannot tell yet and takes those bytes into the
 *             last part: the END comes after them.  That is the one case where the cut moves
 *             an event (an END, by at most 3 bytes; the events stay the same).
 *   NONE      no framing: the whole stream is one message of one part, ended by
 *             pk_msgr_finish() (a stream without a byte has no message).
 * Stray line ends (CR, LF) before a RESP or HTTP message belong to it (to its first part); at
 * the end of the stream they belong to no message.  The first byte past them is where the
 * message starts for the resync framer (start_at).
 */
#ifndef PK_PROTO_MSG_H
#define PK_PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pk_proto {
	PK_PROTO_NONE = 0, /* no framing known: never a boundary after the first byte */
	PK_PROTO_RESP,	   /* Redis protocol: arrays of bulk strings or inline lines, and replies */
	PK_PROTO_HTTP,	   /* HTTP/1.x (Content-Length, chunked, or no body) */
	PK_PROTO_MYSQL,	   /* MySQL client/server protocol: commands start with sequence id 0 */
};

enum pk_msg_event {
	PK_MSG_MORE = 0, /* every byte given was consumed; the current part goes on */
	PK_MSG_PART,	 /* a part (not the message's last) ends after the bytes consumed */
	PK_MSG_END,	 /* a message (and its last part) ends after the bytes consumed */
	PK_MSG_LOST,	 /* the stream cannot be framed any more: no event from here on */
};

/* Flags of the message that just ended (pk_msgr.flags, valid after PK_MSG_END). */
#define PK_MSG_NO_RESPONSE 1u /* a request the server does not answer (MySQL COM_STMT_CLOSE) */
#define PK_MSG_HEAD 2u	      /* an HTTP HEAD request: its response has no body */
#define PK_MSG_HANDSHAKE 4u   /* MySQL connection set-up (request or response 0): not a command */

#define PK_MSG_EXPECT_MAX 64 /* HEAD hints a response framer queues (pk_msgr_expect) */
#define PK_MSG_DEPTH 32	     /* RESP: nesting of aggregates framed (deeper: lost) */

struct pk_msgr {
	enum pk_proto proto;
	bool response; /* frames a server's stream (else a client's) */
	bool lost;
	unsigned flags;	   /* of the message that just ended */
	uint64_t messages; /* messages ended so far */
	uint64_t consumed; /* bytes consumed so far */
	/* the parser's state: private to msg.c */
	int state, sub;
	int64_t num, left;
	int64_t stack[PK_MSG_DEPTH]; /* RESP: elements left in each open aggregate */
	uint32_t attr;		     /* RESP: which open aggregates are attributes */
	int depth;
	uint32_t line;
	char hdr[24];
	uint8_t seq, cmd, hpos;
	bool pending, cont, cmds;
	uint64_t started;     /* messages begun (the resync framer watches it) */
	uint64_t start_at;    /* where the last one begun, past stray line ends */
	uint64_t expect_bits; /* response side: HEAD hints, oldest in bit 0 */
	unsigned nexpect;
	int status;
	bool in_msg, chunked, close_delimited, no_body, has_length, neg, head;
};

/* Parses a protocol name: "resp", "http", "mysql", or "none" (also "raw").  0 or -EINVAL. */
int pk_msg_proto_parse(const char *name, enum pk_proto *out);

/* Returns a protocol's name ("resp", "http", "mysql", "none"); a static string. */
const char *pk_msg_proto_name(enum pk_proto proto);

/* Starts a framer at the start of a connection: response = it frames the server's stream. */
void pk_msgr_init(struct pk_msgr *m, enum pk_proto proto, bool response);

/* Consumes bytes of buf[0..n) up to and including the next event's end, stores the event in
 * *ev and returns how many bytes it consumed (0 only when n is 0 or for a MySQL response's
 * END, known before the next response's first byte; call again with the same bytes).
 * Once lost, consumes everything and reports PK_MSG_LOST each time (the LOST of the call that
 * loses it, too: its offset depends on the cut; whether and where it gets lost does not). */
size_t pk_msgr_feed(struct pk_msgr *m, const char *buf, size_t n, enum pk_msg_event *ev);

/* The stream ended.  Returns PK_MSG_END when that ends a message (a close-delimited HTTP body,
 * a MySQL response, NONE's one message; m->flags set), PK_MSG_LOST when a message was cut
 * short, else PK_MSG_MORE (it ended between messages). */
enum pk_msg_event pk_msgr_finish(struct pk_msgr *m);

/* Response side: the next response not yet started answers a request with these flags (only
 * PK_MSG_HEAD matters).  Call once per request that has a response, in order; up to
 * PK_MSG_EXPECT_MAX may wait (more: the oldest hints are kept, later responses assume GET). */
void pk_msgr_expect(struct pk_msgr *m, unsigned request_flags);

#endif
