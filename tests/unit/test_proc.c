/* test_proc.c — running helper programs: exit status and output captured, a program that
 * cannot start, and the deadline: a child that neither writes nor exits is killed when the
 * timeout passes (not when it would have ended by itself). */
#include <errno.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/proc.h"
#include "common/strbuf.h"
#include "unit.h"

static void test_status_and_output(void)
{
	struct pk_strbuf out = { 0 };

	CHECK_EQ_INT(pk_proc_run((char *[]){ "sh", "-c", "echo out; echo err >&2; exit 3", NULL },
				 5000, &out),
		     3);
	CHECK_STR(pk_strbuf_str(&out), "out\nerr\n");
	pk_strbuf_release(&out);
	CHECK_EQ_INT(pk_proc_run((char *[]){ "true", NULL }, 5000, NULL), 0);
}

static void test_not_found(void)
{
	CHECK_EQ_INT(pk_proc_run((char *[]){ "pk-test-no-such-program", NULL }, 5000, NULL),
		     -ENOENT);
}

static void test_timeout_kills_a_silent_child(void)
{
	uint64_t t0 = pk_now_ms(), took;

	CHECK_EQ_INT(pk_proc_run((char *[]){ "sleep", "30", NULL }, 200, NULL), -ETIMEDOUT);
	took = pk_now_ms() - t0;
	if (took >= 10000)
		printf("  took %llu ms\n", (unsigned long long)took);
	CHECK(took < 10000); /* killed at the deadline, not after the child's 30 s */
}

static void test_check_reason(void)
{
	char err[128];

	CHECK_EQ_INT(pk_proc_check((char *[]){ "sh", "-c", "echo first; echo 'the reason'; exit 1",
					       NULL },
				   5000, err, sizeof(err)),
		     -EIO);
	CHECK_STR(err, "sh exited with status 1: the reason");
}

int main(void)
{
	UNIT_RUN(test_status_and_output);
	UNIT_RUN(test_not_found);
	UNIT_RUN(test_timeout_kills_a_silent_child);
	UNIT_RUN(test_check_reason);
	return unit_done();
}
