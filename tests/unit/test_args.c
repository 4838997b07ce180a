/* test_args.c — size, integer, port and host:port parsing, and the CLI error line. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/args.h"
#include "unit.h"

/* Parses s as a size; returns the value, or the error (negative) as a value. */
static long long size_of(const char *s)
{
	uint64_t v = 12345;
	int err = pk_parse_size(s, &v);

	return err ? err : (long long)v;
}

static void test_parse_size_ok(void)
{
	CHECK_EQ_INT(size_of("0"), 0);
	CHECK_EQ_INT(size_of("10"), 10);
	CHECK_EQ_INT(size_of("10B"), 10);
	CHECK_EQ_INT(size_of("10b"), 10);
	CHECK_EQ_INT(size_of("64K"), 65536);
	CHECK_EQ_INT(size_of("64k"), 65536);
	CHECK_EQ_INT(size_of("64KB"), 65536);
	CHECK_EQ_INT(size_of("64KiB"), 65536);
	CHECK_EQ_INT(size_of("4M"), 4194304);
	CHECK_EQ_INT(size_of("4mb"), 4194304);
	CHECK_EQ_INT(size_of("4mib"), 4194304);
	CHECK_EQ_INT(size_of("1GiB"), 1073741824ll);
	CHECK_EQ_INT(size_of("1G"), 1ll << 30);
	CHECK_EQ_INT(size_of("3T"), 3ll << 40);
	{
		uint64_t v = 0;

		/* the largest count of T that fits in 64 bits */
		CHECK_EQ_INT(pk_parse_size("16777215T", &v), 0);
		CHECK(v == (uint64_t)16777215 << 40);
		CHECK_EQ_INT(pk_parse_size("18446744073709551615", &v), 0);
		CHECK(v == UINT64_MAX);
	}
}

static void test_parse_size_bad(void)
{
	CHECK_EQ_INT(size_of(""), -EINVAL);
	CHECK_EQ_INT(size_of("-1"), -EINVAL);
	CHECK_EQ_INT(size_of("+1"), -EINVAL);
	CHECK_EQ_INT(size_of(" 1"), -EINVAL);
	CHECK_EQ_INT(size_of("4X"), -EINVAL);
	CHECK_EQ_INT(size_of("M"), -EINVAL);
	CHECK_EQ_INT(size_of("4 M"), -EINVAL);
	CHECK_EQ_INT(size_of("4M "), -EINVAL);
	CHECK_EQ_INT(size_of("4MM"), -EINVAL);
	CHECK_EQ_INT(size_of("4MBx"), -EINVAL);
	CHECK_EQ_INT(size_of("10iB"), -EINVAL); /* "iB" only after a unit */
	CHECK_EQ_INT(size_of("1.5M"), -EINVAL);
	CHECK_EQ_INT(size_of("0x10"), -EINVAL);
	CHECK_EQ_INT(size_of("99999999999T"), -ERANGE);
	CHECK_EQ_INT(size_of("16777216T"), -ERANGE);
	CHECK_EQ_INT(size_of("18446744073709551616"), -ERANGE);
	CHECK_EQ_INT(pk_parse_size(NULL, &(uint64_t){ 0 }), -EINVAL);
	/* out untouched on failure */
	{
		uint64_t v = 77;

		CHECK(pk_parse_size("4X", &v) < 0);
		CHECK_EQ_INT(v, 77);
	}
}

static void test_parse_uint(void)
{
	uint64_t v = 0;

	CHECK_EQ_INT(pk_parse_uint("0", 10, &v), 0);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(pk_parse_uint("10", 10, &v), 0);
	CHECK_EQ_INT(v, 10);
	CHECK_EQ_INT(pk_parse_uint("007", 10, &v), 0);
	CHECK_EQ_INT(v, 7);
	v = 99;
	CHECK_EQ_INT(pk_parse_uint("11", 10, &v), -ERANGE);
	CHECK_EQ_INT(v, 99);
	CHECK_EQ_INT(pk_parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ_INT(pk_parse_uint("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	CHECK_EQ_INT(pk_parse_uint("", 10, &v), -EINVAL);
	CHECK_EQ_INT(pk_parse_uint(NULL, 10, &v), -EINVAL);
	CHECK_EQ_INT(pk_parse_uint("-1", UINT64_MAX, &v), -EINVAL);
	CHECK_EQ_INT(pk_parse_uint("+1", 10, &v), -EINVAL);
	CHECK_EQ_INT(pk_parse_uint(" 1", 10, &v), -EINVAL);
	CHECK_EQ_INT(pk_parse_uint("1 ", 10, &v), -EINVAL);
	CHECK_EQ_INT(pk_parse_uint("5k", 10, &v), -EINVAL);
}

static void test_parse_duration(void)
{
	uint64_t v = 0;

	CHECK_EQ_INT(pk_parse_duration("5s", 3600000000000ull, &v), 0);
	CHECK(v == 5000000000ull);
	CHECK_EQ_INT(pk_parse_duration("250ms", 3600000000000ull, &v), 0);
	CHECK(v == 250000000ull);
	CHECK_EQ_INT(pk_parse_duration("1.5", 3600000000000ull, &v), 0);
	CHECK(v == 1500000000ull);
	CHECK_EQ_INT(pk_parse_duration("2m", 3600000000000ull, &v), 0);
	CHECK(v == 120000000000ull);
	CHECK_EQ_INT(pk_parse_duration("0", 3600000000000ull, &v), 0);
	CHECK(v == 0);
	CHECK_EQ_INT(pk_parse_duration("0.5ms", 3600000000000ull, &v), 0);
	CHECK(v == 500000ull);
	v = 7;
	CHECK_EQ_INT(pk_parse_duration("61m", 3600000000000ull, &v), -ERANGE);
	CHECK_EQ_INT(pk_parse_duration("3601", 3600000000000ull, &v), -ERANGE);
	const char *bad[] = { "", "s", "5x", "5 s", "-5s", "5sec", ".5s", "5.s", "5msx", "1e3ms" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(pk_parse_duration(bad[i], 3600000000000ull, &v), -EINVAL);
	CHECK_EQ_INT(pk_parse_duration(NULL, 3600000000000ull, &v), -EINVAL);
	CHECK(v == 7);
}

static void test_parse_port(void)
{
	uint16_t p = 1234;

	CHECK_EQ_INT(pk_parse_port("1", &p), 0);
	CHECK_EQ_INT(p, 1);
	CHECK_EQ_INT(pk_parse_port("65535", &p), 0);
	CHECK_EQ_INT(p, 65535);
	p = 1234;
	CHECK(pk_parse_port("0", &p) < 0);
	CHECK(pk_parse_port("65536", &p) < 0);
	CHECK_EQ_INT(pk_parse_port("65536", &p), -ERANGE);
	CHECK_EQ_INT(pk_parse_port("80x", &p), -EINVAL);
	CHECK_EQ_INT(pk_parse_port("", &p), -EINVAL);
	CHECK_EQ_INT(pk_parse_port("-80", &p), -EINVAL);
	CHECK_EQ_INT(pk_parse_port("http", &p), -EINVAL);
	CHECK_EQ_INT(p, 1234);
}

static void test_parse_double(void)
{
	double v = -1;

	CHECK_EQ_INT(pk_parse_double("2", 0, 10, &v), 0);
	CHECK(v == 2.0);
	CHECK_EQ_INT(pk_parse_double("0.5", 0, 10, &v), 0);
	CHECK(v == 0.5);
	CHECK_EQ_INT(pk_parse_double("10.00", 0, 10, &v), 0);
	CHECK(v == 10.0);
	CHECK_EQ_INT(pk_parse_double("10.01", 0, 10, &v), -ERANGE);
	CHECK_EQ_INT(pk_parse_double("0.0001", 0.001, 10, &v), -ERANGE);
	const char *bad[] = { "",    "-1",  "+1",  " 1",   "1 ",    ".5", "5.",
			      "1e3", "inf", "nan", "0x10", "1.2.3", "abc" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(pk_parse_double(bad[i], 0, 1e9, &v), -EINVAL);
	CHECK_EQ_INT(pk_parse_double(NULL, 0, 1, &v), -EINVAL);
	CHECK(v == 10.0);
}

static void test_parse_hostport(void)
{
	char host[64];
	uint16_t port = 0;

	CHECK_EQ_INT(pk_parse_hostport("9100", "127.0.0.1", host, sizeof(host), &port), 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_EQ_INT(port, 9100);
	CHECK_EQ_INT(pk_parse_hostport("0.0.0.0:80", "127.0.0.1", host, sizeof(host), &port), 0);
	CHECK_STR(host, "0.0.0.0");
	CHECK_EQ_INT(port, 80);
	CHECK_EQ_INT(pk_parse_hostport("redis.local:6379", "x", host, sizeof(host), &port), 0);
	CHECK_STR(host, "redis.local");
	CHECK_EQ_INT(port, 6379);
	CHECK_EQ_INT(pk_parse_hostport("[::1]:80", "127.0.0.1", host, sizeof(host), &port), 0);
	CHECK_STR(host, "::1");
	CHECK_EQ_INT(port, 80);
	CHECK_EQ_INT(pk_parse_hostport("[fe80::1:2]:65535", "h", host, sizeof(host), &port), 0);
	CHECK_STR(host, "fe80::1:2");
	CHECK_EQ_INT(port, 65535);

	CHECK_EQ_INT(pk_parse_hostport("::1:80", "h", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ_INT(pk_parse_hostport(":80", "h", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ_INT(pk_parse_hostport("", "h", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ_INT(pk_parse_hostport(NULL, "h", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ_INT(pk_parse_hostport("[::1]", "h", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ_INT(pk_parse_hostport("[::1]80", "h", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ_INT(pk_parse_hostport("[::1:80", "h", host, sizeof(host), &port), -EINVAL);
	CHECK_EQ_INT(pk_parse_hostport("[]:80", "h", host, sizeof(host), &port), -EINVAL);
	CHECK(pk_parse_hostport("host:", "h", host, sizeof(host), &port) < 0);
	CHECK(pk_parse_hostport("host:0", "h", host, sizeof(host), &port) < 0);
	CHECK(pk_parse_hostport("host:70000", "h", host, sizeof(host), &port) < 0);
	CHECK(pk_parse_hostport("host:8o", "h", host, sizeof(host), &port) < 0);
	CHECK(pk_parse_hostport("[::1]:", "h", host, sizeof(host), &port) < 0);
	/* a host that does not fit the buffer */
	CHECK_EQ_INT(pk_parse_hostport("abcdefgh:80", "h", host, 8, &port), -ERANGE);
	CHECK_EQ_INT(pk_parse_hostport("abcdefg:80", "h", host, 8, &port), 0);
	CHECK_STR(host, "abcdefg");
	CHECK_EQ_INT(pk_parse_hostport("80", "127.0.0.1", host, 4, &port), -ERANGE);
}

/* Runs the CLI error printers with stderr on a pipe; returns what they printed in buf. */
static void capture_stderr(char *buf, size_t len, int *codes)
{
	int p[2], saved;
	ssize_t n;

	buf[0] = '\0';
	CHECK_EQ_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	CHECK(saved >= 0);
	dup2(p[1], STDERR_FILENO);
	pk_cli_error("--buffer-size", "bad size '%s'", "4X");
	codes[0] = pk_cli_fail(PK_EXIT_RUNTIME, "up web", "the duplicator did not start: %s",
			       "Address in use");
	codes[1] = pk_cli_bad("dup", "-m", "at most 8 debug targets");
	codes[2] = pk_cli_bad_value("dup", "--threads", "x", -EINVAL);
	codes[3] = pk_cli_bad_value("dup", "--threads", "999", -ERANGE);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], buf, len - 1);
	close(p[0]);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
}

static void test_cli_error_lines(void)
{
	char buf[1024];
	int codes[4];

	capture_stderr(buf, sizeof(buf), codes);
	CHECK_STR(buf, "parikshan: --buffer-size: bad size '4X'\n"
		       "parikshan: up web: the duplicator did not start: Address in use\n"
		       "parikshan: dup: -m: at most 8 debug targets\n"
		       "parikshan: dup: --threads 'x': not a valid value\n"
		       "parikshan: dup: --threads '999': out of range\n");
	CHECK_EQ_INT(codes[0], PK_EXIT_RUNTIME);
	CHECK_EQ_INT(codes[1], PK_EXIT_USAGE);
	CHECK_EQ_INT(codes[2], PK_EXIT_USAGE);
	CHECK_EQ_INT(codes[3], PK_EXIT_USAGE);
}

int main(void)
{
	UNIT_RUN(test_parse_size_ok);
	UNIT_RUN(test_parse_size_bad);
	UNIT_RUN(test_parse_uint);
	UNIT_RUN(test_parse_duration);
	UNIT_RUN(test_parse_port);
	UNIT_RUN(test_parse_double);
	UNIT_RUN(test_parse_hostport);
	UNIT_RUN(test_cli_error_lines);
	return unit_done();
}
