/* cmd_up.c — `parikshan up PROD` / `parikshan down PROD`: clones plus a duplicator in front of
 * production, in one command; the composition of `clone` and `dup` (neither knows the other).
 * What `up` started is remembered in STATE/PROD/up.json for `down`.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/clone_agg.h"
#include "cli/proxy_opts.h" /* the duplicator's defaults */
#include "cli/stateful.h"
#include "clone/clone.h"
#include "common/args.h"
#include "common/clock.h"
#include "common/http.h"
#include "common/proc.h"
#include "common/sock.h"

#define UP_MAX_CLONES 8
#define UP_DEFAULT_CLONES 1
#define UP_DEFAULT_LISTEN "127.0.0.1"
#define UP_CLONES_S "1.." PK_STR(UP_MAX_CLONES) ", default " PK_STR(UP_DEFAULT_CLONES)
#define DUP_START_MS 5000
#define DUP_STOP_MS 10000

static const char up_usage[] =
	"usage: parikshan up PROD -p PORT [--clones N] [-l LPORT] [-h ADDR] [--admin [ADDR:]PORT]\n"
	"                    [-b SIZE] [--spill DIR] [--agg IP:PORT=DPORT [--agg-admin ADDR]]\n"
	"                    [--mem SIZE] [--cpus N] [--state-dir DIR] [--balance [--force]]\n"
	"       parikshan down PROD [--state-dir DIR]\n"
	"\n"
	"up: live-clone PROD N times (PROD-dbg1, PROD-dbg2, ...) and start a duplicator whose\n"
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
	"(resp|http)\n"
	"      --agg IP:PORT=DPORT  the clone reaches PROD's backend IP:PORT through `parikshan "
	"agg`\n"
	"                           on " PK_CLONE_GATEWAY ":DPORT (see `parikshan clone --help`)\n"
	"      --agg-admin [ADDR:]PORT  that agg's admin endpoint: pairing reset while frozen\n"
	"      --mem SIZE           each clone's memory limit (default: production's)\n"
	"      --cpus N             each clone's CPU quota in CPUs (default: production's)\n"
	"      --state-dir DIR      where containers are kept\n"
	"      --balance            give each client connection to one clone only (the least "
	"loaded):\n"
	"                           the clones share the load, each sees a subset; refused for "
	"a\n"
	"                           stateful service (a database or cache) unless --force\n"
	"      --help               show this text\n"
	"\n"
	"Connections a client opened before `up` do not go through the front door, so no clone\n"
	"ever sees half a connection.  With --resync, a clone that desynced (or is re-cloned) is\n"
	"attached again to open connections at the next request boundary.\n";

struct up_opts {
	const char *state_dir, *prod, *listen_host, *admin, *spill, *buffer, *resync;
	uint16_t port, lport;
	int clones;
	struct pk_clone_opts clone_flags; /* --agg, --mem, --cpus (only those are used) */
	struct pk_clone_agg agg;	  /* --agg-admin */
	bool balance, force;		  /* --balance, --force */
	char what[64];			  /* error lines: "up", then "up PROD" (or down) */
};

static void up_json_path(const struct up_opts *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/up.json", o->state_dir, o->prod);
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
	char lport[8], port[8], admin[300], log[4096];
	char *argv[64];
	struct pk_addr a;
	int k = 0, fd;
	uint64_t deadline;
	pid_t pid;

	snprintf(lport, sizeof(lport), "%u", o->lport);
	snprintf(port, sizeof(port), "%u", o->port);
	snprintf(admin, sizeof(admin), "%s:%u", admin_host, admin_port);
	snprintf(log, sizeof(log), "%s/%s/dup.log", o->state_dir, o->prod);
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
	argv[k] = NULL;
	if (pk_addr_resolve(admin_host, admin_port, &a, NULL, 0) < 0)
		return -EINVAL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		setsid();
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			dup2(fd, 0);
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

/* Writes up.json: the duplicator (pid and start time, so that `down` signals that process and
 * no other that got its pid since) and the clones.  Returns 0 or -EIO. */
static int save_up(const struct up_opts *o, pid_t pid, uint64_t start, const char *admin,
		   struct pk_container_info *clones, char names[][48], int n)
{
	char path[4096];
	cJSON *j = cJSON_CreateObject(), *arr;
	char *text;
	FILE *f;

	cJSON_AddNumberToObject(j, "dup_pid", pid);
	cJSON_AddNumberToObject(j, "dup_start", (double)start);
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
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = down ? "down" : "up";
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
			if (strcmp(optarg, "resp") != 0 && strcmp(optarg, "http") != 0)
				return pk_cli_fail(PK_EXIT_USAGE, o->what,
						   "--resync '%s': resp or http", optarg);
			o->resync = optarg;
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
		case 'B':
			o->balance = true;
			break;
		case 'F':
			o->force = true;
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
	if (!down && !o->port)
		return pk_cli_fail(PK_EXIT_USAGE, o->what, "%s",
				   "-p PORT (the service port) is required");
	if (!o->lport)
		o->lport = o->port;
	if (o->force && !o->balance)
		return pk_cli_fail(PK_EXIT_USAGE, o->what, "%s", "--force goes with --balance");
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
	uint64_t start;
	pid_t pid;
	int rc = parse_up(argc, argv, &o, false);

	if (rc)
		return rc < 0 ? PK_EXIT_OK : rc;
	if (pk_parse_hostport(o.admin, PK_CLI_ADMIN_HOST, admin_host, sizeof(admin_host),
			      &admin_port))
		return pk_cli_fail(PK_EXIT_USAGE, o.what, "--admin '%s' is not [ADDR:]PORT",
				   o.admin);
	if (pk_container_info(o.state_dir, o.prod, &infos[o.clones]) < 0 ||
	    strcmp(infos[o.clones].status, "running") != 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s",
				   "no running container of that name");
	if (o.balance && !o.force && pk_stateful_proc(infos[o.clones].pid, server, sizeof(server)))
		return pk_cli_fail(
			PK_EXIT_USAGE, o.what,
			"--balance: production runs %s, which keeps state: each clone would "
			"see a subset of its writes and diverge (--force to balance anyway)",
			server);
	for (int i = 0; i < o.clones; i++) {
		struct pk_clone_opts co = {
			.state_dir = o.state_dir, .prod = o.prod, .name = names[i], .recreate = true
		};
		struct pk_clone_report rep;

		memcpy(co.redirects, o.clone_flags.redirects, sizeof(co.redirects));
		co.nredirects = o.clone_flags.nredirects;
		co.mem_limit = o.clone_flags.mem_limit;
		co.cpus = o.clone_flags.cpus;
		pk_clone_agg_hook(&co, &o.agg);
		snprintf(names[i], sizeof(names[i]), "%.26s-dbg%d", o.prod, i + 1);
		printf("cloning %s into %s ...\n", o.prod, names[i]);
		fflush(stdout);
		rc = pk_clone_create(&co, &rep, err, sizeof(err));
		if (rc || pk_container_info(o.state_dir, names[i], &infos[i]) < 0) {
			for (int j = 0; j < i; j++)
				pk_container_rm(o.state_dir, names[j], err, sizeof(err));
			return pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s",
					   rc ? err : "clone vanished");
		}
		printf("  %s at %s, production frozen %.1f ms, total %.0f ms\n", names[i],
		       infos[i].mgmt, rep.frozen_ms + rep.freezing_ms, rep.total_ms);
		pk_clone_agg_warn(&o.agg);
	}
	pid = start_dup(&o, infos, o.clones, admin_host, admin_port);
	if (pid < 0) {
		for (int j = 0; j < o.clones; j++)
			pk_container_rm(o.state_dir, names[j], err, sizeof(err));
		return pk_cli_fail(PK_EXIT_RUNTIME, o.what,
				   "the duplicator did not start: %s (see dup.log)",
				   strerror((int)-pid));
	}
	snprintf(err, sizeof(err), "%s:%u", admin_host, admin_port);
	if (pk_proc_start_time(pid, &start) < 0 ||
	    save_up(&o, pid, start, err, infos, names, o.clones) < 0) {
		stop_child(pid);
		for (int j = 0; j < o.clones; j++)
			pk_container_rm(o.state_dir, names[j], err, sizeof(err));
		return pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s",
				   "could not record what was brought up (up.json)");
	}
	printf("front door %s:%u -> production %s:%u, %d clone(s); status: parikshan status "
	       "--admin %s\n",
	       o.listen_host, o.lport, infos[o.clones].ip, o.port, o.clones, err);
	return PK_EXIT_OK;
}

/* Stops the duplicator up.json (j) names, if it is still the process `up` started (same pid
 * and start time): a pid reused by another process since is never signalled.  Tells whether
 * the duplicator is known to be gone now (prints why not otherwise). */
static bool stop_dup(const struct up_opts *o, const cJSON *j)
{
	const cJSON *pidj = cJSON_GetObjectItemCaseSensitive(j, "dup_pid");
	const cJSON *startj = cJSON_GetObjectItemCaseSensitive(j, "dup_start");
	int pidfd, rc;

	if (!cJSON_IsNumber(pidj) || !cJSON_IsNumber(startj) || pidj->valuedouble < 1 ||
	    pidj->valuedouble > INT32_MAX || startj->valuedouble < 0) {
		pk_cli_fail(
			PK_EXIT_RUNTIME, o->what, "%s",
			"up.json names no duplicator process (pid and start time): not signalling "
			"any");
		return false;
	}
	pidfd = pk_proc_open_checked((pid_t)pidj->valuedouble, (uint64_t)startj->valuedouble);
	if (pidfd == -ESRCH)
		return true; /* gone already (or its pid is another process's now) */
	if (pidfd < 0) {
		pk_cli_fail(PK_EXIT_RUNTIME, o->what, "duplicator pid %d: %s",
			    (int)pidj->valuedouble, strerror(-pidfd));
		return false;
	}
	rc = pk_proc_stop(pidfd, DUP_STOP_MS);
	if (rc)
		pk_cli_fail(PK_EXIT_RUNTIME, o->what, "stopping the duplicator: %s", strerror(-rc));
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
	stopped = stop_dup(&o, j);
	arr = cJSON_GetObjectItemCaseSensitive(j, "clones");
	cJSON_ArrayForEach(c, arr)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");

		if (cJSON_IsString(name) &&
		    pk_container_rm(o.state_dir, name->valuestring, err, sizeof(err)) < 0) {
			pk_cli_fail(PK_EXIT_RUNTIME, o.what, "%s", err);
			failed = 1;
		}
	}
	cJSON_Delete(j);
	unlink(path);
	if (!failed)
		printf("%s: %sclones removed\n", o.prod, stopped ? "duplicator stopped, " : "");
	return failed ? PK_EXIT_RUNTIME : PK_EXIT_OK;
}
