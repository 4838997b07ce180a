/* iprobe-spin.c — a probe target for the tests: N threads call three small instrumented
 * functions (built with -finstrument-functions, then cold-patched by the test; or, as
 * iprobe-spin-entry, with -fpatchable-function-entry=5: entry probes only) and check every
 * result against a reference computed without them, so a garbled instruction or a clobbered
 * register shows up as a wrong result (exit 1) rather than going unnoticed.
 *
 *   iprobe-spin loop THREADS        call in tight loops (and rare() once every 65,536
 *                                   iterations) until SIGTERM; then print
 *                                   "calls N errors E" and exit 0 (1 when E > 0)
 *   iprobe-spin count THREADS K     wait for SIGUSR1, then each thread calls work() and bump()
 *                                   exactly K
 *                                   times; print "done N" and wait for SIGTERM
 * Both print "ready PID" once every thread runs.  stdout is line-buffered.  With
 * SPIN_BLOCK_ALL=1 in the environment the threads block every signal (as in a server whose
 * one thread takes them all with sigwait): libiprobe's sweep cannot signal them.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#define NOPROBE __attribute__((no_instrument_function, patchable_function_entry(0, 0), noinline))

static atomic_long calls, errors, running;
static atomic_int stop, go;
static long count_k;
static pthread_barrier_t start; /* count mode: the threads and main, released by SIGUSR1 */

__attribute__((noinline)) static long leaf_a(long x)
{
	return x * 3 + 1;
}

__attribute__((noinline)) static long leaf_b(long x)
{
	return leaf_a(x) ^ (x >> 2);
}

/* work(x) calls leaf_b once and leaf_a twice (once through leaf_b). */
__attribute__((noinline)) long work(long x)
{
	return leaf_b(x) + leaf_a(x + 1);
}

/* Returns nothing: the compiler calls the exit hook as a tail call (a jmp), a tail site. */
__attribute__((noinline)) void bump(long *p)
{
	*p += 1;
}

/* Called once every 65,536 iterations of the loop mode: a cold function, for the budget. */
__attribute__((noinline)) long rare(long x)
{
	return x ^ 0x5a5a;
}

NOPROBE static long reference(long x)
{
	return ((x * 3 + 1) ^ (x >> 2)) + ((x + 1) * 3 + 1);
}

NOPROBE static void *loop_main(void *arg)
{
	long seed = (long)(intptr_t)arg * 1000003, n = 0, bumps = 0;

	atomic_fetch_add(&running, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		long x = seed + n;

		if (work(x) != reference(x))
			atomic_fetch_add(&errors, 1);
		if (!(n & 0xffff) && rare(x) != (x ^ 0x5a5a))
			atomic_fetch_add(&errors, 1);
		bump(&bumps);
		n++;
	}
	if (bumps != n)
		atomic_fetch_add(&errors, 1);
	atomic_fetch_add(&calls, n);
	return NULL;
}

NOPROBE static void *count_main(void *arg)
{
	long seed = (long)(intptr_t)arg * 1000003;

	atomic_fetch_add(&running, 1);
	pthread_barrier_wait(&start);
	long bumps = 0;

	for (long i = 0; i < count_k; i++) {
		if (work(seed + i) != reference(seed + i))
			atomic_fetch_add(&errors, 1);
		bump(&bumps);
	}
	if (bumps != count_k)
		atomic_fetch_add(&errors, 1);
	atomic_fetch_add(&calls, count_k);
	return NULL;
}

NOPROBE int main(int argc, char **argv)
{
	sigset_t set;
	pthread_t *th;
	long nthreads;
	bool count;
	int sig;

	if (argc < 3 || (strcmp(argv[1], "loop") && strcmp(argv[1], "count")) ||
	    (!strcmp(argv[1], "count") && argc < 4)) {
		fprintf(stderr, "usage: iprobe-spin loop THREADS | count THREADS K\n");
		return 2;
	}
	count = !strcmp(argv[1], "count");
	nthreads = strtol(argv[2], NULL, 10);
	if (count)
		count_k = strtol(argv[3], NULL, 10);
	if (nthreads < 1 || nthreads > 1024 || (count && count_k < 1))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&set);
	if (getenv("SPIN_BLOCK_ALL") && !strcmp(getenv("SPIN_BLOCK_ALL"), "1"))
		sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	th = calloc((size_t)nthreads, sizeof(*th));
	if (!th || pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1))
		return 1;
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, count ? count_main : loop_main,
				   (void *)(intptr_t)i))
			return 1;
	while (atomic_load(&running) < nthreads)
		sched_yield();
	printf("ready %d\n", (int)getpid());
	for (;;) {
		if (sigwait(&set, &sig))
			return 1;
		if (sig == SIGUSR1 && count && !atomic_load(&go)) {
			atomic_store(&go, 1);
			pthread_barrier_wait(&start);
			for (long i = 0; i < nthreads; i++)
				pthread_join(th[i], NULL);
			printf("done %ld errors %ld\n", atomic_load(&calls), atomic_load(&errors));
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	atomic_store(&stop, 1);
	if (!count)
		for (long i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
	printf("calls %ld errors %ld\n", atomic_load(&calls), atomic_load(&errors));
	free(th);
	return atomic_load(&errors) ? 1 : 0;
}
