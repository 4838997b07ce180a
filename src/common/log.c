/* log.c — timestamped single-line logging to stderr. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum pk_log_level pk_log_level_cur = PK_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void pk_log_set_level(enum pk_log_level level)
{
	pk_log_level_cur = level;
}

int pk_log_parse_level(const char *s, enum pk_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum pk_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void pk_log_write(enum pk_log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000,
			      level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2)-sized fputs keeps lines whole when several processes share stderr. */
	fwrite(line, 1, n, stderr);
}
