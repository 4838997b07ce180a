/* probe_target.c — the function bench/probe.sh probes: one thread calls hot() N times (2 probe
 * events a call: entry and exit) and prints the loop's wall time.  Built once per tool with its
 * own instrumentation flags; main is never instrumented.
 *   probe_target N [wait [PASSES]]   with wait: print "ready"; then PASSES times (default 1):
 *                           at SIGUSR1 run the loop and print its time; exit at the next
 *                           SIGUSR1 (so that the events can be read between passes)
 * Prints "ns <loop ns> sum <checksum>" for the last pass, "pass <k> ns <loop ns>" for the
 * ones before (a first pass touches a new ring's pages: bench/probe.sh reports both).
 * Built with -DPK_TSC_ONLY, hot() reads the TSC twice instead (what 2 events' timestamps cost).
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
#ifdef PK_TSC_ONLY /* the floor of a call's two timestamped events: the two timestamps alone */
	x += (long)__builtin_ia32_rdtsc();
	x += (long)__builtin_ia32_rdtsc();
#endif
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
	long passes = wait && argc > 3 ? strtol(argv[3], NULL, 10) : 1;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (wait) {
		sigprocmask(SIG_BLOCK, &set, NULL);
		printf("ready\n");
		fflush(stdout);
	}
	for (long p = 1; p <= passes; p++) {
		if (wait)
			sigwait(&set, &sig);
		sum = 0;
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			sum += hot(i);
		if (p < passes)
			printf("pass %ld ns %ld\n", p, now_ns() - t0);
		else
			printf("ns %ld sum %ld\n", now_ns() - t0, sum);
		fflush(stdout);
	}
	if (wait)
		sigwait(&set, &sig);
	return 0;
}
