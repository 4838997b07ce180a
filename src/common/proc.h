/* proc.h — running helper programs (ip, runc, cp, rsync) without a shell.
 *
 * argv is passed as is (no word splitting, no globbing).  The child gets /dev/null on stdin,
 * its stdout and stderr are captured (up to a cap) for error messages, and it is killed if
 * it outlives the timeout.
 */
#ifndef PK_COMMON_PROC_H
#define PK_COMMON_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/strbuf.h"

/* Runs argv[0] (searched in PATH) and waits for it, at most timeout_ms.  Returns its exit
 * status (0..255), -ETIMEDOUT (killed), -ECHILD (killed by a signal) or another -errno when
 * it could not be started.  out (may be NULL) receives stdout and stderr, capped at 64 KiB. */
int pk_proc_run(char *const argv[], int timeout_ms, struct pk_strbuf *out);

/* Like pk_proc_run(), and on failure writes a one-line reason ("ip: RTNETLINK answers: File
 * exists") into err.  Returns 0 on exit status 0, else a negative errno (-EIO for a non-zero
 * exit). */
int pk_proc_check(char *const argv[], int timeout_ms, char *err, size_t errlen);

/* Reads pid's start time (field 22 of /proc/PID/stat: clock ticks after boot), which with the
 * pid names one process for good (a pid is reused, a pid and start time are not).  Returns 0,
 * -ESRCH when there is no such process, or -EPROTO for an unreadable stat line. */
int pk_proc_start_time(pid_t pid, uint64_t *ticks);

/* Opens a pidfd on pid only if pid is still the process that started at start_ticks: the pidfd
 * is taken first and the start time checked after, so the process signalled through it is
 * the one checked.  Returns the pidfd (O_CLOEXEC; the caller closes it), or -ESRCH when the
 * process is gone or pid now names another one, or another -errno. */
int pk_proc_open_checked(pid_t pid, uint64_t start_ticks);

/* Sends SIGTERM through pidfd and waits up to timeout_ms for the process to end; then SIGKILL
 * and up to one more second.  Returns 0 once it ended, -ETIMEDOUT, or another -errno. */
int pk_proc_stop(int pidfd, int timeout_ms);

/* Finds the library name that ships with our binary: the path in environment variable env when
 * set (made absolute), else beside /proc/self/exe, else in ../lib/parikshan/ from there.  The
 * path into path[len]; 0, or -ENOENT (not found, not readable), -ENAMETOOLONG, -errno. */
int pk_proc_own_lib(const char *env, const char *name, char *path, size_t len);

/* Forks a detached child: in it (0 returned) a new session, stdout and stderr appended to log
 * and stdin from /dev/null (it _exits when it cannot); in the parent its pid, or -errno. */
pid_t pk_proc_fork_detached(const char *log);

/* Field `key` (e.g. "SigPnd:") of /proc/TID/status read as a number in `base` into *val;
 * 0, -ENOENT when there is no such field, or -errno when the file cannot be read. */
int pk_proc_status_field(pid_t tid, const char *key, int base, unsigned long long *val);

/* Whether process pid runs: it exists and is not a zombie waiting for its parent's wait. */
bool pk_proc_alive(pid_t pid);

#endif
