/* trace_paths.c — `parikshan trace analyze` and `parikshan trace paths`: load a trace store
 * (src/trace/store.h: SQLite or PostgreSQL), build the request paths (src/trace/analyze.h) and
 * print them (src/trace/paths_out.h); `trace report` writes them as one HTML page
 * (src/trace/report.h); `trace load` fills a store from logd's raw log (src/trace/raw.h). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/args.h"
#include "common/errbuf.h"
#include "trace/analyze.h"
#include "trace/paths_out.h"
#include "trace/raw.h"
#include "trace/store.h"

#define TP_LIMIT_MAX 100000000u

static const char trace_paths_usage[] =
	"usage: parikshan trace analyze (--db FILE | --pg CONNINFO) [--json] [-o FILE]\n"
	"       parikshan trace paths (--db FILE | --pg CONNINFO) [--format "
	"text|json|chrome|otlp]\n"
	"                             [-o FILE] [--limit N]\n"
	"       parikshan trace report (--db FILE | --pg CONNINFO) -o report.html [--limit N]\n"
	"       parikshan trace load RAW (--db FILE | --pg CONNINFO)\n"
	"\n"
	"Build request paths from what 'parikshan trace logd' stored: each request a process\n"
	"served, the calls it made while serving it and the processes that served those, matched\n"
	"by endpoints and byte offsets; every link carries the rule that made it and a\n"
	"confidence; clock offsets between processes come from causality (a send precedes its\n"
	"receive).  'analyze' prints a summary (paths, complete paths, links per rule,\n"
	"processes with their clock offsets, drops, untraceable programs); 'paths' prints every\n"
	"path, slowest first; 'report' writes one self-contained HTML page (no script, nothing\n"
	"fetched): the requests slowest first with a timeline each, latency percentiles per\n"
	"service, processes with their clock offsets, drops and untraceable programs.  'load'\n"
	"stores logd's raw log (its --raw FILE) into a store, as logd would have (a corrupt entry\n"
	"stops it; what came before is kept).\n"
	"\n"
	"  --db FILE        the SQLite store (logd's --db)\n"
	"  --pg CONNINFO    the PostgreSQL store (logd's --pg)\n"
	"  --format F       paths: text (a tree per path, default), json, chrome (Chrome trace\n"
	"                   events, one track per process), otlp (OpenTelemetry JSON spans)\n"
	"  --json           analyze: the summary as JSON; paths: the same as --format json\n"
	"  -o FILE          write there instead of standard output\n"
	"  --limit N        paths: only the N slowest paths (0: all, the default); report: the\n"
	"                   N slowest drawn (default 1000; the counts cover every path)\n"
	"  --help           show this text\n"
	"\n"
	"Exit status: 0 printed, 1 the store cannot be read or the output written, 2 usage.\n";

struct tp_opts {
	const char *verb, *db, *pg, *out, *raw;
	enum pk_trace_fmt fmt;
	bool json;
	uint64_t limit;
};

/* What pk_trace_store_each fills. */
struct tp_load {
	struct pk_trace_ev *ev;
	size_t n, cap;
};

static int tp_add(void *arg, int64_t proc, const struct pk_trace_rec *r)
{
	struct tp_load *l = arg;

	if (l->n == l->cap) {
		size_t nc = l->cap ? 2 * l->cap : 65536;
		struct pk_trace_ev *p = realloc(l->ev, nc * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->ev = p;
		l->cap = nc;
	}
	l->ev[l->n].proc = proc;
	l->ev[l->n].rec = *r;
	l->n++;
	return 0;
}

/* "trace VERB" of a verb this file serves. */
static const char *tp_cmd(const char *verb)
{
	static const char *const cmds[] = { "trace analyze", "trace paths", "trace report",
					    "trace load" };

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i] + 6, verb) == 0)
			return cmds[i];
	return NULL;
}

static int tp_parse(int argc, char **argv, struct tp_opts *o)
{
	enum { OPT_DB = 256, OPT_PG, OPT_FORMAT, OPT_JSON, OPT_LIMIT, OPT_HELP };
	static const struct option opts[] = {
		{ "db", required_argument, NULL, OPT_DB },
		{ "pg", required_argument, NULL, OPT_PG },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = tp_cmd(o->verb);
	bool format_set = false;
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			o->db = optarg;
			break;
		case OPT_PG:
			o->pg = optarg;
			break;
		case OPT_FORMAT:
			if (pk_trace_fmt_parse(optarg, &o->fmt) < 0)
				return pk_cli_bad_value(cmd, "--format", optarg, -EINVAL);
			format_set = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_LIMIT:
			if (pk_parse_uint(optarg, TP_LIMIT_MAX, &o->limit) < 0)
				return pk_cli_bad_value(cmd, "--limit", optarg, -EINVAL);
			break;
		case 'o':
			o->out = optarg;
			break;
		case OPT_HELP:
			fputs(trace_paths_usage, stdout);
			return PK_EXIT_OK;
		case ':':
			return pk_cli_bad(cmd, argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad(cmd, argv[optind - 1],
					  "unknown option (see 'parikshan trace paths --help')");
		}
	}
	if (strcmp(o->verb, "load") == 0) {
		if (optind == argc)
			return pk_cli_bad(cmd, "RAW", "required (logd's --raw log)");
		o->raw = argv[optind++];
	}
	if (optind < argc)
		return pk_cli_bad(cmd, argv[optind], "unexpected argument");
	if (!o->db == !o->pg)
		return pk_cli_bad(cmd, "--db FILE or --pg CONNINFO", "exactly one is required");
	if (strcmp(o->verb, "load") == 0) {
		if (format_set || o->json || o->limit || o->out)
			return pk_cli_bad(cmd, "--format, --json, --limit, -o",
					  "not for 'trace load'");
	} else if (strcmp(o->verb, "analyze") == 0) {
		if (format_set || o->limit)
			return pk_cli_bad(cmd, format_set ? "--format" : "--limit",
					  "only for 'trace paths'");
		o->fmt = o->json ? PK_TRACE_FMT_SUMMARY_JSON : PK_TRACE_FMT_SUMMARY;
	} else if (strcmp(o->verb, "report") == 0) {
		if (format_set || o->json)
			return pk_cli_bad(cmd, format_set ? "--format" : "--json",
					  "not for 'trace report' (an HTML page)");
		o->fmt = PK_TRACE_FMT_HTML;
	} else if (o->json) {
		if (format_set && o->fmt != PK_TRACE_FMT_JSON)
			return pk_cli_bad(cmd, "--json", "conflicts with --format");
		o->fmt = PK_TRACE_FMT_JSON;
	}
	return -1;
}

/* Loads the store, analyses it and writes the result. */
static int tp_run(const struct tp_opts *o, const char *cmd)
{
	struct pk_trace_store *s = NULL;
	struct pk_trace_proc *procs = NULL;
	struct pk_trace_paths *p = NULL;
	struct tp_load l = { 0 };
	size_t nprocs = 0;
	char err[256] = "";
	FILE *f = stdout;
	int rc;

	rc = pk_trace_store_open(o->db, o->pg, false, &s, err, sizeof(err));
	if (!rc)
		rc = pk_trace_store_procs(s, &procs, &nprocs, err, sizeof(err));
	if (!rc) {
		rc = pk_trace_store_each(s, tp_add, &l, err, sizeof(err));
		if (rc == -ENOMEM && !err[0])
			snprintf(err, sizeof(err), "loading the records: out of memory");
	}
	pk_trace_store_close(s);
	if (rc) {
		rc = pk_cli_fail(PK_EXIT_RUNTIME, cmd, "%s: %s", o->db ? o->db : "PostgreSQL",
				 err[0] ? err : strerror(-rc));
		goto out;
	}
	if ((rc = pk_trace_analyze(procs, nprocs, l.ev, l.n, &p, err, sizeof(err))) < 0) {
		rc = pk_cli_fail(PK_EXIT_RUNTIME, cmd, "%s", err);
		goto out;
	}
	free(l.ev);
	l.ev = NULL;
	if (o->out && !(f = fopen(o->out, "we"))) {
		rc = pk_cli_fail(PK_EXIT_RUNTIME, cmd, "%s: %s", o->out, strerror(errno));
		goto out;
	}
	rc = pk_trace_paths_write(p, o->fmt, (size_t)o->limit, f, err, sizeof(err));
	if (f != stdout && fclose(f) != 0 && !rc)
		rc = pk_errbuf_set(-errno, err, sizeof(err), "closing: %s", strerror(errno));
	rc = rc ? pk_cli_fail(PK_EXIT_RUNTIME, cmd, "%s: %s", o->out ? o->out : "stdout", err)
		: PK_EXIT_OK;
out:
	pk_trace_paths_free(p);
	free(procs);
	free(l.ev);
	return rc;
}

/* Stores the raw log o->raw into the store (made when missing). */
static int tp_load(const struct tp_opts *o, const char *cmd)
{
	struct pk_trace_store *s = NULL;
	struct pk_trace_raw_stats st = { 0 };
	char err[256] = "";
	int rc;

	if (access(o->raw, R_OK) != 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, cmd, "%s: %s", o->raw, strerror(errno));
	rc = pk_trace_store_open(o->db, o->pg, true, &s, err, sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, cmd, "%s: %s", o->db ? o->db : "PostgreSQL",
				   err[0] ? err : strerror(-rc));
	rc = pk_trace_raw_load(o->raw, s, &st, err, sizeof(err));
	pk_trace_store_close(s);
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, cmd,
				   "%s (kept what came before: %llu processes, %llu records)",
				   err[0] ? err : strerror(-rc), (unsigned long long)st.procs,
				   (unsigned long long)st.recs);
	printf("trace load: %llu processes, %llu records stored\n", (unsigned long long)st.procs,
	       (unsigned long long)st.recs);
	return PK_EXIT_OK;
}

int pk_cli_trace_paths(int argc, char **argv)
{
	struct tp_opts o = { .verb = argc > 0 ? argv[0] : "paths" };
	const char *cmd = tp_cmd(o.verb);
	int rc;

	if (!cmd)
		return pk_cli_bad("trace", o.verb, "not analyze, paths, report or load");
	if ((rc = tp_parse(argc, argv, &o)) >= 0)
		return rc;
	return o.raw ? tp_load(&o, cmd) : tp_run(&o, cmd);
}
