/* report.h — `parikshan trace report`: the request paths as one self-contained HTML page (no
 * script, no network: inline style only), made from the paths document that `trace paths
 * --format json` prints (paths slowest first, processes, untraceable programs, drops):
 *
 *   summary          N requests, how many complete, processes, records dropped
 *   untraceable      programs the library could not see (static), when there are any
 *   services         per service (a process name): hops, p50/p90/p99/max latency
 *   processes        pid, name, executable, clock offset (and its causality bounds), drops
 *   requests         slowest first: one <details class="req"> per path, its summary the root
 *                    request, its duration, hops and completeness; inside, a timeline with one
 *                    bar per hop, indented by depth, placed and sized by its time within the
 *                    path
 */
#ifndef PK_TRACE_REPORT_H
#define PK_TRACE_REPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "common/strbuf.h"

#define PK_TRACE_REPORT_MAX_PATHS 1000 /* requests drawn by default (the slowest) */

struct pk_trace_report_opts {
	const char *title;  /* the page's title (NULL: "Parikshan request paths") */
	size_t max_paths;   /* requests drawn, the slowest first (0: the default above) */
	const char *source; /* where the paths come from, shown under the title (NULL: none) */
};

/* Appends the page for the paths document doc to out.  0, or -EINVAL with a reason when doc
 * does not have the paths document's shape, or -ENOMEM. */
int pk_trace_report_html(const cJSON *doc, const struct pk_trace_report_opts *o,
			 struct pk_strbuf *out, char *err, size_t errlen);

#endif
