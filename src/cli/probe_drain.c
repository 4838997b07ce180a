/* probe_drain.c — the drain loop of `probe fperf` and `probe dump --follow` (probe_drain.h). */
#include "cli/probe_drain.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "common/clock.h"

#define DRAIN_FIRST_MS 10
#define DRAIN_MAX_MS 100
#define DRAIN_MIN_MS 1
#define PROGRESS_S 5

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

void pk_cli_dump_stats_add(struct pk_dump_stats *sum, const struct pk_dump_stats *st)
{
	sum->events += st->events;
	sum->drops += st->drops;
	sum->no_ring = st->no_ring; /* a running total in the segment */
	sum->bad += st->bad;
	sum->counters += st->counters;
	sum->samples += st->samples;
	if (st->threads > sum->threads)
		sum->threads = st->threads;
}

int pk_cli_probe_drain(struct pk_probe_target *t, uint64_t duration_ns, pk_cli_drain_fn drain,
		       void (*progress)(void *arg, double secs), void *arg,
		       struct pk_dump_stats *sum, double *secs, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	uint64_t t0 = pk_now_ns(), next_progress = t0 + PROGRESS_S * 1000000000ull;
	uint64_t ring = t->shm->ring_events;
	long period_ms = DRAIN_FIRST_MS;
	int rc = 0;

	stop_signal = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (;;) {
		struct timespec tick = { period_ms / 1000, (period_ms % 1000) * 1000 * 1000 };
		struct pk_dump_stats st;
		uint64_t now;

		nanosleep(&tick, NULL); /* the sampling period, not a synchronisation */
		rc = drain(arg, &st, err, errlen);
		if (rc)
			break;
		pk_cli_dump_stats_add(sum, &st);
		if ((st.drops || st.events > ring / 8) && period_ms > DRAIN_MIN_MS)
			period_ms /= 2;
		else if (st.events < ring / 64 && period_ms < DRAIN_MAX_MS)
			period_ms = period_ms * 2 > DRAIN_MAX_MS ? DRAIN_MAX_MS : period_ms * 2;
		now = pk_now_ns();
		if (stop_signal || (duration_ns && now - t0 >= duration_ns))
			break;
		if (kill(t->pid, 0) && errno == ESRCH) {
			rc = -ESRCH;
			snprintf(err, errlen, "process %d exited", (int)t->pid);
			break;
		}
		if (progress && now >= next_progress) {
			progress(arg, (double)(now - t0) / 1e9);
			next_progress += PROGRESS_S * 1000000000ull;
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	*secs = (double)(pk_now_ns() - t0) / 1e9;
	return rc;
}
