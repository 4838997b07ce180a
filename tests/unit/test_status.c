/* test_status.c — what `parikshan status` shows of a status document (GET /status.json): the
 * table and the document again (--json), byte for byte as the status of before /status.json
 * printed them; the columns come from target_metrics.def (every row with a header, no key
 * twice); the reader refuses what is not a status document (a misspelt or missing key, a
 * wrong type, a string or a number that cannot be ours), and what it accepts it writes back
 * unchanged. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/status_view.h"
#include "proxy/proxy.h"
#include "unit.h"

/* What `parikshan status --json` printed before /status.json (from /metrics text with these
 * values, read by the status renderer of then): the document a proxy now serves. */
static const char golden_json[] = "{\n"
				  "\t\"role\":\t\"dup\",\n"
				  "\t\"production\":\t\"127.0.0.1:6379\",\n"
				  "\t\"mode\":\t\"sync\",\n"
				  "\t\"connections\":\t{\n"
				  "\t\t\"accepted\":\t12,\n"
				  "\t\t\"active\":\t3,\n"
				  "\t\t\"prod_connect_failures\":\t1,\n"
				  "\t\t\"capacity\":\t6650,\n"
				  "\t\t\"open_files_limit\":\t20000,\n"
				  "\t\t\"in_use\":\t4,\n"
				  "\t\t\"accept_paused\":\t7\n"
				  "\t},\n"
				  "\t\"bytes\":\t{\n"
				  "\t\t\"client_to_prod\":\t2048,\n"
				  "\t\t\"prod_to_client\":\t1572864\n"
				  "\t},\n"
				  "\t\"recording\":\t{\n"
				  "\t\t\"packets\":\t120,\n"
				  "\t\t\"bytes\":\t3072,\n"
				  "\t\t\"dropped_bytes\":\t17,\n"
				  "\t\t\"files\":\t2,\n"
				  "\t\t\"failed\":\ttrue\n"
				  "\t},\n"
				  "\t\"targets\":\t[{\n"
				  "\t\t\t\"target\":\t\"127.0.0.1:6380\",\n"
				  "\t\t\t\"connections_active\":\t3,\n"
				  "\t\t\t\"bytes_sent\":\t2048,\n"
				  "\t\t\t\"bytes_dropped\":\t0,\n"
				  "\t\t\t\"response_bytes\":\t1500,\n"
				  "\t\t\t\"buffer_bytes\":\t4096,\n"
				  "\t\t\t\"buffer_high_water_bytes\":\t1073741824,\n"
				  "\t\t\t\"spill_bytes\":\t3,\n"
				  "\t\t\t\"overflows\":\t0,\n"
				  "\t\t\t\"desyncs\":\t0,\n"
				  "\t\t\t\"connect_failures\":\t0,\n"
				  "\t\t\t\"rejoins\":\t4,\n"
				  "\t\t\t\"reclones\":\t2,\n"
				  "\t\t\t\"sample_log2\":\t3,\n"
				  "\t\t\t\"sample_steps\":\t5,\n"
				  "\t\t\t\"lag_bytes\":\t1100000,\n"
				  "\t\t\t\"lag_seconds\":\t1.23456789,\n"
				  "\t\t\t\"window_s\":\t42.5,\n"
				  "\t\t\t\"arrival_bytes_per_s\":\t1000000,\n"
				  "\t\t\t\"arrival_requests_per_s\":\t1000,\n"
				  "\t\t\t\"drain_bytes_per_s\":\t250000,\n"
				  "\t\t\t\"service_bytes_per_s\":\t250000,\n"
				  "\t\t\t\"unpaired\":\t0,\n"
				  "\t\t\t\"close_grace_expired\":\t5,\n"
				  "\t\t\t\"compared_bytes\":\t2048,\n"
				  "\t\t\t\"diverged\":\t0,\n"
				  "\t\t\t\"requests_same\":\t900,\n"
				  "\t\t\t\"requests_noise\":\t7,\n"
				  "\t\t\t\"requests_different\":\t0,\n"
				  "\t\t\t\"requests_lag\":\t0,\n"
				  "\t\t\t\"paired_by_content\":\t0,\n"
				  "\t\t\t\"paired_by_order\":\t0,\n"
				  "\t\t\t\"state\":\t\"lagging\"\n"
				  "\t\t}, {\n"
				  "\t\t\t\"target\":\t\"[::1]:6381\",\n"
				  "\t\t\t\"connections_active\":\t0,\n"
				  "\t\t\t\"bytes_sent\":\t5e+15,\n"
				  "\t\t\t\"bytes_dropped\":\t5242880,\n"
				  "\t\t\t\"response_bytes\":\t0,\n"
				  "\t\t\t\"buffer_bytes\":\t0,\n"
				  "\t\t\t\"buffer_high_water_bytes\":\t0,\n"
				  "\t\t\t\"spill_bytes\":\t0,\n"
				  "\t\t\t\"overflows\":\t2,\n"
				  "\t\t\t\"desyncs\":\t3,\n"
				  "\t\t\t\"connect_failures\":\t1,\n"
				  "\t\t\t\"rejoins\":\t0,\n"
				  "\t\t\t\"reclones\":\t0,\n"
				  "\t\t\t\"sample_log2\":\t0,\n"
				  "\t\t\t\"sample_steps\":\t0,\n"
				  "\t\t\t\"lag_bytes\":\t0,\n"
				  "\t\t\t\"lag_seconds\":\t0.5,\n"
				  "\t\t\t\"window_s\":\tnull,\n"
				  "\t\t\t\"arrival_bytes_per_s\":\t0,\n"
				  "\t\t\t\"arrival_requests_per_s\":\t0,\n"
				  "\t\t\t\"drain_bytes_per_s\":\t0,\n"
				  "\t\t\t\"service_bytes_per_s\":\t0,\n"
				  "\t\t\t\"unpaired\":\t0,\n"
				  "\t\t\t\"close_grace_expired\":\t0,\n"
				  "\t\t\t\"compared_bytes\":\t99,\n"
				  "\t\t\t\"diverged\":\t2,\n"
				  "\t\t\t\"requests_same\":\t10,\n"
				  "\t\t\t\"requests_noise\":\t0,\n"
				  "\t\t\t\"requests_different\":\t3,\n"
				  "\t\t\t\"requests_lag\":\t1200,\n"
				  "\t\t\t\"paired_by_content\":\t0,\n"
				  "\t\t\t\"paired_by_order\":\t0,\n"
				  "\t\t\t\"state\":\t\"desynced\"\n"
				  "\t\t}]\n"
				  "}\n";

/* ... and the table it printed. */
static const char golden_table[] =
	"dup  production 127.0.0.1:6379  mode sync\n"
	"connections accepted 12, active 3, production connect failures 1\n"
	"capacity 6650 connections (open-files limit 20000), in use 4, accept paused 7 times\n"
	"bytes client->production 2.0K, production->client 1.5M\n"
	"recording 120 packets, 3.0K, dropped 17, 2 file(s), FAILED (stopped)\n"
	"\n"
	"TARGET                      CONNS       SENT    DROPPED   ANSWERED   BUFFERED HIGH-WATER  "
	"  SPILLED  OVERFLOWS    DESYNCS  CONN-FAIL    REJOINS   RECLONES     SAMPLE        LAG    "
	"  LAG-S  "
	"   WINDOW   UNPAIRED  GRACE-EXP   COMPARED   DIVERGED      NOISE  DIFFERENT   LAG-REQS "
	"BY-CONTENT   BY-ORDER  STATE\n"
	"127.0.0.1:6380                  3       2.0K          0       1.5K       4.0K       1.0G  "
	"        3          0          0          0          4          2          3       1.0M    "
	"  1.235  "
	"   42.500          0          5       2.0K          0          7          0          0  "
	"        0          0  lagging\n"
	"[::1]:6381                      0    4547.5T       5.0M          0          0          0  "
	"        0          2          3          1          0          0          0          0    "
	"  0.500  "
	"        \u221e          0          0         99          2          0          3       "
	"1200  "
	"        0          0  desynced\n";

/* Renders doc and checks the answer is want. */
static void check_render(const char *doc, bool json, const char *want)
{
	struct pk_strbuf out = { 0 };

	CHECK_EQ_INT(pk_status_render(doc, json, &out), 0);
	CHECK_STR(pk_strbuf_str(&out), want);
	pk_strbuf_release(&out);
}

static void test_golden(void)
{
	check_render(golden_json, false, golden_table);
	check_render(golden_json, true, golden_json);
}

/* The document of a proxy without targets; a summary and no table. */
static void test_no_targets(void)
{
	struct pk_proxy_status st;
	struct pk_strbuf doc = { 0 }, out = { 0 };

	memset(&st, 0, sizeof(st));
	snprintf(st.role, sizeof(st.role), "dup");
	snprintf(st.production, sizeof(st.production), "127.0.0.1:1");
	snprintf(st.mode, sizeof(st.mode), "async");
	CHECK_EQ_INT(pk_proxy_status_write(&st, &doc), 0);
	CHECK(strstr(pk_strbuf_str(&doc), "\"targets\":\t[]") != NULL);
	CHECK(strstr(pk_strbuf_str(&doc), "recording") == NULL);
	CHECK_EQ_INT(pk_status_render(pk_strbuf_str(&doc), false, &out), 0);
	CHECK_STR(pk_strbuf_str(&out),
		  "dup  production 127.0.0.1:1  mode async\n"
		  "connections accepted 0, active 0, production connect failures 0\n"
		  "capacity 0 connections (open-files limit 0), in use 0, accept paused 0 times\n"
		  "bytes client->production 0, production->client 0\n"
		  "no debug targets\n");
	pk_strbuf_release(&out);
	check_render(pk_strbuf_str(&doc), true, pk_strbuf_str(&doc));
	pk_strbuf_release(&doc);
}

/* A target's state follows from its numbers, by index (PK_TM_*): desynced before diverged
 * before lagging (more than 1 s). */
static void test_state(void)
{
	double v[PK_TM_NUM] = { 0 };

	CHECK_STR(pk_proxy_target_state(v), "in-sync");
	v[PK_TM_LAG_SECONDS] = 1.0;
	CHECK_STR(pk_proxy_target_state(v), "in-sync");
	v[PK_TM_LAG_SECONDS] = 1.001;
	CHECK_STR(pk_proxy_target_state(v), "lagging");
	v[PK_TM_DIVERGED] = 1;
	CHECK_STR(pk_proxy_target_state(v), "diverged");
	v[PK_TM_SAME] = 5; /* not a divergence */
	v[PK_TM_UNKNOWN] = 5;
	CHECK_STR(pk_proxy_target_state(v), "diverged");
	v[PK_TM_DESYNCS] = 1;
	CHECK_STR(pk_proxy_target_state(v), "desynced");
}

/* The table: a header has a key (a key may go without a header: the document only), none twice; the
 * status columns are the rows with a header, in the table's order; rows of one family follow each
 * other. */
static void test_columns_from_table(void)
{
	const struct pk_target_metric *tm = pk_proxy_target_metrics;
	struct pk_strbuf out = { 0 }, hdr = { 0 };
	const char *text, *line;
	int columns = 0;

	for (unsigned m = 0; m < PK_TM_NUM; m++) {
		CHECK(tm[m].name != NULL);
		CHECK(tm[m].key != NULL || tm[m].header == NULL);
		CHECK((tm[m].type == NULL) == (tm[m].help == NULL));
		CHECK((tm[m].label == NULL) == (tm[m].label_value == NULL));
		if (!tm[m].help) /* continues the family above */
			CHECK(m > 0 && strcmp(tm[m].name, tm[m - 1].name) == 0 && tm[m].label);
		for (unsigned n = 0; n < m; n++) {
			if (tm[m].key && tm[n].key)
				CHECK(strcmp(tm[m].key, tm[n].key) != 0);
			if (tm[m].header && tm[n].header)
				CHECK(strcmp(tm[m].header, tm[n].header) != 0);
			if (tm[m].help && tm[n].help)
				CHECK(strcmp(tm[m].name, tm[n].name) != 0);
		}
		if (tm[m].header) {
			pk_strbuf_printf(&hdr, " %10s", tm[m].header);
			columns++;
		}
	}
	CHECK_EQ_INT(columns, 25);
	CHECK_STR(tm[PK_TM_DESYNCS].key, "desyncs");
	CHECK_STR(tm[PK_TM_LAG_SECONDS].header, "LAG-S");
	CHECK(tm[PK_TM_LAG_SECONDS].fmt == PK_TM_AS_SECONDS);
	CHECK(tm[PK_TM_SENT].fmt == PK_TM_AS_BYTES);
	CHECK(tm[PK_TM_SAME].key == NULL && tm[PK_TM_UNKNOWN].key == NULL);
	CHECK_EQ_INT(pk_status_render(golden_json, false, &out), 0);
	text = pk_strbuf_str(&out);
	line = strstr(text, "\nTARGET");
	CHECK(line != NULL);
	if (line)
		CHECK(strncmp(line + 1 + 22, pk_strbuf_str(&hdr), hdr.len) == 0);
	pk_strbuf_release(&out);
	pk_strbuf_release(&hdr);
}

/* Replaces the first from in golden_json by to: a broken document. */
static void golden_with(const char *from, const char *to, struct pk_strbuf *doc)
{
	const char *at = strstr(golden_json, from);

	pk_strbuf_release(doc);
	CHECK(at != NULL);
	if (!at)
		return;
	pk_strbuf_append(doc, golden_json, (size_t)(at - golden_json));
	pk_strbuf_printf(doc, "%s%s", to, at + strlen(from));
}

/* Every document here is refused, in both forms, and nothing is rendered. */
static void test_not_a_status_document(void)
{
	static const struct {
		const char *from, *to;
	} breaks[] = {
		{ "\"desyncs\"", "\"desync\"" },	  /* a misspelt column */
		{ "\"lag_seconds\":\t0.5,", "" },	  /* a missing column */
		{ "\"capacity\"", "\"capacit\"" },	  /* a missing summary number */
		{ "\"role\":\t\"dup\"", "\"role\":\t3" }, /* a string of another type */
		{ "\"mode\":\t\"sync\"", "\"mode\":\t\"sync-sync-sync-sy\"" }, /* too long */
		{ "127.0.0.1:6380", "\\u001b[31mred" },		   /* a control character */
		{ "127.0.0.1:6380", "caf\\u00e9" },		   /* not ASCII */
		{ "\"accepted\":\t12", "\"accepted\":\t-12" },	   /* negative */
		{ "\"accepted\":\t12", "\"accepted\":\t1e999" },   /* not finite */
		{ "\"accepted\":\t12", "\"accepted\":\t\"12\"" },  /* a number as a string */
		{ "\"failed\":\ttrue", "\"failed\":\t1" },	   /* not a bool */
		{ "\"bytes\":\t{", "\"bytes\":\t[{" },		   /* not JSON any more */
		{ "\"targets\":\t[{", "\"targets\":\t{\"x\": {" }, /* targets not an array */
		{ "\"targets\":\t[{", "\"targets\":\t[7, {" },	   /* a target not an object */
		{ "\"connections\":\t{", "\"connections\":\t7, \"c\": {" }, /* not an object */
		{ "\"recording\":\t{", "\"recording\":\tnull, \"r\": {" },  /* present, no object */
		{ "}]\n}\n", "}]\n}\n}" }, /* something after the document */
	};
	static const char *const docs[] = {
		"", "{}", "[]", "null", "7", "\"dup\"", "{\"role\":\"dup\"}", "parikshan_info 1\n",
	};
	struct pk_strbuf doc = { 0 }, out = { 0 };

	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		golden_with(breaks[i].from, breaks[i].to, &doc);
		for (int json = 0; json <= 1; json++) {
			int rc = pk_status_render(pk_strbuf_str(&doc), json, &out);

			if (rc != -EINVAL)
				printf("  accepted: %s -> %s\n", breaks[i].from, breaks[i].to);
			CHECK_EQ_INT(rc, -EINVAL);
		}
	}
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		CHECK_EQ_INT(pk_status_render(docs[i], false, &out), -EINVAL);
		CHECK_EQ_INT(pk_status_render(docs[i], true, &out), -EINVAL);
	}
	CHECK_EQ_INT(out.len, 0);
	pk_strbuf_release(&doc);
	pk_strbuf_release(&out);
}

/* What the reader does not need is left alone: keys it does not know, "state" (it follows
 * from the numbers), whitespace; the rest is written back as the golden document. */
static void test_unknown_keys_ignored(void)
{
	struct pk_strbuf doc = { 0 };

	golden_with("\"lag_seconds\":\t0.5,", "\"lag_seconds\":\t0.5, \"new_column\": [1, {}],",
		    &doc);
	check_render(pk_strbuf_str(&doc), true, golden_json);
	golden_with("\"state\":\t\"desynced\"", "\"state\":\t\"in-sync\"", &doc);
	check_render(pk_strbuf_str(&doc), true, golden_json);
	golden_with("{\n\t\"role\"", " \n{\"version\": 2, \"role\"", &doc);
	check_render(pk_strbuf_str(&doc), false, golden_table);
	pk_strbuf_release(&doc);
}

/* At most PK_STATUS_MAX_TARGETS targets. */
static void test_target_limit(void)
{
	struct pk_strbuf doc = { 0 }, out = { 0 };
	const char *t0 = strstr(golden_json, "{\n\t\t\t\"target\":\t\"127.0.0.1:6380\"");
	const char *t1 = t0 ? strstr(t0, "}, {") : NULL;
	const char *end = t1 ? strstr(t1, "}]") : NULL;

	CHECK(t0 && t1 && end);
	if (!t0 || !t1 || !end)
		return;
	for (int n = PK_STATUS_MAX_TARGETS; n <= PK_STATUS_MAX_TARGETS + 1; n++) {
		pk_strbuf_release(&doc);
		pk_strbuf_append(&doc, golden_json, (size_t)(t0 - golden_json));
		for (int i = 0; i < n; i++) {
			pk_strbuf_append(&doc, t0, (size_t)(t1 + 1 - t0));
			pk_strbuf_printf(&doc, "%s", i + 1 < n ? ", " : "");
		}
		pk_strbuf_printf(&doc, "%s", end + 1);
		pk_strbuf_release(&out);
		CHECK_EQ_INT(pk_status_render(pk_strbuf_str(&doc), false, &out),
			     n <= PK_STATUS_MAX_TARGETS ? 0 : -EINVAL);
	}
	pk_strbuf_release(&doc);
	pk_strbuf_release(&out);
}

int main(void)
{
	UNIT_RUN(test_golden);
	UNIT_RUN(test_no_targets);
	UNIT_RUN(test_state);
	UNIT_RUN(test_columns_from_table);
	UNIT_RUN(test_not_a_status_document);
	UNIT_RUN(test_unknown_keys_ignored);
	UNIT_RUN(test_target_limit);
	return unit_done();
}
