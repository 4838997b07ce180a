/* metrics.c — what the proxy reports: a snapshot of its counters (summed over the workers) and
 * its Prometheus exposition (GET /metrics on the admin address).  Every per-target value is a
 * row of target_metrics.def, which names it, says where it comes from and how to show it, for
 * /metrics, /status.json and `status` alike; every proxy-wide value a row of
 * summary_metrics.def. */
#include "proxy/proxy_int.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/prom.h"

const struct pk_target_metric pk_proxy_target_metrics[PK_TM_NUM] = {
#define PK_TARGET_METRIC(id, name, type, help, label, value, field, how, shown, key, header, fmt)  \
	[PK_TM_##id] = { name, type, help, label, value, key, header, PK_TM_AS_##fmt },
#include "proxy/target_metrics.def"
#undef PK_TARGET_METRIC
};

/* How the workers' counters of a row combine (HOW). */
enum how {
	HOW_SUM,
	HOW_MAX,
	HOW_MIN, /* UINT64_MAX: none (+Inf) */
};

/* When /metrics has a row's family (SHOWN). */
enum shown {
	SHOWN_TARGETS,
	SHOWN_COMPARE, /* the family header even without a target, as it always was */
	SHOWN_AGG,
};

/* Where each row comes from: the core's columns of target_metrics.def. */
static const struct source {
	size_t off; /* of the uint64_t counter in struct target_stats */
	enum how how;
	enum shown shown;
} sources[PK_TM_NUM] = {
#define PK_TARGET_METRIC(id, name, type, help, label, value, field, how, shown, key, header, fmt)  \
	[PK_TM_##id] = { offsetof(struct target_stats, field), HOW_##how, SHOWN_##shown },
#include "proxy/target_metrics.def"
#undef PK_TARGET_METRIC
};

const char *pk_proxy_target_state(const double v[PK_TM_NUM])
{
	if (v[PK_TM_DESYNCS] > 0)
		return "desynced";
	if (v[PK_TM_DIVERGED] > 0 || v[PK_TM_RQ_DIFFERENT] > 0)
		return "diverged";
	if (v[PK_TM_LAG_SECONDS] > 1.0)
		return "lagging";
	return "in-sync";
}

/* Row m of target i, combined over p's workers. */
static double target_value(const struct pk_proxy *p, int i, unsigned m)
{
	const struct source *src = &sources[m];
	uint64_t acc = src->how == HOW_MIN ? UINT64_MAX : 0;

	for (int k = 0; k < p->nworkers; k++) {
		const char *ts = (const char *)&p->workers[k].targets[i];
		uint64_t x = PK_STAT_GET(*(const uint64_t *)(ts + src->off));

		switch (src->how) {
		case HOW_SUM:
			acc += x;
			break;
		case HOW_MAX:
			acc = x > acc ? x : acc;
			break;
		case HOW_MIN:
			acc = x < acc ? x : acc;
			break;
		}
	}
	if (src->how == HOW_MIN && acc == UINT64_MAX)
		return INFINITY;
	if (pk_proxy_target_metrics[m].fmt == PK_TM_AS_SECONDS)
		return (double)acc / 1e9;
	return (double)acc;
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

void pk_proxy_status_get(struct pk_proxy *p, struct pk_proxy_status *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->role, sizeof(st->role), "%s", p->cfg.role);
	snprintf(st->production, sizeof(st->production), "%s", p->prod_name);
	snprintf(st->mode, sizeof(st->mode), "%s", p->cfg.mode == PK_PROXY_SYNC ? "sync" : "async");
	st->accepted = SUM_WORKERS(p, conns_accepted);
	st->active = SUM_WORKERS(p, conns_active);
	st->prod_connect_failures = SUM_WORKERS(p, prod_connect_failures);
	st->capacity = (double)p->cap.conns;
	st->open_files_limit = (double)p->cap.nofile;
	st->in_use = (double)pk_cap_in_use(p);
	st->accept_paused = SUM_WORKERS(p, accept_pauses);
	st->client_to_prod = SUM_WORKERS(p, bytes_c2p);
	st->prod_to_client = SUM_WORKERS(p, bytes_p2c);
	if (p->rec) {
		struct pk_rec_stats rs;

		pk_rec_get_stats(p->rec, &rs);
		st->recording = true;
		st->rec_packets = (double)rs.packets;
		st->rec_bytes = (double)rs.bytes;
		st->rec_dropped_bytes = (double)rs.dropped_bytes;
		st->rec_files = (double)rs.files;
		st->rec_failed = rs.failed ? 1 : 0;
	}
	st->ntargets = p->cfg.ntargets;
	for (int i = 0; i < p->cfg.ntargets; i++) {
		snprintf(st->targets[i].name, sizeof(st->targets[i].name), "%s",
			 p->target_names[i]);
		for (unsigned m = 0; m < PK_TM_NUM; m++)
			st->targets[i].v[m] = target_value(p, i, m);
	}
}

/* Whether /metrics has the family of row m. */
static bool shown(const struct pk_proxy *p, unsigned m)
{
	switch (sources[m].shown) {
	case SHOWN_COMPARE:
		return p->cfg.compare || p->cfg.compare_framed;
	case SHOWN_AGG:
		return p->cfg.agg && p->cfg.ntargets > 0;
	default:
		return p->cfg.ntargets > 0;
	}
}

/* The per-target families: each family's header, then per target the sample of each of its
 * rows (a family of several rows differs by its second label). */
static void target_metrics(const struct pk_proxy *p, const struct pk_proxy_status *st,
			   struct pk_strbuf *out)
{
	const struct pk_target_metric *tm = pk_proxy_target_metrics;
	unsigned end;

	for (unsigned m = 0; m < PK_TM_NUM; m = end) {
		for (end = m + 1; end < PK_TM_NUM && !tm[end].help; end++)
			; /* the rows that continue m's family */
		if (!shown(p, m))
			continue;
		pk_prom_family(out, tm[m].name, tm[m].type, tm[m].help);
		for (int i = 0; i < st->ntargets; i++)
			for (unsigned r = m; r < end; r++)
				pk_prom_sample2(out, tm[r].name, "target", st->targets[i].name,
						tm[r].label, tm[r].label_value,
						st->targets[i].v[r]);
	}
}

/* The proxy-wide families of summary_metrics.def, those of the recorder (recording) or the
 * others. */
static void summary_metrics(const struct pk_proxy_status *st, bool recording, struct pk_strbuf *out)
{
	for (unsigned m = 0; m < PK_SM_NUM; m++) {
		const struct pk_summary_metric *sm = &pk_summary_metrics[m];

		if ((sm->group == PK_SUMMARY_RECORDING) != recording)
			continue;
		if (sm->help)
			pk_prom_family(out, sm->name, sm->type, sm->help);
		pk_prom_sample(out, sm->name, sm->label, sm->label_value, pk_summary_value(st, sm));
	}
}

void pk_proxy_metrics(struct pk_proxy *p, struct pk_strbuf *out)
{
	struct pk_proxy_status st;

	pk_proxy_status_get(p, &st);
	pk_prom_family(out, "parikshan_info", "gauge", "Proxy role and production address.");
	pk_strbuf_printf(
		out, "parikshan_info{role=\"%s\",production=\"%s\",mode=\"%s\",workers=\"%d\"} 1\n",
		st.role, st.production, st.mode, p->nworkers);
	summary_metrics(&st, false, out);
	target_metrics(p, &st, out);
	if (st.recording)
		summary_metrics(&st, true, out);
}
