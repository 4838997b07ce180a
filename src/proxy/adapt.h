/* adapt.h — dup's adaptive sampling (the study's reactive instrumentation): the sampling rate of
 * a clone's probes follows how full its buffer is, so that instrumentation backs off before the
 * debug window closes.  A pure decision, one step per gauge tick: above the high mark the rate
 * halves (log2 + 1, up to PK_ADAPT_MAX_LOG2), under the low mark it doubles (log2 - 1, down to
 * every call); in between it stays.  Halving at each tick is the exponential back-off. */
#ifndef PK_PROXY_ADAPT_H
#define PK_PROXY_ADAPT_H

#include <stdint.h>

#define PK_ADAPT_MAX_LOG2 16 /* 1 call in 65536: PK_IPROBE_SAMPLE_MAX */

/* One target's sampling state. */
struct pk_adapt {
	uint32_t log2;	/* record 1 call in 2^log2 */
	uint64_t steps; /* changes of log2 so far */
};

/* Takes one step for a buffer filled to `fill` (0..1: the fullest connection's share of its
 * buffer) with marks high > low (fractions); returns +1 when the rate was lowered (log2 went
 * up), -1 when it was raised, 0 when it stayed. */
int pk_adapt_step(struct pk_adapt *a, double fill, double high, double low);

#endif
