/* maps.c — reading one line of /proc/PID/maps, for every file of the probe module that looks
 * for a mapping (the target's libc, its modules, its libiprobe segment). */
#include <stdio.h>
#include <string.h>

#include "probe/probe_int.h"

bool pk_maps_parse(char *line, struct pk_maps_line *m)
{
	int pos = 0;
	char *nl;

	if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &m->lo, &m->hi, m->perms, &m->off, &pos) <
		    4 ||
	    pos == 0)
		return false;
	m->path = line + pos;
	nl = strchr(m->path, '\n');
	if (nl)
		*nl = '\0';
	return true;
}
