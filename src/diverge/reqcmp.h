/* reqcmp.h — per-request divergence of one client connection: production's response to each
 * request against each clone's response to the same request, with a verdict for each.
 *
 *   client bytes ──► request framer ──► requests 0, 1, 2 ...   (excerpt, flags)
 *   production   ──► response framer ─► response k: part hashes, excerpt
 *   clone i      ──► response framer ─► response k: part hashes, excerpt
 *                                         └─► verdict(k, i): same | noise | different | lag
 *
 * Framing is src/proto/msg.h's; hashing is xxhash (XXH3 64-bit) over each part, after masking:
 * every match of each --compare-ignore regex (POSIX extended, matched within one part, the
 * regexes one after the other on what the previous ones left) is cut out of the part before
 * hashing, and for HTTP a default mask drops the value of a header line "Date:" (name in any
 * case; a part that is one line starting so).  A part longer than the mask limit is hashed
 * unmasked.  Response k of every side answers the k-th request that has a response (requests
 * with PK_MSG_NO_RESPONSE are skipped); MySQL's handshake (request or response 0 with
 * PK_MSG_HANDSHAKE) is never compared nor counted.
 *
 * Verdicts (PK_RCMP_*): a response equal to production's once masked is SAME (not reported; a
 * difference masks remove is no difference).  Otherwise:
 *   LAG        the clone could not be compared there: it desynced (overflow, dropped bytes,
 *              died), rejoined the connection late, or fell further behind than max_pending
 *              requests ("too far behind": production answered the oldest waiting request, and
 *              the pending requests are full; the slowest clone that did not answer it).  From
 *              pk_rcmp_lag() on, every request of that clone on this connection is LAG; it is
 *              reported once, at once (the oldest undecided request, or the next request when
 *              none waits; `requests` = the requests undecided then, possibly 0), and counted
 *              per request as each is decided (when production has answered it; requests
 *              production never answers are not counted).
 *   NOISE      a part that differs from production's is noise for that request: with two or
 *              more clones, a part on which two clones disagree with each other and each with
 *              production (a random token) is noise, and NOISE is a response whose every
 *              differing part is noise.  (So a part only one clone changes — a changed body —
 *              stays DIFFERENT even when another part of the same answer is noise.)  The
 *              decision waits until every clone not lagging has answered that request.
 *   DIFFERENT  a part differs that is not noise (or the number of parts differs); or the clone
 *              ended its stream (pk_rcmp_finish) before answering (reported per request); or
 *              its responses could not be framed any more (PK_MSG_LOST): then its next request
 *              is reported once as DIFFERENT ("could not frame the clone's responses") and
 *              later ones are neither compared nor counted for it.
 * When production's or the client's stream cannot be framed any more, the comparison stops
 * silently: nothing more is reported or counted.  Requests production never answers (its
 * stream ended first) are not compared.
 * Memory per connection is bounded: at most max_pending requests wait for their verdicts, each
 * keeping its excerpts and at most PK_RCMP_MAX_PARTS part hashes per response (parts past that
 * fold into the last).  When the client runs more than max_pending requests ahead of
 * production's answers, the oldest requests are dropped uncompared (LAG counted for clones
 * already lagging); pairing by index goes on.
 *
 * Single-threaded: one connection's comparison belongs to one worker.  Prints nothing.  The
 * sink's functions must not call pk_rcmp_* on the same comparison.
 */
#ifndef PK_DIVERGE_REQCMP_H
#define PK_DIVERGE_REQCMP_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "proto/msg.h"

#define PK_RCMP_MAX_CLONES 8
#define PK_RCMP_MAX_PARTS 16
#define PK_RCMP_EXCERPT 64 /* bytes of a message kept for the report */
#define PK_RCMP_DEFAULT_MAX_PENDING 8192
#define PK_RCMP_DEFAULT_MASK_LIMIT (64 * 1024)

enum pk_rcmp_verdict {
	PK_RCMP_SAME = 0,
	PK_RCMP_NOISE,
	PK_RCMP_DIFFERENT,
	PK_RCMP_LAG,
	PK_RCMP_VERDICTS,
};

#define PK_RCMP_PROD (-1) /* the side argument for production's responses */

struct pk_rcmp_config {
	enum pk_proto proto;   /* NONE: the whole connection is one request and one response */
	const regex_t *ignore; /* masks, compiled by the caller (REG_EXTENDED); the caller's */
	size_t nignore;
	bool no_default_ignore; /* leave HTTP's Date header in */
	size_t max_pending;	/* 0: PK_RCMP_DEFAULT_MAX_PENDING */
	size_t mask_limit;	/* 0: PK_RCMP_DEFAULT_MASK_LIMIT */
};

/* One reported divergence (SAME is never reported).  Excerpts are printable ASCII (bytes outside
 * 0x20-0x7e written as \r, \n, \t, \\ or \xHH), from the first PK_RCMP_EXCERPT bytes of the
 * message, NUL-terminated; "" when the message never came (LAG). */
struct pk_rcmp_report {
	uint64_t conn;
	int clone;	  /* index of the clone (0 .. nclones-1) */
	uint64_t request; /* index of the request on the connection, from 0 */
	enum pk_rcmp_verdict verdict;
	const char *reason; /* LAG: why ("desynced: buffer full"); DIFFERENT/NOISE: which part */
	int part;	    /* the first differing part that decided it, -1 when none */
	uint64_t requests;  /* LAG: requests not compared on this connection so far; else 1 */
	char request_excerpt[4 * PK_RCMP_EXCERPT + 1];
	char production_excerpt[4 * PK_RCMP_EXCERPT + 1];
	char clone_excerpt[4 * PK_RCMP_EXCERPT + 1];
};

/* Receives every verdict but SAME as it is decided (report), and the count of every verdict
 * (count: per request, SAME included, so that n requests compared make n counts per clone).
 * The report is valid only during the call. */
struct pk_rcmp_sink {
	void (*report)(void *ctx, const struct pk_rcmp_report *r);
	void (*count)(void *ctx, int clone, enum pk_rcmp_verdict v, uint64_t n);
	void *ctx;
};

struct pk_rcmp;

/* Starts the comparison of connection conn with nclones clones (1..PK_RCMP_MAX_CLONES), all of
 * which see the client's stream from its start.  cfg and sink are copied (the regexes stay the
 * caller's and must outlive it; sink may be NULL, and either function in it).  NULL with errno
 * set (ENOMEM, EINVAL: a bad nclones, or nignore without ignore). */
struct pk_rcmp *pk_rcmp_new(const struct pk_rcmp_config *cfg, int nclones, uint64_t conn,
			    const struct pk_rcmp_sink *sink);

/* Frees c; requests still waiting for a verdict are dropped without one.  NULL is ignored. */
void pk_rcmp_free(struct pk_rcmp *c);

/* The client sent buf[0..n) (to production and, identically, to every clone).  Give a request's
 * bytes before the responses to it: an HTTP HEAD request's hint reaches the response framers at
 * the request's end.  With proto NONE the first bytes only make the request's excerpt; the one
 * response per side is compared once each side finished (pk_rcmp_finish). */
void pk_rcmp_request(struct pk_rcmp *c, const char *buf, size_t n);

/* side (PK_RCMP_PROD or a clone's index) sent buf[0..n) to the client. */
void pk_rcmp_response(struct pk_rcmp *c, int side, const char *buf, size_t n);

/* side's stream ended (its EOF): a response the framer ends only there is complete; requests
 * that side never answered are then DIFFERENT for a clone (the clone closed early), or, for
 * production, not compared. */
void pk_rcmp_finish(struct pk_rcmp *c, int side);

/* Clone i can no longer be compared on this connection (reason: "desynced: buffer full",
 * "rejoined", ...; copied, up to 79 bytes): its undecided requests, and all later ones, are LAG.
 * Reported at once; a second call for the same clone, or one for a clone whose framer was lost
 * and that was reported DIFFERENT for it, does nothing. */
void pk_rcmp_lag(struct pk_rcmp *c, int clone, const char *reason);

/* Returns a verdict's name: "same", "noise", "different", "lag"; a static string. */
const char *pk_rcmp_verdict_name(enum pk_rcmp_verdict v);

/* Appends r as one line of the compare log (JSON on one line, ending in '\n') to out:
 *   {"time": UNIX_SECONDS (a number with microseconds), "target": target,
 *    "conn": N, "request": N, "verdict": "different"|"noise"|"lag", "reason": "...",
 *    "part": N|null, "requests": N, "request_excerpt": "...", "production_excerpt": "...",
 *    "clone_excerpt": "..."}
 * time_s is the wall-clock time of the verdict (printed with 6 decimals; not finite: 0).  part is
 * null when r->part < 0.  Returns 0 or -ENOMEM. */
int pk_rcmp_report_json(const struct pk_rcmp_report *r, const char *target, double time_s,
			struct pk_strbuf *out);

#endif
