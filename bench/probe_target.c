/* probe_target.c — the function bench/probe.sh probes: one thread calls hot() N times (2 probe
 * events a call: entry and exit) and prints the loop's wall time.  Built once per tool with its
 * own instrumentation flags; main is never instrumented.
 *   probe_target N [wait]   with wait: print "ready", run the loop at SIGUSR1, exit at the
 *                           next SIGUSR1 (so that the events can be read meanwhile)
 * Prints "ns <loop ns> sum <checksum>".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__clang__)
#define NEVER __attribute__((xray_never_instrument, no_instrument_function))
#define ALWAYS __attribute__((xray_always_instrument, noinline))
#else
#define NEVER __attribute__((no_instrument_function))
#define ALWAYS __attribute__((noinline))
#endif

ALWAYS long hot(long x)
{
	__asm__ volatile("" ::: "memory");
	return x * 7 + 3;
}

NEVER static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

NEVER int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000, sum = 0, t0;
	int wait = argc > 2 && !strcmp(argv[2], "wait"), sig;
	sigset_t set;

	if (wait) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		printf("ready\n");
		fflush(stdout);
		sigwait(&set, &sig);
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		sum += hot(i);
	printf("ns %ld sum %ld\n", now_ns() - t0, sum);
	fflush(stdout);
	if (wait)
		sigwait(&set, &sig);
	return 0;
}
