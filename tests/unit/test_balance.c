/* test_balance.c — --balance's choice of target (src/proxy/balance.c): the least loaded, ties
 * in turn, counts shared by threads. */
#include <pthread.h>

#include "proxy/proxy_int.h"
#include "unit.h"

/* With every count equal, n picks name every target once (ties go in turn). */
static void test_ties_in_turn(void)
{
	struct pk_balance b = { 0 };

	for (int n = 1; n <= PK_PROXY_MAX_TARGETS; n++)
		for (int round = 0; round < 3; round++) {
			int seen[PK_PROXY_MAX_TARGETS] = { 0 };

			for (int k = 0; k < n; k++) {
				int i = pk_balance_pick(&b, n);

				CHECK(i >= 0 && i < n);
				if (i >= 0 && i < n)
					seen[i]++;
			}
			for (int i = 0; i < n; i++)
				CHECK_EQ_INT(seen[i], 1);
		}
}

/* The least loaded target wins whatever the turn. */
static void test_least_loaded(void)
{
	struct pk_balance b = { 0 };

	pk_balance_hold(&b, 0);
	pk_balance_hold(&b, 0);
	pk_balance_hold(&b, 1);
	pk_balance_hold(&b, 3);
	for (int k = 0; k < 10; k++)
		CHECK_EQ_INT(pk_balance_pick(&b, 4), 2);
	pk_balance_hold(&b, 2);
	pk_balance_hold(&b, 2);
	for (int k = 0; k < 10; k++) {
		int i = pk_balance_pick(&b, 4);

		CHECK(i == 1 || i == 3);
	}
	pk_balance_release(&b, 0);
	pk_balance_release(&b, 0);
	for (int k = 0; k < 10; k++)
		CHECK_EQ_INT(pk_balance_pick(&b, 4), 0);
	CHECK_EQ_INT(pk_balance_load(&b, 0), 0);
	CHECK_EQ_INT(pk_balance_load(&b, 2), 2);
}

/* Connections that stay open: the counts never differ by more than one. */
static void test_even_spread(void)
{
	struct pk_balance b = { 0 };
	int n = 3;

	for (int k = 0; k < 1000; k++) {
		uint64_t lo = UINT64_MAX, hi = 0;

		pk_balance_hold(&b, pk_balance_pick(&b, n));
		for (int i = 0; i < n; i++) {
			uint64_t x = pk_balance_load(&b, i);

			lo = x < lo ? x : lo;
			hi = x > hi ? x : hi;
		}
		CHECK(hi - lo <= 1);
	}
	CHECK_EQ_INT(pk_balance_load(&b, 0) + pk_balance_load(&b, 1) + pk_balance_load(&b, 2),
		     1000);
}

#define THREADS 4
#define PICKS 20000

struct worker_arg {
	struct pk_balance *b;
	int given[2];
};

/* A worker's short connections: pick, hold, release. */
static void *worker(void *p)
{
	struct worker_arg *a = p;

	for (int k = 0; k < PICKS; k++) {
		int i = pk_balance_pick(a->b, 2);

		pk_balance_hold(a->b, i);
		a->given[i]++;
		pk_balance_release(a->b, i);
	}
	return NULL;
}

/* Workers on threads share the counts: none lost, every count back to 0. */
static void test_threads(void)
{
	struct pk_balance b = { 0 };
	struct worker_arg args[THREADS];
	pthread_t t[THREADS];
	int given[2] = { 0 };

	for (int k = 0; k < THREADS; k++) {
		args[k] = (struct worker_arg){ .b = &b };
		CHECK_EQ_INT(pthread_create(&t[k], NULL, worker, &args[k]), 0);
	}
	for (int k = 0; k < THREADS; k++) {
		pthread_join(t[k], NULL);
		given[0] += args[k].given[0];
		given[1] += args[k].given[1];
	}
	CHECK_EQ_INT(pk_balance_load(&b, 0), 0);
	CHECK_EQ_INT(pk_balance_load(&b, 1), 0);
	CHECK_EQ_INT(given[0] + given[1], THREADS * PICKS);
	/* No bound on the split here: a thread preempted while it holds a target makes every
	 * other thread pick the other one for a whole time slice, so on a busy machine the split
	 * of 4 threads on 2 cores can be anything.  The single-threaded tests above assert it. */
}

int main(void)
{
	UNIT_RUN(test_ties_in_turn);
	UNIT_RUN(test_least_loaded);
	UNIT_RUN(test_even_spread);
	UNIT_RUN(test_threads);
	return unit_done();
}
