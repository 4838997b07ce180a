/* test_stateful.c — `up --balance`'s test for a stateful service (src/cli/stateful.c): by
 * process name, on the process and those below it. */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/stateful.h"
#include "unit.h"

static void test_names(void)
{
	CHECK(pk_stateful_name("redis-server"));
	CHECK(pk_stateful_name("mariadbd"));
	CHECK(pk_stateful_name("mysqld"));
	CHECK(pk_stateful_name("postgres"));
	CHECK(pk_stateful_name("mongod"));
	CHECK(pk_stateful_name("memcached"));
	CHECK(!pk_stateful_name("nginx"));
	CHECK(!pk_stateful_name("redis-server2"));
	CHECK(!pk_stateful_name("redis"));
	CHECK(!pk_stateful_name(""));
}

/* Starts a child that names itself comm and waits; returns its pid once it did. */
static pid_t named_child(const char *comm)
{
	int fds[2];
	char c;
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, comm);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	if (pid > 0 && read(fds[0], &c, 1) != 1)
		pid = -1;
	close(fds[0]);
	return pid;
}

static void stop_child(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static void test_processes(void)
{
	char name[32] = "";
	pid_t web, db;

	CHECK(!pk_stateful_proc(getpid(), name, sizeof(name)));
	CHECK(!pk_stateful_proc(0, name, sizeof(name)));
	CHECK(!pk_stateful_proc(-1, NULL, 0));
	web = named_child("nginx");
	CHECK(web > 0);
	CHECK(!pk_stateful_proc(getpid(), name, sizeof(name)));
	db = named_child("redis-server");
	CHECK(db > 0);
	CHECK(pk_stateful_proc(db, name, sizeof(name))); /* the process itself */
	CHECK_STR(name, "redis-server");
	name[0] = '\0';
	CHECK(pk_stateful_proc(getpid(), name, sizeof(name))); /* a child */
	CHECK_STR(name, "redis-server");
	CHECK(pk_stateful_proc(getpid(), NULL, 0));
	stop_child(db);
	CHECK(!pk_stateful_proc(getpid(), name, sizeof(name)));
	stop_child(web);
}

int main(void)
{
	UNIT_RUN(test_names);
	UNIT_RUN(test_processes);
	return unit_done();
}
