/* probe_drain.h — draining a live target's rings over time, until a signal, a duration or the
 * target's exit: the loop that `probe fperf` and `probe dump --follow` share. */
#ifndef PK_CLI_PROBE_DRAIN_H
#define PK_CLI_PROBE_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "probe/dump.h"
#include "probe/probe.h"

/* One drain of the target: fills st; 0 or -errno with a reason in err. */
typedef int (*pk_cli_drain_fn)(void *arg, struct pk_dump_stats *st, char *err, size_t errlen);

/* Adds one drain's st to the running sum (no_ring is a running total already). */
void pk_cli_dump_stats_add(struct pk_dump_stats *sum, const struct pk_dump_stats *st);

/* Calls drain every period — 10 ms at first, halved down to 1 ms while a drain finds drops or an
 * eighth of a ring, doubled up to 100 ms while it finds under a 64th — until SIGINT or SIGTERM
 * (caught meanwhile), duration_ns (0: none) or t's exit (-ESRCH, err says so); progress (NULL:
 * none) every 5 s with the seconds so far.  Adds each drain to *sum; *secs gets the time
 * taken.  0 or -errno with a reason. */
int pk_cli_probe_drain(struct pk_probe_target *t, uint64_t duration_ns, pk_cli_drain_fn drain,
		       void (*progress)(void *arg, double secs), void *arg,
		       struct pk_dump_stats *sum, double *secs, char *err, size_t errlen);

#endif
