/* inject.h — ptrace work on a live target: load a shared library into it (dlopen called in the
 * target), and the fallback that rewrites a few bytes of its code while no thread's program
 * counter lies inside them, stopping one thread at a time.  Used only for injection and for sites
 * that the target's own libiprobe cannot switch atomically; probes are otherwise switched inside
 * the target without stopping it.
 */
#ifndef PK_PROBE_INJECT_H
#define PK_PROBE_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Loads the shared library `host_path` (a path on our side) into process `pid` with dlopen in
 * the target (RTLD_NOW), through ptrace on one of its threads (the only one stopped); the
 * library is reached by the same path when it is the same file inside the target's mount
 * namespace, else through a memfd made in the target.  Returns 0 once loaded (or when a library
 * of the same file name is already mapped), or -errno with a one-line reason in err: -ESRCH no
 * such process / it exited meanwhile, -EPERM not permitted, -EBUSY traced by another process,
 * -ENOENT no such library (or no dlopen in the target's libc: glibc >= 2.34 or musl needed),
 * -ENOEXEC dlopen failed (its dlerror text), -ETIMEDOUT dlopen did not return within 10 s (the
 * thread is given back its registers: a lock taken inside dlopen may stay held).  The target
 * keeps running in every case except when the library's constructor crashes it.  Not
 * thread-safe for one target: one injection at a time. */
int pk_inject_library(pid_t pid, const char *host_path, char *err, size_t errlen);

/* True when /proc/PID/maps maps a file whose base name is `name` (also " (deleted)", and
 * "/memfd:NAME" for a library pk_inject_library loaded through a memfd). */
bool pk_inject_is_loaded(pid_t pid, const char *name);

/* One write of the fallback: `len` bytes at `addr`, allowed only while no thread's PC is in
 * [guard_lo, guard_hi). */
struct pk_poke {
	uint64_t addr;
	uint8_t bytes[16];
	uint8_t len;
	uint8_t expect[16]; /* bytes that must be there before (len of them) */
	uint64_t guard_lo, guard_hi;
	uint64_t
		skip_to; /* not 0: the guarded bytes are NOPs; a thread inside them is moved here */
};

/* Rewrites each poke's bytes in `pid` through ptrace without stopping the process (poke.c):
 * its first byte becomes an int3, every thread is looked at one at a time (a PC in a guard range
 * is moved to skip_to, or looked at again 1 ms later, up to `retries` times), then the bytes
 * after the first and the first are written and every thread let go.  A thread that reaches a
 * poke meanwhile goes to skip_to (or, without one, waits for the final bytes).  0, or -errno
 * with a reason: -EBUSY a PC stayed in a range (or another process traces pid), -EILSEQ
 * unexpected bytes, -ESRCH the target exited, -EINVAL a len of 0 or more than 16, -ETIMEDOUT a
 * thread did not stop within 2 s; on failure the old bytes are back.  *pause_ns (if not NULL)
 * gets the longest time one thread was stopped (an upper bound). */
int pk_inject_poke(pid_t pid, const struct pk_poke *pokes, size_t n, int retries,
		   uint64_t *pause_ns, char *err, size_t errlen);

#endif
