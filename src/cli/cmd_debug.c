/* cmd_debug.c — `parikshan debug NAME [-- CMD...]`: a shell, a command, gdb, strace or tcpdump
 * inside a clone's namespaces, with the host's tools (src/debug/attach.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/debug_args.h"
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

int pk_cmd_debug(int argc, char **argv)
{
	struct pk_debug_args o = { .state_dir = pk_state_dir_default() };
	struct pk_debug_target t;
	char err[PK_ERR_MAX], path[4096], found[4096];
	struct pk_debug_argv_strings strs;
	const char **cmd;
	const char *env_path = getenv("PATH");
	pid_t ns_pid = 0;
	int rc;

	rc = pk_debug_args_parse(argc, argv, &o);
	if (rc < 0)
		fputs(debug_usage, stdout);
	if (rc)
		return rc < 0 ? PK_EXIT_OK : rc;
	if (pk_debug_resolve(o.state_dir, o.name, &t, err, sizeof(err)) < 0 ||
	    pk_debug_allowed(&t, o.production, err, sizeof(err)) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "debug", "%s", err);
	snprintf(path, sizeof(path), "%s%s%s", o.tools ? o.tools : "", o.tools ? ":" : "",
		 env_path ? env_path : "/usr/sbin:/usr/bin:/sbin:/bin");
	if (o.tool != PK_DEBUG_SHELL &&
	    pk_debug_which(pk_debug_tool_prog(o.tool), path, found, sizeof(found)) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "debug",
				   "%s is not installed (apt-get install %s, or --tools DIR)",
				   pk_debug_tool_prog(o.tool), pk_debug_tool_package(o.tool));
	if ((o.tool == PK_DEBUG_GDB || o.tool == PK_DEBUG_STRACE) &&
	    pk_debug_find_process(t.pid, o.process, &ns_pid, err, sizeof(err)) < 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "debug", "%s: %s", t.name, err);
	cmd = calloc(PK_DEBUG_ARGV_MAX(&o), sizeof(*cmd));
	if (!cmd)
		return pk_cli_fail(PK_EXIT_RUNTIME, "debug", "out of memory");
	pk_debug_args_argv(&o, ns_pid, &strs, cmd);
	if (o.tool == PK_DEBUG_SHELL && !o.cmd &&
	    pk_debug_which("bash", path, found, sizeof(found)) < 0)
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
