/* invivo.c — libiprobe's in-vivo tests (PK_IPROBE_F_INVIVO).
 *
 * At the entry of a flagged function the probed thread draws a number (splitmix64 of the TSC
 * and its stack address: no state, no lock); below the tools' threshold, and with a free slot
 * among at most inv_max_live, it forks the process with a raw clone() whose exit signal is 0:
 * no SIGCHLD reaches the target, and its own waitpid(-1) never sees our children (they are
 * "clone" children, waited for only with __WCLONE).  The parent stores the child's pid in the
 * slot and returns at once.  The child (only this thread) marks itself so that no probe in it
 * records or forks, puts every signal back to its default action and unblocks them all (the
 * target's handlers are not the test's), points stdin/stdout/stderr at /dev/null, closes
 * every inherited socket, opens the verdict log, calls the test, writes its verdict and ends
 * with exit_group (no atexit handler, no stdio flush of the parent's buffers).
 *
 * The control thread (pk_lib_invivo_reap, on every tick of its loop) reaps the slots' children
 * with waitpid(pid, WNOHANG | __WCLONE), counts pass (exit 0), fail (exit 1), crash (another
 * signal) and kills a child older than the deadline with SIGKILL (counted as timed out, with a
 * verdict line in the log): no zombie is left and no child outlives the deadline by more than
 * a tick.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "parikshan/invivo.h"
#include "probe/lib/lib_int.h"

/* The probed thread's part runs with the probed function's vector argument registers live. */
#pragma GCC target("general-regs-only")

#define SOCKET_SCAN_MAX 65536 /* fds checked for sockets in the child */

/* Children alive: 0 free, -1 being forked, else the child's pid (written by the forking
 * thread; freed by the control thread once reaped). */
static int32_t g_slots[PK_IPROBE_INVIVO_MAX_LIVE];
/* Control thread only: when each slot's child was first seen (CLOCK_MONOTONIC ns). */
static uint64_t g_seen[PK_IPROBE_INVIVO_MAX_LIVE];
/* Set in a child: its probes fork nothing. */
static int g_in_child;

static inline __attribute__((always_inline)) long raw0(long nr)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"(nr) : "rcx", "r11", "memory");
	return ret;
}

/* clone(flags = 0): a fork with no exit signal, on a copy of this stack. */
static inline __attribute__((always_inline)) long raw_clone0(void)
{
	long ret;
	register long r10 __asm__("r10") = 0;
	register long r8 __asm__("r8") = 0;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_clone), "D"(0L), "S"(0L), "d"(0L), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline __attribute__((always_inline)) void raw_futex_wake(uint32_t *addr)
{
	long ret;
	register long r10 __asm__("r10") = 0;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_futex), "D"(addr), "S"((long)FUTEX_WAKE), "d"(1L), "r"(r10)
			 : "rcx", "r11", "memory");
	(void)ret;
}

static inline __attribute__((always_inline)) uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Writes a verdict line to the log at path (the child's or the control thread's). */
static void log_line(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const char *path, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int fd, n;

	if (!path[0])
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)n) < 0) {
		/* nothing to do: the counters still count the verdict */
	}
	close(fd);
}

/* The child's life: never returns. */
static __attribute__((noreturn, noinline)) void child_main(uint32_t probe, uint64_t test)
{
	const struct pk_iprobe_shm *s = pk_lib_shm;
	const struct pk_iprobe_probe *p =
		(const struct pk_iprobe_probe *)((const char *)s + s->probes_off) + (probe >> 1);
	struct pk_invivo_ctx ctx = { .size = sizeof(ctx), .probe = probe >> 1 };
	char func[sizeof(p->name)], path[sizeof(s->inv_log)], name[sizeof(s->inv_name)];
	pk_invivo_test_fn fn = (pk_invivo_test_fn)(uintptr_t)test;
	struct sigaction sa;
	struct rlimit rl;
	struct stat st;
	int fd, rc;

	g_in_child = 1;
	pk_lib_ring_forget(); /* nothing this child runs is recorded in the shared rings */
	memcpy(func, p->name, sizeof(func));
	func[sizeof(func) - 1] = 0;
	memcpy(path, s->inv_log, sizeof(path));
	path[sizeof(path) - 1] = 0;
	memcpy(name, s->inv_name, sizeof(name));
	name[sizeof(name) - 1] = 0;
	/* the process's signal handlers (a server's crash handler writes its shared log) and
	 * the thread's blocked signals are not the test's: a crash ends the child */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&sa.sa_mask);
	sigprocmask(SIG_SETMASK, &sa.sa_mask, NULL);
	/* what the process shares with the world: stdio and sockets */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3 && fd >= 0; i++)
		if (i != fd)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur > SOCKET_SCAN_MAX)
		rl.rlim_cur = SOCKET_SCAN_MAX;
	for (int i = 3; i < (int)rl.rlim_cur; i++)
		if (!fstat(i, &st) && S_ISSOCK(st.st_mode))
			close(i);
	ctx.func = func;
	ctx.parent = (int32_t)getppid();
	ctx.pid = (int32_t)raw0(SYS_getpid);
	ctx.log_fd = path[0] ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	rc = fn(&ctx);
	if (ctx.log_fd >= 0)
		close(ctx.log_fd);
	log_line(path, "pk-invivo pid=%d parent=%d func=%s test=%s verdict=%s rc=%d\n", ctx.pid,
		 ctx.parent, func, name, rc ? "fail" : "pass", rc);
	for (;;)
		syscall(SYS_exit_group, rc ? 1 : 0);
}

void pk_lib_invivo_hit(uint32_t probe)
{
	struct pk_iprobe_shm *s = pk_lib_shm;
	uint32_t gen, thr, max;
	uint64_t test, draw;
	int slot = -1;
	long pid;

	if (g_in_child || !s)
		return;
	gen = __atomic_load_n(&s->inv_gen, __ATOMIC_ACQUIRE);
	if (gen & 1)
		return;
	thr = __atomic_load_n(&s->inv_threshold, __ATOMIC_RELAXED);
	test = __atomic_load_n(&s->inv_test, __ATOMIC_RELAXED);
	max = __atomic_load_n(&s->inv_max_live, __ATOMIC_RELAXED);
	if (__atomic_load_n(&s->inv_gen, __ATOMIC_ACQUIRE) != gen || !test || !thr)
		return;
	draw = splitmix64(__builtin_ia32_rdtsc() ^ (uint64_t)(uintptr_t)&draw) >> 32;
	if (thr != UINT32_MAX && draw >= thr)
		return;
	if (max > PK_IPROBE_INVIVO_MAX_LIVE)
		max = PK_IPROBE_INVIVO_MAX_LIVE;
	for (uint32_t i = 0; i < max; i++) {
		int32_t zero = 0;

		if (__atomic_compare_exchange_n(&g_slots[i], &zero, -1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			slot = (int)i;
			break;
		}
	}
	if (slot < 0) {
		__atomic_add_fetch(&s->inv_skipped_busy, 1, __ATOMIC_RELAXED);
		return;
	}
	pid = raw_clone0();
	if (pid == 0)
		child_main(probe, test);
	if (pid < 0) {
		__atomic_store_n(&g_slots[slot], 0, __ATOMIC_RELEASE);
		__atomic_add_fetch(&s->inv_fork_failed, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(&s->inv_forked, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->inv_live, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&g_slots[slot], (int32_t)pid, __ATOMIC_RELEASE);
	/* the control thread then reaps every tick instead of every second */
	raw_futex_wake(&s->req_seq);
}

/* The remaining code runs on the control thread only (vector registers are free there, but
 * nothing here needs them). */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool pk_lib_invivo_reap(void)
{
	struct pk_iprobe_shm *s = pk_lib_shm;
	uint64_t now = 0, deadline_ns;
	char path[sizeof(s->inv_log)];
	bool live = false;

	if (!s)
		return false;
	deadline_ns = (uint64_t)__atomic_load_n(&s->inv_deadline_ms, __ATOMIC_RELAXED) * 1000000;
	memcpy(path, s->inv_log, sizeof(path));
	path[sizeof(path) - 1] = 0;
	for (int i = 0; i < PK_IPROBE_INVIVO_MAX_LIVE; i++) {
		int32_t pid = __atomic_load_n(&g_slots[i], __ATOMIC_ACQUIRE);
		int st;
		pid_t r;

		if (pid <= 0) {
			g_seen[i] = 0;
			live |= pid < 0;
			continue;
		}
		if (!now)
			now = mono_ns();
		if (!g_seen[i])
			g_seen[i] = now;
		r = waitpid(pid, &st, WNOHANG | __WCLONE);
		if (r == 0) {
			live = true;
			if (deadline_ns && now - g_seen[i] > deadline_ns &&
			    g_seen[i] != UINT64_MAX) {
				kill(pid, SIGKILL);
				g_seen[i] =
					UINT64_MAX; /* killed: counted as timed out when reaped */
			}
			continue;
		}
		if (r < 0 && errno == EINTR) {
			live = true;
			continue;
		}
		if (r == pid) {
			if (g_seen[i] == UINT64_MAX) {
				__atomic_add_fetch(&s->inv_timed_out, 1, __ATOMIC_RELAXED);
				log_line(path, "pk-invivo pid=%d verdict=timeout\n", pid);
			} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
				__atomic_add_fetch(&s->inv_passed, 1, __ATOMIC_RELAXED);
			} else if (WIFEXITED(st)) {
				__atomic_add_fetch(&s->inv_failed, 1, __ATOMIC_RELAXED);
			} else {
				__atomic_add_fetch(&s->inv_crashed, 1, __ATOMIC_RELAXED);
				log_line(path, "pk-invivo pid=%d verdict=crash signal=%d\n", pid,
					 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
			}
		}
		/* reaped, or not ours to wait for any more (ECHILD): the slot is free */
		g_seen[i] = 0;
		__atomic_sub_fetch(&s->inv_live, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&g_slots[i], 0, __ATOMIC_RELEASE);
	}
	return live;
}
