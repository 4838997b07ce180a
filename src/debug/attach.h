/* attach.h — `parikshan debug`: run a command (a shell, gdb, strace, tcpdump) inside a clone's
 * namespaces with the host's tools.
 *
 * The way in ("host view"): the command joins the target's pid, net, uts, ipc and cgroup
 * namespaces (one setns through a pidfd, so a recycled pid cannot be entered by mistake), and
 * a private copy of the *host's* mount namespace in which /proc and /sys are mounted afresh for
 * the target's pid and network namespaces.  So the host's binaries run with the host's own
 * loader, libraries and data files (gdb, strace, tcpdump, bpftrace work unchanged, even when
 * the target's root has no libc); `ps`, `ss`, `ip` see only the target; gdb reads the
 * target's libraries through /proc/PID/root (its sysroot, set by `debug --gdb`); the target's
 * filesystem is at /proc/1/root (exported as PK_DEBUG_ROOT).
 * Entering the target's mount namespace instead would make every host tool depend on the
 * target's loader and libc.  The command keeps root's capabilities (CAP_SYS_PTRACE,
 * CAP_NET_RAW): nothing is dropped.
 */
#ifndef PK_DEBUG_ATTACH_H
#define PK_DEBUG_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PK_DEBUG_NAME_MAX 64

/* What `parikshan debug` enters: a container or clone of ours, or a process. */
struct pk_debug_target {
	char name[PK_DEBUG_NAME_MAX];  /* the container's name, or "pid:PID" */
	pid_t pid;		       /* on the host: the container's init, or PID */
	bool is_clone;		       /* a clone (safe to debug), else production */
	char clone[PK_DEBUG_NAME_MAX]; /* pid:PID inside a clone: that clone's name */
};

/* Parses "pid:PID" (PID decimal, 1..2^22).  Returns 1 with *pid set when spec has the form,
 * 0 when spec does not start with "pid:" (a container name), -EINVAL for a bad PID. */
int pk_debug_parse_pid(const char *spec, pid_t *pid);

/* Resolves spec (a container or clone name in state_dir, or "pid:PID") into t: the process to
 * enter and whether it is a clone.  Returns 0, -ENOENT (no such container, or it is not
 * running), -ESRCH (no such process), -EINVAL (bad spec); err says why. */
int pk_debug_resolve(const char *state_dir, const char *spec, struct pk_debug_target *t, char *err,
		     size_t errlen);

/* Whether debugging t is allowed: a clone always; production only with production set.
 * Returns 0 or -EPERM with the reason in err. */
int pk_debug_allowed(const struct pk_debug_target *t, bool production, char *err, size_t errlen);

/* Finds, among the processes in the pid namespace of host process target, the one named by
 * what: NULL (that namespace's init, or target itself when it is not an init), a PID as seen
 * inside the namespace, or a process name (its comm; the lowest such PID).  *ns_pid gets the
 * PID as seen inside.  Returns 0, -ESRCH (none; err says why) or -errno. */
int pk_debug_find_process(pid_t target, const char *what, pid_t *ns_pid, char *err, size_t errlen);

/* Finds program prog in the directories of path (a PATH value).  Returns 0 with its full
 * path in out[len], or -ENOENT. */
int pk_debug_which(const char *prog, const char *path, char *out, size_t len);

struct pk_debug_run_opts {
	pid_t pid;	   /* the host process whose namespaces are entered */
	const char *label; /* names the target in PS1 (PK_DEBUG_TARGET) */
	char *const *argv; /* the command, NULL-terminated; argv[0] searched in PATH */
	const char *tools; /* a directory put first in PATH; NULL: none */
};

/* Runs o->argv inside the namespaces of o->pid (see the top of this file) with stdin, stdout
 * and stderr inherited, and waits for it.  The environment gets PS1 naming o->label,
 * PK_DEBUG_TARGET and PK_DEBUG_ROOT.  A forked child joins the namespaces (the caller stays
 * where it is) and forks the command; TERM and HUP sent to the caller while it waits reach the
 * command, and the command dies if the caller does.  Returns the command's exit status
 * (0..255; 128+N when killed by signal N), or -errno when it could not be started (err says
 * why: the target is gone, setns refused, no such command). */
int pk_debug_run(const struct pk_debug_run_opts *o, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
