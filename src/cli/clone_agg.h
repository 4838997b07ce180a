/* clone_agg.h — the flags `clone` and `up` share: --agg and --agg-admin (where the clone's
 * backend connections go, and which aggregators get their pairing reset while production is
 * frozen), --mem and --cpus (the limits of the clone's own cgroups), --volumes and
 * --share-volume (what the clone has of production's volumes). */
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

/* Takes --volumes copy|overlay (share false) or --share-volume PATH:ro (share true; arg stays
 * referenced) into o.  Returns 0, or PK_EXIT_USAGE after printing "parikshan: VERB: ...". */
int pk_clone_volume_flag(struct pk_clone_opts *o, bool share, char *arg, const char *verb);

/* The help lines of --volumes and --share-volume, for clone and up. */
#define PK_CLONE_VOLUME_HELP                                                                       \
	"  --volumes copy|overlay  production's writable volumes and bound directories in the\n"   \
	"                     clone: copied (default; again while production is frozen, so a\n"    \
	"                     database's files match its memory), or overlaid on production's\n"   \
	"                     (nothing copied; the clone writes an upper dir of its own, and\n"    \
	"                     production's later writes show through the files it has not\n"       \
	"                     written: not for a database)\n"                                      \
	"  --share-volume PATH:ro  bind production's mount at PATH (in the container or on the\n"  \
	"                     host) read-only instead: for what cannot be copied, e.g. a\n"        \
	"                     writable bound file; never a socket or device (repeatable)\n"

/* The help lines of --mem and --cpus, for clone and up. */
#define PK_CLONE_LIMIT_HELP                                                                        \
	"  --mem SIZE         the clone's memory limit (K/M/G; default: production's)\n"           \
	"  --cpus N           the clone's CPU quota in CPUs, e.g. 0.5 (default: production's)\n"

/* Makes o reset every aggregator of a while production is frozen (nothing when a is empty). */
void pk_clone_agg_hook(struct pk_clone_opts *o, struct pk_clone_agg *a);

/* After the clone: prints one warning line per aggregator whose reset failed. */
void pk_clone_agg_warn(const struct pk_clone_agg *a);

#endif
