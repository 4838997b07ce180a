/* replay.h — plays the client side of recorded connections against a live target and compares
 * what the target answers with what the recorded server answered.
 *
 * One epoll loop, no threads.  Connections open in recorded order, at most opts.connections at
 * a time.  Each sends its client chunks either at their recorded times (scaled by opts.speed)
 * or, with opts.fast, as soon as causality allows: chunk i goes once the target has answered
 * as many bytes as the recorded server had before it; when the target stays short for
 * opts.stall_ms, the chunk goes anyway (a stall, counted) and later chunks wait for the same
 * shortfall no more.  A recorded client FIN is replayed the same way, after the last chunk.
 *
 * A connection is over when the target closes it, or when everything was sent and the target
 * has answered the recorded byte count and then stayed quiet for opts.quiet_ms (or stayed
 * short for opts.stall_ms), or at the overall opts.timeout_ms.  The answer is compared, in
 * bounded memory, with the recorded server→client stream (diverge/streamcmp.h).
 */
#ifndef PK_CAPTURE_REPLAY_H
#define PK_CAPTURE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/pcap_read.h"
#include "common/sock.h"
#include "common/strbuf.h"
#include "diverge/streamcmp.h"

#define PK_REPLAY_DEFAULT_CONNECTIONS 64
#define PK_REPLAY_DEFAULT_STALL_MS 2000
#define PK_REPLAY_DEFAULT_QUIET_MS 200

struct pk_replay_opts {
	struct pk_addr target; /* where to connect */
	double speed;	       /* timed mode: recorded gaps divided by this (> 0); 0 means 1 */
	bool fast;	       /* causality instead of recorded times */
	unsigned connections;  /* at most this many open at once; 0: the default (64) */
	uint64_t timeout_ms;   /* overall limit; 0: none (each connection still ends by itself) */
	unsigned stall_ms;     /* 0: the default (2000) */
	unsigned quiet_ms;     /* 0: the default (200) */
};

/* The outcome of one connection. */
struct pk_replay_conn {
	unsigned id;					     /* the capture's connection id */
	char client[PK_ADDR_STRLEN], server[PK_ADDR_STRLEN]; /* as recorded */
	uint64_t bytes_recorded;			     /* client bytes in the capture */
	uint64_t bytes_sent;
	uint64_t bytes_expected; /* server bytes in the capture */
	uint64_t bytes_received;
	enum pk_scmp_verdict verdict;
	uint64_t diverge_off; /* first differing byte of the answer (verdict DIFFERENT) */
	unsigned stalls;
	const char *note; /* why, when not plainly compared: "gap in capture", "timeout", ... */
};

struct pk_replay_report {
	struct pk_replay_conn *conns;
	size_t nconns;
	uint64_t same, different, unknown;
	uint64_t bytes_recorded, bytes_sent, bytes_expected, bytes_received;
	uint64_t stalls;
	double seconds;
	struct pk_pcap_stats capture; /* what the reader saw */
};

/* Replays every connection of cap against opts->target (raising the soft open-files limit to
 * the hard one first).  On success fills rep (release it with pk_replay_report_release()) and
 * returns 0, whatever the verdicts.  Returns -errno when the
 * replay could not run, with one line in err: the target refused or could not be reached
 * ("connect 127.0.0.1:1: Connection refused"), or memory ran out. */
int pk_replay_run(const struct pk_pcap *cap, const struct pk_replay_opts *opts,
		  struct pk_replay_report *rep, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Frees what a report holds. */
void pk_replay_report_release(struct pk_replay_report *rep);

/* Tells whether every connection's answer was the same as recorded. */
static inline bool pk_replay_all_same(const struct pk_replay_report *rep)
{
	return rep->different == 0 && rep->unknown == 0;
}

/* Appends the report as a table: one row per connection and a summary line. */
void pk_replay_report_table(const struct pk_replay_report *rep, struct pk_strbuf *out);

/* Appends the report as JSON ({"connections": [...], "summary": {...}, "capture": {...}});
 * returns 0 or -ENOMEM. */
int pk_replay_report_json(const struct pk_replay_report *rep, struct pk_strbuf *out);

#endif
