/* trace-bench.c — the cost of one traced send/recv pair: N pairs of 64-byte send and recv on a
 * socketpair, timed; prints "pairs N ns_per_pair X".  Run it with and without
 * libparikshan_trace.so preloaded (test_trace_lib, bench). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	char buf[64] = "GET /bench HTTP/1.1\r\n";
	struct timespec a, b;
	int sv[2];
	double ns;

	if (n <= 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		fprintf(stderr, "trace-bench: bad count or socketpair failed\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		if (send(sv[0], buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
		    recv(sv[1], buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
			fprintf(stderr, "trace-bench: short send or recv at %ld\n", i);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	printf("pairs %ld ns_per_pair %.1f\n", n, ns / (double)n);
	return 0;
}
