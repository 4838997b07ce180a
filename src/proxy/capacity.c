/* capacity.c — how many client connections the open-files limit leaves room for, and the
 * accounting that keeps the proxy under it.
 *
 * Every client connection costs a fixed number of descriptors: its own, production's, and one
 * per debug target (two when a spill file may be opened).  At start the proxy counts the
 * descriptors it holds already (listeners, event loops, admin, recorder) and keeps a reserve;
 * what is left of RLIMIT_NOFILE, divided by that cost, is the capacity.  A worker takes a
 * connection's whole cost before accept() and gives it back as the connection's sockets go
 * away; when the next cost does not fit it stops polling its listener, so that new clients
 * wait in the kernel's listen backlog (back-pressure) instead of being accepted and then
 * failed, and polls it again once connections closed.
 *
 *   budget = RLIMIT_NOFILE - fds open at start - reserve
 *   charged (atomic, all workers) + cost <= budget   or accepting pauses
 *
 * A debug connection that outlives its session (delivering buffered bytes) keeps its share
 * of the charge until it is freed; see pk_dconn_set_session().
 */
#include "proxy/proxy_int.h"

#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>

#include "common/log.h"

#define CAP_RESERVE 16	     /* resolver, logging, sanitizer runtimes, a spare */
#define CAP_ADMIN_RESERVE 16 /* admin HTTP connections at once */
#define CAP_RECORD_RESERVE 2 /* pcap file rotation: the old and the new file */
#define CAP_RUN_FDS 1	     /* the signalfd pk_proxy_run() opens */

/* Counts the descriptors this process holds now; -errno when /proc is not readable. */
static long count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

unsigned pk_cap_dconn_cost(const struct pk_proxy_config *cfg)
{
	return cfg->spill_dir ? 2 : 1;
}

int pk_cap_init(struct pk_proxy *p)
{
	const struct pk_proxy_config *cfg = &p->cfg;
	unsigned per_target = pk_cap_dconn_cost(cfg);
	struct rlimit rl;
	long open_now = count_open_fds(), fixed;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (open_now < 0)
		return (int)open_now;
	fixed = open_now + CAP_RUN_FDS + CAP_RESERVE +
		(cfg->admin_enabled ? CAP_ADMIN_RESERVE : 0) + (p->rec ? CAP_RECORD_RESERVE : 0);
	p->cap.nofile = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	p->cap.fixed = (uint64_t)fixed;
	p->cap.cost = 2 + (unsigned)cfg->ntargets * per_target;
	p->cap.budget = p->cap.nofile > p->cap.fixed ? p->cap.nofile - p->cap.fixed : 0;
	p->cap.conns = p->cap.budget / p->cap.cost;
	if (p->cap.conns == 0)
		return -EMFILE;
	pk_log(PK_LOG_INFO,
	       "%s: open-files limit %llu: room for %llu client connections (%u fds each: client, "
	       "production, %d clone(s)%s; %llu fds fixed); beyond that, accepting pauses",
	       cfg->role, (unsigned long long)p->cap.nofile, (unsigned long long)p->cap.conns,
	       p->cap.cost, cfg->ntargets, cfg->spill_dir ? " with a spill file each" : "",
	       (unsigned long long)p->cap.fixed);
	return 0;
}

bool pk_cap_take(struct pk_proxy *p)
{
	uint64_t after = __atomic_add_fetch(&p->cap.charged, p->cap.cost, __ATOMIC_RELAXED);

	if (after <= p->cap.budget)
		return true;
	__atomic_sub_fetch(&p->cap.charged, p->cap.cost, __ATOMIC_RELAXED);
	return false;
}

bool pk_cap_has_room(const struct pk_proxy *p)
{
	return __atomic_load_n(&p->cap.charged, __ATOMIC_RELAXED) + p->cap.cost <= p->cap.budget;
}

void pk_cap_charge(struct pk_proxy *p, unsigned n)
{
	__atomic_add_fetch(&p->cap.charged, n, __ATOMIC_RELAXED);
}

void pk_cap_release(struct pk_proxy *p, unsigned n)
{
	PK_BUG_ON(__atomic_load_n(&p->cap.charged, __ATOMIC_RELAXED) < n);
	__atomic_sub_fetch(&p->cap.charged, n, __ATOMIC_RELAXED);
}

uint64_t pk_cap_in_use(const struct pk_proxy *p)
{
	uint64_t charged = __atomic_load_n(&p->cap.charged, __ATOMIC_RELAXED);

	return (charged + p->cap.cost - 1) / p->cap.cost;
}
