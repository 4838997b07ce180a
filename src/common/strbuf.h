/* strbuf.h — a growable, always NUL-terminated string with a hard cap.
 *
 * An all-zero strbuf is valid and empty.  Once an append fails (allocation or cap), the
 * buffer is marked failed, later appends do nothing, and pk_strbuf_ok() says false.
 */
#ifndef PK_COMMON_STRBUF_H
#define PK_COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

#define PK_STRBUF_MAX (64u << 20)

struct pk_strbuf {
	char *s;
	size_t len;
	size_t cap;
	bool failed;
};

/* Frees the text; the strbuf is empty and usable again. */
void pk_strbuf_release(struct pk_strbuf *sb);

/* Appends n bytes. */
void pk_strbuf_append(struct pk_strbuf *sb, const char *p, size_t n);

/* Appends formatted text. */
void pk_strbuf_printf(struct pk_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends the NUL-terminated s (NULL: nothing) with XML's and HTML's five special characters
 * as entities (&amp; &lt; &gt; &quot; &apos;). */
void pk_strbuf_xml(struct pk_strbuf *sb, const char *s);

/* Returns the text ("" when empty). */
static inline const char *pk_strbuf_str(const struct pk_strbuf *sb)
{
	return sb->s ? sb->s : "";
}

/* Tells whether every append so far succeeded. */
static inline bool pk_strbuf_ok(const struct pk_strbuf *sb)
{
	return !sb->failed;
}

#endif
