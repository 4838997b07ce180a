/* cmd_coldpatch.c — `parikshan coldpatch BIN -o OUT`: rewrites the -finstrument-functions calls
 * of a program or shared library into NOPs and stores its probe table in it (src/probe's
 * pk_coldpatch); `--list BIN` shows the probe table a file offers (cold-patched, or its
 * patchable function entries).  This file parses, calls, and prints. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/args.h"
#include "common/json.h"
#include "probe/table.h"

static const char coldpatch_usage[] =
	"usage: parikshan coldpatch BIN -o OUT [--json]\n"
	"       parikshan coldpatch --list BIN [--json]\n"
	"\n"
	"Prepare a program (or shared library) built with -finstrument-functions for iProbe:\n"
	"every call to __cyg_profile_func_enter/_exit becomes a NOP of the same length, and\n"
	"where each one was (the probe table) is stored in OUT's section " PK_TABLE_SECTION ".\n"
	"OUT runs as BIN did, without the calls' cost; `probe` switches them back on.  BIN needs\n"
	"its symbol table (not stripped).  A binary built with -fpatchable-function-entry=5\n"
	"needs no cold patch.\n"
	"\n"
	"  -o, --output OUT  the file to write (replaced atomically; BIN's mode)\n"
	"  --list            show BIN's probe table: each function and its entry/exit sites\n"
	"  --json            print JSON instead of a line (or a table)\n"
	"  --help            show this text\n"
	"\n"
	"example:\n"
	"  cc -O2 -finstrument-functions -o server server.c\n"
	"  parikshan coldpatch server -o server.cold && parikshan coldpatch --list server.cold\n";

enum { OPT_LIST = 256, OPT_JSON, OPT_HELP };

static const struct option coldpatch_options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct coldpatch_opts {
	const char *in, *out;
	bool list, json;
};

/* Prints root (consumed) to stdout; the exit status. */
static int print_json(cJSON *root)
{
	struct pk_strbuf out = { 0 };
	int rc = pk_json_print(root, &out);

	if (rc == 0)
		fputs(pk_strbuf_str(&out), stdout);
	pk_strbuf_release(&out);
	cJSON_Delete(root);
	return rc < 0 ? pk_cli_fail(PK_EXIT_RUNTIME, "coldpatch", "%s", strerror(-rc)) : PK_EXIT_OK;
}

static int do_patch(const struct coldpatch_opts *o)
{
	struct pk_coldpatch_stats st;
	char err[512];
	cJSON *j;

	if (pk_coldpatch(o->in, o->out, &st, err, sizeof(err)) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "coldpatch", "%s", err);
	if (!o->json) {
		printf("cold-patched %zu functions: %zu entry and %zu exit sites -> %s\n", st.funcs,
		       st.entries, st.exits, o->out);
		if (st.skipped)
			printf("%zu other references to __cyg_profile_func_enter/exit left as they "
			       "are (not a plain call)\n",
			       st.skipped);
		return PK_EXIT_OK;
	}
	j = cJSON_CreateObject();
	if (j) {
		cJSON_AddStringToObject(j, "in", o->in);
		cJSON_AddStringToObject(j, "out", o->out);
		cJSON_AddNumberToObject(j, "functions", (double)st.funcs);
		cJSON_AddNumberToObject(j, "entries", (double)st.entries);
		cJSON_AddNumberToObject(j, "exits", (double)st.exits);
		cJSON_AddNumberToObject(j, "skipped", (double)st.skipped);
	}
	return print_json(j);
}

/* Counts function f's entry and exit sites. */
static void func_sites(const struct pk_probe_table *t, size_t f, size_t *entries, size_t *exits)
{
	*entries = *exits = 0;
	for (size_t i = 0; i < t->nsites; i++)
		if (t->sites[i].func == f)
			t->sites[i].kind == PK_SITE_ENTRY ? (*entries)++ : (*exits)++;
}

static cJSON *list_json(const struct coldpatch_opts *o, const struct pk_probe_table *t)
{
	cJSON *j = cJSON_CreateObject(), *funcs;

	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "file", o->in);
	cJSON_AddBoolToObject(j, "pie", t->pie);
	cJSON_AddStringToObject(j, "sites_from", t->entry_only ? "patchable" : "coldpatch");
	funcs = cJSON_AddArrayToObject(j, "functions");
	for (size_t i = 0; funcs && i < t->nfuncs; i++) {
		cJSON *f = cJSON_CreateObject();
		char addr[32];
		size_t entries, exits;

		if (!f)
			break;
		func_sites(t, i, &entries, &exits);
		snprintf(addr, sizeof(addr), "0x%" PRIx64, t->funcs[i].addr);
		cJSON_AddStringToObject(f, "name", t->funcs[i].name);
		cJSON_AddStringToObject(f, "addr", addr);
		cJSON_AddNumberToObject(f, "size", (double)t->funcs[i].size);
		cJSON_AddNumberToObject(f, "entry_sites", (double)entries);
		cJSON_AddNumberToObject(f, "exit_sites", (double)exits);
		cJSON_AddItemToArray(funcs, f);
	}
	return j;
}

static int do_list(const struct coldpatch_opts *o)
{
	struct pk_probe_table t;
	char err[512];
	size_t entries, exits;
	int rc;

	if (pk_probe_table_load(o->in, &t, err, sizeof(err)) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "coldpatch", "%s", err);
	if (o->json) {
		rc = print_json(list_json(o, &t));
		pk_probe_table_release(&t);
		return rc;
	}
	printf("%s: %zu functions, %zu sites (%s%s)\n", o->in, t.nfuncs, t.nsites,
	       t.entry_only ? "patchable function entries" : "cold-patched",
	       t.pie ? ", position independent" : "");
	printf("%-18s %5s %5s  %s\n", "ADDRESS", "ENTRY", "EXIT", "FUNCTION");
	for (size_t i = 0; i < t.nfuncs; i++) {
		func_sites(&t, i, &entries, &exits);
		printf("0x%016" PRIx64 " %5zu %5zu  %s\n", t.funcs[i].addr, entries, exits,
		       t.funcs[i].name);
	}
	pk_probe_table_release(&t);
	return PK_EXIT_OK;
}

int pk_cmd_coldpatch(int argc, char **argv)
{
	struct coldpatch_opts o = { 0 };
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:", coldpatch_options, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.out = optarg;
			break;
		case OPT_LIST:
			o.list = true;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_HELP:
			fputs(coldpatch_usage, stdout);
			return PK_EXIT_OK;
		case ':':
			return pk_cli_bad("coldpatch", argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad("coldpatch", argv[optind - 1],
					  "unknown option (see 'parikshan coldpatch --help')");
		}
	}
	if (optind >= argc)
		return pk_cli_fail(PK_EXIT_USAGE, "coldpatch",
				   "BIN: missing (see 'parikshan "
				   "coldpatch --help')");
	if (optind + 1 < argc)
		return pk_cli_fail(PK_EXIT_USAGE, "coldpatch", "unexpected argument '%s'",
				   argv[optind + 1]);
	o.in = argv[optind];
	if (o.list && o.out)
		return pk_cli_bad("coldpatch", "--list", "takes no -o (it only reads BIN)");
	if (o.list)
		return do_list(&o);
	if (!o.out)
		return pk_cli_bad("coldpatch", "-o", "missing: where to write the patched file");
	return do_patch(&o);
}
