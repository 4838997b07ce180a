/* adapt.c — the decision of dup's adaptive sampling (see adapt.h); the proxy calls it on its
 * gauge timer (target.c) and hands a change to the caller's callback, which writes the rate
 * where the clone's probes read it (the CLI: libiprobe's segment of that process). */
#include "proxy/adapt.h"

int pk_adapt_step(struct pk_adapt *a, double fill, double high, double low)
{
	if (fill >= high && a->log2 < PK_ADAPT_MAX_LOG2) {
		a->log2++;
		a->steps++;
		return 1;
	}
	if (fill < low && a->log2 > 0) {
		a->log2--;
		a->steps++;
		return -1;
	}
	return 0;
}
