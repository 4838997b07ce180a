/* prom.c — Prometheus text format writer and a small reader. */
#include "common/prom.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pk_prom_family(struct pk_strbuf *out, const char *name, const char *type, const char *help)
{
	pk_strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void append_escaped(struct pk_strbuf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			pk_strbuf_printf(out, "\\%c", *s);
		else if (*s == '\n')
			pk_strbuf_append(out, "\\n", 2);
		else
			pk_strbuf_append(out, s, 1);
	}
}

/* Formats v as a sample's value: integers below 1e15 exactly, others to 9 significant digits,
 * infinities as +Inf and -Inf. */
static void format_value(double v, char *buf, size_t len)
{
	if (isinf(v))
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.9g", v);
}

void pk_prom_sample2(struct pk_strbuf *out, const char *name, const char *key, const char *value,
		     const char *key2, const char *value2, double v)
{
	char num[64];

	pk_strbuf_printf(out, "%s", name);
	if (key) {
		pk_strbuf_printf(out, "{%s=\"", key);
		append_escaped(out, value);
		if (key2) {
			pk_strbuf_printf(out, "\",%s=\"", key2);
			append_escaped(out, value2);
		}
		pk_strbuf_append(out, "\"}", 2);
	}
	format_value(v, num, sizeof(num));
	pk_strbuf_printf(out, " %s\n", num);
}

void pk_prom_sample(struct pk_strbuf *out, const char *name, const char *key, const char *value,
		    double v)
{
	pk_prom_sample2(out, name, key, value, NULL, NULL, v);
}

double pk_prom_value(double v)
{
	char num[64];

	format_value(v, num, sizeof(num));
	return strtod(num, NULL);
}

int pk_prom_parse(const char *text, pk_prom_fn fn, void *data)
{
	int count = 0;

	while (*text) {
		const char *eol = strchr(text, '\n');
		size_t len = eol ? (size_t)(eol - text) : strlen(text);
		char line[4096], name[256], labels[2048] = "";
		char *p, *end;
		size_t nlen;
		double v;

		if (len >= sizeof(line))
			return -EINVAL;
		memcpy(line, text, len);
		line[len] = '\0';
		text += len + (eol ? 1 : 0);
		if (len == 0 || line[0] == '#')
			continue;
		nlen = strcspn(line, "{ ");
		if (nlen == 0 || nlen >= sizeof(name))
			return -EINVAL;
		memcpy(name, line, nlen);
		name[nlen] = '\0';
		p = line + nlen;
		if (*p == '{') {
			char *close = strrchr(p, '}');

			if (!close || (size_t)(close - p - 1) >= sizeof(labels))
				return -EINVAL;
			memcpy(labels, p + 1, (size_t)(close - p - 1));
			labels[close - p - 1] = '\0';
			p = close + 1;
		}
		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno == ERANGE)
			return -EINVAL;
		fn(name, labels, v, data);
		count++;
	}
	return count;
}

int pk_prom_label(const char *labels, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = labels;

	if (outlen == 0)
		return -ENOSPC;
	out[0] = '\0';
	while (*p) {
		size_t o = 0;
		bool match;

		while (*p == ',' || *p == ' ')
			p++;
		match = strncmp(p, key, klen) == 0 && p[klen] == '=' && p[klen + 1] == '"';
		p = strchr(p, '=');
		if (!p || p[1] != '"')
			return -ENOENT;
		for (p += 2; *p && *p != '"'; p++) {
			char c = *p;

			if (c == '\\' && p[1]) {
				p++;
				c = *p == 'n' ? '\n' : *p;
			}
			if (match) {
				if (o + 1 >= outlen) {
					out[o] = '\0';
					return -ENOSPC;
				}
				out[o++] = c;
			}
		}
		if (match) {
			out[o] = '\0';
			return 0;
		}
		if (*p == '"')
			p++;
	}
	return -ENOENT;
}
