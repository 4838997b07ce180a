/* window_sndbuf.c — an LD_PRELOAD shim for bench/window_live.sh: sets SO_SNDBUF to
 * $PK_SNDBUF bytes on every socket that connect()s to TCP port $PK_SNDBUF_PORT, before the
 * connect.  `parikshan dup` leaves its sockets' send buffers to the kernel, which grows the one
 * toward a clone to net.ipv4.tcp_wmem's maximum (4 MiB here) on loopback: far more than the
 * study's 4 KiB buffers, and a full one wakes its writer only once half of it is free.  A set
 * SO_SNDBUF is not autotuned.  Bench-only: the product is not changed.
 *
 *   cc -shared -fPIC -O2 -o window_sndbuf.so bench/window_sndbuf.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	const char *port = getenv("PK_SNDBUF_PORT"), *size = getenv("PK_SNDBUF");

	if (!real)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT,
									       "connect");
	if (port && size && sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in) &&
	    ntohs(((const struct sockaddr_in *)sa)->sin_port) == atoi(port)) {
		int v = atoi(size);

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	}
	return real(fd, sa, len);
}
