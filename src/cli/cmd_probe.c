/* cmd_probe.c — `parikshan probe list|enable|disable|dump|fperf --pid PID ...`: function probes in
 * a live process.  Parsing and printing only; the work is src/probe's. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/proc.h"
#include "common/args.h"
#include "common/errbuf.h"
#include "common/json.h"
#include "common/strbuf.h"
#include "cli/probe_drain.h"
#include "cli/probe_fperf.h"
#include "probe/dump.h"
#include "probe/probe.h"
#include "probe/shm.h"

#define PROBE_MAX_FILES 16
#define ATTACH_TIMEOUT_MS 5000

static const char probe_usage[] =
	"usage: parikshan probe list    --pid PID [--file LIB]... [--json] [PATTERN...]\n"
	"       parikshan probe enable  --pid PID [--file LIB]... [--entry|--exit] [--budget PCT]\n"
	"                               PATTERN...\n"
	"       parikshan probe disable --pid PID [--file LIB]... [PATTERN...]\n"
	"       parikshan probe dump    --pid PID [--format F] [-o FILE]\n"
	"       parikshan probe dump    --pid PID --follow [--duration D] [-o FILE]\n"
	"       parikshan probe fperf   --pid PID [--file LIB]... [--events LIST]\n"
	"                               [--duration D] [--json] [-o FILE] FUNC...\n"
	"       parikshan probe sample  --pid PID [--file LIB]... [--rate N] [FUNC...]\n"
	"\n"
	"Function probes in a live process, off by default and free while off.  The process's\n"
	"executable (or the shared libraries named with --file) must have probe sites: built with\n"
	"-finstrument-functions and cold-patched ('parikshan coldpatch'), or built with\n"
	"-fpatchable-function-entry=5 (entry probes only).  The first 'enable' loads libiprobe.so\n"
	"into the process through ptrace; from then on probes are switched inside the process\n"
	"without stopping its threads, and every thread that hits one writes events to its own\n"
	"shared-memory ring.  Works on a process in a clone (other namespaces): give its pid as\n"
	"the host sees it.\n"
	"\n"
	"  list             the functions with probe sites and whether they are on\n"
	"  enable           switch on the probes of functions matching PATTERN (shell globs)\n"
	"  disable          switch them off (every function when no PATTERN), restoring the\n"
	"                   exact NOP bytes\n"
	"  dump             drain the recorded events (they are consumed) to stdout or FILE;\n"
	"                   with --follow, keep draining and print the events as text while\n"
	"                   they come (every 1 to 100 ms), until Ctrl-C/SIGTERM, --duration,\n"
	"                   or the process's exit\n"
	"  fperf            per-function performance counters: switch on the entry and exit\n"
	"                   probes of the functions matching FUNC (globs), read the counters of\n"
	"                   the calling thread at each (perf_event_open; rdpmc where the kernel\n"
	"                   allows it), then switch them off again and print per function: calls,\n"
	"                   and per counter the inclusive total, its mean per call and the\n"
	"                   exclusive mean (minus probed callees)\n"
	"  sample           record only 1 call in N: of the functions matching FUNC (globs), or\n"
	"                   of every probe when no FUNC is given (a probe records at the lower\n"
	"                   of its rate and the global one).  Decided per thread at each entry\n"
	"                   (its exit follows); a rate change is a marker in the dump, whose\n"
	"                   table shows the rate and est_calls (calls x N).  Without --rate,\n"
	"                   print the current rates\n"
	"\n"
	"  --pid PID        the target process (required)\n"
	"  --file LIB       a mapped shared library instead of the executable (a path or a base\n"
	"                   name as in /proc/PID/maps); repeatable\n"
	"  --entry, --exit  enable only entry or only exit probes (default both)\n"
	"  --budget PCT     keep the probes' cost under PCT percent of the process's CPU time:\n"
	"                   every 200 ms libiprobe counts each probe's events, estimates their\n"
	"                   cost (events x its measured cost of one) and switches the hottest off\n"
	"                   until the estimate fits; each such switch is a marker in the dump and\n"
	"                   'auto-off' in list ('enable' again turns a probe back on; 0: no "
	"budget)\n"
	"  --format F       text (default), json, chrome (Chrome trace-event JSON for Perfetto\n"
	"                   UI), perfetto (Perfetto's protobuf trace, for ui.perfetto.dev and\n"
	"                   trace_processor: compact, for traces too large for JSON; write it\n"
	"                   with -o), folded (flame graphs), table (calls, inclusive and\n"
	"                   exclusive time per function, and drops)\n"
	"  --events LIST    fperf: counters, comma-separated: cycles, instructions,\n"
	"                   cache-misses, branch-misses (hardware), task-clock, cpu-clock (ns),\n"
	"                   page-faults, minor-faults, major-faults, context-switches,\n"
	"                   cpu-migrations (default cycles,instructions; where the kernel offers\n"
	"                   no hardware counter, task-clock,page-faults,context-switches, said\n"
	"                   on stderr)\n"
	"  --rate N         sample: 1 call in N, a power of two up to 65536 (1: every call)\n"
	"  --duration D     fperf, dump --follow: for D (e.g. 10s, 500ms; default until\n"
	"                   Ctrl-C/SIGTERM)\n"
	"  -o FILE          write the dump (or the fperf table) to FILE\n"
	"  --json           list or fperf as JSON\n"
	"  --help           show this text\n"
	"\n"
	"Events lost because a thread's ring was full are counted and shown in every format.\n"
	"Environment: PK_IPROBE_LIB overrides where libiprobe.so is found (default: beside the\n"
	"parikshan binary, then ../lib/parikshan/).\n"
	"Example: parikshan probe enable --pid 4242 'process*'; parikshan probe dump --pid 4242\n"
	"         --format chrome -o trace.json\n"
	"Exit status: 0 done, 1 failed (the target keeps running), 2 usage.\n";

enum {
	OPT_PID = 256,
	OPT_FILE,
	OPT_ENTRY,
	OPT_EXIT,
	OPT_FORMAT,
	OPT_BUDGET,
	OPT_JSON,
	OPT_EVENTS,
	OPT_DURATION,
	OPT_RATE,
	OPT_FOLLOW,
	OPT_HELP,
};

static const struct option probe_options[] = {
	{ "pid", required_argument, NULL, OPT_PID },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "entry", no_argument, NULL, OPT_ENTRY },
	{ "exit", no_argument, NULL, OPT_EXIT },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "budget", required_argument, NULL, OPT_BUDGET },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "events", required_argument, NULL, OPT_EVENTS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "follow", no_argument, NULL, OPT_FOLLOW },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct probe_opts {
	pid_t pid;
	const char *files[PROBE_MAX_FILES];
	size_t nfiles;
	unsigned kinds;
	enum pk_dump_format format;
	const char *out;
	bool json;
	double budget; /* --budget PCT; < 0: not given */
	struct pk_fperf_opts fperf;
	bool events_opt; /* --events given */
	bool follow;	 /* dump --follow */
	int rate_log2;	 /* --rate N as log2 N; < 0: not given */
};

/* Parses one option into o; returns -1 to go on, else the exit status. */
static int parse_opt(int c, struct probe_opts *o, char **argv)
{
	uint64_t v;
	int f;

	switch (c) {
	case OPT_PID:
		if (pk_parse_uint(optarg, INT_MAX, &v) || v == 0)
			return pk_cli_bad_value("probe", "--pid", optarg, -EINVAL);
		o->pid = (pid_t)v;
		return -1;
	case OPT_FILE:
		if (o->nfiles == PROBE_MAX_FILES)
			return pk_cli_bad("probe", "--file",
					  "given more than " PK_STR(PROBE_MAX_FILES) " times");
		o->files[o->nfiles++] = optarg;
		return -1;
	case OPT_ENTRY:
		o->kinds = PK_PROBE_ENTRY;
		return -1;
	case OPT_EXIT:
		o->kinds = PK_PROBE_EXIT;
		return -1;
	case OPT_FORMAT:
		if ((f = pk_dump_format_parse(optarg)) < 0)
			return pk_cli_fail(PK_EXIT_USAGE, "probe",
					   "--format '%s': not a format (text, json, chrome, "
					   "perfetto, folded, table)",
					   optarg);
		o->format = (enum pk_dump_format)f;
		return -1;
	case 'o':
		o->out = optarg;
		return -1;
	case OPT_BUDGET:
		if (pk_parse_double(optarg, 0, 100, &o->budget))
			return pk_cli_bad_value("probe", "--budget", optarg, -EINVAL);
		return -1;
	case OPT_JSON:
		o->json = true;
		return -1;
	case OPT_EVENTS: {
		char err[512];

		o->fperf.nev = pk_perf_parse(optarg, o->fperf.ev, PK_PERF_MAX, err, sizeof(err));
		if (o->fperf.nev < 0)
			return pk_cli_fail(PK_EXIT_USAGE, "probe", "--events: %s", err);
		o->events_opt = true;
		return -1;
	}
	case OPT_DURATION:
		if (pk_parse_duration(optarg, 86400ull * 1000000000ull, &o->fperf.duration_ns) ||
		    !o->fperf.duration_ns)
			return pk_cli_bad_value("probe", "--duration", optarg, -EINVAL);
		return -1;
	case OPT_FOLLOW:
		o->follow = true;
		return -1;
	case OPT_RATE:
		if (pk_parse_uint(optarg, 1u << PK_IPROBE_SAMPLE_MAX, &v) || !v || (v & (v - 1)))
			return pk_cli_fail(PK_EXIT_USAGE, "probe",
					   "--rate '%s': not a power of two from 1 to %u", optarg,
					   1u << PK_IPROBE_SAMPLE_MAX);
		o->rate_log2 = __builtin_ctzll(v);
		return -1;
	case OPT_HELP:
		fputs(probe_usage, stdout);
		return PK_EXIT_OK;
	case ':':
		return pk_cli_bad("probe", argv[optind - 1], "needs a value");
	default:
		return pk_cli_bad("probe", argv[optind - 1],
				  "unknown option (see 'parikshan probe --help')");
	}
}

static const char *state_of(struct pk_probe_target *t, uint64_t addr)
{
	const struct pk_iprobe_probe *p = pk_probe_find(t, addr);

	if (!p)
		return "off";
	if (p->flags & PK_IPROBE_F_AUTOOFF)
		return "auto-off";
	return p->flags & PK_IPROBE_F_ON ? "on" : "off";
}

static bool matches(const char *name, char **globs, int n)
{
	if (!n)
		return true;
	for (int i = 0; i < n; i++)
		if (!fnmatch(globs[i], name, 0))
			return true;
	return false;
}

/* One row of list: to the table, or to the JSON array. */
static int list_row(cJSON *arr, const char *name, unsigned ne, unsigned nx, const char *state,
		    const char *module)
{
	cJSON *o;

	if (!arr) {
		printf("%-40s %5u %5u %-8s %s\n", name, ne, nx, state, module);
		return 0;
	}
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "name", name) ||
	    !cJSON_AddNumberToObject(o, "entry_sites", ne) ||
	    !cJSON_AddNumberToObject(o, "exit_sites", nx) ||
	    !cJSON_AddStringToObject(o, "state", state) ||
	    !cJSON_AddStringToObject(o, "module", module))
		return -ENOMEM;
	return 0;
}

static int do_list(struct pk_probe_target *t, char **globs, int nglobs, bool json)
{
	cJSON *root = NULL, *arr = NULL;
	struct pk_strbuf sb = { 0 };
	size_t shown = 0;
	int rc = 0;

	if (json) {
		root = cJSON_CreateObject();
		if (!root || !cJSON_AddNumberToObject(root, "pid", t->pid) ||
		    !(arr = cJSON_AddArrayToObject(root, "functions")))
			rc = -ENOMEM;
	} else {
		printf("%-40s %5s %5s %-8s %s\n", "function", "entry", "exit", "state", "module");
	}
	for (size_t m = 0; !rc && m < t->nmods; m++) {
		const struct pk_probe_table *tb = &t->mods[m].table;

		for (size_t i = 0; !rc && i < tb->nfuncs; i++) {
			const struct pk_func *f = &tb->funcs[i];
			unsigned ne = 0, nx = 0;

			if (!matches(f->name, globs, nglobs))
				continue;
			for (size_t s = 0; s < tb->nsites; s++)
				if (tb->sites[s].func == i)
					tb->sites[s].kind == PK_SITE_EXIT ? nx++ : ne++;
			if (!ne && !nx)
				continue;
			rc = list_row(arr, f->name, ne, nx, state_of(t, f->addr + t->mods[m].bias),
				      t->mods[m].path);
			shown++;
		}
	}
	if (!rc && json && !(rc = pk_json_print(root, &sb)))
		fwrite(sb.s, 1, sb.len, stdout);
	pk_strbuf_release(&sb);
	cJSON_Delete(root);
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "probe list", "%s", strerror(-rc));
	if (!shown)
		return pk_cli_fail(PK_EXIT_RUNTIME, "probe list", "no function of %d matches",
				   (int)t->pid);
	return PK_EXIT_OK;
}

int pk_cli_probe_attach(struct pk_probe_target *t, const char *what)
{
	char lib[PATH_MAX], err[512];
	int rc = pk_proc_own_lib("PK_IPROBE_LIB", "libiprobe.so", lib, sizeof(lib));

	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, what,
				   "libiprobe.so not found (set PK_IPROBE_LIB): %s", strerror(-rc));
	rc = pk_probe_attach(t, lib, ATTACH_TIMEOUT_MS, err, sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, what, "%s", err);
	return 0;
}

static int do_switch(struct pk_probe_target *t, const struct probe_opts *o, bool on, char **globs,
		     int nglobs)
{
	struct pk_probe_switch_stats st;
	char err[512];
	int rc;

	if (on) {
		rc = pk_cli_probe_attach(t, "probe enable");
		if (rc)
			return rc;
	} else if (!t->shm) {
		return pk_cli_fail(PK_EXIT_RUNTIME, "probe disable",
				   "no probe is on in %d (libiprobe is not loaded)", (int)t->pid);
	}
	rc = pk_probe_switch(t, (const char *const *)globs, (size_t)nglobs, on,
			     o->kinds ? o->kinds : PK_PROBE_BOTH, &st, err, sizeof(err));
	if (!rc && on && o->budget >= 0)
		rc = pk_probe_budget(t, o->budget, err, sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, on ? "probe enable" : "probe disable", "%s",
				   err);
	printf("%s %zu functions in %d: %zu sites switched, %zu already %s",
	       on ? "enabled" : "disabled", st.funcs, (int)t->pid, st.sites, st.already,
	       on ? "on" : "off");
	printf(" (%.3f ms in the process, no thread stopped)", (double)st.batch_ns / 1e6);
	if (st.deferred)
		printf(", %zu deferred (%llu threads signalled, %llu moved past an entry, "
		       "%llu int3 traps; most CPU in a handler %.3f ms)",
		       st.deferred, (unsigned long long)st.trap_signalled,
		       (unsigned long long)st.trap_moved, (unsigned long long)st.trap_hits,
		       (double)st.trap_ns / 1e6);
	if (st.stopped)
		printf(", %zu through ptrace (longest stop of a thread %.3f ms)", st.stopped,
		       (double)st.pause_ns / 1e6);
	printf("\n");
	return PK_EXIT_OK;
}

/* What one drain of `dump --follow` needs: the target, where the text goes, the threads'
 * open calls from one drain to the next. */
struct follow_drain {
	struct pk_probe_target *t;
	FILE *out;
	struct pk_dump_table state;
};

static int follow_drain(void *arg, struct pk_dump_stats *st, char *err, size_t errlen)
{
	struct follow_drain *f = arg;
	int rc = pk_probe_dump_text_next(f->t, f->out, st, &f->state, err, errlen);

	if (!rc && fflush(f->out))
		rc = pk_errbuf_set(-errno, err, errlen, "write the dump: %s", strerror(errno));
	return rc;
}

/* `dump --follow`: drains t into out as text until a signal, --duration or t's exit (then a
 * last drain takes what its threads wrote before).  Adds to *sum; 0 or -errno with a reason. */
static int follow(struct pk_probe_target *t, const struct probe_opts *o, FILE *out,
		  struct pk_dump_stats *sum, char *err, size_t errlen)
{
	struct follow_drain f = { .t = t, .out = out };
	struct pk_dump_stats st;
	double secs;
	int rc;

	memset(sum, 0, sizeof(*sum));
	if (!t->shm) /* the drain says why */
		return pk_probe_dump(t, PK_DUMP_TEXT, out, sum, err, errlen);
	fprintf(stderr, "parikshan: probe dump: following %d until %s\n", (int)t->pid,
		o->fperf.duration_ns ? "--duration ends" : "Ctrl-C");
	rc = pk_cli_probe_drain(t, o->fperf.duration_ns, follow_drain, NULL, &f, sum, &secs, err,
				errlen);
	if (rc == -ESRCH) {
		fprintf(stderr, "parikshan: probe dump: %s\n", err);
		rc = 0;
	}
	if (!rc && !(rc = follow_drain(&f, &st, err, errlen)))
		pk_cli_dump_stats_add(sum, &st);
	pk_dump_table_release(&f.state);
	return rc;
}

static int do_dump(struct pk_probe_target *t, const struct probe_opts *o)
{
	struct pk_dump_stats st;
	char err[512];
	FILE *out = stdout;
	int rc;

	/* refused before the dump: the events are consumed by it */
	if (o->format == PK_DUMP_PERFETTO && !o->out && isatty(STDOUT_FILENO))
		return pk_cli_fail(PK_EXIT_USAGE, "probe dump",
				   "--format perfetto is binary: give -o FILE or redirect stdout");
	if (o->out) {
		out = fopen(o->out, "we");
		if (!out)
			return pk_cli_fail(PK_EXIT_RUNTIME, "probe dump", "open %s: %s", o->out,
					   strerror(errno));
	}
	rc = o->follow ? follow(t, o, out, &st, err, sizeof(err))
		       : pk_probe_dump(t, o->format, out, &st, err, sizeof(err));
	if (out != stdout && fclose(out) && !rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "probe dump", "write %s: %s", o->out,
				   strerror(errno));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "probe dump", "%s", err);
	fprintf(stderr, "parikshan: probe dump: %llu events from %llu threads, %llu dropped%s\n",
		(unsigned long long)st.events, (unsigned long long)st.threads,
		(unsigned long long)(st.drops + st.no_ring),
		st.drops + st.no_ring ? " (rings full: dump more often)" : "");
	return PK_EXIT_OK;
}

static int do_fperf(struct pk_probe_target *t, struct probe_opts *o, char **globs, int nglobs)
{
	int rc = pk_cli_probe_attach(t, "probe fperf");

	if (rc)
		return rc;
	o->fperf.json = o->json;
	o->fperf.out = o->out;
	return pk_cli_probe_fperf(t, &o->fperf, (const char *const *)globs, (size_t)nglobs);
}

/* `probe sample`: sets the rate (--rate) of FUNCs or the global one, or prints the rates. */
static int do_sample(struct pk_probe_target *t, const struct probe_opts *o, char **globs,
		     int nglobs)
{
	const struct pk_iprobe_shm *s;
	char err[512];
	size_t funcs;
	int rc;

	if (o->rate_log2 < 0) {
		if (!t->shm)
			return pk_cli_fail(PK_EXIT_RUNTIME, "probe sample",
					   "libiprobe is not loaded in %d (enable a probe first)",
					   (int)t->pid);
		s = t->shm;
		printf("global 1/%u\n", 1u << (__atomic_load_n(&s->sample, __ATOMIC_ACQUIRE) & 31));
		for (uint32_t i = 0; i < s->max_probes; i++) {
			const struct pk_iprobe_probe *p = pk_shm_probe(s, i);
			uint32_t sm = __atomic_load_n(&p->sample, __ATOMIC_ACQUIRE);
			char name[sizeof(p->name)];

			if (!pk_probe_id_valid(t, i) || !sm)
				continue;
			memcpy(name, p->name, sizeof(name) - 1);
			name[sizeof(name) - 1] = 0;
			if (nglobs && !matches(name, globs, nglobs))
				continue;
			printf("%s 1/%u\n", name, 1u << (sm & 31));
		}
		return PK_EXIT_OK;
	}
	rc = pk_cli_probe_attach(t, "probe sample");
	if (rc)
		return rc;
	rc = pk_probe_sample_set(t, (const char *const *)globs, (size_t)nglobs,
				 (uint32_t)o->rate_log2, &funcs, err, sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "probe sample", "%s", err);
	if (nglobs)
		printf("sampling 1 call in %u of %zu functions in %d\n", 1u << o->rate_log2, funcs,
		       (int)t->pid);
	else
		printf("sampling 1 call in %u of every probe in %d\n", 1u << o->rate_log2,
		       (int)t->pid);
	return PK_EXIT_OK;
}

int pk_cmd_probe(int argc, char **argv)
{
	struct probe_opts o = { .format = PK_DUMP_TEXT, .budget = -1, .rate_log2 = -1 };
	struct pk_probe_target t;
	const char *verb;
	char err[512];
	int c, rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(probe_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? PK_EXIT_USAGE : PK_EXIT_OK;
	}
	verb = argv[1];
	if (strcmp(verb, "list") && strcmp(verb, "enable") && strcmp(verb, "disable") &&
	    strcmp(verb, "dump") && strcmp(verb, "fperf") && strcmp(verb, "sample"))
		return pk_cli_fail(PK_EXIT_USAGE, "probe",
				   "'%s': not a probe command (list, enable, disable, dump, fperf, "
				   "sample)",
				   verb);
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:", probe_options, NULL)) != -1) {
		rc = parse_opt(c, &o, argv);
		if (rc >= 0)
			return rc;
	}
	if (!o.pid)
		return pk_cli_bad("probe", verb, "--pid PID is required");
	if (!strcmp(verb, "enable") && optind == argc)
		return pk_cli_bad("probe", "enable",
				  "needs a PATTERN (use '*' for every function)");
	if (o.budget >= 0 && strcmp(verb, "enable"))
		return pk_cli_bad("probe", "--budget", "goes with 'enable'");
	if (!strcmp(verb, "dump") && optind < argc)
		return pk_cli_bad("probe", "dump", "takes no PATTERN");
	if (!strcmp(verb, "fperf") && optind == argc)
		return pk_cli_bad("probe", "fperf", "needs a FUNC (a function name or glob)");
	if (o.rate_log2 >= 0 && strcmp(verb, "sample"))
		return pk_cli_bad("probe", "--rate", "goes with 'sample'");
	if (o.events_opt && strcmp(verb, "fperf"))
		return pk_cli_bad("probe", "--events", "goes with 'fperf'");
	if (o.follow && strcmp(verb, "dump"))
		return pk_cli_bad("probe", "--follow", "goes with 'dump'");
	if (o.follow && o.format != PK_DUMP_TEXT)
		return pk_cli_bad("probe", "--follow",
				  "streams text: the other formats are one document (dump without "
				  "--follow)");
	if (o.fperf.duration_ns && strcmp(verb, "fperf") && !o.follow)
		return pk_cli_bad("probe", "--duration", "goes with 'fperf' or 'dump --follow'");
	rc = pk_probe_open(o.pid, o.files, o.nfiles, &t, err, sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "probe", "%s", err);
	if (!strcmp(verb, "list"))
		rc = do_list(&t, argv + optind, argc - optind, o.json);
	else if (!strcmp(verb, "dump"))
		rc = do_dump(&t, &o);
	else if (!strcmp(verb, "fperf"))
		rc = do_fperf(&t, &o, argv + optind, argc - optind);
	else if (!strcmp(verb, "sample"))
		rc = do_sample(&t, &o, argv + optind, argc - optind);
	else
		rc = do_switch(&t, &o, !strcmp(verb, "enable"), argv + optind, argc - optind);
	pk_probe_close(&t);
	return rc;
}
