/* test_adapt.c — dup's adaptive sampling decision (src/proxy/adapt.c): up one step per tick
 * above the high mark (to the cap), down one per tick under the low mark (to every call),
 * nothing in between; steps counted. */
#include "proxy/adapt.h"
#include "unit.h"

/* A full buffer halves the rate at every tick until the cap, then holds. */
static void test_backs_off_to_the_cap(void)
{
	struct pk_adapt a = { 0 };

	for (uint32_t i = 1; i <= PK_ADAPT_MAX_LOG2; i++) {
		CHECK_EQ_INT(pk_adapt_step(&a, 0.9, 0.5, 0.1), 1);
		CHECK_EQ_INT((int)a.log2, (int)i);
	}
	CHECK_EQ_INT(pk_adapt_step(&a, 1.0, 0.5, 0.1), 0);
	CHECK_EQ_INT((int)a.log2, PK_ADAPT_MAX_LOG2);
	CHECK_EQ_INT((int)a.steps, PK_ADAPT_MAX_LOG2);
}

/* Between the marks nothing changes; under the low mark the rate comes back one step a tick,
 * down to every call and no further. */
static void test_hysteresis_and_recovery(void)
{
	struct pk_adapt a = { 0 };

	CHECK_EQ_INT(pk_adapt_step(&a, 0.3, 0.5, 0.1), 0);
	CHECK_EQ_INT(pk_adapt_step(&a, 0.05, 0.5, 0.1), 0); /* already every call */
	CHECK_EQ_INT((int)a.steps, 0);
	CHECK_EQ_INT(pk_adapt_step(&a, 0.5, 0.5, 0.1), 1); /* at the mark: up */
	CHECK_EQ_INT(pk_adapt_step(&a, 0.6, 0.5, 0.1), 1);
	CHECK_EQ_INT((int)a.log2, 2);
	CHECK_EQ_INT(pk_adapt_step(&a, 0.3, 0.5, 0.1), 0);
	CHECK_EQ_INT(pk_adapt_step(&a, 0.1, 0.5, 0.1), 0); /* at the low mark: stays */
	CHECK_EQ_INT((int)a.log2, 2);
	CHECK_EQ_INT(pk_adapt_step(&a, 0.0, 0.5, 0.1), -1);
	CHECK_EQ_INT(pk_adapt_step(&a, 0.0, 0.5, 0.1), -1);
	CHECK_EQ_INT(pk_adapt_step(&a, 0.0, 0.5, 0.1), 0);
	CHECK_EQ_INT((int)a.log2, 0);
	CHECK_EQ_INT((int)a.steps, 4);
}

int main(void)
{
	UNIT_RUN(test_backs_off_to_the_cap);
	UNIT_RUN(test_hysteresis_and_recovery);
	return unit_done();
}
