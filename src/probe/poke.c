/* poke.c — the ptrace fallback: rewrites a few bytes of a live target's code without stopping
 * the process: each thread is stopped only while we look at it, and resumed at once.
 *
 *   seize    PTRACE_SEIZE every thread of /proc/PID/task with PTRACE_O_TRACECLONE (threads
 *            created later are traced from birth); list again until nothing is new.  Nothing
 *            stops.
 *   trap     every poke's expected bytes checked (all or nothing), then its first byte made an
 *            int3 (a one-byte store: a thread fetches the old byte or the new one).  A thread
 *            that reaches it traps to us: moved to skip_to when the poke has one (the bytes are
 *            NOPs, or a call whose skipping is what "off" means), else held until the end.
 *   check    each thread interrupted, its PC read, resumed at once: a PC inside a guard range is
 *            moved to skip_to or (no skip_to) looked at again 1 ms later, up to `retries`
 *            times.  A thread checked once cannot enter a range again: its way in is the int3.
 *   write    every poke's bytes after the first, then the first bytes.
 *   release  each thread interrupted and detached; one that trapped meanwhile goes back to the
 *            poke's address and runs the bytes now there.
 * A failure after the trap puts the first bytes back before the release.  A signal that
 * reaches a thread meanwhile is delivered at once.  The waits poll (waitid WNOWAIT for any
 * child's event, then each thread in turn, with a back-off of at most 200 us between empty rounds),
 * at most PK_POKE_WINDOW threads interrupted at a time, as SCHED_FIFO (else nice -20) so that a
 * stopped thread never waits for us to get a core.  A thread's stop is timed from the latest of its
 * interrupt, its last resume and the last poll that found no stop, to its resume: an upper
 * bound.  While the int3 is in place every hit of the site is a round trip through us (tens of
 * microseconds), so a thread that calls the function in a loop is stopped that often.
 */
#include "probe/inject.h"

#include "common/clock.h"
#include "common/errbuf.h"
#include "common/proc.h"
#include "probe/inject_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long to wait for the threads asked to stop (a thread at nice 19 on a loaded machine may
 * wait seconds for a core), and for the last ones to let go (one may have a trap of ours to
 * report, which would kill the process once untraced). */
#define PK_POKE_STOP_MS 10000
#define PK_POKE_RELEASE_MS 60000
#define PK_POKE_RETRY_NS 1000000   /* before a thread in a guard range is looked at again */
#define PK_POKE_POLL_MAX_NS 200000 /* longest back-off between two empty polling rounds */
#define PK_POKE_THREADS_MAX 65536
#define PK_POKE_WINDOW 64 /* threads interrupted and not seen yet, at most */
#define INT3 0xcc

enum thr_state {
	THR_RUN,   /* running, traced */
	THR_ASKED, /* interrupted, its stop not seen yet */
	THR_HELD,  /* trapped at a poke without skip_to: stopped until the bytes are final */
	THR_GONE,  /* detached, or exited */
};

struct thr {
	pid_t tid;
	uint8_t state;
	bool checked;	   /* seen outside every guard range since the trap */
	bool want;	   /* to be interrupted (at most PK_POKE_WINDOW at a time) */
	uint64_t stop_ns;  /* THR_HELD: when its stop began (at the latest) */
	uint64_t asked_ns; /* when it was last interrupted (it cannot have stopped for us before) */
	uint64_t seen_ns;  /* the last time a poll found it not stopped */
	uint64_t pc;	   /* last PC seen */
};

/* One rewrite in progress. */
struct poke_run {
	pid_t pid;
	int memfd;
	const struct pk_poke *pokes;
	size_t n;
	struct thr *t;
	size_t nt, cap;
	bool trapped;	  /* int3s written (not yet replaced by the final or the old bytes) */
	bool release;	  /* stops detach the thread */
	uint64_t longest; /* longest stop of one thread */
};

static struct thr *thr_find(struct poke_run *r, pid_t tid)
{
	for (size_t i = 0; i < r->nt; i++)
		if (r->t[i].tid == tid)
			return &r->t[i];
	return NULL;
}

static int thr_add(struct poke_run *r, pid_t tid, bool checked)
{
	if (r->nt == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct thr *p;

		if (cap > PK_POKE_THREADS_MAX)
			return -E2BIG;
		p = realloc(r->t, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->t = p;
		r->cap = cap;
	}
	r->t[r->nt++] = (struct thr){ .tid = tid, .checked = checked, .seen_ns = pk_now_ns() };
	return 0;
}

/* The poke whose first byte is at addr, or NULL. */
static const struct pk_poke *poke_at(const struct poke_run *r, uint64_t addr)
{
	for (size_t k = 0; k < r->n; k++)
		if (r->pokes[k].addr == addr)
			return &r->pokes[k];
	return NULL;
}

/* Lets a stopped thread go (resumed, or detached in the release phase) and times its stop. */
static void thr_go(struct poke_run *r, struct thr *th, int sig, bool group_stop)
{
	uint64_t from = th->state == THR_HELD	     ? th->stop_ns
			: th->asked_ns > th->seen_ns ? th->asked_ns
						     : th->seen_ns;
	uint64_t held = pk_now_ns() - from;
	long rc;

	if (r->release)
		rc = ptrace(PTRACE_DETACH, th->tid, 0, (void *)(long)sig);
	else if (group_stop)
		rc = ptrace(PTRACE_LISTEN, th->tid, 0, 0);
	else
		rc = ptrace(PTRACE_CONT, th->tid, 0, (void *)(long)sig);
	if (held > r->longest)
		r->longest = held;
	th->seen_ns = pk_now_ns(); /* its next stop comes after this */
	if (rc < 0 || r->release)
		th->state = THR_GONE;
	else if (th->state == THR_HELD || th->state == THR_ASKED)
		th->state = THR_RUN;
}

/* Whether stopped thread tid has a SIGTRAP pending for itself (an int3 it ran just before its
 * stop): its own signal queue, read through ptrace (one system call; /proc/TID/status took tens
 * of microseconds, which every thread handled after it in a polling round waited for). */
static bool trap_pending(pid_t tid)
{
	struct __ptrace_peeksiginfo_args a = { .off = 0, .flags = 0, .nr = 16 };
	siginfo_t si[16];
	long n;

	do {
		n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, si);
		for (long i = 0; i < n; i++)
			if (si[i].si_signo == SIGTRAP)
				return true;
		a.off += (uint64_t)(n > 0 ? n : 0);
	} while (n == a.nr);
	return false;
}

/* A thread stopped at our request (or in a group stop): its PC looked at, then let go.  One
 * that ran an int3 just before has its SIGTRAP still to come: resumed to report it (thr_trap),
 * neither moved nor detached before (untraced, the trap would kill the process). */
static void thr_stopped(struct poke_run *r, struct thr *th, bool group_stop)
{
	struct user_regs_struct regs;

	if (!group_stop && trap_pending(th->tid)) {
		if (ptrace(PTRACE_CONT, th->tid, 0, 0) < 0)
			th->state = THR_GONE;
		else
			th->state = THR_ASKED;
		return;
	}
	if (!r->release && !th->checked && !ptrace(PTRACE_GETREGS, th->tid, 0, &regs)) {
		bool inside = false;

		for (size_t k = 0; k < r->n && !inside; k++) {
			const struct pk_poke *p = &r->pokes[k];

			if (regs.rip < p->guard_lo || regs.rip >= p->guard_hi)
				continue;
			inside = true;
			if (p->skip_to) {
				regs.rip = p->skip_to;
				inside = ptrace(PTRACE_SETREGS, th->tid, 0, &regs) < 0;
			}
		}
		th->pc = regs.rip;
		th->checked = !inside;
	}
	thr_go(r, th, 0, group_stop);
}

/* A SIGTRAP stop: at one of our int3s, the thread skips the poke, waits for its final bytes
 * or, once they are written, runs them; any other trap is delivered. */
static void thr_trap(struct poke_run *r, struct thr *th)
{
	const long at =
		(long)(offsetof(struct user, regs) + offsetof(struct user_regs_struct, rip));
	const struct pk_poke *p;
	long rip;

	/* the PC alone (a word each way, not every register: a hit of the int3 is frequent) */
	errno = 0;
	rip = ptrace(PTRACE_PEEKUSER, th->tid, (void *)at, 0);
	if ((rip == -1 && errno) || !(p = poke_at(r, (uint64_t)rip - 1))) {
		thr_go(r, th, SIGTRAP, false);
		return;
	}
	if (r->trapped && !p->skip_to) {
		th->state = THR_HELD;
		th->stop_ns = th->seen_ns;
		th->pc = (uint64_t)rip;
		return;
	}
	if (ptrace(PTRACE_POKEUSER, th->tid, (void *)at,
		   (void *)(r->trapped ? p->skip_to : p->addr)) < 0) {
		th->state = THR_GONE;
		return;
	}
	th->checked = true;
	thr_go(r, th, 0, false);
}

/* Handles one wait status of thread i (r->t may grow: an index, not a pointer). */
static int thr_event(struct poke_run *r, size_t i, int st)
{
	int ev = st >> 16, sig = WSTOPSIG(st);

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		r->t[i].state = THR_GONE;
		return 0;
	}
	if (!WIFSTOPPED(st))
		return 0;
	if (ev == PTRACE_EVENT_CLONE) {
		unsigned long tid = 0;
		int rc = 0;

		/* a thread born now starts in the C library, outside every range; traced from
		 * birth, it reports a first stop by itself (hence "asked") */
		if (!ptrace(PTRACE_GETEVENTMSG, r->t[i].tid, 0, &tid) && tid &&
		    !thr_find(r, (pid_t)tid)) {
			rc = thr_add(r, (pid_t)tid, true);
			if (rc == 0)
				r->t[r->nt - 1].state = THR_ASKED;
		}
		if (ptrace(PTRACE_CONT, r->t[i].tid, 0, 0) < 0)
			r->t[i].state = THR_GONE;
		return rc;
	}
	if (ev == PTRACE_EVENT_STOP)
		thr_stopped(r, &r->t[i], sig != SIGTRAP);
	else if (ev == 0 && sig == SIGTRAP)
		thr_trap(r, &r->t[i]);
	else if (ptrace(PTRACE_CONT, r->t[i].tid, 0, (void *)(long)(ev ? 0 : sig)) < 0)
		r->t[i].state = THR_GONE; /* a signal on its way: delivered now */
	return 0;
}

/* One polling round over every traced thread; the number of events handled or -errno.
 * waitid(WNOWAIT) first peeks at any child's event: one system call tells that no thread has
 * one (all were running then).  Otherwise every thread is asked in turn: the peek always
 * returns the first thread with an event, and one that traps again at once would starve the
 * others.  A child of the caller's own is never reaped (waits name our threads). */
static int poll_round(struct poke_run *r)
{
	siginfo_t si = { 0 };
	uint64_t now = pk_now_ns();
	int events = 0;

	if (waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) < 0 ||
	    si.si_pid == 0) {
		for (size_t i = 0; i < r->nt; i++)
			r->t[i].seen_ns = now;
		return 0;
	}
	for (size_t i = 0; i < r->nt; i++) {
		int st, rc;

		now = pk_now_ns();
		if (r->t[i].state == THR_GONE || r->t[i].state == THR_HELD)
			continue;
		if (waitpid(r->t[i].tid, &st, __WALL | WNOHANG) != r->t[i].tid) {
			r->t[i].seen_ns = now;
			continue;
		}
		events++;
		rc = thr_event(r, i, st);
		if (rc < 0)
			return rc;
	}
	return events;
}

/* Marks for an interrupt every running thread that needs one (all in the release phase, the
 * unchecked ones before); poll_until sends them a few at a time. */
static void ask_all(struct poke_run *r)
{
	for (size_t i = 0; i < r->nt; i++)
		r->t[i].want = r->t[i].state == THR_RUN && (r->release || !r->t[i].checked);
}

/* Interrupts marked threads while fewer than PK_POKE_WINDOW are waited for: each is seen soon
 * after its stop, not after the stops of all the others.  Whether any is left to wait for. */
static bool ask_some(struct poke_run *r)
{
	size_t asked = 0;
	bool left = false;

	for (size_t i = 0; i < r->nt; i++)
		asked += r->t[i].state == THR_ASKED;
	for (size_t i = 0; i < r->nt; i++) {
		struct thr *th = &r->t[i];

		if (!th->want)
			continue;
		if (th->state != THR_RUN) {
			th->want = false;
			continue;
		}
		if (asked >= PK_POKE_WINDOW) {
			left = true;
			break;
		}
		th->want = false;
		th->asked_ns = pk_now_ns();
		th->state = ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0 ? THR_GONE : THR_ASKED;
		asked += th->state == THR_ASKED;
	}
	return left || asked;
}

/* Interrupts the marked threads and polls until none is left to wait for, or until deadline_ns
 * (then -ETIMEDOUT; 0 for deadline_ns as a plain time to spend polling when until_quiet is false).
 */
static int poll_until(struct poke_run *r, uint64_t deadline_ns, bool until_quiet)
{
	long backoff = 10000;

	for (;;) {
		int ev;

		if (!ask_some(r) && until_quiet)
			return 0;
		ev = poll_round(r);
		if (ev < 0)
			return ev;
		if (pk_now_ns() >= deadline_ns)
			return until_quiet ? -ETIMEDOUT : 0;
		if (ev) {
			backoff = 10000;
			continue;
		}
		/* back-off between empty rounds, not synchronisation: waitpid decides */
		struct timespec ts = { 0, backoff };

		nanosleep(&ts, NULL);
		if (backoff < PK_POKE_POLL_MAX_NS)
			backoff *= 2;
	}
}

/* Seizes every thread of r->pid (nothing stops). */
static int seize_all(struct poke_run *r, char *err, size_t errlen)
{
	char path[64];
	size_t added;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)r->pid);
	do {
		struct dirent *de;
		DIR *d = opendir(path);
		int rc = 0;

		if (!d)
			return pk_errbuf_set(-ESRCH, err, errlen, "%d exited", (int)r->pid);
		added = 0;
		while (rc == 0 && (de = readdir(d))) {
			char *end;
			long tid = strtol(de->d_name, &end, 10);

			if (*end || tid <= 0 || thr_find(r, (pid_t)tid))
				continue;
			if (ptrace(PTRACE_SEIZE, (pid_t)tid, 0, (void *)(long)PTRACE_O_TRACECLONE) <
			    0) {
				if (errno == ESRCH)
					continue; /* exited meanwhile */
				/* traced by us already: born of a seized thread (its clone event
				 * comes with the next poll) */
				if (errno == EPERM && pk_ptrace_tracer((pid_t)tid) == getpid())
					continue;
				rc = pk_errbuf_set(errno == EPERM ? -EPERM : -errno, err, errlen,
						   "PTRACE_SEIZE %ld of %d: %s", tid, (int)r->pid,
						   strerror(errno));
				break;
			}
			rc = thr_add(r, (pid_t)tid, false);
			if (rc < 0)
				pk_errbuf_set(rc, err, errlen, "too many threads in %d",
					      (int)r->pid);
			added++;
		}
		closedir(d);
		if (rc == 0)
			rc = poll_round(r);
		if (rc < 0)
			return rc;
	} while (added);
	return 0;
}

/* Checks every thread, retrying those in a guard range; 0, -EBUSY or -ETIMEDOUT. */
static int check_all(struct poke_run *r, int retries, char *err, size_t errlen)
{
	for (int attempt = 0;; attempt++) {
		const struct thr *busy = NULL;
		int rc;

		ask_all(r);
		rc = poll_until(r, pk_now_ns() + PK_POKE_STOP_MS * 1000000ull, true);
		if (rc == -ETIMEDOUT) {
			for (size_t i = 0; i < r->nt; i++)
				if (r->t[i].state == THR_ASKED)
					return pk_errbuf_set(-ETIMEDOUT, err, errlen,
							     "thread %d did not stop within %d ms",
							     (int)r->t[i].tid, PK_POKE_STOP_MS);
		}
		if (rc < 0)
			return pk_errbuf_set(rc, err, errlen, "wait for the threads of %d: %s",
					     (int)r->pid, strerror(-rc));
		for (size_t i = 0; i < r->nt && !busy; i++)
			if (r->t[i].state != THR_GONE && !r->t[i].checked)
				busy = &r->t[i];
		if (!busy)
			return 0;
		if (attempt >= retries)
			return pk_errbuf_set(-EBUSY, err, errlen,
					     "thread %d of %d stayed in a guarded range (pc %#llx) "
					     "after %d tries",
					     (int)busy->tid, (int)r->pid,
					     (unsigned long long)busy->pc, retries + 1);
		rc = poll_until(r, pk_now_ns() + PK_POKE_RETRY_NS, false);
		if (rc < 0)
			return rc;
	}
}

/* What write_part writes: each poke's new bytes, its old ones, or an int3 (first byte only). */
enum poke_src { SRC_NEW, SRC_OLD, SRC_INT3 };

/* Writes, for every poke, the first byte (first) or the bytes after it of what src names; 0 or
 * -errno. */
static int write_part(struct poke_run *r, enum poke_src src, bool first, char *err, size_t errlen)
{
	static const uint8_t int3_byte[1] = { INT3 };

	for (size_t k = 0; k < r->n; k++) {
		const struct pk_poke *p = &r->pokes[k];
		const uint8_t *b = src == SRC_NEW   ? p->bytes
				   : src == SRC_OLD ? p->expect
						    : int3_byte;
		int rc = first ? pk_ptrace_mem_write(r->memfd, p->addr, b, 1)
			       : pk_ptrace_mem_write(r->memfd, p->addr + 1, b + 1, p->len - 1u);

		if (rc < 0)
			return pk_errbuf_set(rc, err, errlen, "write %#llx of %d (%s): %s",
					     (unsigned long long)p->addr, (int)r->pid,
					     first ? "first byte" : "the rest", strerror(-rc));
	}
	return 0;
}

/* Checks every poke's expected bytes; 0 or -EILSEQ / -errno (nothing written). */
static int check_bytes(struct poke_run *r, char *err, size_t errlen)
{
	for (size_t k = 0; k < r->n; k++) {
		const struct pk_poke *p = &r->pokes[k];
		uint8_t now[16];
		int rc = pk_ptrace_mem_read(r->memfd, p->addr, now, p->len);

		if (rc < 0)
			return pk_errbuf_set(rc, err, errlen, "read %#llx of %d: %s",
					     (unsigned long long)p->addr, (int)r->pid,
					     strerror(-rc));
		if (memcmp(now, p->expect, p->len) != 0)
			return pk_errbuf_set(-EILSEQ, err, errlen,
					     "unexpected bytes at %#llx of %d: nothing written",
					     (unsigned long long)p->addr, (int)r->pid);
	}
	return 0;
}

/* Detaches every thread: held ones go back to their poke's address, the others are
 * interrupted and detached at their stop. */
static void release_all(struct poke_run *r)
{
	r->release = true;
	r->trapped = false;
	for (size_t i = 0; i < r->nt; i++) {
		struct thr *th = &r->t[i];
		struct user_regs_struct regs;

		if (th->state != THR_HELD)
			continue;
		if (!ptrace(PTRACE_GETREGS, th->tid, 0, &regs)) {
			regs.rip--;
			ptrace(PTRACE_SETREGS, th->tid, 0, &regs);
		}
		thr_go(r, th, 0, false);
	}
	ask_all(r);
	/* a thread that does not stop even then stays traced until we exit */
	poll_until(r, pk_now_ns() + PK_POKE_RELEASE_MS * 1000000ull, true);
}

int pk_inject_poke(pid_t pid, const struct pk_poke *pokes, size_t n, int retries,
		   uint64_t *pause_ns, char *err, size_t errlen)
{
	struct poke_run r = { .pid = pid, .pokes = pokes, .n = n, .memfd = -1 };
	sigset_t block, old;
	char path[64];
	int rc, prio = -21, oldpol;
	struct sched_param oldsp;
	bool fifo = false;

	if (pause_ns)
		*pause_ns = 0;
	for (size_t k = 0; k < n; k++)
		if (pokes[k].len == 0 || pokes[k].len > sizeof(pokes[k].bytes))
			return pk_errbuf_set(-EINVAL, err, errlen, "poke %zu: length %u", k,
					     (unsigned)pokes[k].len);
	rc = pk_ptrace_untraced(pid, err, errlen);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	r.memfd = open(path, O_RDWR | O_CLOEXEC);
	if (r.memfd < 0) {
		rc = errno == ENOENT ? -ESRCH : -errno;
		return pk_errbuf_set(rc, err, errlen, "open %s: %s", path, strerror(errno));
	}
	/* an int3 left behind would kill the target at its next hit: no signal of ours ends
	 * this between the trap and the release (SIGKILL still can: then the threads are
	 * detached by the kernel with the int3s in place) */
	sigfillset(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	/* a thread of the target waits for us while it is stopped: we go first (SCHED_FIFO where
	 * allowed, else nice -20; we sleep between empty polling rounds, so no core is taken) */
	oldpol = sched_getscheduler(0);
	if (oldpol >= 0 && sched_getparam(0, &oldsp) == 0 &&
	    sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){ .sched_priority = 1 }) == 0)
		fifo = true;
	errno = 0;
	prio = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && !fifo)
		setpriority(PRIO_PROCESS, 0, -20);
	else
		prio = -21;
	rc = seize_all(&r, err, errlen);
	if (rc == 0)
		rc = check_bytes(&r, err, errlen);
	if (rc == 0) {
		r.trapped = true;
		rc = write_part(&r, SRC_INT3, true, err, errlen);
		if (rc == 0)
			rc = check_all(&r, retries, err, errlen);
		if (rc == 0)
			rc = write_part(&r, SRC_NEW, false, err, errlen);
		if (rc == 0)
			rc = write_part(&r, SRC_NEW, true, err, errlen);
		if (rc < 0) {
			/* the old bytes back, behind an int3 again */
			write_part(&r, SRC_INT3, true, NULL, 0);
			write_part(&r, SRC_OLD, false, NULL, 0);
			write_part(&r, SRC_OLD, true, NULL, 0);
		}
	}
	release_all(&r);
	if (fifo)
		sched_setscheduler(0, oldpol, &oldsp);
	if (prio != -21)
		setpriority(PRIO_PROCESS, 0, prio);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pause_ns)
		*pause_ns = r.longest;
	free(r.t);
	close(r.memfd);
	return rc;
}
