/* unit.h — the unit-test harness: CHECK() records a failure and goes on; each test prints
 * "ok SUITE/NAME" or "FAIL SUITE/NAME" (with the failed checks above it) for tests/run.
 *
 *   static void test_x(void) { CHECK(1 + 1 == 2); }
 *   int main(void) { UNIT_RUN(test_x); return unit_done(); }
 */
#ifndef PK_TESTS_UNIT_H
#define PK_TESTS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed_now, unit_failures, unit_checks;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		unit_checks++;                                                                     \
		if (!(cond)) {                                                                     \
			printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);          \
			unit_failed_now = 1;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		unit_checks++;                                                                     \
		if (a_ != b_) {                                                                    \
			printf("  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, \
			       #b, a_, b_);                                                        \
			unit_failed_now = 1;                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		unit_checks++;                                                                     \
		if (strcmp(a_, b_) != 0) {                                                         \
			printf("  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
			       #a, #b, a_, b_);                                                    \
			unit_failed_now = 1;                                                       \
		}                                                                                  \
	} while (0)

/* The suite name is the file name without "test_" and ".c". */
static inline const char *unit_suite(const char *file)
{
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	return strncmp(base, "test_", 5) == 0 ? base + 5 : base;
}

#define UNIT_RUN(fn)                                                                               \
	do {                                                                                       \
		int checks_before_ = unit_checks;                                                  \
		unit_failed_now = 0;                                                               \
		fn();                                                                              \
		if (unit_checks == checks_before_) {                                               \
			printf("  %s: asserted nothing\n", #fn);                                   \
			unit_failed_now = 1;                                                       \
		}                                                                                  \
		printf("%s %.*s/%s\n", unit_failed_now ? "FAIL" : "ok",                            \
		       (int)(strlen(unit_suite(__FILE__)) - 2), unit_suite(__FILE__), #fn);        \
		unit_failures += unit_failed_now;                                                  \
		fflush(stdout);                                                                    \
	} while (0)

/* A test that cannot run here: "skip SUITE/NAME: reason" (tests/run counts the line). */
#define UNIT_SKIP(fn, reason)                                                                      \
	do {                                                                                       \
		printf("skip %.*s/%s: %s\n", (int)(strlen(unit_suite(__FILE__)) - 2),              \
		       unit_suite(__FILE__), #fn, reason);                                         \
		fflush(stdout);                                                                    \
	} while (0)

static inline int unit_done(void)
{
	return unit_failures ? 1 : 0;
}

#endif
