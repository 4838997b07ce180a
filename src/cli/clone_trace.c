/* clone_trace.c — `clone --trace`: a logd for the clone, and the tracing library attached to
 * every process of the clone.
 *
 *   parikshan clone (this process)
 *     `- supervisor (detached, own session; log STATE/NAME/trace-logd.log)
 *          `- parikshan trace logd --socket /proc/INIT/root/run/parikshan/trace.sock --db DB
 *   the supervisor waits on pidfds of the clone's init and of logd: when the clone goes away
 *   (container rm), logd gets SIGTERM (commits, exits), and so does the supervisor.
 *
 * The clone's processes see the socket as PK_TRACE_SOCK_DEFAULT in their own mount namespace
 * (a path Unix socket works across network namespaces).  Production is never touched: only
 * processes in the clone's pid namespace are attached.
 */
#include "cli/clone_trace.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone/clone.h"
#include "common/args.h"
#include "common/clock.h"
#include "common/proc.h"
#include "parikshan/trace.h"
#include "trace/attach.h"

#define CLONE_TRACE_LISTEN_MS 10000 /* for logd to listen */
#define CLONE_TRACE_STOP_MS 5000    /* for logd to commit and exit once the clone is gone */
#define CLONE_TRACE_PIDS_MAX 4096   /* processes of one clone attached */

/* The supervisor's life (never returns): logd as a child, stopped when INIT exits. */
static void supervise(pid_t init, const char *sock, const char *db)
{
	char *argv[] = { "parikshan",  "trace", "logd",	    "--socket",
			 (char *)sock, "--db",	(char *)db, NULL };
	struct pollfd p[2];
	int status = 0;
	pid_t logd, me;

	/* nothing of the clone command's descriptors is kept alive by this long-lived process */
	close_range(3, ~0u, 0);
	p[0].fd = pidfd_open(init, 0);
	p[0].events = POLLIN;
	if (p[0].fd < 0)
		_exit(1);
	me = getpid();
	logd = fork();
	if (logd < 0)
		_exit(1);
	if (logd == 0) {
		/* the supervisor killed (a failed start): logd goes with it */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != me)
			_exit(1);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	p[1].fd = pidfd_open(logd, 0);
	p[1].events = POLLIN;
	while (p[1].fd >= 0 && poll(p, 2, -1) < 0 && errno == EINTR)
		;
	if (p[1].fd < 0 || !(p[1].revents & POLLIN)) {
		uint64_t deadline = pk_now_ms() + CLONE_TRACE_STOP_MS;

		kill(logd, SIGTERM);
		while (waitpid(logd, &status, WNOHANG) == 0 && pk_now_ms() < deadline)
			usleep(20 * 1000);
		kill(logd, SIGKILL);
	}
	while (waitpid(logd, &status, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* Attaches every process in INIT's pid namespace; prints each failure; the number attached
 * (or already) in *n.  Returns an exit status. */
static int attach_all(pid_t init, const char *lib, const char *what, int *n)
{
	pid_t pids[CLONE_TRACE_PIDS_MAX];
	char err[512];
	int status = PK_EXIT_OK, rc, k;

	*n = 0;
	k = pk_trace_pidns_pids(init, pids, CLONE_TRACE_PIDS_MAX);
	if (k < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, what, "trace: the clone's processes: %s",
				   strerror(-k));
	for (int i = 0; i < k; i++) {
		err[0] = 0;
		rc = pk_trace_attach(pids[i], lib, PK_TRACE_SOCK_DEFAULT, err, sizeof(err));
		if (rc == 0 || rc == -EALREADY)
			(*n)++;
		else if (rc != -ESRCH) /* exited meanwhile: nothing to trace */
			status = pk_cli_fail(PK_EXIT_RUNTIME, what, "trace: %s",
					     err[0] ? err : strerror(-rc));
	}
	return status;
}

int pk_cli_clone_trace(const char *state_dir, const char *name, const char *db, bool quiet,
		       const char *what)
{
	struct pk_container_info info;
	char lib[PATH_MAX], dbpath[PATH_MAX], cwd[PATH_MAX], sock[128], dir[128], log[PATH_MAX];
	uint64_t deadline;
	pid_t sup;
	int rc, n, status;

	rc = pk_container_info(state_dir, name, &info);
	if (rc || info.pid <= 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, what,
				   "trace: the clone has no running process");
	if ((rc = pk_proc_own_lib(PK_TRACE_ENV_LIB, PK_TRACE_LIB_NAME, lib, sizeof(lib))))
		return pk_cli_fail(PK_EXIT_RUNTIME, what,
				   "trace: " PK_TRACE_LIB_NAME " not found (set " PK_TRACE_ENV_LIB
				   "): %s",
				   strerror(-rc));
	if (!db)
		rc = snprintf(dbpath, sizeof(dbpath), "%s/%s/trace.sqlite", state_dir, name);
	else if (db[0] == '/')
		rc = snprintf(dbpath, sizeof(dbpath), "%s", db);
	else if (getcwd(cwd, sizeof(cwd)))
		rc = snprintf(dbpath, sizeof(dbpath), "%s/%s", cwd, db);
	else
		return pk_cli_fail(PK_EXIT_RUNTIME, what, "trace: getcwd: %s", strerror(errno));
	if (rc < 0 || (size_t)rc >= sizeof(dbpath))
		return pk_cli_fail(PK_EXIT_RUNTIME, what, "trace: store path too long");
	snprintf(log, sizeof(log), "%s/%s/trace-logd.log", state_dir, name);
	/* the socket inside the clone's file system, as its processes look for it */
	snprintf(dir, sizeof(dir), "/proc/%d/root/run", info.pid);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "/proc/%d/root/run/parikshan", info.pid);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return pk_cli_fail(PK_EXIT_RUNTIME, what, "trace: %s: %s", dir, strerror(errno));
	snprintf(sock, sizeof(sock), "/proc/%d/root%s", info.pid, PK_TRACE_SOCK_DEFAULT);

	sup = pk_proc_fork_detached(log);
	if (sup < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, what, "trace: fork: %s", strerror(-sup));
	if (sup == 0)
		supervise(info.pid, sock, dbpath);
	deadline = pk_now_ms() + CLONE_TRACE_LISTEN_MS;
	while (!pk_trace_logd_listening(sock)) {
		if (waitpid(sup, &status, WNOHANG) == sup || pk_now_ms() > deadline) {
			kill(sup, SIGTERM);
			return pk_cli_fail(PK_EXIT_RUNTIME, what,
					   "trace: logd did not start (see %s)", log);
		}
		usleep(20 * 1000);
	}
	status = attach_all(info.pid, lib, what, &n);
	if (!quiet)
		printf("trace: %d processes of %s traced; logd pid %d (log %s)\n"
		       "trace: store %s (parikshan trace paths --db %s)\n",
		       n, name, (int)sup, log, dbpath, dbpath);
	fflush(stdout);
	return status;
}
