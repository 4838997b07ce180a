/* pk-trace-bench — the analyzer's bench hook: builds the synthetic chain of
 * tests/unit/trace_synth.h with about N records (default 1000000) and times pk_trace_analyze
 * on it.  Prints one line: records, paths, complete, seconds.
 *
 *   pk-trace-bench [N] [CONC]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../unit/trace_synth.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	long conc = argc > 2 ? strtol(argv[2], NULL, 10) : 16;
	/* 13 records per request, 2 connections opened per upstream slot */
	struct synth_opts o = { .n = (int)(n / 13 > 0 ? n / 13 : 1), .conc = (int)conc };
	struct pk_trace_paths *p = NULL;
	struct synth s;
	char err[256] = "";
	double t0;
	int rc;

	if (n <= 0 || conc <= 0 || conc > 4096) {
		fprintf(stderr, "usage: pk-trace-bench [N] [CONC]\n");
		return 2;
	}
	if (!synth_chain(&s, &o)) {
		fprintf(stderr, "pk-trace-bench: out of memory\n");
		return 1;
	}
	t0 = now();
	rc = pk_trace_analyze(s.procs, s.nprocs, s.ev, s.nev, &p, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "pk-trace-bench: %s\n", err);
		free(s.ev);
		return 1;
	}
	printf("records %zu  paths %zu  complete %zu  analyze %.3f s\n", s.nev, p->npaths,
	       p->ncomplete, now() - t0);
	pk_trace_paths_free(p);
	free(s.ev);
	return 0;
}
