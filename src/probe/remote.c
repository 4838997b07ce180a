/* remote.c — calls a function of a live target on one of its threads through ptrace (see the
 * picture in inject_int.h): attach saves the thread's registers, FPU state and the stack bytes
 * below its red zone; each call builds a frame there whose return address is 0, so that the
 * function's return faults at rip 0 — the SIGSEGV stop we wait for; detach puts everything back.
 *
 * Signals that reach the thread during a call: a fault of the called code itself (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGTRAP sent by the kernel) is delivered, as it would be had the
 * program called the function; any other signal is held back and sent again with tgkill once
 * the thread has its own registers back (one of each number: real-time signals queued twice
 * arrive once, and their siginfo is lost).  Signals before our stop are delivered at once.
 */
#include "probe/inject_int.h"

#include "common/clock.h"
#include "common/errbuf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PK_REMOTE_RESTOP_MS 2000

static bool is_event_stop(int status)
{
	return WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP;
}

/* A signal-delivery stop during a call: deliver a fault of the called code, hold back the rest.
 * Returns the signal to resume with. */
static int remote_sort_signal(struct pk_remote *r, int sig)
{
	siginfo_t si;

	if ((sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP) &&
	    ptrace(PTRACE_GETSIGINFO, r->tid, 0, &si) == 0 && si.si_code > 0)
		return sig;
	if (sig >= 1 && sig <= 64)
		r->pending_sigs |= 1ull << (sig - 1);
	return 0;
}

/* After the target exited under us: nothing to restore. */
static int remote_gone(struct pk_remote *r, char *err, size_t errlen)
{
	r->attached = false;
	if (r->memfd >= 0)
		close(r->memfd);
	r->memfd = -1;
	return pk_errbuf_set(-ESRCH, err, errlen, "%d exited during injection", (int)r->pid);
}

/* Waits for the interrupt stop of r->tid (already sent), passing or holding signals (`in_call`:
 * hold asynchronous ones as during a call, else deliver them now). */
static int remote_wait_interrupt(struct pk_remote *r, bool in_call, int timeout_ms, char *err,
				 size_t errlen)
{
	uint64_t deadline = pk_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int st, rc;

	for (;;) {
		rc = pk_ptrace_wait(r->tid, deadline, &st);
		if (rc < 0)
			return pk_errbuf_set(rc, err, errlen, "waitpid %d: %s", (int)r->tid,
					     strerror(-rc));
		if (rc == 0)
			return pk_errbuf_set(-ETIMEDOUT, err, errlen,
					     "thread %d did not stop within %d ms", (int)r->tid,
					     timeout_ms);
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return remote_gone(r, err, errlen);
		if (is_event_stop(st))
			return 0;
		if (WIFSTOPPED(st)) {
			int sig = WSTOPSIG(st);

			if ((st >> 16) != 0)
				sig = 0;
			else if (in_call)
				sig = remote_sort_signal(r, sig);
			if (ptrace(PTRACE_CONT, r->tid, 0, (void *)(long)sig) < 0 && errno == ESRCH)
				return remote_gone(r, err, errlen);
		}
	}
}

int pk_remote_attach(struct pk_remote *r, pid_t pid, pid_t tid, int timeout_ms, char *err,
		     size_t errlen)
{
	char path[64];
	struct iovec iov;
	int rc;

	r->pid = pid;
	r->tid = tid;
	r->memfd = -1;
	r->attached = false;
	r->pending_sigs = 0;
	rc = pk_ptrace_untraced(pid, err, errlen);
	if (rc)
		return rc;
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
		rc = -errno;
		if (rc == -EPERM)
			return pk_errbuf_set(rc, err, errlen,
					     "ptrace of %d not permitted (needs CAP_SYS_PTRACE or "
					     "the same user, and kernel.yama.ptrace_scope allowing "
					     "it)",
					     (int)pid);
		if (rc == -ESRCH)
			return pk_errbuf_set(rc, err, errlen, "no process %d", (int)pid);
		return pk_errbuf_set(rc, err, errlen, "PTRACE_SEIZE %d: %s", (int)tid,
				     strerror(-rc));
	}
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		rc = -errno;
		return pk_errbuf_set(rc, err, errlen, "PTRACE_INTERRUPT %d: %s", (int)tid,
				     strerror(-rc));
	}
	/* a thread that cannot stop (uninterruptible sleep past the timeout) stays seized until
	 * it stops, then stays stopped until we exit: rare enough to report, not to handle */
	rc = remote_wait_interrupt(r, false, timeout_ms, err, errlen);
	if (rc < 0)
		return rc;
	r->attached = true;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	r->memfd = open(path, O_RDWR | O_CLOEXEC);
	if (r->memfd < 0) {
		rc = pk_errbuf_set(-errno, err, errlen, "open %s: %s", path, strerror(errno));
		goto undo_seize;
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &r->saved) < 0) {
		rc = pk_errbuf_set(-errno, err, errlen, "PTRACE_GETREGS %d: %s", (int)tid,
				   strerror(errno));
		goto undo_seize;
	}
	iov.iov_base = r->xstate;
	iov.iov_len = sizeof(r->xstate);
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) == 0) {
		r->xstate_len = iov.iov_len;
	} else if (ptrace(PTRACE_GETFPREGS, tid, 0, r->xstate) == 0) {
		r->xstate_len = 0;
	} else {
		rc = pk_errbuf_set(-errno, err, errlen, "PTRACE_GETFPREGS %d: %s", (int)tid,
				   strerror(errno));
		goto undo_seize;
	}
	r->scratch_lo = r->saved.rsp - PK_REMOTE_REDZONE - PK_REMOTE_SCRATCH;
	rc = pk_ptrace_mem_read(r->memfd, r->scratch_lo, r->scratch_saved, PK_REMOTE_SCRATCH);
	if (rc < 0) {
		pk_errbuf_set(rc, err, errlen, "cannot read thread %d's stack below %#llx: %s",
			      (int)tid, (unsigned long long)r->saved.rsp, strerror(-rc));
		goto undo_seize;
	}
	return 0;

undo_seize:
	ptrace(PTRACE_DETACH, tid, 0, 0);
	if (r->memfd >= 0)
		close(r->memfd);
	r->memfd = -1;
	r->attached = false;
	return rc;
}

uint64_t pk_remote_data_addr(const struct pk_remote *r, size_t datalen)
{
	return (r->saved.rsp - PK_REMOTE_REDZONE - datalen) & ~15ull;
}

int pk_remote_call(struct pk_remote *r, uint64_t fn, const uint64_t *args, int nargs,
		   const void *data, size_t datalen, int timeout_ms, uint64_t *ret, char *err,
		   size_t errlen)
{
	struct user_regs_struct regs = r->saved, now;
	unsigned long long *argregs[6] = { &regs.rdi, &regs.rsi, &regs.rdx,
					   &regs.rcx, &regs.r8,	 &regs.r9 };
	uint64_t data_addr = pk_remote_data_addr(r, datalen), sp = data_addr - 8, zero = 0;
	uint64_t deadline;
	int st, rc;

	if (!r->attached)
		return pk_errbuf_set(-ESRCH, err, errlen, "thread %d not attached", (int)r->tid);
	if (datalen > PK_REMOTE_DATA_MAX || nargs > 6 || nargs < 0)
		return pk_errbuf_set(-EINVAL, err, errlen, "remote call: too much data or args");
	if (datalen) {
		rc = pk_ptrace_mem_write(r->memfd, data_addr, data, datalen);
		if (rc < 0)
			return pk_errbuf_set(rc, err, errlen, "write to %d's stack: %s",
					     (int)r->pid, strerror(-rc));
	}
	rc = pk_ptrace_mem_write(r->memfd, sp, &zero, sizeof(zero));
	if (rc < 0)
		return pk_errbuf_set(rc, err, errlen, "write to %d's stack: %s", (int)r->pid,
				     strerror(-rc));
	for (int i = 0; i < nargs; i++)
		*argregs[i] = args[i];
	regs.rip = fn;
	regs.rsp = sp;
	regs.rax = 0;
	/* stopped inside a syscall: no restart over our registers */
	regs.orig_rax = (unsigned long long)-1;
	if (ptrace(PTRACE_SETREGS, r->tid, 0, &regs) < 0 || ptrace(PTRACE_CONT, r->tid, 0, 0) < 0) {
		if (errno == ESRCH)
			return remote_gone(r, err, errlen);
		return pk_errbuf_set(-errno, err, errlen, "ptrace %d: %s", (int)r->tid,
				     strerror(errno));
	}
	deadline = pk_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		int sig;

		rc = pk_ptrace_wait(r->tid, deadline, &st);
		if (rc < 0)
			return rc == -ECHILD ? remote_gone(r, err, errlen)
					     : pk_errbuf_set(rc, err, errlen, "waitpid %d: %s",
							     (int)r->tid, strerror(-rc));
		if (rc == 0) {
			if (ptrace(PTRACE_INTERRUPT, r->tid, 0, 0) < 0)
				return remote_gone(r, err, errlen);
			rc = remote_wait_interrupt(r, true, PK_REMOTE_RESTOP_MS, err, errlen);
			if (rc < 0)
				return rc;
			return pk_errbuf_set(-ETIMEDOUT, err, errlen,
					     "call in %d did not return within %d ms", (int)r->pid,
					     timeout_ms);
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return remote_gone(r, err, errlen);
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if ((st >> 16) != 0) {
			sig = 0; /* a group stop or a stray interrupt: keep the call going */
		} else if (sig == SIGSEGV && ptrace(PTRACE_GETREGS, r->tid, 0, &now) == 0 &&
			   now.rip == 0 && now.rsp == sp + 8) {
			*ret = now.rax;
			return 0;
		} else {
			sig = remote_sort_signal(r, sig);
		}
		if (ptrace(PTRACE_CONT, r->tid, 0, (void *)(long)sig) < 0 && errno == ESRCH)
			return remote_gone(r, err, errlen);
	}
}

int pk_remote_detach(struct pk_remote *r)
{
	struct iovec iov = { r->xstate, r->xstate_len };
	int rc = 0;

	if (!r->attached)
		return 0;
	if (pk_ptrace_mem_write(r->memfd, r->scratch_lo, r->scratch_saved, PK_REMOTE_SCRATCH) < 0)
		rc = -EIO;
	if (r->xstate_len ? ptrace(PTRACE_SETREGSET, r->tid, (void *)NT_X86_XSTATE, &iov) < 0
			  : ptrace(PTRACE_SETFPREGS, r->tid, 0, r->xstate) < 0)
		rc = -errno;
	if (ptrace(PTRACE_SETREGS, r->tid, 0, &r->saved) < 0)
		rc = -errno;
	if (ptrace(PTRACE_DETACH, r->tid, 0, 0) < 0 && rc == 0)
		rc = -errno;
	close(r->memfd);
	r->memfd = -1;
	r->attached = false;
	for (int sig = 1; sig <= 64; sig++)
		if (r->pending_sigs & (1ull << (sig - 1)))
			syscall(SYS_tgkill, (int)r->pid, (int)r->tid, sig);
	r->pending_sigs = 0;
	return rc;
}
