/* errbuf.c — a library's reason into its caller's buffer (see errbuf.h). */
#include "common/errbuf.h"

#include <stdio.h>

int pk_errbuf_vset(int code, char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	return code;
}

int pk_errbuf_set(int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pk_errbuf_vset(code, err, errlen, fmt, ap);
	va_end(ap);
	return code;
}
