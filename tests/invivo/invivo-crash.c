/* invivo-crash.c — an in-vivo test that crashes (SIGSEGV): counted crashed, the live process
 * untouched. */
#include <stddef.h>

#include "parikshan/invivo.h"

static int *volatile nowhere = NULL;

__attribute__((visibility("default"))) int pk_invivo_test(const struct pk_invivo_ctx *ctx)
{
	pk_invivo_log(ctx, "crashing");
	return *nowhere;
}
