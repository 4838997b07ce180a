/* debug_args.c — `parikshan debug`'s command line: flags, NAME, the process for gdb and
 * strace, the command after "--"; and the argv of the tool it runs. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/debug_args.h"
#include "common/args.h"

static const struct {
	const char *prog, *package;
} tool_progs[] = {
	[PK_DEBUG_SHELL] = { NULL, NULL },
	[PK_DEBUG_GDB] = { "gdb", "gdb" },
	[PK_DEBUG_STRACE] = { "strace", "strace" },
	[PK_DEBUG_TCPDUMP] = { "tcpdump", "tcpdump" },
};

const char *pk_debug_tool_prog(enum pk_debug_tool t)
{
	return tool_progs[t].prog;
}

const char *pk_debug_tool_package(enum pk_debug_tool t)
{
	return tool_progs[t].package;
}

static const struct option debug_options[] = {
	{ "gdb", no_argument, NULL, 'g' },	   { "bt", no_argument, NULL, 'b' },
	{ "strace", no_argument, NULL, 's' },	   { "tcpdump", no_argument, NULL, 't' },
	{ "write", required_argument, NULL, 'w' }, { "tools", required_argument, NULL, 'T' },
	{ "production", no_argument, NULL, 'P' },  { "state-dir", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'H' },	   { NULL, 0, NULL, 0 },
};

static int set_tool(struct pk_debug_args *o, enum pk_debug_tool t)
{
	if (o->tool != PK_DEBUG_SHELL && o->tool != t)
		return pk_cli_bad("debug", "--gdb, --strace, --tcpdump", "choose one");
	o->tool = t;
	return 0;
}

int pk_debug_args_parse(int argc, char **argv, struct pk_debug_args *o)
{
	int c, end = argc, rc;

	/* Everything after the first "--" is the command (getopt would mix it with NAME). */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			end = i;
			o->cmd = argv + i + 1;
			o->ncmd = argc - i - 1;
			break;
		}
	optind = 0; /* GNU getopt: start over, permutation state included */
	opterr = 0;
	while ((c = getopt_long(end, argv, ":w:", debug_options, NULL)) != -1) {
		switch (c) {
		case 'g':
		case 's':
		case 't':
			rc = set_tool(o, c == 'g'   ? PK_DEBUG_GDB
					 : c == 's' ? PK_DEBUG_STRACE
						    : PK_DEBUG_TCPDUMP);
			if (rc)
				return rc;
			break;
		case 'b':
			o->bt = true;
			break;
		case 'w':
			o->write = optarg;
			break;
		case 'T':
			o->tools = optarg;
			break;
		case 'P':
			o->production = true;
			break;
		case 'S':
			o->state_dir = optarg;
			break;
		case 'H':
			return -1;
		case ':':
			return pk_cli_bad("debug", argv[optind - 1], "needs a value");
		default:
			return pk_cli_bad("debug", argv[optind - 1],
					  "unknown option (try 'parikshan debug --help')");
		}
	}
	if (optind >= end)
		return pk_cli_bad("debug", "NAME", "missing (a clone, a container, or pid:PID)");
	o->name = argv[optind++];
	if (optind < end && (o->tool == PK_DEBUG_GDB || o->tool == PK_DEBUG_STRACE))
		o->process = argv[optind++];
	if (optind < end)
		return pk_cli_bad("debug", argv[optind],
				  "unexpected argument (a command goes after '--')");
	if (o->bt && o->tool != PK_DEBUG_GDB)
		return pk_cli_bad("debug", "--bt", "goes with --gdb");
	if (o->write && o->tool != PK_DEBUG_TCPDUMP)
		return pk_cli_bad("debug", "--write", "goes with --tcpdump");
	if (o->tool == PK_DEBUG_SHELL && o->cmd && o->ncmd == 0)
		return pk_cli_bad("debug", "--", "no command after it");
	return 0;
}

void pk_debug_args_argv(const struct pk_debug_args *o, pid_t ns_pid,
			struct pk_debug_argv_strings *s, const char **argv)
{
	int n = 0;

	snprintf(s->pid, sizeof(s->pid), "%d", (int)ns_pid);
	snprintf(s->sysroot, sizeof(s->sysroot), "set sysroot /proc/%d/root", (int)ns_pid);
	switch (o->tool) {
	case PK_DEBUG_GDB:
		argv[n++] = "gdb";
		argv[n++] = "-q";
		argv[n++] = "-ex";
		argv[n++] = s->sysroot;
		if (o->bt) {
			argv[n++] = "-batch";
			argv[n++] = "-ex";
			argv[n++] = "thread apply all bt";
		}
		break;
	case PK_DEBUG_STRACE:
		argv[n++] = "strace";
		argv[n++] = "-f";
		break;
	case PK_DEBUG_TCPDUMP:
		argv[n++] = "tcpdump";
		argv[n++] = "-n";
		argv[n++] =
			"-Z"; /* Debian's tcpdump drops to user tcpdump: -w FILE must stay ours */
		argv[n++] = "root";
		argv[n++] = "-i";
		argv[n++] = "any";
		if (o->write) {
			argv[n++] = "-U";
			argv[n++] = "-w";
			argv[n++] = o->write;
		}
		break;
	case PK_DEBUG_SHELL:
		if (o->cmd) {
			for (int i = 0; i < o->ncmd; i++)
				argv[n++] = o->cmd[i];
			argv[n] = NULL;
			return;
		}
		argv[n++] = "bash";
		argv[n++] = "--norc";
		argv[n++] = "--noprofile";
		argv[n++] = "-i";
		argv[n] = NULL;
		return;
	}
	for (int i = 0; i < o->ncmd; i++)
		argv[n++] = o->cmd[i];
	if (o->tool == PK_DEBUG_GDB || o->tool == PK_DEBUG_STRACE) {
		argv[n++] = "-p";
		argv[n++] = s->pid;
	}
	argv[n] = NULL;
}
