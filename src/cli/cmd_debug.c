/* cmd_debug.c — `parikshan debug NAME [-- CMD...]`: a shell, a command, gdb, strace or tcpdump
 * inside a clone's namespaces, with the host's tools (src/debug/attach.h). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "clone/clone.h"
#include "common/args.h"
#include "debug/attach.h"

static const char debug_usage[] =
	"usage: parikshan debug NAME [--tools DIR] [--production] [-- CMD [ARGS...]]\n"
	"       parikshan debug NAME --gdb [PROCESS|PID] [--bt] [-- GDB-ARGS...]\n"
	"       parikshan debug NAME --strace [PROCESS|PID] [-- STRACE-ARGS...]\n"
	"       parikshan debug NAME --tcpdump [-w FILE] [-- TCPDUMP-ARGS...]\n"
	"\n"
	"Run CMD (default: an interactive shell whose prompt names NAME) inside the pid, net,\n"
	"uts, ipc and cgroup namespaces of NAME: a clone (or container) of ours, or pid:PID.\n"
	"The host's tools work unchanged (gdb, strace, tcpdump, ss, ps, bpftrace), with root's\n"
	"capabilities; /proc shows only NAME's processes; NAME's filesystem is at /proc/1/root\n"
	"($PK_DEBUG_ROOT); paths given here (--tools, -w) are the host's.  Production (anything\n"
	"but a clone) is refused unless --production.  The exit status is CMD's.\n"
	"\n"
	"  --gdb [PROCESS|PID]  attach gdb to PROCESS (a name) or PID (as seen in NAME; default:\n"
	"                     NAME's init, or PID of pid:PID)\n"
	"  --bt               with --gdb: print every thread's backtrace and detach (batch mode)\n"
	"  --strace [PROCESS|PID]  strace -f the process (same default as --gdb)\n"
	"  --tcpdump          tcpdump -n on every interface of NAME's network namespace\n"
	"  -w, --write FILE   with --tcpdump: write a pcap file instead of printing\n"
	"  --tools DIR        put DIR first in PATH\n"
	"  --production       allow debugging production directly\n"
	"  --state-dir DIR    where containers are kept (default $" PK_STATE_DIR_ENV
	" or " PK_STATE_DIR ")\n"
	"  --help             show this text\n";

enum debug_tool { TOOL_NONE, TOOL_GDB, TOOL_STRACE, TOOL_TCPDUMP };

static const struct {
	const char *prog, *package;
} tool_progs[] = {
	[TOOL_GDB] = { "gdb", "gdb" },
	[TOOL_STRACE] = { "strace", "strace" },
	[TOOL_TCPDUMP] = { "tcpdump", "tcpdump" },
};

struct debug_opts {
	const char *state_dir, *name, *process, *tools, *write;
	enum debug_tool tool;
	bool bt, production;
	char **cmd; /* after "--", NULL-terminated (argv's own end) */
	int ncmd;
};

static const struct option debug_options[] = {
	{ "gdb", no_argument, NULL, 'g' },	   { "bt", no_argument, NULL, 'b' },
	{ "strace", no_argument, NULL, 's' },	   { "tcpdump", no_argument, NULL, 't' },
	{ "write", required_argument, NULL, 'w' }, { "tools", required_argument, NULL, 'T' },
	{ "production", no_argument, NULL, 'P' },  { "state-dir", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'H' },	   { NULL, 0, NULL, 0 },
};

static int set_tool(struct debug_opts *o, enum debug_tool t)
{
	if (o->tool != TOOL_NONE && o->tool != t)
		return pk_cli_bad("debug", "--gdb, --strace, --tcpdump", "choose one");
	o->tool = t;
	return 0;
}

/* Parses argv into o; returns 0, PK_EXIT_USAGE (printed), or -1 for --help (printed). */
static int parse_debug(int argc, char **argv, struct debug_opts *o)
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
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(end, argv, ":w:", debug_options, NULL)) != -1) {
		switch (c) {
		case 'g':
		case 's':
		case 't':
			rc = set_tool(o, c == 'g'   ? TOOL_GDB
					 : c == 's' ? TOOL_STRACE
						    : TOOL_TCPDUMP);
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
			fputs(debug_usage, stdout);
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
	if (optind < end && (o->tool == TOOL_GDB || o->tool == TOOL_STRACE))
		o->process = argv[optind++];
	if (optind < end)
		return pk_cli_bad("debug", argv[optind],
				  "unexpected argument (a command goes after '--')");
	if (o->bt && o->tool != TOOL_GDB)
		return pk_cli_bad("debug", "--bt", "goes with --gdb");
	if (o->write && o->tool != TOOL_TCPDUMP)
		return pk_cli_bad("debug", "--write", "goes with --tcpdump");
	if (o->tool == TOOL_NONE && o->cmd && o->ncmd == 0)
		return pk_cli_bad("debug", "--", "no command after it");
	return 0;
}

/* The command to run: the tool's own argv with o->cmd's arguments, CMD, or a shell.  argv has
 * room for o->ncmd + 16 entries; the strings point into pidbuf, o and constants. */
static void build_argv(const struct debug_opts *o, pid_t ns_pid, char *pidbuf, size_t len,
		       const char **argv)
{
	int n = 0;

	snprintf(pidbuf, len, "%d", (int)ns_pid);
	switch (o->tool) {
	case TOOL_GDB:
		argv[n++] = "gdb";
		argv[n++] = "-q";
		if (o->bt) {
			argv[n++] = "-batch";
			argv[n++] = "-ex";
			argv[n++] = "thread apply all bt";
		}
		break;
	case TOOL_STRACE:
		argv[n++] = "strace";
		argv[n++] = "-f";
		break;
	case TOOL_TCPDUMP:
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
	case TOOL_NONE:
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
	if (o->tool == TOOL_GDB || o->tool == TOOL_STRACE) {
		argv[n++] = "-p";
		argv[n++] = pidbuf;
	}
	argv[n] = NULL;
}

int pk_cmd_debug(int argc, char **argv)
{
	struct debug_opts o = { .state_dir = pk_state_dir_default() };
	struct pk_debug_target t;
	char err[PK_ERR_MAX], path[4096], found[4096], pidbuf[16];
	const char **cmd;
	const char *env_path = getenv("PATH");
	pid_t ns_pid = 0;
	int rc;

	rc = parse_debug(argc, argv, &o);
	if (rc)
		return rc < 0 ? PK_EXIT_OK : rc;
	if (pk_debug_resolve(o.state_dir, o.name, &t, err, sizeof(err)) < 0 ||
	    pk_debug_allowed(&t, o.production, err, sizeof(err)) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "debug", "%s", err);
	snprintf(path, sizeof(path), "%s%s%s", o.tools ? o.tools : "", o.tools ? ":" : "",
		 env_path ? env_path : "/usr/sbin:/usr/bin:/sbin:/bin");
	if (o.tool != TOOL_NONE &&
	    pk_debug_which(tool_progs[o.tool].prog, path, found, sizeof(found)) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "debug",
				   "%s is not installed (apt-get install %s, or --tools DIR)",
				   tool_progs[o.tool].prog, tool_progs[o.tool].package);
	if ((o.tool == TOOL_GDB || o.tool == TOOL_STRACE) &&
	    pk_debug_find_process(t.pid, o.process, &ns_pid, err, sizeof(err)) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "debug", "%s: %s", t.name, err);
	cmd = calloc((size_t)o.ncmd + 16, sizeof(*cmd));
	if (!cmd)
		return pk_cli_fail(PK_EXIT_RUNTIME, "debug", "out of memory");
	build_argv(&o, ns_pid, pidbuf, sizeof(pidbuf), cmd);
	if (o.tool == TOOL_NONE && !o.cmd && pk_debug_which("bash", path, found, sizeof(found)) < 0)
		cmd[0] = "sh", cmd[1] = "-i", cmd[2] = NULL;
	rc = pk_debug_run(&(struct pk_debug_run_opts){ .pid = t.pid,
						       .label = t.name,
						       .argv = (char *const *)cmd,
						       .tools = o.tools },
			  err, sizeof(err));
	free(cmd);
	if (rc < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "debug", "%s: %s", t.name, err);
	return rc;
}
