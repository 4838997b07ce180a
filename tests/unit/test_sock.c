/* test_sock.c — address resolution and formatting, listen/connect/accept on 127.0.0.1,
 * refused connects, socket flags and the file-descriptor limit. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/sock.h"
#include "unit.h"

static int port_of(const struct pk_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return -1;
}

/* Polls fd for events up to ms; returns the revents (0 on timeout). */
static short wait_for(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, ms) <= 0)
		return 0;
	return p.revents;
}

static int is_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & O_NONBLOCK) && fdfl >= 0 && (fdfl & FD_CLOEXEC);
}

static int has_nodelay(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v != 0;
}

/* Listens on 127.0.0.1 with a kernel-chosen port; returns the fd and fills port. */
static int listen_any(int *port)
{
	struct pk_addr a;
	char err[128];
	int fd;

	if (pk_addr_resolve("127.0.0.1", 0, &a, err, sizeof(err)) != 0)
		return -1;
	fd = pk_sock_listen(&a, 16);
	*port = fd >= 0 ? pk_sock_local_port(fd) : -1;
	return fd;
}

static void test_resolve_numeric_v4(void)
{
	struct pk_addr a;
	char err[128] = "", buf[PK_ADDR_STRLEN];
	const struct sockaddr_in *s = (const struct sockaddr_in *)&a.ss;

	memset(&a, 0, sizeof(a));
	CHECK_EQ_INT(pk_addr_resolve("127.0.0.1", 8080, &a, err, sizeof(err)), 0);
	CHECK_EQ_INT(a.ss.ss_family, AF_INET);
	CHECK_EQ_INT(a.len, sizeof(struct sockaddr_in));
	CHECK_EQ_INT(ntohs(s->sin_port), 8080);
	CHECK_EQ_INT(ntohl(s->sin_addr.s_addr), INADDR_LOOPBACK);
	CHECK_STR(pk_addr_str(&a, buf, sizeof(buf)), "127.0.0.1:8080");
	CHECK_EQ_INT(pk_addr_resolve("10.1.2.3", 65535, &a, NULL, 0), 0);
	CHECK_STR(pk_addr_str(&a, buf, sizeof(buf)), "10.1.2.3:65535");
	CHECK_EQ_INT(pk_addr_resolve("0.0.0.0", 0, &a, err, sizeof(err)), 0);
	CHECK_STR(pk_addr_str(&a, buf, sizeof(buf)), "0.0.0.0:0");
}

static void test_resolve_v6_and_str(void)
{
	struct pk_addr a;
	char err[128] = "", buf[PK_ADDR_STRLEN];

	CHECK_EQ_INT(pk_addr_resolve("::1", 80, &a, err, sizeof(err)), 0);
	CHECK_EQ_INT(a.ss.ss_family, AF_INET6);
	CHECK_EQ_INT(a.len, sizeof(struct sockaddr_in6));
	CHECK_EQ_INT(port_of(&a), 80);
	CHECK_STR(pk_addr_str(&a, buf, sizeof(buf)), "[::1]:80");
	CHECK_EQ_INT(pk_addr_resolve("fe80::1:2", 9100, &a, err, sizeof(err)), 0);
	CHECK_STR(pk_addr_str(&a, buf, sizeof(buf)), "[fe80::1:2]:9100");
	/* an unknown family prints "?" */
	memset(&a, 0, sizeof(a));
	a.ss.ss_family = AF_UNIX;
	CHECK_STR(pk_addr_str(&a, buf, sizeof(buf)), "?");
	/* a short buffer is truncated, still terminated */
	CHECK_EQ_INT(pk_addr_resolve("127.0.0.1", 8080, &a, err, sizeof(err)), 0);
	CHECK_STR(pk_addr_str(&a, buf, 6), "127.0");
}

static void test_resolve_localhost(void)
{
	struct pk_addr a;
	char err[128] = "";

	CHECK_EQ_INT(pk_addr_resolve("localhost", 6379, &a, err, sizeof(err)), 0);
	CHECK(a.ss.ss_family == AF_INET || a.ss.ss_family == AF_INET6);
	CHECK_EQ_INT(port_of(&a), 6379);
	if (a.ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&a.ss;

		CHECK_EQ_INT(ntohl(s->sin_addr.s_addr) >> 24, 127);
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a.ss;

		CHECK(IN6_IS_ADDR_LOOPBACK(&s->sin6_addr));
	}
}

static void test_resolve_failure(void)
{
	struct pk_addr a;
	char err[128] = "";
	int rc = pk_addr_resolve("no-such-host.invalid", 80, &a, err, sizeof(err));

	CHECK(rc == -ENOENT || rc == -EAGAIN);
	CHECK(err[0] != '\0');
	/* a malformed numeric form is a name too, and fails the same way */
	err[0] = '\0';
	rc = pk_addr_resolve("300.1.1.1.invalid", 80, &a, err, sizeof(err));
	CHECK(rc == -ENOENT || rc == -EAGAIN);
	CHECK(err[0] != '\0');
	/* err may be NULL */
	rc = pk_addr_resolve("no-such-host.invalid", 80, &a, NULL, 0);
	CHECK(rc == -ENOENT || rc == -EAGAIN);
}

static void test_listen_connect_accept(void)
{
	struct pk_addr a, peer;
	char err[128], buf[PK_ADDR_STRLEN], data[16];
	int lfd, cfd = -1, sfd = -1, port;

	lfd = listen_any(&port);
	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	CHECK(port > 0 && port <= 65535);
	CHECK(is_nonblock_cloexec(lfd));
	/* nothing pending yet */
	CHECK_EQ_INT(pk_sock_accept(lfd, NULL), -EAGAIN);

	CHECK_EQ_INT(pk_addr_resolve("127.0.0.1", (uint16_t)port, &a, err, sizeof(err)), 0);
	cfd = pk_sock_connect(&a);
	CHECK(cfd >= 0);
	if (cfd < 0)
		goto out;
	CHECK(is_nonblock_cloexec(cfd));
	CHECK(has_nodelay(cfd));
	CHECK(wait_for(cfd, POLLOUT, 2000) & POLLOUT);
	CHECK_EQ_INT(pk_sock_error(cfd), 0);

	CHECK(wait_for(lfd, POLLIN, 2000) & POLLIN);
	memset(&peer, 0, sizeof(peer));
	sfd = pk_sock_accept(lfd, &peer);
	CHECK(sfd >= 0);
	if (sfd < 0)
		goto out;
	CHECK(is_nonblock_cloexec(sfd));
	CHECK(has_nodelay(sfd));
	CHECK_EQ_INT(peer.ss.ss_family, AF_INET);
	CHECK_EQ_INT(port_of(&peer), pk_sock_local_port(cfd));
	CHECK(strncmp(pk_addr_str(&peer, buf, sizeof(buf)), "127.0.0.1:", 10) == 0);
	CHECK_EQ_INT(pk_sock_local_port(sfd), port);

	/* bytes both ways */
	CHECK_EQ_INT(write(cfd, "hello", 5), 5);
	CHECK(wait_for(sfd, POLLIN, 2000) & POLLIN);
	CHECK_EQ_INT(read(sfd, data, sizeof(data)), 5);
	CHECK(memcmp(data, "hello", 5) == 0);
	CHECK_EQ_INT(write(sfd, "world", 5), 5);
	CHECK(wait_for(cfd, POLLIN, 2000) & POLLIN);
	CHECK_EQ_INT(read(cfd, data, sizeof(data)), 5);
	CHECK(memcmp(data, "world", 5) == 0);
	/* non-blocking: an empty socket says EAGAIN */
	errno = 0;
	CHECK_EQ_INT(read(cfd, data, sizeof(data)), -1);
	CHECK_EQ_INT(errno, EAGAIN);
	/* no more connections pending */
	CHECK_EQ_INT(pk_sock_accept(lfd, NULL), -EAGAIN);
out:
	if (sfd >= 0)
		close(sfd);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
}

static void test_listen_port_in_use(void)
{
	struct pk_addr a;
	char err[128];
	int lfd, port, fd2;

	lfd = listen_any(&port);
	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	CHECK_EQ_INT(pk_addr_resolve("127.0.0.1", (uint16_t)port, &a, err, sizeof(err)), 0);
	fd2 = pk_sock_listen(&a, 16);
	CHECK_EQ_INT(fd2, -EADDRINUSE);
	if (fd2 >= 0)
		close(fd2);
	close(lfd);
}

static void test_connect_refused(void)
{
	struct pk_addr a;
	char err[128];
	int lfd, port, fd, rc;

	lfd = listen_any(&port);
	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	close(lfd); /* nothing listens there now */
	CHECK_EQ_INT(pk_addr_resolve("127.0.0.1", (uint16_t)port, &a, err, sizeof(err)), 0);
	fd = pk_sock_connect(&a);
	if (fd < 0) {
		/* loopback may refuse at once */
		CHECK_EQ_INT(fd, -ECONNREFUSED);
		return;
	}
	CHECK(wait_for(fd, POLLOUT, 2000) != 0);
	rc = pk_sock_error(fd);
	CHECK_EQ_INT(rc, -ECONNREFUSED);
	/* SO_ERROR is cleared once read */
	CHECK_EQ_INT(pk_sock_error(fd), 0);
	close(fd);
}

/* pk_sock_connect_by: connected to a listener, -ECONNREFUSED where nothing listens. */
static void test_connect_by(void)
{
	struct pk_addr a;
	char err[128];
	int lfd, port, fd;

	lfd = listen_any(&port);
	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	CHECK_EQ_INT(pk_addr_resolve("127.0.0.1", (uint16_t)port, &a, err, sizeof(err)), 0);
	fd = pk_sock_connect_by(&a, pk_now_ms() + 5000);
	CHECK(fd >= 0);
	CHECK(is_nonblock_cloexec(fd));
	CHECK_EQ_INT(pk_sock_error(fd), 0);
	if (fd >= 0)
		close(fd);
	close(lfd); /* nothing listens there now */
	CHECK_EQ_INT(pk_sock_connect_by(&a, pk_now_ms() + 5000), -ECONNREFUSED);
}

/* pk_sock_wait: ready at once when data is there, -ETIMEDOUT at the deadline when not, and
 * -ETIMEDOUT at once for a deadline already past. */
static void test_wait(void)
{
	int p[2];
	uint64_t t0;

	CHECK_EQ_INT(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	t0 = pk_now_ms();
	CHECK_EQ_INT(pk_sock_wait(p[0], POLLIN, t0 + 50), -ETIMEDOUT);
	CHECK(pk_now_ms() >= t0 + 50);
	CHECK_EQ_INT(pk_sock_wait(p[1], POLLOUT, pk_now_ms() + 5000), 0);
	CHECK_EQ_INT(write(p[1], "x", 1), 1);
	CHECK_EQ_INT(pk_sock_wait(p[0], POLLIN, pk_now_ms() + 5000), 0);
	CHECK_EQ_INT(pk_sock_wait(p[0], POLLIN, pk_now_ms() - 1), -ETIMEDOUT);
	close(p[0]);
	close(p[1]);
}

static void test_sock_error_bad_fd(void)
{
	int p[2];

	CHECK_EQ_INT(pk_sock_error(-1), -EBADF);
	CHECK_EQ_INT(pk_sock_local_port(-1), -EBADF);
	/* not a socket */
	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(pk_sock_error(p[0]), -ENOTSOCK);
	CHECK_EQ_INT(pk_sock_local_port(p[0]), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
}

static void test_raise_nofile(void)
{
	struct rlimit before, after;
	long n;

	CHECK_EQ_INT(getrlimit(RLIMIT_NOFILE, &before), 0);
	n = pk_raise_nofile();
	CHECK(n > 0);
	CHECK_EQ_INT(getrlimit(RLIMIT_NOFILE, &after), 0);
	CHECK_EQ_INT(n, (long)after.rlim_cur);
	CHECK(after.rlim_cur >= before.rlim_cur);
	CHECK_EQ_INT(after.rlim_cur, after.rlim_max);
	/* idempotent */
	CHECK_EQ_INT(pk_raise_nofile(), n);
}

int main(void)
{
	UNIT_RUN(test_resolve_numeric_v4);
	UNIT_RUN(test_resolve_v6_and_str);
	UNIT_RUN(test_resolve_localhost);
	UNIT_RUN(test_resolve_failure);
	UNIT_RUN(test_listen_connect_accept);
	UNIT_RUN(test_listen_port_in_use);
	UNIT_RUN(test_connect_refused);
	UNIT_RUN(test_connect_by);
	UNIT_RUN(test_wait);
	UNIT_RUN(test_sock_error_bad_fd);
	UNIT_RUN(test_raise_nofile);
	return unit_done();
}
