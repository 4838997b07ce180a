/* log.h — one greppable line per event, to stderr.
 *
 * Levels are checked before the arguments are evaluated, so a disabled
 * pk_log(PK_LOG_DEBUG, ...) costs one compare.  The only global state is the
 * level and the program name, set once at start-up.
 */
#ifndef PK_COMMON_LOG_H
#define PK_COMMON_LOG_H

#include <stdbool.h>

enum pk_log_level {
	PK_LOG_ERROR = 0,
	PK_LOG_WARN = 1,
	PK_LOG_INFO = 2,
	PK_LOG_DEBUG = 3,
};

extern enum pk_log_level pk_log_level_cur;

/* Sets the lowest level that is printed. */
void pk_log_set_level(enum pk_log_level level);

/* Parses "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int pk_log_parse_level(const char *s, enum pk_log_level *out);

/* Writes one line "TIME LEVEL msg" to stderr; use the pk_log() macro instead. */
void pk_log_write(enum pk_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pk_log(level, ...)                                                                         \
	do {                                                                                       \
		if ((level) <= pk_log_level_cur)                                                   \
			pk_log_write((level), __VA_ARGS__);                                        \
	} while (0)

#endif
