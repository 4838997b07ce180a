/* cmd_use.c — `parikshan use NAME`: the USE report of a container or clone (src/debug/use.h),
 * beside its production when NAME is a clone; `--watch` redraws it in place until SIGINT. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "clone/clone.h"
#include "common/args.h"
#include "debug/use.h"

#define USE_INTERVAL_DEFAULT_MS 1000
#define USE_MAX_NS (3600ull * 1000000000ull)

static const char use_usage[] =
	"usage: parikshan use NAME [--json] [--interval DUR] [--watch SECS [--count N]]\n"
	"                          [--state-dir DIR]\n"
	"\n"
	"Utilisation, saturation and errors of CPU, memory, disk I/O and network of container or\n"
	"clone NAME, from its cgroups and its network namespace's counters.  Rates are measured\n"
	"over an interval (default " PK_STR(
		USE_INTERVAL_DEFAULT_MS) "ms).  For a clone, its\n"
					 "production is shown beside it.\n"
					 "\n"
					 "  --json            one JSON object instead of the "
					 "table\n"
					 "  --interval DUR    the measuring interval (250ms, 2s, "
					 "...)\n"
					 "  --watch SECS      redraw every SECS seconds until "
					 "interrupted\n"
					 "  --count N         with --watch: stop after N reports\n"
					 "  --state-dir DIR   where containers are kept (default "
					 "$" PK_STATE_DIR_ENV " or " PK_STATE_DIR ")\n"
					 "  --help            show this text\n";

static const struct option use_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "interval", required_argument, NULL, 'i' },
	{ "watch", required_argument, NULL, 'w' },
	{ "count", required_argument, NULL, 'c' },
	{ "state-dir", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'H' },
	{ NULL, 0, NULL, 0 },
};

static volatile sig_atomic_t use_stop;

static void on_sigint(int sig)
{
	use_stop = 1;
}

/* Sleeps ns nanoseconds unless interrupted by SIGINT. */
static void pause_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };

	if (!use_stop)
		nanosleep(&ts, NULL);
}

struct use_target {
	const char *role, *name;
	int pid;
	struct pk_use_sample a, b;
	struct pk_use_report r;
};

/* Looks name up: 0, or the exit status of a failure (printed). */
static int use_find(const char *state_dir, const char *name, struct pk_container_info *info)
{
	int rc = pk_container_info(state_dir, name, info);

	if (rc == -ENOENT || rc == -EINVAL)
		return pk_cli_fail(PK_EXIT_RUNTIME, "use", "no container or clone named '%s' in %s",
				   name, state_dir);
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "use", "%s: %s", name, strerror(-rc));
	if (info->pid <= 0 || strcmp(info->status, "running") != 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "use", "%s is not running (%s)", name,
				   info->status);
	return 0;
}

/* Measures every target over interval_ns and prints the report.  0 or an exit status. */
static int use_once(struct use_target *t, int n, uint64_t interval_ns, bool json, bool clear)
{
	struct pk_use_column cols[2];
	struct pk_strbuf out = { 0 };
	int i, rc;

	for (i = 0; i < n; i++)
		if ((rc = pk_use_sample_read(t[i].pid, &t[i].a)))
			goto gone;
	pause_ns(interval_ns);
	for (i = 0; i < n; i++) {
		if ((rc = pk_use_sample_read(t[i].pid, &t[i].b)))
			goto gone;
		pk_use_compute(&t[i].a, &t[i].b, &t[i].r);
		cols[i] = (struct pk_use_column){ t[i].role, t[i].name, &t[i].r };
	}
	if (clear)
		pk_strbuf_printf(&out, "\033[H\033[2J");
	pk_use_render(cols, n, json, &out);
	fputs(pk_strbuf_str(&out), stdout);
	fflush(stdout);
	pk_strbuf_release(&out);
	return 0;
gone:
	return pk_cli_fail(PK_EXIT_RUNTIME, "use", "cannot read the counters of %s: %s", t[0].name,
			   strerror(-rc));
}

int pk_cmd_use(int argc, char **argv)
{
	const char *state_dir = pk_state_dir_default();
	uint64_t interval_ns = USE_INTERVAL_DEFAULT_MS * 1000000ull, watch_ns = 0, count = 0;
	struct pk_container_info info, pinfo;
	struct use_target t[2];
	bool json = false;
	int c, n = 1, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", use_options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'i':
			rc = pk_parse_duration(optarg, USE_MAX_NS, &interval_ns);
			if (rc || interval_ns < 10000000u)
				return pk_cli_bad_value("use", "--interval", optarg,
							rc ? rc : -ERANGE);
			break;
		case 'w':
			rc = pk_parse_duration(optarg, USE_MAX_NS, &watch_ns);
			if (rc || watch_ns == 0)
				return pk_cli_bad_value("use", "--watch", optarg,
							rc ? rc : -ERANGE);
			break;
		case 'c':
			rc = pk_parse_uint(optarg, 1000000, &count);
			if (rc || count == 0)
				return pk_cli_bad_value("use", "--count", optarg,
							rc ? rc : -ERANGE);
			break;
		case 'S':
			state_dir = optarg;
			break;
		case 'H':
			fputs(use_usage, stdout);
			return PK_EXIT_OK;
		case ':':
			return pk_cli_fail(PK_EXIT_USAGE, "use", "%s needs a value",
					   argv[optind - 1]);
		default:
			return pk_cli_fail(PK_EXIT_USAGE, "use", "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return pk_cli_bad("use", "NAME", "give one container or clone (try --help)");
	if (count && !watch_ns)
		return pk_cli_bad("use", "--count", "only with --watch");
	if ((rc = use_find(state_dir, argv[optind], &info)))
		return rc;
	t[0] = (struct use_target){ .role = info.kind, .name = argv[optind], .pid = info.pid };
	if (strcmp(info.kind, "clone") == 0 && info.parent[0]) {
		if ((rc = use_find(state_dir, info.parent, &pinfo)))
			return rc;
		t[1] = (struct use_target){ .role = "production",
					    .name = info.parent,
					    .pid = pinfo.pid };
		n = 2;
	}
	if (!watch_ns)
		return use_once(t, n, interval_ns, json, false);
	use_stop = 0;
	signal(SIGINT, on_sigint);
	for (uint64_t i = 0; !use_stop && (!count || i < count); i++) {
		if (i > 0)
			pause_ns(watch_ns > interval_ns ? watch_ns - interval_ns : 0);
		if (use_stop)
			break;
		if ((rc = use_once(t, n, interval_ns, json, !json)))
			return rc;
	}
	return PK_EXIT_OK;
}
