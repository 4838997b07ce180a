/* up_watch.h — the supervisor `up --auto-reclone` leaves running: it watches the clones `up`
 * made and the duplicator in front of them, and re-clones a clone from production when it died
 * or its buffers overflowed (it fell out of sync), at most once per --reclone-min-interval per
 * clone.  Each re-clone is one log line and is told to the duplicator (POST
 * /targets/N/recloned: parikshan_debug_reclones_total, RECLONES in `status`).
 *
 * How a clone is made is the caller's (cmd_up.c: the same options as `up`'s own clones); this
 * file only decides when.  It prints nothing but its log lines (pk_log, to stderr: `up` points
 * that at STATE/PROD/up.log).
 */
#ifndef PK_CLI_UP_WATCH_H
#define PK_CLI_UP_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "clone/clone.h"
#include "common/sock.h"

#define PK_UP_WATCH_MAX_CLONES 8

struct pk_up_watch {
	const char *state_dir, *prod;
	struct pk_addr admin;	  /* the duplicator's admin endpoint */
	pid_t dup_pid;		  /* the duplicator, and its start time (pk_proc_start_time): */
	uint64_t dup_start;	  /* the watch ends when it does */
	uint16_t port;		  /* the service port: the duplicator's targets are MGMT:PORT */
	uint64_t min_interval_ms; /* at most one clone per clone per this (up's own counts) */
	int nclones;
	struct pk_up_watch_clone {
		char name[48];
		struct pk_container_info info; /* as made: its mgmt address, its init pid */
	} clones[PK_UP_WATCH_MAX_CLONES];
	/* Makes clone name again from production (replacing it), fills info and rep; returns 0 or
	 * -errno with a reason in err. */
	int (*reclone)(void *arg, const char *name, struct pk_container_info *info,
		       struct pk_clone_report *rep, char *err, size_t errlen);
	void *arg;
};

/* What the supervisor knows of one clone between looks, and its decisions
 * (pk_up_watch_decide(), apart from any I/O so that they can be tested). */
struct pk_up_watch_track {
	bool dead;	       /* its init process ended */
	bool waiting;	       /* due, waiting for min_interval (logged once) */
	const char *why;       /* why it is due ("died", "overflow"; static), or NULL */
	uint64_t last_ms;      /* when it was last made (or tried) */
	uint64_t settle_ms;    /* overflows until then are the old clone's: absorbed */
	double base_overflows; /* its target's overflows when last seen as fine */
	unsigned reclones;     /* re-clones made */
};

enum pk_up_watch_verdict {
	PK_UP_WATCH_FINE,    /* nothing to do */
	PK_UP_WATCH_WAIT,    /* due, but min_interval has not passed since its last clone */
	PK_UP_WATCH_RECLONE, /* re-clone it now */
};

/* Starts t for a clone made at now_ms whose target had overflows (-1: unknown). */
void pk_up_watch_track_init(struct pk_up_watch_track *t, uint64_t now_ms, double overflows);

/* Decides for a clone at now_ms: overflows is its target's counter now (-1: unknown, then only
 * t->dead counts).  A rise above t->base_overflows makes it due ("overflow"; *rose is set
 * true the first time), as t->dead does ("died"); a due clone waits until min_interval_ms
 * passed since t->last_ms.  Rises before t->settle_ms, and a counter that went down (a
 * restarted duplicator), only move the base. */
enum pk_up_watch_verdict pk_up_watch_decide(struct pk_up_watch_track *t, double overflows,
					    uint64_t now_ms, uint64_t min_interval_ms, bool *rose);

/* Records a re-clone tried at now_ms: ok (then its target's overflows, -1 unknown) or not (it
 * stays due, tried again after min_interval_ms). */
void pk_up_watch_tried(struct pk_up_watch_track *t, bool ok, uint64_t now_ms,
		       uint64_t min_interval_ms, double overflows);

/* Watches w's clones until SIGTERM or SIGINT, or until the duplicator ended; re-clones as the
 * top of this file says.  Installs its own handlers for those two signals.  Returns 0, or
 * -errno when it could not start (no memory). */
int pk_up_watch_run(struct pk_up_watch *w);

#endif
