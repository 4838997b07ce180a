/* proc.c — the wrappers of fork, vfork, posix_spawn and the exec family.
 *
 * An exec keeps the library in the new image: LD_PRELOAD (this library's path),
 * PARIKSHAN_TRACE_SOCK and PARIKSHAN_TRACE_LIB are put back into the environment when the
 * program removed them, and PARIKSHAN_TRACE_EXEC_PID tells the new image it was exec'ed (its
 * hello says so).  Everything on the exec path may run in a vfork child: no allocation, no
 * stdio, only stack buffers and system calls.  A statically linked program (an ELF without
 * PT_INTERP) cannot be traced: recorded as PK_TRACE_STATIC, never silently missing.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib_int.h"

#define PK_ENV_MAX 1024	      /* larger environments are passed on unchanged */
#define PK_EXEC_ARGS_MAX 4096 /* execl* argument lists */
#define PK_ENV_EXEC_PID "PARIKSHAN_TRACE_EXEC_PID"

extern char **environ;

struct pk_env {
	char *vec[PK_ENV_MAX + 8];
	char preload[8192];
	char sock[sizeof(PK_TRACE_ENV_SOCK) + sizeof(pk_cfg_sock) + 1];
	char lib[sizeof(PK_TRACE_ENV_LIB) + sizeof(pk_cfg_lib) + 1];
	char pid[sizeof(PK_ENV_EXEC_PID) + 32];
};

/* DST = A B C (NUL-terminated, cut to CAP). */
static void cat3(char *dst, size_t cap, const char *a, const char *b, const char *c)
{
	size_t n = 0;
	const char *parts[3] = { a, b, c };

	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p && n + 1 < cap; p++)
			dst[n++] = *p;
	dst[n] = 0;
}

static void utoa(char *dst, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*dst++ = tmp[--n];
	*dst = 0;
}

static bool has_prefix(const char *s, const char *name)
{
	size_t n = strlen(name);

	return strncmp(s, name, n) == 0 && s[n] == '=';
}

/* LD_PRELOAD's value VAL names this library (separated by ':' or ' '). */
static bool preload_has_us(const char *val)
{
	size_t n = strlen(pk_cfg_lib);

	for (const char *p = val; (p = strstr(p, pk_cfg_lib)); p += n)
		if ((p == val || p[-1] == ':' || p[-1] == ' ') &&
		    (p[n] == 0 || p[n] == ':' || p[n] == ' '))
			return true;
	return false;
}

/* The environment for the new image, built in E from ENVP; PIDV is the exec-pid marker.
 * ENVP itself when it cannot be rebuilt (too large, library path unknown). */
static char *const *env_build(struct pk_env *e, char *const *envp, const char *pidv)
{
	size_t n = 0, i;
	bool pre = false, sock = false, lib = false;

	if (!pk_cfg_lib[0])
		return envp;
	for (i = 0; envp && envp[i]; i++)
		if (i >= PK_ENV_MAX)
			return envp;
	for (i = 0; envp && envp[i]; i++) {
		char *v = envp[i];

		if (has_prefix(v, "LD_PRELOAD")) {
			if (pre)
				continue;
			pre = true;
			if (!preload_has_us(v + 11)) {
				cat3(e->preload, sizeof(e->preload), "LD_PRELOAD=", pk_cfg_lib,
				     v[11] ? ":" : "");
				if (strlen(e->preload) + strlen(v + 11) + 1 > sizeof(e->preload))
					return envp;
				cat3(e->preload + strlen(e->preload),
				     sizeof(e->preload) - strlen(e->preload), v + 11, "", "");
				v = e->preload;
			}
		} else if (has_prefix(v, PK_ENV_EXEC_PID)) {
			continue;
		} else if (has_prefix(v, PK_TRACE_ENV_SOCK)) {
			sock = true;
		} else if (has_prefix(v, PK_TRACE_ENV_LIB)) {
			lib = true;
		}
		e->vec[n++] = v;
	}
	if (!pre) {
		cat3(e->preload, sizeof(e->preload), "LD_PRELOAD=", pk_cfg_lib, "");
		e->vec[n++] = e->preload;
	}
	if (!sock && pk_cfg_sock[0]) {
		cat3(e->sock, sizeof(e->sock), PK_TRACE_ENV_SOCK, "=", pk_cfg_sock);
		e->vec[n++] = e->sock;
	}
	if (!lib) {
		cat3(e->lib, sizeof(e->lib), PK_TRACE_ENV_LIB, "=", pk_cfg_lib);
		e->vec[n++] = e->lib;
	}
	cat3(e->pid, sizeof(e->pid), PK_ENV_EXEC_PID, "=", pidv);
	e->vec[n++] = e->pid;
	e->vec[n] = NULL;
	return e->vec;
}

/* PATH is an ELF executable without an interpreter: statically linked. */
static bool is_static(const char *path)
{
	union {
		Elf64_Ehdr e64;
		Elf32_Ehdr e32;
	} h;
	unsigned char ph[64 * sizeof(Elf64_Phdr)];
	long fd, n;
	bool is64, interp = false;
	uint64_t phoff;
	unsigned phnum, phsize, i;

	fd = syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = syscall(SYS_pread64, fd, &h, sizeof(h), 0);
	if (n < (long)sizeof(Elf32_Ehdr) || memcmp(h.e64.e_ident, ELFMAG, SELFMAG) != 0)
		goto no;
	is64 = h.e64.e_ident[EI_CLASS] == ELFCLASS64;
	if (is64 && n < (long)sizeof(Elf64_Ehdr))
		goto no;
	phoff = is64 ? h.e64.e_phoff : h.e32.e_phoff;
	phnum = is64 ? h.e64.e_phnum : h.e32.e_phnum;
	phsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if ((is64 ? h.e64.e_type : h.e32.e_type) != ET_EXEC &&
	    (is64 ? h.e64.e_type : h.e32.e_type) != ET_DYN)
		goto no;
	if (phnum == 0 || phnum * phsize > sizeof(ph))
		goto no;
	n = syscall(SYS_pread64, fd, ph, phnum * phsize, (off_t)phoff);
	if (n != (long)(phnum * phsize))
		goto no;
	for (i = 0; i < phnum; i++) {
		uint32_t type = is64 ? ((Elf64_Phdr *)ph)[i].p_type : ((Elf32_Phdr *)ph)[i].p_type;

		if (type == PT_INTERP)
			interp = true;
	}
	syscall(SYS_close, fd);
	return !interp;
no:
	syscall(SYS_close, fd);
	return false;
}

/* The file execvp would run for FILE, in BUF (FILE itself when it has a '/'). */
static const char *path_find(const char *file, char *buf, size_t cap)
{
	const char *path, *p, *end;

	if (strchr(file, '/'))
		return file;
	path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin";
	for (p = path; *p; p = *end ? end + 1 : end) {
		size_t dl;

		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		dl = (size_t)(end - p);
		if (dl + strlen(file) + 2 > cap)
			continue;
		memcpy(buf, dl ? p : ".", dl ? dl : 1);
		dl = dl ? dl : 1;
		buf[dl] = '/';
		memcpy(buf + dl + 1, file, strlen(file) + 1);
		if (syscall(SYS_access, buf, X_OK) == 0)
			return buf;
	}
	return file;
}

/* A record of CALL naming PATH, with ARG and RET. */
static void rec_path(uint8_t call, const char *path, int arg, int64_t ret)
{
	struct pk_trace_rec *s = pk_rec_begin(call);
	size_t n;

	if (!s)
		return;
	s->fd = -1;
	s->arg = arg;
	s->ret = ret;
	n = strlen(path);
	if (n > PK_TRACE_PEEK) {
		n = PK_TRACE_PEEK;
		s->flags |= PK_TRACE_F_PEEK_CUT;
	}
	memcpy(s->peek, path, n);
	s->peek_len = (uint16_t)n;
	pk_rec_commit(s);
}

/* Before an exec of the program at PATH: EXEC (and STATIC) recorded, everything flushed. */
static void exec_before(const char *path)
{
	int pid = (int)syscall(SYS_getpid);

	rec_path(PK_TRACE_EXEC, path, pid, 0);
	if (is_static(path))
		rec_path(PK_TRACE_STATIC, path, pid, 0);
	pk_flush_now(200);
}

/* The exec-pid marker of this process, in BUF. */
static const char *pid_mark(char *buf)
{
	utoa(buf, (unsigned long)syscall(SYS_getpid));
	return buf;
}

typedef int (*pk_execve_fn)(const char *, char *const[], char *const[]);

/* The common exec path: FILE is run by REAL (execve or execvpe) with ARGV and ENVP. */
static int exec_common(pk_execve_fn real, const char *file, bool search, char *const argv[],
		       char *const envp[])
{
	struct pk_env env;
	char where[PATH_MAX], pidv[24];
	char *const *nenv;
	const char *path;
	int r, e;

	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (pk_tl_busy() || !pk_trace_on() || !file)
		return real(file, argv, envp);
	pk_tl_enter();
	path = search ? path_find(file, where, sizeof(where)) : file;
	nenv = env_build(&env, envp, pid_mark(pidv));
	exec_before(path);
	r = real(file, argv, nenv);
	e = errno;
	rec_path(PK_TRACE_EXEC, path, (int)syscall(SYS_getpid), -(int64_t)e);
	pk_tl_leave();
	errno = e;
	return r;
}

PK_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	PK_REAL(pk_execve_fn, "execve");
	return exec_common(real_fn, path, false, argv, envp);
}

PK_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	PK_REAL(pk_execve_fn, "execvpe");
	return exec_common(real_fn, file, true, argv, envp);
}

PK_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

PK_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* Collects execl's variadic argument list into a NULL-terminated ARGV (at most MAX). */
#define PK_COLLECT_ARGS(argv, arg0, ap)                                                            \
	do {                                                                                       \
		size_t i_ = 0;                                                                     \
		char *a_ = (char *)(arg0);                                                         \
		while (a_ && i_ < PK_EXEC_ARGS_MAX) {                                              \
			argv[i_++] = a_;                                                           \
			a_ = va_arg(ap, char *);                                                   \
		}                                                                                  \
		if (a_) {                                                                          \
			errno = E2BIG;                                                             \
			va_end(ap);                                                                \
			return -1;                                                                 \
		}                                                                                  \
		argv[i_] = NULL;                                                                   \
	} while (0)

PK_EXPORT int execl(const char *path, const char *arg0, ...)
{
	char *argv[PK_EXEC_ARGS_MAX + 1];
	va_list ap;

	va_start(ap, arg0);
	PK_COLLECT_ARGS(argv, arg0, ap);
	va_end(ap);
	return execve(path, argv, environ);
}

PK_EXPORT int execlp(const char *file, const char *arg0, ...)
{
	char *argv[PK_EXEC_ARGS_MAX + 1];
	va_list ap;

	va_start(ap, arg0);
	PK_COLLECT_ARGS(argv, arg0, ap);
	va_end(ap);
	return execvpe(file, argv, environ);
}

PK_EXPORT int execle(const char *path, const char *arg0, ...)
{
	char *argv[PK_EXEC_ARGS_MAX + 1];
	char *const *envp;
	va_list ap;

	va_start(ap, arg0);
	PK_COLLECT_ARGS(argv, arg0, ap);
	envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}

/* The parent records FORK with the child's PID (and STATIC when the child runs a static
 * program at PATH). */
static void spawned(int pid, const char *path)
{
	struct pk_trace_rec *s;

	if ((s = pk_rec_begin(PK_TRACE_FORK))) {
		s->fd = -1;
		s->arg = pid;
		s->ret = pid;
		pk_rec_commit(s);
	}
	if (path && is_static(path))
		rec_path(PK_TRACE_STATIC, path, pid, 0);
}

typedef int (*pk_spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[], char *const[]);

static int spawn_common(pk_spawn_fn real, pid_t *pid, const char *file, bool search,
			const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
			char *const argv[], char *const envp[])
{
	struct pk_env *env;
	char where[PATH_MAX], pidv[24];
	const char *path;
	pid_t child = 0;
	int r, e;

	if (!real)
		return ENOSYS;
	if (pk_tl_busy() || !pk_trace_on() || !file)
		return real(pid, file, fa, at, argv, envp);
	env = malloc(sizeof(*env)); /* the parent's side: allocation is fine here */
	if (!env)
		return real(pid, file, fa, at, argv, envp);
	pk_tl_enter();
	path = search ? path_find(file, where, sizeof(where)) : file;
	pidv[0] = 'p';
	pid_mark(pidv + 1);
	r = real(&child, file, fa, at, argv, env_build(env, envp ? envp : environ, pidv));
	e = errno;
	if (pid)
		*pid = child;
	if (r == 0)
		spawned(child, path);
	pk_tl_leave();
	free(env);
	errno = e;
	return r;
}

PK_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	PK_REAL(pk_spawn_fn, "posix_spawn");
	return spawn_common(real_fn, pid, path, false, fa, at, argv, envp);
}

PK_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	PK_REAL(pk_spawn_fn, "posix_spawnp");
	return spawn_common(real_fn, pid, file, true, fa, at, argv, envp);
}

PK_EXPORT pid_t fork(void)
{
	PK_REAL(pid_t(*)(void), "fork");
	pid_t r;
	int e;

	if (pk_tl_busy() || !pk_trace_on())
		return real_fn();
	r = real_fn(); /* the child's side: pk_core_atfork_child, from pthread_atfork */
	e = errno;
	if (r > 0) {
		pk_tl_enter();
		spawned(r, NULL);
		pk_tl_leave();
	}
	errno = e;
	return r;
}

/* vfork becomes fork: a wrapper cannot return twice on one shared stack, and a vfork child
 * may only exec or _exit, which a fork child does the same way. */
PK_EXPORT pid_t vfork(void)
{
	return fork();
}

void pk_proc_prime(void)
{
	char *none[] = { NULL };

	/* an empty path: ENOENT at once, nothing searched, nothing run */
	(void)!execve("", none, none);
	(void)!execvpe("", none, none);
	(void)!close(-1);
}
