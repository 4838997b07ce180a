/* status.c — the status document (GET /status.json, `parikshan status`): a struct
 * pk_proxy_status written as JSON and read back (cJSON).  The writer and the reader go by the
 * same tables: the proxy-wide values by summary_metrics.def (which /metrics also writes from),
 * each target's by target_metrics.def.  The reader takes bytes from another process: it checks
 * every field and refuses what is not a status document. */
#include "proxy/proxy_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "common/json.h"
#include "common/prom.h"

const struct pk_summary_metric pk_summary_metrics[PK_SM_NUM] = {
#define PK_SUMMARY_METRIC(field, name, type, help, label, value, group, key, pos, as)              \
	[PK_SM_##field] = { offsetof(struct pk_proxy_status, field),                               \
			    name,                                                                  \
			    type,                                                                  \
			    help,                                                                  \
			    label,                                                                 \
			    value,                                                                 \
			    PK_SUMMARY_##group,                                                    \
			    key,                                                                   \
			    pos,                                                                   \
			    PK_SUMMARY_AS_##as },
#include "proxy/summary_metrics.def"
#undef PK_SUMMARY_METRIC
};

static const char *const group_keys[PK_SUMMARY_GROUPS] = {
	[PK_SUMMARY_CONNECTIONS] = "connections",
	[PK_SUMMARY_BYTES] = "bytes",
	[PK_SUMMARY_RECORDING] = "recording",
};

static double *value_of(struct pk_proxy_status *st, const struct pk_summary_metric *sm)
{
	return (double *)((char *)st + sm->off);
}

/* The row of group g at place pos in its object; NULL past the last. */
static const struct pk_summary_metric *summary_at(enum pk_summary_group g, int pos)
{
	for (unsigned m = 0; m < PK_SM_NUM; m++)
		if (pk_summary_metrics[m].group == g && pk_summary_metrics[m].pos == pos)
			return &pk_summary_metrics[m];
	return NULL;
}

/* ---- writing ---- */

/* Adds number v under key, as /metrics' text would give it; false when out of memory. */
static bool add_number(cJSON *obj, const char *key, double v)
{
	return cJSON_AddNumberToObject(obj, key, pk_prom_value(v)) != NULL;
}

/* Adds the value of row sm of st to obj; false when out of memory. */
static bool add_summary_value(const struct pk_proxy_status *st, const struct pk_summary_metric *sm,
			      cJSON *obj)
{
	if (sm->as == PK_SUMMARY_AS_BOOL)
		return cJSON_AddBoolToObject(obj, sm->key, pk_summary_value(st, sm) > 0) != NULL;
	return add_number(obj, sm->key, pk_summary_value(st, sm));
}

static bool add_summary(const struct pk_proxy_status *st, cJSON *root)
{
	if (!cJSON_AddStringToObject(root, "role", st->role) ||
	    !cJSON_AddStringToObject(root, "production", st->production) ||
	    !cJSON_AddStringToObject(root, "mode", st->mode))
		return false;
	for (int g = 0; g < PK_SUMMARY_GROUPS; g++) {
		const struct pk_summary_metric *sm;
		cJSON *obj;

		if (g == PK_SUMMARY_RECORDING && !st->recording)
			continue;
		obj = cJSON_AddObjectToObject(root, group_keys[g]);
		if (!obj)
			return false;
		for (int pos = 0; (sm = summary_at(g, pos)); pos++)
			if (!add_summary_value(st, sm, obj))
				return false;
	}
	return true;
}

/* Adds value v of target row tm to obj: a number, or null for a time that is infinite (no
 * predicted overflow); false when out of memory. */
static bool add_target_value(const struct pk_target_metric *tm, double v, cJSON *obj)
{
	if (tm->fmt == PK_TM_AS_SECONDS && isinf(v))
		return cJSON_AddNullToObject(obj, tm->key) != NULL;
	return add_number(obj, tm->key, v);
}

/* One object per target: its name, each row of target_metrics.def with a key, its state. */
static bool add_targets(const struct pk_proxy_status *st, cJSON *root)
{
	cJSON *targets = cJSON_AddArrayToObject(root, "targets");

	if (!targets)
		return false;
	for (int i = 0; i < st->ntargets; i++) {
		const struct pk_proxy_status_target *t = &st->targets[i];
		cJSON *obj = cJSON_CreateObject();

		if (!obj)
			return false;
		if (!cJSON_AddItemToArray(targets, obj)) {
			cJSON_Delete(obj);
			return false;
		}
		if (!cJSON_AddStringToObject(obj, "target", t->name))
			return false;
		for (unsigned m = 0; m < PK_TM_NUM; m++)
			if (pk_proxy_target_metrics[m].key &&
			    !add_target_value(&pk_proxy_target_metrics[m], t->v[m], obj))
				return false;
		if (!cJSON_AddStringToObject(obj, "state", pk_proxy_target_state(t->v)))
			return false;
	}
	return true;
}

int pk_proxy_status_write(const struct pk_proxy_status *st, struct pk_strbuf *out)
{
	cJSON *root = cJSON_CreateObject();
	bool ok = root && add_summary(st, root) && add_targets(st, root);
	int rc = pk_json_print(ok ? root : NULL, out);

	cJSON_Delete(root);
	return rc;
}

/* ---- reading ---- */

/* Copies the string under key in obj into buf (len bytes); false when it is absent, not a
 * string, does not fit, or holds anything but printable ASCII (it goes to a terminal). */
static bool get_string(const cJSON *obj, const char *key, char *buf, size_t len)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n >= len)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	memcpy(buf, s, n + 1);
	return true;
}

/* Reads the number under key in obj into *v, as /metrics' text would carry it (so that what
 * is read is what is written back); false when absent, not a number, negative or not finite
 * (a count, a size or a time). */
static bool get_number(const cJSON *obj, const char *key, double *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0)
		return false;
	*v = pk_prom_value(it->valuedouble);
	return true;
}

/* Reads the value of row sm from obj into st; false when it is absent or not what it must be. */
static bool get_summary_value(const cJSON *obj, const struct pk_summary_metric *sm,
			      struct pk_proxy_status *st)
{
	const cJSON *it;

	if (sm->as != PK_SUMMARY_AS_BOOL)
		return get_number(obj, sm->key, value_of(st, sm));
	it = cJSON_GetObjectItemCaseSensitive(obj, sm->key);
	*value_of(st, sm) = cJSON_IsTrue(it) ? 1 : 0;
	return cJSON_IsBool(it);
}

static bool read_summary(const cJSON *root, struct pk_proxy_status *st)
{
	if (!get_string(root, "role", st->role, sizeof(st->role)) ||
	    !get_string(root, "production", st->production, sizeof(st->production)) ||
	    !get_string(root, "mode", st->mode, sizeof(st->mode)))
		return false;
	for (int g = 0; g < PK_SUMMARY_GROUPS; g++) {
		const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, group_keys[g]);

		if (g == PK_SUMMARY_RECORDING && !obj)
			continue; /* not recording */
		if (!cJSON_IsObject(obj))
			return false;
		for (unsigned m = 0; m < PK_SM_NUM; m++)
			if (pk_summary_metrics[m].group == (enum pk_summary_group)g &&
			    !get_summary_value(obj, &pk_summary_metrics[m], st))
				return false;
		st->recording |= g == PK_SUMMARY_RECORDING;
	}
	return true;
}

static bool read_target(const cJSON *obj, struct pk_proxy_status_target *t)
{
	if (!cJSON_IsObject(obj) || !get_string(obj, "target", t->name, sizeof(t->name)))
		return false;
	for (unsigned m = 0; m < PK_TM_NUM; m++) {
		const struct pk_target_metric *tm = &pk_proxy_target_metrics[m];

		if (!tm->key)
			continue;
		if (tm->fmt == PK_TM_AS_SECONDS &&
		    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, tm->key)))
			t->v[m] = INFINITY; /* a time without end: no predicted overflow */
		else if (!get_number(obj, tm->key, &t->v[m]))
			return false;
	}
	return true;
}

static bool read_targets(const cJSON *root, struct pk_proxy_status *st)
{
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "targets"), *obj;

	if (!cJSON_IsArray(targets))
		return false;
	cJSON_ArrayForEach(obj, targets)
	{
		if (st->ntargets == PK_STATUS_MAX_TARGETS ||
		    !read_target(obj, &st->targets[st->ntargets]))
			return false;
		st->ntargets++;
	}
	return true;
}

int pk_proxy_status_parse(const char *text, struct pk_proxy_status *st)
{
	cJSON *root = cJSON_ParseWithOpts(text, NULL, true);
	bool ok;

	memset(st, 0, sizeof(*st));
	ok = cJSON_IsObject(root) && read_summary(root, st) && read_targets(root, st);
	cJSON_Delete(root);
	if (!ok) {
		memset(st, 0, sizeof(*st));
		return -EINVAL;
	}
	return 0;
}
