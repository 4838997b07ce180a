/* status_view.c — what `parikshan status` shows of a proxy's status document (GET
 * /status.json): a table, or the document again with --json.  Reading and writing the document
 * are the core's (pk_proxy_status_parse, pk_proxy_status_write); the columns are the rows of
 * target_metrics.def that have a header. */
#include "cli/status_view.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "proxy/proxy.h"

/* Formats a byte count with a binary unit ("1.5M"). */
static const char *human_bytes(double v, char *buf, size_t len)
{
	static const char units[] = "BKMGT";
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

/* The summary lines above the table. */
static void render_summary(const struct pk_proxy_status *st, struct pk_strbuf *out)
{
	char a[32], b[32];

	pk_strbuf_printf(out, "%s  production %s  mode %s\n", st->role, st->production, st->mode);
	pk_strbuf_printf(out,
			 "connections accepted %.0f, active %.0f, production connect failures "
			 "%.0f\n",
			 st->accepted, st->active, st->prod_connect_failures);
	pk_strbuf_printf(out,
			 "capacity %.0f connections (open-files limit %.0f), in use %.0f, "
			 "accept paused %.0f times\n",
			 st->capacity, st->open_files_limit, st->in_use, st->accept_paused);
	pk_strbuf_printf(out, "bytes client->production %s, production->client %s\n",
			 human_bytes(st->client_to_prod, a, sizeof(a)),
			 human_bytes(st->prod_to_client, b, sizeof(b)));
	if (st->recording)
		pk_strbuf_printf(out, "recording %.0f packets, %s, dropped %s, %.0f file(s)%s\n",
				 st->rec_packets, human_bytes(st->rec_bytes, a, sizeof(a)),
				 human_bytes(st->rec_dropped_bytes, b, sizeof(b)), st->rec_files,
				 st->rec_failed > 0 ? ", FAILED (stopped)" : "");
}

/* One cell: value v of a row formatted as the row says. */
static void render_cell(const struct pk_target_metric *tm, double v, struct pk_strbuf *out)
{
	char a[32];

	switch (tm->fmt) {
	case PK_TM_AS_BYTES:
		pk_strbuf_printf(out, " %10s", human_bytes(v, a, sizeof(a)));
		break;
	case PK_TM_AS_SECONDS:
		if (isinf(v))
			pk_strbuf_printf(out, " %9s\u221e", ""); /* "∞": one column, three bytes */
		else
			pk_strbuf_printf(out, " %10.3f", v);
		break;
	default:
		pk_strbuf_printf(out, " %10.0f", v);
		break;
	}
}

static void render_table(const struct pk_proxy_status *st, struct pk_strbuf *out)
{
	const struct pk_target_metric *tm = pk_proxy_target_metrics;

	render_summary(st, out);
	if (st->ntargets == 0) {
		pk_strbuf_printf(out, "no debug targets\n");
		return;
	}
	pk_strbuf_printf(out, "\n%-22s", "TARGET");
	for (unsigned m = 0; m < PK_TM_NUM; m++)
		if (tm[m].header)
			pk_strbuf_printf(out, " %10s", tm[m].header);
	pk_strbuf_printf(out, "  STATE\n");
	for (int i = 0; i < st->ntargets; i++) {
		const struct pk_proxy_status_target *t = &st->targets[i];

		pk_strbuf_printf(out, "%-22s", t->name);
		for (unsigned m = 0; m < PK_TM_NUM; m++)
			if (tm[m].header)
				render_cell(&tm[m], t->v[m], out);
		pk_strbuf_printf(out, "  %s\n", pk_proxy_target_state(t->v));
	}
}

int pk_status_render(const char *doc, bool json, struct pk_strbuf *out)
{
	struct pk_proxy_status st;

	if (pk_proxy_status_parse(doc, &st) < 0)
		return -EINVAL;
	if (json)
		return pk_proxy_status_write(&st, out);
	render_table(&st, out);
	return 0;
}
