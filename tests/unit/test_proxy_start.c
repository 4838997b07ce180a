/* test_proxy_start.c — pk_proxy_new() failing at every step of its start: the open-files
 * limit is lowered so that each descriptor it opens in turn (main loop, listeners, worker
 * loops and eventfds, the agg debug listener, admin) is the one that fails.  Every failure
 * returns NULL with errno and a step name, closes what it opened, and never touches a worker
 * it did not initialise (before the fix: a failed main loop made pk_proxy_free() stop
 * calloc'ed workers, writing to fd 0 and reading a NULL config). */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/log.h"
#include "proxy/proxy.h"
#include "unit.h"

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own fd */
}

static void loopback(struct pk_addr *a, uint16_t port)
{
	CHECK_EQ_INT(pk_addr_resolve("127.0.0.1", port, a, NULL, 0), 0);
}

/* Tries cfg under limits from "no fd left" upwards until it starts; returns the failures seen. */
static int sweep(const struct pk_proxy_config *cfg)
{
	struct rlimit old, rl;
	long before = open_fds();
	int failures = 0;

	CHECK(before > 0);
	CHECK_EQ_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
	for (long extra = 0; extra < 200; extra++) {
		struct pk_proxy *p;
		enum pk_proxy_step step = PK_PROXY_STEP_ALLOC;
		int err;

		rl.rlim_cur = (rlim_t)(before + extra);
		rl.rlim_max = old.rlim_max;
		CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &rl), 0);
		errno = 0;
		p = pk_proxy_new(cfg, &step);
		err = errno;
		CHECK_EQ_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
		if (p) {
			CHECK(pk_proxy_listen_port(p) > 0);
			pk_proxy_free(p);
			CHECK_EQ_INT(open_fds(), before);
			return failures;
		}
		failures++;
		CHECK(*pk_proxy_step_name(step) && strcmp(pk_proxy_step_name(step), "?") != 0);
		CHECK(err != 0);
		CHECK_EQ_INT(open_fds(), before); /* nothing leaked */
	}
	CHECK(!"pk_proxy_new never started within 200 spare fds");
	return failures;
}

static void test_dup_start_fails_cleanly(void)
{
	struct pk_proxy_config cfg = { .role = "dup", .ntargets = 1, .threads = 4 };

	cfg.buffer_size = 1 << 20;
	cfg.admin_enabled = true;
	loopback(&cfg.listen, 0);
	loopback(&cfg.prod, 1);
	loopback(&cfg.targets[0], 2);
	loopback(&cfg.admin, 0);
	/* main loop, probe listener, 4 listeners, 4 x (loop, eventfd), admin: many steps fail */
	CHECK(sweep(&cfg) >= 10);
}

static void test_agg_start_fails_cleanly(void)
{
	struct pk_proxy_config cfg = { .role = "agg", .ntargets = 1, .agg = true };

	cfg.buffer_size = 1 << 20;
	cfg.admin_enabled = true;
	loopback(&cfg.listen, 0);
	loopback(&cfg.prod, 1);
	loopback(&cfg.debug_listen, 0);
	loopback(&cfg.targets[0], 0);
	loopback(&cfg.admin, 0);
	CHECK(sweep(&cfg) >= 4);
}

int main(void)
{
	/* Descriptors inherited from the runner would leave holes below the limit (the limit
	 * bounds fd numbers, not counts): start from 0, 1 and 2 only. */
	close_range(3, ~0U, 0);
	pk_log_set_level(PK_LOG_ERROR);
	UNIT_RUN(test_dup_start_fails_cleanly);
	UNIT_RUN(test_agg_start_fails_cleanly);
	return unit_done();
}
