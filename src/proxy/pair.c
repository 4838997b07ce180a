/* pair.c — the aggregator's pairing: which production backend connection a clone connection
 * replays.
 *
 *   production conn ──► session ──► dconn (buffers the backend's bytes) ─┐
 *                                                                        ├─ paired: the dconn
 *   clone conn ──► pending clone (its first bytes kept, up to 4K) ───────┘  takes its socket
 *
 * A production connection enters the pairing only once a byte passed on it, either way: a port
 * probe or a health check that connects and closes with nothing sent is never paired (it would
 * shift every later pair by one).  It then waits on `prods`, oldest first, with the hash of its
 * first request (the first bytes production's service sent, as one read) — or marked
 * "server first" when the backend spoke first (a greeting: nothing to match).
 *
 * A clone connection waits on `clones` until it can be paired:
 *   - by content: its first request (first read) is byte-identical to the first request of a
 *     waiting production connection (length and XXH3 hash): the oldest such one;
 *   - by order, when none is identical: the oldest waiting production connection.  A clone
 *     that has sent nothing is paired only with a server-first connection (which it waits to
 *     hear from).
 * The same rules apply, from the other side, when a production connection registers while
 * clone connections wait.  Each pairing is counted by rule (parikshan_debug_paired_total) and
 * logged at debug level.
 *
 * A production connection whose dconn desynced before its clone came stays as a tombstone, so
 * that its clone connection is closed at once (as dup closes a clone out of sync) instead of
 * taking another's answers; an ended production connection (or tombstone) that found no clone
 * within pair_timeout is dropped (counted as unpaired).  Ordering needs a single accept loop:
 * the aggregator runs one worker.
 */
#include "proxy/proxy_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/clock.h"
#include "common/log.h"

#define PAIR_SCAN_NS (200 * 1000000ull)
#define PAIR_EARLY_MAX 4096 /* a clone's bytes kept until it is paired; its first request */
#define PAIR_REST_WAIT_NS (50 * 1000000ull) /* how long a partial request may wait to match */

/* A production connection that carried bytes and waits for its clone connection. */
struct pair_prod {
	struct pk_list link; /* on pairing.prods */
	struct dconn *d;     /* NULL: it desynced before its clone came (a tombstone) */
	uint64_t num;	     /* registration number, for log lines */
	bool server_first;   /* the backend spoke first: no request to match */
	uint32_t first_len;  /* its first request: length and hash */
	uint64_t first_hash;
	uint64_t gone_ns; /* tombstone: when it desynced */
};

/* A clone connection waiting for its production connection. */
struct pair_clone {
	struct pk_list link; /* on pairing.clones, then pairing.dead_clones */
	struct pk_worker *w;
	struct pk_io io;
	struct pk_timer wait; /* a short wait for the rest of a request that may match */
	bool waited;	      /* that wait is over: pair by order if nothing matches */
	uint64_t num;
	unsigned charge; /* its socket's fd, charged to the capacity until it is closed or paired */
	size_t len;	 /* bytes in early: its first request and what followed */
	char early[PAIR_EARLY_MAX];
};

const char *pk_pair_rule_name(enum pk_pair_rule rule)
{
	static const char *const names[PK_PAIR_RULES] = { "content", "order" };

	return names[rule];
}

/* Closes c's socket (unless pair() handed it to a dconn, whose session charged it) and queues
 * c for freeing. */
static void clone_free_later(struct pair_clone *c)
{
	pk_io_close(c->w->loop, &c->io);
	if (c->charge)
		pk_cap_release(c->w->p, c->charge);
	c->charge = 0;
	pk_timer_cancel(c->w->loop, &c->wait);
	pk_list_del(&c->link);
	pk_list_add_tail(&c->w->pair.dead_clones, &c->link);
}

/* Takes p off the waiting list and frees it; its dconn (if any) is no longer waiting. */
static struct dconn *prod_take(struct pair_prod *p)
{
	struct dconn *d = p->d;

	pk_list_del(&p->link);
	if (d)
		d->pair_slot = NULL;
	free(p);
	return d;
}

/* Pairs p with c: the dconn takes c's socket and the bytes c sent so far. */
static void pair(struct pk_worker *w, struct pair_prod *p, struct pair_clone *c,
		 enum pk_pair_rule rule)
{
	uint64_t pnum = p->num;
	struct dconn *d = prod_take(p);
	int fd = pk_io_del(w->loop, &c->io); /* c is freed later: its early bytes stay */

	clone_free_later(c);
	if (!d) {
		pk_log(PK_LOG_WARN,
		       "%s: clone connection #%llu: its production connection #%llu is already "
		       "out of sync; closing it",
		       w->cfg->role, (unsigned long long)c->num, (unsigned long long)pnum);
		PK_STAT_ADD(w->targets[0].desyncs, 1);
		close(fd);
		return;
	}
	PK_STAT_ADD(w->targets[0].paired[rule], 1);
	pk_log(PK_LOG_DEBUG,
	       "%s: conn=%llu paired: production connection #%llu, clone connection #%llu, by %s",
	       w->cfg->role, (unsigned long long)d->id, (unsigned long long)pnum,
	       (unsigned long long)c->num, pk_pair_rule_name(rule));
	pk_dconn_attach_fd(d, fd, c->early, c->len);
}

/* Applies a pairing reset asked for since the last event: production connections still
 * waiting for their clone connection are dropped (unpaired), waiting clone connections are
 * closed.  Connections already paired go on. */
static void check_reset(struct pk_worker *w)
{
	uint64_t epoch = __atomic_load_n(&w->p->pair_epoch, __ATOMIC_ACQUIRE);
	struct pk_list *pos, *tmp;

	if (epoch == w->pair.epoch)
		return;
	w->pair.epoch = epoch;
	pk_list_for_each_safe(pos, tmp, &w->pair.prods)
	{
		struct dconn *d = prod_take(pk_container_of(pos, struct pair_prod, link));

		if (d) { /* a production connection nobody will take now */
			PK_STAT_ADD(w->targets[0].unpaired, 1);
			pk_dconn_drop(d);
		}
	}
	pk_list_for_each_safe(pos, tmp, &w->pair.clones)
		clone_free_later(pk_container_of(pos, struct pair_clone, link));
	w->pair.nprod = w->pair.nclone = 0;
}

/* Tells whether the bytes clone c sent so far begin with production connection p's first
 * request. */
static bool starts_with_first(const struct pair_prod *p, const struct pair_clone *c)
{
	return !p->server_first && c->len >= p->first_len &&
	       XXH3_64bits(c->early, p->first_len) == p->first_hash;
}

static struct pair_prod *oldest_prod(struct pk_worker *w)
{
	if (pk_list_empty(&w->pair.prods))
		return NULL;
	return pk_container_of(w->pair.prods.next, struct pair_prod, link);
}

/* Pairs clone connection c if it can: with the waiting production connection whose first
 * request c's bytes begin with (the longest such request, then the oldest), else — once c's
 * request cannot grow into one that matches — with the oldest waiting production connection.
 * A clone connection that sent nothing yet is paired only with a server-first connection. */
static void match_clone(struct pk_worker *w, struct pair_clone *c)
{
	struct pk_list *pos, *tmp;
	struct pair_prod *best = NULL, *oldest = oldest_prod(w);
	bool longer = false; /* some request c's bytes might still grow into */

	if (!oldest)
		return;
	if (c->len == 0) {
		if (oldest->server_first)
			pair(w, oldest, c, PK_PAIR_ORDER);
		return;
	}
	pk_list_for_each_safe(pos, tmp, &w->pair.prods)
	{
		struct pair_prod *p = pk_container_of(pos, struct pair_prod, link);

		if (!p->server_first && p->first_len > c->len)
			longer = true;
		else if ((!best || p->first_len > best->first_len) && starts_with_first(p, c))
			best = p;
	}
	if (best) {
		pair(w, best, c, PK_PAIR_CONTENT);
		return;
	}
	if (longer && !c->waited && c->len < sizeof(c->early)) {
		/* The rest of a request that matches may be on its way: wait a little for it. */
		if (pk_timer_is_armed(&c->wait) ||
		    pk_timer_arm(w->loop, &c->wait, PAIR_REST_WAIT_NS) == 0)
			return;
	}
	pair(w, oldest, c, PK_PAIR_ORDER);
}

/* The wait for the rest of c's request is over. */
static void clone_wait_over(struct pk_loop *loop, struct pk_timer *t)
{
	struct pair_clone *c = t->data;

	c->waited = true;
	check_reset(c->w);
	if (c->io.fd >= 0)
		match_clone(c->w, c);
}

/* A production connection registered: pairs it with a waiting clone connection if it can (the
 * oldest whose bytes begin with p's first request; else the oldest that sent something and is
 * not waiting for the rest of its request; any, when the backend speaks first). */
static void match_prod(struct pk_worker *w, struct pair_prod *p)
{
	struct pk_list *pos, *tmp;
	struct pair_clone *oldest = NULL;

	pk_list_for_each_safe(pos, tmp, &w->pair.clones)
	{
		struct pair_clone *c = pk_container_of(pos, struct pair_clone, link);

		if (starts_with_first(p, c)) {
			pair(w, p, c, PK_PAIR_CONTENT);
			return;
		}
		if (!oldest && (p->server_first || (c->len && !pk_timer_is_armed(&c->wait))))
			oldest = c;
	}
	if (oldest)
		pair(w, p, oldest, PK_PAIR_ORDER);
}

struct dconn *pk_pair_open(struct pk_worker *w, struct session *s)
{
	check_reset(w);
	return pk_dconn_new(w, s, 0, PK_DCONN_ACCEPTED); /* enters the pairing at its first byte */
}

void pk_pair_first_bytes(struct pk_worker *w, struct dconn *d, bool from_client, const char *buf,
			 size_t n)
{
	struct pair_prod *p;

	check_reset(w);
	p = calloc(1, sizeof(*p));
	if (!p) {
		pk_log(PK_LOG_WARN, "%s: conn=%llu: out of memory for its pairing; dropping it",
		       w->cfg->role, (unsigned long long)d->id);
		PK_STAT_ADD(w->targets[0].unpaired, 1);
		pk_dconn_drop(d);
		return;
	}
	p->d = d;
	p->num = ++w->pair.nprod;
	if (from_client) {
		p->first_len = (uint32_t)(n < PAIR_EARLY_MAX ? n : PAIR_EARLY_MAX);
		p->first_hash = XXH3_64bits(buf, p->first_len);
	} else {
		p->server_first = true;
	}
	d->pair_slot = p;
	pk_list_add_tail(&w->pair.prods, &p->link);
	match_prod(w, p);
}

void pk_pair_dconn_gone(struct dconn *d)
{
	struct pair_prod *p = d->pair_slot;

	if (!p)
		return;
	d->pair_slot = NULL;
	p->d = NULL;
	p->gone_ns = pk_now_ns();
}

/* Reads what a waiting clone connection sends (kept for its pair) and tries to pair it. */
static void clone_event(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pair_clone *c = io->data;
	struct pk_worker *w = c->w;
	ssize_t n = read(io->fd, c->early + c->len, sizeof(c->early) - c->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == 0 && c->len) { /* half-closed after its request: still waits */
			pk_io_park(loop, io);
			return;
		}
		pk_log(PK_LOG_DEBUG, "%s: clone connection #%llu closed before it was paired",
		       w->cfg->role, (unsigned long long)c->num);
		clone_free_later(c);
		return;
	}
	c->len += (size_t)n;
	if (c->len == sizeof(c->early)) /* the rest waits in the socket until it is paired */
		pk_io_park(loop, io);
	check_reset(w);
	if (c->io.fd >= 0) /* not closed by a reset */
		match_clone(w, c);
}

/* A clone connection arrived on the debug side. */
static void clone_arrived(struct pk_worker *w, int fd)
{
	struct pair_clone *c;

	check_reset(w);
	c = calloc(1, sizeof(*c));
	if (!c) {
		pk_log(PK_LOG_WARN, "%s: out of memory for a clone connection; closing it",
		       w->cfg->role);
		close(fd);
		return;
	}
	c->w = w;
	c->num = ++w->pair.nclone;
	c->charge = 1; /* accepted whatever the capacity: its clone's side is not held back */
	pk_cap_charge(w->p, c->charge);
	pk_io_init(&c->io, fd, clone_event, c);
	pk_timer_init(&c->wait, clone_wait_over, c);
	pk_list_add_tail(&w->pair.clones, &c->link);
	if (pk_io_add(w->loop, &c->io, PK_READ) < 0) {
		pk_log(PK_LOG_WARN, "%s: clone connection #%llu: epoll: %s; closing it",
		       w->cfg->role, (unsigned long long)c->num, strerror(errno));
		clone_free_later(c);
		return;
	}
	match_clone(w, c);
}

static void on_debug_accept(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct pk_worker *w = io->data;

	for (int i = 0; i < 64; i++) {
		int fd = pk_sock_accept(io->fd, NULL);

		if (fd < 0) {
			if (fd != -EAGAIN && fd != -EINTR && fd != -ECONNABORTED)
				pk_log(PK_LOG_WARN, "%s: debug side accept: %s", w->cfg->role,
				       strerror(-fd));
			return;
		}
		clone_arrived(w, fd);
	}
}

/* Drops production connections that ended and waited for their clone longer than allowed, and
 * tombstones as old. */
static void pair_scan(struct pk_loop *loop, struct pk_timer *t)
{
	struct pk_worker *w = t->data;
	uint64_t now = pk_now_ns(), limit = w->cfg->pair_timeout_ns;
	struct pk_list *pos, *tmp;

	pk_list_for_each_safe(pos, tmp, &w->pair.prods)
	{
		struct pair_prod *p = pk_container_of(pos, struct pair_prod, link);
		struct dconn *d = p->d;

		if (!d) {
			if (now - p->gone_ns > limit)
				prod_take(p);
			continue;
		}
		if (d->s || !d->ended_ns || now - d->ended_ns <= limit)
			continue;
		pk_log(PK_LOG_INFO,
		       "%s: conn=%llu: no clone connection for production connection #%llu within "
		       "the pair timeout; dropping its responses",
		       w->cfg->role, (unsigned long long)d->id, (unsigned long long)p->num);
		PK_STAT_ADD(w->targets[0].unpaired, 1);
		pk_dconn_drop(prod_take(p));
	}
	if (pk_timer_arm(loop, t, PAIR_SCAN_NS) < 0)
		pk_log(PK_LOG_ERROR,
		       "%s: pairing timer: out of memory; finished production "
		       "connections no longer expire",
		       w->cfg->role);
}

int pk_pair_init(struct pk_worker *w)
{
	int err;

	pk_list_init(&w->pair.prods);
	pk_list_init(&w->pair.clones);
	pk_list_init(&w->pair.dead_clones);
	pk_timer_init(&w->pair.timer, pair_scan, w);
	pk_io_init(&w->dlio, w->dlio.fd, on_debug_accept, w);
	w->pair.on = true;
	err = pk_io_add(w->loop, &w->dlio, PK_READ);
	if (err)
		return err;
	return pk_timer_arm(w->loop, &w->pair.timer, PAIR_SCAN_NS);
}

void pk_pair_reap(struct pk_worker *w)
{
	struct pk_list *pos, *tmp;

	if (!w->pair.on)
		return;
	pk_list_for_each_safe(pos, tmp, &w->pair.dead_clones)
	{
		pk_list_del(pos);
		free(pk_container_of(pos, struct pair_clone, link));
	}
}

void pk_pair_release(struct pk_worker *w)
{
	struct pk_list *pos, *tmp;

	pk_io_close(w->loop, &w->dlio);
	if (!w->pair.on)
		return;
	pk_timer_cancel(w->loop, &w->pair.timer);
	pk_list_for_each_safe(pos, tmp, &w->pair.prods)
	{
		struct dconn *d = prod_take(pk_container_of(pos, struct pair_prod, link));

		if (d)
			pk_dconn_close(d);
	}
	pk_list_for_each_safe(pos, tmp, &w->pair.clones)
		clone_free_later(pk_container_of(pos, struct pair_clone, link));
	pk_pair_reap(w);
	w->pair.on = false;
}
