/* iprobe-invivo.c — a probe target for `invivo` (built with -finstrument-functions, then
 * cold-patched by the test): THREADS threads each call work() exactly K times, PACE_MS apart
 * (the pace of a server's requests), and check every result against a reference computed
 * without probes.
 *
 *   iprobe-invivo THREADS K PACE_MS   print "ready PID" once every thread runs; on SIGUSR1 run
 *                                     the calls, print "done CALLS errors E"; exit at SIGTERM
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOPROBE __attribute__((no_instrument_function, noinline))

static atomic_long calls, errors, running;
static long count_k, pace_ms;
static pthread_barrier_t start;

__attribute__((noinline)) uint64_t work(uint64_t x)
{
	for (int i = 0; i < 1000; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

NOPROBE static uint64_t reference(uint64_t x)
{
	for (int i = 0; i < 1000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

NOPROBE static void *thread_main(void *arg)
{
	uint64_t seed = (uint64_t)(intptr_t)arg * 1000003;
	struct timespec d = { pace_ms / 1000, (pace_ms % 1000) * 1000000 };

	atomic_fetch_add(&running, 1);
	pthread_barrier_wait(&start);
	for (long i = 0; i < count_k; i++) {
		if (work(seed + (uint64_t)i) != reference(seed + (uint64_t)i))
			atomic_fetch_add(&errors, 1);
		nanosleep(&d, NULL); /* the pace of the calls */
	}
	atomic_fetch_add(&calls, count_k);
	return NULL;
}

NOPROBE int main(int argc, char **argv)
{
	long nthreads;
	pthread_t *th;
	sigset_t set;
	int sig, ran = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: iprobe-invivo THREADS K PACE_MS\n");
		return 2;
	}
	nthreads = strtol(argv[1], NULL, 10);
	count_k = strtol(argv[2], NULL, 10);
	pace_ms = strtol(argv[3], NULL, 10);
	if (nthreads < 1 || nthreads > 64 || count_k < 1 || pace_ms < 0 || pace_ms > 10000)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	th = calloc((size_t)nthreads, sizeof(*th));
	if (!th || pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1))
		return 1;
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i))
			return 1;
	while (atomic_load(&running) < nthreads)
		usleep(1000);
	printf("ready %d\n", (int)getpid());
	for (;;) {
		if (sigwait(&set, &sig))
			return 1;
		if (sig == SIGUSR1 && !ran) {
			ran = 1;
			pthread_barrier_wait(&start);
			for (long i = 0; i < nthreads; i++)
				pthread_join(th[i], NULL);
			printf("done %ld errors %ld\n", atomic_load(&calls), atomic_load(&errors));
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	free(th);
	return atomic_load(&errors) ? 1 : 0;
}
