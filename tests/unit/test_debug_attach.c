/* test_debug_attach.c — `parikshan debug`'s target parsing and resolution (pid:PID, container
 * names against a state directory), the production guard, process lookup by PID and by name,
 * and the PATH search for tools.  Needs no root: nothing here enters a namespace. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debug/attach.h"
#include "unit.h"

static void test_parse_pid(void)
{
	pid_t pid = 0;

	CHECK_EQ_INT(pk_debug_parse_pid("pid:123", &pid), 1);
	CHECK_EQ_INT(pid, 123);
	CHECK_EQ_INT(pk_debug_parse_pid("redis-dbg", &pid), 0);
	CHECK_EQ_INT(pk_debug_parse_pid("pid", &pid), 0);
	CHECK_EQ_INT(pk_debug_parse_pid("pid:", &pid), -EINVAL);
	CHECK_EQ_INT(pk_debug_parse_pid("pid:0", &pid), -EINVAL);
	CHECK_EQ_INT(pk_debug_parse_pid("pid:-1", &pid), -EINVAL);
	CHECK_EQ_INT(pk_debug_parse_pid("pid:12x", &pid), -EINVAL);
	CHECK_EQ_INT(pk_debug_parse_pid("pid:99999999999", &pid), -EINVAL);
}

static void test_resolve(void)
{
	char dir[] = "/tmp/pk-debug-test.XXXXXX", err[256], spec[32];
	struct pk_debug_target t;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_EQ_INT(pk_debug_resolve(dir, "nosuch", &t, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "no container 'nosuch'") != NULL);
	CHECK_EQ_INT(pk_debug_resolve(dir, "../etc", &t, err, sizeof(err)), -ENOENT);
	CHECK_EQ_INT(pk_debug_resolve(dir, "", &t, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(pk_debug_resolve(dir, "pid:abc", &t, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a valid pid:PID") != NULL);
	/* Our own process: it exists, and lives in no clone of this (empty) state directory. */
	snprintf(spec, sizeof(spec), "pid:%d", (int)getpid());
	CHECK_EQ_INT(pk_debug_resolve(dir, spec, &t, err, sizeof(err)), 0);
	CHECK_EQ_INT(t.pid, getpid());
	CHECK(!t.is_clone);
	CHECK_STR(t.name, spec);
	rmdir(dir);
}

static void test_allowed(void)
{
	struct pk_debug_target t = { .name = "web", .pid = 1 };
	char err[256];

	CHECK_EQ_INT(pk_debug_allowed(&t, false, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "debugging production directly defeats the purpose") != NULL);
	CHECK(strstr(err, "parikshan clone web web-dbg") != NULL);
	CHECK_EQ_INT(pk_debug_allowed(&t, true, err, sizeof(err)), 0);
	t.is_clone = true;
	CHECK_EQ_INT(pk_debug_allowed(&t, false, err, sizeof(err)), 0);
	snprintf(t.name, sizeof(t.name), "pid:42");
	t.is_clone = false;
	CHECK_EQ_INT(pk_debug_allowed(&t, false, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "parikshan clone NAME NAME-dbg") != NULL);
}

static void test_find_process(void)
{
	char err[256], comm[64] = "", what[16];
	pid_t ns_pid = 0, self = getpid();
	FILE *f = fopen("/proc/self/comm", "re");

	/* The tests run in one pid namespace: a PID is seen as itself. */
	CHECK_EQ_INT(pk_debug_find_process(self, NULL, &ns_pid, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_pid, self);
	ns_pid = 0;
	snprintf(what, sizeof(what), "%d", (int)self);
	CHECK_EQ_INT(pk_debug_find_process(self, what, &ns_pid, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_pid, self);
	if (f && fgets(comm, sizeof(comm), f)) {
		comm[strcspn(comm, "\n")] = '\0';
		ns_pid = 0;
		CHECK_EQ_INT(pk_debug_find_process(self, comm, &ns_pid, err, sizeof(err)), 0);
		CHECK(ns_pid > 0 && ns_pid <= self); /* the lowest of that name */
	}
	if (f)
		fclose(f);
	CHECK_EQ_INT(pk_debug_find_process(self, "pk-no-such-process", &ns_pid, err, sizeof(err)),
		     -ESRCH);
	CHECK(strstr(err, "no process named 'pk-no-such-process'") != NULL);
	CHECK_EQ_INT(pk_debug_find_process(self, "4194304", &ns_pid, err, sizeof(err)), -ESRCH);
	CHECK_EQ_INT(pk_debug_find_process(4194304, NULL, &ns_pid, err, sizeof(err)), -ESRCH);
}

static void test_which(void)
{
	char dir[] = "/tmp/pk-debug-which.XXXXXX", tool[64], out[256], path[128];
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(tool, sizeof(tool), "%s/pk-tool", dir);
	f = fopen(tool, "we");
	if (f)
		fclose(f);
	CHECK_EQ_INT(pk_debug_which("pk-tool", dir, out, sizeof(out)), -ENOENT); /* not +x */
	chmod(tool, 0755);
	CHECK_EQ_INT(pk_debug_which("pk-tool", "/nonexistent::", out, sizeof(out)), -ENOENT);
	snprintf(path, sizeof(path), "/nonexistent:%s", dir);
	CHECK_EQ_INT(pk_debug_which("pk-tool", path, out, sizeof(out)), 0);
	CHECK_STR(out, tool);
	CHECK_EQ_INT(pk_debug_which(tool, NULL, out, sizeof(out)), 0);
	CHECK_EQ_INT(pk_debug_which("pk-tool", NULL, out, sizeof(out)), -ENOENT);
	CHECK_EQ_INT(pk_debug_which("pk-tool", dir, out, 8), -ENOENT); /* too long: not found */
	CHECK_EQ_INT(pk_debug_which("sh", "/usr/bin:/bin", out, sizeof(out)), 0);
	unlink(tool);
	rmdir(dir);
}

int main(void)
{
	UNIT_RUN(test_parse_pid);
	UNIT_RUN(test_resolve);
	UNIT_RUN(test_allowed);
	UNIT_RUN(test_find_process);
	UNIT_RUN(test_which);
	return unit_done();
}
