/* invivo-pass.c — an in-vivo test that passes when the live state it sees is sound: it runs
 * in a child of the live process (its parent pid is the process's), the probed function's name
 * is the one flagged, and the process's own /proc/self/status names the same parent. */
#include <stdio.h>
#include <string.h>

#include "parikshan/invivo.h"

__attribute__((visibility("default"))) int pk_invivo_test(const struct pk_invivo_ctx *ctx)
{
	char line[256];
	int ppid = -1;
	FILE *f;

	if (ctx->size < sizeof(*ctx) || !ctx->func || !ctx->func[0])
		return 1;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			break;
	fclose(f);
	pk_invivo_log(ctx, "ppid %d, parent %d", ppid, (int)ctx->parent);
	return ppid == ctx->parent ? 0 : 1;
}
