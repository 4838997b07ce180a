/* sock.c — non-blocking TCP helpers. */
#include "common/sock.h"
#include "common/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int pk_addr_resolve(const char *host, uint16_t port, struct pk_addr *out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char portstr[8];
	int rc;

	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		if (err)
			snprintf(err, errlen, "%s",
				 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		if (rc == EAI_AGAIN)
			return -EAGAIN;
		if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAIL)
			return -ENOENT;
		return -EINVAL;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

const char *pk_addr_str(const struct pk_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&a->ss;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->ss;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int sock_listen(const struct pk_addr *a, int backlog, bool reuseport, bool freebind)
{
	int one = 1, err;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    (freebind && setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, backlog) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int pk_sock_listen(const struct pk_addr *a, int backlog)
{
	return sock_listen(a, backlog, false, false);
}

int pk_sock_listen_shared(const struct pk_addr *a, int backlog)
{
	return sock_listen(a, backlog, true, false);
}

int pk_sock_listen_freebind(const struct pk_addr *a, int backlog)
{
	return sock_listen(a, backlog, false, true);
}

int pk_sock_connect(const struct pk_addr *a)
{
	int err;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	set_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int pk_sock_connect_by(const struct pk_addr *a, uint64_t deadline_ms)
{
	int fd = pk_sock_connect(a), err;

	if (fd < 0)
		return fd;
	err = pk_sock_wait(fd, POLLOUT, deadline_ms);
	if (!err)
		err = pk_sock_error(fd);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int pk_sock_wait(int fd, short events, uint64_t deadline_ms)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t now = pk_now_ms();
		int r;

		if (now >= deadline_ms)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(deadline_ms - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int pk_sock_accept(int lfd, struct pk_addr *peer)
{
	struct pk_addr tmp;
	struct pk_addr *p = peer ? peer : &tmp;
	int fd;

	p->len = sizeof(p->ss);
	fd = accept4(lfd, (struct sockaddr *)&p->ss, &p->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	set_nodelay(fd);
	return fd;
}

int pk_sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

int pk_sock_local_port(int fd)
{
	struct pk_addr a;

	a.len = sizeof(a.ss);
	if (getsockname(fd, (struct sockaddr *)&a.ss, &a.len) < 0)
		return -errno;
	if (a.ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&a.ss)->sin_port);
	if (a.ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port);
	return -EAFNOSUPPORT;
}

long pk_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return (long)rl.rlim_cur;
}
