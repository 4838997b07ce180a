/* debug_args.h — the command line of `parikshan debug` (cmd_debug.c), parsed into a struct
 * and turned into the argv of the tool it runs, apart so that unit tests reach it. */
#ifndef PK_CLI_DEBUG_ARGS_H
#define PK_CLI_DEBUG_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum pk_debug_tool { PK_DEBUG_SHELL, PK_DEBUG_GDB, PK_DEBUG_STRACE, PK_DEBUG_TCPDUMP };

struct pk_debug_args {
	const char *state_dir, *name, *process, *tools, *write;
	enum pk_debug_tool tool;
	bool bt, production;
	char **cmd; /* what follows "--" (NULL: no "--"), ncmd entries, NULL-terminated */
	int ncmd;
};

/* Parses `debug`'s argv (argv[0] is "debug") into a, whose state_dir the caller has set to
 * the default.  Returns 0, PK_EXIT_USAGE (the one error line printed), or -1 for --help
 * (nothing printed).  a's strings point into argv. */
int pk_debug_args_parse(int argc, char **argv, struct pk_debug_args *a);

/* The program a's tool runs and the Debian package that has it (NULL for the shell). */
const char *pk_debug_tool_prog(enum pk_debug_tool t);
const char *pk_debug_tool_package(enum pk_debug_tool t);

/* The room pk_debug_args_argv() needs: that many entries of argv. */
#define PK_DEBUG_ARGV_MAX(a) ((size_t)(a)->ncmd + 16)

/* The strings pk_debug_args_argv() makes: "-p PID", gdb's sysroot (the process's own root). */
struct pk_debug_argv_strings {
	char pid[16];
	char sysroot[48];
};

/* Writes the command to run into argv (PK_DEBUG_ARGV_MAX entries, NULL-terminated): the
 * tool's argv with the arguments after "--" and, for gdb and strace, "-p NS_PID" (gdb with its
 * sysroot at /proc/NS_PID/root: the target's libraries, as seen from inside); the command
 * after "--"; or an interactive bash.  The strings point into a, s and constants. */
void pk_debug_args_argv(const struct pk_debug_args *a, pid_t ns_pid,
			struct pk_debug_argv_strings *s, const char **argv);

#endif
