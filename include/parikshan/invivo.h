/* invivo.h — the ABI of an in-vivo test (`parikshan invivo`).
 *
 * A test is a shared library exporting
 *
 *     int pk_invivo_test(const struct pk_invivo_ctx *ctx);
 *
 * returning 0 for pass and anything else for fail.  libiprobe calls it in a child forked from
 * the live process at the entry of the probed function, so the test sees the process's memory
 * as it is at that moment; the parent goes on at once.  In the child: only the thread that hit
 * the probe exists (a lock another thread held at the fork stays held: do not take locks the
 * process's other threads use, malloc included when they may be in it), inherited sockets are
 * closed, stdin/stdout/stderr are /dev/null, and the child ends with exit_group after the test
 * (no atexit handler, no stdio flush).  Write output with pk_invivo_log (libinvivo.so).
 */
#ifndef PARIKSHAN_INVIVO_H
#define PARIKSHAN_INVIVO_H

#include <stdint.h>

#define PK_INVIVO_TEST_SYMBOL "pk_invivo_test"

struct pk_invivo_ctx {
	uint32_t size;	  /* sizeof(struct pk_invivo_ctx) of the libiprobe that calls */
	uint32_t probe;	  /* the probed function's probe id */
	const char *func; /* the probed function's name */
	int32_t parent;	  /* pid of the live process the child was forked from */
	int32_t pid;	  /* the child's own pid */
	int32_t log_fd;	  /* the verdict log, open for appending (-1 when it could not be) */
	int32_t pad;
};

/* The test's entry point, exported by TEST.so. */
typedef int (*pk_invivo_test_fn)(const struct pk_invivo_ctx *ctx);

/* Writes one line to the verdict log (prefixed with the child's pid and the function; a
 * newline is added), from libinvivo.so.  Output over 1 KiB is truncated. */
void pk_invivo_log(const struct pk_invivo_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
