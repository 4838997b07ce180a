/* fault.h — faults injected into a clone (`parikshan fault`): network delay, jitter, loss,
 * reordering and a rate limit in one tc netem qdisc on the clone's eth0 (inside its network
 * namespace; where the kernel has no netem, tbf and a userspace delayer through NFQUEUE), CPU
 * starvation through its cgroup's CFS quota (v1), and SIGKILL of its processes by name.  The quota
 * the clone had before is remembered in its state directory (fault-cpu) so that clearing restores
 * it.
 *
 * The functions act on a clone's init pid; refusing production is the caller's job (the CLI
 * knows the container's kind).
 */
#ifndef PK_DEBUG_FAULT_H
#define PK_DEBUG_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

/* The network faults of one netem qdisc; a field at 0 is not set. */
struct pk_fault_net {
	uint64_t delay_us;
	uint64_t jitter_us; /* needs delay_us */
	double loss_pct;
	double reorder_pct; /* needs delay_us (netem reorders by sending some packets at once) */
	uint64_t rate_bps;  /* bits per second */
	uint32_t limit;	    /* packets held at most, the rest dropped (netem's limit; 0: its
			     * default, PK_FAULT_LIMIT_DEFAULT); needs another network fault */
};

#define PK_FAULT_LIMIT_DEFAULT 1000 /* netem's */

/* Parses a rate as tc writes it: a number with a unit bit, kbit, mbit, gbit (powers of 1000) or
 * bps, kbps, mbps, gbps (bytes per second), case-insensitive, into bits per second (> 0).
 * Returns 0, -EINVAL or -ERANGE. */
int pk_fault_parse_rate(const char *s, uint64_t *bps);

/* Parses a percentage "10", "0.5", "10%" within [0, 100].  Returns 0 or -EINVAL. */
int pk_fault_parse_pct(const char *s, double *pct);

/* Parses a time in milliseconds: "50", "2.5", or with a unit "50ms", "1s", "300us", at most
 * 60 s, into microseconds.  Returns 0, -EINVAL or -ERANGE. */
int pk_fault_parse_ms(const char *s, uint64_t *us);

/* Tells whether any network fault of n is set. */
bool pk_fault_net_set(const struct pk_fault_net *n);

/* Writes netem's arguments for n into buf ("limit 100 delay 50ms 10ms loss 5% reorder 10% rate
 * 10000000bit"; the limit only when given).  Returns 0, -EINVAL (jitter or reorder without a delay;
 * nothing set; err says why) or -ENOSPC. */
int pk_fault_netem_args(const struct pk_fault_net *n, char *buf, size_t len, char *err,
			size_t errlen);

/* Replaces the root qdisc of eth0 in pid's network namespace with netem as n says (with tbf when
 * n asks for a rate only).  On a kernel without netem, tbf takes the rate and a userspace
 * delayer (netdelay.h) the delay, jitter, loss and reordering; its pid is kept in
 * state_dir/name/fault-net, its log in fault-net.log beside it.  A delayer from an earlier
 * call is stopped first.  Returns 0 or -errno (err says why). */
int pk_fault_net_apply(const char *state_dir, const char *name, int pid,
		       const struct pk_fault_net *n, char *err, size_t errlen);

/* Limits pid's cgroup to pct percent of one CPU (cpu.cfs_quota_us = period * pct / 100, at least
 * 1000 us), remembering the quota before the first fault in state_dir/name/fault-cpu.
 * Returns 0 or -errno (err says why). */
int pk_fault_cpu_apply(const char *state_dir, const char *name, int pid, double pct, char *err,
		       size_t errlen);

/* Sends SIGKILL to every process of pid's cgroup whose name (comm, or the base name of its
 * argv[0]) is process; *killed gets how many.  Returns 0, -ESRCH when none is named so, or
 * -errno (err says why). */
int pk_fault_kill(int pid, const char *process, int *killed, char *err, size_t errlen);

/* Removes every fault: the userspace delayer, netem or tbf from eth0 (if there) and the CPU quota
 * (restored from fault-cpu, which is then removed).  Returns 0 or -errno (err says why). */
int pk_fault_clear(const char *state_dir, const char *name, int pid, char *err, size_t errlen);

/* Appends the clone's current faults to out, one per line ("network: netem delay 50ms",
 * "cpu: quota 10000/100000 us (10% of a CPU; was -1)"), or "none\n".  Returns 0 or -errno. */
int pk_fault_show(const char *state_dir, const char *name, int pid, struct pk_strbuf *out,
		  char *err, size_t errlen);

#endif
