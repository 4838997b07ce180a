/* clock.h — monotonic time helpers, and wall time for timestamps. */
#ifndef PK_COMMON_CLOCK_H
#define PK_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Returns CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t pk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Returns CLOCK_MONOTONIC in milliseconds. */
static inline uint64_t pk_now_ms(void)
{
	return pk_now_ns() / 1000000ull;
}

/* Returns the milliseconds elapsed since t0_ns (a pk_now_ns() value): for step timings. */
static inline double pk_ms_since(uint64_t t0_ns)
{
	return (double)(pk_now_ns() - t0_ns) / 1e6;
}

/* Returns CLOCK_REALTIME (wall time since the epoch) in nanoseconds: for timestamps that
 * other programs read, never for measuring intervals. */
static inline uint64_t pk_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
