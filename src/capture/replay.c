/* replay.c — recorded clients against a live target, on one epoll loop (see replay.h).
 *
 * A connection goes PENDING → CONNECTING → SENDING → DRAINING → DONE, and never back.  One
 * timer per connection serves the state it is in: the next recorded send time (timed mode),
 * the stall limit (fast mode), the quiet or stall limit while draining.  Connections are never
 * freed during the loop (the array lives until pk_replay_run returns); a finished one only
 * closes its socket, so events still queued for it are skipped by the loop.
 */
#include "capture/replay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/loop.h"

#define READ_BATCH 16	       /* reads per readiness event, so one connection can't hog the loop */
#define CMP_LIMIT (256u << 10) /* held by a comparison: at most one read's worth in practice */
#define FAR_NS (1ull << 62)    /* "never" for schedules that overflow */

enum rstate { R_PENDING, R_CONNECTING, R_SENDING, R_DRAINING, R_DONE };

struct replay;

struct rconn {
	struct replay *rp;
	const struct pk_pcap_conn *pc;
	struct pk_replay_conn *res;
	struct pk_io io;
	struct pk_timer timer;
	enum rstate state;
	size_t step;	     /* next chunk (nchunks: the FIN, if recorded) */
	uint64_t send_end;   /* client bytes released for sending */
	uint64_t sent;	     /* client bytes the kernel took */
	uint64_t received;   /* answer bytes read */
	uint64_t slack;	     /* answer bytes given up on after stalls (fast mode) */
	size_t wait_step;    /* the step whose wait began at wait_since */
	uint64_t wait_since; /* ns */
	uint64_t last_rx;    /* ns of the last answer bytes, or of the last state change */
	bool shut_wr;
	unsigned stalls;
	struct pk_scmp cmp;
};

struct replay {
	struct pk_loop *loop;
	struct pk_replay_opts o;
	struct rconn *rc;
	size_t n, next_start, active, done;
	struct pk_timer start_timer, deadline;
	uint64_t t0_ns;	   /* capture time of the first connection's first packet */
	uint64_t start_ns; /* monotonic time the replay began */
	bool stopping;	   /* timed out: start nothing more */
	int fatal;
	char *err;
	size_t errlen;
	char buf[65536];
};

static void pump(struct rconn *c);
static void drain_check(struct rconn *c);
static void start_more(struct replay *rp);

/* Stops the replay for good with a one-line reason (the first one wins). */
__attribute__((format(printf, 3, 4))) static void fatal(struct replay *rp, int err, const char *fmt,
							...)
{
	va_list ap;

	if (rp->fatal)
		return;
	rp->fatal = err;
	va_start(ap, fmt);
	pk_errbuf_vset(err, rp->err, rp->errlen, fmt, ap);
	va_end(ap);
	pk_loop_stop(rp->loop);
}

static void arm(struct rconn *c, uint64_t delay_ns)
{
	if (pk_timer_arm(c->rp->loop, &c->timer, delay_ns < FAR_NS ? delay_ns : FAR_NS) < 0)
		fatal(c->rp, -ENOMEM, "out of memory");
}

static void want(struct rconn *c, uint32_t mask)
{
	int err = pk_io_set(c->rp->loop, &c->io, mask);

	if (err < 0)
		fatal(c->rp, err, "epoll: %s", strerror(-err));
}

/* The monotonic time at which something recorded at capture time ts is due. */
static uint64_t due(const struct replay *rp, uint64_t ts)
{
	double d;

	if (ts <= rp->t0_ns)
		return rp->start_ns;
	d = (double)(ts - rp->t0_ns) / rp->o.speed;
	return d < (double)FAR_NS ? rp->start_ns + (uint64_t)d : rp->start_ns + FAR_NS;
}

/* Computes the verdict of a finished connection into its result. */
static void judge(struct rconn *c, const char *note)
{
	const struct pk_pcap_conn *pc = c->pc;
	struct pk_replay_conn *r = c->res;
	uint64_t expected = pc->s2c.len;
	enum pk_scmp_verdict v = pk_scmp_verdict(&c->cmp, false);

	r->bytes_sent = c->sent;
	r->bytes_received = c->received;
	r->stalls = c->stalls;
	r->note = note;
	r->verdict = PK_SCMP_SAME;
	if (pk_pcap_conn_has_gap(pc)) {
		r->verdict = PK_SCMP_UNKNOWN;
		r->note = "gap in capture";
	} else if (v != PK_SCMP_SAME) {
		r->verdict = v;
		r->diverge_off = pk_scmp_diverge_offset(&c->cmp);
	} else if (c->received > expected && !pk_pcap_conn_ended(pc)) {
		/* More than recorded, but the capture stopped before the connection did. */
		r->verdict = PK_SCMP_UNKNOWN;
		r->note = "capture ended first";
	} else if (c->received > expected) {
		r->verdict = PK_SCMP_DIFFERENT;
		r->diverge_off = expected;
	} else if (c->rp->stopping) {
		r->verdict = PK_SCMP_UNKNOWN; /* equal so far when time ran out */
	} else if (c->received < expected) {
		r->verdict = PK_SCMP_DIFFERENT;
		r->diverge_off = c->received;
	} else if (c->sent < pc->c2s.len && !pc->s2c.fin) {
		/* The whole answer, but the target closed where the recorded server did not. */
		r->verdict = PK_SCMP_DIFFERENT;
		r->diverge_off = c->received;
	}
}

/* Ends a connection: closes its socket, judges it, lets the next one start. */
static void finish(struct rconn *c, const char *note)
{
	struct replay *rp = c->rp;
	bool was_open = c->state != R_PENDING && c->state != R_DONE;

	if (c->state == R_DONE)
		return;
	pk_timer_cancel(rp->loop, &c->timer);
	if (was_open) {
		pk_io_close(rp->loop, &c->io);
		rp->active--;
	}
	c->state = R_DONE;
	judge(c, note);
	pk_scmp_release(&c->cmp);
	if (++rp->done == rp->n)
		pk_loop_stop(rp->loop);
	else
		start_more(rp);
}

/* Takes n answer bytes: compares those within the recorded length, counts them all. */
static void account(struct rconn *c, const char *buf, uint64_t n)
{
	const struct pk_pcap_stream *s2c = &c->pc->s2c;

	if (c->received < s2c->len) {
		uint64_t k = s2c->len - c->received < n ? s2c->len - c->received : n;

		pk_scmp_feed(&c->cmp, PK_SCMP_A, s2c->data + c->received, (size_t)k);
		pk_scmp_feed(&c->cmp, PK_SCMP_B, buf, (size_t)k);
	}
	c->received += n;
}

static void conn_read(struct rconn *c)
{
	struct replay *rp = c->rp;

	for (int i = 0; i < READ_BATCH; i++) {
		ssize_t n = read(c->io.fd, rp->buf, sizeof(rp->buf));

		if (n > 0) {
			account(c, rp->buf, (uint64_t)n);
			c->last_rx = pk_now_ns();
			continue;
		}
		if (n == 0) {
			finish(c, c->step < c->pc->nchunks ? "target closed early" : NULL);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			finish(c, errno == ECONNRESET ? "reset by target" : "read error");
			return;
		}
		break;
	}
	if (c->state == R_SENDING)
		pump(c);
	else if (c->state == R_DRAINING)
		drain_check(c);
}

/* Tells whether a step recorded at ts, after before answer bytes, may go now; when not, sets
 * *wait to how long until it should be looked at again.  In fast mode a wait longer than the
 * stall limit (counted from the step's start or the last answer bytes) releases the step. */
static bool step_ready(struct rconn *c, size_t step, uint64_t ts, uint64_t before, uint64_t *wait)
{
	struct replay *rp = c->rp;
	uint64_t now = pk_now_ns(), since, deadline;

	if (!rp->o.fast) {
		uint64_t when = due(rp, ts);

		*wait = when > now ? when - now : 0;
		return when <= now;
	}
	if (c->received + c->slack >= before)
		return true;
	if (c->wait_step != step) {
		c->wait_step = step;
		c->wait_since = now;
	}
	since = c->wait_since > c->last_rx ? c->wait_since : c->last_rx;
	deadline = since + (uint64_t)rp->o.stall_ms * 1000000ull;
	if (now >= deadline) {
		c->stalls++;
		c->slack = before - c->received;
		return true;
	}
	*wait = deadline - now;
	return false;
}

/* Without side effects: may chunk i go now too (sent along with the one before it)? */
static bool chunk_ready_now(const struct rconn *c, size_t i, uint64_t now)
{
	const struct pk_pcap_chunk *k = &c->pc->chunks[i];

	if (c->rp->o.fast)
		return c->received + c->slack >= k->s2c_before;
	return due(c->rp, k->ts_ns) <= now;
}

/* Sends what is due, releases the steps that became due, and when all is sent, replays the
 * client's FIN and starts waiting for the rest of the answer. */
static void pump(struct rconn *c)
{
	const struct pk_pcap_conn *pc = c->pc;
	uint64_t wait;

	while (c->state == R_SENDING && !c->rp->fatal) {
		if (c->sent < c->send_end) {
			ssize_t w = send(c->io.fd, pc->c2s.data + c->sent,
					 (size_t)(c->send_end - c->sent), MSG_NOSIGNAL);

			if (w > 0) {
				c->sent += (uint64_t)w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				want(c, PK_READ | PK_WRITE);
				return;
			}
			finish(c, errno == ECONNRESET ? "reset by target" : "target closed early");
			return;
		}
		if (c->step < pc->nchunks) {
			const struct pk_pcap_chunk *k = &pc->chunks[c->step];

			if (!step_ready(c, c->step, k->ts_ns, k->s2c_before, &wait)) {
				want(c, PK_READ);
				arm(c, wait);
				return;
			}
			uint64_t now = pk_now_ns();

			do {
				c->send_end = pc->chunks[c->step].off + pc->chunks[c->step].len;
				c->step++;
			} while (c->step < pc->nchunks && chunk_ready_now(c, c->step, now));
			continue;
		}
		if (pc->c2s.fin && !c->shut_wr) {
			if (!step_ready(c, pc->nchunks, pc->c2s.fin_ts_ns, pc->c2s.fin_before,
					&wait)) {
				want(c, PK_READ);
				arm(c, wait);
				return;
			}
			shutdown(c->io.fd, SHUT_WR);
			c->shut_wr = true;
		}
		if (pc->c2s.rst) {
			/* The recorded client reset the connection: so do we, and what the target
			 * answers later is not read, as the recorded client did not read it. */
			struct linger l = { .l_onoff = 1, .l_linger = 0 };

			if (!step_ready(c, pc->nchunks + 1, pc->c2s.rst_ts_ns, pc->c2s.rst_before,
					&wait)) {
				want(c, PK_READ);
				arm(c, wait);
				return;
			}
			setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			finish(c, "reset, as recorded");
			return;
		}
		c->state = R_DRAINING;
		c->last_rx = pk_now_ns();
		want(c, PK_READ);
		drain_check(c);
	}
}

/* Everything is sent: ends the connection once the answer is complete and quiet, or short and
 * stalled. */
static void drain_check(struct rconn *c)
{
	const struct replay *rp = c->rp;
	uint64_t now = pk_now_ns();
	uint64_t ms = c->received >= c->pc->s2c.len ? rp->o.quiet_ms : rp->o.stall_ms;
	uint64_t deadline = c->last_rx + ms * 1000000ull;

	if (now >= deadline)
		finish(c, NULL);
	else
		arm(c, deadline - now);
}

static void on_io(struct pk_loop *loop, struct pk_io *io, uint32_t events)
{
	struct rconn *c = io->data;
	struct replay *rp = c->rp;

	if (c->state == R_CONNECTING) {
		int err = pk_sock_error(io->fd);
		char a[PK_ADDR_STRLEN];

		if (err) {
			fatal(rp, err, "connect %s: %s", pk_addr_str(&rp->o.target, a, sizeof(a)),
			      strerror(-err));
			return;
		}
		c->state = R_SENDING;
		c->last_rx = pk_now_ns();
		pump(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(c);
	if (c->state == R_SENDING && (events & EPOLLOUT))
		pump(c);
}

static void on_timer(struct pk_loop *loop, struct pk_timer *t)
{
	struct rconn *c = t->data;

	if (c->state == R_SENDING)
		pump(c);
	else if (c->state == R_DRAINING)
		drain_check(c);
}

static void conn_start(struct rconn *c)
{
	struct replay *rp = c->rp;
	char a[PK_ADDR_STRLEN];
	int fd, err;

	fd = pk_sock_connect(&rp->o.target);
	if (fd < 0) {
		fatal(rp, fd, "connect %s: %s", pk_addr_str(&rp->o.target, a, sizeof(a)),
		      strerror(-fd));
		return;
	}
	pk_io_init(&c->io, fd, on_io, c);
	if ((err = pk_io_add(rp->loop, &c->io, PK_WRITE)) < 0) {
		close(fd);
		c->io.fd = -1;
		fatal(rp, err, "epoll: %s", strerror(-err));
		return;
	}
	c->state = R_CONNECTING;
	rp->active++;
}

/* Opens connections in recorded order while there is room (and, timed, while they are due). */
static void start_more(struct replay *rp)
{
	while (!rp->stopping && !rp->fatal && rp->active < rp->o.connections &&
	       rp->next_start < rp->n) {
		struct rconn *c = &rp->rc[rp->next_start];

		if (!rp->o.fast) {
			uint64_t when = due(rp, c->pc->first_ns), now = pk_now_ns();

			if (when > now) {
				if (pk_timer_arm(rp->loop, &rp->start_timer, when - now) < 0)
					fatal(rp, -ENOMEM, "out of memory");
				return;
			}
		}
		rp->next_start++;
		conn_start(c);
	}
}

static void on_start_timer(struct pk_loop *loop, struct pk_timer *t)
{
	start_more(t->data);
}

/* The overall timeout: ends every connection as it stands. */
static void on_deadline(struct pk_loop *loop, struct pk_timer *t)
{
	struct replay *rp = t->data;

	rp->stopping = true;
	pk_timer_cancel(loop, &rp->start_timer);
	for (size_t i = 0; i < rp->n; i++)
		finish(&rp->rc[i],
		       rp->rc[i].state == R_PENDING ? "not started (timeout)" : "timeout");
}

static void report_init(struct pk_replay_report *rep, const struct pk_pcap *cap)
{
	for (size_t i = 0; i < cap->nconns; i++) {
		const struct pk_pcap_conn *pc = cap->conns[i];
		struct pk_replay_conn *r = &rep->conns[i];

		r->id = pc->id;
		pk_addr_str(&pc->client, r->client, sizeof(r->client));
		pk_addr_str(&pc->server, r->server, sizeof(r->server));
		r->bytes_recorded = pc->c2s.len;
		r->bytes_expected = pc->s2c.len;
		r->verdict = PK_SCMP_UNKNOWN;
		r->note = "not started";
	}
	rep->nconns = cap->nconns;
	rep->capture = cap->stats;
}

static void report_sum(struct pk_replay_report *rep)
{
	for (size_t i = 0; i < rep->nconns; i++) {
		const struct pk_replay_conn *r = &rep->conns[i];

		rep->same += r->verdict == PK_SCMP_SAME;
		rep->different += r->verdict == PK_SCMP_DIFFERENT;
		rep->unknown += r->verdict == PK_SCMP_UNKNOWN;
		rep->bytes_recorded += r->bytes_recorded;
		rep->bytes_sent += r->bytes_sent;
		rep->bytes_expected += r->bytes_expected;
		rep->bytes_received += r->bytes_received;
		rep->stalls += r->stalls;
	}
}

int pk_replay_run(const struct pk_pcap *cap, const struct pk_replay_opts *opts,
		  struct pk_replay_report *rep, char *err, size_t errlen)
{
	struct replay *rp;
	int rc;

	memset(rep, 0, sizeof(*rep));
	rp = calloc(1, sizeof(*rp));
	rep->conns = calloc(cap->nconns ? cap->nconns : 1, sizeof(*rep->conns));
	if (rp)
		rp->rc = calloc(cap->nconns ? cap->nconns : 1, sizeof(*rp->rc));
	if (!rp || !rep->conns || !rp->rc || !(rp->loop = pk_loop_new())) {
		if (err && errlen)
			snprintf(err, errlen, "%s", strerror(ENOMEM));
		rc = -ENOMEM;
		goto out_free;
	}
	rp->o = *opts;
	if (!(rp->o.speed > 0))
		rp->o.speed = 1.0;
	rp->o.connections = rp->o.connections ? rp->o.connections : PK_REPLAY_DEFAULT_CONNECTIONS;
	rp->o.stall_ms = rp->o.stall_ms ? rp->o.stall_ms : PK_REPLAY_DEFAULT_STALL_MS;
	rp->o.quiet_ms = rp->o.quiet_ms ? rp->o.quiet_ms : PK_REPLAY_DEFAULT_QUIET_MS;
	rp->err = err;
	rp->errlen = errlen;
	rp->n = cap->nconns;
	report_init(rep, cap);
	rp->t0_ns = UINT64_MAX;
	for (size_t i = 0; i < rp->n; i++) {
		struct rconn *c = &rp->rc[i];

		c->rp = rp;
		c->pc = cap->conns[i];
		c->res = &rep->conns[i];
		c->wait_step = SIZE_MAX;
		c->io.fd = -1;
		pk_timer_init(&c->timer, on_timer, c);
		pk_scmp_init(&c->cmp, CMP_LIMIT);
		if (c->pc->first_ns < rp->t0_ns)
			rp->t0_ns = c->pc->first_ns;
	}
	pk_timer_init(&rp->start_timer, on_start_timer, rp);
	pk_timer_init(&rp->deadline, on_deadline, rp);
	pk_raise_nofile();
	rp->start_ns = pk_now_ns();
	if (rp->o.timeout_ms &&
	    pk_timer_arm(rp->loop, &rp->deadline, rp->o.timeout_ms * 1000000ull) < 0)
		fatal(rp, -ENOMEM, "out of memory");
	if (rp->n > 0 && !rp->fatal) {
		start_more(rp);
		if (!rp->fatal && (rc = pk_loop_run(rp->loop)) < 0)
			fatal(rp, rc, "epoll: %s", strerror(-rc));
	}
	rep->seconds = (double)(pk_now_ns() - rp->start_ns) / 1e9;
	rc = rp->fatal;
	for (size_t i = 0; i < rp->n; i++) {
		struct rconn *c = &rp->rc[i];

		pk_io_close(rp->loop, &c->io);
		pk_scmp_release(&c->cmp);
	}
	report_sum(rep);
out_free:
	if (rp) {
		pk_loop_free(rp->loop);
		free(rp->rc);
	}
	free(rp);
	if (rc)
		pk_replay_report_release(rep);
	return rc;
}

void pk_replay_report_release(struct pk_replay_report *rep)
{
	free(rep->conns);
	memset(rep, 0, sizeof(*rep));
}

void pk_replay_report_table(const struct pk_replay_report *rep, struct pk_strbuf *out)
{
	int cw = 6, sw = 6;

	for (size_t i = 0; i < rep->nconns; i++) {
		int a = (int)strlen(rep->conns[i].client), b = (int)strlen(rep->conns[i].server);

		cw = a > cw ? a : cw;
		sw = b > sw ? b : sw;
	}
	pk_strbuf_printf(out, "%-6s %-*s %-*s %12s %12s %12s %-9s %10s  %s\n", "ID", cw, "CLIENT",
			 sw, "SERVER", "SENT", "EXPECTED", "RECEIVED", "VERDICT", "OFFSET", "NOTE");
	for (size_t i = 0; i < rep->nconns; i++) {
		const struct pk_replay_conn *r = &rep->conns[i];
		char off[24] = "-", note[96] = "";

		if (r->verdict == PK_SCMP_DIFFERENT)
			snprintf(off, sizeof(off), "%llu", (unsigned long long)r->diverge_off);
		if (r->stalls)
			snprintf(note, sizeof(note), "%s%s%u stall%s", r->note ? r->note : "",
				 r->note ? "; " : "", r->stalls, r->stalls == 1 ? "" : "s");
		else if (r->note)
			snprintf(note, sizeof(note), "%s", r->note);
		pk_strbuf_printf(out, "%-6u %-*s %-*s %12llu %12llu %12llu %-9s %10s%s%s\n", r->id,
				 cw, r->client, sw, r->server, (unsigned long long)r->bytes_sent,
				 (unsigned long long)r->bytes_expected,
				 (unsigned long long)r->bytes_received,
				 pk_scmp_verdict_name(r->verdict), off, note[0] ? "  " : "", note);
	}
	pk_strbuf_printf(
		out,
		"%zu connections: %llu same, %llu different, %llu unknown; sent %llu of "
		"%llu client bytes; received %llu bytes (%llu expected); %llu stalls; "
		"%.2f s\n",
		rep->nconns, (unsigned long long)rep->same, (unsigned long long)rep->different,
		(unsigned long long)rep->unknown, (unsigned long long)rep->bytes_sent,
		(unsigned long long)rep->bytes_recorded, (unsigned long long)rep->bytes_received,
		(unsigned long long)rep->bytes_expected, (unsigned long long)rep->stalls,
		rep->seconds);
}

int pk_replay_report_json(const struct pk_replay_report *rep, struct pk_strbuf *out)
{
	cJSON *root = cJSON_CreateObject(), *conns, *sum, *capo;
	const struct pk_pcap_stats *st = &rep->capture;
	int rc;

	if (!root)
		return -ENOMEM;
	conns = cJSON_AddArrayToObject(root, "connections");
	for (size_t i = 0; conns && i < rep->nconns; i++) {
		const struct pk_replay_conn *r = &rep->conns[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			break;
		cJSON_AddItemToArray(conns, o);
		cJSON_AddNumberToObject(o, "id", r->id);
		cJSON_AddStringToObject(o, "client", r->client);
		cJSON_AddStringToObject(o, "server", r->server);
		cJSON_AddNumberToObject(o, "bytes_recorded", (double)r->bytes_recorded);
		cJSON_AddNumberToObject(o, "bytes_sent", (double)r->bytes_sent);
		cJSON_AddNumberToObject(o, "bytes_expected", (double)r->bytes_expected);
		cJSON_AddNumberToObject(o, "bytes_received", (double)r->bytes_received);
		cJSON_AddStringToObject(o, "verdict", pk_scmp_verdict_name(r->verdict));
		if (r->verdict == PK_SCMP_DIFFERENT)
			cJSON_AddNumberToObject(o, "diverge_offset", (double)r->diverge_off);
		else
			cJSON_AddNullToObject(o, "diverge_offset");
		cJSON_AddNumberToObject(o, "stalls", r->stalls);
		if (r->note)
			cJSON_AddStringToObject(o, "note", r->note);
		else
			cJSON_AddNullToObject(o, "note");
	}
	sum = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddNumberToObject(sum, "connections", (double)rep->nconns);
	cJSON_AddNumberToObject(sum, "same", (double)rep->same);
	cJSON_AddNumberToObject(sum, "different", (double)rep->different);
	cJSON_AddNumberToObject(sum, "unknown", (double)rep->unknown);
	cJSON_AddNumberToObject(sum, "bytes_recorded", (double)rep->bytes_recorded);
	cJSON_AddNumberToObject(sum, "bytes_sent", (double)rep->bytes_sent);
	cJSON_AddNumberToObject(sum, "bytes_expected", (double)rep->bytes_expected);
	cJSON_AddNumberToObject(sum, "bytes_received", (double)rep->bytes_received);
	cJSON_AddNumberToObject(sum, "stalls", (double)rep->stalls);
	cJSON_AddNumberToObject(sum, "seconds", rep->seconds);
	capo = cJSON_AddObjectToObject(root, "capture");
	cJSON_AddNumberToObject(capo, "packets", (double)st->packets);
	cJSON_AddNumberToObject(capo, "tcp_packets", (double)st->tcp_packets);
	cJSON_AddNumberToObject(capo, "not_ip", (double)st->not_ip);
	cJSON_AddNumberToObject(capo, "not_tcp", (double)st->not_tcp);
	cJSON_AddNumberToObject(capo, "fragments", (double)st->fragments);
	cJSON_AddNumberToObject(capo, "filtered", (double)st->filtered);
	cJSON_AddNumberToObject(capo, "retransmitted", (double)st->retransmitted);
	cJSON_AddNumberToObject(capo, "out_of_order", (double)st->out_of_order);
	cJSON_AddNumberToObject(capo, "holes", (double)st->holes);
	rc = pk_json_print(conns && cJSON_GetArraySize(conns) == (int)rep->nconns ? root : NULL,
			   out);
	cJSON_Delete(root);
	return rc;
}
