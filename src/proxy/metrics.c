/* metrics.c — the proxy's Prometheus exposition (GET /metrics on the admin address). */
#include "proxy/proxy_int.h"

#include "common/clock.h"
#include "common/prom.h"

/* Per-target gauges that are derived from the live connections. */
struct target_gauges {
	uint64_t buffered, spilled, lag_bytes, lag_ns;
};

static struct target_gauges target_gauges(struct target_stats *ts, uint64_t now)
{
	struct target_gauges g = {0};
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &ts->conns) {
		struct dconn *d = pk_container_of(pos, struct dconn, target_link);
		uint64_t used = pk_sbuf_used(&d->buf), lag = pk_dconn_lag_ns(d, now);

		g.buffered += used;
		g.spilled += pk_sbuf_spilled(&d->buf);
		if (used > g.lag_bytes)
			g.lag_bytes = used;
		if (lag > g.lag_ns)
			g.lag_ns = lag;
	}
	return g;
}

struct target_metric {
	const char *name;
	const char *type;
	const char *help;
};

static const struct target_metric target_metrics[] = {
	{"parikshan_debug_connections_active", "gauge", "Debug connections open now."},
	{"parikshan_debug_bytes_sent_total", "counter", "Bytes written to the debug target."},
	{"parikshan_debug_bytes_dropped_total", "counter",
	 "Client bytes the debug target never got because its connection desynced."},
	{"parikshan_debug_response_bytes_total", "counter",
	 "Bytes the debug target answered (read and discarded)."},
	{"parikshan_debug_buffer_bytes", "gauge", "Bytes waiting in the target's buffers."},
	{"parikshan_debug_buffer_high_water_bytes", "gauge",
	 "Largest single-connection buffer occupancy seen."},
	{"parikshan_debug_spill_bytes", "gauge", "Bytes waiting in spill files."},
	{"parikshan_debug_overflows_total", "counter", "Appends that did not fit the buffer."},
	{"parikshan_debug_desyncs_total", "counter", "Debug connections that fell out of sync."},
	{"parikshan_debug_connect_failures_total", "counter", "Debug connects that failed."},
	{"parikshan_debug_lag_bytes", "gauge",
	 "Bytes appended but not yet written (max over connections)."},
	{"parikshan_debug_lag_seconds", "gauge", "Age of the oldest byte not yet written."},
};

#define N_TARGET_METRICS (sizeof(target_metrics) / sizeof(target_metrics[0]))

static double target_value(unsigned m, const struct target_stats *ts,
			   const struct target_gauges *g)
{
	const double v[N_TARGET_METRICS] = {
		(double)ts->conns_active, (double)ts->bytes_sent,     (double)ts->bytes_dropped,
		(double)ts->resp_bytes,	  (double)g->buffered,	      (double)ts->high_water,
		(double)g->spilled,	  (double)ts->overflows,      (double)ts->desyncs,
		(double)ts->connect_failures, (double)g->lag_bytes,   (double)g->lag_ns / 1e9,
	};
	return v[m];
}

void pk_proxy_metrics(struct pk_proxy *p, struct pk_strbuf *out)
{
	struct target_gauges g[PK_PROXY_MAX_TARGETS];
	uint64_t now = pk_now_ns();

	pk_prom_family(out, "parikshan_info", "gauge", "Proxy role and production address.");
	pk_strbuf_printf(out, "parikshan_info{role=\"%s\",production=\"%s\",mode=\"%s\"} 1\n",
			 p->cfg.role, p->prod_name,
			 p->cfg.mode == PK_PROXY_SYNC ? "sync" : "async");
	pk_prom_family(out, "parikshan_connections_accepted_total", "counter",
		       "Client connections accepted.");
	pk_prom_sample(out, "parikshan_connections_accepted_total", NULL, NULL,
		       (double)p->conns_accepted);
	pk_prom_family(out, "parikshan_connections_active", "gauge", "Client connections open now.");
	pk_prom_sample(out, "parikshan_connections_active", NULL, NULL, (double)p->conns_active);
	pk_prom_family(out, "parikshan_prod_connect_failures_total", "counter",
		       "Production connects that failed (client closed).");
	pk_prom_sample(out, "parikshan_prod_connect_failures_total", NULL, NULL,
		       (double)p->prod_connect_failures);
	pk_prom_family(out, "parikshan_bytes_total", "counter",
		       "Bytes forwarded on the production path.");
	pk_prom_sample(out, "parikshan_bytes_total", "direction", "client_to_prod",
		       (double)p->bytes_c2p);
	pk_prom_sample(out, "parikshan_bytes_total", "direction", "prod_to_client",
		       (double)p->bytes_p2c);
	for (int i = 0; i < p->cfg.ntargets; i++)
		g[i] = target_gauges(&p->targets[i], now);
	for (unsigned m = 0; m < N_TARGET_METRICS; m++) {
		if (p->cfg.ntargets == 0)
			break;
		pk_prom_family(out, target_metrics[m].name, target_metrics[m].type,
			       target_metrics[m].help);
		for (int i = 0; i < p->cfg.ntargets; i++)
			pk_prom_sample(out, target_metrics[m].name, "target", p->targets[i].name,
				       target_value(m, &p->targets[i], &g[i]));
	}
}
