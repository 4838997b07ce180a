/* json.h — the one way our JSON documents (cJSON trees) become text: indented, one newline at
 * the end, appended to a strbuf. */
#ifndef PK_COMMON_JSON_H
#define PK_COMMON_JSON_H

#include <cjson/cJSON.h>

#include "common/strbuf.h"

/* Appends root as indented JSON and a newline to out; root stays the caller's (NULL: nothing is
 * appended, as when building it ran out of memory).  -ENOMEM when root is NULL, printing it
 * failed or out failed. */
int pk_json_print(const cJSON *root, struct pk_strbuf *out) __attribute__((warn_unused_result));

#endif
