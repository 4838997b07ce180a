/* test_window.c — the debug-window models and the simulator: closed forms against sums done
 * here the long way, the simulator against stationary M/M/1/K (blocking probability, mean
 * number in the system), the first-passage time against the mean first overflow of many seeded
 * runs, the fluid estimate against constant arrivals, determinism, refused parameters, and the
 * SVG plot.  Every run is seeded: the results are the same on every machine and every run. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "unit.h"
#include "window/window.h"

/* |got - want| within rel of want. */
static int near(double got, double want, double rel)
{
	return fabs(got - want) <= rel * fabs(want);
}

#define CHECK_NEAR(got, want, rel)                                                                 \
	do {                                                                                       \
		double g_ = (got), w_ = (want);                                                    \
		if (!near(g_, w_, rel))                                                            \
			printf("  %s = %.9g, want %.9g within %g\n", #got, g_, w_, (double)(rel)); \
		CHECK(near(g_, w_, rel));                                                          \
	} while (0)

static void test_fluid(void)
{
	double w;

	CHECK_EQ_INT(pk_window_fluid(1000, 300, 100, &w), 0);
	CHECK(w == 5);
	CHECK_EQ_INT(pk_window_fluid(1000, 100, 100, &w), 0);
	CHECK(isinf(w));
	CHECK_EQ_INT(pk_window_fluid(0, 2, 1, &w), 0);
	CHECK(w == 0);
	CHECK_EQ_INT(pk_window_fluid(-1, 2, 1, &w), -EINVAL);
	CHECK_EQ_INT(pk_window_fluid(1, NAN, 1, &w), -EINVAL);
	CHECK_EQ_INT(pk_window_fluid(1, 2, INFINITY, &w), -EINVAL);
}

/* T_i = 1/λ + r·T_(i-1) summed from n to k - 1, the long way. */
static double hit_by_hand(double lambda, double mu, unsigned k, unsigned n)
{
	double t = 1 / lambda, h = 0;

	for (unsigned i = 0; i < k; i++) {
		if (i >= n)
			h += t;
		t = 1 / lambda + mu / lambda * t;
	}
	return h;
}

static void test_hit_small(void)
{
	double h;

	CHECK_EQ_INT(pk_window_mm1k_hit(2, 5, 1, 0, 1e12, &h), 0);
	CHECK(h == 0.5);
	CHECK_EQ_INT(pk_window_mm1k_hit(2, 5, 2, 0, 1e12, &h), 0);
	CHECK_NEAR(h, 0.5 * (2 + 2.5), 1e-15);
	CHECK_EQ_INT(pk_window_mm1k_hit(2, 5, 7, 7, 1e12, &h), 0);
	CHECK(h == 0);
	CHECK_EQ_INT(pk_window_mm1k_hit(4, 0, 10, 2, 1e12, &h), 0); /* no service: 8 arrivals */
	CHECK_NEAR(h, 2, 1e-15);
	CHECK_EQ_INT(pk_window_mm1k_hit(0.8, 1, 11, 0, 1e12, &h), 0);
	CHECK_NEAR(h, hit_by_hand(0.8, 1, 11, 0), 1e-12);
	CHECK_EQ_INT(pk_window_mm1k_hit(0.8, 1, 11, 4, 1e12, &h), 0);
	CHECK_NEAR(h, hit_by_hand(0.8, 1, 11, 4), 1e-12);
	CHECK_EQ_INT(pk_window_mm1k_hit(3, 1, 50, 0, 1e12, &h), 0);
	CHECK_NEAR(h, hit_by_hand(3, 1, 50, 0), 1e-12);
	/* r = 2, n = 0: Σ g(m) = (2·(2^30 - 1) - 30) / 1 */
	CHECK_EQ_INT(pk_window_mm1k_hit(1, 2, 30, 0, 1e12, &h), 0);
	CHECK(h == 2147483616.0);
	/* λ ≪ μ: r^k past any double, past the cap */
	CHECK_EQ_INT(pk_window_mm1k_hit(1, 1000, 200, 0, 1e12, &h), 0);
	CHECK(isinf(h));
	CHECK_EQ_INT(pk_window_mm1k_hit(1, 1000, 200000000, 0, 1e12, &h), 0);
	CHECK(isinf(h));
	CHECK_EQ_INT(pk_window_mm1k_hit(1, 1.5, 40, 0, 100, &h), 0); /* past a small cap */
	CHECK(isinf(h));
	CHECK_EQ_INT(pk_window_mm1k_hit(1, 1, 3, 4, 1e12, &h), -EINVAL);
	CHECK_EQ_INT(pk_window_mm1k_hit(0, 1, 3, 0, 1e12, &h), -EINVAL);
	CHECK_EQ_INT(pk_window_mm1k_hit(1, -1, 3, 0, 1e12, &h), -EINVAL);
	CHECK_EQ_INT(pk_window_mm1k_hit(INFINITY, 1, 3, 0, 1e12, &h), -EINVAL);
	CHECK_EQ_INT(pk_window_mm1k_hit(1, NAN, 3, 0, 1e12, &h), -EINVAL);
	CHECK_EQ_INT(pk_window_mm1k_hit(1, 1, 3, 0, 0, &h), -EINVAL);
}

/* Past a million steps the sum is taken in closed form: it must continue the step-by-step
 * sum (H(k + 1) - H(k) = T_k = g(k + 1)/λ) for r below, at and just above 1. */
static void test_hit_large(void)
{
	const double rs[] = { 0.5, 0.999999, 1, 1 + 1e-12, 1 + 1e-9, 1 + 1e-6 };
	const uint64_t k = 1000000;

	for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
		double r = rs[i], a, b, t;

		t = r == 1 ? (double)(k + 1) : expm1((double)(k + 1) * log(r)) / expm1(log(r));
		CHECK_EQ_INT(pk_window_mm1k_hit(2, 2 * r, k, 0, 1e300, &a), 0);
		CHECK_EQ_INT(pk_window_mm1k_hit(2, 2 * r, k + 1, 0, 1e300, &b), 0);
		CHECK_NEAR(b - a, t / 2, 1e-5);
	}
	/* r = 1 exactly: k(k+1)/(2λ); a 64 GiB buffer of 20-byte requests */
	double h;

	CHECK_EQ_INT(pk_window_mm1k_hit(1, 1, 3435973836ull, 0, 1e300, &h), 0);
	CHECK_NEAR(h, 3435973836.0 * 3435973837.0 / 2, 1e-12);
	/* arrivals 5× below service: no overflow in any lifetime */
	CHECK_EQ_INT(pk_window_mm1k_hit(1000, 5000, 3435973836ull, 0, PK_WINDOW_MODEL_CAP_S, &h),
		     0);
	CHECK(isinf(h));
	/* arrivals faster: close to the fluid K/(λ-μ) */
	CHECK_EQ_INT(pk_window_mm1k_hit(1000, 500, 3435973836ull, 0, PK_WINDOW_MODEL_CAP_S, &h), 0);
	CHECK_NEAR(h, 3435973836.0 / 500, 1e-6);
}

/* P_K and L by summing the distribution ρ^n/Σρ^j. */
static void stationary_by_hand(double rho, unsigned k, double *pk, double *l)
{
	double z = 0, m = 0, pn = 1;

	for (unsigned n = 0; n <= k; n++, pn *= rho) {
		z += pn;
		m += n * pn;
	}
	*pk = pow(rho, k) / z;
	*l = m / z;
}

static void test_stationary(void)
{
	const double rhos[] = { 0.3, 0.8, 1 - 1e-9, 1, 1 + 1e-9, 1.25, 4 };
	const unsigned ks[] = { 0, 1, 10, 50 };
	double pb, l, want_pb, want_l;

	for (size_t i = 0; i < sizeof(rhos) / sizeof(rhos[0]); i++)
		for (size_t j = 0; j < sizeof(ks) / sizeof(ks[0]); j++) {
			stationary_by_hand(rhos[i], ks[j], &want_pb, &want_l);
			CHECK_EQ_INT(pk_window_mm1k_stationary(rhos[i], 1, ks[j], &pb, &l), 0);
			CHECK_NEAR(pb, want_pb, 1e-9);
			if (ks[j])
				CHECK_NEAR(l, want_l, 1e-9);
			else
				CHECK(l == 0);
		}
	/* huge K: no overflow, the limits of M/M/1 */
	CHECK_EQ_INT(pk_window_mm1k_stationary(0.5, 1, 1u << 30, &pb, &l), 0);
	CHECK(pb == 0);
	CHECK_NEAR(l, 1, 1e-12);
	CHECK_EQ_INT(pk_window_mm1k_stationary(2, 1, 1u << 30, &pb, &l), 0);
	CHECK_NEAR(pb, 0.5, 1e-12);
	CHECK_NEAR(l, (double)(1u << 30) - 1, 1e-12);
	CHECK_EQ_INT(pk_window_mm1k_stationary(0, 1, 3, &pb, NULL), -EINVAL);
	CHECK_EQ_INT(pk_window_mm1k_stationary(1, 0, 3, NULL, &l), -EINVAL);
	CHECK_EQ_INT(pk_window_mm1k_stationary(1, INFINITY, 3, NULL, NULL), -EINVAL);
}

/* Poisson arrivals, exponential service, a buffer of k requests of 100 bytes. */
static struct pk_window_sim_params mm1k(double lambda, double mu, unsigned k, double duration,
					uint64_t seed)
{
	return (struct pk_window_sim_params){ .arrival = PK_WINDOW_ARRIVAL_POISSON,
					      .rate = lambda,
					      .request_bytes = 100,
					      .service = PK_WINDOW_SERVICE_EXP,
					      .service_rate = mu,
					      .slowdown = 1,
					      .buffer_bytes = 100ull * k,
					      .duration_s = duration,
					      .seed = seed };
}

/* A long run past the overflows is M/M/1/K: the share of arrivals refused is P_K (PASTA) and
 * the time average in the system is L, within 2% (the spread over seeds of these run lengths
 * is about 0.5% for the first and third cases, 0.3% for the second). */
static void test_sim_stationary(void)
{
	const struct {
		double lambda, mu;
		unsigned k;
		double duration;
	} cases[] = { { 0.8, 1, 10, 1e7 }, { 1.2, 1, 8, 1e6 }, { 0.5, 1, 4, 4e6 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pk_window_sim_params p =
			mm1k(cases[i].lambda, cases[i].mu, cases[i].k, cases[i].duration, 7);
		struct pk_window_sim_result r;
		double pb, l;

		p.run_past_overflow = true;
		CHECK_EQ_INT(pk_window_mm1k_stationary(cases[i].lambda, cases[i].mu, cases[i].k,
						       &pb, &l),
			     0);
		CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
		CHECK(r.overflowed);
		CHECK(r.end_s == cases[i].duration);
		CHECK(r.max_in_system == cases[i].k);
		CHECK(r.max_bytes == 100ull * cases[i].k);
		CHECK_NEAR((double)r.refused / (double)r.arrivals, pb, 0.02);
		CHECK_NEAR(r.mean_in_system, l, 0.02);
		CHECK_NEAR(r.mean_bytes, 100 * l, 0.02);
		/* every accepted request is served or still in the system at the end */
		CHECK(r.arrivals - r.refused >= r.served);
		CHECK(r.arrivals - r.refused - r.served <= cases[i].k);
	}
}

/* The mean first overflow over 10,000 seeds is the first passage to K + 1, within 4% (the
 * standard error is under 1%: first-passage times spread about as much as their mean). */
static void test_sim_first_overflow(void)
{
	const struct {
		double lambda, mu;
		unsigned k;
	} cases[] = { { 0.8, 1, 10 }, { 2, 1, 20 }, { 0.5, 1, 6 } };
	const int runs = 10000;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double want, sum = 0;
		int overflowed = 0;

		CHECK_EQ_INT(pk_window_mm1k_hit(cases[i].lambda, cases[i].mu, cases[i].k + 1, 0,
						PK_WINDOW_MODEL_CAP_S, &want),
			     0);
		for (int seed = 1; seed <= runs; seed++) {
			struct pk_window_sim_params p =
				mm1k(cases[i].lambda, cases[i].mu, cases[i].k, 1e7, (uint64_t)seed);
			struct pk_window_sim_result r;

			if (pk_window_sim_run(&p, &r) != 0)
				break;
			overflowed += r.overflowed;
			sum += r.window_s;
		}
		CHECK_EQ_INT(overflowed, runs);
		CHECK_NEAR(sum / runs, want, 0.04);
	}
}

/* Constant arrivals and constant service: the queue grows by λ - μ requests a second, in steps.
 * Before arrival m + 1 (m = λt) it holds m - floor(m·μ/λ) requests, so the first refusal comes
 * at the fluid time or up to 1/(λ - μ) (the departures' granularity) earlier, plus one arrival
 * either way; the fluid also counts a buffer's tail no request fits in (B - K·b bytes). */
static bool within_fluid(double window, const struct pk_window_prediction *pred, double buffer)
{
	double lambda = pred->lambda, mu = pred->mu;
	double early = 1 / (lambda - mu) +
		       (buffer - (double)pred->k * pred->bytes) / (pred->bytes * (lambda - mu));

	return window <= pred->fluid_s + 1 / lambda + 1e-9 &&
	       window >= pred->fluid_s - early - 1 / lambda - 1e-9;
}

/* Every 0.1 s a request of 100 bytes, served in 0.2 s: the buffer (100 requests) fills at 5
 * requests/s; with these round numbers the departures fall on arrivals and the first overflow
 * comes exactly at the fluid estimate. */
static void test_sim_fluid(void)
{
	const struct pk_window_sim_params base = { .arrival = PK_WINDOW_ARRIVAL_CONST,
						   .rate = 10,
						   .request_bytes = 100,
						   .service = PK_WINDOW_SERVICE_CONST,
						   .service_rate = 10,
						   .slowdown = 2,
						   .buffer_bytes = 10000,
						   .duration_s = 3600 };
	struct pk_window_sim_params p = base;
	struct pk_window_prediction pred;
	struct pk_window_sim_result r;

	CHECK_EQ_INT(pk_window_predict(&p, &pred), 0);
	CHECK(pred.fluid_s == 20);
	CHECK(pred.k == 100);
	CHECK_NEAR(pred.lambda, 10, 1e-15);
	CHECK_NEAR(pred.mu, 5, 1e-15);
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
	CHECK(r.overflowed);
	CHECK_NEAR(r.window_s, pred.fluid_s, 1e-12);
	CHECK(r.max_in_system == 100);
	/* other rates and sizes, not multiples of each other: within the bounds above */
	const struct {
		double rate, service_rate, slowdown;
		uint64_t size, buffer;
	} cases[] = { { 10, 10, 2, 100, 75050 },
		      { 27, 49, 3, 20, 4096 },
		      { 27, 49, 3, 20, 16384 },
		      { 1000, 900, 1.7, 512, 1 << 20 },
		      { 3, 5, 7.5, 1, 100 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p.rate = cases[i].rate;
		p.service_rate = cases[i].service_rate;
		p.slowdown = cases[i].slowdown;
		p.request_bytes = cases[i].size;
		p.buffer_bytes = cases[i].buffer;
		CHECK_EQ_INT(pk_window_predict(&p, &pred), 0);
		CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
		CHECK(r.overflowed && within_fluid(r.window_s, &pred, (double)p.buffer_bytes));
		if (!within_fluid(r.window_s, &pred, (double)p.buffer_bytes))
			printf("  case %zu: window %.6f, fluid %.6f\n", i, r.window_s,
			       pred.fluid_s);
	}
	p = base;
	p.slowdown = 1;
	/* the clone keeps up: no overflow in the hour, and every request but the last served
	 * (a departure and the next arrival fall on the same instant, give or take rounding) */
	CHECK_EQ_INT(pk_window_predict(&p, &pred), 0);
	CHECK(isinf(pred.fluid_s));
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
	CHECK(!r.overflowed && isinf(r.window_s));
	CHECK(r.end_s == 3600);
	CHECK(r.max_in_system <= 2);
	CHECK(r.arrivals >= 35999 && r.served + 1 >= r.arrivals);
}

static void test_sim_deterministic(void)
{
	struct pk_window_sim_params p = mm1k(17, 49 / 3.2, 204, 3600, 42);
	struct pk_window_sim_result a, b, c;

	CHECK_EQ_INT(pk_window_sim_run(&p, &a), 0);
	CHECK_EQ_INT(pk_window_sim_run(&p, &b), 0);
	CHECK(a.overflowed);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	p.seed = 43;
	CHECK_EQ_INT(pk_window_sim_run(&p, &c), 0);
	CHECK(c.window_s != a.window_s);
	/* the arrivals of a seed do not depend on the service: with service so fast that no
	 * request waits, the same seed gives the same arrival count over the same time */
	p.seed = 42;
	p.service_rate = 1e6;
	p.duration_s = 100;
	CHECK_EQ_INT(pk_window_sim_run(&p, &b), 0);
	p.service = PK_WINDOW_SERVICE_CONST;
	CHECK_EQ_INT(pk_window_sim_run(&p, &c), 0);
	CHECK(b.arrivals == c.arrivals && b.arrivals > 1500);
}

static void test_sim_bad_params(void)
{
	struct pk_window_sim_params good = mm1k(10, 20, 10, 100, 1), p;
	struct pk_window_sim_result r;
	struct pk_window_prediction pred;
	struct pk_window_trace empty = { 0 };

#define BAD(field, value, code)                                                                    \
	do {                                                                                       \
		p = good;                                                                          \
		p.field = value;                                                                   \
		CHECK_EQ_INT(pk_window_sim_run(&p, &r), code);                                     \
		CHECK(!r.overflowed && r.arrivals == 0);                                           \
	} while (0)
	BAD(rate, 0, -EINVAL);
	BAD(rate, -1, -EINVAL);
	BAD(rate, NAN, -EINVAL);
	BAD(rate, INFINITY, -EINVAL);
	BAD(request_bytes, 0, -EINVAL);
	BAD(service_rate, 0, -EINVAL);
	BAD(service_rate, -5, -EINVAL);
	BAD(slowdown, 0, -EINVAL);
	BAD(slowdown, -2, -EINVAL);
	BAD(slowdown, NAN, -EINVAL);
	BAD(buffer_bytes, 0, -EINVAL);
	BAD(duration_s, 0, -EINVAL);
	BAD(duration_s, INFINITY, -EINVAL);
	BAD(duration_s, 2e9, -EINVAL);
	BAD(arrival, (enum pk_window_arrival)7, -EINVAL);
	BAD(service, (enum pk_window_service)7, -EINVAL);
	BAD(arrival, PK_WINDOW_ARRIVAL_TRACE, -EINVAL); /* no trace */
	BAD(service, PK_WINDOW_SERVICE_TRACE, -EINVAL); /* no trace */
	good.arrival = PK_WINDOW_ARRIVAL_TRACE;
	BAD(trace, &empty, -EINVAL);
	good.arrival = PK_WINDOW_ARRIVAL_POISSON;
	/* would not end in seconds: 1e9 req/s for 1000 s */
	BAD(rate, 1e9, -E2BIG);
	BAD(max_arrivals, 999, -E2BIG); /* 10 req/s × 100 s */
#undef BAD
	p = good;
	p.trace = &empty;
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
	p.slowdown = 0;
	CHECK_EQ_INT(pk_window_predict(&p, &pred), -EINVAL);
}

/* A buffer smaller than one request: the first arrival overflows, as the model says. */
static void test_sim_tiny_buffer(void)
{
	struct pk_window_sim_params p = mm1k(2, 1, 0, 100, 3);
	struct pk_window_prediction pred;
	struct pk_window_sim_result r;

	p.buffer_bytes = 99;
	CHECK_EQ_INT(pk_window_predict(&p, &pred), 0);
	CHECK(pred.k == 0);
	CHECK_NEAR(pred.mm1k_s, 0.5, 1e-15);
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
	CHECK(r.overflowed && r.arrivals == 1 && r.refused == 1 && r.served == 0);
	CHECK(r.window_s > 0 && r.window_s == r.end_s);
}

/* How many times needle occurs in hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_plot(void)
{
	const double x[] = { 1.5, 2, 3, 5, 8 };
	const double a[] = { INFINITY, INFINITY, 72.5, 18, 16 };
	const double b[] = { INFINITY, 900, 300, 0.2, 0.1 };
	const struct pk_window_plot_line lines[] = { { "4K <buffer>", a }, { "16K & more", b } };
	struct pk_window_plot p = { .title = "window \"test\"",
				    .x_label = "slowdown",
				    .x = x,
				    .nx = 5,
				    .lines = lines,
				    .nlines = 2 };
	struct pk_strbuf out = { 0 };
	const char *s;

	CHECK_EQ_INT(pk_window_plot_svg(&p, &out), 0);
	s = pk_strbuf_str(&out);
	CHECK(strncmp(s, "<?xml", 5) == 0);
	CHECK(count(s, "<svg ") == 1 && count(s, "</svg>") == 1);
	CHECK(count(s, "<polyline") == 2);
	CHECK(count(s, "<circle") == 2 * 5 + 2);	      /* the points and the legend's two */
	CHECK(count(s, "r=\"3.5\" fill=\"#ffffff\"/>") == 3); /* hollow: no overflow */
	CHECK(strstr(s, "4K &lt;buffer&gt;") && strstr(s, "16K &amp; more"));
	CHECK(strstr(s, "window &quot;test&quot;"));
	CHECK(strstr(s, "no overflow") && strstr(s, "log scale"));
	CHECK(strstr(s, ">0.1<") && strstr(s, ">1000<")); /* decades 0.1 .. 1000 */
	pk_strbuf_release(&out);
	/* only "none": still a plot */
	const double none[] = { INFINITY, INFINITY, INFINITY, INFINITY, INFINITY };
	const struct pk_window_plot_line nl[] = { { "64K", none } };

	p.lines = nl;
	p.nlines = 1;
	CHECK_EQ_INT(pk_window_plot_svg(&p, &out), 0);
	CHECK(count(pk_strbuf_str(&out), "<polyline") == 1);
	pk_strbuf_release(&out);
	/* refused: x not increasing, a zero window, nothing to draw */
	const double xbad[] = { 1, 3, 2, 4, 5 };
	const double zero[] = { 1, 0, 1, 1, 1 };
	const struct pk_window_plot_line zl[] = { { "z", zero } };

	p.x = xbad;
	CHECK_EQ_INT(pk_window_plot_svg(&p, &out), -EINVAL);
	p.x = x;
	p.lines = zl;
	CHECK_EQ_INT(pk_window_plot_svg(&p, &out), -EINVAL);
	p.nlines = 0;
	CHECK_EQ_INT(pk_window_plot_svg(&p, &out), -EINVAL);
	pk_strbuf_release(&out);
}

/* The live estimator: samples of a buffer's counters every 100 ms for 10 s. */
static void live_run(struct pk_window_live *l, double in_bps, double out_bps, double rps,
		     uint64_t used0, uint64_t *used)
{
	uint64_t in = 0, out = 0, reqs = 0;
	double u = (double)used0;

	for (int i = 0; i <= 100; i++) {
		uint64_t t = 1000000000ull + (uint64_t)i * 100000000ull;

		pk_window_live_sample(l, t, in, out, reqs, (uint64_t)u);
		in += (uint64_t)(in_bps / 10);
		out += (uint64_t)(out_bps / 10);
		reqs += (uint64_t)(rps / 10);
		u += (in_bps - out_bps) / 10;
	}
	*used = (uint64_t)u;
}

static void test_live(void)
{
	struct pk_window_live l = { 0 };
	uint64_t used;
	double s, want;

	/* steady fill: the fluid answer, free / (arrival - drain) */
	live_run(&l, 1e6, 2.5e5, 1000, 1 << 20, &used);
	CHECK(fabs(l.in_bps - 1e6) < 1e4 && fabs(l.out_bps - 2.5e5) < 1e4);
	s = pk_window_live_predict(&l, used, 16 << 20);
	want = (double)((16 << 20) - used) / 7.5e5;
	CHECK(fabs(s - want) < 0.02 * want);
	CHECK(l.svc_bps > 2.4e5 && l.svc_bps < 2.6e5); /* busy all along: its capacity */
	/* a clone that keeps up and never had a backlog: no predicted end */
	l = (struct pk_window_live){ 0 };
	live_run(&l, 1e6, 1e6, 1000, 0, &used);
	CHECK(isinf(pk_window_live_predict(&l, 0, 16 << 20)));
	/* keeping up, with a standing backlog: busy all along, so its capacity is what it
	 * drains; M/M/1/K from the measured rates (1,000-byte requests, 64 of them fit) */
	l = (struct pk_window_live){ 0 };
	live_run(&l, 1e6, 1e6, 1000, 4096, &used);
	CHECK(fabs(l.svc_bps - 1e6) < 1e4);
	s = pk_window_live_predict(&l, 4096, 64 * 1000);
	CHECK(pk_window_mm1k_hit(1000, 1000, 65, 5, PK_WINDOW_MODEL_CAP_S, &want) == 0);
	CHECK(isfinite(s) && fabs(s - want) < 0.05 * want);
	/* counters that went backwards (a new connection) restart it */
	pk_window_live_sample(&l, 100ull * 1000000000ull, 0, 0, 0, 0);
	CHECK(l.in_bps == 0 && l.svc_bps == 0);
}

int main(void)
{
	UNIT_RUN(test_fluid);
	UNIT_RUN(test_hit_small);
	UNIT_RUN(test_hit_large);
	UNIT_RUN(test_stationary);
	UNIT_RUN(test_sim_stationary);
	UNIT_RUN(test_sim_first_overflow);
	UNIT_RUN(test_sim_fluid);
	UNIT_RUN(test_sim_deterministic);
	UNIT_RUN(test_sim_bad_params);
	UNIT_RUN(test_sim_tiny_buffer);
	UNIT_RUN(test_plot);
	UNIT_RUN(test_live);
	return unit_done();
}
