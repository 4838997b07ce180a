/* cmd_invivo.c — `parikshan invivo --pid PID FUNC TEST.so`: in-vivo tests.  Checks that the
 * process is in a debug clone (unless --production), loads libiprobe and TEST.so into it,
 * writes the test's settings into the segment, flags FUNC and switches its entry probe on;
 * libiprobe then forks a child that runs the test at FUNC's entries, with probability P.
 * Waits until the duration ends or a signal comes, switches the probe off, clears the flag,
 * waits (bounded) for the children still running, and prints their verdict counts.  Parsing,
 * waiting and printing only; the work is src/probe's and libiprobe's. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "clone/clone.h"
#include "common/args.h"
#include "common/json.h"
#include "common/strbuf.h"
#include "probe/probe.h"

#define PROGRESS_S 5
#define POLL_MS 50
#define DEF_DEADLINE_S 10
#define DEF_DEADLINE_NS (DEF_DEADLINE_S * 1000000000ull)
#define DEF_MAX_LIVE 4

static const char invivo_usage[] =
	"usage: parikshan invivo --pid PID [--file LIB]... [--prob P] [--max-live N]\n"
	"                        [--deadline D] [--duration D] [-o LOG] [--json] [--production]\n"
	"                        FUNC TEST.so\n"
	"\n"
	"Runs an in-vivo test in the live process PID: at an entry of FUNC (a function name or\n"
	"glob with probe sites, see 'parikshan probe list'), with probability P, the process "
	"forks;\n"
	"the child calls TEST.so's pk_invivo_test() on the live state (inherited sockets closed,\n"
	"stdio on /dev/null, its output and verdict appended to LOG) and exits; the parent goes "
	"on\n"
	"at once.  At the end (--duration, Ctrl-C or SIGTERM) the probe is switched off, the\n"
	"children still running are waited for (up to the deadline) and their counts printed:\n"
	"runs, passed, failed, timed out, crashed, skipped (max live children reached).\n"
	"\n"
	"Refused when PID is not in a debug clone (parikshan clone): a test forks production.\n"
	"\n"
	"  --pid PID        the process (in a clone)\n"
	"  --file LIB       probe functions of the mapped library LIB instead of the executable\n"
	"  --prob P         probability of a test at each entry, in (0,1] (default 1)\n"
	"  --max-live N     children alive at once, 1..16 (default " PK_STR(
		DEF_MAX_LIVE) "; more: skipped)\n"
			      "  --deadline D     a child alive longer is killed, counted timed "
			      "out (default " PK_STR(
				      DEF_DEADLINE_S) "s)\n"
						      "  --duration D     run for D (e.g. 30s; "
						      "default until Ctrl-C/SIGTERM)\n"
						      "  -o LOG           verdict log, a path as "
						      "the process sees it\n"
						      "                   (default "
						      "/tmp/parikshan-invivo.PID.log)\n"
						      "  --json           the counts as JSON\n"
						      "  --production     run even when PID is not "
						      "in a debug clone\n"
						      "\n"
						      "TEST.so exports int pk_invivo_test(const "
						      "struct pk_invivo_ctx *) (0 pass, else "
						      "fail;\n"
						      "<parikshan/invivo.h>) and may link "
						      "libinvivo.so for pk_invivo_log().\n";

enum {
	OPT_PID = 256,
	OPT_FILE,
	OPT_PROB,
	OPT_MAX_LIVE,
	OPT_DEADLINE,
	OPT_DURATION,
	OPT_JSON,
	OPT_PRODUCTION,
	OPT_HELP,
};

static const struct option invivo_options[] = {
	{ "pid", required_argument, NULL, OPT_PID },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "prob", required_argument, NULL, OPT_PROB },
	{ "max-live", required_argument, NULL, OPT_MAX_LIVE },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "production", no_argument, NULL, OPT_PRODUCTION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

#define INVIVO_MAX_FILES 16

struct invivo_opts {
	pid_t pid;
	const char *files[INVIVO_MAX_FILES];
	size_t nfiles;
	double prob;
	uint32_t max_live;
	uint64_t deadline_ns, duration_ns;
	const char *log;
	bool json, production;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void nap_ms(long ms)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&d, NULL); /* the polling period, not a synchronisation */
}

/* Parses one option into o; returns -1 to go on, else the exit status. */
static int parse_opt(int c, struct invivo_opts *o, char **argv)
{
	uint64_t v;

	switch (c) {
	case OPT_PID:
		if (pk_parse_uint(optarg, INT_MAX, &v) || v == 0)
			return pk_cli_bad_value("invivo", "--pid", optarg, -EINVAL);
		o->pid = (pid_t)v;
		return -1;
	case OPT_FILE:
		if (o->nfiles == INVIVO_MAX_FILES)
			return pk_cli_bad("invivo", "--file",
					  "given more than " PK_STR(INVIVO_MAX_FILES) " times");
		o->files[o->nfiles++] = optarg;
		return -1;
	case OPT_PROB:
		if (pk_parse_double(optarg, 0, 1, &o->prob) || !(o->prob > 0))
			return pk_cli_fail(PK_EXIT_USAGE, "invivo",
					   "--prob '%s': not a probability in (0,1]", optarg);
		return -1;
	case OPT_MAX_LIVE:
		if (pk_parse_uint(optarg, PK_IPROBE_INVIVO_MAX_LIVE, &v) || v == 0)
			return pk_cli_bad_value("invivo", "--max-live", optarg, -EINVAL);
		o->max_live = (uint32_t)v;
		return -1;
	case OPT_DEADLINE:
		if (pk_parse_duration(optarg, 3600ull * 1000000000ull, &o->deadline_ns) ||
		    o->deadline_ns < 1000000)
			return pk_cli_bad_value("invivo", "--deadline", optarg, -EINVAL);
		return -1;
	case OPT_DURATION:
		if (pk_parse_duration(optarg, 86400ull * 1000000000ull, &o->duration_ns) ||
		    !o->duration_ns)
			return pk_cli_bad_value("invivo", "--duration", optarg, -EINVAL);
		return -1;
	case 'o':
		o->log = optarg;
		return -1;
	case OPT_JSON:
		o->json = true;
		return -1;
	case OPT_PRODUCTION:
		o->production = true;
		return -1;
	case OPT_HELP:
		fputs(invivo_usage, stdout);
		return PK_EXIT_OK;
	case ':':
		return pk_cli_bad("invivo", argv[optind - 1], "needs a value");
	default:
		return pk_cli_bad("invivo", argv[optind - 1],
				  "unknown option (see 'parikshan invivo --help')");
	}
}

/* The difference b - a of two readings of the counters. */
static void counts_sub(struct pk_probe_invivo_counts *b, const struct pk_probe_invivo_counts *a)
{
	b->forked -= a->forked;
	b->passed -= a->passed;
	b->failed -= a->failed;
	b->timed_out -= a->timed_out;
	b->crashed -= a->crashed;
	b->skipped_busy -= a->skipped_busy;
	b->fork_failed -= a->fork_failed;
}

static void print_text(const char *test, const char *func, const struct pk_probe_invivo_counts *c)
{
	printf("%-24s %-24s %8s %8s %8s %9s %8s %8s\n", "test", "function", "runs", "passed",
	       "failed", "timed-out", "crashed", "skipped");
	printf("%-24s %-24s %8llu %8llu %8llu %9llu %8llu %8llu\n", test, func,
	       (unsigned long long)c->forked, (unsigned long long)c->passed,
	       (unsigned long long)c->failed, (unsigned long long)c->timed_out,
	       (unsigned long long)c->crashed,
	       (unsigned long long)(c->skipped_busy + c->fork_failed));
}

static int print_json(pid_t pid, const char *test, const char *func, const char *log, double secs,
		      const struct pk_probe_invivo_counts *c, uint32_t live)
{
	cJSON *root = cJSON_CreateObject(), *tests, *o;
	struct pk_strbuf sb = { 0 };
	int rc = -ENOMEM;

	if (!root || !cJSON_AddNumberToObject(root, "pid", pid) ||
	    !cJSON_AddNumberToObject(root, "seconds", secs) ||
	    !cJSON_AddStringToObject(root, "log", log) ||
	    !cJSON_AddNumberToObject(root, "still_running", live) ||
	    !(tests = cJSON_AddArrayToObject(root, "tests")) || !(o = cJSON_CreateObject()) ||
	    !cJSON_AddItemToArray(tests, o) || !cJSON_AddStringToObject(o, "test", test) ||
	    !cJSON_AddStringToObject(o, "function", func) ||
	    !cJSON_AddNumberToObject(o, "runs", (double)c->forked) ||
	    !cJSON_AddNumberToObject(o, "passed", (double)c->passed) ||
	    !cJSON_AddNumberToObject(o, "failed", (double)c->failed) ||
	    !cJSON_AddNumberToObject(o, "timed_out", (double)c->timed_out) ||
	    !cJSON_AddNumberToObject(o, "crashed", (double)c->crashed) ||
	    !cJSON_AddNumberToObject(o, "skipped_busy", (double)c->skipped_busy) ||
	    !cJSON_AddNumberToObject(o, "fork_failed", (double)c->fork_failed))
		goto out;
	rc = pk_json_print(root, &sb);
	if (!rc)
		fwrite(sb.s, 1, sb.len, stdout);
out:
	pk_strbuf_release(&sb);
	cJSON_Delete(root);
	return rc;
}

/* Waits until the duration ends, a signal comes or the target exits; -ESRCH when it exited. */
static int run(struct pk_probe_target *t, const struct invivo_opts *o,
	       const struct pk_probe_invivo_counts *base)
{
	uint64_t t0 = pk_now_ns(), next_progress = t0 + PROGRESS_S * 1000000000ull;

	for (;;) {
		uint64_t now;

		nap_ms(POLL_MS);
		now = pk_now_ns();
		if (stop_signal || (o->duration_ns && now - t0 >= o->duration_ns))
			return 0;
		if (kill(t->pid, 0) && errno == ESRCH)
			return -ESRCH;
		if (now >= next_progress) {
			struct pk_probe_invivo_counts c;

			pk_probe_invivo_counts(t->shm, &c);
			counts_sub(&c, base);
			fprintf(stderr,
				"parikshan: invivo: %.0f s, %llu runs: %llu passed, %llu failed, "
				"%llu timed out, %llu crashed\n",
				(double)(now - t0) / 1e9, (unsigned long long)c.forked,
				(unsigned long long)c.passed, (unsigned long long)c.failed,
				(unsigned long long)c.timed_out, (unsigned long long)c.crashed);
			next_progress += PROGRESS_S * 1000000000ull;
		}
	}
}

/* Refuses a process outside every debug clone unless --production; 0 or the exit status. */
static int check_clone(const struct invivo_opts *o)
{
	char name[64];
	int rc = pk_clone_of_pid(pk_state_dir_default(), o->pid, name, sizeof(name));

	if (!rc || o->production)
		return 0;
	if (rc != -ENOENT)
		return pk_cli_fail(PK_EXIT_RUNTIME, "invivo", "process %d: %s", (int)o->pid,
				   strerror(-rc));
	return pk_cli_fail(PK_EXIT_USAGE, "invivo",
			   "process %d is not in a debug clone (production); add --production "
			   "to run there anyway",
			   (int)o->pid);
}

/* True when a function with probe sites in t's modules matches glob. */
static bool func_exists(const struct pk_probe_target *t, const char *glob)
{
	for (size_t m = 0; m < t->nmods; m++)
		for (size_t i = 0; i < t->mods[m].table.nfuncs; i++)
			if (!fnmatch(glob, t->mods[m].table.funcs[i].name, 0))
				return true;
	return false;
}

/* Everything after the target is open: returns the exit status. */
static int invivo(struct pk_probe_target *t, const struct invivo_opts *o, const char *func,
		  const char *test_path, const char *log)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	const char *test = strrchr(test_path, '/') ? strrchr(test_path, '/') + 1 : test_path;
	struct pk_probe_invivo cfg = { .max_live = o->max_live, .log = log, .name = test };
	struct pk_probe_invivo_counts base, c;
	struct pk_probe_switch_stats sw;
	const char *globs[] = { func };
	char err[512], err2[512];
	int rc, status = PK_EXIT_OK;
	uint64_t t0 = pk_now_ns(), wait_end;
	size_t funcs;
	double secs;

	/* nothing goes into the target for a function it does not have */
	if (!func_exists(t, func))
		return pk_cli_fail(PK_EXIT_USAGE, "invivo", "no function of %d matches '%s'",
				   (int)t->pid, func);
	rc = pk_cli_probe_attach(t, "invivo");
	if (rc)
		return rc;
	rc = pk_probe_invivo_load(t, test_path, &cfg.test, err, sizeof(err));
	if (rc)
		return pk_cli_fail(rc == -ENOENT || rc == -ENOEXEC ? PK_EXIT_USAGE
								   : PK_EXIT_RUNTIME,
				   "invivo", "%s", err);
	cfg.threshold = o->prob >= 1 ? UINT32_MAX : (uint32_t)(o->prob * 4294967296.0);
	if (!cfg.threshold)
		cfg.threshold = 1;
	cfg.deadline_ms = (uint32_t)(o->deadline_ns / 1000000);
	pk_probe_invivo_counts(t->shm, &base);
	rc = pk_probe_invivo_set(t, &cfg, err, sizeof(err));
	if (!rc)
		rc = pk_probe_set_flag(t, globs, 1, PK_IPROBE_F_INVIVO, true, &funcs, err,
				       sizeof(err));
	if (rc)
		return pk_cli_fail(rc == -ENOENT ? PK_EXIT_USAGE : PK_EXIT_RUNTIME, "invivo", "%s",
				   err);
	rc = pk_probe_switch(t, globs, 1, true, PK_PROBE_ENTRY, &sw, err, sizeof(err));
	if (rc) {
		status = pk_cli_fail(PK_EXIT_RUNTIME, "invivo", "%s", err);
		pk_probe_switch(t, globs, 1, false, PK_PROBE_ENTRY, &sw, err2, sizeof(err2));
		goto unflag;
	}
	stop_signal = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	fprintf(stderr, "parikshan: invivo: testing %s in %zu functions of %d (P=%g), log %s\n",
		test, funcs, (int)t->pid, o->prob, log);
	t0 = pk_now_ns();
	rc = run(t, o, &base);
	secs = (double)(pk_now_ns() - t0) / 1e9;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc == -ESRCH) {
		status = pk_cli_fail(PK_EXIT_RUNTIME, "invivo", "process %d exited", (int)t->pid);
		goto print;
	}
	rc = pk_probe_switch(t, globs, 1, false, PK_PROBE_ENTRY, &sw, err, sizeof(err));
	if (rc)
		status = pk_cli_fail(PK_EXIT_RUNTIME, "invivo", "switch the probe off: %s", err);
unflag:
	if (pk_probe_set_flag(t, globs, 1, PK_IPROBE_F_INVIVO, false, &funcs, err2, sizeof(err2)))
		status = pk_cli_fail(PK_EXIT_RUNTIME, "invivo", "clear the flag: %s", err2);
	cfg.threshold = 0;
	cfg.test = 0;
	pk_probe_invivo_set(t, &cfg, err2, sizeof(err2));
	if (status != PK_EXIT_OK)
		return status;
	/* the children still running: their verdicts come by the deadline (plus a margin) */
	wait_end = pk_now_ns() + o->deadline_ns + 2000000000ull;
	for (;;) {
		pk_probe_invivo_counts(t->shm, &c);
		if (!c.live || pk_now_ns() > wait_end || (kill(t->pid, 0) && errno == ESRCH))
			break;
		nap_ms(20);
	}
	secs = (double)(pk_now_ns() - t0) / 1e9;
print:
	pk_probe_invivo_counts(t->shm, &c);
	counts_sub(&c, &base);
	if (o->json) {
		if (print_json(t->pid, test, func, log, secs, &c, c.live) && status == PK_EXIT_OK)
			status = pk_cli_fail(PK_EXIT_RUNTIME, "invivo", "out of memory");
	} else {
		print_text(test, func, &c);
	}
	fprintf(stderr, "parikshan: invivo: %.1f s, %llu runs, verdicts in %s%s\n", secs,
		(unsigned long long)c.forked, log,
		c.live ? " (children still running past the deadline)" : "");
	return status;
}

int pk_cmd_invivo(int argc, char **argv)
{
	struct invivo_opts o = { .prob = 1,
				 .max_live = DEF_MAX_LIVE,
				 .deadline_ns = DEF_DEADLINE_NS };
	char err[512], log[PATH_MAX], dflt[64];
	struct pk_probe_target t;
	int c, rc;

	if (argc < 2) {
		fputs(invivo_usage, stderr);
		return PK_EXIT_USAGE;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:", invivo_options, NULL)) != -1) {
		rc = parse_opt(c, &o, argv);
		if (rc >= 0)
			return rc;
	}
	if (!o.pid)
		return pk_cli_bad("invivo", "--pid", "PID is required");
	if (argc - optind != 2)
		return pk_cli_bad("invivo", "arguments", "needs FUNC and TEST.so");
	if (access(argv[optind + 1], R_OK))
		return pk_cli_fail(PK_EXIT_USAGE, "invivo", "%s: %s", argv[optind + 1],
				   strerror(errno));
	if (!o.log) {
		snprintf(dflt, sizeof(dflt), "/tmp/parikshan-invivo.%d.log", (int)o.pid);
		o.log = dflt;
	}
	if (o.log[0] != '/') {
		/* the target opens the log: relative to our directory, made absolute */
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(log, sizeof(log), "%s/%s", cwd, o.log) >= sizeof(log))
			return pk_cli_fail(PK_EXIT_USAGE, "invivo", "-o %s: path too long", o.log);
	} else {
		snprintf(log, sizeof(log), "%s", o.log);
	}
	rc = pk_probe_open(o.pid, o.files, o.nfiles, &t, err, sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "invivo", "%s", err);
	rc = check_clone(&o);
	if (!rc)
		rc = invivo(&t, &o, argv[optind], argv[optind + 1], log);
	pk_probe_close(&t);
	return rc;
}
