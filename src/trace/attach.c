/* attach.c — `trace attach`'s steps for one process: checks (alive, not yet attached, not
 * static), the socket path handed to the library through a file in the process's mount
 * namespace, the injection, and the file removed. */
#include "trace/attach.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "parikshan/trace.h"
#include "probe/inject.h"

bool pk_trace_is_static(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool st = false;
	size_t n = 0;
	Elf *e;

	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_kind(e) == ELF_K_ELF && elf_getphdrnum(e, &n) == 0) {
		GElf_Ehdr eh;

		st = gelf_getehdr(e, &eh) && (eh.e_type == ET_EXEC || eh.e_type == ET_DYN);
		for (size_t i = 0; i < n && st; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_INTERP)
				st = false;
		}
	}
	elf_end(e);
	close(fd);
	return st;
}

/* PID's number in its own (innermost) pid namespace: the last NSpid field; PID itself when the
 * kernel does not say. */
static long ns_pid(pid_t pid)
{
	char path[64], line[256];
	long v = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		for (p = line + 6;; p = end) {
			long x = strtol(p, &end, 10);

			if (end == p)
				break;
			v = x;
		}
		break;
	}
	fclose(f);
	return v;
}

/* mkdir -p of PK_TRACE_ATTACH_DIR under ROOT; PATH gets ROOT/PK_TRACE_ATTACH_DIR. */
static int attach_dir(const char *root, char *path, size_t cap)
{
	if ((size_t)snprintf(path, cap, "%s%s", root, PK_TRACE_ATTACH_DIR) >= cap)
		return -ENAMETOOLONG;
	for (char *p = path + strlen(root) + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = 0;
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

/* Writes SOCK into PK_TRACE_ATTACH_DIR/<PID as the process knows itself> under ROOT (the
 * process's root); its path in file[cap] ("" when not made).  0 or -errno. */
static int write_sock_file(const char *root, pid_t pid, const char *sock, char *file, size_t cap)
{
	char dir[PATH_MAX];
	ssize_t n;
	int fd, rc;

	file[0] = 0;
	if ((rc = attach_dir(root, dir, sizeof(dir))))
		return rc;
	if ((size_t)snprintf(file, cap, "%s/%ld", dir, ns_pid(pid)) >= cap) {
		file[0] = 0;
		return -ENAMETOOLONG;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = -errno;
		file[0] = 0;
		return rc;
	}
	n = write(fd, sock, strlen(sock));
	rc = n == (ssize_t)strlen(sock) ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	if (rc)
		unlink(file); /* file still names it for the caller's message */
	return rc;
}

int pk_trace_attach(pid_t pid, const char *lib, const char *sock, char *err, size_t errlen)
{
	char root[64], exe[64], file[PATH_MAX + 32];
	int rc;

	if (pid <= 0)
		return pk_errbuf_set(-ESRCH, err, errlen, "%d: not a process id", (int)pid);
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return pk_errbuf_set(-ESRCH, err, errlen, "%d: no such process", (int)pid);
	if (pk_inject_is_loaded(pid, PK_TRACE_LIB_NAME))
		return -EALREADY;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	if (access(exe, R_OK) != 0 && errno == EACCES)
		return pk_errbuf_set(-EPERM, err, errlen, "%d: not permitted (%s)", (int)pid,
				     strerror(errno));
	if (pk_trace_is_static(exe))
		return pk_errbuf_set(-ENOEXEC, err, errlen,
				     "%d: statically linked: the tracing library cannot be loaded "
				     "into it",
				     (int)pid);
	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	rc = write_sock_file(root, pid, sock, file, sizeof(file));
	if (rc && strcmp(sock, PK_TRACE_SOCK_DEFAULT) != 0)
		return pk_errbuf_set(rc, err, errlen, "%d: %s: %s", (int)pid, file[0] ? file : root,
				     strerror(-rc));
	/* without the file (a read-only /run) the library takes the default: what was asked */
	rc = pk_inject_library(pid, lib, err, errlen);
	if (file[0])
		unlink(file);
	return rc;
}

bool pk_trace_logd_listening(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

/* The pid namespace of PID ("self" when 0) as (dev, inode); -errno when unreadable. */
static int pid_ns(pid_t pid, struct stat *st)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/pid");
	return stat(path, st) == 0 ? 0 : -errno;
}

bool pk_trace_pidns_is_ours(pid_t pid)
{
	struct stat a, b;

	return pid_ns(pid, &a) == 0 && pid_ns(0, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

int pk_trace_pidns_pids(pid_t pid, pid_t *pids, size_t cap)
{
	struct stat want, st;
	struct dirent *e;
	size_t n = 0;
	DIR *d;
	int rc;

	if ((rc = pid_ns(pid, &want)))
		return rc == -ENOENT ? -ESRCH : rc;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((e = readdir(d)) && n < cap) {
		char *end;
		long p = strtol(e->d_name, &end, 10);

		if (*end || p <= 0 || pid_ns((pid_t)p, &st) || st.st_ino != want.st_ino ||
		    st.st_dev != want.st_dev)
			continue;
		pids[n++] = (pid_t)p;
	}
	closedir(d);
	return (int)n;
}
