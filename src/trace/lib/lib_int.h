/* lib_int.h — what the files of libparikshan_trace.so share (never installed, never exported).
 *
 * core.c owns the descriptor table, the per-thread rings and the flusher thread; net.c wraps
 * the calls that move bytes on sockets; proc.c wraps fork and the exec family.  Every wrapper
 * follows one pattern:
 *
 *   if (pk_tl_busy())  -> call the real function only (the flusher, or a record in progress)
 *   ret = real(...); saved = errno;
 *   pk_tl_enter(); build a record in this thread's ring; pk_tl_leave();
 *   errno = saved; return ret;
 */
#ifndef PK_TRACE_LIB_INT_H
#define PK_TRACE_LIB_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "parikshan/trace.h"

#define PK_HIDDEN __attribute__((visibility("hidden")))
#define PK_EXPORT __attribute__((visibility("default")))
#define PK_TL __attribute__((tls_model("initial-exec")))

#define PK_FD_MAX 65536 /* descriptors at or above are never traced */

enum pk_fd_state {
	PK_FD_UNKNOWN = 0, /* not seen yet: classified on its next data call */
	PK_FD_OTHER,	   /* not a traced socket (file, pipe, netlink, logd's socket) */
	PK_FD_SOCK,	   /* a traced socket */
};

/* One descriptor as the library knows it.  The offsets are updated with atomic adds (two
 * threads may write one socket); the rest is written when the descriptor is (re)classified. */
struct pk_fd {
	_Atomic uint8_t state; /* enum pk_fd_state */
	uint8_t flags;	       /* PK_TRACE_F_DGRAM, FROM_START, SERVER, CLIENT */
	_Atomic uint8_t tls;   /* handed to SSL_set_fd: ciphertext calls not recorded */
	struct pk_trace_addr local, peer;
	_Atomic uint64_t off_in, off_out;
};

extern struct pk_fd pk_fds[PK_FD_MAX] PK_HIDDEN;

/* The real function NAME (next definition after this library), resolved once. */
void *pk_real(const char *name) PK_HIDDEN;
#define PK_REAL(type, name)                                                                        \
	static __typeof__(type) real_fn;                                                           \
	if (!real_fn)                                                                              \
		real_fn = (type)pk_real(name);

/* Thread-local guard: true while this thread must not record (inside the library, or the
 * flusher thread for its whole life). */
extern __thread int pk_tl_depth PK_TL PK_HIDDEN;
static inline bool pk_tl_busy(void)
{
	return pk_tl_depth != 0;
}
static inline void pk_tl_enter(void)
{
	pk_tl_depth++;
}
static inline void pk_tl_leave(void)
{
	pk_tl_depth--;
}

/* Library state set up by the constructor (false before it, and when disabled). */
bool pk_trace_on(void) PK_HIDDEN;

/* The entry of FD, classified now if unknown; NULL when FD is not a traced socket. */
struct pk_fd *pk_fd_get(int fd) PK_HIDDEN;
/* FD is a new connection (accept: server, connect: client): endpoints from the socket, PEER
 * when given, offsets from 0. */
void pk_fd_new(int fd, uint8_t side, const struct sockaddr *peer, socklen_t peerlen) PK_HIDDEN;
/* FD is closed or reused: forget it. */
void pk_fd_forget(int fd) PK_HIDDEN;
/* NEWFD is a duplicate of OLDFD. */
void pk_fd_dup(int oldfd, int newfd) PK_HIDDEN;
/* Converts a socket address into a record endpoint (family 0 when unsupported). */
void pk_addr_from(struct pk_trace_addr *a, const struct sockaddr *sa, socklen_t len) PK_HIDDEN;

/* Notes the clock as the calling thread begins a write: its record (pk_rec_data) carries
 * that time, not the time the call returned. */
void pk_rec_start(void) PK_HIDDEN;

/* A slot for one record in this thread's ring, zeroed but for call, tid and time; NULL when
 * the ring is full (counted) or cannot be made.  pk_rec_commit publishes it. */
struct pk_trace_rec *pk_rec_begin(uint8_t call) PK_HIDDEN;
void pk_rec_commit(struct pk_trace_rec *r) PK_HIDDEN;
/* A record of call CALL on socket entry F (endpoints and flags copied). */
struct pk_trace_rec *pk_rec_fd(uint8_t call, int fd, const struct pk_fd *f) PK_HIDDEN;
/* Records a data call on socket FD (entry F): IN for reads; RET bytes moved (or -errno); the
 * peek gathered from IOV (IOVCNT buffers, NULL for none); PEER (a datagram's source or
 * destination) overrides the entry's peer when not NULL. */
void pk_rec_data(int fd, struct pk_fd *f, bool in, int64_t ret, const struct iovec *iov,
		 size_t iovcnt, uint8_t extra_flags, const struct sockaddr *peer,
		 socklen_t peerlen) PK_HIDDEN;

/* Sends every pending record now, waiting at most about MS ms (before an exec, at exit). */
void pk_flush_now(int ms) PK_HIDDEN;

/* The application closes or replaces FD: when it is logd's connection, the flusher forgets it
 * (and connects again) instead of writing into whatever takes the number next. */
void pk_conn_check_fd(int fd) PK_HIDDEN;

/* Look up the real functions now (the constructor, under the guard): a first call in a signal
 * handler must not run dlsym. */
void pk_net_prime(void) PK_HIDDEN;
void pk_proc_prime(void) PK_HIDDEN;

/* fork bookkeeping: the child forgets the parent's rings and connection. */
void pk_core_atfork_child(void) PK_HIDDEN;

/* Attach mode (hook.c).  Finds out how the library came in: true when it was loaded into a
 * live process by dlopen (not preloaded), so its wrappers must be bound by hand. */
bool pk_hook_detect(void) PK_HIDDEN;
/* The result of pk_hook_detect. */
bool pk_hook_attached(void) PK_HIDDEN;
/* In attach mode: points every loaded object's GOT slots of the wrapped calls (and dlopen's,
 * so later objects follow) at the wrappers; nothing in preload mode. */
void pk_hook_install(void) PK_HIDDEN;
/* In attach mode: NAME's definition in the global scope (never this library's), or NULL. */
void *pk_hook_real(const char *name) PK_HIDDEN;

/* Configuration read at start, used by the exec wrappers (NUL-terminated, may be empty). */
extern char pk_cfg_lib[4096] PK_HIDDEN;
extern char pk_cfg_sock[108] PK_HIDDEN;

#endif
