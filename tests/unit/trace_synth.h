/* trace_synth.h — synthetic records of a traced three-tier chain, for the analyzer's tests and
 * its bench hook (tests/tools/pk-trace-bench.c):
 *
 *   clients (not traced) -> nginx, 2 workers (pids 101, 102: one event-loop thread each, conc
 *   requests at once per worker, keep-alive upstream connections) -> a threaded HTTP backend
 *   (pid 200, one thread per upstream connection) -> redis (pid 300, one thread, RESP)
 *
 * Request r asks for "GET /r/<r>"; the backend asks redis "GET r:<r>".  Options: a clock skew
 * of the backend (its records and its hello), connections between tiers opened before tracing
 * (no accept/connect record, offsets from the first record, no side flags), drops, a static
 * program exec'd by the nginx master (pid 100).
 */
#ifndef PK_TESTS_TRACE_SYNTH_H
#define PK_TESTS_TRACE_SYNTH_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "trace/analyze.h"

#define SYN_MASTER 100
#define SYN_BACKEND 200
#define SYN_REDIS 300
#define SYN_US 1000ull
#define SYN_MS 1000000ull

struct synth_opts {
	int n;		 /* requests */
	int conc;	 /* concurrent requests per nginx worker */
	int64_t skew_ns; /* added to the backend's clock */
	bool preopened;	 /* tier connections opened before tracing */
	bool no_redis;	 /* redis not traced */
	bool no_reply;	 /* nginx never answers request 0 (its client went away) */
	bool extras;	 /* drops and a static program */
	uint16_t bport;	 /* the backend's port (0: 9000) */
};

struct synth {
	struct pk_trace_proc procs[8];
	size_t nprocs;
	struct pk_trace_ev *ev;
	size_t nev, cap;
	bool oom;
};

/* One side of a connection: its process row, fd, ports, offsets in and out. */
struct synth_side {
	int64_t proc;
	int fd;
	uint16_t lport, pport;
	uint64_t in, out;
	uint8_t flags;
};

static void synth_proc(struct synth *s, int64_t id, int pid, int ppid, uint32_t flags,
		       const char *comm, const char *exe, uint64_t mono, uint64_t dropped)
{
	struct pk_trace_proc *p = &s->procs[s->nprocs++];

	memset(p, 0, sizeof(*p));
	p->id = id;
	p->pid = pid;
	p->ppid = ppid;
	p->flags = flags;
	p->mono_ns = mono;
	p->real_ns = 1700000000ull * 1000000000ull + 1000 * SYN_MS; /* wall at mono 1 s */
	p->real_ns += mono - 1000 * SYN_MS;
	p->dropped = dropped;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	snprintf(p->exe, sizeof(p->exe), "%s", exe);
}

static struct pk_trace_rec *synth_rec(struct synth *s, int64_t proc, uint8_t call, uint32_t tid,
				      uint64_t ts)
{
	if (s->nev == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 4096;
		struct pk_trace_ev *p = realloc(s->ev, nc * sizeof(*p));

		if (!p) {
			s->oom = true;
			return NULL;
		}
		s->ev = p;
		s->cap = nc;
	}
	struct pk_trace_ev *e = &s->ev[s->nev++];

	memset(e, 0, sizeof(*e));
	e->proc = proc;
	e->rec.call = call;
	e->rec.tid = tid;
	e->rec.ts_ns = ts;
	return &e->rec;
}

static void synth_addr(struct pk_trace_addr *a, uint16_t port)
{
	a->family = AF_INET;
	a->port = port;
	a->addr[0] = 127;
	a->addr[3] = 1;
}

/* A record of side x (call ACCEPT, CONNECT, READ, WRITE or CLOSE); data: what moved. */
static void synth_io(struct synth *s, struct synth_side *x, uint8_t call, uint32_t tid, uint64_t ts,
		     const char *data)
{
	struct pk_trace_rec *r = synth_rec(s, x->proc, call, tid, ts);
	size_t len = data ? strlen(data) : 0;

	if (!r)
		return;
	r->fd = x->fd;
	r->flags = x->flags;
	synth_addr(&r->local, x->lport);
	synth_addr(&r->peer, x->pport);
	if (call == PK_TRACE_READ || call == PK_TRACE_WRITE) {
		uint64_t *off = call == PK_TRACE_READ ? &x->in : &x->out;

		r->ret = (int64_t)len;
		r->offset = *off;
		*off += len;
		r->peek_len = (uint16_t)(len > PK_TRACE_PEEK ? PK_TRACE_PEEK : len);
		memcpy(r->peek, data, r->peek_len);
		if (len > PK_TRACE_PEEK)
			r->flags |= PK_TRACE_F_PEEK_CUT;
	}
}

static void synth_open(struct synth *s, struct synth_side *cl, struct synth_side *sv, uint32_t ctid,
		       uint32_t stid, uint64_t ts, bool preopened)
{
	if (preopened)
		return;
	cl->flags = PK_TRACE_F_FROM_START | PK_TRACE_F_CLIENT;
	sv->flags = PK_TRACE_F_FROM_START | PK_TRACE_F_SERVER;
	synth_io(s, cl, PK_TRACE_CONNECT, ctid, ts, NULL);
	synth_io(s, sv, PK_TRACE_ACCEPT, stid, ts + SYN_US, NULL);
}

/* Builds the chain's records into s (free s->ev).  false when out of memory. */
static bool synth_chain(struct synth *s, const struct synth_opts *o)
{
	const uint64_t base = 1000 * SYN_MS;
	int conc = o->conc > 0 ? o->conc : 1;
	int nup = 2 * conc;
	uint16_t bport = o->bport ? o->bport : 9000;
	struct synth_side *up_c = calloc((size_t)nup, sizeof(*up_c));
	struct synth_side *up_s = calloc((size_t)nup, sizeof(*up_s));
	struct synth_side *rd_c = calloc((size_t)nup, sizeof(*rd_c));
	struct synth_side *rd_s = calloc((size_t)nup, sizeof(*rd_s));
	uint64_t skew = (uint64_t)o->skew_ns;

	memset(s, 0, sizeof(*s));
	if (!up_c || !up_s || !rd_c || !rd_s) {
		s->oom = true;
		goto out;
	}
	synth_proc(s, 1, SYN_MASTER, 1, 0, "nginx", "/usr/sbin/nginx", base - 5 * SYN_MS, 0);
	synth_proc(s, 2, 101, SYN_MASTER, PK_TRACE_HELLO_FORKED, "nginx", "/usr/sbin/nginx",
		   base - 4 * SYN_MS, 0);
	synth_proc(s, 3, 102, SYN_MASTER, PK_TRACE_HELLO_FORKED, "nginx", "/usr/sbin/nginx",
		   base - 4 * SYN_MS, 0);
	synth_proc(s, 4, SYN_BACKEND, 1, 0, "backend", "/usr/bin/python3", base - 3 * SYN_MS + skew,
		   o->extras ? 3 : 0);
	if (!o->no_redis)
		synth_proc(s, 5, SYN_REDIS, 1, 0, "redis-server", "/usr/bin/redis-server",
			   base - 3 * SYN_MS, 0);
	for (int k = 0; k < nup; k++) {
		int w = k / conc;

		up_c[k] = (struct synth_side){ .proc = 2 + w,
					       .fd = 5000 + k % conc,
					       .lport = (uint16_t)(50001 + k),
					       .pport = bport };
		up_s[k] = (struct synth_side){
			.proc = 4, .fd = 10 + k, .lport = bport, .pport = (uint16_t)(50001 + k)
		};
		rd_c[k] = (struct synth_side){
			.proc = 4, .fd = 20000 + k, .lport = (uint16_t)(51001 + k), .pport = 6379
		};
		rd_s[k] = (struct synth_side){ .proc = o->no_redis ? 0 : 5,
					       .fd = 10 + k,
					       .lport = 6379,
					       .pport = (uint16_t)(51001 + k) };
		synth_open(s, &up_c[k], &up_s[k], (uint32_t)(101 + w), (uint32_t)(201 + k),
			   base - 2 * SYN_MS + (uint64_t)k * SYN_US, o->preopened);
		if (!o->preopened)
			up_s[k].flags = PK_TRACE_F_FROM_START | PK_TRACE_F_SERVER;
		synth_open(s, &rd_c[k], &rd_s[k], (uint32_t)(201 + k), SYN_REDIS,
			   base - SYN_MS + (uint64_t)k * SYN_US, o->preopened);
	}
	/* the backend's accept records carry its own clock */
	for (size_t i = 0; i < s->nev; i++)
		if (s->ev[i].proc == 4)
			s->ev[i].rec.ts_ns += skew;
	for (int r = 0; r < o->n; r++) {
		int w = r % 2, j = (r / 2) % conc, b = (r / 2) / conc, k = w * conc + j;
		uint64_t t = base + (uint64_t)(2 * b + w) * 10 * SYN_MS + (uint64_t)j * 10 * SYN_US;
		uint32_t wt = (uint32_t)(101 + w), bt = (uint32_t)(201 + k);
		struct synth_side cl = { .proc = 2 + w,
					 .fd = 1000 + j,
					 .lport = 8080,
					 .pport = (uint16_t)(40000 + r % 20000),
					 .flags = PK_TRACE_F_FROM_START | PK_TRACE_F_SERVER };
		char req[128], up[128], rq[64], rv[64], resp[128], key[32];

		snprintf(req, sizeof(req),
			 "GET /r/%d HTTP/1.1\r\nHost: front\r\nUser-Agent: wrk\r\n\r\n", r);
		snprintf(up, sizeof(up),
			 "GET /r/%d HTTP/1.1\r\nHost: backend\r\nConnection: keep-alive\r\n\r\n",
			 r);
		snprintf(key, sizeof(key), "r:%d", r);
		snprintf(rq, sizeof(rq), "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n", strlen(key), key);
		snprintf(key, sizeof(key), "v%d", r);
		snprintf(rv, sizeof(rv), "$%zu\r\n%s\r\n", strlen(key), key);
		snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nv%08d",
			 r);
		synth_io(s, &cl, PK_TRACE_ACCEPT, wt, t, NULL);
		synth_io(s, &cl, PK_TRACE_READ, wt, t + 100 * SYN_US, req);
		synth_io(s, &up_c[k], PK_TRACE_WRITE, wt, t + SYN_MS, up);
		uint64_t bt0 = t + SYN_MS + 20 * SYN_US + skew;

		synth_io(s, &up_s[k], PK_TRACE_READ, bt, bt0, up);
		synth_io(s, &rd_c[k], PK_TRACE_WRITE, bt, bt0 + 50 * SYN_US, rq);
		if (!o->no_redis) {
			synth_io(s, &rd_s[k], PK_TRACE_READ, SYN_REDIS, t + SYN_MS + 90 * SYN_US,
				 rq);
			synth_io(s, &rd_s[k], PK_TRACE_WRITE, SYN_REDIS, t + SYN_MS + 110 * SYN_US,
				 rv);
		}
		synth_io(s, &rd_c[k], PK_TRACE_READ, bt, bt0 + 130 * SYN_US, rv);
		synth_io(s, &up_s[k], PK_TRACE_WRITE, bt, bt0 + 150 * SYN_US, resp);
		synth_io(s, &up_c[k], PK_TRACE_READ, wt, t + SYN_MS + 190 * SYN_US, resp);
		if (!(o->no_reply && r == 0))
			synth_io(s, &cl, PK_TRACE_WRITE, wt, t + SYN_MS + 250 * SYN_US, resp);
		synth_io(s, &cl, PK_TRACE_CLOSE, wt, t + SYN_MS + 260 * SYN_US, NULL);
	}
	if (o->extras) {
		struct pk_trace_rec *r = synth_rec(s, 3, PK_TRACE_DROPS, 102, base + 5 * SYN_MS);

		if (r)
			r->ret = 7;
		r = synth_rec(s, 1, PK_TRACE_STATIC, SYN_MASTER, base + SYN_MS);
		if (r) {
			r->peek_len = (uint16_t)strlen("/x/static-bin");
			memcpy(r->peek, "/x/static-bin", r->peek_len);
		}
	}
out:
	free(up_c);
	free(up_s);
	free(rd_c);
	free(rd_s);
	return !s->oom;
}

#endif
