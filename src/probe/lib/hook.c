/* hook.c — libiprobe's slow path: what a probe does besides recording its event, chosen by
 * its registry flags (PK_IPROBE_F_HOOKS).  Each capability lives in its own file; this only
 * dispatches.
 */
#include "probe/lib/lib_int.h"

#pragma GCC target("general-regs-only")

void pk_lib_hook(uint32_t probe, uint32_t flags)
{
	if (flags & PK_IPROBE_F_FPERF)
		pk_lib_fperf_hit(probe);
	if ((flags & PK_IPROBE_F_INVIVO) && !(probe & PK_IPROBE_EXIT))
		pk_lib_invivo_hit(probe);
}
