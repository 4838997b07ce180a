/* sock.h — non-blocking TCP socket helpers (in the manner of Redis's anet).
 *
 * Every fd is O_CLOEXEC and O_NONBLOCK.  Functions return an fd or 0 on success and a
 * negative errno on failure; resolution fills a caller's error buffer with the reason.
 */
#ifndef PK_COMMON_SOCK_H
#define PK_COMMON_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PK_ADDR_STRLEN 64

struct pk_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Resolves host (name or numeric, IPv4 or IPv6) and port into out.  On failure returns
 * -ENOENT (unknown name), -EAGAIN (temporary) or -EINVAL and writes why into err. */
int pk_addr_resolve(const char *host, uint16_t port, struct pk_addr *out, char *err, size_t errlen);

/* Formats a as "ip:port" ("[ip6]:port" for IPv6) into buf; returns buf. */
const char *pk_addr_str(const struct pk_addr *a, char *buf, size_t len);

/* Creates a listening socket bound to a with SO_REUSEADDR; returns the fd or -errno. */
int pk_sock_listen(const struct pk_addr *a, int backlog);

/* Like pk_sock_listen() but with SO_REUSEPORT, so that several sockets (one per worker
 * thread) share the port and the kernel spreads connections over them. */
int pk_sock_listen_shared(const struct pk_addr *a, int backlog);

/* Like pk_sock_listen() but the address need not be on this host yet (IP_FREEBIND): the
 * aggregator's debug side listens on the clones' gateway before any clone exists. */
int pk_sock_listen_freebind(const struct pk_addr *a, int backlog);

/* Starts a non-blocking connect to a with TCP_NODELAY; returns the fd (connect may still be
 * in progress: wait for writability, then pk_sock_error()) or -errno. */
int pk_sock_connect(const struct pk_addr *a);

/* Connects to a, waiting until the monotonic deadline deadline_ms (a pk_now_ms() value):
 * returns the connected fd (non-blocking, the caller's to close) or -errno (-ETIMEDOUT). */
int pk_sock_connect_by(const struct pk_addr *a, uint64_t deadline_ms);

/* Waits until fd (any fd: socket or pipe) is ready for events (POLLIN, POLLOUT) or the
 * monotonic deadline deadline_ms passes, retrying on EINTR.  Returns 0 when ready (or on
 * error or hang-up, which the next read or write reports), -ETIMEDOUT, or -errno. */
int pk_sock_wait(int fd, short events, uint64_t deadline_ms);

/* Accepts one connection (non-blocking, TCP_NODELAY); returns the fd or -errno (-EAGAIN when
 * none is pending).  peer may be NULL. */
int pk_sock_accept(int lfd, struct pk_addr *peer);

/* Returns the pending error of fd (SO_ERROR) as -errno, or 0. */
int pk_sock_error(int fd);

/* Returns the local port fd is bound to, or -errno. */
int pk_sock_local_port(int fd);

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit or -errno. */
long pk_raise_nofile(void);

#endif
