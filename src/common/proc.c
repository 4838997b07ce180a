/* proc.c — fork/exec with captured output and a deadline; naming and stopping a process we
 * started earlier (pid + start time, pidfd). */
#include "common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/sock.h"

#define PROC_OUT_MAX (64 * 1024)

extern char **environ;

/* Reads the child's output until EOF or the deadline; returns 0 or -ETIMEDOUT. */
static int collect(int fd, uint64_t deadline, struct pk_strbuf *out)
{
	char buf[4096];

	for (;;) {
		int err = pk_sock_wait(fd, POLLIN, deadline);
		ssize_t n;

		if (err)
			return err;
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (out && out->len < PROC_OUT_MAX)
			pk_strbuf_append(out, buf, (size_t)n);
	}
}

int pk_proc_run(char *const argv[], int timeout_ms, struct pk_strbuf *out)
{
	posix_spawn_file_actions_t fa;
	uint64_t deadline = pk_now_ms() + (uint64_t)timeout_ms;
	int pipefd[2], status, err;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		return -err;
	}
	err = collect(pipefd[0], deadline, out);
	close(pipefd[0]);
	if (err == -ETIMEDOUT)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (err)
		return err;
	if (WIFSIGNALED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

int pk_proc_check(char *const argv[], int timeout_ms, char *err, size_t errlen)
{
	struct pk_strbuf out = { 0 };
	int rc = pk_proc_run(argv, timeout_ms, &out);
	const char *text = pk_strbuf_str(&out);
	size_t len;

	if (rc == 0) {
		pk_strbuf_release(&out);
		return 0;
	}
	if (err && errlen) {
		/* the last non-empty line of the output usually says why */
		len = strlen(text);
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
			len--;
		const char *line = text + len;
		while (line > text && line[-1] != '\n')
			line--;
		if (rc > 0)
			snprintf(err, errlen, "%s exited with status %d%s%.*s", argv[0], rc,
				 len ? ": " : "", (int)(text + len - line), line);
		else
			snprintf(err, errlen, "%s: %s", argv[0], strerror(-rc));
	}
	pk_strbuf_release(&out);
	return rc > 0 ? -EIO : rc;
}

int pk_proc_start_time(pid_t pid, uint64_t *ticks)
{
	char path[64], line[1024];
	const char *p;
	unsigned long long v;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so count from the last
	 * ')'; STATE is field 3, the start time field 22. */
	p = p ? strrchr(line, ')') : NULL;
	if (!p)
		return -EPROTO;
	p++;
	for (field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &v) != 1)
		return -EPROTO;
	*ticks = v;
	return 0;
}

int pk_proc_open_checked(pid_t pid, uint64_t start_ticks)
{
	uint64_t now_ticks;
	int fd, err;

	if (pid <= 0)
		return -ESRCH;
	fd = pidfd_open(pid, 0); /* pidfds are close-on-exec */
	if (fd < 0)
		return -errno;
	err = pk_proc_start_time(pid, &now_ticks);
	if (!err && now_ticks != start_ticks)
		err = -ESRCH;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* Waits up to timeout_ms for the process of pidfd to end; returns 0 or -ETIMEDOUT. */
static int pidfd_wait(int pidfd, int timeout_ms)
{
	uint64_t deadline = pk_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		uint64_t now = pk_now_ms();
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int pk_proc_stop(int pidfd, int timeout_ms)
{
	if (pidfd_send_signal(pidfd, SIGTERM, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;
	if (pidfd_wait(pidfd, timeout_ms) == 0)
		return 0;
	if (pidfd_send_signal(pidfd, SIGKILL, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;
	return pidfd_wait(pidfd, 1000);
}

int pk_proc_own_lib(const char *env, const char *name, char *path, size_t len)
{
	const char *val = env ? getenv(env) : NULL;
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (val && *val) {
		if (len < PATH_MAX || !realpath(val, path))
			return len < PATH_MAX ? -ENAMETOOLONG : -errno;
		return access(path, R_OK) ? -errno : 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	if ((size_t)snprintf(path, len, "%.*s/%s", PATH_MAX - 64, self, name) < len &&
	    !access(path, R_OK))
		return 0;
	if ((size_t)snprintf(path, len, "%.*s/../lib/parikshan/%s", PATH_MAX - 64, self, name) >=
	    len)
		return -ENAMETOOLONG;
	return access(path, R_OK) ? -ENOENT : 0;
}

pid_t pk_proc_fork_detached(const char *log)
{
	pid_t pid;
	int fd;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		return pid;
	setsid();
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(127);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		dup2(fd, 0);
	return 0;
}

int pk_proc_status_field(pid_t tid, const char *key, int base, unsigned long long *val)
{
	size_t klen = strlen(key);
	char path[64], line[256];
	int rc = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0) {
			*val = strtoull(line + klen, NULL, base);
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

bool pk_proc_alive(pid_t pid)
{
	char path[64], buf[512], *end;
	ssize_t n;
	int fd;

	if (pid <= 0 || kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	/* "PID (COMM) S ...": the state after the last ')' (a name may hold one) */
	end = strrchr(buf, ')');
	return !end || (end[1] && end[2] != 'Z' && end[2] != 'X');
}
