/* test_trace_cli.c — `trace analyze` and `trace paths` (src/cli/trace_paths.c) over a stand-in
 * store: this file defines the store.h functions the CLI reads with (open, procs, each,
 * close; the writers only refuse, for `trace load`'s argument checks) on the synthetic chain of
 * trace_synth.h, so the CLI's flags, loading, errors and outputs are tested without SQLite.  (The
 * linker takes these before the archive's.) */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/errbuf.h"
#include "trace/store.h"
#include "trace_synth.h"
#include "unit.h"

struct pk_trace_store {
	struct synth s;
};

static int fake_fail_each; /* each() fails with this after a few records */

int pk_trace_store_open(const char *db, const char *pg, bool create, struct pk_trace_store **out,
			char *err, size_t errlen)
{
	struct synth_opts o = { .n = 10, .conc = 2, .extras = true };

	if (!db || strcmp(db, "chain.sqlite") != 0)
		return pk_errbuf_set(-ENOENT, err, errlen, "no such store");
	*out = calloc(1, sizeof(**out));
	if (!*out || !synth_chain(&(*out)->s, &o))
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	return 0;
}

void pk_trace_store_close(struct pk_trace_store *s)
{
	if (s)
		free(s->s.ev);
	free(s);
}

int pk_trace_store_procs(struct pk_trace_store *s, struct pk_trace_proc **procs, size_t *n,
			 char *err, size_t errlen)
{
	*procs = malloc(s->s.nprocs * sizeof(**procs));
	if (!*procs)
		return -ENOMEM;
	memcpy(*procs, s->s.procs, s->s.nprocs * sizeof(**procs));
	*n = s->s.nprocs;
	return 0;
}

int pk_trace_store_each(struct pk_trace_store *s,
			int (*cb)(void *arg, int64_t proc, const struct pk_trace_rec *r), void *arg,
			char *err, size_t errlen)
{
	for (size_t i = 0; i < s->s.nev; i++) {
		int rc;

		if (fake_fail_each && i == 5)
			return pk_errbuf_set(fake_fail_each, err, errlen, "database is down");
		if ((rc = cb(arg, s->s.ev[i].proc, &s->s.ev[i].rec)) != 0)
			return rc;
	}
	return 0;
}

int pk_trace_store_add_proc(struct pk_trace_store *s, const struct pk_trace_hello *h, int64_t *proc,
			    char *err, size_t errlen)
{
	return pk_errbuf_set(-EROFS, err, errlen, "the stand-in store is read-only");
}

int pk_trace_store_add_recs(struct pk_trace_store *s, int64_t proc, const struct pk_trace_rec *r,
			    size_t n, char *err, size_t errlen)
{
	return pk_errbuf_set(-EROFS, err, errlen, "the stand-in store is read-only");
}

int pk_trace_store_commit(struct pk_trace_store *s, char *err, size_t errlen)
{
	return 0;
}

/* Runs the CLI with argv (NULL-terminated) and its stdout into a file; returns the exit
 * status and the output (free it). */
static int cli(char **out, const char *const *args)
{
	char path[] = "/tmp/pk-test-trace-cli.XXXXXX";
	char *argv[16];
	int argc = 0, fd = mkstemp(path), saved = dup(STDOUT_FILENO), rc;
	FILE *f;
	long len;

	while (args[argc] && argc < 15) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	fflush(stdout);
	dup2(fd, STDOUT_FILENO);
	rc = pk_cli_trace_paths(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	*out = NULL;
	f = fopen(path, "r");
	if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
	    (*out = calloc(1, (size_t)len + 1)) != NULL) {
		rewind(f);
		if (fread(*out, 1, (size_t)len, f) != (size_t)len)
			(*out)[0] = 0;
	}
	if (f)
		fclose(f);
	unlink(path);
	return rc;
}

static void test_paths_text(void)
{
	char *out;

	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", "--db", "chain.sqlite", NULL }), 0);
	CHECK(out && strstr(out, "path 10  ") && strstr(out, "untraceable: /x/static-bin"));
	free(out);
}

static void test_report(void)
{
	char *out;

	CHECK_EQ_INT(cli(&out, (const char *[]){ "report", "--db", "chain.sqlite", "--limit", "4",
						 NULL }),
		     0);
	CHECK(out && strncmp(out, "<!DOCTYPE html>", 15) == 0);
	CHECK(out && strstr(out, "<b id=requests>10</b> requests"));
	CHECK(out && strstr(out, "the 4 slowest of 10"));
	CHECK(out && strstr(out, "/x/static-bin"));
	free(out);
}

static void test_paths_json(void)
{
	char *out;
	cJSON *root;

	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", "--db", "chain.sqlite", "--format",
						 "json", "--limit", "3", NULL }),
		     0);
	root = cJSON_Parse(out ? out : "");
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "paths")), 3);
	CHECK_EQ_INT(cJSON_GetObjectItem(root, "dropped")
			     ? cJSON_GetObjectItem(root, "dropped")->valueint
			     : -1,
		     10);
	cJSON_Delete(root);
	free(out);
}

static void test_analyze_json(void)
{
	char *out;
	cJSON *root;

	CHECK_EQ_INT(
		cli(&out, (const char *[]){ "analyze", "--db", "chain.sqlite", "--json", NULL }),
		0);
	root = cJSON_Parse(out ? out : "");
	CHECK(cJSON_GetObjectItem(root, "paths") &&
	      cJSON_GetObjectItem(root, "paths")->valueint == 10);
	CHECK(cJSON_GetObjectItem(root, "complete") &&
	      cJSON_GetObjectItem(root, "complete")->valueint == 10);
	CHECK(cJSON_GetObjectItem(root, "rules") != NULL);
	cJSON_Delete(root);
	free(out);
}

static void test_output_file(void)
{
	char *out, path[] = "/tmp/pk-test-trace-otlp.XXXXXX", buf[32] = "";
	int fd = mkstemp(path);
	FILE *f;

	close(fd);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", "--db", "chain.sqlite", "--format",
						 "otlp", "-o", path, NULL }),
		     0);
	CHECK(out && out[0] == 0);
	f = fopen(path, "r");
	CHECK(f && fread(buf, 1, 17, f) == 17);
	CHECK(strncmp(buf, "{\"resourceSpans\":", 17) == 0);
	if (f)
		fclose(f);
	unlink(path);
	free(out);
}

static void test_errors(void)
{
	char *out;

	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", NULL }), 2);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", "--db", "a", "--pg", "b", NULL }), 2);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", "--db", "x", "--format", "svg", NULL }),
		     2);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "report", "--db", "x", "--format", "json", NULL }),
		     2);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "analyze", "--db", "x", "--limit", "3", NULL }),
		     2);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", "--db", "x", "--bogus", NULL }), 2);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", "--db", "missing.sqlite", NULL }), 1);
	free(out);
	fake_fail_each = -EIO;
	CHECK_EQ_INT(cli(&out, (const char *[]){ "analyze", "--db", "chain.sqlite", NULL }), 1);
	CHECK(out && out[0] == 0);
	free(out);
	fake_fail_each = 0;
	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", "--db", "chain.sqlite", "-o",
						 "/nonexistent-dir/x", NULL }),
		     1);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "paths", "--help", NULL }), 0);
	CHECK(out && strstr(out, "usage: parikshan trace analyze"));
	free(out);
	/* trace load: RAW required, one store, no output flags, a missing RAW before the store */
	CHECK_EQ_INT(cli(&out, (const char *[]){ "load", "--db", "chain.sqlite", NULL }), 2);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "load", "x.raw", NULL }), 2);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "load", "x.raw", "--db", "chain.sqlite", "--json",
						 NULL }),
		     2);
	free(out);
	CHECK_EQ_INT(cli(&out, (const char *[]){ "load", "/nonexistent.raw", "--db", "chain.sqlite",
						 NULL }),
		     1);
	free(out);
}

int main(void)
{
	UNIT_RUN(test_paths_text);
	UNIT_RUN(test_paths_json);
	UNIT_RUN(test_report);
	UNIT_RUN(test_analyze_json);
	UNIT_RUN(test_output_file);
	UNIT_RUN(test_errors);
	return unit_done();
}
