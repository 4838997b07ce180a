/* args.h — parsing of command-line values, and the CLI's one-line error format.
 *
 * Parsers return 0 or -EINVAL/-ERANGE and never accept trailing garbage, signs on
 * unsigned values, or empty strings.
 */
#ifndef PK_COMMON_ARGS_H
#define PK_COMMON_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* The value of a macro as a string literal: help text is written from the same constant as
 * the code that applies the default (PK_STR(10) is "10"). */
#define PK_STR_(x) #x
#define PK_STR(x) PK_STR_(x)

/* Exit codes shared by every subcommand. */
#define PK_EXIT_OK 0
#define PK_EXIT_RUNTIME 1
#define PK_EXIT_USAGE 2
#define PK_EXIT_DIFFERENT 3 /* ran, and what was compared differed (replay) */

/* Parses a byte size: digits with an optional K, M, G or T suffix (powers of 1024, case
 * insensitive, optional trailing "B" or "iB"), e.g. "4M", "64k", "1GiB". */
int pk_parse_size(const char *s, uint64_t *out);

/* Parses a decimal unsigned integer no larger than max. */
int pk_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Parses a decimal number with an optional fraction ("2", "0.5", "100.25"; no sign, exponent,
 * inf or nan) within [min, max]. */
int pk_parse_double(const char *s, double min, double max, double *out);

/* Parses a duration: a decimal number (pk_parse_double's form) with a unit ms, s or m
 * (seconds when none), e.g. "5s", "250ms", "1.5"; into nanoseconds, at most max_ns. */
int pk_parse_duration(const char *s, uint64_t max_ns, uint64_t *out_ns);

/* Parses a TCP port 1..65535. */
int pk_parse_port(const char *s, uint16_t *out);

/* Parses "[HOST:]PORT" or "[IPV6]:PORT"; host defaults to def_host.  host gets a copy. */
int pk_parse_hostport(const char *s, const char *def_host, char *host, size_t hostlen,
		      uint16_t *port);

/* Prints "parikshan: <what>: <why>" on one line to stderr. */
void pk_cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "parikshan: <what>: <why>" (why formatted from fmt) on one line to stderr and
 * returns code: a subcommand's one error line and its exit status in one call. */
int pk_cli_fail(int code, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints "parikshan: CMD: what: why" and returns PK_EXIT_USAGE. */
int pk_cli_bad(const char *cmd, const char *what, const char *why);

/* Prints "parikshan: CMD: FLAG 'VAL': out of range|not a valid value"; returns PK_EXIT_USAGE. */
int pk_cli_bad_value(const char *cmd, const char *flag, const char *val, int err);

#endif
