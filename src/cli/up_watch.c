/* up_watch.c — `up --auto-reclone`'s supervisor (see up_watch.h).
 *
 * One loop: wait (ppoll) on a pidfd per clone's init process and one on the duplicator, at most
 * WATCH_POLL_MS; then read the duplicator's status document and, per clone, decide
 * (pk_up_watch_decide(), no I/O):
 *   died      its init process ended (its pidfd became readable)
 *   overflow  its target's overflows counter rose above what was seen after its last clone
 * Either makes it due; a due clone is re-cloned once min_interval passed since its last clone
 * (the one `up` made counts), else the wait is logged once.  After a re-clone, overflows within
 * WATCH_SETTLE_MS (at most min_interval) are taken as the old clone's (connections that were still
 * open toward the removed clone while it was made again) and absorbed, not acted on.  A clone whose
 * re-clone failed is tried again after min_interval.  Desyncs without an overflow are not a cause:
 * re-cloning itself ends connections toward the old clone, which the duplicator counts as desyncs.
 */
#include "cli/up_watch.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/http.h"
#include "common/log.h"
#include "common/proc.h"
#include "proxy/proxy.h"

#define WATCH_POLL_MS 200
#define WATCH_HTTP_MS 1000
#define WATCH_SETTLE_MS 5000 /* at most; never longer than min_interval */

static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

void pk_up_watch_track_init(struct pk_up_watch_track *t, uint64_t now_ms, double overflows)
{
	memset(t, 0, sizeof(*t));
	t->last_ms = now_ms;
	t->base_overflows = overflows > 0 ? overflows : 0;
}

enum pk_up_watch_verdict pk_up_watch_decide(struct pk_up_watch_track *t, double overflows,
					    uint64_t now_ms, uint64_t min_interval_ms, bool *rose)
{
	*rose = false;
	if (overflows >= 0 && (now_ms < t->settle_ms || overflows < t->base_overflows))
		t->base_overflows = overflows; /* the old clone's, or a restarted counter */
	if (!t->why && t->dead)
		t->why = "died";
	if (!t->why && overflows > t->base_overflows) {
		t->why = "overflow";
		*rose = true;
	}
	if (!t->why)
		return PK_UP_WATCH_FINE;
	if (now_ms < t->last_ms + min_interval_ms)
		return PK_UP_WATCH_WAIT;
	return PK_UP_WATCH_RECLONE;
}

void pk_up_watch_tried(struct pk_up_watch_track *t, bool ok, uint64_t now_ms,
		       uint64_t min_interval_ms, double overflows)
{
	t->last_ms = now_ms;
	t->waiting = false;
	if (!ok)
		return;
	t->dead = false;
	t->why = NULL;
	t->reclones++;
	t->settle_ms =
		now_ms + (min_interval_ms < WATCH_SETTLE_MS ? min_interval_ms : WATCH_SETTLE_MS);
	if (overflows >= 0)
		t->base_overflows = overflows;
}

/* What the loop knows of one clone. */
struct watched {
	int pidfd; /* its init process, or -1 once it ended (or could not be opened) */
	struct pk_up_watch_track t;
};

/* Opens a pidfd on a clone's init process (its pid as the state says); -1 when it is gone. */
static int open_init(const struct pk_container_info *info)
{
	uint64_t start;
	int fd;

	if (info->pid <= 0 || pk_proc_start_time(info->pid, &start) < 0)
		return -1;
	fd = pk_proc_open_checked(info->pid, start);
	return fd < 0 ? -1 : fd;
}

/* The index of target MGMT:PORT in st, or -1. */
static int target_index(const struct pk_up_watch *w, const struct pk_proxy_status *st,
			const char *mgmt)
{
	char name[PK_ADDR_STRLEN];

	snprintf(name, sizeof(name), "%s:%u", mgmt, w->port);
	for (int k = 0; k < st->ntargets; k++)
		if (strcmp(st->targets[k].name, name) == 0)
			return k;
	return -1;
}

/* Reads the duplicator's status document into st; 0 or -errno. */
static int read_status(const struct pk_up_watch *w, struct pk_proxy_status *st)
{
	struct pk_strbuf body = { 0 };
	int rc = pk_http_get(&w->admin, "/status.json", WATCH_HTTP_MS, &body);

	if (rc == 200)
		rc = pk_proxy_status_parse(pk_strbuf_str(&body), st);
	else if (rc > 0)
		rc = -EPROTO;
	pk_strbuf_release(&body);
	return rc;
}

/* The target's overflows counter, or -1 when the status does not name it. */
static double overflows_of(const struct pk_up_watch *w, const struct pk_proxy_status *st, int i)
{
	int k = st ? target_index(w, st, w->clones[i].info.mgmt) : -1;

	return k < 0 ? -1 : st->targets[k].v[PK_TM_OVERFLOWS];
}

/* Re-clones clone i (c->t.why: the cause, for the log), tells the duplicator, and records the
 * attempt in c. */
static void reclone(struct pk_up_watch *w, struct watched *c, int i, struct pk_proxy_status *st)
{
	struct pk_up_watch_clone *wc = &w->clones[i];
	struct pk_container_info info;
	struct pk_clone_report rep;
	struct pk_strbuf body = { 0 };
	char err[PK_ERR_MAX], path[64], old_mgmt[sizeof(wc->info.mgmt)];
	uint64_t t0 = pk_now_ms();
	double over = -1;
	int rc, k;

	snprintf(old_mgmt, sizeof(old_mgmt), "%s", wc->info.mgmt);
	pk_log(PK_LOG_WARN, "up: reclone clone=%s reason=%s from=%s", wc->name, c->t.why, w->prod);
	memset(&rep, 0, sizeof(rep));
	err[0] = '\0';
	rc = w->reclone(w->arg, wc->name, &info, &rep, err, sizeof(err));
	if (rc) {
		pk_up_watch_tried(&c->t, false, pk_now_ms(), w->min_interval_ms, -1);
		pk_log(PK_LOG_ERROR,
		       "up: reclone clone=%s failed: %s (next try in %.1f s at the earliest)",
		       wc->name, err[0] ? err : strerror(-rc), (double)w->min_interval_ms / 1e3);
		return; /* still due: tried again after min_interval */
	}
	if (c->pidfd >= 0)
		close(c->pidfd);
	wc->info = info;
	c->pidfd = open_init(&info);
	/* the duplicator's target index, by the address it sends to */
	k = read_status(w, st) == 0 ? target_index(w, st, old_mgmt) : -1;
	if (k >= 0)
		over = st->targets[k].v[PK_TM_OVERFLOWS];
	pk_up_watch_tried(&c->t, true, pk_now_ms(), w->min_interval_ms, over);
	c->t.dead = c->pidfd < 0;
	pk_log(PK_LOG_WARN,
	       "up: reclone clone=%s done count=%u ms=%llu frozen_ms=%.1f mgmt=%s pid=%d", wc->name,
	       c->t.reclones, (unsigned long long)(c->t.last_ms - t0),
	       rep.frozen_ms + rep.freezing_ms, info.mgmt, info.pid);
	if (strcmp(old_mgmt, info.mgmt) != 0)
		pk_log(PK_LOG_ERROR,
		       "up: reclone clone=%s got address %s, the duplicator sends to %s: it gets "
		       "no traffic (parikshan down, then up again)",
		       wc->name, info.mgmt, old_mgmt);
	if (k < 0) {
		pk_log(PK_LOG_WARN, "up: reclone clone=%s: the duplicator has no target %s:%u",
		       wc->name, old_mgmt, w->port);
		return;
	}
	snprintf(path, sizeof(path), "/targets/%d/recloned", k);
	rc = pk_http_request(&w->admin, "POST", path, WATCH_HTTP_MS, &body);
	pk_strbuf_release(&body);
	if (rc != 200)
		pk_log(PK_LOG_WARN, "up: reclone clone=%s not counted by the duplicator: %s",
		       wc->name, rc < 0 ? strerror(-rc) : "refused");
}

/* Looks at clone i with the status st (st_ok: read now) and re-clones it when due. */
static void check_clone(struct pk_up_watch *w, struct watched *c, int i, struct pk_proxy_status *st,
			bool st_ok)
{
	double over = overflows_of(w, st_ok ? st : NULL, i), base = c->t.base_overflows;
	uint64_t now = pk_now_ms();
	bool rose;
	enum pk_up_watch_verdict v =
		pk_up_watch_decide(&c->t, over, now, w->min_interval_ms, &rose);

	if (rose)
		pk_log(PK_LOG_WARN, "up: clone=%s overflowed (overflows %.0f, was %.0f)",
		       w->clones[i].name, over, base);
	if (v == PK_UP_WATCH_RECLONE) {
		reclone(w, c, i, st);
	} else if (v == PK_UP_WATCH_WAIT && !c->t.waiting) {
		pk_log(PK_LOG_WARN,
		       "up: reclone clone=%s reason=%s waits %.1f s (--reclone-min-interval)",
		       w->clones[i].name, c->t.why,
		       (double)(c->t.last_ms + w->min_interval_ms - now) / 1e3);
		c->t.waiting = true;
	}
}

int pk_up_watch_run(struct pk_up_watch *w)
{
	struct watched c[PK_UP_WATCH_MAX_CLONES];
	struct pollfd pfd[PK_UP_WATCH_MAX_CLONES + 1];
	struct pk_proxy_status *st = malloc(sizeof(*st));
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	sigset_t block, orig;
	uint64_t start = pk_now_ms();
	int dupfd;
	bool st_ok;

	if (!st)
		return -ENOMEM;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	dupfd = pk_proc_open_checked(w->dup_pid, w->dup_start);
	if (dupfd < 0) {
		pk_log(PK_LOG_ERROR, "up: watch: the duplicator (pid %d) is gone: not watching",
		       (int)w->dup_pid);
		free(st);
		return 0;
	}
	st_ok = read_status(w, st) == 0;
	for (int i = 0; i < w->nclones; i++) {
		pk_up_watch_track_init(&c[i].t, start, st_ok ? overflows_of(w, st, i) : -1);
		c[i].pidfd = open_init(&w->clones[i].info);
		c[i].t.dead = c[i].pidfd < 0;
	}
	pk_log(PK_LOG_INFO,
	       "up: watch prod=%s clones=%d min_interval_s=%.1f (re-clones a clone that died or "
	       "overflowed)",
	       w->prod, w->nclones, (double)w->min_interval_ms / 1e3);
	while (!watch_stop) {
		struct timespec ts = { 0, WATCH_POLL_MS * 1000000L };
		int n = 0;

		pfd[n++] = (struct pollfd){ .fd = dupfd, .events = POLLIN };
		for (int i = 0; i < w->nclones; i++)
			pfd[n++] = (struct pollfd){ .fd = c[i].pidfd, .events = POLLIN };
		/* the signals are let in only while waiting: none is lost between check and wait */
		sigprocmask(SIG_BLOCK, &block, &orig);
		if (!watch_stop)
			n = ppoll(pfd, (nfds_t)n, &ts, &orig);
		sigprocmask(SIG_SETMASK, &orig, NULL);
		if (watch_stop)
			break;
		if (n > 0 && pfd[0].revents) {
			pk_log(PK_LOG_WARN,
			       "up: watch: the duplicator ended: not watching any more");
			break;
		}
		for (int i = 0; n > 0 && i < w->nclones; i++) {
			if (c[i].pidfd >= 0 && pfd[i + 1].revents) {
				close(c[i].pidfd);
				c[i].pidfd = -1;
				c[i].t.dead = true;
			}
		}
		st_ok = read_status(w, st) == 0;
		for (int i = 0; i < w->nclones && !watch_stop; i++)
			check_clone(w, &c[i], i, st, st_ok);
	}
	for (int i = 0; i < w->nclones; i++)
		if (c[i].pidfd >= 0)
			close(c[i].pidfd);
	close(dupfd);
	free(st);
	pk_log(PK_LOG_INFO, "up: watch prod=%s ends", w->prod);
	return 0;
}
