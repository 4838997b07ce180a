/* clone_agg.h — the --agg and --agg-admin flags of `clone` and `up`: where the clone's backend
 * connections go, and which aggregators get their pairing reset while production is frozen. */
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

/* Makes o reset every aggregator of a while production is frozen (nothing when a is empty). */
void pk_clone_agg_hook(struct pk_clone_opts *o, struct pk_clone_agg *a);

/* After the clone: prints one warning line per aggregator whose reset failed. */
void pk_clone_agg_warn(const struct pk_clone_agg *a);

#endif
