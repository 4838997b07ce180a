/* test_streamcmp.c — the two-stream comparator: equal streams fed in any interleaving, a
 * differing byte at its exact offset, length mismatches, and the memory limit. */
#include <stdlib.h>

#include "diverge/streamcmp.h"
#include "unit.h"

/* Feeds a to side A and b to side B in chunks of the given sizes, alternating sides. */
static void feed_alternating(struct pk_scmp *c, const char *a, size_t na, const char *b, size_t nb,
			     size_t ca, size_t cb)
{
	size_t ia = 0, ib = 0;
	while (ia < na || ib < nb) {
		size_t k = ca < na - ia ? ca : na - ia;
		pk_scmp_feed(c, PK_SCMP_A, a + ia, k);
		ia += k;
		k = cb < nb - ib ? cb : nb - ib;
		pk_scmp_feed(c, PK_SCMP_B, b + ib, k);
		ib += k;
	}
}

static void test_equal_any_chunking(void)
{
	static char s[5000];
	for (size_t i = 0; i < sizeof(s); i++)
		s[i] = (char)(i * 7 + (i >> 5));
	size_t chunks[] = { 1, 3, 64, 999, 5000 };
	for (size_t x = 0; x < 5; x++)
		for (size_t y = 0; y < 5; y++) {
			struct pk_scmp c;
			pk_scmp_init(&c, sizeof(s));
			feed_alternating(&c, s, sizeof(s), s, sizeof(s), chunks[x], chunks[y]);
			CHECK(pk_scmp_verdict(&c, true) == PK_SCMP_SAME);
			CHECK_EQ_INT(c.matched, sizeof(s));
			CHECK_EQ_INT(pk_ring_used(&c.ahead), 0);
			pk_scmp_release(&c);
		}
}

static void test_difference_offset(void)
{
	char a[300], b[300];
	memset(a, 'x', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[177] = 'y';
	size_t chunks[] = { 1, 50, 300 };
	for (size_t x = 0; x < 3; x++) {
		struct pk_scmp c;
		pk_scmp_init(&c, 1024);
		feed_alternating(&c, a, sizeof(a), b, sizeof(b), chunks[x], chunks[2 - x]);
		CHECK(pk_scmp_verdict(&c, false) == PK_SCMP_DIFFERENT);
		CHECK_EQ_INT(pk_scmp_diverge_offset(&c), 177);
		CHECK(c.ahead.buf == NULL); /* settled: nothing held */
		pk_scmp_release(&c);
	}
}

static void test_length_mismatch(void)
{
	struct pk_scmp c;
	pk_scmp_init(&c, 64);
	pk_scmp_feed(&c, PK_SCMP_A, "+OK\r\n+OK\r\n", 10);
	pk_scmp_feed(&c, PK_SCMP_B, "+OK\r\n", 5);
	CHECK(pk_scmp_verdict(&c, false) == PK_SCMP_SAME); /* B may still catch up */
	CHECK(pk_scmp_verdict(&c, true) == PK_SCMP_DIFFERENT);
	CHECK_EQ_INT(pk_scmp_diverge_offset(&c), 5);
	CHECK_STR(pk_scmp_verdict_name(pk_scmp_verdict(&c, true)), "different");
	pk_scmp_release(&c);
}

static void test_limit_gives_unknown(void)
{
	struct pk_scmp c;
	pk_scmp_init(&c, 16);
	pk_scmp_feed(&c, PK_SCMP_B, "0123456789", 10);
	pk_scmp_feed(&c, PK_SCMP_B, "0123456789", 10); /* 20 held > 16 */
	CHECK(pk_scmp_verdict(&c, true) == PK_SCMP_UNKNOWN);
	pk_scmp_feed(&c, PK_SCMP_A, "zzzz", 4); /* no longer compared */
	CHECK(pk_scmp_verdict(&c, true) == PK_SCMP_UNKNOWN);
	CHECK_EQ_INT(c.bytes[PK_SCMP_A], 4);
	CHECK_EQ_INT(c.bytes[PK_SCMP_B], 20);
	CHECK_STR(pk_scmp_verdict_name(PK_SCMP_UNKNOWN), "unknown");
	pk_scmp_release(&c);
}

static void test_side_switch(void)
{
	/* A ahead, B overtakes: the surplus of B becomes the held side. */
	struct pk_scmp c;
	pk_scmp_init(&c, 64);
	pk_scmp_feed(&c, PK_SCMP_A, "abc", 3);
	pk_scmp_feed(&c, PK_SCMP_B, "abcdef", 6);
	CHECK_EQ_INT(c.ahead_side, PK_SCMP_B);
	CHECK_EQ_INT(pk_ring_used(&c.ahead), 3);
	pk_scmp_feed(&c, PK_SCMP_A, "deX", 3);
	CHECK(pk_scmp_verdict(&c, false) == PK_SCMP_DIFFERENT);
	CHECK_EQ_INT(pk_scmp_diverge_offset(&c), 5);
	pk_scmp_release(&c);
}

int main(void)
{
	UNIT_RUN(test_equal_any_chunking);
	UNIT_RUN(test_difference_offset);
	UNIT_RUN(test_length_mismatch);
	UNIT_RUN(test_limit_gives_unknown);
	UNIT_RUN(test_side_switch);
	return unit_done();
}
