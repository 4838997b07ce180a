/* test_log.c — level parsing, level filtering (arguments not evaluated when off) and the
 * "TIME LEVEL msg" line format, read back through a pipe standing in for stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "unit.h"

static int saved_fd = -1, pipe_rd = -1;

/* Points stderr at a fresh non-blocking pipe. */
static int capture_begin(void)
{
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	fflush(stderr);
	saved_fd = dup(STDERR_FILENO);
	if (saved_fd < 0 || dup2(p[1], STDERR_FILENO) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	pipe_rd = p[0];
	return 0;
}

/* Restores stderr and reads what was written into buf (NUL-terminated); returns its length. */
static long capture_end(char *buf, size_t len)
{
	long n;

	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	n = read(pipe_rd, buf, len - 1);
	if (n < 0)
		n = errno == EAGAIN ? 0 : -1;
	buf[n > 0 ? n : 0] = '\0';
	close(pipe_rd);
	pipe_rd = -1;
	return n;
}

static int evaluated;

static int side_effect(void)
{
	evaluated++;
	return 1;
}

static void test_parse_level(void)
{
	enum pk_log_level l = PK_LOG_INFO;

	CHECK_EQ_INT(pk_log_parse_level("error", &l), 0);
	CHECK_EQ_INT(l, PK_LOG_ERROR);
	CHECK_EQ_INT(pk_log_parse_level("warn", &l), 0);
	CHECK_EQ_INT(l, PK_LOG_WARN);
	CHECK_EQ_INT(pk_log_parse_level("info", &l), 0);
	CHECK_EQ_INT(l, PK_LOG_INFO);
	CHECK_EQ_INT(pk_log_parse_level("debug", &l), 0);
	CHECK_EQ_INT(l, PK_LOG_DEBUG);

	l = PK_LOG_WARN;
	CHECK_EQ_INT(pk_log_parse_level("", &l), -EINVAL);
	CHECK_EQ_INT(pk_log_parse_level("WARN", &l), -EINVAL);
	CHECK_EQ_INT(pk_log_parse_level("warning", &l), -EINVAL);
	CHECK_EQ_INT(pk_log_parse_level("info ", &l), -EINVAL);
	CHECK_EQ_INT(pk_log_parse_level("trace", &l), -EINVAL);
	CHECK_EQ_INT(pk_log_parse_level("3", &l), -EINVAL);
	CHECK_EQ_INT(l, PK_LOG_WARN); /* untouched on failure */
}

/* Checks "YYYY-MM-DDTHH:MM:SS.mmmZ " at the start of line. */
static int has_timestamp(const char *line)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? (line[i] < '0' || line[i] > '9') : line[i] != shape[i])
			return 0;
	}
	return 1;
}

static void test_line_format(void)
{
	char buf[4096];
	long n;

	CHECK_EQ_INT(capture_begin(), 0);
	pk_log_write(PK_LOG_WARN, "hello %d %s", 42, "world");
	n = capture_end(buf, sizeof(buf));
	CHECK_EQ_INT(n, 25 + 21);
	CHECK(has_timestamp(buf));
	CHECK_STR(buf + 25, "warn  hello 42 world\n");

	CHECK_EQ_INT(capture_begin(), 0);
	pk_log_write(PK_LOG_ERROR, "e");
	pk_log_write(PK_LOG_INFO, "i");
	pk_log_write(PK_LOG_DEBUG, "d");
	n = capture_end(buf, sizeof(buf));
	CHECK_EQ_INT(n, 3 * (25 + 8));
	CHECK(has_timestamp(buf) && has_timestamp(buf + 33) && has_timestamp(buf + 66));
	CHECK(strncmp(buf + 25, "error e\n", 8) == 0);
	CHECK(strncmp(buf + 33 + 25, "info  i\n", 8) == 0);
	CHECK(strncmp(buf + 66 + 25, "debug d\n", 8) == 0);
}

static void test_long_line_truncated(void)
{
	char *msg = malloc(3000), buf[4096];
	long n;

	CHECK(msg != NULL);
	if (!msg)
		return;
	memset(msg, 'z', 2999);
	msg[2999] = '\0';
	CHECK_EQ_INT(capture_begin(), 0);
	pk_log_write(PK_LOG_INFO, "%s", msg);
	n = capture_end(buf, sizeof(buf));
	/* one line, cut to the 1 KiB line buffer, still ending in a newline */
	CHECK(n > 900 && n <= 1024);
	CHECK(n > 0 && buf[n - 1] == '\n');
	CHECK(strchr(buf, '\n') == buf + n - 1);
	CHECK(has_timestamp(buf));
	free(msg);
}

static void test_level_filter(void)
{
	enum pk_log_level old = pk_log_level_cur;
	char buf[4096];
	long n;

	pk_log_set_level(PK_LOG_WARN);
	CHECK_EQ_INT(pk_log_level_cur, PK_LOG_WARN);
	evaluated = 0;
	CHECK_EQ_INT(capture_begin(), 0);
	pk_log(PK_LOG_INFO, "hidden %d", side_effect());
	pk_log(PK_LOG_DEBUG, "hidden %d", side_effect());
	pk_log(PK_LOG_WARN, "shown %d", side_effect());
	pk_log(PK_LOG_ERROR, "shown too");
	n = capture_end(buf, sizeof(buf));
	CHECK_EQ_INT(evaluated, 1); /* disabled levels do not evaluate their arguments */
	CHECK(n > 0);
	CHECK(strstr(buf, "warn  shown 1\n") != NULL);
	CHECK(strstr(buf, "error shown too\n") != NULL);
	CHECK(strstr(buf, "hidden") == NULL);

	pk_log_set_level(PK_LOG_ERROR);
	CHECK_EQ_INT(capture_begin(), 0);
	pk_log(PK_LOG_WARN, "nothing");
	n = capture_end(buf, sizeof(buf));
	CHECK_EQ_INT(n, 0);
	pk_log_set_level(old);
}

int main(void)
{
	UNIT_RUN(test_parse_level);
	UNIT_RUN(test_line_format);
	UNIT_RUN(test_long_line_truncated);
	UNIT_RUN(test_level_filter);
	return unit_done();
}
