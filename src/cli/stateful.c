/* stateful.c — is a production service stateful?  Its container's processes by name: the
 * container's first process and those below it (a shell or an init may start the server). */
#include "cli/stateful.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROCS 64 /* processes looked at below the first */
#define MAX_DEPTH 3

/* Servers whose clone diverges when it sees a subset of the connections: databases, caches,
 * key-value and message stores.  Names as the kernel keeps them (comm: 15 bytes at most). */
static const char *const servers[] = {
	"redis-server", "valkey-server", "keydb-server", "memcached", "mysqld",	 "mariadbd",
	"postgres",	"mongod",	 "etcd",	 "beam.smp",  "influxd", "postmaster",
};

bool pk_stateful_name(const char *comm)
{
	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++)
		if (strcmp(comm, servers[i]) == 0)
			return true;
	return false;
}

/* Reads /proc/pid/FILE (at most len - 1 bytes, NUL-terminated, a trailing newline cut).
 * Returns the bytes read or -1. */
static ssize_t read_proc(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return n;
}

bool pk_stateful_proc(pid_t pid, char *name, size_t len)
{
	pid_t queue[MAX_PROCS + 1];
	int depth[MAX_PROCS + 1], head = 0, tail = 0;

	if (pid <= 0)
		return false;
	queue[tail] = pid;
	depth[tail++] = 0;
	while (head < tail) {
		pid_t p = queue[head];
		int d = depth[head++];
		char comm[64], path[64], kids[1024], *s, *end;

		if (read_proc(p, "comm", comm, sizeof(comm)) > 0 && pk_stateful_name(comm)) {
			if (name && len)
				snprintf(name, len, "%s", comm);
			return true;
		}
		snprintf(path, sizeof(path), "task/%d/children", (int)p);
		if (d == MAX_DEPTH || read_proc(p, path, kids, sizeof(kids)) <= 0)
			continue;
		for (s = kids; *s && tail <= MAX_PROCS; s = end) {
			long k = strtol(s, &end, 10);

			if (end == s)
				break;
			if (k > 0) {
				queue[tail] = (pid_t)k;
				depth[tail++] = d + 1;
			}
		}
	}
	return false;
}
