/* attach.h — puts libparikshan_trace.so into live processes (`parikshan trace attach`,
 * `parikshan clone --trace`): the library is loaded with pk_inject_library and binds its
 * wrappers itself (attach mode, src/trace/lib/hook.c). */
#ifndef PK_TRACE_ATTACH_H
#define PK_TRACE_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PK_TRACE_LIB_NAME "libparikshan_trace.so"

/* Loads the library at `lib` (a path on our side) into process `pid`, telling it that logd
 * listens at `sock` (a path as the process sees it, in its own mount namespace: written to
 * PK_TRACE_ATTACH_DIR/<its pid> under /proc/PID/root for the library's constructor and removed
 * after).  0 once loaded; -EALREADY when the library is already in the process (nothing done);
 * else -errno with a one-line reason in err: -ESRCH no such process, -EPERM not permitted,
 * -ENOEXEC a statically linked program (nothing can be loaded into it), or
 * pk_inject_library's errors. */
int pk_trace_attach(pid_t pid, const char *lib, const char *sock, char *err, size_t errlen);

/* True when the file at `path` is an ELF executable without PT_INTERP (statically linked);
 * false for a dynamic one, a script or an unreadable file. */
bool pk_trace_is_static(const char *path);

/* Fills pids[0..cap) with every process in the pid namespace of process `pid` (itself
 * included).  Returns how many (at most cap), or -errno: -ESRCH no such process, -EPERM its
 * namespace unreadable. */
int pk_trace_pidns_pids(pid_t pid, pid_t *pids, size_t cap);

/* True when process `pid` is in our own pid namespace. */
bool pk_trace_pidns_is_ours(pid_t pid);

/* True when something accepts connections on the Unix socket at `path` (a logd). */
bool pk_trace_logd_listening(const char *path);

#endif
