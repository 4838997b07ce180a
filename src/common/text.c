/* text.c — printable ASCII from any bytes (see text.h). */
#include "common/text.h"

#include <string.h>

/* The escape of byte b into e (at most 4 bytes); returns its length. */
static size_t escape(unsigned char b, unsigned flags, char *e)
{
	static const char hex[] = "0123456789abcdef";
	const char *named = (flags & PK_TEXT_C_ESCAPES) ? strchr("\\\r\n\t", b) : NULL;

	if (named && b) {
		e[0] = '\\';
		e[1] = "\\rnt"[named - "\\\r\n\t"];
		return 2;
	}
	if (b >= 0x20 && b <= 0x7e) {
		e[0] = (char)b;
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hex[b >> 4];
	e[3] = hex[b & 15];
	return 4;
}

size_t pk_text_printable(char *dst, size_t cap, const void *src, size_t n, unsigned flags)
{
	const unsigned char *s = src;
	size_t o = 0, keep = 0; /* keep: the last end of a character with room for "..." after */

	for (size_t i = 0; i < n; i++) {
		char e[4];
		size_t need = escape(s[i], flags, e);

		if (o + need > cap - 1) {
			memcpy(dst + keep, "...", 3);
			o = keep + 3;
			break;
		}
		memcpy(dst + o, e, need);
		o += need;
		if (o <= cap - 4)
			keep = o;
	}
	dst[o] = '\0';
	return o;
}
