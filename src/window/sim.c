/* sim.c — a discrete-event simulator of one duplicator buffer, and the models' view of the
 * same parameters.
 *
 * Two events: the next arrival and, while the server is busy, the next departure (a departure
 * at the same instant as an arrival goes first: it frees room).  An arrival that fits joins
 * the FIFO and holds its bytes until its service completes; one that does not is refused (the
 * first refusal is the debug window).  Requests are numbered by arrival (seq), and the
 * requests in the system are kept as runs of consecutive numbers, not one entry each: without
 * refusals the whole buffer is one run however many requests it holds, so a 64 GiB buffer of
 * 20-byte requests costs 16 bytes.  A request's size and recorded service time are looked up
 * from its number (the trace repeats every period).
 *
 *   runs:  [seq 40, 12 requests][seq 53, 7 requests] ...      (seq 52 was refused)
 *            ^ head: in service
 *
 * The random numbers: xoshiro256** (Blackman and Vigna), seeded through splitmix64; one
 * generator for arrivals and one for service times.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "window/window.h"

/* Runs start small and double up to PK_WINDOW_SIM_MAX_RUNS. */
#define RUNS_FIRST 16

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *g, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *g)
{
	uint64_t *s = g->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* An exponential variate of mean m: -m·ln(U), U uniform in (0, 1]. */
static double rng_exp(struct rng *g, double m)
{
	double u = (double)((rng_next(g) >> 11) + 1) * 0x1.0p-53;

	return -m * log(u);
}

static const char *const arrival_names[] = {
	[PK_WINDOW_ARRIVAL_CONST] = "const",
	[PK_WINDOW_ARRIVAL_POISSON] = "poisson",
	[PK_WINDOW_ARRIVAL_TRACE] = "trace",
};

static const char *const service_names[] = {
	[PK_WINDOW_SERVICE_CONST] = "const",
	[PK_WINDOW_SERVICE_EXP] = "exp",
	[PK_WINDOW_SERVICE_TRACE] = "trace",
};

#define NAMES(v) (sizeof(v) / sizeof((v)[0]))

const char *pk_window_arrival_name(enum pk_window_arrival a)
{
	return (size_t)a < NAMES(arrival_names) ? arrival_names[a] : "?";
}

const char *pk_window_service_name(enum pk_window_service s)
{
	return (size_t)s < NAMES(service_names) ? service_names[s] : "?";
}

/* The index of name in names, or -EINVAL. */
static int lookup(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

int pk_window_arrival_parse(const char *name)
{
	return lookup(name, arrival_names, NAMES(arrival_names));
}

int pk_window_service_parse(const char *name)
{
	return lookup(name, service_names, NAMES(service_names));
}

struct run {
	uint64_t seq;	/* first request */
	uint64_t count; /* consecutive requests from seq */
};

struct sim {
	const struct pk_window_sim_params *p;
	struct rng arrivals, services;
	struct run *runs; /* a ring of cap runs, n of them from head */
	size_t cap, head, n;
	double next_arrival; /* time of arrival number seq */
	uint64_t seq;
	double gap;	 /* const: 1/rate */
	double service;	 /* const: slowdown/service_rate; exp: its mean */
	uint64_t in_sys; /* requests in the system */
	uint64_t bytes;	 /* their bytes */
};

static bool positive(double v)
{
	return isfinite(v) && v > 0;
}

/* The trace is usable for arrivals (times, sizes) or for service times (need_service). */
static bool trace_ok(const struct pk_window_trace *t, bool need_service)
{
	if (!t || t->n < 2 || !positive(t->period_s))
		return false;
	return !need_service || (t->measured > 0 && positive(t->mean_service_s));
}

static int check_params(const struct pk_window_sim_params *p)
{
	switch (p->arrival) {
	case PK_WINDOW_ARRIVAL_CONST:
	case PK_WINDOW_ARRIVAL_POISSON:
		if (!positive(p->rate) || p->request_bytes == 0)
			return -EINVAL;
		break;
	case PK_WINDOW_ARRIVAL_TRACE:
		if (!trace_ok(p->trace, false))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	switch (p->service) {
	case PK_WINDOW_SERVICE_CONST:
	case PK_WINDOW_SERVICE_EXP:
		if (!positive(p->service_rate))
			return -EINVAL;
		break;
	case PK_WINDOW_SERVICE_TRACE:
		if (!trace_ok(p->trace, true))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (!positive(p->slowdown) || p->buffer_bytes == 0 || !positive(p->duration_s) ||
	    p->duration_s > PK_WINDOW_SIM_MAX_DURATION_S)
		return -EINVAL;
	return 0;
}

/* Arrivals per second, whatever their kind. */
static double arrival_rate(const struct pk_window_sim_params *p)
{
	return p->arrival == PK_WINDOW_ARRIVAL_TRACE ? (double)p->trace->n / p->trace->period_s
						     : p->rate;
}

static uint64_t max_arrivals(const struct pk_window_sim_params *p)
{
	return p->max_arrivals ? p->max_arrivals : PK_WINDOW_SIM_MAX_ARRIVALS;
}

static const struct pk_window_request *trace_req(const struct sim *s, uint64_t seq)
{
	return &s->p->trace->reqs[seq % s->p->trace->n];
}

static uint64_t size_of(const struct sim *s, uint64_t seq)
{
	return s->p->arrival == PK_WINDOW_ARRIVAL_TRACE ? trace_req(s, seq)->bytes
							: s->p->request_bytes;
}

/* Draws or looks up the service time of request seq, slowdown applied. */
static double service_of(struct sim *s, uint64_t seq)
{
	const struct pk_window_request *r;

	switch (s->p->service) {
	case PK_WINDOW_SERVICE_EXP:
		return rng_exp(&s->services, s->service);
	case PK_WINDOW_SERVICE_TRACE:
		r = trace_req(s, seq);
		return s->p->slowdown *
		       (r->service_s >= 0 ? r->service_s : s->p->trace->mean_service_s);
	default:
		return s->service;
	}
}

/* Sets next_arrival to the time of arrival number seq (seq - 1 came at the current value). */
static void schedule_arrival(struct sim *s)
{
	const struct pk_window_trace *t = s->p->trace;

	switch (s->p->arrival) {
	case PK_WINDOW_ARRIVAL_CONST:
		s->next_arrival = (double)(s->seq + 1) * s->gap; /* no drift from summing */
		break;
	case PK_WINDOW_ARRIVAL_POISSON:
		s->next_arrival += rng_exp(&s->arrivals, s->gap);
		break;
	default:
		s->next_arrival =
			(double)(s->seq / t->n) * t->period_s + t->reqs[s->seq % t->n].t_s;
		break;
	}
}

/* Adds request seq at the tail of the runs. */
static int push(struct sim *s, uint64_t seq)
{
	if (s->n) {
		struct run *last = &s->runs[(s->head + s->n - 1) % s->cap];

		if (last->seq + last->count == seq) {
			last->count++;
			return 0;
		}
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : RUNS_FIRST;
		struct run *v;

		if (ncap > PK_WINDOW_SIM_MAX_RUNS)
			return -E2BIG;
		v = malloc(ncap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < s->n; i++)
			v[i] = s->runs[(s->head + i) % s->cap];
		free(s->runs);
		s->runs = v;
		s->cap = ncap;
		s->head = 0;
	}
	s->runs[(s->head + s->n) % s->cap] = (struct run){ .seq = seq, .count = 1 };
	s->n++;
	return 0;
}

/* Removes the request at the head; returns its number. */
static uint64_t pop(struct sim *s)
{
	struct run *h = &s->runs[s->head];
	uint64_t seq = h->seq;

	h->seq++;
	if (--h->count == 0) {
		s->head = (s->head + 1) % s->cap;
		s->n--;
	}
	return seq;
}

static uint64_t head_seq(const struct sim *s)
{
	return s->runs[s->head].seq;
}

/* The event loop; fills r. */
static int simulate(struct sim *s, struct pk_window_sim_result *r)
{
	const struct pk_window_sim_params *p = s->p;
	uint64_t hard_cap = 2 * max_arrivals(p) + 1000;
	double now = 0, departure = INFINITY, area_n = 0, area_bytes = 0, next;
	int err;

	schedule_arrival(s);
	for (;;) {
		bool depart = departure <= s->next_arrival;

		next = depart ? departure : s->next_arrival;
		if (next > p->duration_s)
			next = p->duration_s;
		area_n += (double)s->in_sys * (next - now);
		area_bytes += (double)s->bytes * (next - now);
		now = next;
		if (now >= p->duration_s)
			break;
		if (depart) {
			uint64_t seq = pop(s);

			s->bytes -= size_of(s, seq);
			s->in_sys--;
			r->served++;
			departure = s->in_sys ? now + service_of(s, head_seq(s)) : INFINITY;
			continue;
		}
		uint64_t size = size_of(s, s->seq);

		if (++r->arrivals > hard_cap)
			return -E2BIG;
		if (size > p->buffer_bytes - s->bytes) {
			r->refused++;
			if (!r->overflowed) {
				r->overflowed = true;
				r->window_s = now;
				if (!p->run_past_overflow)
					break;
			}
		} else {
			if ((err = push(s, s->seq)))
				return err;
			s->bytes += size;
			if (s->bytes > r->max_bytes)
				r->max_bytes = s->bytes;
			if (++s->in_sys > r->max_in_system)
				r->max_in_system = s->in_sys;
			if (s->in_sys == 1)
				departure = now + service_of(s, s->seq);
		}
		s->seq++;
		schedule_arrival(s);
	}
	r->end_s = now;
	r->mean_in_system = now > 0 ? area_n / now : 0;
	r->mean_bytes = now > 0 ? area_bytes / now : 0;
	return 0;
}

int pk_window_sim_run(const struct pk_window_sim_params *p, struct pk_window_sim_result *out)
{
	struct sim s = { .p = p };
	int err;

	memset(out, 0, sizeof(*out));
	out->window_s = INFINITY;
	if ((err = check_params(p)))
		return err;
	if (arrival_rate(p) * p->duration_s > (double)max_arrivals(p))
		return -E2BIG;
	rng_seed(&s.arrivals, p->seed);
	rng_seed(&s.services, p->seed ^ 0x5bd1e9955bd1e995ull);
	s.gap = 1 / arrival_rate(p);
	s.service = p->slowdown / p->service_rate;
	err = simulate(&s, out);
	free(s.runs);
	if (err) {
		memset(out, 0, sizeof(*out));
		out->window_s = INFINITY;
	}
	return err;
}

int pk_window_predict(const struct pk_window_sim_params *p, struct pk_window_prediction *out)
{
	double service_s, k;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = check_params(p)))
		return err;
	out->lambda = arrival_rate(p);
	out->bytes = p->arrival == PK_WINDOW_ARRIVAL_TRACE ? p->trace->mean_bytes
							   : (double)p->request_bytes;
	service_s = p->service == PK_WINDOW_SERVICE_TRACE ? p->trace->mean_service_s
							  : 1 / p->service_rate;
	out->mu = 1 / (service_s * p->slowdown);
	out->utilisation = out->lambda / out->mu;
	k = floor((double)p->buffer_bytes / out->bytes);
	out->k = k < 0x1p63 ? (uint64_t)k : UINT64_MAX >> 1; /* k + 1 below must not wrap */
	if ((err = pk_window_fluid((double)p->buffer_bytes, out->lambda * out->bytes,
				   out->mu * out->bytes, &out->fluid_s)))
		return err;
	return pk_window_mm1k_hit(out->lambda, out->mu, out->k + 1, 0, PK_WINDOW_MODEL_CAP_S,
				  &out->mm1k_s);
}
