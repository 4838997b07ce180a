/* sim_view.h — what `parikshan sim` shows of its runs: one run's report, the grid's table, the
 * JSON of either, and the grid's plot. */
#ifndef PK_CLI_SIM_VIEW_H
#define PK_CLI_SIM_VIEW_H

#include <stdbool.h>

#include "common/strbuf.h"
#include "window/window.h"

/* One simulated point of the grid: its parameters, the models' view of them, its run. */
struct pk_sim_cell {
	struct pk_window_sim_params params;
	struct pk_window_prediction pred;
	struct pk_window_sim_result res;
};

/* Every run of one `sim`: slowdowns × buffers. */
struct pk_sim_grid {
	const char *trace_file; /* the trace's name, or NULL */
	const double *slowdowns;
	size_t nslow;
	const uint64_t *buffers;
	size_t nbuf;
	const struct pk_sim_cell *cells; /* cells[s * nbuf + b] */
};

/* A 1×1 grid: the report of one run (parameters, window, predictions, counts); else the table
 * of windows (rows slowdowns, columns buffers) under a line of the parameters. */
void pk_sim_render_text(const struct pk_sim_grid *g, struct pk_strbuf *out);

/* A 1×1 grid: one JSON object (window_s null when no overflow); else an array of them, row by
 * row.  -ENOMEM. */
int pk_sim_render_json(const struct pk_sim_grid *g, struct pk_strbuf *out)
	__attribute__((warn_unused_result));

/* The plot of the grid (pk_window_plot_svg: window against slowdown, a line per buffer). */
int pk_sim_render_svg(const struct pk_sim_grid *g, struct pk_strbuf *out)
	__attribute__((warn_unused_result));

/* Writes a size as the shortest exact form: "4K", "16K", "1M", else bytes ("5000"). */
void pk_sim_size_str(uint64_t bytes, char *buf, size_t len);

#endif
