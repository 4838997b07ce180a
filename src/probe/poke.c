/* poke.c — the stop-the-world fallback: rewrites a few bytes of a live target's code while
 * every one of its threads is stopped and none has its program counter in a guarded range.
 *
 *   seize      list /proc/PID/task, PTRACE_SEIZE + PTRACE_INTERRUPT each new thread, wait for
 *              its stop; list again until a listing made while all known threads are stopped
 *              shows no new one (a thread not stopped yet may have created one meanwhile)
 *   check      each thread's rip against each poke's [guard_lo, guard_hi): one inside -> detach
 *              all, let the target run 1 ms (back-off so the thread can leave the range, not
 *              synchronisation: the next attempt looks again), retry
 *   write      every poke's expected bytes first (all or nothing), then the new bytes, through
 *              /proc/PID/mem; detach all
 * A signal that reaches a thread before its stop is delivered at once (PTRACE_CONT with it).
 */
#include "probe/inject.h"

#include "common/clock.h"
#include "common/errbuf.h"
#include "probe/inject_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PK_POKE_STOP_MS 2000	   /* for one thread to stop */
#define PK_POKE_BACKOFF_NS 1000000 /* between attempts */
#define PK_POKE_THREADS_MAX 65536

/* The threads held by one attempt (tid 0: exited meanwhile). */
struct poke_threads {
	pid_t *tid;
	size_t n, cap;
};

static bool threads_have(const struct poke_threads *t, pid_t tid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->tid[i] == tid)
			return true;
	return false;
}

static int threads_add(struct poke_threads *t, pid_t tid)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		pid_t *p;

		if (cap > PK_POKE_THREADS_MAX)
			return -E2BIG;
		p = realloc(t->tid, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->tid = p;
		t->cap = cap;
	}
	t->tid[t->n++] = tid;
	return 0;
}

static void detach_all(struct poke_threads *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->tid[i])
			ptrace(PTRACE_DETACH, t->tid[i], 0, 0);
	t->n = 0;
}

/* Waits for the interrupt stop of t->tid[i]; a thread that exits is dropped (tid 0). */
static int wait_stop(struct poke_threads *t, size_t i, char *err, size_t errlen)
{
	uint64_t deadline = pk_now_ns() + PK_POKE_STOP_MS * 1000000ull;
	int st, rc;

	for (;;) {
		rc = pk_ptrace_wait(t->tid[i], deadline, &st);
		if (rc == 0)
			return pk_errbuf_set(-ETIMEDOUT, err, errlen,
					     "thread %d did not stop within %d ms", (int)t->tid[i],
					     PK_POKE_STOP_MS);
		if (rc < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
			t->tid[i] = 0;
			return 0;
		}
		if (!WIFSTOPPED(st))
			continue;
		if ((st >> 16) == PTRACE_EVENT_STOP)
			return 0;
		/* a signal-delivery stop before ours: deliver it now */
		if (ptrace(PTRACE_CONT, t->tid[i], 0,
			   (void *)(long)((st >> 16) ? 0 : WSTOPSIG(st))) < 0) {
			t->tid[i] = 0;
			return 0;
		}
	}
}

/* One pass over /proc/PID/task: seizes and interrupts the threads not held yet. *added counts
 * them; *first_ns gets the time of the attempt's first interrupt. */
static int seize_new(pid_t pid, struct poke_threads *t, size_t *added, uint64_t *first_ns,
		     char *err, size_t errlen)
{
	char path[64];
	struct dirent *de;
	int rc = 0;
	DIR *d;

	*added = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return pk_errbuf_set(-ESRCH, err, errlen, "%d exited", (int)pid);
	while (rc == 0 && (de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end || tid <= 0 || threads_have(t, (pid_t)tid))
			continue;
		rc = threads_add(t, (pid_t)tid);
		if (rc < 0) {
			pk_errbuf_set(rc, err, errlen, "too many threads in %d", (int)pid);
			break;
		}
		if (ptrace(PTRACE_SEIZE, (pid_t)tid, 0, 0) < 0) {
			t->n--;
			if (errno == ESRCH)
				continue; /* exited meanwhile */
			rc = pk_errbuf_set(errno == EPERM ? -EPERM : -errno, err, errlen,
					   "PTRACE_SEIZE %ld of %d: %s", tid, (int)pid,
					   strerror(errno));
			break;
		}
		if (*first_ns == 0)
			*first_ns = pk_now_ns();
		if (ptrace(PTRACE_INTERRUPT, (pid_t)tid, 0, 0) < 0)
			t->tid[t->n - 1] = 0; /* exited meanwhile */
		(*added)++;
	}
	closedir(d);
	return rc;
}

/* Stops every thread of pid into t. */
static int stop_world(pid_t pid, struct poke_threads *t, uint64_t *first_ns, char *err,
		      size_t errlen)
{
	size_t added, from;
	int rc;

	do {
		from = t->n;
		rc = seize_new(pid, t, &added, first_ns, err, errlen);
		for (size_t i = from; i < t->n; i++) {
			if (!t->tid[i])
				continue;
			int wrc = wait_stop(t, i, err, errlen);

			if (wrc < 0 && rc == 0)
				rc = wrc;
		}
		if (rc < 0)
			return rc;
	} while (added);
	for (size_t i = 0; i < t->n; i++)
		if (t->tid[i])
			return 0;
	return pk_errbuf_set(-ESRCH, err, errlen, "%d exited", (int)pid);
}

/* The first held thread whose rip lies in a guard range (0 if none); *pc gets its rip.  A
 * thread in the range of a poke with skip_to (a run of NOPs) is moved to skip_to instead:
 * skipping NOPs changes nothing, and the thread no longer stands inside the bytes. */
static pid_t thread_in_guard(const struct poke_threads *t, const struct pk_poke *pokes, size_t n,
			     uint64_t *pc)
{
	for (size_t i = 0; i < t->n; i++) {
		struct user_regs_struct regs;

		if (!t->tid[i] || ptrace(PTRACE_GETREGS, t->tid[i], 0, &regs) < 0)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (regs.rip < pokes[k].guard_lo || regs.rip >= pokes[k].guard_hi)
				continue;
			if (pokes[k].skip_to) {
				regs.rip = pokes[k].skip_to;
				if (!ptrace(PTRACE_SETREGS, t->tid[i], 0, &regs))
					continue;
			}
			*pc = regs.rip;
			return t->tid[i];
		}
	}
	return 0;
}

/* Checks every poke's expected bytes, then writes them all (undoing on a failed write). */
static int write_pokes(int memfd, pid_t pid, const struct pk_poke *pokes, size_t n, char *err,
		       size_t errlen)
{
	uint8_t now[16];
	size_t k;
	int rc;

	for (k = 0; k < n; k++) {
		rc = pk_ptrace_mem_read(memfd, pokes[k].addr, now, pokes[k].len);
		if (rc < 0)
			return pk_errbuf_set(rc, err, errlen, "read %#llx of %d: %s",
					     (unsigned long long)pokes[k].addr, (int)pid,
					     strerror(-rc));
		if (memcmp(now, pokes[k].expect, pokes[k].len) != 0)
			return pk_errbuf_set(-EILSEQ, err, errlen,
					     "unexpected bytes at %#llx of %d: nothing written",
					     (unsigned long long)pokes[k].addr, (int)pid);
	}
	for (k = 0; k < n; k++) {
		rc = pk_ptrace_mem_write(memfd, pokes[k].addr, pokes[k].bytes, pokes[k].len);
		if (rc < 0)
			break;
	}
	if (k == n)
		return 0;
	pk_errbuf_set(rc, err, errlen, "write %#llx of %d: %s", (unsigned long long)pokes[k].addr,
		      (int)pid, strerror(-rc));
	while (k-- > 0)
		pk_ptrace_mem_write(memfd, pokes[k].addr, pokes[k].expect, pokes[k].len);
	return rc;
}

int pk_inject_poke(pid_t pid, const struct pk_poke *pokes, size_t n, int retries,
		   uint64_t *pause_ns, char *err, size_t errlen)
{
	struct poke_threads t = { 0 };
	uint64_t longest = 0, pc = 0;
	pid_t busy = 0;
	char path[64];
	int memfd, rc = 0;

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
	memfd = open(path, O_RDWR | O_CLOEXEC);
	if (memfd < 0) {
		rc = errno == ENOENT ? -ESRCH : -errno;
		return pk_errbuf_set(rc, err, errlen, "open %s: %s", path, strerror(errno));
	}
	for (int attempt = 0; attempt <= retries; attempt++) {
		uint64_t first = 0;

		if (attempt > 0) {
			struct timespec ts = { 0, PK_POKE_BACKOFF_NS };

			nanosleep(&ts, NULL);
		}
		rc = stop_world(pid, &t, &first, err, errlen);
		if (rc == 0) {
			busy = thread_in_guard(&t, pokes, n, &pc);
			if (!busy)
				rc = write_pokes(memfd, pid, pokes, n, err, errlen);
		}
		detach_all(&t);
		if (first && pk_now_ns() - first > longest)
			longest = pk_now_ns() - first;
		if (rc < 0 || !busy)
			break;
	}
	if (rc == 0 && busy)
		rc = pk_errbuf_set(-EBUSY, err, errlen,
				   "thread %d of %d stayed in a guarded range (pc %#llx) after %d "
				   "tries",
				   (int)busy, (int)pid, (unsigned long long)pc, retries + 1);
	if (pause_ns)
		*pause_ns = longest;
	free(t.tid);
	close(memfd);
	return rc;
}
