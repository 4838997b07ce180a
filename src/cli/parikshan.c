/* parikshan.c — entry point: dispatches to a subcommand from a sorted table. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/args.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

/* Sorted by name. */
static const struct command commands[] = {
	{ "agent", pk_cmd_agent, "receive live clones sent from another host (clone --to)" },
	{ "agg", pk_cmd_agg,
	  "pass a service's backend traffic through; replay its responses to clones" },
	{ "clone", pk_cmd_clone,
	  "live-clone a running container into a sandboxed debug container" },
	{ "coldpatch", pk_cmd_coldpatch,
	  "turn a -finstrument-functions build's calls into NOPs and a probe table" },
	{ "container", pk_cmd_container,
	  "run, list, remove production containers; show their logs" },
	{ "debug", pk_cmd_debug,
	  "run a shell, gdb, strace or tcpdump inside a clone, with the host's tools" },
	{ "diverge", pk_cmd_diverge,
	  "show dup's compare log: the first divergence of each connection" },
	{ "down", pk_cmd_down, "stop the duplicator and remove the clones that 'up' made" },
	{ "dup", pk_cmd_dup, "duplicate client traffic to production and to debug clones" },
	{ "fault", pk_cmd_fault, "inject network, CPU and kill faults into a clone" },
	{ "invivo", pk_cmd_invivo,
	  "run a test in forked children of a live process at a function's entry" },
	{ "probe", pk_cmd_probe,
	  "function probes in a live process: list, enable, disable, dump, fperf" },
	{ "replay", pk_cmd_replay,
	  "replay a capture's clients against a server and compare the answers" },
	{ "rewind", pk_cmd_rewind,
	  "put a clone back to a snapshot; replay the input recorded since then" },
	{ "sim", pk_cmd_sim, "simulate a clone's buffer: the debug window by slowdown and size" },
	{ "snapshot", pk_cmd_snapshot,
	  "checkpoint a running clone and record its input from then on" },
	{ "status", pk_cmd_status, "show a running proxy's connections, buffers and clone lag" },
	{ "trace", pk_cmd_trace,
	  "trace request paths across processes: run, attach, logd, expand, analyze, paths" },
	{ "up", pk_cmd_up, "clone a container and put a duplicator in front of it, in one step" },
	{ "use", pk_cmd_use, "utilisation, saturation, errors of a container or clone" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: parikshan <command> [options]\n\n"
		   "Debug a live service in a sandboxed clone, on live traffic.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'parikshan <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		pk_cli_error("missing command", "try 'parikshan --help'");
		return PK_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return PK_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	pk_cli_error(argv[1][0] ? argv[1] : "''", "unknown command (try 'parikshan --help')");
	return PK_EXIT_USAGE;
}
