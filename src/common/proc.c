/* proc.c — fork/exec with captured output and a deadline. */
#include "common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
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
