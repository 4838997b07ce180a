/* test_debug_args.c — `parikshan debug`'s command line: NAME, the tool flags and the process
 * they take, the command after "--", usage errors; and the argv of each tool. */
#include <stdio.h>
#include <string.h>

#include "cli/debug_args.h"
#include "common/args.h"
#include "unit.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])) - 1)

/* The argv a would run, joined with spaces into buf. */
static const char *joined(const struct pk_debug_args *a, pid_t pid, char *buf, size_t len)
{
	const char *argv[64];
	struct pk_debug_argv_strings s;
	size_t n = 0;

	pk_debug_args_argv(a, pid, &s, argv);
	buf[0] = '\0';
	for (int i = 0; argv[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", argv[i]);
	return buf;
}

static void test_shell_and_command(void)
{
	char *v1[] = { "debug", "redis-dbg", NULL };
	char *v2[] = { "debug", "--tools", "/opt/t", "redis-dbg", "--", "ss", "-ltn", NULL };
	struct pk_debug_args a = { 0 };
	char buf[256];

	CHECK_EQ_INT(pk_debug_args_parse(ARGC(v1), v1, &a), 0);
	CHECK_STR(a.name, "redis-dbg");
	CHECK(a.tool == PK_DEBUG_SHELL && !a.cmd && !a.production);
	CHECK_STR(joined(&a, 0, buf, sizeof(buf)), "bash --norc --noprofile -i");
	memset(&a, 0, sizeof(a));
	CHECK_EQ_INT(pk_debug_args_parse(ARGC(v2), v2, &a), 0);
	CHECK_STR(a.name, "redis-dbg");
	CHECK_STR(a.tools, "/opt/t");
	CHECK_EQ_INT(a.ncmd, 2);
	CHECK_STR(joined(&a, 0, buf, sizeof(buf)), "ss -ltn");
}

static void test_tools(void)
{
	char *v1[] = { "debug", "redis-dbg", "--gdb", "redis-server", "--bt", NULL };
	char *v2[] = {
		"debug", "--strace", "pid:7", "--production", "--", "-e", "trace=read", NULL
	};
	char *v3[] = { "debug", "c", "--tcpdump", "-w", "/tmp/x.pcap", "--", "-c", "5", NULL };
	char *v4[] = { "debug", "c", "--gdb", "--", "-ex", "info threads", NULL };
	struct pk_debug_args a = { 0 };
	char buf[256];

	CHECK_EQ_INT(pk_debug_args_parse(ARGC(v1), v1, &a), 0);
	CHECK(a.tool == PK_DEBUG_GDB && a.bt);
	CHECK_STR(a.process, "redis-server");
	CHECK_STR(joined(&a, 1, buf, sizeof(buf)),
		  "gdb -q -ex set sysroot /proc/1/root -batch -ex thread apply all bt -p 1");
	memset(&a, 0, sizeof(a));
	CHECK_EQ_INT(pk_debug_args_parse(ARGC(v2), v2, &a), 0);
	CHECK(a.tool == PK_DEBUG_STRACE && a.production && !a.process);
	CHECK_STR(a.name, "pid:7");
	CHECK_STR(joined(&a, 42, buf, sizeof(buf)), "strace -f -e trace=read -p 42");
	memset(&a, 0, sizeof(a));
	CHECK_EQ_INT(pk_debug_args_parse(ARGC(v3), v3, &a), 0);
	CHECK(a.tool == PK_DEBUG_TCPDUMP);
	CHECK_STR(joined(&a, 0, buf, sizeof(buf)),
		  "tcpdump -n -Z root -i any -U -w /tmp/x.pcap -c 5");
	memset(&a, 0, sizeof(a));
	CHECK_EQ_INT(pk_debug_args_parse(ARGC(v4), v4, &a), 0);
	CHECK_STR(joined(&a, 1, buf, sizeof(buf)),
		  "gdb -q -ex set sysroot /proc/1/root -ex info threads -p 1");
	CHECK_STR(pk_debug_tool_prog(PK_DEBUG_TCPDUMP), "tcpdump");
	CHECK_STR(pk_debug_tool_package(PK_DEBUG_GDB), "gdb");
	CHECK(pk_debug_tool_prog(PK_DEBUG_SHELL) == NULL);
}

static void test_usage_errors(void)
{
	char *help[] = { "debug", "--help", NULL };
	char *none[] = { "debug", NULL };
	char *two[] = { "debug", "c", "--gdb", "--strace", NULL };
	char *extra[] = { "debug", "c", "ls", NULL };
	char *extra_gdb[] = { "debug", "c", "--gdb", "1", "2", NULL };
	char *bt[] = { "debug", "c", "--bt", NULL };
	char *w[] = { "debug", "c", "-w", "x", NULL };
	char *empty[] = { "debug", "c", "--", NULL };
	char *noval[] = { "debug", "c", "--tools", NULL };
	char *unknown[] = { "debug", "c", "--frobnicate", NULL };
	struct pk_debug_args a = { 0 };

	CHECK_EQ_INT(pk_debug_args_parse(ARGC(help), help, &a), -1);
#define BAD(v)                                                                                     \
	do {                                                                                       \
		memset(&a, 0, sizeof(a));                                                          \
		CHECK_EQ_INT(pk_debug_args_parse(ARGC(v), v, &a), PK_EXIT_USAGE);                  \
	} while (0)
	BAD(none);
	BAD(two);
	BAD(extra);
	BAD(extra_gdb);
	BAD(bt);
	BAD(w);
	BAD(empty);
	BAD(noval);
	BAD(unknown);
#undef BAD
}

int main(void)
{
	UNIT_RUN(test_shell_and_command);
	UNIT_RUN(test_tools);
	UNIT_RUN(test_usage_errors);
	return unit_done();
}
