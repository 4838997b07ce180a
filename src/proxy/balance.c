/* balance.c — --balance: each client connection goes to one debug target instead of all of them,
 * so that several clones share the load (the study's load-balanced instrumentation).
 *
 * The choice is proxy-wide: every worker thread reads the same per-target count of the
 * connections given to it that are still going on (struct pk_balance in struct pk_proxy,
 * atomics; no lock) and takes the least loaded.  A connection counts from its choice until
 * both its client side and its clone's connection ended (the session holds the count, then
 * its debug connection if that outlives it: worker.c, target.c): a clone that lags carries
 * its backlog, and a clone that is down or desynced still gets its share only, not every new
 * connection.  Ties go in turn (a shared cursor), so that short connections, which often find
 * every count at 0, still spread evenly.  Two workers choosing at the same moment may see the
 * same counts: the spread is even on average, not exact.
 */
#include "proxy/proxy_int.h"

int pk_balance_pick(struct pk_balance *b, int ntargets)
{
	unsigned start;
	uint64_t least = UINT64_MAX;
	int best = 0;

	PK_BUG_ON(ntargets < 1 || ntargets > PK_PROXY_MAX_TARGETS);
	start = (unsigned)(__atomic_fetch_add(&b->turn, 1, __ATOMIC_RELAXED) % (unsigned)ntargets);
	for (int k = 0; k < ntargets; k++) {
		int i = (int)((start + (unsigned)k) % (unsigned)ntargets);
		uint64_t load = __atomic_load_n(&b->active[i], __ATOMIC_RELAXED);

		if (load < least) {
			least = load;
			best = i;
		}
	}
	return best;
}

void pk_balance_hold(struct pk_balance *b, int i)
{
	__atomic_add_fetch(&b->active[i], 1, __ATOMIC_RELAXED);
}

void pk_balance_release(struct pk_balance *b, int i)
{
	uint64_t before = __atomic_fetch_sub(&b->active[i], 1, __ATOMIC_RELAXED);

	PK_BUG_ON(before == 0);
	(void)before;
}

uint64_t pk_balance_load(const struct pk_balance *b, int i)
{
	return __atomic_load_n(&b->active[i], __ATOMIC_RELAXED);
}
