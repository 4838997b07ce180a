/* live.c — the debug window of a live buffer: rates from samples of its counters, and the
 * model's answer for them (see window.h). */
#include "window/window.h"

#include <math.h>

#define NS_PER_S 1e9
#define MIN_GAP_NS 1000000ull /* samples closer than this are ignored */
#define STEADY_MARGIN 0.02    /* arrival must exceed drain by this share for the fluid model */

/* Moves the average *avg toward x with weight a. */
static void ewma(double *avg, double x, double a)
{
	*avg += a * (x - *avg);
}

void pk_window_live_sample(struct pk_window_live *l, uint64_t now_ns, uint64_t in, uint64_t out,
			   uint64_t reqs, uint64_t used)
{
	double dt, a;

	if (l->t_ns && now_ns < l->t_ns + MIN_GAP_NS)
		return;
	if (!l->t_ns || in < l->in || out < l->out || reqs < l->reqs) {
		*l = (struct pk_window_live){ .t_ns = now_ns ? now_ns : 1,
					      .in = in,
					      .out = out,
					      .reqs = reqs,
					      .backlog = used > 0 };
		return;
	}
	dt = (double)(now_ns - l->t_ns) / NS_PER_S;
	a = 1.0 - exp(-dt / PK_WINDOW_LIVE_TAU_S);
	ewma(&l->in_bps, (double)(in - l->in) / dt, a);
	ewma(&l->out_bps, (double)(out - l->out) / dt, a);
	ewma(&l->rps, (double)(reqs - l->reqs) / dt, a);
	if (l->backlog && used > 0) { /* busy the whole interval: what it took is its capacity */
		double x = (double)(out - l->out) / dt;

		if (l->svc_bps > 0)
			ewma(&l->svc_bps, x, a);
		else if (x > 0)
			l->svc_bps = x;
	}
	l->t_ns = now_ns;
	l->in = in;
	l->out = out;
	l->reqs = reqs;
	l->backlog = used > 0;
}

double pk_window_live_predict(const struct pk_window_live *l, uint64_t used, uint64_t capacity)
{
	double free_b = used < capacity ? (double)(capacity - used) : 0, s, b, k, n;

	if (l->in_bps > l->out_bps * (1 + STEADY_MARGIN) && l->in_bps - l->out_bps > 1) {
		if (pk_window_fluid(free_b, l->in_bps, l->out_bps, &s) == 0)
			return s;
		return INFINITY;
	}
	if (l->svc_bps <= 0 || l->rps <= 0 || l->in_bps <= 0)
		return INFINITY;
	b = l->in_bps / l->rps; /* mean request size */
	k = floor((double)capacity / b);
	n = ceil((double)used / b);
	if (k < 1 || k > 1e12)
		return k < 1 ? 0 : INFINITY;
	if (n > k)
		n = k;
	if (pk_window_mm1k_hit(l->rps, l->svc_bps / b, (uint64_t)k + 1, (uint64_t)n,
			       PK_WINDOW_MODEL_CAP_S, &s) < 0)
		return INFINITY;
	return s;
}
