/* json.c — cJSON trees to text (see json.h). */
#include "common/json.h"

#include <errno.h>

int pk_json_print(const cJSON *root, struct pk_strbuf *out)
{
	char *text = root ? cJSON_Print(root) : NULL;

	if (!text)
		return -ENOMEM;
	pk_strbuf_printf(out, "%s\n", text);
	cJSON_free(text);
	return pk_strbuf_ok(out) ? 0 : -ENOMEM;
}
