/* cmd_snapshot.c — `parikshan snapshot` and `parikshan rewind`: a clone's checkpoints and its
 * recorded input (src/clone/snapshot.c), and the replay of that input after a rewind
 * (src/capture/replay.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/pcap_read.h"
#include "capture/replay.h"
#include "cli/cli.h"
#include "clone/clone.h"
#include "common/args.h"

static const char snapshot_usage[] =
	"usage: parikshan snapshot CLONE [TAG] [-p PORT] [--state-dir DIR]\n"
	"       parikshan snapshot CLONE --list [--state-dir DIR]\n"
	"       parikshan rewind CLONE TAG [--replay [--speed X | --fast]] [--state-dir DIR]\n"
	"\n"
	"snapshot: checkpoint a running clone (CRIU, leave-running: it keeps serving) with its\n"
	"filesystem, and from then on record its input (the TCP traffic to PORT, captured in its\n"
	"network namespace) beside the snapshot.  TAG defaults to s1, s2, ...\n"
	"rewind: put the clone back to TAG (stopped, its filesystem and memory restored from the\n"
	"snapshot, same name, addresses and limits; production untouched); with --replay, send it\n"
	"the input recorded since TAG again and compare its answers with the recorded ones.  The\n"
	"snapshot stays: rewind to it as often as you like.\n"
	"\n"
	"  -p, --port PORT    the service port whose input is recorded (default: the one TCP port\n"
	"                     the clone listens on)\n"
	"  --list             the clone's snapshots\n"
	"  --replay           after the rewind, replay the recorded input against the clone\n"
	"  --fast             replay as fast as causality allows (the default)\n"
	"  --speed X          replay at the recorded pace divided by X\n"
	"  --state-dir DIR    where containers are kept (default $" PK_STATE_DIR_ENV
	" or " PK_STATE_DIR ")\n"
	"  --help             show this text\n"
	"Exit status: 0 done, 1 failed, 2 usage, 3 (rewind --replay) some answers differ.\n";

enum { OPT_LIST = 256, OPT_REPLAY, OPT_FAST, OPT_SPEED, OPT_STATE, OPT_HELP };

static const struct option snap_options[] = {
	{ "port", required_argument, NULL, 'p' },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "replay", no_argument, NULL, OPT_REPLAY },
	{ "fast", no_argument, NULL, OPT_FAST },
	{ "speed", required_argument, NULL, OPT_SPEED },
	{ "state-dir", required_argument, NULL, OPT_STATE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct snap_opts {
	const char *cmd; /* "snapshot" or "rewind" */
	const char *state_dir;
	uint16_t port;
	bool list, replay, fast;
	double speed; /* 0: not given */
};

/* Parses the options of cmd into o; -1 to go on, else an exit status. */
static int parse(const char *cmd, int argc, char **argv, struct snap_opts *o)
{
	uint64_t v;
	int c;

	o->cmd = cmd;
	o->state_dir = pk_state_dir_default();
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:", snap_options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (pk_parse_uint(optarg, 65535, &v) || !v)
				return pk_cli_bad_value(cmd, "--port", optarg, -EINVAL);
			o->port = (uint16_t)v;
			break;
		case OPT_LIST:
			o->list = true;
			break;
		case OPT_REPLAY:
			o->replay = true;
			break;
		case OPT_FAST:
			o->fast = true;
			break;
		case OPT_SPEED:
			if (pk_parse_double(optarg, 0, 1e6, &o->speed) || o->speed <= 0)
				return pk_cli_bad_value(cmd, "--speed", optarg, -EINVAL);
			break;
		case OPT_STATE:
			o->state_dir = optarg;
			break;
		case OPT_HELP:
			fputs(snapshot_usage, stdout);
			return PK_EXIT_OK;
		case ':':
			return pk_cli_bad(cmd, argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad(cmd, argv[optind - 1],
					  "unknown option (see 'parikshan snapshot --help')");
		}
	}
	return -1;
}

static int snapshot_list(const struct snap_opts *o, const char *name)
{
	struct pk_snapshot_info *s;
	char err[512], when[32];
	size_t n;
	int rc = pk_snapshot_list(o->state_dir, name, &s, &n, err, sizeof(err));

	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "snapshot", "%s", err);
	printf("%-12s %-20s %6s %-10s %12s %8s\n", "TAG", "TAKEN", "PORT", "RECORDING",
	       "INPUT_BYTES", "DROPPED");
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)s[i].created;

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
		printf("%-12s %-20s %6u %-10s %12llu %8llu\n", s[i].tag, when, s[i].port,
		       s[i].recording ? "yes" : "no", (unsigned long long)s[i].input_bytes,
		       (unsigned long long)s[i].dropped);
	}
	free(s);
	return PK_EXIT_OK;
}

int pk_cmd_snapshot(int argc, char **argv)
{
	struct snap_opts o = { 0 };
	struct pk_snapshot_info info;
	char err[1024];
	int rc = parse("snapshot", argc, argv, &o);

	if (rc >= 0)
		return rc;
	if (o.replay || o.fast || o.speed > 0)
		return pk_cli_bad("snapshot", "--replay/--fast/--speed", "go with 'rewind'");
	if (optind >= argc || argc - optind > (o.list ? 1 : 2))
		return pk_cli_bad("snapshot", "CLONE", "give one clone and at most one TAG");
	if (o.list)
		return snapshot_list(&o, argv[optind]);
	rc = pk_snapshot_take(o.state_dir, argv[optind],
			      argc - optind == 2 ? argv[optind + 1] : NULL, o.port, &info, err,
			      sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "snapshot", "%s", err);
	printf("snapshot %s of %s taken in %.0f ms (the clone kept running); recording its input "
	       "to port %u (recorder pid %d)\n",
	       info.tag, argv[optind], info.ms, info.port, info.recorder_pid);
	return PK_EXIT_OK;
}

int pk_cmd_rewind(int argc, char **argv)
{
	struct snap_opts o = { 0 };
	struct pk_snapshot_info info;
	struct pk_container_info ci;
	char err[1024], input[4096];
	int rc = parse("rewind", argc, argv, &o);

	if (rc >= 0)
		return rc;
	if (o.list || o.port)
		return pk_cli_bad("rewind", "--list/--port", "go with 'snapshot'");
	if ((o.fast || o.speed > 0) && !o.replay)
		return pk_cli_bad("rewind", "--fast/--speed", "go with --replay");
	if (o.fast && o.speed > 0)
		return pk_cli_bad("rewind", "--fast and --speed", "give one of them");
	if (argc - optind != 2)
		return pk_cli_bad("rewind", "CLONE TAG", "give a clone and a snapshot tag");
	rc = pk_snapshot_rewind(o.state_dir, argv[optind], argv[optind + 1], &info, input,
				sizeof(input), err, sizeof(err));
	if (rc)
		return pk_cli_fail(PK_EXIT_RUNTIME, "rewind", "%s", err);
	printf("clone %s rewound to %s; its input since then: %llu bytes recorded, %llu packets "
	       "dropped by the capture%s%s\n",
	       argv[optind], info.tag, (unsigned long long)info.input_bytes,
	       (unsigned long long)info.dropped, info.rec_error[0] ? "; recorder: " : "",
	       info.rec_error);
	if (!o.replay)
		return PK_EXIT_OK;
	if (pk_container_info(o.state_dir, argv[optind], &ci))
		return pk_cli_fail(PK_EXIT_RUNTIME, "rewind", "clone %s vanished", argv[optind]);
	struct pk_pcap_opts po = { .server_port = info.port };
	struct pk_replay_opts ro = { .speed = o.speed, .fast = o.speed <= 0 };

	return pk_cli_replay(input, ci.mgmt, info.port, &po, &ro, false);
}
