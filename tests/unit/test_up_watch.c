/* test_up_watch.c — when `up --auto-reclone`'s supervisor re-clones a clone
 * (src/cli/up_watch.c, pk_up_watch_decide()): a death or a rise of its target's overflows makes
 * it due; at most one clone per min_interval (up's own clone counts); overflows just after a
 * re-clone are the old clone's; a failed re-clone stays due; an unknown counter decides nothing. */
#include "cli/up_watch.h"
#include "unit.h"

#define MIN 10000 /* min_interval, ms */

static enum pk_up_watch_verdict decide(struct pk_up_watch_track *t, double over, uint64_t now)
{
	bool rose;

	return pk_up_watch_decide(t, over, now, MIN, &rose);
}

/* A fine clone stays fine; its death makes it due, at once when the interval has passed. */
static void test_died(void)
{
	struct pk_up_watch_track t;

	pk_up_watch_track_init(&t, 1000, 0);
	CHECK_EQ_INT(decide(&t, 0, 2000), PK_UP_WATCH_FINE);
	CHECK_EQ_INT(decide(&t, -1, 50000), PK_UP_WATCH_FINE);
	t.dead = true;
	CHECK_EQ_INT(decide(&t, -1, 50000), PK_UP_WATCH_RECLONE);
	CHECK_STR(t.why, "died");
	pk_up_watch_tried(&t, true, 52000, MIN, 0);
	CHECK(!t.dead && t.why == NULL);
	CHECK_EQ_INT((int)t.reclones, 1);
	CHECK_EQ_INT(decide(&t, 0, 53000), PK_UP_WATCH_FINE);
}

/* Due before the interval passed: it waits (up's own clone counts), then goes. */
static void test_rate_limited(void)
{
	struct pk_up_watch_track t;
	bool rose;

	pk_up_watch_track_init(&t, 1000, 3);
	t.dead = true;
	CHECK_EQ_INT(decide(&t, 3, 5000), PK_UP_WATCH_WAIT);
	CHECK_EQ_INT(decide(&t, 3, 10999), PK_UP_WATCH_WAIT);
	CHECK_EQ_INT(decide(&t, 3, 11000), PK_UP_WATCH_RECLONE);
	pk_up_watch_tried(&t, true, 12500, MIN, 3);
	/* killed again at once: the next waits until 10 s after the last one ended */
	t.dead = true;
	CHECK_EQ_INT(decide(&t, 3, 13000), PK_UP_WATCH_WAIT);
	CHECK_EQ_INT(decide(&t, 3, 22499), PK_UP_WATCH_WAIT);
	CHECK_EQ_INT(pk_up_watch_decide(&t, 3, 22500, MIN, &rose), PK_UP_WATCH_RECLONE);
	CHECK(!rose);
}

/* Overflows rising make it due ("overflow", rose told once); after the re-clone, rises within
 * the settle time move the base only; later ones count again. */
static void test_overflow(void)
{
	struct pk_up_watch_track t;
	bool rose;

	pk_up_watch_track_init(&t, 0, 2);
	CHECK_EQ_INT(pk_up_watch_decide(&t, 2, 20000, MIN, &rose), PK_UP_WATCH_FINE);
	CHECK(!rose);
	CHECK_EQ_INT(pk_up_watch_decide(&t, 5, 20200, MIN, &rose), PK_UP_WATCH_RECLONE);
	CHECK(rose);
	CHECK_STR(t.why, "overflow");
	pk_up_watch_tried(&t, true, 23000, MIN, 6);
	CHECK(t.base_overflows == 6);
	CHECK_EQ_INT(decide(&t, 9, 24000), PK_UP_WATCH_FINE); /* settling: the old clone's */
	CHECK(t.base_overflows == 9);
	CHECK_EQ_INT(decide(&t, 9, 28000), PK_UP_WATCH_FINE);
	CHECK_EQ_INT(pk_up_watch_decide(&t, 10, 28200, MIN, &rose), PK_UP_WATCH_WAIT);
	CHECK(rose);
	CHECK_EQ_INT(pk_up_watch_decide(&t, 12, 28400, MIN, &rose), PK_UP_WATCH_WAIT);
	CHECK(!rose); /* due already */
	CHECK_EQ_INT(decide(&t, 12, 33000), PK_UP_WATCH_RECLONE);
}

/* The settle time is never longer than the interval. */
static void test_settle_bounded(void)
{
	struct pk_up_watch_track t;

	pk_up_watch_track_init(&t, 0, 0);
	pk_up_watch_tried(&t, true, 1000, 1000, 0);
	CHECK_EQ_INT(pk_up_watch_decide(&t, 1, 1999, 1000, &(bool){ false }), PK_UP_WATCH_FINE);
	CHECK_EQ_INT(pk_up_watch_decide(&t, 2, 2000, 1000, &(bool){ false }), PK_UP_WATCH_RECLONE);
}

/* A failed re-clone stays due and is tried again after the interval; a counter that went
 * down (a restarted duplicator) moves the base, not a cause. */
static void test_failed_and_restarted(void)
{
	struct pk_up_watch_track t;

	pk_up_watch_track_init(&t, 0, 7);
	CHECK_EQ_INT(decide(&t, 8, 20000), PK_UP_WATCH_RECLONE);
	pk_up_watch_tried(&t, false, 21000, MIN, -1);
	CHECK_STR(t.why, "overflow");
	CHECK_EQ_INT((int)t.reclones, 0);
	CHECK_EQ_INT(decide(&t, 8, 25000), PK_UP_WATCH_WAIT);
	CHECK_EQ_INT(decide(&t, 8, 31000), PK_UP_WATCH_RECLONE);
	pk_up_watch_tried(&t, true, 32000, MIN, 8);
	CHECK_EQ_INT(decide(&t, 0, 60000), PK_UP_WATCH_FINE);
	CHECK(t.base_overflows == 0);
	CHECK_EQ_INT(decide(&t, 1, 60200), PK_UP_WATCH_RECLONE);
}

int main(void)
{
	UNIT_RUN(test_died);
	UNIT_RUN(test_rate_limited);
	UNIT_RUN(test_overflow);
	UNIT_RUN(test_settle_bounded);
	UNIT_RUN(test_failed_and_restarted);
	return unit_done();
}
