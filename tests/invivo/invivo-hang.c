/* invivo-hang.c — an in-vivo test that never returns (the deadline must kill it). */
#include <unistd.h>

#include "parikshan/invivo.h"

__attribute__((visibility("default"))) int pk_invivo_test(const struct pk_invivo_ctx *ctx)
{
	pk_invivo_log(ctx, "hanging");
	for (;;)
		pause();
	return 0;
}
