/* net.c — the wrappers of the calls that create, move bytes on, duplicate and close sockets,
 * and of OpenSSL's plaintext calls (looked up at run time: libssl is never linked).  Each one
 * calls the real function first, keeps its errno, records, and gives the errno back. */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <stdint.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib_int.h"

/* A read or write that moved nothing because the call would block (or was interrupted) says
 * nothing about the request: not recorded. */
static bool uninteresting(ssize_t r, int e)
{
	return r < 0 && (e == EAGAIN || e == EWOULDBLOCK || e == EINTR);
}

/* OpenSSL over a BIO of the program's own (curl's): SSL_get_fd says -1, so the descriptor of
 * an SSL object is learnt from the socket calls made inside its SSL calls on this thread, and
 * remembered in a small table (a hint: a collision only loses the plaintext records). */
static __thread void *tl_ssl PK_TL; /* the SSL object of the SSL call in progress */
static __thread int tl_ssl_fd PK_TL;
#define PK_SSL_SLOTS 256
static struct {
	void *_Atomic ssl;
	_Atomic int fd;
} ssl_fds[PK_SSL_SLOTS];

static unsigned ssl_slot(void *ssl)
{
	return (unsigned)(((uintptr_t)ssl >> 4) % PK_SSL_SLOTS);
}

/* Records a data call on FD unless FD is not a traced socket, or its bytes are ciphertext. */
static void data_done(int fd, bool in, ssize_t r, int e, const void *buf, const struct iovec *iov,
		      size_t iovcnt, const struct sockaddr *peer, socklen_t peerlen)
{
	struct pk_fd *f;
	struct iovec one;

	if (!pk_trace_on() || uninteresting(r, e))
		return;
	pk_tl_enter();
	f = pk_fd_get(fd);
	if (f && tl_ssl) {
		/* ciphertext moved by an SSL call through the program's own BIO */
		unsigned k = ssl_slot(tl_ssl);

		atomic_store(&f->tls, 1);
		tl_ssl_fd = fd;
		atomic_store(&ssl_fds[k].fd, fd);
		atomic_store(&ssl_fds[k].ssl, tl_ssl);
	} else if (f && !atomic_load_explicit(&f->tls, memory_order_relaxed)) {
		if (!(f->flags & PK_TRACE_F_DGRAM) || r < 0)
			peer = NULL; /* a failed call's pointers may be bad (EFAULT) */
		if (buf) {
			one.iov_base = (void *)buf;
			one.iov_len = r > 0 ? (size_t)r : 0;
			iov = &one;
			iovcnt = 1;
		}
		pk_rec_data(fd, f, in, r < 0 ? -(int64_t)e : (int64_t)r, iov, iovcnt, 0, peer,
			    peerlen);
	}
	pk_tl_leave();
}

#define PK_DATA_WRAP(ret_type, name, in, params, args, buf, iov, iovcnt, peer, peerlen, skip)      \
	PK_EXPORT ret_type name params                                                             \
	{                                                                                          \
		PK_REAL(ret_type(*) params, #name);                                                \
		ret_type r;                                                                        \
		int e;                                                                             \
		if (pk_tl_busy() || (skip))                                                        \
			return real_fn args;                                                       \
		if (!(in))                                                                         \
			pk_rec_start();                                                            \
		r = real_fn args;                                                                  \
		e = errno;                                                                         \
		data_done(fd, in, r, e, buf, iov, iovcnt, peer, peerlen);                          \
		errno = e;                                                                         \
		return r;                                                                          \
	}

PK_DATA_WRAP(ssize_t, read, true, (int fd, void *b, size_t n), (fd, b, n), b, NULL, 0, NULL, 0,
	     false)
PK_DATA_WRAP(ssize_t, write, false, (int fd, const void *b, size_t n), (fd, b, n), b, NULL, 0, NULL,
	     0, false)
PK_DATA_WRAP(ssize_t, recv, true, (int fd, void *b, size_t n, int fl), (fd, b, n, fl), b, NULL, 0,
	     NULL, 0, (fl & MSG_PEEK))
PK_DATA_WRAP(ssize_t, send, false, (int fd, const void *b, size_t n, int fl), (fd, b, n, fl), b,
	     NULL, 0, NULL, 0, false)
PK_DATA_WRAP(ssize_t, recvfrom, true,
	     (int fd, void *b, size_t n, int fl, struct sockaddr *sa, socklen_t *sl),
	     (fd, b, n, fl, sa, sl), b, NULL, 0, r >= 0 ? sa : NULL, r >= 0 && sl ? *sl : 0,
	     (fl & MSG_PEEK))
PK_DATA_WRAP(ssize_t, sendto, false,
	     (int fd, const void *b, size_t n, int fl, const struct sockaddr *sa, socklen_t sl),
	     (fd, b, n, fl, sa, sl), b, NULL, 0, sa, sl, false)
PK_DATA_WRAP(ssize_t, recvmsg, true, (int fd, struct msghdr *m, int fl), (fd, m, fl), NULL,
	     r > 0 ? m->msg_iov : NULL, r > 0 ? m->msg_iovlen : 0, r >= 0 ? m->msg_name : NULL,
	     r >= 0 ? m->msg_namelen : 0, (fl & MSG_PEEK))
PK_DATA_WRAP(ssize_t, sendmsg, false, (int fd, const struct msghdr *m, int fl), (fd, m, fl), NULL,
	     r > 0 ? m->msg_iov : NULL, r > 0 ? m->msg_iovlen : 0, r >= 0 ? m->msg_name : NULL,
	     r >= 0 ? m->msg_namelen : 0, false)
PK_DATA_WRAP(ssize_t, readv, true, (int fd, const struct iovec *v, int c), (fd, v, c), NULL, v,
	     c > 0 ? (size_t)c : 0, NULL, 0, false)
PK_DATA_WRAP(ssize_t, writev, false, (int fd, const struct iovec *v, int c), (fd, v, c), NULL, v,
	     c > 0 ? (size_t)c : 0, NULL, 0, false)

/* _FORTIFY_SOURCE's checked reads: glibc's own read/recv behind them are internal calls */
PK_DATA_WRAP(ssize_t, __read_chk, true, (int fd, void *b, size_t n, size_t bl), (fd, b, n, bl), b,
	     NULL, 0, NULL, 0, false)
PK_DATA_WRAP(ssize_t, __recv_chk, true, (int fd, void *b, size_t n, size_t bl, int fl),
	     (fd, b, n, bl, fl), b, NULL, 0, NULL, 0, (fl & MSG_PEEK))
PK_DATA_WRAP(ssize_t, __recvfrom_chk, true,
	     (int fd, void *b, size_t n, size_t bl, int fl, struct sockaddr *sa, socklen_t *sl),
	     (fd, b, n, bl, fl, sa, sl), b, NULL, 0, r >= 0 ? sa : NULL, r >= 0 && sl ? *sl : 0,
	     (fl & MSG_PEEK))

/* sendmmsg/recvmmsg (libuv's UDP, resolvers): one record per message moved, each with its
 * own peer; a failed call is one record of the error. */
#define PK_MMSG_WRAP(name, in, params, args)                                                       \
	PK_EXPORT int name params                                                                  \
	{                                                                                          \
		PK_REAL(int(*) params, #name);                                                     \
		int r, e;                                                                          \
		if (pk_tl_busy() || (in && (fl & MSG_PEEK)))                                       \
			return real_fn args;                                                       \
		if (!(in))                                                                         \
			pk_rec_start();                                                            \
		r = real_fn args;                                                                  \
		e = errno;                                                                         \
		if (r < 0)                                                                         \
			data_done(fd, in, -1, e, NULL, NULL, 0, NULL, 0);                          \
		for (int i = 0; i < r; i++)                                                        \
			data_done(fd, in, (ssize_t)v[i].msg_len, 0, NULL, v[i].msg_hdr.msg_iov,    \
				  v[i].msg_hdr.msg_iovlen, v[i].msg_hdr.msg_name,                  \
				  v[i].msg_hdr.msg_namelen);                                       \
		errno = e;                                                                         \
		return r;                                                                          \
	}

PK_MMSG_WRAP(sendmmsg, false, (int fd, struct mmsghdr *v, unsigned int n, int fl), (fd, v, n, fl))
PK_MMSG_WRAP(recvmmsg, true,
	     (int fd, struct mmsghdr *v, unsigned int n, int fl, struct timespec *t),
	     (fd, v, n, fl, t))

/* sendfile: the bytes come from a file; the record has no peek (peek_len 0). */
#define PK_SENDFILE_WRAP(name, off_type)                                                           \
	PK_EXPORT ssize_t name(int fd, int in_fd, off_type *off, size_t n)                         \
	{                                                                                          \
		PK_REAL(ssize_t (*)(int, int, off_type *, size_t), #name);                         \
		ssize_t r;                                                                         \
		int e;                                                                             \
		if (pk_tl_busy())                                                                  \
			return real_fn(fd, in_fd, off, n);                                         \
		pk_rec_start();                                                                    \
		r = real_fn(fd, in_fd, off, n);                                                    \
		e = errno;                                                                         \
		data_done(fd, false, r, e, NULL, NULL, 0, NULL, 0);                                \
		errno = e;                                                                         \
		return r;                                                                          \
	}
PK_SENDFILE_WRAP(sendfile, off_t)
PK_SENDFILE_WRAP(sendfile64, off64_t)

/* A new connection on FD (SIDE: server or client), recorded as CALL. */
static void conn_done(uint8_t call, int fd, int arg, int64_t ret, uint8_t side,
		      const struct sockaddr *peer, socklen_t peerlen)
{
	struct pk_trace_rec *s;
	struct pk_fd *f;

	if (!pk_trace_on())
		return;
	pk_tl_enter();
	if (ret == 0 || ret == -EINPROGRESS || call == PK_TRACE_ACCEPT)
		pk_fd_new(fd, side, peer, peerlen);
	f = pk_fd_get(fd);
	if (f && (s = pk_rec_fd(call, fd, f))) {
		s->arg = arg;
		s->ret = ret;
		if (peer && s->peer.family == 0)
			pk_addr_from(&s->peer, peer, peerlen);
		pk_rec_commit(s);
	}
	pk_tl_leave();
}

PK_EXPORT int accept4(int lfd, struct sockaddr *sa, socklen_t *sl, int fl)
{
	PK_REAL(int (*)(int, struct sockaddr *, socklen_t *, int), "accept4");
	int r, e;

	if (pk_tl_busy())
		return real_fn(lfd, sa, sl, fl);
	r = real_fn(lfd, sa, sl, fl);
	e = errno;
	if (r >= 0)
		conn_done(PK_TRACE_ACCEPT, r, lfd, r, PK_TRACE_F_SERVER, sa, sl ? *sl : 0);
	errno = e;
	return r;
}

PK_EXPORT int accept(int lfd, struct sockaddr *sa, socklen_t *sl)
{
	PK_REAL(int (*)(int, struct sockaddr *, socklen_t *), "accept");
	int r, e;

	if (pk_tl_busy())
		return real_fn(lfd, sa, sl);
	r = real_fn(lfd, sa, sl);
	e = errno;
	if (r >= 0)
		conn_done(PK_TRACE_ACCEPT, r, lfd, r, PK_TRACE_F_SERVER, sa, sl ? *sl : 0);
	errno = e;
	return r;
}

PK_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t sl)
{
	PK_REAL(int (*)(int, const struct sockaddr *, socklen_t), "connect");
	int r, e;

	if (pk_tl_busy())
		return real_fn(fd, sa, sl);
	r = real_fn(fd, sa, sl);
	e = errno;
	if (!uninteresting(r, e) || e == EINPROGRESS || e == EAGAIN)
		conn_done(PK_TRACE_CONNECT, fd, 0, r == 0 ? 0 : -(int64_t)e, PK_TRACE_F_CLIENT,
			  r != 0 && e == EFAULT ? NULL : sa, sl);
	errno = e;
	return r;
}

PK_EXPORT int close(int fd)
{
	PK_REAL(int (*)(int), "close");
	struct pk_fd copy, *f;
	struct pk_trace_rec *s;
	bool sock;
	int r, e;

	if (pk_tl_busy() || !pk_trace_on() || fd < 0 || fd >= PK_FD_MAX)
		return real_fn(fd);
	pk_conn_check_fd(fd);
	f = &pk_fds[fd];
	sock = atomic_load_explicit(&f->state, memory_order_acquire) == PK_FD_SOCK;
	if (sock) {
		copy.flags = f->flags;
		copy.local = f->local;
		copy.peer = f->peer;
	}
	r = real_fn(fd);
	e = errno;
	pk_fd_forget(fd);
	if (sock) {
		pk_tl_enter();
		if ((s = pk_rec_fd(PK_TRACE_CLOSE, fd, &copy))) {
			s->ret = r < 0 ? -(int64_t)e : 0;
			pk_rec_commit(s);
		}
		pk_tl_leave();
	}
	errno = e;
	return r;
}

ssize_t __read_chk(int fd, void *b, size_t n, size_t bl);
ssize_t __recv_chk(int fd, void *b, size_t n, size_t bl, int fl);
ssize_t __recvfrom_chk(int fd, void *b, size_t n, size_t bl, int fl, struct sockaddr *sa,
		       socklen_t *sl);
int fcntl64(int fd, int cmd, ...);

/* A new socket's number may have been a file closed inside libc (fclose): start afresh. */
PK_EXPORT int socket(int dom, int type, int proto)
{
	PK_REAL(int (*)(int, int, int), "socket");
	int r = real_fn(dom, type, proto);

	if (r >= 0)
		pk_fd_forget(r);
	return r;
}

/* close_range and closefrom close descriptors the close wrapper never sees. */
static void forget_range(unsigned first, unsigned last)
{
	for (unsigned fd = first; fd <= last && fd < PK_FD_MAX; fd++) {
		pk_conn_check_fd((int)fd);
		pk_fd_forget((int)fd);
	}
}

PK_EXPORT int close_range(unsigned first, unsigned last, int fl)
{
	PK_REAL(int (*)(unsigned, unsigned, int), "close_range");
	int r, e;

	if (!real_fn) {
		errno = ENOSYS;
		return -1;
	}
	r = real_fn(first, last, fl);
	e = errno;
	if (r == 0 && !(fl & CLOSE_RANGE_CLOEXEC))
		forget_range(first, last);
	errno = e;
	return r;
}

PK_EXPORT void closefrom(int low)
{
	PK_REAL(void (*)(int), "closefrom");
	int e;

	if (low < 0)
		low = 0;
	forget_range((unsigned)low, PK_FD_MAX - 1);
	e = errno;
	if (real_fn)
		real_fn(low);
	errno = e;
}

PK_EXPORT int shutdown(int fd, int how)
{
	PK_REAL(int (*)(int, int), "shutdown");
	struct pk_trace_rec *s;
	struct pk_fd *f;
	int r, e;

	if (pk_tl_busy() || !pk_trace_on())
		return real_fn(fd, how);
	r = real_fn(fd, how);
	e = errno;
	pk_tl_enter();
	if ((f = pk_fd_get(fd)) && (s = pk_rec_fd(PK_TRACE_SHUTDOWN, fd, f))) {
		s->arg = how;
		s->ret = r < 0 ? -(int64_t)e : 0;
		pk_rec_commit(s);
	}
	pk_tl_leave();
	errno = e;
	return r;
}

/* NEWFD (when >= 0) now refers to OLDFD's file: carry its entry over and record a DUP. */
static void dup_done(int oldfd, int newfd)
{
	struct pk_trace_rec *s;
	struct pk_fd *f;

	if (newfd < 0 || newfd == oldfd || !pk_trace_on())
		return;
	pk_tl_enter();
	pk_fd_dup(oldfd, newfd);
	if ((f = pk_fd_get(oldfd)) && (s = pk_rec_fd(PK_TRACE_DUP, oldfd, f))) {
		s->arg = newfd;
		s->ret = newfd;
		pk_rec_commit(s);
	}
	pk_tl_leave();
}

PK_EXPORT int dup(int fd)
{
	PK_REAL(int (*)(int), "dup");
	int r, e;

	if (pk_tl_busy())
		return real_fn(fd);
	r = real_fn(fd);
	e = errno;
	dup_done(fd, r);
	errno = e;
	return r;
}

PK_EXPORT int dup2(int fd, int nfd)
{
	PK_REAL(int (*)(int, int), "dup2");
	int r, e;

	if (pk_tl_busy())
		return real_fn(fd, nfd);
	pk_conn_check_fd(nfd);
	r = real_fn(fd, nfd);
	e = errno;
	dup_done(fd, r);
	errno = e;
	return r;
}

PK_EXPORT int dup3(int fd, int nfd, int fl)
{
	PK_REAL(int (*)(int, int, int), "dup3");
	int r, e;

	if (pk_tl_busy())
		return real_fn(fd, nfd, fl);
	pk_conn_check_fd(nfd);
	r = real_fn(fd, nfd, fl);
	e = errno;
	dup_done(fd, r);
	errno = e;
	return r;
}

/* fcntl's third argument is an int, a long or a pointer: passed on as a long (the ABI glibc's
 * own wrapper relies on). */
#define PK_FCNTL_WRAP(name)                                                                        \
	PK_EXPORT int name(int fd, int cmd, ...)                                                   \
	{                                                                                          \
		PK_REAL(int (*)(int, int, ...), #name);                                            \
		va_list ap;                                                                        \
		long a;                                                                            \
		int r, e;                                                                          \
		va_start(ap, cmd);                                                                 \
		a = va_arg(ap, long);                                                              \
		va_end(ap);                                                                        \
		if (pk_tl_busy() || (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC))                    \
			return real_fn(fd, cmd, a);                                                \
		r = real_fn(fd, cmd, a);                                                           \
		e = errno;                                                                         \
		dup_done(fd, r);                                                                   \
		errno = e;                                                                         \
		return r;                                                                          \
	}
PK_FCNTL_WRAP(fcntl)
PK_FCNTL_WRAP(fcntl64)

/* ---- OpenSSL (the SSL type is opaque here) ---- */

static int ssl_fd(void *ssl)
{
	PK_REAL(int (*)(void *), "SSL_get_fd");
	return real_fn ? real_fn(ssl) : -1;
}

/* FD carries TLS: its ciphertext calls are no longer recorded. */
static void ssl_mark(int fd)
{
	struct pk_fd *f;

	pk_tl_enter();
	if ((f = pk_fd_get(fd)))
		atomic_store(&f->tls, 1);
	pk_tl_leave();
}

/* N plaintext bytes at BUF moved through SSL over its descriptor. */
static void ssl_done(void *ssl, bool in, const void *buf, size_t n)
{
	struct iovec one = { .iov_base = (void *)buf, .iov_len = n };
	struct pk_fd *f;
	int fd;

	if (!pk_trace_on() || n == 0)
		return;
	pk_tl_enter();
	fd = ssl_fd(ssl);
	if (fd < 0)
		fd = tl_ssl_fd;
	if (fd < 0 && atomic_load(&ssl_fds[ssl_slot(ssl)].ssl) == ssl)
		fd = atomic_load(&ssl_fds[ssl_slot(ssl)].fd);
	if ((f = pk_fd_get(fd))) {
		atomic_store(&f->tls, 1);
		pk_rec_data(fd, f, in, (int64_t)n, &one, 1, PK_TRACE_F_TLS, NULL, 0);
	}
	pk_tl_leave();
}

PK_EXPORT int SSL_set_fd(void *ssl, int fd)
{
	PK_REAL(int (*)(void *, int), "SSL_set_fd");
	int r;

	if (!real_fn)
		return 0;
	r = real_fn(ssl, fd);
	if (r == 1 && !pk_tl_busy() && pk_trace_on()) {
		int e = errno;

		ssl_mark(fd);
		errno = e;
	}
	return r;
}

#define PK_SSL_WRAP(name, in, buf_type)                                                            \
	PK_EXPORT int name(void *ssl, buf_type buf, int num)                                       \
	{                                                                                          \
		PK_REAL(int (*)(void *, buf_type, int), #name);                                    \
		int r, e;                                                                          \
		if (!real_fn)                                                                      \
			return -1;                                                                 \
		void *prev = tl_ssl;                                                               \
		tl_ssl = ssl;                                                                      \
		tl_ssl_fd = -1;                                                                    \
		if (!(in))                                                                         \
			pk_rec_start();                                                            \
		r = real_fn(ssl, buf, num);                                                        \
		tl_ssl = prev;                                                                     \
		if (r > 0 && !pk_tl_busy()) {                                                      \
			e = errno;                                                                 \
			ssl_done(ssl, in, buf, (size_t)r);                                         \
			errno = e;                                                                 \
		}                                                                                  \
		return r;                                                                          \
	}
PK_SSL_WRAP(SSL_read, true, void *)
PK_SSL_WRAP(SSL_write, false, const void *)

#define PK_SSL_EX_WRAP(name, in, buf_type)                                                         \
	PK_EXPORT int name(void *ssl, buf_type buf, size_t num, size_t *done)                      \
	{                                                                                          \
		PK_REAL(int (*)(void *, buf_type, size_t, size_t *), #name);                       \
		int r, e;                                                                          \
		if (!real_fn)                                                                      \
			return 0;                                                                  \
		void *prev = tl_ssl;                                                               \
		tl_ssl = ssl;                                                                      \
		tl_ssl_fd = -1;                                                                    \
		if (!(in))                                                                         \
			pk_rec_start();                                                            \
		r = real_fn(ssl, buf, num, done);                                                  \
		tl_ssl = prev;                                                                     \
		if (r == 1 && done && !pk_tl_busy()) {                                             \
			e = errno;                                                                 \
			ssl_done(ssl, in, buf, *done);                                             \
			errno = e;                                                                 \
		}                                                                                  \
		return r;                                                                          \
	}
PK_SSL_EX_WRAP(SSL_read_ex, true, void *)
PK_SSL_EX_WRAP(SSL_write_ex, false, const void *)

/* The handshake's ciphertext: the socket calls inside are marked TLS, never recorded. */
#define PK_SSL_HS_WRAP(name)                                                                       \
	PK_EXPORT int name(void *ssl)                                                              \
	{                                                                                          \
		PK_REAL(int (*)(void *), #name);                                                   \
		void *prev = tl_ssl;                                                               \
		int r;                                                                             \
		if (!real_fn)                                                                      \
			return -1;                                                                 \
		tl_ssl = ssl;                                                                      \
		tl_ssl_fd = -1;                                                                    \
		r = real_fn(ssl);                                                                  \
		tl_ssl = prev;                                                                     \
		return r;                                                                          \
	}
PK_SSL_HS_WRAP(SSL_do_handshake)
PK_SSL_HS_WRAP(SSL_connect)
PK_SSL_HS_WRAP(SSL_accept)

void pk_net_prime(void)
{
	struct msghdr m = { 0 };
	socklen_t sl = 0;

	/* each call fails at once (bad descriptor): only its real function is looked up */
	(void)!read(-1, NULL, 0);
	(void)!write(-1, NULL, 0);
	(void)!recv(-1, NULL, 0, 0);
	(void)!send(-1, NULL, 0, 0);
	(void)!recvfrom(-1, NULL, 0, 0, NULL, &sl);
	(void)!sendto(-1, NULL, 0, 0, NULL, 0);
	(void)!recvmsg(-1, &m, 0);
	(void)!sendmsg(-1, &m, 0);
	(void)!sendmmsg(-1, NULL, 0, 0);
	(void)!recvmmsg(-1, NULL, 0, 0, NULL);
	(void)!readv(-1, NULL, 0);
	(void)!writev(-1, NULL, 0);
	(void)!__read_chk(-1, NULL, 0, 0);
	(void)!__recv_chk(-1, NULL, 0, 0, 0);
	(void)!__recvfrom_chk(-1, NULL, 0, 0, 0, NULL, &sl);
	(void)!sendfile(-1, -1, NULL, 0);
	(void)!sendfile64(-1, -1, NULL, 0);
	(void)!accept(-1, NULL, NULL);
	(void)!accept4(-1, NULL, NULL, 0);
	(void)!connect(-1, NULL, 0);
	(void)!shutdown(-1, SHUT_RDWR);
	(void)!close(-1);
	(void)!dup(-1);
	(void)!dup2(-1, -1);
	(void)!dup3(-1, -1, 0);
	(void)!fcntl(-1, F_GETFD, 0);
	(void)!fcntl64(-1, F_GETFD, 0);
}
