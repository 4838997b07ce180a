/* plot.c — `sim --svg`: the debug window against the slowdown as a self-contained SVG.
 *
 * One line per buffer size; y on a log scale (whole decades, grid at each); a point with no
 * overflow is drawn on a dashed band along the top edge labelled "no overflow", so a line that
 * leaves the band shows where the buffer starts to overflow.  Plain SVG 1.1 text, no script,
 * no external font or style: any browser or image viewer shows it.
 *
 *   +------------------------------------------------+
 *   | title                                          |
 *   |  no overflow - - o - - o                       |  legend
 *   |  1000 |               \                        |  -o- 4 KiB
 *   |    10 |                o----o                  |  -o- 16 KiB
 *   |       +-----------------------  slowdown        |
 *   +------------------------------------------------+
 */
#include <errno.h>
#include <math.h>

#include "window/window.h"

#define W 760.0
#define H 460.0
#define LEFT 100.0
#define RIGHT 180.0 /* the legend's room */
#define TOP 60.0
#define BOTTOM 60.0
#define BAND 40.0 /* height of the "no overflow" band above the log axis */

static const char *const colours[] = { "#0072b2", "#d55e00", "#009e73", "#cc79a7",
				       "#e69f00", "#56b4e9", "#000000", "#999999" };

/* The axes' mapping from data to the page. */
struct frame {
	double x0, x1;	 /* data range of x */
	double lo, hi;	 /* decades of y: 10^lo .. 10^hi */
	double px0, px1; /* page x of x0, x1 */
	double py0, py1; /* page y of 10^lo (bottom), 10^hi (top of the log axis) */
	double band;	 /* page y of "no overflow" */
};

static double page_x(const struct frame *f, double x)
{
	return f->px0 + (x - f->x0) / (f->x1 - f->x0) * (f->px1 - f->px0);
}

static double page_y(const struct frame *f, double y)
{
	if (isinf(y))
		return f->band;
	return f->py0 + (log10(y) - f->lo) / (f->hi - f->lo) * (f->py1 - f->py0);
}

/* A step of 1, 2 or 5 times a power of ten giving about five ticks over span. */
static double nice_step(double span)
{
	double raw = span / 5, p = pow(10, floor(log10(raw))), m = raw / p;

	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static int set_frame(const struct pk_window_plot *p, struct frame *f)
{
	double ymin = INFINITY, ymax = 0;

	if (p->nx == 0 || p->nlines == 0)
		return -EINVAL;
	for (size_t l = 0; l < p->nlines; l++)
		for (size_t i = 0; i < p->nx; i++) {
			double y = p->lines[l].y[i];

			if (!(y > 0) || isnan(y))
				return -EINVAL;
			if (isinf(y))
				continue;
			ymin = fmin(ymin, y);
			ymax = fmax(ymax, y);
		}
	for (size_t i = 0; i < p->nx; i++)
		if (!isfinite(p->x[i]) || (i && p->x[i] <= p->x[i - 1]))
			return -EINVAL;
	f->x0 = p->x[0];
	f->x1 = p->x[p->nx - 1];
	if (f->x1 == f->x0) {
		f->x0 -= 0.5;
		f->x1 += 0.5;
	}
	f->lo = isinf(ymin) ? 0 : floor(log10(ymin));
	f->hi = isinf(ymin) ? 1 : ceil(log10(ymax));
	if (f->hi <= f->lo)
		f->hi = f->lo + 1;
	f->px0 = LEFT;
	f->px1 = W - RIGHT;
	f->py0 = H - BOTTOM;
	f->py1 = TOP + BAND;
	f->band = TOP + 10;
	return 0;
}

/* A decade's label: "0.01" .. "100000", else "1e-5", "1e6". */
static void put_decade(struct pk_strbuf *out, int d)
{
	if (d >= -3 && d <= 5)
		pk_strbuf_printf(out, "%g", pow(10, d));
	else
		pk_strbuf_printf(out, "1e%d", d);
}

static void axes(const struct pk_window_plot *p, const struct frame *f, struct pk_strbuf *out)
{
	double step = nice_step(f->x1 - f->x0);

	pk_strbuf_printf(out, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
	for (int d = (int)f->lo; d <= (int)f->hi; d++)
		pk_strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
				 f->px0, page_y(f, pow(10, d)), f->px1, page_y(f, pow(10, d)));
	pk_strbuf_printf(out, "</g>\n<g font-size=\"12\" text-anchor=\"end\">\n");
	for (int d = (int)f->lo; d <= (int)f->hi; d++) {
		pk_strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\">", f->px0 - 6,
				 page_y(f, pow(10, d)) + 4);
		put_decade(out, d);
		pk_strbuf_printf(out, "</text>\n");
	}
	pk_strbuf_printf(out,
			 "<text x=\"%.1f\" y=\"%.1f\" font-style=\"italic\">no overflow</text>\n"
			 "</g>\n",
			 f->px0 - 6, f->band + 4);
	pk_strbuf_printf(out,
			 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999999\" "
			 "stroke-dasharray=\"4 4\"/>\n",
			 f->px0, f->band, f->px1, f->band);
	pk_strbuf_printf(out, "<g font-size=\"12\" text-anchor=\"middle\">\n");
	for (double x = ceil(f->x0 / step) * step; x <= f->x1 + step * 1e-9; x += step)
		pk_strbuf_printf(out,
				 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				 "stroke=\"#000000\"/><text x=\"%.1f\" y=\"%.1f\">%g</text>\n",
				 page_x(f, x), f->py0, page_x(f, x), f->py0 + 5, page_x(f, x),
				 f->py0 + 19, x);
	pk_strbuf_printf(out, "</g>\n");
	pk_strbuf_printf(out,
			 "<path d=\"M%.1f %.1f V%.1f H%.1f\" fill=\"none\" stroke=\"#000000\"/>\n",
			 f->px0, f->band - 10, f->py0, f->px1);
	pk_strbuf_printf(out,
			 "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\">",
			 (f->px0 + f->px1) / 2, H - 18);
	pk_strbuf_xml(out, p->x_label);
	pk_strbuf_printf(
		out,
		"</text>\n<text transform=\"translate(%.1f %.1f) rotate(-90)\" "
		"font-size=\"13\" text-anchor=\"middle\">debug window (s, log scale)</text>\n",
		22.0, (f->py0 + f->band) / 2);
}

static void lines(const struct pk_window_plot *p, const struct frame *f, struct pk_strbuf *out)
{
	for (size_t l = 0; l < p->nlines; l++) {
		const char *c = colours[l % (sizeof(colours) / sizeof(colours[0]))];
		double ly = TOP + BAND + 20 * (double)l;

		pk_strbuf_printf(out,
				 "<g stroke=\"%s\" fill=\"%s\">\n<polyline fill=\"none\" "
				 "stroke-width=\"2\" points=\"",
				 c, c);
		for (size_t i = 0; i < p->nx; i++)
			pk_strbuf_printf(out, "%s%.1f,%.1f", i ? " " : "", page_x(f, p->x[i]),
					 page_y(f, p->lines[l].y[i]));
		pk_strbuf_printf(out, "\"/>\n");
		for (size_t i = 0; i < p->nx; i++)
			pk_strbuf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"%s/>\n",
					 page_x(f, p->x[i]), page_y(f, p->lines[l].y[i]),
					 isinf(p->lines[l].y[i]) ? " fill=\"#ffffff\"" : "");
		pk_strbuf_printf(out,
				 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				 "stroke-width=\"2\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"/>\n"
				 "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" stroke=\"none\" "
				 "fill=\"#000000\">",
				 W - RIGHT + 20, ly, W - RIGHT + 44, ly, W - RIGHT + 32, ly,
				 W - RIGHT + 50, ly + 4);
		pk_strbuf_xml(out, p->lines[l].label);
		pk_strbuf_printf(out, "</text>\n</g>\n");
	}
}

int pk_window_plot_svg(const struct pk_window_plot *p, struct pk_strbuf *out)
{
	struct frame f;
	int err;

	if ((err = set_frame(p, &f)))
		return err;
	pk_strbuf_printf(out,
			 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
			 "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
			 "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
			 "<text x=\"%.1f\" y=\"28\" font-size=\"15\" text-anchor=\"middle\">",
			 W, H, W, H, W / 2);
	pk_strbuf_xml(out, p->title);
	pk_strbuf_printf(out, "</text>\n");
	axes(p, &f, out);
	lines(p, &f, out);
	pk_strbuf_printf(out, "</svg>\n");
	return pk_strbuf_ok(out) ? 0 : -ENOMEM;
}
