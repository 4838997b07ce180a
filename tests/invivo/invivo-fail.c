/* invivo-fail.c — an in-vivo test that fails on purpose (the verdicts must say so). */
#include "parikshan/invivo.h"

__attribute__((visibility("default"))) int pk_invivo_test(const struct pk_invivo_ctx *ctx)
{
	pk_invivo_log(ctx, "failing on purpose");
	return 3;
}
