/* proc.h — running helper programs (ip, runc, cp, rsync) without a shell.
 *
 * argv is passed as is (no word splitting, no globbing).  The child gets /dev/null on stdin,
 * its stdout and stderr are captured (up to a cap) for error messages, and it is killed if
 * it outlives the timeout.
 */
#ifndef PK_COMMON_PROC_H
#define PK_COMMON_PROC_H

#include <stddef.h>

#include "common/strbuf.h"

/* Runs argv[0] (searched in PATH) and waits for it, at most timeout_ms.  Returns its exit
 * status (0..255), -ETIMEDOUT (killed), -ECHILD (killed by a signal) or another -errno when
 * it could not be started.  out (may be NULL) receives stdout and stderr, capped at 64 KiB. */
int pk_proc_run(char *const argv[], int timeout_ms, struct pk_strbuf *out);

/* Like pk_proc_run(), and on failure writes a one-line reason ("ip: RTNETLINK answers: File
 * exists") into err.  Returns 0 on exit status 0, else a negative errno (-EIO for a non-zero
 * exit). */
int pk_proc_check(char *const argv[], int timeout_ms, char *err, size_t errlen);

#endif
