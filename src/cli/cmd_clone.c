/* cmd_clone.c — `parikshan clone PROD NAME`: live-clone a running container (ours, or Docker's
 * as docker:NAME). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/clone_agg.h"
#include "cli/clone_trace.h"
#include "clone/clone.h"
#include "common/args.h"

static const char clone_usage[] =
	"usage: parikshan clone PROD NAME [--recreate] [--mem SIZE] [--cpus N] [--json]\n"
	"                       [--agg IP:PORT=DPORT [--agg-admin ADDR]] [--state-dir DIR]\n"
	"                       [--volumes copy|overlay] [--share-volume PATH:ro]...\n"
	"                       [--trace [--trace-db FILE]]\n"
	"       parikshan clone PROD NAME --to HOST:PORT --token FILE [--mem SIZE] [--cpus N]\n"
	"                       [--json]\n"
	"\n"
	"Live-clone running container PROD (one of ours, or docker:NAME|ID for a Docker\n"
	"container, found through the daemon at $DOCKER_HOST or /var/run/docker.sock) into\n"
	"debug container NAME: same memory state, same\n"
	"service IP in its own network namespace (reachable from the host at a management\n"
	"address), its own copy of the filesystem, its own cgroups (production's limits unless\n"
	"--mem/--cpus say otherwise), and a firewall: it answers the host's connections and\n"
	"reaches --agg's debug ports at " PK_CLONE_GATEWAY ", nothing else.  Production keeps\n"
	"running; its TCP connections stay with it.\n"
	"\n"
	"  --recreate         replace an existing clone NAME (e.g. after it "
	"desynced)\n" PK_CLONE_LIMIT_HELP PK_CLONE_VOLUME_HELP
	"  --agg IP:PORT=DPORT   production's backend at IP:PORT is reached through `parikshan\n"
	"                     agg` with its debug side on port DPORT: the clone's connections to\n"
	"                     IP:PORT go to " PK_CLONE_GATEWAY ":DPORT (run agg with --debug-addr\n"
	"                     " PK_CLONE_GATEWAY "), anything else to IP is refused (repeatable)\n"
	"  --agg-admin [ADDR:]PORT  that agg's admin endpoint: its pairing is reset while\n"
	"                     production is frozen, so both sides count connections from there\n"
	"  --to HOST:PORT     clone onto another host, where `parikshan agent` listens\n"
	"  --token FILE       the agent's shared secret\n"
	"  --json             print the step timings as JSON\n"
	"  --trace            trace request paths in the clone (never in production): a logd\n"
	"                     for the clone (stopped when the clone is removed) and the tracing\n"
	"                     library attached to every process of the clone\n"
	"  --trace-db FILE    the trace store (default STATE/NAME/trace.sqlite, removed with\n"
	"                     the clone); read it with `parikshan trace paths --db FILE`\n"
	"  --state-dir DIR    where containers are kept (default $" PK_STATE_DIR_ENV
	" or " PK_STATE_DIR ")\n"
	"  --help             show this text\n";

static const struct option clone_options[] = {
	{ "recreate", no_argument, NULL, 'r' },
	{ "json", no_argument, NULL, 'j' },
	{ "state-dir", required_argument, NULL, 'S' },
	{ "to", required_argument, NULL, 't' },
	{ "token", required_argument, NULL, 'k' },
	{ "agg", required_argument, NULL, 'a' },
	{ "agg-admin", required_argument, NULL, 'A' },
	{ "mem", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "trace", no_argument, NULL, 'T' },
	{ "trace-db", required_argument, NULL, 'D' },
	{ "volumes", required_argument, NULL, 'V' },
	{ "share-volume", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'H' },
	{ NULL, 0, NULL, 0 },
};

int pk_cmd_clone(int argc, char **argv)
{
	struct pk_clone_opts o = { .state_dir = pk_state_dir_default() };
	struct pk_clone_report rep;
	struct pk_strbuf out = { 0 };
	char err[PK_ERR_MAX], what[128], to_host[256];
	struct pk_remote_opts remote = { 0 };
	struct pk_clone_agg agg = { .nadmin = 0 };
	bool json = false, trace = false;
	const char *trace_db = NULL;
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", clone_options, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.recreate = true;
			break;
		case 'j':
			json = true;
			break;
		case 'S':
			if (strlen(optarg) > 256) {
				pk_cli_error("clone", "--state-dir is too long");
				return PK_EXIT_USAGE;
			}
			o.state_dir = optarg;
			break;
		case 't':
			if (pk_parse_hostport(optarg, "127.0.0.1", to_host, sizeof(to_host),
					      &remote.port)) {
				pk_cli_error("clone: --to", "'%s' is not HOST:PORT", optarg);
				return PK_EXIT_USAGE;
			}
			remote.host = to_host;
			break;
		case 'k':
			remote.token_file = optarg;
			break;
		case 'a':
		case 'A':
			if ((rc = pk_clone_agg_flag(&o, &agg, c == 'A', optarg, "clone")))
				return rc;
			break;
		case 'm':
		case 'c':
			if ((rc = pk_clone_limit_flag(&o, c == 'c', optarg, "clone")))
				return rc;
			break;
		case 'V':
		case 's':
			if ((rc = pk_clone_volume_flag(&o, c == 's', optarg, "clone")))
				return rc;
			break;
		case 'T':
			trace = true;
			break;
		case 'D':
			trace = true;
			trace_db = optarg;
			break;
		case 'H':
			fputs(clone_usage, stdout);
			return PK_EXIT_OK;
		case ':':
			pk_cli_error("clone", "%s needs a value", argv[optind - 1]);
			return PK_EXIT_USAGE;
		default:
			pk_cli_error("clone", "unknown option '%s' (see 'parikshan clone --help')",
				     argv[optind - 1]);
			return PK_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		pk_cli_error("clone", "needs PROD and NAME");
		return PK_EXIT_USAGE;
	}
	o.prod = argv[optind];
	o.name = argv[optind + 1];
	snprintf(what, sizeof(what), "clone %.40s %.40s", o.prod, o.name);
	if (getuid() != 0) {
		pk_cli_error(what, "must run as root");
		return PK_EXIT_RUNTIME;
	}
	if (!remote.host != !remote.token_file) {
		pk_cli_error(what, "--to and --token go together");
		return PK_EXIT_USAGE;
	}
	if (remote.host && (o.nredirects || agg.nadmin)) {
		pk_cli_error(what, "--agg and --agg-admin are for clones on this host");
		return PK_EXIT_USAGE;
	}
	if (remote.host && trace) {
		pk_cli_error(what, "--trace is for clones on this host");
		return PK_EXIT_USAGE;
	}
	pk_clone_agg_hook(&o, &agg);
	rc = remote.host ? pk_clone_remote(&o, &remote, &rep, err, sizeof(err))
			 : pk_clone_create(&o, &rep, err, sizeof(err));
	if (rc) {
		pk_cli_error(what, "%s", err);
		return PK_EXIT_RUNTIME;
	}
	pk_clone_agg_warn(&agg); /* the clone exists: a failed reset is a warning */
	pk_clone_report_render(&rep, json, &out);
	fputs(pk_strbuf_str(&out), stdout);
	pk_strbuf_release(&out);
	if (trace)
		return pk_cli_clone_trace(o.state_dir, o.name, trace_db, json, what);
	return PK_EXIT_OK;
}
