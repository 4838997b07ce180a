/* attach.c — entering a clone's namespaces for `parikshan debug` (see attach.h for the way in
 * and why the mount namespace is the host's). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clone/clone.h"
#include "common/args.h"
#include "common/errbuf.h"
#include "debug/attach.h"

#define PID_MAX (1u << 22) /* the kernel's PID_MAX_LIMIT on 64-bit */

int pk_debug_parse_pid(const char *spec, pid_t *pid)
{
	uint64_t v;

	if (strncmp(spec, "pid:", 4) != 0)
		return 0;
	if (pk_parse_uint(spec + 4, PID_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	*pid = (pid_t)v;
	return 1;
}

static bool process_exists(pid_t pid)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) == 0;
}

int pk_debug_resolve(const char *state_dir, const char *spec, struct pk_debug_target *t, char *err,
		     size_t errlen)
{
	struct pk_container_info info;
	pid_t pid;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = pk_debug_parse_pid(spec, &pid);
	if (rc < 0)
		return pk_errbuf_set(-EINVAL, err, errlen, "'%s': not a valid pid:PID", spec);
	if (rc == 1) {
		if (!process_exists(pid))
			return pk_errbuf_set(-ESRCH, err, errlen, "no process %d", (int)pid);
		snprintf(t->name, sizeof(t->name), "pid:%d", (int)pid);
		t->pid = pid;
		t->is_clone = pk_clone_of_pid(state_dir, pid, t->clone, sizeof(t->clone)) == 0;
		return 0;
	}
	rc = pk_container_info(state_dir, spec, &info);
	if (rc == -ENOENT || (rc == -EINVAL && strlen(spec) > 0))
		return pk_errbuf_set(-ENOENT, err, errlen, "no container '%s' (in %s)", spec,
				     state_dir);
	if (rc < 0)
		return pk_errbuf_set(rc, err, errlen, "'%s': %s", spec, strerror(-rc));
	if (info.pid <= 0 || !process_exists(info.pid))
		return pk_errbuf_set(-ENOENT, err, errlen, "container '%s' is not running (%s)",
				     spec, info.status);
	snprintf(t->name, sizeof(t->name), "%s", spec);
	t->pid = info.pid;
	t->is_clone = strcmp(info.kind, "clone") == 0;
	if (t->is_clone)
		snprintf(t->clone, sizeof(t->clone), "%s", spec);
	return 0;
}

int pk_debug_allowed(const struct pk_debug_target *t, bool production, char *err, size_t errlen)
{
	bool named = strncmp(t->name, "pid:", 4) != 0;

	if (t->is_clone || production)
		return 0;
	return pk_errbuf_set(-EPERM, err, errlen,
			     "'%s' is production: debugging production directly defeats the "
			     "purpose; use a clone (parikshan clone %s %s-dbg) or --production",
			     t->name, named ? t->name : "NAME", named ? t->name : "NAME");
}

/* The innermost PID (the last field of NSpid:) and the name of host process pid. */
static int read_status(pid_t pid, pid_t *ns_pid, char *name, size_t len)
{
	char path[48], line[256];
	bool got_pid = false, got_name = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && !(got_pid && got_name)) {
		if (strncmp(line, "Name:\t", 6) == 0) {
			size_t n = strcspn(line + 6, "\n");

			n = n < len - 1 ? n : len - 1;
			memcpy(name, line + 6, n);
			name[n] = '\0';
			got_name = true;
		} else if (strncmp(line, "NSpid:", 6) == 0) {
			char *last = strrchr(line, '\t');
			uint64_t v;

			line[strcspn(line, "\n")] = '\0';
			if (last && pk_parse_uint(last + 1, PID_MAX, &v) == 0) {
				*ns_pid = (pid_t)v;
				got_pid = true;
			}
		}
	}
	fclose(f);
	return got_pid && got_name ? 0 : -EPROTO;
}

static int pidns_of(pid_t pid, struct stat *st)
{
	char path[48];

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	return stat(path, st) < 0 ? -errno : 0;
}

int pk_debug_find_process(pid_t target, const char *what, pid_t *ns_pid, char *err, size_t errlen)
{
	char name[64];
	struct stat ns, st;
	struct dirent *e;
	pid_t want = 0, best = 0;
	uint64_t v;
	DIR *d;
	int rc;

	if ((rc = pidns_of(target, &ns)) < 0)
		return pk_errbuf_set(rc == -ENOENT ? -ESRCH : rc, err, errlen, "process %d: %s",
				     (int)target, strerror(-rc));
	if (!what) {
		if ((rc = read_status(target, ns_pid, name, sizeof(name))) < 0)
			return pk_errbuf_set(rc == -ENOENT ? -ESRCH : rc, err, errlen,
					     "process %d: %s", (int)target, strerror(-rc));
		return 0;
	}
	if (pk_parse_uint(what, PID_MAX, &v) == 0)
		want = (pid_t)v;
	d = opendir("/proc");
	if (!d)
		return pk_errbuf_set(-errno, err, errlen, "/proc: %s", strerror(errno));
	while ((e = readdir(d))) {
		pid_t host, inner;

		if (pk_parse_uint(e->d_name, PID_MAX, &v) < 0)
			continue;
		host = (pid_t)v;
		if (pidns_of(host, &st) < 0 || st.st_ino != ns.st_ino || st.st_dev != ns.st_dev)
			continue;
		if (read_status(host, &inner, name, sizeof(name)) < 0)
			continue;
		if (want ? inner == want : strcmp(name, what) == 0)
			if (!best || inner < best)
				best = inner;
	}
	closedir(d);
	if (!best)
		return pk_errbuf_set(-ESRCH, err, errlen, "no process %s '%s' in the target",
				     want ? "with PID" : "named", what);
	*ns_pid = best;
	return 0;
}

int pk_debug_which(const char *prog, const char *path, char *out, size_t len)
{
	const char *p = path ? path : "";
	struct stat st;

	if (strchr(prog, '/')) {
		if (stat(prog, &st) < 0 || !S_ISREG(st.st_mode) || access(prog, X_OK) < 0)
			return -ENOENT;
		return snprintf(out, len, "%s", prog) < (int)len ? 0 : -ENAMETOOLONG;
	}
	while (*p) {
		size_t n = strcspn(p, ":");
		int w = snprintf(out, len, "%.*s/%s", (int)n, n ? p : ".", prog);

		if (w > 0 && (size_t)w < len && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
		p += n;
		if (*p == ':')
			p++;
	}
	return -ENOENT;
}

/* The namespaces joined, in the order the per-file fallback joins them. */
static const struct {
	const char *file;
	int flag;
} joined[] = {
	{ "pid", CLONE_NEWPID }, { "net", CLONE_NEWNET },	{ "uts", CLONE_NEWUTS },
	{ "ipc", CLONE_NEWIPC }, { "cgroup", CLONE_NEWCGROUP },
};
#define NJOINED (sizeof(joined) / sizeof(joined[0]))

/* Joins the namespaces of pid through one pidfd (Linux >= 5.8), else one /proc/PID/ns file at
 * a time.  Returns 0 or -errno (err says why). */
static int enter_namespaces(pid_t pid, char *err, size_t errlen)
{
	int fds[NJOINED], flags = 0, pidfd, rc = 0;
	size_t i;

	for (i = 0; i < NJOINED; i++)
		flags |= joined[i].flag;
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0 && errno == ESRCH)
		return pk_errbuf_set(-ESRCH, err, errlen, "process %d is gone", (int)pid);
	if (pidfd >= 0) {
		rc = setns(pidfd, flags) < 0 ? -errno : 0;
		close(pidfd);
		if (rc == 0)
			return 0;
		if (rc != -EINVAL)
			return pk_errbuf_set(rc, err, errlen, "setns into process %d: %s", (int)pid,
					     strerror(-rc));
	}
	/* Older kernels: open every file first, so the process cannot go away half way. */
	for (i = 0; i < NJOINED; i++) {
		char path[48];

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, joined[i].file);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			rc = pk_errbuf_set(-errno, err, errlen, "%s: %s", path, strerror(errno));
			goto close_fds;
		}
	}
	for (i = 0; i < NJOINED && rc == 0; i++)
		if (setns(fds[i], joined[i].flag) < 0)
			rc = pk_errbuf_set(-errno, err, errlen, "setns %s of process %d: %s",
					   joined[i].file, (int)pid, strerror(errno));
	i = NJOINED; /* every file was opened */
close_fds:
	while (i-- > 0)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

/* What a child that could not go on tells the caller through the pipe. */
struct spawn_failure {
	int err;
	char msg[200];
};

static void report(int fd, int code, const char *msg)
{
	struct spawn_failure f = { .err = code };

	snprintf(f.msg, sizeof(f.msg), "%s", msg);
	if (write(fd, &f, sizeof(f)) < 0) {
		/* the caller sees the exit status 127 */
	}
}

static void child_fail(int fd, int code, const char *what)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(code));
	report(fd, code, msg);
	_exit(127);
}

/* The pid of the process below, for the signal handler of each of the two waiting processes:
 * a `kill` of `parikshan debug` (TERM, HUP) reaches the command too, so that no tracer stays
 * attached behind it. */
static volatile sig_atomic_t forward_to;

static void forward_signal(int sig)
{
	if (forward_to > 0)
		kill((pid_t)forward_to, sig);
}

/* In a child: dies with its parent (even by SIGKILL), so a gdb or strace never outlives
 * `parikshan debug`; forwards TERM and HUP to forward_to once set.  parent is what getppid()
 * says while the parent lives: 0 from inside the target's pid namespace. */
static void child_setup(pid_t parent, bool forwards)
{
	signal(SIGINT, forwards ? SIG_IGN : SIG_DFL);
	signal(SIGQUIT, forwards ? SIG_IGN : SIG_DFL);
	signal(SIGTERM, forwards ? forward_signal : SIG_DFL);
	signal(SIGHUP, forwards ? forward_signal : SIG_DFL);
	forward_to = 0;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(127);
}

/* Waits for child; returns its exit status (128+N when killed by signal N) or -errno. */
static int wait_status(pid_t child)
{
	int status;

	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* In the target's pid namespace: stays as the reaper of everything the command leaves there
 * (a child subreaper: an orphan of gdb or strace would otherwise go to the target's init,
 * which may never reap it, and a zombie in the clone stops CRIU from checkpointing it), runs
 * the command in a child, forwards TERM and HUP to it, reaps until nothing is left and exits
 * with the command's status.  Never returns. */
static void reap_and_exec(const struct pk_debug_run_opts *o, int fd)
{
	pid_t cmd, p;
	int status, rc = 127;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		child_fail(fd, errno, "becoming the command's reaper");
	prctl(PR_SET_NAME, "pk-debug"); /* what ps in the target shows of it */
	cmd = fork();
	if (cmd < 0)
		child_fail(fd, errno, "fork");
	if (cmd == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execvp(o->argv[0], o->argv);
		child_fail(fd, errno, o->argv[0]);
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTERM, forward_signal);
	signal(SIGHUP, forward_signal);
	forward_to = cmd;
	close(fd);
	while ((p = waitpid(-1, &status, 0)) != -1 || errno == EINTR)
		if (p == cmd)
			rc = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	_exit(rc);
}

/* The command, in the target's pid namespace: a /proc of that namespace, the environment,
 * then exec. */
static void command_exec(const struct pk_debug_run_opts *o, pid_t parent, int fd)
{
	char ps1[PK_DEBUG_NAME_MAX + 32], path[4096];
	const char *old = getenv("PATH");

	child_setup(parent, false);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		child_fail(fd, errno, "mounting the target's /proc");
	snprintf(ps1, sizeof(ps1), "[debug %s] \\w \\$ ", o->label);
	if (o->tools && snprintf(path, sizeof(path), "%s:%s", o->tools,
				 old ? old : "/usr/sbin:/usr/bin:/sbin:/bin") < (int)sizeof(path))
		setenv("PATH", path, 1);
	setenv("PS1", ps1, 1);
	setenv("PK_DEBUG_TARGET", o->label, 1);
	setenv("PK_DEBUG_ROOT", "/proc/1/root", 1);
	reap_and_exec(o, fd);
}

/* The middle process: joins the namespaces (the caller never does: its own exit, and a
 * sanitizer's leak check that ptraces it, stay in the host's), forks the command into the
 * target's pid namespace, waits for it and exits with its status.  Never returns. */
static void enter_and_spawn(const struct pk_debug_run_opts *o, pid_t parent, int fd)
{
	char err[200];
	pid_t child;
	int rc;

	child_setup(parent, true);
	rc = enter_namespaces(o->pid, err, sizeof(err));
	if (rc < 0) {
		report(fd, -rc, err);
		_exit(127);
	}
	/* A private copy of the host's mounts: the target's /proc goes on it, unseen outside. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(fd, errno, "a private mount namespace");
	/* bpftrace and perf need tracefs for uprobes and tracepoints; a host that does not mount
	 * it gets it here, in this private copy only (best effort: a kernel without it says so
	 * through the tool) */
	if (access("/sys/kernel/tracing/uprobe_events", F_OK) < 0)
		(void)mount("tracefs", "/sys/kernel/tracing", "tracefs",
			    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	child = fork();
	if (child < 0)
		child_fail(fd, errno, "fork");
	if (child == 0)
		command_exec(o, 0, fd);
	forward_to = child;
	close(fd);
	rc = wait_status(child);
	_exit(rc < 0 ? 127 : rc);
}

int pk_debug_run(const struct pk_debug_run_opts *o, char *err, size_t errlen)
{
	struct sigaction old_term, old_hup, fwd = { .sa_handler = forward_signal };
	void (*old_int)(int), (*old_quit)(int);
	struct spawn_failure f;
	int pipefd[2], rc;
	pid_t child, self = getpid();
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return pk_errbuf_set(-errno, err, errlen, "pipe: %s", strerror(errno));
	/* The terminal's ^C and ^\ are for the command; this process only waits. */
	old_int = signal(SIGINT, SIG_IGN);
	old_quit = signal(SIGQUIT, SIG_IGN);
	sigaction(SIGTERM, &fwd, &old_term);
	sigaction(SIGHUP, &fwd, &old_hup);
	child = fork();
	if (child < 0) {
		rc = pk_errbuf_set(-errno, err, errlen, "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		goto restore_signals;
	}
	if (child == 0) {
		close(pipefd[0]);
		enter_and_spawn(o, self, pipefd[1]);
	}
	forward_to = child;
	close(pipefd[1]);
	do
		n = read(pipefd[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	rc = wait_status(child);
	forward_to = 0;
	if (rc < 0)
		rc = pk_errbuf_set(rc, err, errlen, "waitpid: %s", strerror(-rc));
	else if (n == (ssize_t)sizeof(f)) {
		f.msg[sizeof(f.msg) - 1] = '\0';
		rc = pk_errbuf_set(f.err > 0 ? -f.err : -EIO, err, errlen, "%s", f.msg);
	}
restore_signals:
	signal(SIGINT, old_int);
	signal(SIGQUIT, old_quit);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	return rc;
}
