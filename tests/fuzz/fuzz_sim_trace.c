/* fuzz_sim_trace.c — libFuzzer target: any bytes, read as a capture with the server's reply
 * times (pk_pcap_read_stream with reply_times), turned into a `sim --trace` trace
 * (pk_window_trace_from_pcap), and simulated briefly.
 *
 * Besides the sanitizers' checks, it asserts what the reader and the trace promise: reply marks
 * in stream order, not overlapping, within the server's stream; a trace of at least two
 * requests sorted by time from 0, each of at least one byte, its period past the last request,
 * its measured count and means what its requests say; an error has a code and a message and no
 * trace.  The simulation of the trace (and with the trace's own service times when it has some)
 * stays within its arrival cap, never holds more than its buffer, and serves no more than it
 * accepted.  Built with clang by `make fuzz`, and with gcc+ASan into test_fuzz_corpus.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture/pcap_read.h"
#include "window/window.h"

#define FUZZ_TARGET "fuzz_sim_trace"
#include "fuzz.h"

#define FUZZ_MAX_BYTES (64u << 20)
#define FUZZ_MAX_ARRIVALS 20000

static void check_replies(const struct pk_pcap *p)
{
	for (size_t i = 0; i < p->nconns; i++) {
		const struct pk_pcap_conn *c = p->conns[i];
		uint64_t end = 0;

		for (size_t k = 0; k < c->nreplies; k++) {
			require(c->replies[k].len > 0, "a mark holds bytes");
			require(c->replies[k].pos >= end, "marks in order, not overlapping");
			end = c->replies[k].pos + c->replies[k].len;
		}
		require(end <= c->s2c.len + c->s2c.missing, "marks within the server's stream");
	}
}

static void check_trace(const struct pk_window_trace *t)
{
	size_t measured = 0;
	double bytes = 0;

	require(t->n >= 2 && t->reqs[0].t_s == 0, "two requests or more, from 0");
	for (size_t i = 0; i < t->n; i++) {
		const struct pk_window_request *r = &t->reqs[i];

		require(r->bytes > 0, "requests hold bytes");
		require(i == 0 || r->t_s >= t->reqs[i - 1].t_s, "requests in time order");
		require(isfinite(r->t_s) && isfinite(r->service_s), "times are finite");
		measured += r->service_s >= 0;
		bytes += (double)r->bytes;
	}
	require(t->reqs[t->n - 1].t_s > 0, "not all at once");
	require(t->period_s > t->reqs[t->n - 1].t_s, "the period ends after the last request");
	require(measured == t->measured, "measured count");
	require(fabs(bytes / (double)t->n - t->mean_bytes) <= 1e-9 * t->mean_bytes, "mean size");
	require(measured > 0 || t->mean_service_s == 0, "no mean service without a measure");
}

/* Runs the trace for as long as the arrival cap allows (a minute at most). */
static void simulate(const struct pk_window_trace *t, enum pk_window_service service)
{
	struct pk_window_sim_params p = { .arrival = PK_WINDOW_ARRIVAL_TRACE,
					  .trace = t,
					  .service = service,
					  .service_rate = 100,
					  .slowdown = 3,
					  .buffer_bytes = 4096,
					  .max_arrivals = FUZZ_MAX_ARRIVALS };
	double rate = (double)t->n / t->period_s;
	struct pk_window_prediction pred;
	struct pk_window_sim_result r;

	p.duration_s = fmin(60, 0.9 * FUZZ_MAX_ARRIVALS / rate);
	if (!(p.duration_s > 0) || (service == PK_WINDOW_SERVICE_TRACE && t->measured == 0))
		return;
	require(pk_window_predict(&p, &pred) == 0, "a trace gives predictions");
	require(pk_window_sim_run(&p, &r) == 0, "a trace simulates");
	require(r.arrivals <= 2 * FUZZ_MAX_ARRIVALS + 1000, "within the arrival cap");
	require(r.max_bytes <= p.buffer_bytes, "never more than the buffer");
	require(r.served + r.refused <= r.arrivals, "serves only what it accepted");
	require(r.overflowed == (r.refused > 0), "an overflow is a refusal");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pk_pcap_opts o = { .max_bytes = FUZZ_MAX_BYTES, .reply_times = true };
	struct pk_window_trace *t = NULL;
	struct pk_pcap *p = NULL;
	char err[256] = "";
	FILE *f = fmemopen((void *)data, size, "rb");
	int rc;

	if (!f)
		return 0;
	if (pk_pcap_read_stream(f, &o, &p, err, sizeof(err)) < 0)
		return 0;
	check_replies(p);
	rc = pk_window_trace_from_pcap(p, &t, err, sizeof(err));
	pk_pcap_free(p);
	if (rc < 0) {
		require(t == NULL && err[0] != '\0', "an error has a message and no trace");
		return 0;
	}
	require(rc == 0 && t != NULL, "success gives a trace");
	check_trace(t);
	simulate(t, PK_WINDOW_SERVICE_CONST);
	simulate(t, PK_WINDOW_SERVICE_TRACE);
	pk_window_trace_free(t);
	return 0;
}
