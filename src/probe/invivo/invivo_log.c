/* invivo_log.c — libinvivo.so: what an in-vivo test (include/parikshan/invivo.h) links to
 * write its output.  It runs in the forked child: a stack buffer, one write(), no allocation
 * and no stdio stream. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "parikshan/invivo.h"

__attribute__((visibility("default"))) void pk_invivo_log(const struct pk_invivo_ctx *ctx,
							  const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n, m;

	if (!ctx || ctx->log_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "pk-invivo pid=%d func=%s: ", (int)ctx->pid,
		     ctx->func ? ctx->func : "?");
	if (n < 0 || (size_t)n >= sizeof(buf) - 1)
		return;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - 1 - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += (size_t)m >= sizeof(buf) - 1 - (size_t)n ? (int)(sizeof(buf) - 2 - (size_t)n) : m;
	buf[n++] = '\n';
	if (write(ctx->log_fd, buf, (size_t)n) < 0)
		return; /* the verdict still reaches the log through libiprobe */
}
