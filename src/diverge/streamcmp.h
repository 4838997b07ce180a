/* streamcmp.h — compares two byte streams that arrive piecemeal and at different times.
 *
 * Side A is what was expected (production's requests, a recorded response), side B what was
 * seen (the clone's requests, a replayed response).  Bytes of whichever side is ahead are held
 * until the other side catches up, up to a limit; past it the comparison gives up (UNKNOWN)
 * rather than grow.  Memory is freed as soon as a verdict is certain.
 */
#ifndef PK_DIVERGE_STREAMCMP_H
#define PK_DIVERGE_STREAMCMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ring.h"

enum pk_scmp_side { PK_SCMP_A = 0, PK_SCMP_B = 1 };

enum pk_scmp_verdict {
	PK_SCMP_SAME = 0,  /* equal so far (or, when final, equal) */
	PK_SCMP_DIFFERENT, /* a byte differs, or (final) one stream is longer */
	PK_SCMP_UNKNOWN,   /* one side ran further ahead than the limit: not compared */
};

struct pk_scmp {
	struct pk_ring ahead; /* unmatched bytes of side ahead_side */
	int ahead_side;
	uint64_t bytes[2]; /* bytes fed per side */
	uint64_t matched;  /* bytes compared equal */
	bool diverged;
	uint64_t diverge_off; /* offset of the first differing byte (or of the shorter end) */
	bool overflow;
};

/* Starts an empty comparison that holds at most limit unmatched bytes. */
void pk_scmp_init(struct pk_scmp *c, size_t limit);

/* Frees what the comparison holds. */
void pk_scmp_release(struct pk_scmp *c);

/* Feeds the next n bytes of one side. */
void pk_scmp_feed(struct pk_scmp *c, enum pk_scmp_side side, const void *buf, size_t n);

/* Returns the verdict so far; final = both streams have ended (a length mismatch then counts
 * as a difference at the shorter stream's end). */
enum pk_scmp_verdict pk_scmp_verdict(const struct pk_scmp *c, bool final);

/* Returns the offset of the first difference (valid when the final verdict is DIFFERENT). */
uint64_t pk_scmp_diverge_offset(const struct pk_scmp *c);

/* Returns a verdict's name: "same", "different" or "unknown". */
const char *pk_scmp_verdict_name(enum pk_scmp_verdict v);

#endif
