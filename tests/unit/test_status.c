/* test_status.c — pk_status_render on hand-written metrics text: the table (summary lines,
 * columns, per-target state) and the JSON form; text that is not parikshan's is refused. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "cli/status_view.h"
#include "unit.h"

static const char metrics[] =
	"# HELP parikshan_info Proxy role and production address.\n"
	"# TYPE parikshan_info gauge\n"
	"parikshan_info{role=\"dup\",production=\"127.0.0.1:1\",mode=\"async\"} 1\n"
	"# TYPE parikshan_connections_accepted_total counter\n"
	"parikshan_connections_accepted_total 12\n"
	"parikshan_connections_active 3\n"
	"parikshan_prod_connect_failures_total 1\n"
	"parikshan_open_files_limit 20000\n"
	"parikshan_connections_capacity 6650\n"
	"parikshan_connections_in_use 4\n"
	"parikshan_accept_paused_total 7\n"
	"parikshan_bytes_total{direction=\"client_to_prod\"} 2048\n"
	"parikshan_bytes_total{direction=\"prod_to_client\"} 1572864\n"
	"# TYPE parikshan_debug_connections_active gauge\n"
	"parikshan_debug_connections_active{target=\"127.0.0.1:6380\"} 3\n"
	"parikshan_debug_connections_active{target=\"127.0.0.1:6381\"} 0\n"
	"parikshan_debug_bytes_sent_total{target=\"127.0.0.1:6380\"} 2048\n"
	"parikshan_debug_bytes_sent_total{target=\"127.0.0.1:6381\"} 1024\n"
	"parikshan_debug_bytes_dropped_total{target=\"127.0.0.1:6380\"} 0\n"
	"parikshan_debug_bytes_dropped_total{target=\"127.0.0.1:6381\"} 5242880\n"
	"parikshan_debug_overflows_total{target=\"127.0.0.1:6380\"} 0\n"
	"parikshan_debug_overflows_total{target=\"127.0.0.1:6381\"} 2\n"
	"parikshan_debug_desyncs_total{target=\"127.0.0.1:6380\"} 0\n"
	"parikshan_debug_desyncs_total{target=\"127.0.0.1:6381\"} 3\n"
	"parikshan_debug_lag_seconds{target=\"127.0.0.1:6380\"} 0.25\n"
	"parikshan_debug_lag_seconds{target=\"127.0.0.1:6381\"} 0\n";

/* Splits line (up to its newline) into whitespace-separated words; returns the count. */
static int split_words(const char *line, char words[][32], int max)
{
	int n = 0;

	while (*line && *line != '\n') {
		size_t len;

		while (*line == ' ')
			line++;
		if (!*line || *line == '\n')
			break;
		len = strcspn(line, " \n");
		if (n < max)
			snprintf(words[n], 32, "%.*s", (int)len, line);
		n++;
		line += len;
	}
	return n;
}

/* Returns the start of the line of text that begins with prefix, or NULL. */
static const char *line_starting(const char *text, const char *prefix)
{
	size_t len = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, len) == 0)
			return p;
	return NULL;
}

static void test_table(void)
{
	struct pk_strbuf out = { 0 };
	char w[24][32];
	const char *text, *line;

	CHECK_EQ_INT(pk_status_render(metrics, false, &out), 0);
	text = pk_strbuf_str(&out);
	CHECK(line_starting(text, "dup  production 127.0.0.1:1  mode async\n") == text);
	CHECK(line_starting(text, "connections accepted 12, active 3, production connect "
				  "failures 1\n") != NULL);
	CHECK(line_starting(text, "capacity 6650 connections (open-files limit 20000), in use 4, "
				  "accept paused 7 times\n") != NULL);
	CHECK(line_starting(text, "bytes client->production 2.0K, production->client 1.5M\n") !=
	      NULL);

	line = line_starting(text, "TARGET");
	CHECK(line != NULL);
	if (line) {
		CHECK_EQ_INT(split_words(line, w, 24), 21);
		CHECK_STR(w[1], "CONNS");
		CHECK_STR(w[2], "SENT");
		CHECK_STR(w[3], "DROPPED");
		CHECK_STR(w[8], "OVERFLOWS");
		CHECK_STR(w[9], "DESYNCS");
		CHECK_STR(w[11], "REJOINS");
		CHECK_STR(w[13], "LAG-S");
		CHECK_STR(w[14], "UNPAIRED");
		CHECK_STR(w[15], "GRACE-EXP");
		CHECK_STR(w[17], "DIVERGED");
		CHECK_STR(w[18], "BY-CONTENT");
		CHECK_STR(w[19], "BY-ORDER");
		CHECK_STR(w[20], "STATE");
	}
	line = line_starting(text, "127.0.0.1:6380 ");
	CHECK(line != NULL);
	if (line) {
		CHECK_EQ_INT(split_words(line, w, 24), 21);
		CHECK_STR(w[1], "3");
		CHECK_STR(w[2], "2.0K");
		CHECK_STR(w[3], "0");
		CHECK_STR(w[9], "0");
		CHECK_STR(w[13], "0.250");
		CHECK_STR(w[20], "in-sync");
	}
	line = line_starting(text, "127.0.0.1:6381 ");
	CHECK(line != NULL);
	if (line) {
		CHECK_EQ_INT(split_words(line, w, 24), 21);
		CHECK_STR(w[1], "0");
		CHECK_STR(w[2], "1.0K");
		CHECK_STR(w[3], "5.0M");
		CHECK_STR(w[8], "2");
		CHECK_STR(w[9], "3");
		CHECK_STR(w[20], "desynced");
	}
	/* the header and rows line up: every row is as long as the header */
	{
		const char *hdr = line_starting(text, "TARGET");
		const char *r1 = line_starting(text, "127.0.0.1:6380 ");

		if (hdr && r1)
			CHECK_EQ_INT(strcspn(hdr, "\n") - strlen("STATE"),
				     strcspn(r1, "\n") - strlen("in-sync"));
	}
	/* targets appear once each, in the order first seen */
	CHECK(strstr(text, "127.0.0.1:6380 ") < strstr(text, "127.0.0.1:6381 "));
	CHECK(strstr(strstr(text, "127.0.0.1:6380 ") + 1, "127.0.0.1:6380 ") == NULL);
	pk_strbuf_release(&out);
}

static double num(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(it) ? it->valuedouble : -12345;
}

static const char *str(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(it) ? it->valuestring : "(missing)";
}

static void test_json(void)
{
	static const char *const keys[] = {
		"connections_active", "bytes_sent",   "bytes_dropped",
		"response_bytes",     "buffer_bytes", "buffer_high_water_bytes",
		"spill_bytes",	      "overflows",    "desyncs",
		"connect_failures",   "lag_bytes",    "lag_seconds",
	};
	struct pk_strbuf out = { 0 };
	cJSON *root, *conns, *bytes, *targets, *t0, *t1;

	CHECK_EQ_INT(pk_status_render(metrics, true, &out), 0);
	root = cJSON_Parse(pk_strbuf_str(&out));
	CHECK(root != NULL);
	if (!root)
		goto out;
	CHECK_STR(str(root, "role"), "dup");
	CHECK_STR(str(root, "production"), "127.0.0.1:1");
	CHECK_STR(str(root, "mode"), "async");
	conns = cJSON_GetObjectItemCaseSensitive(root, "connections");
	CHECK(cJSON_IsObject(conns));
	CHECK(num(conns, "accepted") == 12);
	CHECK(num(conns, "active") == 3);
	CHECK(num(conns, "prod_connect_failures") == 1);
	CHECK(num(conns, "capacity") == 6650);
	CHECK(num(conns, "open_files_limit") == 20000);
	CHECK(num(conns, "in_use") == 4);
	CHECK(num(conns, "accept_paused") == 7);
	bytes = cJSON_GetObjectItemCaseSensitive(root, "bytes");
	CHECK(cJSON_IsObject(bytes));
	CHECK(num(bytes, "client_to_prod") == 2048);
	CHECK(num(bytes, "prod_to_client") == 1572864);
	targets = cJSON_GetObjectItemCaseSensitive(root, "targets");
	CHECK(cJSON_IsArray(targets));
	CHECK_EQ_INT(cJSON_GetArraySize(targets), 2);
	t0 = cJSON_GetArrayItem(targets, 0);
	t1 = cJSON_GetArrayItem(targets, 1);
	CHECK(t0 && t1);
	if (t0 && t1) {
		for (unsigned k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t0, keys[k])));
			CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t1, keys[k])));
		}
		CHECK_STR(str(t0, "target"), "127.0.0.1:6380");
		CHECK(num(t0, "connections_active") == 3);
		CHECK(num(t0, "bytes_sent") == 2048);
		CHECK(num(t0, "desyncs") == 0);
		CHECK(num(t0, "lag_seconds") == 0.25);
		CHECK(num(t0, "response_bytes") == 0); /* absent from the text: zero */
		CHECK_STR(str(t0, "state"), "in-sync");
		CHECK_STR(str(t1, "target"), "127.0.0.1:6381");
		CHECK(num(t1, "connections_active") == 0);
		CHECK(num(t1, "bytes_sent") == 1024);
		CHECK(num(t1, "bytes_dropped") == 5242880);
		CHECK(num(t1, "overflows") == 2);
		CHECK(num(t1, "desyncs") == 3);
		CHECK_STR(str(t1, "state"), "desynced");
	}
	cJSON_Delete(root);
out:
	pk_strbuf_release(&out);
}

static void test_lagging_and_no_targets(void)
{
	struct pk_strbuf out = { 0 };
	const char *line;
	char w[24][32];

	CHECK_EQ_INT(pk_status_render("parikshan_info{role=\"agg\",production=\"[::1]:6379\","
				      "mode=\"sync\"} 1\n"
				      "parikshan_debug_lag_seconds{target=\"[::1]:7000\"} 2.5\n",
				      false, &out),
		     0);
	CHECK(line_starting(pk_strbuf_str(&out), "agg  production [::1]:6379  mode sync\n") !=
	      NULL);
	line = line_starting(pk_strbuf_str(&out), "[::1]:7000 ");
	CHECK(line != NULL);
	if (line) {
		CHECK_EQ_INT(split_words(line, w, 24), 21);
		CHECK_STR(w[13], "2.500");
		CHECK_STR(w[20], "lagging");
	}
	pk_strbuf_release(&out);

	/* info only: a summary and no table */
	CHECK_EQ_INT(pk_status_render("parikshan_info{role=\"dup\",production=\"127.0.0.1:1\","
				      "mode=\"async\"} 1\n",
				      false, &out),
		     0);
	CHECK(strstr(pk_strbuf_str(&out), "no debug targets\n") != NULL);
	CHECK(strstr(pk_strbuf_str(&out), "TARGET") == NULL);
	CHECK(line_starting(pk_strbuf_str(&out),
			    "connections accepted 0, active 0, production connect failures 0\n") !=
	      NULL);
	pk_strbuf_release(&out);
	CHECK_EQ_INT(pk_status_render("parikshan_info{role=\"dup\",production=\"127.0.0.1:1\","
				      "mode=\"async\"} 1\n",
				      true, &out),
		     0);
	{
		cJSON *root = cJSON_Parse(pk_strbuf_str(&out));
		cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "targets");

		CHECK(cJSON_IsArray(targets));
		CHECK_EQ_INT(cJSON_GetArraySize(targets), 0);
		cJSON_Delete(root);
	}
	pk_strbuf_release(&out);
}

static void test_not_parikshan_metrics(void)
{
	struct pk_strbuf out = { 0 };

	/* valid Prometheus text, but not from parikshan */
	CHECK_EQ_INT(pk_status_render("# TYPE up gauge\nup 1\n"
				      "parikshan_connections_active 3\n",
				      false, &out),
		     -EINVAL);
	CHECK_EQ_INT(pk_status_render("", false, &out), -EINVAL);
	CHECK_EQ_INT(pk_status_render("", true, &out), -EINVAL);
	/* not Prometheus text at all, even with the info line in it */
	CHECK_EQ_INT(pk_status_render("parikshan_info{role=\"dup\"} 1\n<html>oops</html>\n", false,
				      &out),
		     -EINVAL);
	CHECK_EQ_INT(out.len, 0); /* nothing rendered */
	pk_strbuf_release(&out);
}

/* --compare and --record: the DIVERGED column counts only "different" verdicts, the state
 * says so, and the recorder's line and JSON object appear. */
static void test_compare_and_recording(void)
{
	static const char m[] =
		"parikshan_info{role=\"agg\",production=\"127.0.0.1:6379\",mode=\"async\"} 1\n"
		"parikshan_debug_unpaired_total{target=\"127.0.0.1:7001\"} 4\n"
		"parikshan_debug_close_grace_expired_total{target=\"127.0.0.1:7001\"} 5\n"
		"parikshan_debug_paired_total{target=\"127.0.0.1:7001\",rule=\"content\"} 6\n"
		"parikshan_debug_paired_total{target=\"127.0.0.1:7001\",rule=\"order\"} 7\n"
		"parikshan_compare_bytes_total{target=\"127.0.0.1:7001\"} 2048\n"
		"parikshan_compare_connections_total{target=\"127.0.0.1:7001\",verdict=\"same\"} "
		"9\n"
		"parikshan_compare_connections_total{target=\"127.0.0.1:7001\",verdict="
		"\"different\"} 2\n"
		"parikshan_compare_connections_total{target=\"127.0.0.1:7001\",verdict=\"unknown\"}"
		" 1\n"
		"parikshan_record_packets_total 120\n"
		"parikshan_record_bytes_total 3072\n"
		"parikshan_record_dropped_bytes_total 0\n"
		"parikshan_record_files 2\n"
		"parikshan_record_failed 0\n";
	struct pk_strbuf out = { 0 };
	const char *line;
	char w[24][32];

	CHECK_EQ_INT(pk_status_render(m, false, &out), 0);
	CHECK(strstr(pk_strbuf_str(&out), "recording 120 packets, 3.0K, dropped 0, 2 file(s)\n") !=
	      NULL);
	line = line_starting(pk_strbuf_str(&out), "127.0.0.1:7001 ");
	CHECK(line != NULL);
	if (line) {
		CHECK_EQ_INT(split_words(line, w, 24), 21);
		CHECK_STR(w[14], "4");
		CHECK_STR(w[15], "5");
		CHECK_STR(w[16], "2.0K");
		CHECK_STR(w[17], "2");
		CHECK_STR(w[18], "6");
		CHECK_STR(w[19], "7");
		CHECK_STR(w[20], "diverged");
	}
	pk_strbuf_release(&out);
	CHECK_EQ_INT(pk_status_render(m, true, &out), 0);
	CHECK(strstr(pk_strbuf_str(&out), "\"diverged\":\t2") != NULL);
	CHECK(strstr(pk_strbuf_str(&out), "\"close_grace_expired\":\t5") != NULL);
	CHECK(strstr(pk_strbuf_str(&out), "\"paired_by_content\":\t6") != NULL);
	CHECK(strstr(pk_strbuf_str(&out), "\"paired_by_order\":\t7") != NULL);
	CHECK(strstr(pk_strbuf_str(&out), "\"files\":\t2") != NULL);
	pk_strbuf_release(&out);
}

int main(void)
{
	UNIT_RUN(test_compare_and_recording);
	UNIT_RUN(test_table);
	UNIT_RUN(test_json);
	UNIT_RUN(test_lagging_and_no_targets);
	UNIT_RUN(test_not_parikshan_metrics);
	return unit_done();
}
