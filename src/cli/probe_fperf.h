/* probe_fperf.h — `parikshan probe fperf`: per-function performance counters of a live
 * process, counted for a while and shown as a table or JSON. */
#ifndef PK_CLI_PROBE_FPERF_H
#define PK_CLI_PROBE_FPERF_H

#include <stdbool.h>

#include "probe/perf.h"
#include "probe/probe.h"

struct pk_fperf_opts {
	struct pk_perf_event ev[PK_PERF_MAX]; /* the counters asked for (--events) */
	int nev;			      /* 0: the default list (or its fallback) */
	uint64_t duration_ns;		      /* 0: until SIGINT or SIGTERM */
	bool json;
	const char *out; /* -o FILE, or NULL: stdout */
};

/* Counts o's counters at the entries and exits of the functions of the attached target t
 * matching globs[0..nglobs) for o's duration, then switches their probes off again and
 * prints the table.  Prints its own errors; returns the exit status. */
int pk_cli_probe_fperf(struct pk_probe_target *t, const struct pk_fperf_opts *o,
		       const char *const *globs, size_t nglobs);

#endif
