/* paths_out.h — the request paths of analyze.h written out: a text tree per path, JSON (the
 * shape tests and `trace report` read), Chrome trace-event JSON (one track per process),
 * OTLP/JSON (an ExportTraceServiceRequest), and the summary of `trace analyze`.  Output goes
 * to a stdio stream the caller owns; nothing else is printed. */
#ifndef PK_TRACE_PATHS_OUT_H
#define PK_TRACE_PATHS_OUT_H

#include <stddef.h>
#include <stdio.h>

#include "trace/analyze.h"

enum pk_trace_fmt {
	PK_TRACE_FMT_TEXT = 0,	   /* paths as trees, then processes, drops, untraceable */
	PK_TRACE_FMT_JSON,	   /* {"paths":[...],"processes":[...],"untraceable":[...],...} */
	PK_TRACE_FMT_CHROME,	   /* {"traceEvents":[...]} */
	PK_TRACE_FMT_OTLP,	   /* {"resourceSpans":[...]} */
	PK_TRACE_FMT_SUMMARY,	   /* `trace analyze`: counts, processes, drops, rules (text) */
	PK_TRACE_FMT_SUMMARY_JSON, /* the same as one JSON object */
	PK_TRACE_FMT_HTML,	   /* `trace report`: one self-contained HTML page (report.h) */
};

/* Parses "text", "json", "chrome", "otlp" or "html".  0 or -EINVAL. */
int pk_trace_fmt_parse(const char *name, enum pk_trace_fmt *out);

/* Writes p to f in format fmt, the limit slowest paths only (0: all).  0, or -errno with a
 * reason (-EIO: the stream failed, -ENOMEM). */
int pk_trace_paths_write(const struct pk_trace_paths *p, enum pk_trace_fmt fmt, size_t limit,
			 FILE *f, char *err, size_t errlen);

/* Writes a hop's request bytes readably into dst (always NUL-terminated, cut to dstlen):
 * the first line for HTTP and text protocols, the words of a RESP command, other bytes as
 * \xNN; full: every byte (CR, LF, TAB kept as they are). */
void pk_trace_request_str(const struct pk_trace_hop *h, bool full, char *dst, size_t dstlen);

#endif
