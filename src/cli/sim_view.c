/* sim_view.c — `parikshan sim`'s output: one run's report or the grid's table, their JSON
 * (cJSON), and the grid's SVG plot (through src/window's writer).  Seconds print with four
 * significant digits in text; JSON carries the full double.  "none" (null in JSON) is a
 * window that did not close within the duration, or a model that predicts no overflow. */
#include "cli/sim_view.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

#define SIM_TITLE_MAX 512

void pk_sim_size_str(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)bytes, units[u]);
}

/* Seconds with four significant digits, or "none". */
static const char *secs(double s, char *buf, size_t len)
{
	if (isinf(s))
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%.4g", s);
	return buf;
}

/* The line of parameters every cell shares (arrivals, service, duration, seed). */
static void describe(const struct pk_sim_grid *g, struct pk_strbuf *out)
{
	const struct pk_sim_cell *c = &g->cells[0];
	const struct pk_window_sim_params *p = &c->params;

	if (p->arrival == PK_WINDOW_ARRIVAL_TRACE)
		pk_strbuf_printf(out,
				 "arrivals  trace %s: %zu requests on %zu connections, %.4g req/s, "
				 "%.4g B each on average (repeated every %.4g s)\n",
				 g->trace_file, p->trace->n, p->trace->conns, c->pred.lambda,
				 c->pred.bytes, p->trace->period_s);
	else
		pk_strbuf_printf(out, "arrivals  %s, %.4g req/s, %llu B each (%.4g B/s)\n",
				 pk_window_arrival_name(p->arrival), p->rate,
				 (unsigned long long)p->request_bytes, p->rate * c->pred.bytes);
	if (p->service == PK_WINDOW_SERVICE_TRACE)
		pk_strbuf_printf(out,
				 "service   measured in the trace for %zu requests, mean %.4g s "
				 "(%.4g req/s)",
				 p->trace->measured, p->trace->mean_service_s,
				 1 / p->trace->mean_service_s);
	else
		pk_strbuf_printf(out, "service   %s, %.4g req/s",
				 pk_window_service_name(p->service), p->service_rate);
	pk_strbuf_printf(out,
			 " before the slowdown\nrun       %.4g s simulated at most, seed %llu\n",
			 p->duration_s, (unsigned long long)p->seed);
}

static void render_one(const struct pk_sim_grid *g, struct pk_strbuf *out)
{
	const struct pk_sim_cell *c = &g->cells[0];
	char a[32], b[32];

	describe(g, out);
	pk_strbuf_printf(out,
			 "slowdown  %.4gx: %.4g req/s served, utilisation %.4g\n"
			 "buffer    %llu B (%llu requests)\n",
			 c->params.slowdown, c->pred.mu, c->pred.utilisation,
			 (unsigned long long)c->params.buffer_bytes, (unsigned long long)c->pred.k);
	if (c->res.overflowed)
		pk_strbuf_printf(out, "window    %s s (first overflow)\n",
				 secs(c->res.window_s, a, sizeof(a)));
	else
		pk_strbuf_printf(out, "window    none within %.4g s\n", c->params.duration_s);
	pk_strbuf_printf(
		out,
		"fluid     %s%s\nM/M/1/K   %s%s\n"
		"counts    %llu arrivals, %llu served, max %llu B (%llu requests) in the "
		"buffer\n",
		secs(c->pred.fluid_s, a, sizeof(a)), isinf(c->pred.fluid_s) ? "" : " s",
		secs(c->pred.mm1k_s, b, sizeof(b)), isinf(c->pred.mm1k_s) ? "" : " s (expected)",
		(unsigned long long)c->res.arrivals, (unsigned long long)c->res.served,
		(unsigned long long)c->res.max_bytes, (unsigned long long)c->res.max_in_system);
}

void pk_sim_render_text(const struct pk_sim_grid *g, struct pk_strbuf *out)
{
	char buf[32];

	if (g->nslow * g->nbuf == 1) {
		render_one(g, out);
		return;
	}
	describe(g, out);
	pk_strbuf_printf(out, "\nwindow (s) by slowdown and buffer:\n%-9s", "slowdown");
	for (size_t b = 0; b < g->nbuf; b++) {
		pk_sim_size_str(g->buffers[b], buf, sizeof(buf));
		pk_strbuf_printf(out, " %10s", buf);
	}
	pk_strbuf_printf(out, "\n");
	for (size_t s = 0; s < g->nslow; s++) {
		pk_strbuf_printf(out, "%-9.4g", g->slowdowns[s]);
		for (size_t b = 0; b < g->nbuf; b++) {
			const struct pk_sim_cell *c = &g->cells[s * g->nbuf + b];

			pk_strbuf_printf(out, " %10s", secs(c->res.window_s, buf, sizeof(buf)));
		}
		pk_strbuf_printf(out, "\n");
	}
}

/* Adds a number of seconds, or null for none. */
static void add_secs(cJSON *o, const char *key, double s)
{
	if (isinf(s))
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, s);
}

static cJSON *cell_json(const struct pk_sim_grid *g, const struct pk_sim_cell *c)
{
	const struct pk_window_sim_params *p = &c->params;
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	add_secs(o, "window_s", c->res.window_s);
	cJSON_AddStringToObject(o, "arrival", pk_window_arrival_name(p->arrival));
	if (g->trace_file) {
		cJSON_AddStringToObject(o, "trace", g->trace_file);
		cJSON_AddNumberToObject(o, "trace_requests", (double)p->trace->n);
		cJSON_AddNumberToObject(o, "trace_connections", (double)p->trace->conns);
		cJSON_AddNumberToObject(o, "trace_measured", (double)p->trace->measured);
	}
	cJSON_AddNumberToObject(o, "rate", c->pred.lambda);
	cJSON_AddNumberToObject(o, "request_size", c->pred.bytes);
	cJSON_AddStringToObject(o, "service", pk_window_service_name(p->service));
	cJSON_AddNumberToObject(o, "service_rate", c->pred.mu * p->slowdown);
	cJSON_AddNumberToObject(o, "slowdown", p->slowdown);
	cJSON_AddNumberToObject(o, "buffer", (double)p->buffer_bytes);
	cJSON_AddNumberToObject(o, "buffer_requests", (double)c->pred.k);
	cJSON_AddNumberToObject(o, "duration_s", p->duration_s);
	cJSON_AddNumberToObject(o, "seed", (double)p->seed);
	cJSON_AddNumberToObject(o, "utilisation", c->pred.utilisation);
	add_secs(o, "fluid_s", c->pred.fluid_s);
	add_secs(o, "mm1k_s", c->pred.mm1k_s);
	cJSON_AddNumberToObject(o, "arrivals", (double)c->res.arrivals);
	cJSON_AddNumberToObject(o, "served", (double)c->res.served);
	cJSON_AddNumberToObject(o, "max_occupancy", (double)c->res.max_bytes);
	cJSON_AddNumberToObject(o, "max_in_system", (double)c->res.max_in_system);
	return o;
}

int pk_sim_render_json(const struct pk_sim_grid *g, struct pk_strbuf *out)
{
	size_t n = g->nslow * g->nbuf;
	cJSON *root = n == 1 ? cell_json(g, &g->cells[0]) : cJSON_CreateArray();
	bool ok = root != NULL;
	int rc;

	for (size_t i = 0; ok && n > 1 && i < n; i++) {
		cJSON *o = cell_json(g, &g->cells[i]);

		ok = o && cJSON_AddItemToArray(root, o);
	}
	rc = pk_json_print(ok ? root : NULL, out);
	cJSON_Delete(root);
	return rc;
}

int pk_sim_render_svg(const struct pk_sim_grid *g, struct pk_strbuf *out)
{
	struct pk_window_plot_line *lines = calloc(g->nbuf, sizeof(*lines));
	double *y = calloc(g->nslow * g->nbuf, sizeof(*y));
	char(*labels)[40] = calloc(g->nbuf, sizeof(*labels));
	const struct pk_window_sim_params *p = &g->cells[0].params;
	char title[SIM_TITLE_MAX];
	int err = -ENOMEM;

	if (!lines || !y || !labels)
		goto out;
	for (size_t b = 0; b < g->nbuf; b++) {
		pk_sim_size_str(g->buffers[b], labels[b], 32);
		snprintf(labels[b] + strlen(labels[b]), 8, " buffer");
		lines[b] =
			(struct pk_window_plot_line){ .label = labels[b], .y = y + b * g->nslow };
		for (size_t s = 0; s < g->nslow; s++)
			y[b * g->nslow + s] = g->cells[s * g->nbuf + b].res.window_s;
	}
	if (g->trace_file)
		snprintf(title, sizeof(title),
			 "Debug window: trace %s, service %s, %.4g s simulated", g->trace_file,
			 pk_window_service_name(p->service), p->duration_s);
	else
		snprintf(title, sizeof(title),
			 "Debug window: %s arrivals %.4g req/s x %llu B, %s service %.4g req/s, "
			 "%.4g s simulated",
			 pk_window_arrival_name(p->arrival), p->rate,
			 (unsigned long long)p->request_bytes, pk_window_service_name(p->service),
			 p->service_rate, p->duration_s);
	err = pk_window_plot_svg(&(struct pk_window_plot){ .title = title,
							   .x_label = "slowdown of the clone (x)",
							   .x = g->slowdowns,
							   .nx = g->nslow,
							   .lines = lines,
							   .nlines = g->nbuf },
				 out);
out:
	free(lines);
	free(y);
	free(labels);
	return err;
}
