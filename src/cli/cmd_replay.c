/* cmd_replay.c — `parikshan replay`: flags → read the capture → pk_replay_run → table or JSON. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "capture/pcap_read.h"
#include "capture/replay.h"
#include "cli/cli.h"
#include "common/args.h"
#include "common/strbuf.h"

#define REPLAY_MAX_CONNECTIONS 4096
#define REPLAY_MAX_TIMEOUT_S (30u * 86400u)
#define REPLAY_DEFAULT_SPEED 1.0
/* the defaults as the help text shows them */
#define REPLAY_DEFAULT_SPEED_S PK_STR(REPLAY_DEFAULT_SPEED)
#define REPLAY_STALL_S PK_STR(PK_REPLAY_DEFAULT_STALL_MS)
#define REPLAY_CONNECTIONS_S PK_STR(PK_REPLAY_DEFAULT_CONNECTIONS)
#define REPLAY_MAX_MEMORY_S PK_STR(PK_PCAP_DEFAULT_MAX_GB) "G"

static const char replay_usage[] =
	"usage: parikshan replay FILE -x HOST -p PORT [--speed X | --fast] [--connections N]\n"
	"                        [--server-port P] [--timeout SECS] [--max-memory SIZE] [--json]\n"
	"\n"
	"Replay the client side of every TCP connection in a pcap/pcapng capture against "
	"HOST:PORT\n"
	"and compare each answer with the recorded server's.\n"
	"\n"
	"  -x, --host HOST        the target's host (required)\n"
	"  -p, --port PORT        the target's port (required)\n"
	"      --speed X          send at the recorded times, X times faster "
	"(default " REPLAY_DEFAULT_SPEED_S ")\n"
	"      --fast             send each chunk once the target answered what the recorded\n"
	"                         server had answered before it (" REPLAY_STALL_S
	" ms stall limit)\n"
	"      --connections N    at most N connections open at once (default " REPLAY_CONNECTIONS_S
	")\n"
	"      --server-port P    replay only connections to port P (and call that side server)\n"
	"      --timeout SECS     stop after SECS seconds (default: none)\n"
	"      --max-memory SIZE  cap on memory for the capture, K/M/G suffixes "
	"(default " REPLAY_MAX_MEMORY_S ")\n"
	"      --json             print JSON instead of a table\n"
	"      --help             show this text\n"
	"\n"
	"Exit status: 0 every answer was the same, 3 some differed or could not be compared,\n"
	"1 the replay could not run, 2 bad usage.\n";

enum {
	OPT_SPEED = 256,
	OPT_FAST,
	OPT_CONNECTIONS,
	OPT_SERVER_PORT,
	OPT_TIMEOUT,
	OPT_MAX_MEMORY,
	OPT_JSON,
	OPT_HELP,
};

static const struct option replay_options[] = {
	{ "host", required_argument, NULL, 'x' },
	{ "port", required_argument, NULL, 'p' },
	{ "speed", required_argument, NULL, OPT_SPEED },
	{ "fast", no_argument, NULL, OPT_FAST },
	{ "connections", required_argument, NULL, OPT_CONNECTIONS },
	{ "server-port", required_argument, NULL, OPT_SERVER_PORT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int pk_cli_replay(const char *file, const char *host, uint16_t port, const struct pk_pcap_opts *po,
		  struct pk_replay_opts *ro, bool json)
{
	char err[512], where[4200];
	struct pk_pcap *cap;
	struct pk_replay_report rep;
	struct pk_strbuf out = { 0 };
	int rc;

	snprintf(where, sizeof(where), "replay: resolve host '%s'", host);
	if (pk_addr_resolve(host, port, &ro->target, err, sizeof(err)) < 0) {
		pk_cli_error(where, "%s", err);
		return PK_EXIT_RUNTIME;
	}
	snprintf(where, sizeof(where), "replay: %s", file);
	rc = pk_pcap_read_file(file, po, &cap, err, sizeof(err));
	if (rc < 0) {
		pk_cli_error(where, "%s%s", err, rc == -E2BIG ? " (see --max-memory)" : "");
		return PK_EXIT_RUNTIME;
	}
	if (cap->nconns == 0) {
		pk_cli_error(where, "no TCP connection%s%.0u to replay (packets: %llu, TCP: %llu)",
			     po->server_port ? " to server port " : "", po->server_port,
			     (unsigned long long)cap->stats.packets,
			     (unsigned long long)cap->stats.tcp_packets);
		pk_pcap_free(cap);
		return PK_EXIT_RUNTIME;
	}
	rc = pk_replay_run(cap, ro, &rep, err, sizeof(err));
	pk_pcap_free(cap);
	if (rc < 0) {
		pk_cli_error("replay", "%s", err);
		return PK_EXIT_RUNTIME;
	}
	if (json) {
		if (pk_replay_report_json(&rep, &out) < 0) {
			pk_cli_error("replay", "%s", strerror(ENOMEM));
			pk_strbuf_release(&out);
			pk_replay_report_release(&rep);
			return PK_EXIT_RUNTIME;
		}
	} else {
		pk_replay_report_table(&rep, &out);
	}
	fputs(pk_strbuf_str(&out), stdout);
	fflush(stdout);
	rc = pk_replay_all_same(&rep) ? PK_EXIT_OK : PK_EXIT_DIFFERENT;
	pk_strbuf_release(&out);
	pk_replay_report_release(&rep);
	return rc;
}

int pk_cmd_replay(int argc, char **argv)
{
	struct pk_pcap_opts po = { 0 };
	struct pk_replay_opts ro = { .speed = REPLAY_DEFAULT_SPEED };
	const char *host = NULL;
	uint16_t port = 0;
	bool json = false, speed_set = false;
	uint64_t v;
	int c, err;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":x:p:", replay_options, NULL)) != -1) {
		switch (c) {
		case 'x':
			host = optarg;
			break;
		case 'p':
			if ((err = pk_parse_port(optarg, &port)))
				return pk_cli_bad_value("replay", "port", optarg, err);
			break;
		case OPT_SPEED:
			if ((err = pk_parse_double(optarg, 0.001, 1e6, &ro.speed)))
				return pk_cli_bad_value("replay", "--speed", optarg, err);
			speed_set = true;
			break;
		case OPT_FAST:
			ro.fast = true;
			break;
		case OPT_CONNECTIONS:
			if ((err = pk_parse_uint(optarg, REPLAY_MAX_CONNECTIONS, &v)) || v == 0)
				return pk_cli_bad_value("replay", "--connections", optarg,
							err ? err : -ERANGE);
			ro.connections = (unsigned)v;
			break;
		case OPT_SERVER_PORT:
			if ((err = pk_parse_port(optarg, &po.server_port)))
				return pk_cli_bad_value("replay", "--server-port", optarg, err);
			break;
		case OPT_TIMEOUT:
			if ((err = pk_parse_uint(optarg, REPLAY_MAX_TIMEOUT_S, &v)) || v == 0)
				return pk_cli_bad_value("replay", "--timeout", optarg,
							err ? err : -ERANGE);
			ro.timeout_ms = v * 1000;
			break;
		case OPT_MAX_MEMORY:
			if ((err = pk_parse_size(optarg, &po.max_bytes)) || po.max_bytes < 4096)
				return pk_cli_bad_value("replay", "--max-memory", optarg,
							err ? err : -ERANGE);
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HELP:
			fputs(replay_usage, stdout);
			return PK_EXIT_OK;
		case ':':
			return pk_cli_bad("replay", argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad("replay", argv[optind - 1],
					  "unknown option (see 'parikshan replay --help')");
		}
	}
	if (optind >= argc)
		return pk_cli_bad("replay", "FILE", "a capture file is required");
	if (optind + 1 < argc)
		return pk_cli_bad("replay", argv[optind + 1], "unexpected argument");
	if (!host || !port)
		return pk_cli_bad("replay", "-x/-p", "a target host and port are required");
	if (speed_set && ro.fast)
		return pk_cli_bad("replay", "--speed/--fast", "give one or the other");
	return pk_cli_replay(argv[optind], host, port, &po, &ro, json);
}
