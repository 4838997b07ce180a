/* trap.c — the two ways libiprobe switches, inside the process and with no thread stopped,
 * the sites that one store cannot switch (patch.c, pk_lib_patch_deferred, says which and when).
 *
 * The sweep (pk_lib_sweep): every other thread of the process that is not blocked in a system
 * call gets a real-time signal whose handler moves its own PC past a patchable entry when it
 * lies between two of its NOPs; the batch waits until each thread handled it or exited.  The
 * signal's disposition was the default one; a thread that blocks it while running, or a handler
 * the program put in place of ours, makes the sweep fail (the tool then uses ptrace).
 *
 * The int3 bracket, Linux's text_poke_bp order, for a site whose first 2 bytes straddle a cache
 * line: an int3 on the first byte (the site in the trap table first), cores synced; the other 4
 * bytes, synced; the first byte.  A thread that reaches the site meanwhile traps, and on_trap
 * moves it past the site (which is off, or being switched off) or, once the new first byte is
 * written, back onto it.  A thread may take the int3 and be delivered its SIGTRAP after the
 * site changed, so the trap table holds every site that ever held one of our int3s; it is
 * replaced whole when it grows and never freed (a handler may be reading it).  A SIGTRAP that
 * is not ours goes to the disposition before ours (the default one: the process dies of it,
 * as it would have).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "probe/lib/lib_int.h"

#define SITE_LEN 5
#define SWEEP_POLL_MAX_NS 1000000L /* longest pause between two looks at the sweep */

/* Sorted site addresses. */
struct site_table {
	size_t n;
	uint64_t site[];
};

/* A thread the sweep waits for. */
struct sweep_thr {
	int32_t tid;
	uint32_t done;
};

/* The sweep in progress: the entry sites a thread must not stand inside, the threads asked. */
struct sweep {
	const struct site_table *sites;
	struct sweep_thr *thr;
	size_t nthr;
};

static struct site_table *traps;   /* every site that held our int3; never freed */
static struct sweep *sweep_now;	   /* NULL: no sweep */
static uint32_t sweep_users;	   /* sweep handlers that may be reading sweep_now */
static struct sigaction trap_prev; /* the SIGTRAP disposition before ours */
static int sweep_sig;		   /* 0: none found yet */
static struct pk_lib_trap_stats stats;

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Keeps the most CPU time a handler that began at thread CPU time t0 took. */
static void stat_max(uint64_t t0)
{
	uint64_t d = now_ns(CLOCK_THREAD_CPUTIME_ID) - t0,
		 cur = __atomic_load_n(&stats.longest_ns, __ATOMIC_RELAXED);

	while (d > cur && !__atomic_compare_exchange_n(&stats.longest_ns, &cur, d, true,
						       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Index of the last site <= addr in t, or -1. */
static long table_floor(const struct site_table *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->site[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

/* Hands a SIGTRAP that is not ours to the disposition before ours. */
static void trap_chain(int sig, siginfo_t *si, void *uc)
{
	if (trap_prev.sa_flags & SA_SIGINFO) {
		trap_prev.sa_sigaction(sig, si, uc);
	} else if (trap_prev.sa_handler == SIG_DFL) {
		/* blocked while this runs: delivered, and fatal, once it returns */
		signal(SIGTRAP, SIG_DFL);
		raise(SIGTRAP);
	} else if (trap_prev.sa_handler != SIG_IGN) {
		trap_prev.sa_handler(sig);
	}
}

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uint64_t t0 = now_ns(CLOCK_THREAD_CPUTIME_ID),
		 site = (uint64_t)uc->uc_mcontext.gregs[REG_RIP] - 1;
	const struct site_table *t = __atomic_load_n(&traps, __ATOMIC_ACQUIRE);
	long i = t && si->si_code == SI_KERNEL ? table_floor(t, site) : -1;
	int e = errno;

	if (i < 0 || t->site[i] != site) {
		trap_chain(sig, si, ucv);
		errno = e;
		return;
	}
	/* still our int3: past the site, as if it were off; else the site's new bytes, whole */
	uc->uc_mcontext.gregs[REG_RIP] =
		(greg_t)(*(volatile uint8_t *)(uintptr_t)site == 0xcc ? site + SITE_LEN : site);
	__atomic_add_fetch(&stats.trapped, 1, __ATOMIC_RELAXED);
	stat_max(t0);
	errno = e;
}

static void on_sweep(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uint64_t t0 = now_ns(CLOCK_THREAD_CPUTIME_ID),
		 pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	const struct sweep *w;
	int e = errno;
	pid_t tid;
	long i;

	(void)sig;
	if (si->si_code != SI_TKILL || si->si_pid != getpid())
		return;
	__atomic_add_fetch(&sweep_users, 1, __ATOMIC_SEQ_CST);
	w = __atomic_load_n(&sweep_now, __ATOMIC_SEQ_CST);
	if (w) {
		i = table_floor(w->sites, pc - 1);
		if (i >= 0 && pc > w->sites->site[i] && pc < w->sites->site[i] + SITE_LEN) {
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(w->sites->site[i] + SITE_LEN);
			__atomic_add_fetch(&stats.moved, 1, __ATOMIC_RELAXED);
		}
		tid = (pid_t)syscall(SYS_gettid);
		for (size_t k = 0; k < w->nthr; k++)
			if (w->thr[k].tid == tid)
				__atomic_store_n(&w->thr[k].done, 1, __ATOMIC_RELEASE);
	}
	__atomic_sub_fetch(&sweep_users, 1, __ATOMIC_SEQ_CST);
	stat_max(t0);
	errno = e;
}

/* Whether disposition sa is handler h. */
static bool handler_is(const struct sigaction *sa, void (*h)(int, siginfo_t *, void *))
{
	return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == h;
}

/* Puts h on sig unless it is there; keeps the disposition before in *prev (may be NULL).  0 or
 * -errno. */
static int handler_ensure(int sig, void (*h)(int, siginfo_t *, void *), struct sigaction *prev)
{
	struct sigaction cur, sa;

	if (sigaction(sig, NULL, &cur))
		return -errno;
	if (handler_is(&cur, h))
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (prev)
		*prev = cur;
	return sigaction(sig, &sa, NULL) ? -errno : 0;
}

/* Puts on_sweep on a real-time signal whose disposition is the default (again, when the
 * program took ours since); 0, -EBUSY when there is none, or -errno. */
static int sweep_ready(void)
{
	struct sigaction cur;

	if (sweep_sig) {
		if (sigaction(sweep_sig, NULL, &cur))
			return -errno;
		if (!handler_is(&cur, on_sweep))
			sweep_sig = 0;
	}
	for (int sig = SIGRTMAX; !sweep_sig && sig > SIGRTMIN; sig--)
		if (!sigaction(sig, NULL, &cur) && !(cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_handler == SIG_DFL && !handler_ensure(sig, on_sweep, NULL))
			sweep_sig = sig;
	return sweep_sig ? 0 : -EBUSY;
}

int pk_lib_trap_ready(void)
{
	return handler_ensure(SIGTRAP, on_trap, &trap_prev);
}

int pk_lib_trap_add(const uint64_t *site, size_t n)
{
	struct site_table *old = __atomic_load_n(&traps, __ATOMIC_ACQUIRE), *t;
	size_t have = old ? old->n : 0, add = 0, a = 0, b = 0, k = 0;
	uint64_t *sorted = malloc((n ? n : 1) * sizeof(*sorted));

	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		long j = old ? table_floor(old, site[i]) : -1;

		if (j < 0 || old->site[j] != site[i])
			sorted[add++] = site[i];
	}
	if (!add) {
		free(sorted);
		return 0;
	}
	qsort(sorted, add, sizeof(*sorted), u64_cmp);
	t = malloc(sizeof(*t) + (have + add) * sizeof(t->site[0]));
	if (!t) {
		free(sorted);
		return -ENOMEM;
	}
	while (a < have || b < add) { /* merge, dropping repeats within the batch */
		uint64_t x = b == add || (a < have && old->site[a] < sorted[b]) ? old->site[a++]
										: sorted[b++];

		if (!k || t->site[k - 1] != x)
			t->site[k++] = x;
	}
	t->n = k;
	free(sorted);
	__atomic_store_n(&traps, t, __ATOMIC_RELEASE); /* the old table stays: never freed */
	return 0;
}

/* Reads /proc/self/task/TID/NAME into buf (NUL-terminated; libiprobe cannot use the tools'
 * proc.c); true when something was read. */
static bool task_read(pid_t tid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false; /* exited */
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* Whether thread tid of this process is blocked in a system call now (its PC is at it). */
static bool in_syscall(pid_t tid)
{
	char buf[256];
	long nr;

	/* "NR args... sp pc" in one; "running", or "-1 sp pc": not */
	return task_read(tid, "syscall", buf, sizeof(buf)) && sscanf(buf, "%ld", &nr) == 1 &&
	       nr >= 0;
}

/* Whether thread tid of this process blocks signal sig (its status says so). */
static bool blocks(pid_t tid, int sig)
{
	char buf[4096], *p;
	unsigned long long mask;

	if (!task_read(tid, "status", buf, sizeof(buf)))
		return false;
	p = strstr(buf, "\nSigBlk:");
	return p && sscanf(p + 8, "%llx", &mask) == 1 && (mask >> (sig - 1) & 1);
}

/* The threads of this process other than the caller, into *out; their count or -errno. */
static long threads_list(struct sweep_thr **out)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	struct sweep_thr *v = NULL, *nv;
	size_t n = 0, cap = 0;
	pid_t self = (pid_t)syscall(SYS_gettid);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = (struct sweep_thr){ .tid = tid };
	}
	closedir(d);
	*out = v;
	return (long)n;
}

int pk_lib_sweep(const uint64_t *entry, size_t n, uint64_t timeout_ns)
{
	struct site_table *sites = malloc(sizeof(*sites) + n * sizeof(sites->site[0]));
	struct sweep w = { .sites = sites };
	pid_t pid = getpid();
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + timeout_ns;
	long nthr, wait_ns = 20000;
	size_t left;
	int rc = 0;

	if (!sites)
		return -ENOMEM;
	if ((rc = sweep_ready())) {
		free(sites);
		return rc;
	}
	sites->n = n;
	memcpy(sites->site, entry, n * sizeof(sites->site[0]));
	qsort(sites->site, n, sizeof(sites->site[0]), u64_cmp);
	nthr = threads_list(&w.thr);
	if (nthr < 0) {
		free(sites);
		return (int)nthr;
	}
	w.nthr = (size_t)nthr;
	for (size_t k = 0; k < w.nthr; k++) {
		if (in_syscall(w.thr[k].tid))
			w.thr[k].done = 1;
		else if (blocks(w.thr[k].tid, sweep_sig))
			rc = -EAGAIN; /* it would never handle the signal */
	}
	__atomic_store_n(&sweep_now, &w, __ATOMIC_SEQ_CST);
	for (size_t k = 0; !rc && k < w.nthr; k++) {
		if (w.thr[k].done)
			continue;
		if (syscall(SYS_tgkill, pid, w.thr[k].tid, sweep_sig) && errno == ESRCH)
			w.thr[k].done = 1;
		else
			__atomic_add_fetch(&stats.signalled, 1, __ATOMIC_RELAXED);
	}
	while (!rc) {
		struct timespec ts = { 0, wait_ns };

		left = 0;
		for (size_t k = 0; k < w.nthr; k++) {
			if (__atomic_load_n(&w.thr[k].done, __ATOMIC_ACQUIRE))
				continue;
			if (syscall(SYS_tgkill, pid, w.thr[k].tid, 0) && errno == ESRCH)
				w.thr[k].done = 1; /* exited */
			else
				left++;
		}
		if (!left)
			break;
		if (now_ns(CLOCK_MONOTONIC) > deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		nanosleep(&ts, NULL);
		wait_ns = wait_ns * 2 > SWEEP_POLL_MAX_NS ? SWEEP_POLL_MAX_NS : wait_ns * 2;
	}
	__atomic_store_n(&sweep_now, NULL, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sweep_users, __ATOMIC_SEQ_CST)) /* a handler still reading w */
		sched_yield();
	free(w.thr);
	free(sites);
	return rc;
}

void pk_lib_trap_stats_take(struct pk_lib_trap_stats *out)
{
	out->longest_ns = __atomic_exchange_n(&stats.longest_ns, 0, __ATOMIC_RELAXED);
	out->trapped = __atomic_exchange_n(&stats.trapped, 0, __ATOMIC_RELAXED);
	out->signalled = __atomic_exchange_n(&stats.signalled, 0, __ATOMIC_RELAXED);
	out->moved = __atomic_exchange_n(&stats.moved, 0, __ATOMIC_RELAXED);
}
