/* trace-badargs.c — calls the wrapped functions with bad pointers and descriptors and prints
 * each result and errno: test_trace_lib checks that the output is the same with and without
 * libparikshan_trace.so (the library never turns an EFAULT into a crash). */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* volatile: the compiler cannot see that it is bad */
static void *volatile bad_ptr = (void *)8;
#define BAD bad_ptr

static void show(const char *what, long r)
{
	printf("%s %ld %d\n", what, r, errno);
	errno = 0;
}

int main(void)
{
	int sv[2], d;
	char b[4];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 1;
	d = socket(AF_INET, SOCK_DGRAM, 0);
	errno = 0;
	show("recvmsg", recvmsg(sv[0], BAD, MSG_DONTWAIT));
	show("sendmsg", sendmsg(sv[0], BAD, 0));
	show("connect", connect(d, BAD, 16));
	show("sendto", sendto(d, "x", 1, 0, BAD, 16));
	show("write", write(sv[0], BAD, 10));
	show("writev", writev(sv[0], BAD, 2));
	show("readv", readv(-1, BAD, 2));
	show("recvfrom", recvfrom(sv[0], b, 1, MSG_DONTWAIT, BAD, BAD));
	show("read", read(-5, BAD, 1));
	show("close", close(12345));
	show("dup2", dup2(-1, 5));
	show("shutdown", shutdown(-1, SHUT_RDWR));
	show("accept", accept(sv[0], BAD, BAD));
	return 0;
}
