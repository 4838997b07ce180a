/* netdelay.h — netem's delay, jitter, loss and reordering in user space, for kernels built
 * without netem (CONFIG_NET_SCH_NETEM): a daemon in the clone's network namespace takes every
 * packet the clone sends out of eth0 through NFQUEUE (an iptables chain PK-FAULT: OUTPUT -o eth0
 * → NFQUEUE 0, with --queue-bypass, so packets flow untouched whenever the daemon is not there)
 * and gives each its verdict when delayq.h says: dropped, at once, or after its delay.
 * Only the packet's id crosses to user space (NFQNL_COPY_META), never its bytes.
 *
 * The daemon ends on SIGTERM (pk_netdelay_stop) or when the clone's init ends; then it lets
 * every held packet go and removes the chain.
 */
#ifndef PK_DEBUG_NETDELAY_H
#define PK_DEBUG_NETDELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "debug/fault.h"

/* The most packets the kernel queues for the delayer (past it they go at once: fail-open); the
 * delayer itself holds at most n->limit (netem's default 1000) and drops the rest, as netem. */
#define PK_NETDELAY_MAX_QUEUED 200000

/* Starts the delayer for n (delay, jitter, loss, reorder; not rate) in pid's network namespace
 * as a detached daemon whose stderr is appended to log; returns once its queue is bound and its
 * rules are in place, with its pid and start time in *daemon and *start.  Returns 0 or -errno
 * (err says why; nothing is left running or installed). */
int pk_netdelay_start(int pid, const struct pk_fault_net *n, const char *log, pid_t *daemon,
		      uint64_t *start, char *err, size_t errlen);

/* Stops the daemon (daemon, start), if it still runs, waiting for it to let its packets go, and
 * removes the PK-FAULT chain from pid's network namespace if it is still there.  Returns 0 or
 * -errno (err says why). */
int pk_netdelay_stop(pid_t daemon, uint64_t start, int pid, char *err, size_t errlen);

#endif
