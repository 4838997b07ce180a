/* fuzz_status.c — libFuzzer target: any bytes, as the status document `parikshan status` reads
 * from a proxy's GET /status.json: pk_status_render(), that is pk_proxy_status_parse() and then
 * the table, or pk_proxy_status_write() (--json).
 *
 * Besides the sanitizers' checks, it asserts the promises: both forms render, or both fail with
 * -EINVAL and render nothing; the document written back is read again and written back the
 * same (a fixpoint), with the same table; the table holds only printable ASCII and newlines (it
 * goes to a terminal) and one row per target of the document.  Built with clang by `make fuzz`,
 * and with gcc+ASan into test_fuzz_corpus.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/status_view.h"

#define FUZZ_TARGET "fuzz_status"
#include "fuzz.h"

#define FUZZ_MAX_DOC 65536

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The table's shape: printable, and as many lines as the document (as written back) says. */
static void check_table(const char *table, const char *doc)
{
	cJSON *root = cJSON_Parse(doc);
	int ntargets;
	size_t want;

	require(root != NULL, "the document written back is JSON");
	if (!root)
		return;
	ntargets = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "targets"));
	want = 4 + (cJSON_GetObjectItemCaseSensitive(root, "recording") ? 1 : 0) +
	       (ntargets ? 2 + (size_t)ntargets : 1);
	cJSON_Delete(root);
	for (const char *p = table; *p; p++)
		require(*p == '\n' || (*p >= 0x20 && *p <= 0x7e), "table: printable ASCII");
	require(count_lines(table) == want, "table: summary, header and one row per target");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pk_strbuf table = { 0 }, json = { 0 }, table2 = { 0 }, json2 = { 0 };
	char *text;
	int rc_table, rc_json;

	text = fuzz_text(data, size, FUZZ_MAX_DOC);
	if (!text)
		return 0;
	rc_table = pk_status_render(text, false, &table);
	rc_json = pk_status_render(text, true, &json);
	require(rc_table == 0 || rc_table == -EINVAL, "table: rendered or -EINVAL");
	require(rc_json == rc_table, "--json: as the table");
	if (rc_table < 0) {
		require(table.len == 0 && json.len == 0, "nothing rendered for what is refused");
		goto out;
	}
	require(pk_strbuf_ok(&table) && pk_strbuf_ok(&json), "a rendering");
	require(pk_status_render(pk_strbuf_str(&json), true, &json2) == 0,
		"the document written back is read again");
	require(strcmp(pk_strbuf_str(&json2), pk_strbuf_str(&json)) == 0,
		"the document written back is written back the same");
	require(pk_status_render(pk_strbuf_str(&json), false, &table2) == 0 &&
			strcmp(pk_strbuf_str(&table2), pk_strbuf_str(&table)) == 0,
		"the document written back has the same table");
	check_table(pk_strbuf_str(&table), pk_strbuf_str(&json));
out:
	pk_strbuf_release(&table);
	pk_strbuf_release(&json);
	pk_strbuf_release(&table2);
	pk_strbuf_release(&json2);
	free(text);
	return 0;
}
