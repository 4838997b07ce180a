/* ptrace.c — small helpers the injection and the poke fallback share: waiting for a
 * traced thread with a deadline, the tracer of a process, the target's memory through
 * /proc/PID/mem (which, unlike process_vm_writev, may write read-only code: FOLL_FORCE).
 *
 * Waiting polls waitpid(WNOHANG): a ptrace stop wakes no fd that we could poll without taking
 * SIGCHLD away from the host program, and a library must not touch its signal mask.
 */
#include "common/proc.h"
#include "probe/inject_int.h"

#include "common/clock.h"
#include "common/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int pk_ptrace_wait(pid_t tid, uint64_t deadline_ns, int *status)
{
	long pause_ns = 50000;

	for (;;) {
		pid_t w = waitpid(tid, status, __WALL | WNOHANG);

		if (w == tid)
			return 1;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (pk_now_ns() >= deadline_ns)
			return 0;
		/* back-off between polls, not synchronisation: the loop decides on waitpid */
		struct timespec ts = { 0, pause_ns };

		nanosleep(&ts, NULL);
		if (pause_ns < 1000000)
			pause_ns *= 2;
	}
}

int pk_ptrace_tracer(pid_t pid)
{
	unsigned long long tracer;
	int rc = pk_proc_status_field(pid, "TracerPid:", 10, &tracer);

	return rc ? rc : (int)tracer;
}

int pk_ptrace_mem_read(int memfd, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = pread(memfd, buf, len, (off_t)addr);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int pk_ptrace_mem_write(int memfd, uint64_t addr, const void *buf, size_t len)
{
	ssize_t n = pwrite(memfd, buf, len, (off_t)addr);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int pk_ptrace_untraced(pid_t pid, char *err, size_t errlen)
{
	int tracer = pid > 0 ? pk_ptrace_tracer(pid) : -ENOENT;

	if (tracer == -ENOENT)
		return pk_errbuf_set(-ESRCH, err, errlen, "no process %d", (int)pid);
	if (tracer > 0)
		return pk_errbuf_set(-EBUSY, err, errlen, "process %d is already traced by %d",
				     (int)pid, tracer);
	return 0;
}
