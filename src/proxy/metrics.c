/* metrics.c — the proxy's Prometheus exposition (GET /metrics on the admin address). */
#include "proxy/proxy_int.h"

#include <stddef.h>
#include <string.h>

#include "common/clock.h"
#include "common/prom.h"

/* One target's numbers summed (or maxed) over the workers. */
struct target_sum {
	uint64_t conns, sent, dropped, resp, buffered, high_water, spilled, overflows, desyncs,
		connect_failures, rejoins, lag_bytes, oldest_ns, cmp_bytes, unpaired, grace_expired,
		verdicts[3], paired[PK_PAIR_RULES];
};

static void target_sum(const struct pk_proxy *p, int i, struct target_sum *t)
{
	memset(t, 0, sizeof(*t));
	for (int k = 0; k < p->nworkers; k++) {
		struct target_stats *ts = &p->workers[k].targets[i];
		uint64_t hw = PK_STAT_GET(ts->high_water), lag = PK_STAT_GET(ts->pub_lag_bytes);
		uint64_t oldest = PK_STAT_GET(ts->pub_oldest_ns);

		t->conns += PK_STAT_GET(ts->conns_active);
		t->sent += PK_STAT_GET(ts->bytes_sent);
		t->dropped += PK_STAT_GET(ts->bytes_dropped);
		t->resp += PK_STAT_GET(ts->resp_bytes);
		t->buffered += PK_STAT_GET(ts->buffered);
		t->spilled += PK_STAT_GET(ts->pub_spilled);
		t->overflows += PK_STAT_GET(ts->overflows);
		t->desyncs += PK_STAT_GET(ts->desyncs);
		t->connect_failures += PK_STAT_GET(ts->connect_failures);
		t->rejoins += PK_STAT_GET(ts->rejoins);
		t->cmp_bytes += PK_STAT_GET(ts->cmp_bytes);
		t->unpaired += PK_STAT_GET(ts->unpaired);
		t->grace_expired += PK_STAT_GET(ts->grace_expired);
		for (int v = 0; v < 3; v++)
			t->verdicts[v] += PK_STAT_GET(ts->cmp_verdicts[v]);
		for (int r = 0; r < PK_PAIR_RULES; r++)
			t->paired[r] += PK_STAT_GET(ts->paired[r]);
		if (hw > t->high_water)
			t->high_water = hw;
		if (lag > t->lag_bytes)
			t->lag_bytes = lag;
		if (oldest && (!t->oldest_ns || oldest < t->oldest_ns))
			t->oldest_ns = oldest;
	}
}

struct target_metric {
	const char *name;
	const char *type;
	const char *help;
};

static const struct target_metric target_metrics[] = {
	{ "parikshan_debug_connections_active", "gauge", "Debug connections open now." },
	{ "parikshan_debug_bytes_sent_total", "counter", "Bytes written to the debug target." },
	{ "parikshan_debug_bytes_dropped_total", "counter",
	  "Client bytes the debug target never got because its connection desynced." },
	{ "parikshan_debug_response_bytes_total", "counter",
	  "Bytes the debug target answered (read and discarded)." },
	{ "parikshan_debug_buffer_bytes", "gauge", "Bytes waiting in the target's buffers." },
	{ "parikshan_debug_buffer_high_water_bytes", "gauge",
	  "Largest single-connection buffer occupancy seen." },
	{ "parikshan_debug_spill_bytes", "gauge", "Bytes waiting in spill files." },
	{ "parikshan_debug_overflows_total", "counter", "Appends that did not fit the buffer." },
	{ "parikshan_debug_desyncs_total", "counter", "Debug connections that fell out of sync." },
	{ "parikshan_debug_connect_failures_total", "counter", "Debug connects that failed." },
	{ "parikshan_debug_rejoins_total", "counter",
	  "Out-of-sync connections re-attached at a request boundary (--resync)." },
	{ "parikshan_debug_lag_bytes", "gauge",
	  "Bytes appended but not yet written (max over connections)." },
	{ "parikshan_debug_lag_seconds", "gauge", "Age of the oldest byte not yet written." },
	{ "parikshan_debug_unpaired_total", "counter",
	  "agg: production connections whose responses no clone connection took." },
	{ "parikshan_debug_close_grace_expired_total", "counter",
	  "Client closes passed on to the clone when --close-grace ran out, before the clone had "
	  "sent as much as production." },
	{ "parikshan_compare_bytes_total", "counter",
	  "--compare: bytes of the clone's output found equal to production's." },
};

#define N_TARGET_METRICS (sizeof(target_metrics) / sizeof(target_metrics[0]))

static double target_value(unsigned m, const struct target_sum *t, uint64_t now)
{
	const double v[N_TARGET_METRICS] = {
		(double)t->conns,
		(double)t->sent,
		(double)t->dropped,
		(double)t->resp,
		(double)t->buffered,
		(double)t->high_water,
		(double)t->spilled,
		(double)t->overflows,
		(double)t->desyncs,
		(double)t->connect_failures,
		(double)t->rejoins,
		(double)t->lag_bytes,
		t->oldest_ns && now > t->oldest_ns ? (double)(now - t->oldest_ns) / 1e9 : 0.0,
		(double)t->unpaired,
		(double)t->grace_expired,
		(double)t->cmp_bytes,
	};
	return v[m];
}

/* Sums one production-side counter (at byte offset off in struct pk_worker) over the workers. */
static double sum_workers(struct pk_proxy *p, size_t off)
{
	uint64_t sum = 0;

	for (int k = 0; k < p->nworkers; k++)
		sum += PK_STAT_GET(*(uint64_t *)((char *)&p->workers[k] + off));
	return (double)sum;
}

#define SUM_WORKERS(p, field) sum_workers((p), offsetof(struct pk_worker, field))

/* The comparison verdicts of ended connections, one sample per target and verdict. */
static void compare_metrics(struct pk_proxy *p, const struct target_sum *t, struct pk_strbuf *out)
{
	static const char name[] = "parikshan_compare_connections_total";

	pk_prom_family(out, name, "counter",
		       "--compare: ended debug connections by verdict (same, different, unknown).");
	for (int i = 0; i < p->cfg.ntargets; i++)
		for (int v = 0; v < 3; v++)
			pk_strbuf_printf(out, "%s{target=\"%s\",verdict=\"%s\"} %llu\n", name,
					 p->target_names[i], pk_scmp_verdict_name(v),
					 (unsigned long long)t[i].verdicts[v]);
}

/* agg: the clone connections paired, one sample per rule. */
static void pairing_metrics(struct pk_proxy *p, const struct target_sum *t, struct pk_strbuf *out)
{
	static const char name[] = "parikshan_debug_paired_total";

	pk_prom_family(
		out, name, "counter",
		"agg: clone connections paired with a production connection, by rule (content: "
		"the same first request; order: the oldest waiting).");
	for (int r = 0; r < PK_PAIR_RULES; r++)
		pk_strbuf_printf(out, "%s{target=\"%s\",rule=\"%s\"} %llu\n", name,
				 p->target_names[0], pk_pair_rule_name(r),
				 (unsigned long long)t[0].paired[r]);
}

/* The recorder's counters (--record). */
static void record_metrics(struct pk_rec *rec, struct pk_strbuf *out)
{
	struct pk_rec_stats st;

	pk_rec_get_stats(rec, &st);
	pk_prom_family(out, "parikshan_record_packets_total", "counter",
		       "Packets written to pcap.");
	pk_prom_sample(out, "parikshan_record_packets_total", NULL, NULL, (double)st.packets);
	pk_prom_family(out, "parikshan_record_bytes_total", "counter",
		       "Stream bytes written to pcap.");
	pk_prom_sample(out, "parikshan_record_bytes_total", NULL, NULL, (double)st.bytes);
	pk_prom_family(out, "parikshan_record_dropped_bytes_total", "counter",
		       "Stream bytes not recorded (queue full or file failed).");
	pk_prom_sample(out, "parikshan_record_dropped_bytes_total", NULL, NULL,
		       (double)st.dropped_bytes);
	pk_prom_family(out, "parikshan_record_files", "gauge", "pcap files opened so far.");
	pk_prom_sample(out, "parikshan_record_files", NULL, NULL, (double)st.files);
	pk_prom_family(out, "parikshan_record_failed", "gauge",
		       "1 when writing failed and recording stopped.");
	pk_prom_sample(out, "parikshan_record_failed", NULL, NULL, st.failed ? 1 : 0);
}

void pk_proxy_metrics(struct pk_proxy *p, struct pk_strbuf *out)
{
	struct target_sum t[PK_PROXY_MAX_TARGETS];
	uint64_t now = pk_now_ns();

	pk_prom_family(out, "parikshan_info", "gauge", "Proxy role and production address.");
	pk_strbuf_printf(
		out, "parikshan_info{role=\"%s\",production=\"%s\",mode=\"%s\",workers=\"%d\"} 1\n",
		p->cfg.role, p->prod_name, p->cfg.mode == PK_PROXY_SYNC ? "sync" : "async",
		p->nworkers);
	pk_prom_family(out, "parikshan_connections_accepted_total", "counter",
		       "Client connections accepted.");
	pk_prom_sample(out, "parikshan_connections_accepted_total", NULL, NULL,
		       SUM_WORKERS(p, conns_accepted));
	pk_prom_family(out, "parikshan_connections_active", "gauge",
		       "Client connections open now.");
	pk_prom_sample(out, "parikshan_connections_active", NULL, NULL,
		       SUM_WORKERS(p, conns_active));
	pk_prom_family(out, "parikshan_prod_connect_failures_total", "counter",
		       "Production connects that failed (client closed).");
	pk_prom_sample(out, "parikshan_prod_connect_failures_total", NULL, NULL,
		       SUM_WORKERS(p, prod_connect_failures));
	pk_prom_family(out, "parikshan_bytes_total", "counter",
		       "Bytes forwarded on the production path.");
	pk_prom_sample(out, "parikshan_bytes_total", "direction", "client_to_prod",
		       SUM_WORKERS(p, bytes_c2p));
	pk_prom_sample(out, "parikshan_bytes_total", "direction", "prod_to_client",
		       SUM_WORKERS(p, bytes_p2c));
	pk_prom_family(out, "parikshan_open_files_limit", "gauge",
		       "RLIMIT_NOFILE the capacity was computed from.");
	pk_prom_sample(out, "parikshan_open_files_limit", NULL, NULL, (double)p->cap.nofile);
	pk_prom_family(out, "parikshan_connections_capacity", "gauge",
		       "Client connections the open-files limit leaves room for.");
	pk_prom_sample(out, "parikshan_connections_capacity", NULL, NULL, (double)p->cap.conns);
	pk_prom_family(out, "parikshan_connections_in_use", "gauge",
		       "Capacity in use: open client connections, and finished ones whose clone "
		       "connections still deliver.");
	pk_prom_sample(out, "parikshan_connections_in_use", NULL, NULL, (double)pk_cap_in_use(p));
	pk_prom_family(
		out, "parikshan_accept_paused_total", "counter",
		"Times accepting paused at capacity (clients waited in the listen backlog).");
	pk_prom_sample(out, "parikshan_accept_paused_total", NULL, NULL,
		       SUM_WORKERS(p, accept_pauses));
	for (int i = 0; i < p->cfg.ntargets; i++)
		target_sum(p, i, &t[i]);
	for (unsigned m = 0; m < N_TARGET_METRICS; m++) {
		if (p->cfg.ntargets == 0)
			break;
		pk_prom_family(out, target_metrics[m].name, target_metrics[m].type,
			       target_metrics[m].help);
		for (int i = 0; i < p->cfg.ntargets; i++)
			pk_prom_sample(out, target_metrics[m].name, "target", p->target_names[i],
				       target_value(m, &t[i], now));
	}
	if (p->cfg.compare)
		compare_metrics(p, t, out);
	if (p->cfg.agg && p->cfg.ntargets > 0)
		pairing_metrics(p, t, out);
	if (p->rec)
		record_metrics(p->rec, out);
}
