/* window.h — the debug window: how long a clone can fall behind before its duplicator buffer
 * overflows.  Models, a simulator, the trace it can be driven by, and a plot of its results.
 *
 * A debug target's buffer takes each request's bytes when the request arrives and frees them
 * when the clone has served it (FIFO, one server).  The debug window is the time from the start
 * until the first arrival that does not fit: then the duplicator desyncs the clone.
 *
 *   arrivals (λ req/s, b bytes each) ──► [ buffer: B bytes = K requests ] ──► clone (μ req/s)
 *
 * Three answers, from the cheapest:
 *   - fluid: the buffer fills at (arrival − drain) bytes/s: free / (λb − μb), none when λ ≤ μ;
 *   - M/M/1/K: Poisson arrivals and exponential service; the expected first-passage time of the
 *     birth–death chain, exact (pk_window_mm1k_hit), which also covers λ < μ (bursts fill it);
 *   - the discrete-event simulator (pk_window_sim_run): constant, Poisson or recorded arrivals,
 *     constant, exponential or recorded service times, sizes in bytes.
 * Pure computation: nothing here prints, sleeps, or keeps global state.  Times are seconds
 * (double), INFINITY meaning "none".
 */
#ifndef PK_WINDOW_WINDOW_H
#define PK_WINDOW_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/strbuf.h"

struct pk_pcap;

/* ---- models (model.c) ---- */

/* Expected times past this many seconds (about 31,700 years) are reported as INFINITY. */
#define PK_WINDOW_MODEL_CAP_S 1e12

/* Fluid estimate: *out_s = free_bytes / (arrival_bps − drain_bps) when arrival exceeds drain,
 * else INFINITY.  Rates in bytes/s.  -EINVAL when a value is negative or not finite. */
int pk_window_fluid(double free_bytes, double arrival_bps, double drain_bps, double *out_s)
	__attribute__((warn_unused_result));

/* M/M/1 first passage: the expected time for the number of requests in the system (waiting
 * plus in service) to reach k from n, with Poisson arrivals at lambda (> 0) and exponential
 * service at mu (>= 0) per second, in a system without a limit.  Exact (the birth–death
 * recurrence T_i = 1/λ + (μ/λ)·T_(i-1), summed in closed form, in logs when it is huge).
 * With a buffer of K requests the first refused arrival comes at the first passage to K + 1
 * (a chain at K refuses the next arrival), so the M/M/1/K debug window from empty is
 * pk_window_mm1k_hit(λ, μ, K + 1, 0, ...).  *out_s is INFINITY past cap_s.  -EINVAL when
 * n > k or a rate is out of range. */
int pk_window_mm1k_hit(double lambda, double mu, uint64_t k, uint64_t n, double cap_s,
		       double *out_s) __attribute__((warn_unused_result));

/* Stationary M/M/1/K (k >= 0 places in the system, service included): the blocking probability
 * P_K (the share of arrivals refused) and the mean number in the system L.  Either output
 * may be NULL.  -EINVAL when a rate is not finite and > 0. */
int pk_window_mm1k_stationary(double lambda, double mu, uint64_t k, double *p_block, double *mean_n)
	__attribute__((warn_unused_result));

/* ---- traces (trace.c) ---- */

/* One request of a trace: a client→server burst on a connection (the client's bytes until
 * the server answers). */
struct pk_window_request {
	double t_s;	  /* when it began, seconds after the trace's first request */
	uint64_t bytes;	  /* its size (> 0) */
	double service_s; /* from its last byte to the server's first answering byte (>= 1 ns);
			   * < 0: not measured */
};

/* The requests of a capture, all connections merged in time order. */
struct pk_window_trace {
	struct pk_window_request *reqs; /* sorted by t_s; reqs[0].t_s == 0 */
	size_t n;			/* >= 2 */
	size_t conns;			/* connections they came from */
	size_t measured;		/* requests with a service time (service_s >= 0) */
	double period_s;       /* one pass: last t_s plus one mean gap (> 0); the trace repeats */
	double mean_bytes;     /* per request */
	double mean_service_s; /* over the measured requests; 0 when none */
};

/* Reads the capture at path (pcap or pcapng, through src/capture/pcap_read.h; only connections
 * to server_port when it is not 0; at most max_bytes of memory, 0 for the reader's default)
 * into a new trace the caller frees with pk_window_trace_free().  -errno from the reader, or
 * -ENODATA when it holds fewer than two requests or they all came at once; err gets one line
 * saying why. */
int pk_window_trace_read_file(const char *path, uint16_t server_port, uint64_t max_bytes,
			      struct pk_window_trace **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Like pk_window_trace_read_file(), from an open stream, which it takes over and closes. */
int pk_window_trace_read_stream(FILE *f, uint16_t server_port, uint64_t max_bytes,
				struct pk_window_trace **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The trace of a capture read with reply_times (see pcap_read.h); the capture stays the
 * caller's.  Errors as pk_window_trace_read_file(). */
int pk_window_trace_from_pcap(const struct pk_pcap *cap, struct pk_window_trace **out, char *err,
			      size_t errlen) __attribute__((warn_unused_result));

/* Frees a trace; NULL is ignored. */
void pk_window_trace_free(struct pk_window_trace *t);

/* ---- the simulator (sim.c) ---- */

/* Arrivals above this many (rate × duration) are refused: a run stays within seconds. */
#define PK_WINDOW_SIM_MAX_ARRIVALS 100000000ull
#define PK_WINDOW_SIM_MAX_DURATION_S 1e9
/* Runs of consecutive accepted requests in the buffer (they only split at refused arrivals,
 * with run_past_overflow): the simulator's memory. */
#define PK_WINDOW_SIM_MAX_RUNS (1u << 20)

enum pk_window_arrival {
	PK_WINDOW_ARRIVAL_CONST,   /* every 1/rate seconds, the first at 1/rate */
	PK_WINDOW_ARRIVAL_POISSON, /* exponential gaps of mean 1/rate */
	PK_WINDOW_ARRIVAL_TRACE,   /* the trace's times and sizes, repeated every period_s */
};

enum pk_window_service {
	PK_WINDOW_SERVICE_CONST, /* 1/service_rate */
	PK_WINDOW_SERVICE_EXP,	 /* exponential, mean 1/service_rate */
	PK_WINDOW_SERVICE_TRACE, /* the trace's measured times (its mean where one is missing) */
};

/* A kind's name ("const", "poisson", "trace"; "const", "exp", "trace"), "?" for no kind. */
const char *pk_window_arrival_name(enum pk_window_arrival a);
const char *pk_window_service_name(enum pk_window_service s);

/* The kind a name says, or -EINVAL. */
int pk_window_arrival_parse(const char *name);
int pk_window_service_parse(const char *name);

struct pk_window_sim_params {
	enum pk_window_arrival arrival;
	double rate;			     /* requests/s (const, poisson) */
	uint64_t request_bytes;		     /* each request's size (const, poisson) */
	const struct pk_window_trace *trace; /* arrival or service from a trace; the caller's */
	enum pk_window_service service;
	double service_rate; /* requests/s before the slowdown (const, exp) */
	double slowdown;     /* every service time is multiplied by it (> 0) */
	uint64_t buffer_bytes;
	double duration_s; /* simulated time (> 0) */
	uint64_t seed;
	bool run_past_overflow; /* refuse overflowing arrivals and go on (M/M/1/K) to duration_s */
	uint64_t max_arrivals;	/* 0: PK_WINDOW_SIM_MAX_ARRIVALS */
};

struct pk_window_sim_result {
	bool overflowed;
	double window_s;	/* time of the first arrival that did not fit; INFINITY: none */
	double end_s;		/* simulated time covered (window_s unless run_past_overflow) */
	uint64_t arrivals;	/* arrivals seen (the refused ones included) */
	uint64_t refused;	/* arrivals that did not fit */
	uint64_t served;	/* requests the server finished */
	uint64_t max_bytes;	/* highest buffer occupancy */
	uint64_t max_in_system; /* most requests in the system at once */
	double mean_in_system;	/* time average of the requests in the system */
	double mean_bytes;	/* time average of the buffer occupancy */
};

/* Runs one simulation; the same params (seed included) give the same result.  Arrivals and
 * service draw from two generators (xoshiro256**, seeded by splitmix64 from seed), so the
 * arrivals of a seed are the same whatever the service.  -EINVAL for a parameter out of range
 * (a rate or slowdown not finite and > 0, a zero size or buffer, a missing trace, a service
 * from a trace without measured times), -E2BIG when rate × duration is past max_arrivals or
 * the buffer would need more than PK_WINDOW_SIM_MAX_RUNS runs, -ENOMEM. */
int pk_window_sim_run(const struct pk_window_sim_params *p, struct pk_window_sim_result *out)
	__attribute__((warn_unused_result));

/* What the models say for these simulation parameters. */
struct pk_window_prediction {
	double lambda;	    /* arrivals/s */
	double mu;	    /* services/s, slowdown applied */
	double bytes;	    /* mean request size */
	uint64_t k;	    /* requests the buffer holds: buffer / bytes */
	double fluid_s;	    /* pk_window_fluid(buffer, λ·bytes, μ·bytes) */
	double mm1k_s;	    /* pk_window_mm1k_hit(λ, μ, k + 1, 0) */
	double utilisation; /* λ / μ */
};

/* Fills out from the parameters (a trace gives its rate, mean size and mean service time).
 * -EINVAL as pk_window_sim_run(). */
int pk_window_predict(const struct pk_window_sim_params *p, struct pk_window_prediction *out)
	__attribute__((warn_unused_result));

/* ---- the live estimator (live.c) ---- */

/* Rates of one live buffer (a duplicator's connection to a clone), learnt from samples of its
 * counters: exponentially weighted moving averages with a time constant of
 * PK_WINDOW_LIVE_TAU_S.  Caller-owned; all-zero is a fresh estimator. */
#define PK_WINDOW_LIVE_TAU_S 1.0

struct pk_window_live {
	uint64_t t_ns;		/* the last sample's time, 0 before the first */
	uint64_t in, out, reqs; /* the counters at the last sample */
	bool backlog;		/* the buffer held bytes at the last sample */
	double in_bps;		/* arrival: bytes/s appended */
	double out_bps;		/* drain: bytes/s the clone took */
	double rps;		/* arrival: requests/s */
	double svc_bps;		/* service: bytes/s the clone took while a backlog waited; 0
				 * until one was seen (the clone's capacity, μ in bytes) */
};

/* Takes a sample at now_ns of a buffer's cumulative counters: bytes appended (in), bytes the
 * clone took (out), requests appended (reqs), and the bytes it holds now (used).  Samples
 * closer than 1 ms to the last are ignored; counters that went backwards restart it. */
void pk_window_live_sample(struct pk_window_live *l, uint64_t now_ns, uint64_t in, uint64_t out,
			   uint64_t reqs, uint64_t used);

/* The debug window of that buffer, in seconds (INFINITY: no overflow predicted), with capacity
 * bytes of room, used of them taken: the fluid estimate while arrival exceeds drain (by more
 * than 2%), else the M/M/1/K expected time for the requests in the system to pass the
 * buffer's K = capacity / mean request size, from λ = rps and μ = svc_bps / mean request size,
 * when a service rate was seen (a clone that never built a backlog has no predicted end). */
double pk_window_live_predict(const struct pk_window_live *l, uint64_t used, uint64_t capacity);

/* ---- the plot (plot.c) ---- */

/* One line of the plot: y[i] at x[i] of the plot; INFINITY: no overflow (drawn at the top). */
struct pk_window_plot_line {
	const char *label;
	const double *y;
};

struct pk_window_plot {
	const char *title;
	const char *x_label;
	const double *x; /* increasing */
	size_t nx;
	const struct pk_window_plot_line *lines;
	size_t nlines;
};

/* Appends a self-contained SVG document to out: the window (y, seconds, log scale) against
 * x, one line per entry of lines with a legend, "no overflow" along the top edge.  Labels are
 * escaped.  -EINVAL for no point or a non-positive y, -ENOMEM when out failed. */
int pk_window_plot_svg(const struct pk_window_plot *p, struct pk_strbuf *out)
	__attribute__((warn_unused_result));

#endif
