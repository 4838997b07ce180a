/* delayq.h — what `fault` does to each packet when the kernel has no netem and a userspace
 * delayer holds the packets instead (src/debug/netdelay.c): the fate of a packet (dropped for
 * --loss, sent at once for --reorder, or held until a due time: --delay plus or minus a uniform
 * --jitter, as netem does without a distribution table), and the queue of held packets, earliest
 * due first.  Pure computation: no I/O, no clock of its own (times are given), no globals.
 */
#ifndef PK_DEBUG_DELAYQ_H
#define PK_DEBUG_DELAYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debug/fault.h"

enum pk_delay_fate {
	PK_DELAY_DROP, /* lost (--loss) */
	PK_DELAY_NOW,  /* sent at once (--reorder, or no delay asked) */
	PK_DELAY_HOLD, /* held until the due time */
};

/* Decides one packet's fate under n, drawing from the generator *rng (any seed but 0 works;
 * 0 is replaced); for PK_DELAY_HOLD, *due_ns = now_ns + delay ± jitter (never before now). */
enum pk_delay_fate pk_delayq_decide(const struct pk_fault_net *n, uint64_t *rng, uint64_t now_ns,
				    uint64_t *due_ns);

/* Held packets: a binary heap on the due time; equal times leave in the order they came. */
struct pk_delayq {
	struct pk_delayq_item {
		uint64_t due_ns;
		uint64_t seq; /* arrival order: ties keep FIFO */
		uint32_t id;  /* the packet's id in its queue */
	} * heap;
	size_t n, cap, max; /* max: the most it holds (0: no limit) */
	uint64_t seq;
};

/* Holds packet id until due_ns.  Returns 0, -ENOBUFS when q holds max packets already (the
 * packet is to be dropped, as netem drops past its limit), or -ENOMEM. */
int pk_delayq_push(struct pk_delayq *q, uint32_t id, uint64_t due_ns);

/* Takes the earliest packet due at or before now_ns into *id.  Returns true, or false when none
 * is due. */
bool pk_delayq_pop_due(struct pk_delayq *q, uint64_t now_ns, uint32_t *id);

/* The due time of the earliest held packet, or 0 when q is empty. */
uint64_t pk_delayq_next_due(const struct pk_delayq *q);

/* Frees q's memory (the packets it held are forgotten). */
void pk_delayq_release(struct pk_delayq *q);

#endif
