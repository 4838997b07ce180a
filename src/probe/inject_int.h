/* inject_int.h — what the ptrace files of the probe module share privately: waiting for one
 * traced thread with a deadline, reading and writing the target's memory through /proc/PID/mem,
 * and the remote call (remote.c) that runs a function of the target on one of its threads.
 *
 * The remote call follows CRIU/compel's prepare -> infect -> cure:
 *   pk_remote_attach   seize one thread, interrupt it, save its registers, FPU state and the
 *                      stack bytes the calls will use
 *   pk_remote_call     run fn(args) on it: a fake return address 0 makes the function's return
 *                      fault at rip 0, which is the stop we wait for
 *   pk_remote_detach   put registers, FPU state and stack bytes back, detach, re-send the
 *                      signals that arrived meanwhile
 * Only the one thread is ever stopped; the others keep running.
 *
 *   high   saved rsp
 *          256 bytes left alone (the red zone and a margin)
 *          data of the call (strings), 16-byte aligned       \  saved and restored:
 *          return address 0  <- rsp at the call's first insn  /  PK_REMOTE_SCRATCH bytes
 *   low
 */
#ifndef PK_PROBE_INJECT_INT_H
#define PK_PROBE_INJECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#define PK_REMOTE_REDZONE 256
#define PK_REMOTE_DATA_MAX 4096
#define PK_REMOTE_SCRATCH (PK_REMOTE_DATA_MAX + 64)
#define PK_REMOTE_XSTATE_MAX 16384

/* One thread of a target held by pk_remote_attach.  Caller-owned; all zero before attach. */
struct pk_remote {
	pid_t pid, tid;
	int memfd;			      /* /proc/PID/mem, O_RDWR */
	bool attached;			      /* seized and stopped: detach must run */
	struct user_regs_struct saved;	      /* the thread's registers at the stop */
	uint8_t xstate[PK_REMOTE_XSTATE_MAX]; /* its FPU/SSE/AVX state (NT_X86_XSTATE) */
	size_t xstate_len;		      /* 0: saved with PTRACE_GETFPREGS instead */
	uint64_t scratch_lo;		      /* the stack bytes the calls use */
	uint8_t scratch_saved[PK_REMOTE_SCRATCH];
	uint64_t pending_sigs; /* asynchronous signals to re-send after detach */
};

/* Seizes thread `tid` of `pid`, interrupts it, waits for the stop (timeout_ms) and saves its
 * state.  0, or -errno with the reason in err (-ESRCH gone, -EPERM not permitted, -EBUSY traced
 * by another process); on failure nothing is left attached. */
int pk_remote_attach(struct pk_remote *r, pid_t pid, pid_t tid, int timeout_ms, char *err,
		     size_t errlen);

/* Calls the target function at `fn` with up to 6 integer arguments; `data` (datalen <=
 * PK_REMOTE_DATA_MAX bytes) is copied onto the thread's stack first and its address is
 * *data_addr, which the caller may pass as an argument: set `args` after calling
 * pk_remote_data_addr.  *ret gets rax.  0, -ETIMEDOUT (the thread was interrupted and its state
 * restored), -ESRCH (the target exited: r is detached), or another -errno. */
int pk_remote_call(struct pk_remote *r, uint64_t fn, const uint64_t *args, int nargs,
		   const void *data, size_t datalen, int timeout_ms, uint64_t *ret, char *err,
		   size_t errlen);

/* The address pk_remote_call will copy `datalen` bytes of data to. */
uint64_t pk_remote_data_addr(const struct pk_remote *r, size_t datalen);

/* Restores the thread's state and detaches (no-op if not attached).  0 or -errno. */
int pk_remote_detach(struct pk_remote *r);

/* Waits until `tid` (traced by us) reports a state change or the deadline (CLOCK_MONOTONIC ns)
 * passes: 1 with *status, 0 on timeout, -errno.  Polls waitpid(WNOHANG) with a growing pause
 * (50 us to 1 ms) between polls. */
int pk_ptrace_wait(pid_t tid, uint64_t deadline_ns, int *status);

/* The pid tracing `pid` (TracerPid in /proc/PID/status), 0 if none, -errno. */
int pk_ptrace_tracer(pid_t pid);

/* 0 when process pid exists and nobody traces it; else -ESRCH ("no process PID") or -EBUSY
 * ("already traced by T") with that reason in err. */
int pk_ptrace_untraced(pid_t pid, char *err, size_t errlen);

/* Reads/writes `len` bytes at `addr` of the process whose /proc/PID/mem is `memfd`.  0 or
 * -errno (-EIO on a short transfer). */
int pk_ptrace_mem_read(int memfd, uint64_t addr, void *buf, size_t len);
int pk_ptrace_mem_write(int memfd, uint64_t addr, const void *buf, size_t len);

#endif
