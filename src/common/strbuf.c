/* strbuf.c — growable string. */
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pk_strbuf_release(struct pk_strbuf *sb)
{
	free(sb->s);
	memset(sb, 0, sizeof(*sb));
}

/* Makes room for n more bytes plus the NUL; returns false (and marks failure) if it can't. */
static bool strbuf_reserve(struct pk_strbuf *sb, size_t n)
{
	size_t cap;
	char *ns;

	if (sb->failed)
		return false;
	if (sb->len + n + 1 <= sb->cap)
		return true;
	if (sb->len + n + 1 > PK_STRBUF_MAX)
		goto fail;
	cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + n + 1)
		cap *= 2;
	ns = realloc(sb->s, cap);
	if (!ns)
		goto fail;
	sb->s = ns;
	sb->cap = cap;
	return true;
fail:
	sb->failed = true;
	return false;
}

void pk_strbuf_append(struct pk_strbuf *sb, const char *p, size_t n)
{
	if (!strbuf_reserve(sb, n))
		return;
	memcpy(sb->s + sb->len, p, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

void pk_strbuf_printf(struct pk_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !strbuf_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void pk_strbuf_xml(struct pk_strbuf *sb, const char *s)
{
	static const char *const entity[256] = {
		['&'] = "&amp;",  ['<'] = "&lt;",    ['>'] = "&gt;",
		['"'] = "&quot;", ['\''] = "&apos;",
	};

	for (; s && *s; s++) {
		const char *e = entity[(unsigned char)*s];

		if (e)
			pk_strbuf_append(sb, e, strlen(e));
		else
			pk_strbuf_append(sb, s, 1);
	}
}
