/* test_strbuf.c — the growable string: zero state, append and printf growth, the hard cap
 * and the sticky failure, release and reuse. */
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "unit.h"

static void test_zero_state(void)
{
	struct pk_strbuf sb = { 0 };

	CHECK(sb.s == NULL);
	CHECK_STR(pk_strbuf_str(&sb), "");
	CHECK_EQ_INT(sb.len, 0);
	CHECK(pk_strbuf_ok(&sb));
	/* releasing an empty strbuf is fine */
	pk_strbuf_release(&sb);
	CHECK_STR(pk_strbuf_str(&sb), "");
	/* an empty append still gives a terminated string */
	pk_strbuf_append(&sb, "", 0);
	CHECK(sb.s != NULL);
	CHECK_STR(pk_strbuf_str(&sb), "");
	CHECK_EQ_INT(sb.len, 0);
	CHECK(pk_strbuf_ok(&sb));
	pk_strbuf_release(&sb);
}

static void test_append_growth(void)
{
	struct pk_strbuf sb = { 0 };
	size_t prev_cap = 0;
	int grew = 0;

	for (int i = 0; i < 1000; i++) {
		pk_strbuf_append(&sb, "abc", 3);
		if (sb.cap != prev_cap) {
			grew++;
			prev_cap = sb.cap;
		}
	}
	CHECK(pk_strbuf_ok(&sb));
	CHECK_EQ_INT(sb.len, 3000);
	CHECK_EQ_INT(strlen(pk_strbuf_str(&sb)), 3000);
	CHECK(sb.cap >= 3001);
	CHECK_EQ_INT(sb.cap, 4096);   /* 256 doubled */
	CHECK(grew > 1 && grew < 10); /* geometric growth, not one realloc per append */
	for (int i = 0; i < 3000; i += 3)
		if (memcmp(sb.s + i, "abc", 3) != 0) {
			CHECK(!"content corrupted");
			break;
		}
	/* appends are length-counted: embedded NULs are kept */
	pk_strbuf_release(&sb);
	pk_strbuf_append(&sb, "a\0b", 3);
	CHECK_EQ_INT(sb.len, 3);
	CHECK(memcmp(sb.s, "a\0b", 4) == 0);
	pk_strbuf_release(&sb);
}

static void test_printf(void)
{
	struct pk_strbuf sb = { 0 };
	char *big;

	pk_strbuf_printf(&sb, "%s=%d", "x", 42);
	CHECK_STR(pk_strbuf_str(&sb), "x=42");
	CHECK_EQ_INT(sb.len, 4);
	pk_strbuf_printf(&sb, ", %.2f%%", 1.5);
	CHECK_STR(pk_strbuf_str(&sb), "x=42, 1.50%");
	pk_strbuf_printf(&sb, "%s", "");
	CHECK_EQ_INT(sb.len, 11);
	/* a single printf far larger than the initial capacity */
	pk_strbuf_printf(&sb, "[%0*d]", 5000, 7);
	CHECK(pk_strbuf_ok(&sb));
	CHECK_EQ_INT(sb.len, 11 + 5002);
	CHECK_EQ_INT(strlen(sb.s), sb.len);
	CHECK(sb.s[11] == '[' && sb.s[12] == '0' && sb.s[11 + 5000] == '7' &&
	      sb.s[11 + 5001] == ']');
	pk_strbuf_append(&sb, "!", 1);
	CHECK_EQ_INT(sb.len, 11 + 5003);
	CHECK(sb.s[sb.len - 1] == '!' && sb.s[sb.len] == '\0');

	/* printf and append interleaved give the same text as one snprintf */
	pk_strbuf_release(&sb);
	big = malloc(100000);
	CHECK(big != NULL);
	if (big) {
		size_t off = 0;

		for (int i = 0; i < 5000; i++) {
			pk_strbuf_printf(&sb, "%d,", i);
			off += (size_t)snprintf(big + off, 100000 - off, "%d,", i);
		}
		CHECK_EQ_INT(sb.len, off);
		CHECK_STR(pk_strbuf_str(&sb), big);
		free(big);
	}
	pk_strbuf_release(&sb);
}

static void test_cap_and_sticky_failure(void)
{
	struct pk_strbuf sb = { 0 };

	pk_strbuf_append(&sb, "keep", 4);
	/* vsnprintf measures 64 MiB without allocating it; the cap refuses it */
	pk_strbuf_printf(&sb, "%*s", (int)PK_STRBUF_MAX, "");
	CHECK(!pk_strbuf_ok(&sb));
	CHECK_STR(pk_strbuf_str(&sb), "keep"); /* what was there is untouched */
	CHECK_EQ_INT(sb.len, 4);
	/* once failed, later appends do nothing */
	pk_strbuf_append(&sb, "more", 4);
	pk_strbuf_printf(&sb, "%d", 1);
	CHECK_EQ_INT(sb.len, 4);
	CHECK_STR(pk_strbuf_str(&sb), "keep");
	CHECK(!pk_strbuf_ok(&sb));
	/* release clears the failure */
	pk_strbuf_release(&sb);
	CHECK(pk_strbuf_ok(&sb));
	CHECK(sb.s == NULL);
	CHECK_EQ_INT(sb.len, 0);
	CHECK_EQ_INT(sb.cap, 0);
	pk_strbuf_append(&sb, "again", 5);
	CHECK_STR(pk_strbuf_str(&sb), "again");
	CHECK(pk_strbuf_ok(&sb));
	pk_strbuf_release(&sb);
}

static void test_xml(void)
{
	struct pk_strbuf sb = { 0 };

	pk_strbuf_xml(&sb, "a<b>&\"c'd\"");
	CHECK_STR(pk_strbuf_str(&sb), "a&lt;b&gt;&amp;&quot;c&apos;d&quot;");
	pk_strbuf_xml(&sb, NULL);
	pk_strbuf_xml(&sb, "");
	CHECK_EQ_INT(sb.len, strlen("a&lt;b&gt;&amp;&quot;c&apos;d&quot;"));
	pk_strbuf_release(&sb);
}

int main(void)
{
	UNIT_RUN(test_zero_state);
	UNIT_RUN(test_append_growth);
	UNIT_RUN(test_printf);
	UNIT_RUN(test_cap_and_sticky_failure);
	UNIT_RUN(test_xml);
	return unit_done();
}
