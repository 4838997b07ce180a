/* status_view.h — `parikshan status`'s view of a running proxy: the status document its admin
 * endpoint answered (GET /status.json), read and shown as a table or as JSON. */
#ifndef PK_CLI_STATUS_VIEW_H
#define PK_CLI_STATUS_VIEW_H

#include <stdbool.h>

#include "common/strbuf.h"

/* Renders a proxy's status document doc (NUL-terminated, as received) as the status table, or
 * when json as the document again (the keys status knows, in their order), into out.
 * Returns 0, -EINVAL when doc is not a status document (out is then unchanged), or -ENOMEM. */
int pk_status_render(const char *doc, bool json, struct pk_strbuf *out);

#endif
