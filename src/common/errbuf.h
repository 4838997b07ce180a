/* errbuf.h — the one-line reason a library function leaves in its caller's buffer (a
 * libbpf-style library prints nothing: it fills err[0..errlen) and returns -errno). */
#ifndef PK_COMMON_ERRBUF_H
#define PK_COMMON_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* Writes the printf-formatted reason into err (when err and errlen are set; cut to fit) and
 * returns code. */
int pk_errbuf_set(int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The same with a va_list. */
int pk_errbuf_vset(int code, char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

#endif
