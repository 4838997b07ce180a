/* bug.c — the report behind PK_BUG_ON() in debug builds. */
#include "common/bug.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef PK_DEBUG
void pk_bug(const char *file, int line, const char *cond)
{
	fprintf(stderr, "parikshan: BUG at %s:%d: %s\n", file, line, cond);
	abort();
}
#endif
