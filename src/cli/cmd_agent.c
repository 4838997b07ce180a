/* cmd_agent.c — `parikshan agent`: receive external clones on this host. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "clone/clone.h"
#include "common/args.h"

static const char agent_usage[] =
	"usage: parikshan agent --listen ADDR:PORT --token FILE [--state-dir DIR]\n"
	"\n"
	"Receive live clones sent with `parikshan clone PROD NAME --to ADDR:PORT --token FILE`.\n"
	"Clients prove they know the token (HMAC challenge); memory pages arrive through CRIU's\n"
	"page server, files through an rsync daemon restricted to the clone's directory; the "
	"agent\n"
	"then restores the clone with runc.  Serves one client at a time until killed.\n"
	"\n"
	"  --listen ADDR:PORT  where to listen (the page server and rsync use free ports on ADDR)\n"
	"  --token FILE        shared secret, first line, at least 16 characters\n"
	"  --state-dir DIR     where clones are kept on this host\n"
	"  --help              show this text\n";

int pk_cmd_agent(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'L' },
		{ "token", required_argument, NULL, 'T' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct pk_agent_opts o = { .state_dir = pk_state_dir_default() };
	char host[256], err[PK_ERR_MAX], criu[32];
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'L':
			if (pk_parse_hostport(optarg, "127.0.0.1", host, sizeof(host), &o.port)) {
				pk_cli_error("agent: --listen", "'%s' is not ADDR:PORT", optarg);
				return PK_EXIT_USAGE;
			}
			o.listen_host = host;
			break;
		case 'T':
			o.token_file = optarg;
			break;
		case 'S':
			o.state_dir = optarg;
			break;
		case 'H':
			fputs(agent_usage, stdout);
			return PK_EXIT_OK;
		default:
			pk_cli_error("agent", "bad option '%s' (see 'parikshan agent --help')",
				     argv[optind - 1]);
			return PK_EXIT_USAGE;
		}
	}
	if (!o.listen_host || !o.token_file || optind < argc) {
		pk_cli_error("agent", "--listen ADDR:PORT and --token FILE are required");
		return PK_EXIT_USAGE;
	}
	if (getuid() != 0) {
		pk_cli_error("agent", "must run as root");
		return PK_EXIT_RUNTIME;
	}
	if (pk_criu_version(criu, sizeof(criu)) < 0) {
		pk_cli_error("agent", "criu is not installed (run scripts/deps.sh)");
		return PK_EXIT_RUNTIME;
	}
	o.criu_version = criu;
	rc = pk_agent_run(&o, err, sizeof(err));
	if (rc) {
		pk_cli_error("agent", "%s", err);
		return PK_EXIT_RUNTIME;
	}
	return PK_EXIT_OK;
}
