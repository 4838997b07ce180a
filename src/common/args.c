/* args.c — command-line value parsers and the CLI error line. */
#include "common/args.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int pk_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int pk_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	case '\0':
	case 'B':
		break;
	default:
		return -EINVAL;
	}
	if (shift)
		end++;
	if (*end && strcasecmp(end, "B") != 0 && !(shift && strcasecmp(end, "iB") == 0))
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int pk_parse_double(const char *s, double min, double max, double *out)
{
	const char *p = s;
	char *end;
	double v;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.' && !isdigit((unsigned char)*++p))
		return -EINVAL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end != p)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int pk_parse_duration(const char *s, uint64_t max_ns, uint64_t *out_ns)
{
	static const struct {
		const char *suffix;
		double ns;
	} units[] = { { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "", 1e9 } };
	char num[64];
	size_t len = 0;
	double v;
	int err;

	if (!s)
		return -EINVAL;
	while (s[len] && (isdigit((unsigned char)s[len]) || s[len] == '.'))
		len++;
	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (strcmp(s + len, units[u].suffix) != 0)
			continue;
		err = pk_parse_double(num, 0, (double)max_ns / units[u].ns, &v);
		if (err)
			return err;
		*out_ns = (uint64_t)(v * units[u].ns + 0.5);
		return 0;
	}
	return -EINVAL;
}

int pk_parse_port(const char *s, uint16_t *out)
{
	uint64_t v;
	int err = pk_parse_uint(s, 65535, &v);

	if (err)
		return err;
	if (v == 0)
		return -ERANGE;
	*out = (uint16_t)v;
	return 0;
}

int pk_parse_hostport(const char *s, const char *def_host, char *host, size_t hostlen,
		      uint16_t *port)
{
	const char *colon, *h = def_host;
	size_t hlen = strlen(def_host);

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - s - 1);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon) {
			if (strchr(s, ':') != colon)
				return -EINVAL; /* bare IPv6 needs brackets */
			h = s;
			hlen = (size_t)(colon - s);
		}
	}
	if (colon && hlen == 0)
		return -EINVAL;
	if (hlen >= hostlen)
		return -ERANGE;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return pk_parse_port(colon ? colon + 1 : s, port);
}

/* The one printer of the CLI's error line. */
__attribute__((format(printf, 2, 0))) static void cli_verror(const char *what, const char *fmt,
							     va_list ap)
{
	char why[512];

	vsnprintf(why, sizeof(why), fmt, ap);
	fprintf(stderr, "parikshan: %s: %s\n", what, why);
}

void pk_cli_error(const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(what, fmt, ap);
	va_end(ap);
}

int pk_cli_fail(int code, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_verror(what, fmt, ap);
	va_end(ap);
	return code;
}

int pk_cli_bad(const char *cmd, const char *what, const char *why)
{
	return pk_cli_fail(PK_EXIT_USAGE, cmd, "%s: %s", what, why);
}

int pk_cli_bad_value(const char *cmd, const char *flag, const char *val, int err)
{
	return pk_cli_fail(PK_EXIT_USAGE, cmd, "%s '%s': %s", flag, val,
			   err == -ERANGE ? "out of range" : "not a valid value");
}
