/* cmd_up.c — `parikshan up PROD` / `parikshan down PROD`: clones plus a duplicator in front of
 * production, in one command; the composition of `clone` and `dup` (neither knows the other).
 * What `up` started is remembered in STATE/PROD/up.json for `down` (a container of another
 * engine, docker:NAME, has no directory of ours: STATE/.docker-NAME then).
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/clone_agg.h"
#include "cli/proxy_opts.h" /* the duplicator's defaults */
#include "cli/stateful.h"
#include "cli/up_watch.h"
#include "clone/clone.h"
#include "common/args.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/proc.h"
#include "common/sock.h"
#include "proto/msg.h"

#define UP_MAX_CLONES 8
#define UP_DEFAULT_CLONES 1
#define UP_DEFAULT_LISTEN "127.0.0.1"
#define UP_CLONES_S "1.." PK_STR(UP_MAX_CLONES) ", default " PK_STR(UP_DEFAULT_CLONES)
#define DUP_START_MS 5000
#define DUP_STOP_MS 10000
#define WATCH_STOP_MS 60000 /* a re-clone under way finishes first */
#define UP_DEFAULT_RECLONE_S 60
#define UP_MAX_RECLONE_NS (24ull * 3600 * 1000000000ull)

static const char up_usage[] =
	"usage: parikshan up PROD -p PORT [--clones N] [-l LPORT] [-h ADDR] [--admin [ADDR:]PORT]\n"
	"                    [-b SIZE] [--spill DIR] [--agg IP:PORT=DPORT [--agg-admin ADDR]]\n"
	"                    [--mem SIZE] [--cpus N] [--state-dir DIR] [--balance [--force]]\n"
	"                    [--volumes copy|overlay] [--share-volume PATH:ro]...\n"
	"                    [--auto-reclone [--reclone-min-interval DURATION]]\n"
	"                    [--compare PROTO [--compare-log FILE]]\n"
	"                    [--adapt [--adapt-high PCT] [--adapt-low PCT]]\n"
	"       parikshan down PROD [--state-dir DIR]\n"
	"\n"
	"up: live-clone PROD (one of our containers, or docker:NAME|ID for a Docker container)\n"
	"N times (PROD-dbg1, PROD-dbg2, ...) and start a duplicator whose\n"
	"front door (ADDR:LPORT) forwards to PROD's service PORT and copies the traffic to every\n"
	"clone.  down: stop that duplicator and remove the clones.\n"
	"\n"
	"  -p, --port PORT          the service port inside the container (required)\n"
	"      --clones N           how many clones (" UP_CLONES_S ")\n"
	"  -l, --listen-port LPORT  front-door port (default: PORT)\n"
	"  -h, --listen-addr ADDR   front-door address (default " UP_DEFAULT_LISTEN ")\n"
	"      --admin [ADDR:]PORT  metrics for `parikshan status` (default " PK_CLI_ADMIN_DEFAULT
	")\n"
	"  -b, --buffer SIZE        per-connection buffer per clone "
	"(default " PK_PROXY_DEFAULT_BUFFER_S ")\n"
	"      --spill DIR          spill full buffers to files in DIR\n"
	"      --resync PROTO       re-attach out-of-sync clones at request boundaries "
	"(resp|http|mysql)\n"
	"      --agg IP:PORT=DPORT  the clone reaches PROD's backend IP:PORT through `parikshan "
	"agg`\n"
	"                           on " PK_CLONE_GATEWAY ":DPORT (see `parikshan clone --help`)\n"
	"      --agg-admin [ADDR:]PORT  that agg's admin endpoint: pairing reset while frozen\n"
	"      --mem SIZE           each clone's memory limit (default: production's)\n"
	"      --cpus N             each clone's CPU quota in CPUs (default: production's)\n"
	"      --volumes copy|overlay  production's writable volumes in each clone: copied\n"
	"                           (default) or overlaid (see `parikshan clone --help`)\n"
	"      --share-volume PATH:ro  production's mount at PATH bound read-only into each\n"
	"                           clone instead (repeatable)\n"
	"      --state-dir DIR      where containers are kept\n"
	"      --balance            give each client connection to one clone only (the least "
	"loaded):\n"
	"                           the clones share the load, each sees a subset; refused for "
	"a\n"
	"                           stateful service (a database or cache) unless --force\n"
	"      --compare PROTO      compare each clone's answers with production's: raw, or per\n"
	"                           request resp, http or mysql (see `parikshan dup --help`)\n"
	"      --compare-log FILE   one JSON line per divergence (`parikshan diverge FILE`)\n"
	"      --adapt              adaptive sampling of each clone's probes (`dup --adapt-pid`\n"
	"                           with the clone's process): once probes are enabled in a\n"
	"                           clone, they record fewer calls while its buffer fills past\n"
	"                           --adapt-high and more again under --adapt-low (dup's\n"
	"                           defaults); SAMPLE in `parikshan status`.  A clone made again\n"
	"                           by --auto-reclone is not adapted\n"
	"      --adapt-high PCT, --adapt-low PCT  the marks (see `parikshan dup --help`)\n"
	"      --auto-reclone       leave a supervisor running (until `down`) that re-clones a "
	"clone\n"
	"                           from PROD when it died or its buffers overflowed; logged in\n"
	"                           STATE/PROD/up.log, counted as RECLONES in `parikshan status`\n"
	"      --reclone-min-interval DURATION  at most one re-clone per clone per DURATION\n"
	"                           (ms, s or m; default " PK_STR(
		UP_DEFAULT_RECLONE_S) "s)\n"
				      "      --help               show this text\n"
				      "\n"
				      "Connections a client opened before `up` do not go through "
				      "the front door, so no clone\n"
				      "ever sees half a connection.  With --resync, a clone that "
				      "desynced (or is re-cloned) is\n"
				      "attached again to open connections at the next request "
				      "boundary; without it, a\n"
				      "re-cloned clone sees only connections opened after it was "
				      "made.\n";

struct up_opts {
	const char *state_dir, *prod, *listen_host, *admin, *spill, *buffer, *resync;
	const char *compare;		    /* --compare PROTO */
	const char *adapt_high, *adapt_low; /* --adapt-high/--adapt-low PCT, checked */
	bool adapt;			    /* --adapt */
	char compare_log[4096];		    /* --compare-log, made absolute ("" none) */
	uint16_t port, lport;
	int clones;
	struct pk_clone_opts clone_flags; /* --agg, --mem, --cpus, --volumes, --share-volume */
	struct pk_clone_agg agg;	  /* --agg-admin */
	bool balance, force;		  /* --balance, --force */
	bool auto_reclone;		  /* --auto-reclone */
	uint64_t reclone_ns;		  /* --reclone-min-interval (0: not given) */
	char what[64];			  /* error lines: "up", then "up PROD" (or down) */
	char home[3072];		  /* where up.json and the logs go (up_home) */
};

/* Fills o->home: production's directory of the state dir, or for another engine's container
 * (docker:NAME) STATE/.docker-NAME, which `container ls` does not list. */
static void up_home(struct up_opts *o)
{
	const char *colon = strchr(o->prod, ':');

	if (colon)
		snprintf(o->home, sizeof(o->home), "%s/.%.*s-%s", o->state_dir,
			 (int)(colon - o->prod), o->prod, colon + 1);
	else
		snprintf(o->home, sizeof(o->home), "%s/%s", o->state_dir, o->prod);
}

/* Writes into name[len] the name of production's i-th clone: "PROD-dbgI" with PROD its name
 * (docker:NAME: NAME, lower-cased, what our names cannot hold made '-'). */
static void clone_name(const char *prod, int i, char *name, size_t len)
{
	const char *colon = strchr(prod, ':');
	char base[27];
	size_t k;

	snprintf(base, sizeof(base), "%s", colon ? colon + 1 : prod);
	for (k = 0; base[k]; k++) {
		char c = (char)tolower((unsigned char)base[k]);

		base[k] = (isalnum((unsigned char)c) || (k && strchr("_.-", c))) ? c : '-';
	}
	snprintf(name, len, "%s-dbg%d", base, i);
}

/* Fills info (kind, address, init, status) with running production o->prod, ours or another
 * engine's.  0 or -errno. */
static int prod_info(const struct up_opts *o, struct pk_container_info *info)
{
	struct pk_ctr *c;
	char err[PK_ERR_MAX];
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(info, 0, sizeof(*info));
	rc = pk_ctr_resolve(o->state_dir, o->prod, c, err, sizeof(err));
	if (!rc) {
		snprintf(info->kind, sizeof(info->kind), "%s", c->source->label);
		snprintf(info->ip, sizeof(info->ip), "%s", c->ip);
		snprintf(info->status, sizeof(info->status), "running");
		info->pid = c->pid;
	}
	free(c);
	return rc;
}

static void up_json_path(const struct up_opts *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s/up.json", o->home);
}

/* Stops our child pid (SIGTERM, then SIGKILL after DUP_STOP_MS) and reaps it, so that a failed
 * start leaves no process behind. */
static void stop_child(pid_t pid)
{
	uint64_t deadline = pk_now_ms() + DUP_STOP_MS;

	kill(pid, SIGTERM);
	while (pk_now_ms() < deadline) {
		pid_t r = waitpid(pid, NULL, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return;
		usleep(20 * 1000);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Starts `parikshan dup` detached (own session, output to STATE/PROD/dup.log); returns its pid
 * once the admin endpoint answers, or -errno (then no child is left). */
static pid_t start_dup(const struct up_opts *o, struct pk_container_info *clones, int n,
		       const char *admin_host, uint16_t admin_port)
{
	char lport[8], port[8], admin[300], log[4096], pids[UP_MAX_CLONES * 12 + 1] = "";
	char *argv[64];
	struct pk_addr a;
	int k = 0;
	uint64_t deadline;
	pid_t pid;

	snprintf(lport, sizeof(lport), "%u", o->lport);
	snprintf(port, sizeof(port), "%u", o->port);
	snprintf(admin, sizeof(admin), "%s:%u", admin_host, admin_port);
	snprintf(log, sizeof(log), "%s/dup.log", o->home);
	argv[k++] = "parikshan";
	argv[k++] = "dup";
	argv[k++] = "-h";
	argv[k++] = (char *)o->listen_host;
	argv[k++] = "-l";
	argv[k++] = lport;
	argv[k++] = "-x";
	argv[k++] = clones[n].ip; /* clones[n] holds production */
	argv[k++] = "-p";
	argv[k++] = port;
	for (int i = 0; i < n; i++) {
		argv[k++] = "-m";
		argv[k++] = clones[i].mgmt;
	}
	if (n) {
		argv[k++] = "-d";
		argv[k++] = port;
	}
	argv[k++] = "--admin";
	argv[k++] = admin;
	if (o->buffer) {
		argv[k++] = "-b";
		argv[k++] = (char *)o->buffer;
	}
	if (o->spill) {
		argv[k++] = "--spill";
		argv[k++] = (char *)o->spill;
	}
	if (o->resync) {
		argv[k++] = "--resync";
		argv[k++] = (char *)o->resync;
	}
	if (o->balance)
		argv[k++] = "--balance";
	if (o->compare) {
		argv[k++] = "--compare";
		argv[k++] = (char *)o->compare;
	}
	if (o->compare_log[0]) {
		argv[k++] = "--compare-log";
		argv[k++] = (char *)o->compare_log;
	}
	if (o->adapt && n) {
		for (int i = 0, len = 0; i < n; i++)
			len += snprintf(pids + len, sizeof(pids) - (size_t)len, "%s%d",
					i ? "," : "", clones[i].pid);
		argv[k++] = "--adapt-pid";
		argv[k++] = pids;
		if (o->adapt_high) {
			argv[k++] = "--adapt-high";
			argv[k++] = (char *)o->adapt_high;
		}
		if (o->adapt_low) {
			argv[k++] = "--adapt-low";
			argv[k++] = (char *)o->adapt_low;
		}
	}
	argv[k] = NULL;
	if (pk_addr_resolve(admin_host, admin_port, &a, NULL, 0) < 0)
		return -EINVAL;
	pid = pk_proc_fork_detached(log);
	if (pid < 0)
		return pid;
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	deadline = pk_now_ms() + DUP_START_MS;
	while (pk_now_ms() < deadline) {
		struct pk_strbuf body = { 0 };
		int rc = pk_http_get(&a, "/metrics", 500, &body);

		pk_strbuf_release(&body);
		if (rc == 200)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -ECHILD; /* it exited: dup.log says why */
		usleep(50 * 1000);
	}
	stop_child(pid);
	return -ETIMEDOUT;
}

/* Makes clone name of o->prod (replacing one of that name) with up's options; fills info and
 * rep.  Returns 0 or -errno with the reason in err.  Prints nothing. */
static int make_clone(struct up_opts *o, const char *name, struct pk_container_info *info,
		      struct pk_clone_report *rep, char *err, size_t errlen)
{
	struct pk_clone_opts co = {
		.state_dir = o->state_dir, .prod = o->prod, .name = name, .recreate = true
	};
	int rc;

	memcpy(co.redirects, o->clone_flags.redirects, sizeof(co.redirects));
	co.nredirects = o->clone_flags.nredirects;
	co.mem_limit = o->clone_flags.mem_limit;
	co.cpus = o->clone_flags.cpus;
	co.volumes = o->clone_flags.volumes;
	memcpy(co.share, o->clone_flags.share, sizeof(co.share));
	co.nshare = o->clone_flags.nshare;
	pk_clone_agg_hook(&co, &o->agg); /* its results go to o->agg */
	rc = pk_clone_create(&co, rep, err, errlen);
	if (rc)
		return rc;
	if (pk_container_info(o->state_dir, name, info) < 0) {
		snprintf(err, errlen, "clone %s vanished", name);
		return -ENOENT;
	}
	return 0;
}

/* The supervisor's way to make a clone again: as `up` made it. */
static int watch_reclone(void *arg, const char *name, struct pk_container_info *info,
			 struct pk_clone_report *rep, char *err, size_t errlen)
{
	return make_clone(arg, name, info, rep, err, errlen);
}

/* --auto-reclone: forks the supervisor (up_watch.c), detached, its log STATE/PROD/up.log; it
 * watches the n clones and the duplicator dup_pid.  Returns its pid or -errno. */
static pid_t start_watch(struct up_opts *o, const struct pk_container_info *infos, char names[][48],
			 int n, pid_t dup_pid, uint64_t dup_start, const struct pk_addr *admin)
{
	static struct pk_up_watch w; /* the child's, for its whole life */
	char log[4096];
	pid_t pid;

	memset(&w, 0, sizeof(w));
	w.state_dir = o->state_dir;
	w.prod = o->prod;
	w.admin = *admin;
	w.dup_pid = dup_pid;
	w.dup_start = dup_start;
	w.port = o->port;
	w.min_interval_ms =
		(o->reclone_ns ? o->reclone_ns : UP_DEFAULT_RECLONE_S * 1000000000ull) / 1000000;
	w.nclones = n;
	for (int i = 0; i < n; i++) {
		memcpy(w.clones[i].name, names[i], sizeof(w.clones[i].name)); /* both 48 */
		w.clones[i].info = infos[i];
	}
	w.reclone = watch_reclone;
	w.arg = o;
	snprintf(log, sizeof(log), "%s/up.log", o->home);
	pid = pk_proc_fork_detached(log);
	if (pid == 0)
		_exit(pk_up_watch_run(&w) ? PK_EXIT_RUNTIME : PK_EXIT_OK);
	return pid;
}

/* Writes up.json: the duplicator and the supervisor (pid and start time, so that `down` signals
 * that process and no other that got its pid since; watch_pid 0: none) and the clones.  Returns
 * 0 or -EIO. */
static int save_up(const struct up_opts *o, pid_t pid, uint64_t start, pid_t watch_pid,
		   uint64_t watch_start, const char *admin, struct pk_container_info *clones,
		   char names[][48], int n)
{
	char path[4096];
	cJSON *j = cJSON_CreateObject(), *arr;
	char *text;
	FILE *f;

	cJSON_AddNumberToObject(j, "dup_pid", pid);
	cJSON_AddNumberToObject(j, "dup_start", (double)start);
	if (watch_pid > 0) {
		cJSON_AddNumberToObject(j, "watch_pid", watch_pid);
		cJSON_AddNumberToObject(j, "watch_start", (double)watch_start);
	}
	cJSON_AddStringToObject(j, "admin", admin);
	cJSON_AddNumberToObject(j, "listen_port", o->lport);
	arr = cJSON_AddArrayToObject(j, "clones");
	for (int i = 0; i < n; i++) {
		cJSON *c = cJSON_CreateObject();

		cJSON_AddStringToObject(c, "name", names[i]);
		cJSON_AddStringToObject(c, "mgmt", clones[i].mgmt);
		cJSON_AddItemToArray(arr, c);
	}
	text = cJSON_Print(j);
	cJSON_Delete(j);
	up_json_path(o, path, sizeof(path));
	f = text ? fopen(path, "we") : NULL;
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	cJSON_free(text);
	return f ? 0 : -EIO;
}

static int parse_up(int argc, char **argv, struct up_opts *o, bool down)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "clones", required_argument, NULL, 'n' },
		{ "listen-port", required_argument, NULL, 'l' },
		{ "listen-addr", required_argument, NULL, 'h' },
		{ "admin", required_argument, NULL, 'A' },
		{ "buffer", required_argument, NULL, 'b' },
		{ "spill", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "resync", required_argument, NULL, 'R' },
		{ "agg", required_argument, NULL, 'g' },
		{ "agg-admin", required_argument, NULL, 'G' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "balance", no_argument, NULL, 'B' },
		{ "compare", required_argument, NULL, 'C' },
		{ "compare-log", required_argument, NULL, 'L' },
		{ "force", no_argument, NULL, 'F' },
		{ "auto-reclone", no_argument, NULL, 'r' },
		{ "reclone-min-interval", required_argument, NULL, 'I' },
		{ "adapt", no_argument, NULL, 'a' },
		{ "adapt-high", required_argument, NULL, 'K' },
		{ "adapt-low", required_argument, NULL, 'J' },
		{ "volumes", required_argument, NULL, 'V' },
		{ "share-volume", required_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = down ? "down" : "up";
	char cwd[2048] = "";
	enum pk_proto proto;
	double high = 50, low = 10; /* dup's defaults, for the check of the two marks */
	uint64_t v;
	int c;

	snprintf(o->what, sizeof(o->what), "%s", verb);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:l:h:b:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'l':
			if (pk_parse_port(optarg, c == 'p' ? &o->port : &o->lport))
				return pk_cli_fail(PK_EXIT_USAGE, o->what, "bad port '%s'", optarg);
			break;
		case 'n':
			if (pk_parse_uint(optarg, UP_MAX_CLONES, &v) || v == 0)
				return pk_cli_fail(PK_EXIT_USAGE, o->what, "--clones '%s': 1..%d",
						   optarg, UP_MAX_CLONES);
			o->clones = (int)v;
			break;
		case 'h':
			o->listen_host = optarg;
			break;
		case 'A':
			o->admin = optarg;
			break;
		case 'b':
			if (pk_parse_size(optarg, &v) || v == 0)
				return pk_cli_fail(PK_EXIT_USAGE, o->what, "bad size '%s'", optarg);
			o->buffer = optarg;
			break;
		case 's':
			o->spill = optarg;
			break;
		case 'S':
			o->state_dir = optarg;
			break;
		case 'R':
			if (pk_proto_parse(optarg, &proto) || proto == PK_PROTO_NONE)
				return pk_cli_fail(PK_EXIT_USAGE, o->what,
						   "--resync '%s': resp, http or mysql", optarg);
			o->resync = optarg;
			break;
		case 'C':
			if (pk_msg_proto_parse(optarg, &proto))
				return pk_cli_fail(PK_EXIT_USAGE, o->what,
						   "--compare '%s': raw, resp, http or mysql",
						   optarg);
			o->compare = optarg;
			break;
		case 'L':
			if (!*optarg || (optarg[0] != '/' && !getcwd(cwd, sizeof(cwd))) ||
			    snprintf(o->compare_log, sizeof(o->compare_log), "%s%s%s",
				     optarg[0] == '/' ? "" : cwd, optarg[0] == '/' ? "" : "/",
				     optarg) >= (int)sizeof(o->compare_log))
				return pk_cli_fail(PK_EXIT_USAGE, o->what, "--compare-log '%s': %s",
						   optarg, "not a usable path");
			break;
		case 'g':
		case 'G':
			if (pk_clone_agg_flag(&o->clone_flags, &o->agg, c == 'G', optarg, verb))
				return PK_EXIT_USAGE;
			break;
		case 'm':
		case 'c':
			if (pk_clone_limit_flag(&o->clone_flags, c == 'c', optarg, verb))
				return PK_EXIT_USAGE;
			break;
		case 'V':
		case 'Y':
			if (pk_clone_volume_flag(&o->clone_flags, c == 'Y', optarg, verb))
				return PK_EXIT_USAGE;
			break;
		case 'B':
			o->balance = true;
			break;
		case 'F':
			o->force = true;
			break;
		case 'r':
			o->auto_reclone = true;
			break;
		case 'a':
			o->adapt = true;
			break;
		case 'K':
		case 'J':
			if (pk_parse_double(optarg, c == 'K' ? 1 : 0, c == 'K' ? 100 : 99,
					    c == 'K' ? &high : &low))
				return pk_cli_fail(PK_EXIT_USAGE, o->what, "--adapt-%s '%s': %s",
						   c == 'K' ? "high" : "low", optarg,
						   c == 'K' ? "a percentage from 1 to 100"
							    : "a percentage from 0 to 99");
			*(c == 'K' ? &o->adapt_high : &o->adapt_low) = optarg;
			break;
		case 'I':
			if (pk_parse_duration(optarg, UP_MAX_RECLONE_NS, &o->reclone_ns) ||
			    o->reclone_ns < 1000000)
				return pk_cli_fail(
					PK_EXIT_USAGE, o->what,
					"--reclone-min-interval '%s': a duration from 1ms "
					"to 1440m (ms, s or m; e.g. 30s)",
					optarg);
			break;
		case 'H':
			fputs(up_usage, stdout);
			return -1;
		default:
			return pk_cli_fail(PK_EXIT_USAGE, o->what, "bad option '%s' (see --help)",
					   argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return pk_cli_fail(PK_EXIT_USAGE, o->what, "%s", "needs PROD");
	o->prod = argv[optind];
	snprintf(o->what, sizeof(o->what), "%s %.40s", verb, o->prod);
	up_home(o);
	if (!down && !o->port)
		return pk_cli_fail(PK_EXIT_USAGE, o->what, "%s",
				   "-p PORT (the service port) is required");
	if (!o->lport)
		o->lport = o->port;
	if (o->compare_log[0] && !o->compare)
		return pk_cli_fail(PK_EXIT_USAGE, o->what, "%s",
				   "--compare-log goes with --compare");
	if (o->force && !o->balance)
		return pk_cli_fail(PK_EXIT_USAGE, o->what, "%s", "--force goes with --balance");
	if ((o->adapt_high || o->adapt_low) && !o->adapt)
		return pk_cli_fail(PK_EXIT_USAGE, o->what, "%s",
				   "--adapt-high and --adapt-low go with --adapt");
	if (low >= high)
		return pk_cli_fail(PK_EXIT_USAGE, o->what,
				   "--adapt-low %g%% is not below --adapt-high %g%%", low, high);
	if (o->reclone_ns && !o->auto_reclone)
		return pk_cli_fail(PK_EXIT_USAGE, o->what, "%s",
				   "--reclone-min-interval goes with --auto-reclone");
	if ((o->clone_flags.nredirects || o->agg.nadmin) && o->clones > 1)
		return pk_cli_fail(PK_EXIT_USAGE, o->what, "%s",
				   "--agg serves one clone: use --clones 1");
	return 0;
}

int pk_cmd_up(int argc, char **argv)
{
	struct up_opts o = { .state_dir = pk_state_dir_default(),
			     .listen_host = UP_DEFAULT_LISTEN,
			     .admin = PK_CLI_ADMIN_DEFAULT,
			     .clones = UP_DEFAULT_CLONES };
	struct pk_container_info infos[UP_MAX_CLONES + 1];
	char names[UP_MAX_CLONES][48], err[PK_ERR_MAX], admin_host[256];
	char server[32]; /* --balance: the stateful server production runs */
	uint16_t admin_port;
	uint64_t start, watch_start = 0;
	struct pk_addr admin_addr;
	pid_t pid, watch = 0;
	int rc = parse_up(argc, argv, &o, false);

	if (rc)
		return rc < 0 ? PK_EXIT_OK : rc;
	if (pk_parse_hostport(o.admin, PK_CLI_ADMIN_HOST, admin_host, sizeof(admin_host),
			      &admin_port))
		return pk_cli_fail(PK_EXIT_USAGE, o.what, "--admin '%s' is not [ADDR:]PORT",
				   o.admin);
	if (prod_info(&o, &infos[o.clones]) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s",
				   "no running container of that name");
	if (mkdir(o.home, 0700) < 0 && errno != EEXIST)
		return pk_cli_fail(PK_EXIT_RUNTIME, o.what, "mkdir %s: %s", o.home,
				   strerror(errno));
	if (o.balance && !o.force && pk_stateful_proc(infos[o.clones].pid, server, sizeof(server)))
		return pk_cli_fail(
			PK_EXIT_USAGE, o.what,
			"--balance: production runs %s, which keeps state: each clone would "
			"see a subset of its writes and diverge (--force to balance anyway)",
			server);
	for (int i = 0; i < o.clones; i++) {
		struct pk_clone_report rep;

		clone_name(o.prod, i + 1, names[i], sizeof(names[i]));
		printf("cloning %s into %s ...\n", o.prod, names[i]);
		fflush(stdout);
		rc = make_clone(&o, names[i], &infos[i], &rep, err, sizeof(err));
		if (rc) {
			for (int j = 0; j < i; j++)
				pk_clone_rm(o.state_dir, names[j], err, sizeof(err));
			return pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s", err);
		}
		printf("  %s at %s, production frozen %.1f ms, total %.0f ms\n", names[i],
		       infos[i].mgmt, rep.frozen_ms + rep.freezing_ms, rep.total_ms);
		pk_clone_agg_warn(&o.agg);
	}
	pid = start_dup(&o, infos, o.clones, admin_host, admin_port);
	if (pid < 0) {
		for (int j = 0; j < o.clones; j++)
			pk_clone_rm(o.state_dir, names[j], err, sizeof(err));
		return pk_cli_fail(PK_EXIT_RUNTIME, o.what,
				   "the duplicator did not start: %s (see dup.log)",
				   strerror((int)-pid));
	}
	snprintf(err, sizeof(err), "%s:%u", admin_host, admin_port);
	rc = pk_proc_start_time(pid, &start);
	if (rc == 0 && o.auto_reclone &&
	    pk_addr_resolve(admin_host, admin_port, &admin_addr, NULL, 0) == 0) {
		watch = start_watch(&o, infos, names, o.clones, pid, start, &admin_addr);
		rc = watch > 0 ? pk_proc_start_time(watch, &watch_start) : -ECHILD;
	}
	if (rc < 0 ||
	    save_up(&o, pid, start, watch, watch_start, err, infos, names, o.clones) < 0) {
		if (watch > 0)
			stop_child(watch);
		stop_child(pid);
		for (int j = 0; j < o.clones; j++)
			pk_clone_rm(o.state_dir, names[j], err, sizeof(err));
		return pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s",
				   rc < 0 ? "could not start the supervisor (--auto-reclone)"
					  : "could not record what was brought up (up.json)");
	}
	printf("front door %s:%u -> production %s:%u, %d clone(s); status: parikshan status "
	       "--admin %s\n",
	       o.listen_host, o.lport, infos[o.clones].ip, o.port, o.clones, err);
	if (watch > 0)
		printf("auto-reclone: supervisor pid %d, at most one re-clone per clone per %.1f "
		       "s; "
		       "log %s/up.log\n",
		       (int)watch,
		       (double)(o.reclone_ns ? o.reclone_ns
					     : UP_DEFAULT_RECLONE_S * 1000000000ull) /
			       1e9,
		       o.home);
	return PK_EXIT_OK;
}

/* Stops the process up.json (j) names under key ("dup": dup_pid and dup_start; "watch"), if
 * it is still the process `up` started (same pid and start time): a pid reused by another
 * process since is never signalled.  what names it in error lines.  Tells whether it is known
 * to be gone now (prints why not otherwise); a "watch" up.json does not name was never
 * started, so is gone. */
static bool stop_recorded(const struct up_opts *o, const cJSON *j, const char *key,
			  const char *what, int timeout_ms)
{
	char pid_key[32], start_key[32];
	const cJSON *pidj, *startj;
	int pidfd, rc;

	snprintf(pid_key, sizeof(pid_key), "%s_pid", key);
	snprintf(start_key, sizeof(start_key), "%s_start", key);
	pidj = cJSON_GetObjectItemCaseSensitive(j, pid_key);
	startj = cJSON_GetObjectItemCaseSensitive(j, start_key);
	if (!pidj && !startj && strcmp(key, "watch") == 0)
		return true;
	if (!cJSON_IsNumber(pidj) || !cJSON_IsNumber(startj) || pidj->valuedouble < 1 ||
	    pidj->valuedouble > INT32_MAX || startj->valuedouble < 0) {
		pk_cli_fail(PK_EXIT_RUNTIME, o->what,
			    "up.json names no %s process (pid and start time): not signalling any",
			    what);
		return false;
	}
	pidfd = pk_proc_open_checked((pid_t)pidj->valuedouble, (uint64_t)startj->valuedouble);
	if (pidfd == -ESRCH)
		return true; /* gone already (or its pid is another process's now) */
	if (pidfd < 0) {
		pk_cli_fail(PK_EXIT_RUNTIME, o->what, "%s pid %d: %s", what, (int)pidj->valuedouble,
			    strerror(-pidfd));
		return false;
	}
	rc = pk_proc_stop(pidfd, timeout_ms);
	if (rc)
		pk_cli_fail(PK_EXIT_RUNTIME, o->what, "stopping the %s: %s", what, strerror(-rc));
	close(pidfd);
	return rc == 0;
}

int pk_cmd_down(int argc, char **argv)
{
	struct up_opts o = { .state_dir = pk_state_dir_default() };
	char path[4096], buf[8192], err[PK_ERR_MAX];
	const cJSON *arr, *c;
	cJSON *j;
	ssize_t n;
	int fd, rc = parse_up(argc, argv, &o, true), failed = 0;
	bool stopped;

	if (rc)
		return rc < 0 ? PK_EXIT_OK : rc;
	up_json_path(&o, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s", "nothing was brought up for it");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	j = cJSON_Parse(buf);
	if (!j)
		return pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s", "up.json is damaged");
	/* the supervisor first: it must not re-clone what is being removed */
	stopped = stop_recorded(&o, j, "watch", "supervisor", WATCH_STOP_MS);
	stopped = stop_recorded(&o, j, "dup", "duplicator", DUP_STOP_MS) && stopped;
	arr = cJSON_GetObjectItemCaseSensitive(j, "clones");
	cJSON_ArrayForEach(c, arr)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");

		if (cJSON_IsString(name) &&
		    pk_clone_rm(o.state_dir, name->valuestring, err, sizeof(err)) < 0) {
			pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s", err);
			failed = 1;
		}
	}
	cJSON_Delete(j);
	unlink(path);
	if (pk_ctr_ref_foreign(o.prod)) { /* our directory for it (up_home): its logs go too */
		snprintf(path, sizeof(path), "%s/dup.log", o.home);
		unlink(path);
		snprintf(path, sizeof(path), "%s/up.log", o.home);
		unlink(path);
		rmdir(o.home);
	}
	if (!failed)
		printf("%s: %sclones removed\n", o.prod, stopped ? "duplicator stopped, " : "");
	return failed ? PK_EXIT_RUNTIME : PK_EXIT_OK;
}
