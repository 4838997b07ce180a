/* status_view.h — `parikshan status`'s view of a running proxy: what its admin endpoint
 * answered, read and rendered as the status table or JSON. */
#ifndef PK_CLI_STATUS_VIEW_H
#define PK_CLI_STATUS_VIEW_H

#include <stdbool.h>

#include "common/strbuf.h"

/* Renders the Prometheus text of a proxy as a table (or JSON when json) into out.
 * Returns 0, or -EINVAL when the text is not parikshan metrics. */
int pk_status_render(const char *metrics, bool json, struct pk_strbuf *out);

#endif
