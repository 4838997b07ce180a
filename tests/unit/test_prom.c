/* test_prom.c — the Prometheus text writer (families, samples, a second label, value formats,
 * label escaping, values as the text carries them) and reader (parse round trip, malformed
 * lines, label extraction). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/prom.h"
#include "unit.h"

static void test_family_and_samples(void)
{
	struct pk_strbuf out = { 0 };

	pk_prom_family(&out, "parikshan_x_total", "counter", "Things counted.");
	pk_prom_sample(&out, "parikshan_x_total", NULL, NULL, 42);
	pk_prom_sample(&out, "parikshan_x_total", "target", "127.0.0.1:6380", 7);
	CHECK(pk_strbuf_ok(&out));
	CHECK_STR(pk_strbuf_str(&out), "# HELP parikshan_x_total Things counted.\n"
				       "# TYPE parikshan_x_total counter\n"
				       "parikshan_x_total 42\n"
				       "parikshan_x_total{target=\"127.0.0.1:6380\"} 7\n");
	pk_strbuf_release(&out);
}

static void test_value_formats(void)
{
	struct pk_strbuf out = { 0 };

	pk_prom_sample(&out, "a", NULL, NULL, 0);
	pk_prom_sample(&out, "b", NULL, NULL, -3);
	pk_prom_sample(&out, "c", NULL, NULL, 0.5);
	pk_prom_sample(&out, "d", NULL, NULL, 4294967296.0);
	pk_prom_sample(&out, "e", NULL, NULL, 999999999999999.0); /* largest plain integer */
	pk_prom_sample(&out, "f", NULL, NULL, 1e15);
	pk_prom_sample(&out, "g", NULL, NULL, 1.0 / 3);
	pk_prom_sample(&out, "h", NULL, NULL, 0.001);
	CHECK_STR(pk_strbuf_str(&out), "a 0\n"
				       "b -3\n"
				       "c 0.5\n"
				       "d 4294967296\n"
				       "e 999999999999999\n"
				       "f 1e+15\n"
				       "g 0.333333333\n"
				       "h 0.001\n");
	pk_strbuf_release(&out);
}

/* A second label follows the first, escaped the same way. */
static void test_second_label(void)
{
	struct pk_strbuf out = { 0 };

	pk_prom_sample2(&out, "m", "target", "[::1]:7000", "verdict", "a\"b", 2);
	pk_prom_sample2(&out, "m", "target", "t", NULL, NULL, 0.25);
	CHECK_STR(pk_strbuf_str(&out), "m{target=\"[::1]:7000\",verdict=\"a\\\"b\"} 2\n"
				       "m{target=\"t\"} 0.25\n");
	pk_strbuf_release(&out);
}

/* pk_prom_value() gives what a reader of the text gets back, and is its own fixpoint. */
static void test_value_as_carried(void)
{
	static const double vals[] = {
		0,     12,    0.25, 1.0 / 3, 999999999999999.0, 1234567890123456.0, 1.23456789012,
		1e308, 5e-324
	};
	struct pk_strbuf out = { 0 };

	CHECK(pk_prom_value(12) == 12);
	CHECK(pk_prom_value(999999999999999.0) == 999999999999999.0); /* exact below 1e15 */
	CHECK(pk_prom_value(1234567890123456.0) == 1.23456789e15);
	CHECK(pk_prom_value(1.23456789012) == 1.23456789);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		double v = pk_prom_value(vals[i]);

		pk_strbuf_release(&out);
		pk_prom_sample(&out, "x", NULL, NULL, vals[i]);
		CHECK(strtod(pk_strbuf_str(&out) + 2, NULL) == v);
		CHECK(pk_prom_value(v) == v);
	}
	pk_strbuf_release(&out);
}

static void test_label_escaping(void)
{
	struct pk_strbuf out = { 0 };

	pk_prom_sample(&out, "m", "k", "a\\b\"c\nd", 1);
	CHECK_STR(pk_strbuf_str(&out), "m{k=\"a\\\\b\\\"c\\nd\"} 1\n");
	pk_strbuf_release(&out);
	pk_prom_sample(&out, "m", "k", "", 2);
	CHECK_STR(pk_strbuf_str(&out), "m{k=\"\"} 2\n");
	pk_strbuf_release(&out);
	pk_prom_sample(&out, "m", "k", "\\\\\"\"\n\n", 3);
	CHECK_STR(pk_strbuf_str(&out), "m{k=\"\\\\\\\\\\\"\\\"\\n\\n\"} 3\n");
	/* the text stays one line per sample */
	CHECK_EQ_INT(strchr(pk_strbuf_str(&out), '\n') - pk_strbuf_str(&out),
		     (long long)out.len - 1);
	pk_strbuf_release(&out);
}

#define MAXS 16

struct seen {
	int n;
	char name[MAXS][64];
	char labels[MAXS][256];
	double v[MAXS];
};

static void collect(const char *name, const char *labels, double value, void *data)
{
	struct seen *s = data;

	if (s->n >= MAXS)
		return;
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
	snprintf(s->labels[s->n], sizeof(s->labels[0]), "%s", labels);
	s->v[s->n] = value;
	s->n++;
}

static void test_parse_round_trip(void)
{
	static const char *const vals[] = {
		"plain", "with \"quotes\"", "back\\slash", "new\nline", "}{,=\" mixed \\n", "",
	};
	const double nums[] = { 0, 1, 123456789, 0.25, -7, 1e18 };
	struct pk_strbuf out = { 0 };
	struct seen s;
	char buf[128];
	int n;

	memset(&s, 0, sizeof(s));
	pk_prom_family(&out, "fam", "gauge", "Help with {braces} and \"quotes\".");
	for (int i = 0; i < 6; i++)
		pk_prom_sample(&out, "fam", "target", vals[i], nums[i]);
	pk_strbuf_printf(&out, "\n# a comment\n\n");
	pk_prom_sample(&out, "bare", NULL, NULL, 99);
	n = pk_prom_parse(pk_strbuf_str(&out), collect, &s);
	CHECK_EQ_INT(n, 7);
	CHECK_EQ_INT(s.n, 7);
	for (int i = 0; i < 6 && i < s.n; i++) {
		CHECK_STR(s.name[i], "fam");
		CHECK(s.v[i] == nums[i]);
		CHECK_EQ_INT(pk_prom_label(s.labels[i], "target", buf, sizeof(buf)), 0);
		CHECK_STR(buf, vals[i]);
	}
	if (s.n == 7) {
		CHECK_STR(s.name[6], "bare");
		CHECK_STR(s.labels[6], "");
		CHECK(s.v[6] == 99);
	}
	pk_strbuf_release(&out);
}

static void test_parse_multi_labels_and_misc(void)
{
	struct seen s;
	char buf[64];
	int n;

	memset(&s, 0, sizeof(s));
	/* several labels, a timestamp after the value, no final newline, floats */
	n = pk_prom_parse("x{a=\"1\",b=\"two\", c=\"3,3\"} 1.5 1700000000000\n"
			  "y 2e3\n"
			  "z{} -0.25",
			  collect, &s);
	CHECK_EQ_INT(n, 3);
	CHECK_STR(s.name[0], "x");
	CHECK(s.v[0] == 1.5);
	CHECK_EQ_INT(pk_prom_label(s.labels[0], "a", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "1");
	CHECK_EQ_INT(pk_prom_label(s.labels[0], "b", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "two");
	CHECK_EQ_INT(pk_prom_label(s.labels[0], "c", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "3,3");
	CHECK_STR(s.name[1], "y");
	CHECK(s.v[1] == 2000);
	CHECK_STR(s.name[2], "z");
	CHECK_STR(s.labels[2], "");
	CHECK(s.v[2] == -0.25);

	/* empty text and comments only: zero samples, no callback */
	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(pk_prom_parse("", collect, &s), 0);
	CHECK_EQ_INT(pk_prom_parse("# HELP a b\n# TYPE a gauge\n\n", collect, &s), 0);
	CHECK_EQ_INT(s.n, 0);
}

static void test_parse_rejects_malformed(void)
{
	struct seen s;
	char *huge;

	memset(&s, 0, sizeof(s));
	CHECK_EQ_INT(pk_prom_parse("foo bar\n", collect, &s), -EINVAL);
	CHECK_EQ_INT(pk_prom_parse("foo\n", collect, &s), -EINVAL);
	CHECK_EQ_INT(pk_prom_parse("foo{a=\"b\"}\n", collect, &s), -EINVAL);
	CHECK_EQ_INT(pk_prom_parse("{a=\"b\"} 1\n", collect, &s), -EINVAL);
	CHECK_EQ_INT(pk_prom_parse(" foo 1\n", collect, &s), -EINVAL);
	CHECK_EQ_INT(pk_prom_parse("foo{a=\"b\" 1\n", collect, &s), -EINVAL);
	CHECK_EQ_INT(pk_prom_parse("foo 1e999\n", collect, &s), -EINVAL);
	CHECK_EQ_INT(s.n, 0);
	/* samples before the bad line are delivered, then parsing stops */
	CHECK_EQ_INT(pk_prom_parse("ok 1\nbad\nlater 2\n", collect, &s), -EINVAL);
	CHECK_EQ_INT(s.n, 1);
	CHECK_STR(s.name[0], "ok");
	/* an over-long line is refused, not truncated */
	huge = malloc(5000);
	CHECK(huge != NULL);
	if (huge) {
		memset(huge, 'a', 4990);
		memcpy(huge + 4990, " 1\n", 4);
		s.n = 0;
		CHECK_EQ_INT(pk_prom_parse(huge, collect, &s), -EINVAL);
		CHECK_EQ_INT(s.n, 0);
		free(huge);
	}
}

static void test_label_lookup(void)
{
	const char *labels = "role=\"dup\",production=\"127.0.0.1:1\",mode=\"async\"";
	char buf[32], tiny[4];

	CHECK_EQ_INT(pk_prom_label(labels, "role", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "dup");
	CHECK_EQ_INT(pk_prom_label(labels, "production", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "127.0.0.1:1");
	CHECK_EQ_INT(pk_prom_label(labels, "mode", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "async");
	/* absent keys, including prefixes and suffixes of present ones */
	CHECK_EQ_INT(pk_prom_label(labels, "target", buf, sizeof(buf)), -ENOENT);
	CHECK_EQ_INT(pk_prom_label(labels, "rol", buf, sizeof(buf)), -ENOENT);
	CHECK_EQ_INT(pk_prom_label(labels, "ode", buf, sizeof(buf)), -ENOENT);
	CHECK_EQ_INT(pk_prom_label(labels, "roles", buf, sizeof(buf)), -ENOENT);
	CHECK_EQ_INT(pk_prom_label("", "role", buf, sizeof(buf)), -ENOENT);
	CHECK_EQ_INT(pk_prom_label("garbage", "role", buf, sizeof(buf)), -ENOENT);
	CHECK_EQ_INT(pk_prom_label("a=b", "a", buf, sizeof(buf)), -ENOENT);
	/* a key named inside another label's value is not a match */
	CHECK_EQ_INT(pk_prom_label("a=\"mode=\\\"x\\\"\",mode=\"y\"", "mode", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "y");
	/* too small: "dup" needs 4 bytes with its NUL */
	CHECK_EQ_INT(pk_prom_label(labels, "role", tiny, 3), -ENOSPC);
	CHECK_EQ_INT(pk_prom_label(labels, "role", tiny, 4), 0);
	CHECK_STR(tiny, "dup");
	CHECK_EQ_INT(pk_prom_label(labels, "mode", tiny, sizeof(tiny)), -ENOSPC);
	/* empty value */
	CHECK_EQ_INT(pk_prom_label("k=\"\"", "k", tiny, sizeof(tiny)), 0);
	CHECK_STR(tiny, "");
}

int main(void)
{
	UNIT_RUN(test_family_and_samples);
	UNIT_RUN(test_value_formats);
	UNIT_RUN(test_second_label);
	UNIT_RUN(test_value_as_carried);
	UNIT_RUN(test_label_escaping);
	UNIT_RUN(test_parse_round_trip);
	UNIT_RUN(test_parse_multi_labels_and_misc);
	UNIT_RUN(test_parse_rejects_malformed);
	UNIT_RUN(test_label_lookup);
	return unit_done();
}
