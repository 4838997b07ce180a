/* test_trace_attach.c — trace attach's helpers that need no target: a static binary is told
 * from a dynamic one, a pid namespace's processes are listed (ours includes us), and an
 * attach to a process that does not exist fails with -ESRCH and a reason (nothing written).
 * The attach itself (ptrace, a live chain) is test_trace_attach.sh's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/attach.h"
#include "unit.h"

static void test_is_static(void)
{
	CHECK(!pk_trace_is_static("/proc/self/exe")); /* a unit test is linked dynamically */
	CHECK(!pk_trace_is_static("/nonexistent/program"));
	CHECK(!pk_trace_is_static("/proc/self/status")); /* not an ELF */
}

static void test_pidns(void)
{
	pid_t pids[4096];
	int n, found = 0;

	CHECK(pk_trace_pidns_is_ours(getpid()));
	n = pk_trace_pidns_pids(getpid(), pids, 4096);
	CHECK(n >= 1);
	for (int i = 0; i < n; i++)
		found |= pids[i] == getpid();
	CHECK(found);
	CHECK_EQ_INT(pk_trace_pidns_pids(999999999, pids, 4096), -ESRCH);
	CHECK(!pk_trace_pidns_is_ours(999999999));
	CHECK_EQ_INT(pk_trace_pidns_pids(getpid(), pids, 0), 0);
}

static void test_attach_missing(void)
{
	char err[256] = "";

	CHECK_EQ_INT(pk_trace_attach(999999999, "/nonexistent.so", "/tmp/x.sock", err, sizeof(err)),
		     -ESRCH);
	CHECK(strstr(err, "no such process") != NULL);
	err[0] = 0;
	CHECK_EQ_INT(pk_trace_attach(0, "/nonexistent.so", "/tmp/x.sock", err, sizeof(err)),
		     -ESRCH);
	CHECK(err[0] != 0);
}

static void test_listening(void)
{
	CHECK(!pk_trace_logd_listening("/nonexistent-dir/trace.sock"));
	CHECK(!pk_trace_logd_listening("/a/path/far/too/long/for/a/unix/socket/address/"
				       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

int main(void)
{
	UNIT_RUN(test_is_static);
	UNIT_RUN(test_pidns);
	UNIT_RUN(test_attach_missing);
	UNIT_RUN(test_listening);
	return unit_done();
}
