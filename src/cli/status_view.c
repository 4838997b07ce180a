/* status_view.c — turns a proxy's /metrics text into the status table or JSON. */
#include "cli/status_view.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/prom.h"
#include "common/sock.h"

#define STATUS_MAX_TARGETS 64

#define COL(metric, key, header, bytes)                                                            \
	{                                                                                          \
		metric, key, header, bytes, NULL, NULL                                             \
	}

/* The per-target columns: metric name, JSON key, table header; for a metric with more than
 * the target label, the one sample whose label `label` is `value`. */
static const struct {
	const char *metric;
	const char *key;
	const char *header;
	bool bytes;
	const char *label, *value;
} target_cols[] = {
	COL("parikshan_debug_connections_active", "connections_active", "CONNS", false),
	COL("parikshan_debug_bytes_sent_total", "bytes_sent", "SENT", true),
	COL("parikshan_debug_bytes_dropped_total", "bytes_dropped", "DROPPED", true),
	COL("parikshan_debug_response_bytes_total", "response_bytes", "ANSWERED", true),
	COL("parikshan_debug_buffer_bytes", "buffer_bytes", "BUFFERED", true),
	COL("parikshan_debug_buffer_high_water_bytes", "buffer_high_water_bytes", "HIGH-WATER",
	    true),
	COL("parikshan_debug_spill_bytes", "spill_bytes", "SPILLED", true),
	COL("parikshan_debug_overflows_total", "overflows", "OVERFLOWS", false),
	COL("parikshan_debug_desyncs_total", "desyncs", "DESYNCS", false),
	COL("parikshan_debug_connect_failures_total", "connect_failures", "CONN-FAIL", false),
	COL("parikshan_debug_rejoins_total", "rejoins", "REJOINS", false),
	COL("parikshan_debug_lag_bytes", "lag_bytes", "LAG", true),
	COL("parikshan_debug_lag_seconds", "lag_seconds", "LAG-S", false),
	COL("parikshan_debug_unpaired_total", "unpaired", "UNPAIRED", false),
	COL("parikshan_debug_close_grace_expired_total", "close_grace_expired", "GRACE-EXP", false),
	COL("parikshan_compare_bytes_total", "compared_bytes", "COMPARED", true),
	{ "parikshan_compare_connections_total", "diverged", "DIVERGED", false, "verdict",
	  "different" },
	{ "parikshan_debug_paired_total", "paired_by_content", "BY-CONTENT", false, "rule",
	  "content" },
	{ "parikshan_debug_paired_total", "paired_by_order", "BY-ORDER", false, "rule", "order" },
};

#define N_COLS (sizeof(target_cols) / sizeof(target_cols[0]))

struct status {
	bool seen;
	char role[16], production[PK_ADDR_STRLEN + 8], mode[8];
	double accepted, active, prod_fail, c2p, p2c;
	bool has_capacity;
	double nofile, capacity, in_use, accept_paused;
	bool recording;
	double rec_packets, rec_bytes, rec_dropped, rec_files, rec_failed;
	int ntargets;
	char target[STATUS_MAX_TARGETS][PK_ADDR_STRLEN + 8];
	double col[STATUS_MAX_TARGETS][N_COLS];
};

static int target_index(struct status *st, const char *labels)
{
	char name[PK_ADDR_STRLEN + 8];

	if (pk_prom_label(labels, "target", name, sizeof(name)) < 0)
		return -1;
	for (int i = 0; i < st->ntargets; i++)
		if (strcmp(st->target[i], name) == 0)
			return i;
	if (st->ntargets == STATUS_MAX_TARGETS)
		return -1;
	snprintf(st->target[st->ntargets], sizeof(st->target[0]), "%s", name);
	return st->ntargets++;
}

/* The recorder's metrics (parikshan_record_*, given without the prefix). */
static void collect_record(struct status *st, const char *name, double v)
{
	st->recording = true;
	if (strcmp(name, "packets_total") == 0)
		st->rec_packets = v;
	else if (strcmp(name, "bytes_total") == 0)
		st->rec_bytes = v;
	else if (strcmp(name, "dropped_bytes_total") == 0)
		st->rec_dropped = v;
	else if (strcmp(name, "files") == 0)
		st->rec_files = v;
	else if (strcmp(name, "failed") == 0)
		st->rec_failed = v;
}

static void collect(const char *name, const char *labels, double v, void *data)
{
	struct status *st = data;
	char dir[32];

	if (strcmp(name, "parikshan_info") == 0) {
		st->seen = true;
		pk_prom_label(labels, "role", st->role, sizeof(st->role));
		pk_prom_label(labels, "production", st->production, sizeof(st->production));
		pk_prom_label(labels, "mode", st->mode, sizeof(st->mode));
	} else if (strcmp(name, "parikshan_connections_accepted_total") == 0) {
		st->accepted = v;
	} else if (strcmp(name, "parikshan_connections_active") == 0) {
		st->active = v;
	} else if (strcmp(name, "parikshan_prod_connect_failures_total") == 0) {
		st->prod_fail = v;
	} else if (strcmp(name, "parikshan_open_files_limit") == 0) {
		st->nofile = v;
	} else if (strcmp(name, "parikshan_connections_capacity") == 0) {
		st->has_capacity = true;
		st->capacity = v;
	} else if (strcmp(name, "parikshan_connections_in_use") == 0) {
		st->in_use = v;
	} else if (strcmp(name, "parikshan_accept_paused_total") == 0) {
		st->accept_paused = v;
	} else if (strcmp(name, "parikshan_bytes_total") == 0 &&
		   pk_prom_label(labels, "direction", dir, sizeof(dir)) == 0) {
		if (strcmp(dir, "client_to_prod") == 0)
			st->c2p = v;
		else if (strcmp(dir, "prod_to_client") == 0)
			st->p2c = v;
	} else if (strncmp(name, "parikshan_record_", 17) == 0) {
		collect_record(st, name + 17, v);
	} else {
		for (unsigned c = 0; c < N_COLS; c++) {
			if (strcmp(name, target_cols[c].metric) == 0) {
				int i = target_index(st, labels);

				if (target_cols[c].label &&
				    (pk_prom_label(labels, target_cols[c].label, dir, sizeof(dir)) <
					     0 ||
				     strcmp(dir, target_cols[c].value) != 0))
					continue; /* another column of this metric may take it */
				if (i >= 0)
					st->col[i][c] = v;
				return;
			}
		}
	}
}

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

/* Returns the column of the JSON key (which must exist). */
static unsigned col_of(const char *key)
{
	unsigned c = 0;

	while (c < N_COLS - 1 && strcmp(target_cols[c].key, key) != 0)
		c++;
	return c;
}

static const char *target_state(const struct status *st, int i)
{
	if (st->col[i][col_of("desyncs")] > 0)
		return "desynced";
	if (st->col[i][col_of("diverged")] > 0)
		return "diverged";
	if (st->col[i][col_of("lag_seconds")] > 1.0)
		return "lagging";
	return "in-sync";
}

static void render_table(const struct status *st, struct pk_strbuf *out)
{
	char a[32], b[32];

	pk_strbuf_printf(out, "%s  production %s  mode %s\n", st->role, st->production, st->mode);
	pk_strbuf_printf(out,
			 "connections accepted %.0f, active %.0f, production connect failures "
			 "%.0f\n",
			 st->accepted, st->active, st->prod_fail);
	if (st->has_capacity)
		pk_strbuf_printf(out,
				 "capacity %.0f connections (open-files limit %.0f), in use %.0f, "
				 "accept paused %.0f times\n",
				 st->capacity, st->nofile, st->in_use, st->accept_paused);
	pk_strbuf_printf(out, "bytes client->production %s, production->client %s\n",
			 human_bytes(st->c2p, a, sizeof(a)), human_bytes(st->p2c, b, sizeof(b)));
	if (st->recording)
		pk_strbuf_printf(out, "recording %.0f packets, %s, dropped %s, %.0f file(s)%s\n",
				 st->rec_packets, human_bytes(st->rec_bytes, a, sizeof(a)),
				 human_bytes(st->rec_dropped, b, sizeof(b)), st->rec_files,
				 st->rec_failed > 0 ? ", FAILED (stopped)" : "");
	if (st->ntargets == 0) {
		pk_strbuf_printf(out, "no debug targets\n");
		return;
	}
	pk_strbuf_printf(out, "\n%-22s", "TARGET");
	for (unsigned c = 0; c < N_COLS; c++)
		pk_strbuf_printf(out, " %10s", target_cols[c].header);
	pk_strbuf_printf(out, "  STATE\n");
	for (int i = 0; i < st->ntargets; i++) {
		pk_strbuf_printf(out, "%-22s", st->target[i]);
		for (unsigned c = 0; c < N_COLS; c++) {
			if (target_cols[c].bytes)
				pk_strbuf_printf(out, " %10s",
						 human_bytes(st->col[i][c], a, sizeof(a)));
			else if (c == col_of("lag_seconds"))
				pk_strbuf_printf(out, " %10.3f", st->col[i][c]);
			else
				pk_strbuf_printf(out, " %10.0f", st->col[i][c]);
		}
		pk_strbuf_printf(out, "  %s\n", target_state(st, i));
	}
}

static int render_json(const struct status *st, struct pk_strbuf *out)
{
	cJSON *root = cJSON_CreateObject(), *targets, *conns, *bytes;
	char *text;

	if (!root)
		return -ENOMEM;
	cJSON_AddStringToObject(root, "role", st->role);
	cJSON_AddStringToObject(root, "production", st->production);
	cJSON_AddStringToObject(root, "mode", st->mode);
	conns = cJSON_AddObjectToObject(root, "connections");
	cJSON_AddNumberToObject(conns, "accepted", st->accepted);
	cJSON_AddNumberToObject(conns, "active", st->active);
	cJSON_AddNumberToObject(conns, "prod_connect_failures", st->prod_fail);
	if (st->has_capacity) {
		cJSON_AddNumberToObject(conns, "capacity", st->capacity);
		cJSON_AddNumberToObject(conns, "open_files_limit", st->nofile);
		cJSON_AddNumberToObject(conns, "in_use", st->in_use);
		cJSON_AddNumberToObject(conns, "accept_paused", st->accept_paused);
	}
	bytes = cJSON_AddObjectToObject(root, "bytes");
	cJSON_AddNumberToObject(bytes, "client_to_prod", st->c2p);
	cJSON_AddNumberToObject(bytes, "prod_to_client", st->p2c);
	if (st->recording) {
		cJSON *rec = cJSON_AddObjectToObject(root, "recording");

		cJSON_AddNumberToObject(rec, "packets", st->rec_packets);
		cJSON_AddNumberToObject(rec, "bytes", st->rec_bytes);
		cJSON_AddNumberToObject(rec, "dropped_bytes", st->rec_dropped);
		cJSON_AddNumberToObject(rec, "files", st->rec_files);
		cJSON_AddBoolToObject(rec, "failed", st->rec_failed > 0);
	}
	targets = cJSON_AddArrayToObject(root, "targets");
	for (int i = 0; i < st->ntargets; i++) {
		cJSON *t = cJSON_CreateObject();

		cJSON_AddItemToArray(targets, t);
		cJSON_AddStringToObject(t, "target", st->target[i]);
		for (unsigned c = 0; c < N_COLS; c++)
			cJSON_AddNumberToObject(t, target_cols[c].key, st->col[i][c]);
		cJSON_AddStringToObject(t, "state", target_state(st, i));
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return -ENOMEM;
	pk_strbuf_printf(out, "%s\n", text);
	cJSON_free(text);
	return 0;
}

int pk_status_render(const char *metrics, bool json, struct pk_strbuf *out)
{
	struct status st;

	memset(&st, 0, sizeof(st));
	if (pk_prom_parse(metrics, collect, &st) < 0 || !st.seen)
		return -EINVAL;
	if (json)
		return render_json(&st, out);
	render_table(&st, out);
	return 0;
}
