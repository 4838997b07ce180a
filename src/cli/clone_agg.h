/* clone_agg.h — the flags `clone` and `up` share: --agg and --agg-admin (where the clone's
 * backend connections go, and which aggregators get their pairing reset while production is
 * frozen), --mem and --cpus (the limits of the clone's own cgroups). */
#ifndef PK_CLI_CLONE_AGG_H
#define PK_CLI_CLONE_AGG_H

#include "clone/clone.h"
#include "common/sock.h"

struct pk_clone_agg {
	struct pk_addr admin[PK_CLONE_MAX_REDIRECTS];
	int nadmin;
	int rc[PK_CLONE_MAX_REDIRECTS]; /* each reset's HTTP status or -errno */
};

/* Takes --agg IP:PORT=DPORT (admin false) into o's redirects, or --agg-admin [ADDR:]PORT
 * (admin true) into a.  Returns 0, or PK_EXIT_USAGE after printing "parikshan: VERB: ...". */
int pk_clone_agg_flag(struct pk_clone_opts *o, struct pk_clone_agg *a, bool admin, const char *arg,
		      const char *verb);

/* Takes --mem SIZE (cpus false) or --cpus N (cpus true), the limits of the clone's own cgroups,
 * into o.  Returns 0, or PK_EXIT_USAGE after printing "parikshan: VERB: ...". */
int pk_clone_limit_flag(struct pk_clone_opts *o, bool cpus, const char *arg, const char *verb);

/* The help lines of --mem and --cpus, for clone and up. */
#define PK_CLONE_LIMIT_HELP                                                                        \
	"  --mem SIZE         the clone's memory limit (K/M/G; default: production's)\n"           \
	"  --cpus N           the clone's CPU quota in CPUs, e.g. 0.5 (default: production's)\n"

/* Makes o reset every aggregator of a while production is frozen (nothing when a is empty). */
void pk_clone_agg_hook(struct pk_clone_opts *o, struct pk_clone_agg *a);

/* After the clone: prints one warning line per aggregator whose reset failed. */
void pk_clone_agg_warn(const struct pk_clone_agg *a);

#endif
