/* model.c — the debug window's closed forms: fluid, M/M/1 first passage, stationary M/M/1/K.
 *
 * First passage in the birth–death chain of M/M/1 (arrivals λ, services μ, r = μ/λ): let T_i
 * be the expected time from i requests to i + 1.  From 0 only an arrival moves: T_0 = 1/λ.
 * From i >= 1 the next event comes after 1/(λ+μ); it is a departure with probability
 * μ/(λ+μ), after which the chain must climb back (T_(i-1)) and then up (T_i) again:
 *
 *     T_i = 1/λ + r·T_(i-1)   so   T_i = g(i + 1)/λ,   g(m) = Σ_(j<m) r^j = expm1(mδ)/expm1(δ)
 *
 * with δ = ln r.  The time from n to k is H = Σ_(i=n..k-1) T_i = (1/λ)·Σ_(m=n+1..k) g(m).  Up to
 * HIT_DIRECT steps it is summed term by term (positive terms: no cancellation); past that in
 * closed form — near r = 1 by its first-order expansion in δ, for r > 1 in logs so that r^k
 * never overflows.
 */
#include <errno.h>
#include <math.h>

#include "window/window.h"

#define HIT_DIRECT 4096u
/* |δ|·k under which g(m) is taken as m + δ·m(m-1)/2 (the next term is below 1e-8 of it) */
#define HIT_NEAR_ONE 1e-4

static bool finite_nonneg(double v)
{
	return isfinite(v) && v >= 0;
}

int pk_window_fluid(double free_bytes, double arrival_bps, double drain_bps, double *out_s)
{
	if (!finite_nonneg(free_bytes) || !finite_nonneg(arrival_bps) || !finite_nonneg(drain_bps))
		return -EINVAL;
	*out_s = arrival_bps > drain_bps ? free_bytes / (arrival_bps - drain_bps) : INFINITY;
	return 0;
}

/* log(expm1(x)) for x > 0, without overflow for large x. */
static double log_expm1(double x)
{
	return x > 30 ? x + log1p(-exp(-x)) : log(expm1(x));
}

/* H summed step by step from T_n; INFINITY past cap. */
static double hit_direct(double lambda, double r, uint64_t k, uint64_t n, double cap)
{
	double t, h = 0;

	if (r == 0)
		t = 1 / lambda;
	else if (r == 1)
		t = (double)(n + 1) / lambda;
	else
		t = expm1((double)(n + 1) * log(r)) / expm1(log(r)) / lambda;
	for (uint64_t i = n; i < k; i++) {
		h += t;
		if (!(h <= cap))
			return INFINITY;
		t = 1 / lambda + r * t;
	}
	return h;
}

/* H in closed form (k - n > HIT_DIRECT); INFINITY past cap. */
static double hit_closed(double lambda, double r, uint64_t k, uint64_t n, double cap)
{
	double len = (double)(k - n), kd = (double)k, nd = (double)n;
	double d = log(r), h;

	if (r == 0) {
		h = len / lambda;
	} else if (fabs(d) * kd < HIT_NEAR_ONE) {
		/* Σ m = len(k+n+1)/2;  Σ m(m-1)/2 = len(k² + kn + n² - 1)/6 */
		double s1 = len * (kd + nd + 1) / 2;
		double s2 = len * (kd * kd + kd * nd + nd * nd - 1) / 6;

		h = (s1 + d * s2) / lambda;
	} else if (r < 1) {
		/* Σ g(m) = (len - r^(n+1)·(1 - r^len)/(1 - r)) / (1 - r) */
		double q = -expm1(d);

		h = (len - exp((nd + 1) * d) * -expm1(len * d) / q) / q / lambda;
	} else {
		/* Σ g(m) = (first - len) / (r - 1), first = r^(n+1)·(r^len - 1)/(r - 1) >= len:
		 * in logs, as r^k overflows a double long before k does */
		double q = expm1(d);
		double log_first = (nd + 1) * d + log_expm1(len * d) - log(q);
		double log_h = log_first + log1p(-exp(log(len) - log_first)) - log(q) - log(lambda);

		return log_h <= log(cap) ? exp(log_h) : INFINITY;
	}
	return h <= cap ? h : INFINITY;
}

int pk_window_mm1k_hit(double lambda, double mu, uint64_t k, uint64_t n, double cap_s,
		       double *out_s)
{
	double r;

	if (!(isfinite(lambda) && lambda > 0) || !finite_nonneg(mu) || n > k || !(cap_s > 0))
		return -EINVAL;
	r = mu / lambda;
	if (!isfinite(r))
		return -EINVAL;
	if (k - n <= HIT_DIRECT)
		*out_s = hit_direct(lambda, r, k, n, cap_s);
	else
		*out_s = hit_closed(lambda, r, k, n, cap_s);
	return 0;
}

/* P_K and L for ρ = λ/μ <= 1 (δ = ln ρ <= 0); the case ρ > 1 mirrors it (see below). */
static void stationary_le1(double d, double kd, double *p_block, double *mean_n)
{
	if (fabs(d) * (kd + 1) < HIT_NEAR_ONE) {
		/* uniform on 0..K, plus the first order in δ: dL/dδ = Var = K(K+2)/12 */
		*p_block = 1 / (kd + 1) * (1 + d * kd / 2);
		*mean_n = kd / 2 + d * kd * (kd + 2) / 12;
		return;
	}
	/* P_K = ρ^K(1-ρ)/(1-ρ^(K+1)),  L = ρ/(1-ρ) - (K+1)ρ^(K+1)/(1-ρ^(K+1)) */
	double one_minus = -expm1(d), one_minus_k1 = -expm1((kd + 1) * d);

	*p_block = exp(kd * d) * one_minus / one_minus_k1;
	*mean_n = exp(d) / one_minus - (kd + 1) * exp((kd + 1) * d) / one_minus_k1;
}

int pk_window_mm1k_stationary(double lambda, double mu, uint64_t k, double *p_block, double *mean_n)
{
	double pb, l, d, kd = (double)k;

	if (!(isfinite(lambda) && lambda > 0) || !(isfinite(mu) && mu > 0))
		return -EINVAL;
	d = log(lambda / mu);
	if (!isfinite(d))
		return -EINVAL;
	if (d <= 0) {
		stationary_le1(d, kd, &pb, &l);
	} else {
		/* Read the chain from the top: state K - i has the law of state i at 1/ρ, so
		 * L = K - L(1/ρ) and P_K = P_0(1/ρ) = (1 - σ)/(1 - σ^(K+1)), σ = 1/ρ. */
		double p_top, l_mirror;

		stationary_le1(-d, kd, &p_top, &l_mirror);
		l = kd - l_mirror;
		if (fabs(d) * (kd + 1) < HIT_NEAR_ONE)
			pb = 1 / (kd + 1) * (1 + d * kd / 2);
		else
			pb = -expm1(-d) / -expm1(-(kd + 1) * d);
	}
	if (p_block)
		*p_block = pb;
	if (mean_n)
		*mean_n = l;
	return 0;
}
