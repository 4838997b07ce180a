/* test_trace_analyze.c — the path builder on synthetic records of nginx (2 workers, event
 * loops, keep-alive upstreams) -> a threaded backend -> redis (trace_synth.h): exactly N
 * complete paths with the right hops in order, links and their rules, a skewed clock corrected
 * and reported, connections opened before tracing, drops, a static program, bad input. */
#include <stdlib.h>
#include <string.h>

#include "trace/analyze.h"
#include "trace_synth.h"
#include "unit.h"

static struct pk_trace_paths *run(const struct synth_opts *o, struct synth *s)
{
	struct pk_trace_paths *p = NULL;
	char err[128] = "";

	CHECK(synth_chain(s, o));
	CHECK_EQ_INT(pk_trace_analyze(s->procs, s->nprocs, s->ev, s->nev, &p, err, sizeof(err)), 0);
	return p;
}

static bool has(const struct pk_trace_hop *h, const char *needle)
{
	return memmem(h->request, h->request_len, needle, strlen(needle)) != NULL;
}

/* The request id of a path's root ("GET /r/<id> "), or -1. */
static int root_id(const struct pk_trace_hop *h)
{
	char buf[PK_TRACE_PEEK + 1];

	memcpy(buf, h->request, h->request_len);
	buf[h->request_len] = 0;
	return strncmp(buf, "GET /r/", 7) == 0 ? atoi(buf + 7) : -1;
}

static const struct pk_trace_pproc *proc_of(const struct pk_trace_paths *p, int pid)
{
	for (size_t i = 0; i < p->nprocs; i++)
		if (p->procs[i].pid == pid)
			return &p->procs[i];
	return NULL;
}

/* Every path is one request: nginx -> backend -> redis with the same id, in causal order. */
static void check_chain(const struct pk_trace_paths *p, int n, bool redis, const char *up_rule)
{
	char *seen = calloc((size_t)n, 1);
	char key[32], url[32];

	CHECK_EQ_INT(p->npaths, n);
	CHECK_EQ_INT(p->ncomplete, n);
	for (size_t i = 0; i < p->npaths && seen; i++) {
		const struct pk_trace_path *t = &p->paths[i];
		const struct pk_trace_hop *h = &p->hops[t->first_hop];
		int id = root_id(h);

		CHECK(t->complete);
		CHECK_EQ_INT(t->nhops, redis ? 3 : 2);
		CHECK(id >= 0 && id < n);
		if (id < 0 || id >= n || t->nhops < 2)
			continue;
		CHECK(!seen[id]);
		seen[id] = 1;
		CHECK_EQ_INT(strlen(t->trace_id), 32);
		CHECK_EQ_INT(h->pid, 101 + id % 2);
		CHECK_EQ_INT(h->parent, -1);
		CHECK_STR(h->rule, "root");
		CHECK_EQ_INT(h->proto, PK_TRACE_PROTO_HTTP);
		snprintf(url, sizeof(url), "/r/%d ", id);
		CHECK(has(&h[1], url));
		CHECK_EQ_INT(h[1].pid, SYN_BACKEND);
		CHECK_EQ_INT(h[1].parent, 0);
		CHECK_EQ_INT(h[1].depth, 1);
		CHECK_STR(h[1].rule, up_rule);
		CHECK(h[1].start_ns >= h[1].call_start_ns);
		CHECK(h[1].start_ns >= h->start_ns && h[1].end_ns <= h->end_ns);
		if (redis && t->nhops == 3) {
			snprintf(key, sizeof(key), "r:%d\r", id);
			CHECK(has(&h[2], key));
			CHECK_EQ_INT(h[2].pid, SYN_REDIS);
			CHECK_EQ_INT(h[2].proto, PK_TRACE_PROTO_RESP);
			CHECK_EQ_INT(h[2].parent, 1);
			CHECK_EQ_INT(h[2].depth, 2);
			CHECK_STR(h[2].rule, "same-thread+tcp-endpoints");
			CHECK(h[2].confidence == 1.0);
			CHECK(h[2].start_ns >= h[1].start_ns && h[2].end_ns <= h[1].end_ns);
		}
		if (i > 0)
			CHECK(t->duration_ns <= p->paths[i - 1].duration_ns);
	}
	free(seen);
}

static void test_chain(void)
{
	struct synth_opts o = { .n = 40, .conc = 4 };
	struct synth s;
	struct pk_trace_paths *p = run(&o, &s);

	if (p) {
		check_chain(p, o.n, true, "byte-match+tcp-endpoints");
		CHECK_EQ_INT(p->nhops, 3 * o.n);
		CHECK_EQ_INT(p->rule_count[1], o.n); /* byte-match */
		CHECK_EQ_INT(p->rule_count[0], o.n); /* same-thread */
		CHECK_EQ_INT(p->rule_count[3], 2 * o.n);
		CHECK_EQ_INT(p->rule_count[5], o.n);
		CHECK(p->nhops < 2 || p->hops[1].confidence > 0.89);
		for (size_t i = 0; i < p->nprocs; i++)
			CHECK_EQ_INT(p->procs[i].offset_ns, 0);
		CHECK_EQ_INT(p->dropped, 0);
		CHECK_EQ_INT(p->nuntraceable, 0);
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

/* One request at a time per worker: the event loop has one open hop, same-thread links it. */
static void test_sequential(void)
{
	struct synth_opts o = { .n = 10, .conc = 1 };
	struct synth s;
	struct pk_trace_paths *p = run(&o, &s);

	if (p)
		check_chain(p, o.n, true, "same-thread+tcp-endpoints");
	pk_trace_paths_free(p);
	free(s.ev);
}

/* The backend's clock runs 200 ms ahead: same paths, the offset found and reported. */
static void test_skew(void)
{
	struct synth_opts o = { .n = 18, .conc = 3, .skew_ns = 200 * (int64_t)SYN_MS };
	struct synth s;
	struct pk_trace_paths *p = run(&o, &s);

	if (p) {
		const struct pk_trace_pproc *b = proc_of(p, SYN_BACKEND),
					    *r = proc_of(p, SYN_REDIS);

		check_chain(p, o.n, true, "byte-match+tcp-endpoints");
		CHECK(b != NULL && r != NULL);
		if (b && r) {
			CHECK(b->offset_ns >= 199 * (int64_t)SYN_MS &&
			      b->offset_ns <= 201 * (int64_t)SYN_MS);
			CHECK(b->has_lo && b->has_hi && b->lo_ns <= b->offset_ns &&
			      b->offset_ns <= b->hi_ns);
			CHECK_EQ_INT(r->offset_ns, 0);
			CHECK(r->has_lo && r->lo_ns <= 0 && r->hi_ns >= 0);
			CHECK_EQ_INT(proc_of(p, 101)->offset_ns, 0);
			CHECK_EQ_INT(proc_of(p, 102)->offset_ns, 0);
		}
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

/* Clocks from outside may be anything: the backend's records 5.2e18 ns ahead of nginx's and
 * redis's as much again ahead of the backend's.  Offsets add up modulo 2^64 (what correcting
 * a time subtracts), never a signed overflow (fuzz_trace_analyze). */
static void test_skew_huge(void)
{
	const uint64_t jump = 0x48ull << 56;
	struct synth_opts o = { .n = 4, .conc = 1 };
	struct synth s;
	struct pk_trace_paths *p = NULL;

	CHECK(synth_chain(&s, &o));
	for (size_t i = 0; i < s.nev; i++)
		s.ev[i].rec.ts_ns += s.ev[i].proc == 4 ? jump : s.ev[i].proc == 5 ? 2 * jump : 0;
	CHECK_EQ_INT(pk_trace_analyze(s.procs, s.nprocs, s.ev, s.nev, &p, NULL, 0), 0);
	if (p) {
		const struct pk_trace_pproc *b = proc_of(p, SYN_BACKEND),
					    *r = proc_of(p, SYN_REDIS);

		CHECK_EQ_INT(p->npaths, o.n);
		CHECK(b != NULL && r != NULL);
		if (b && r) {
			CHECK((uint64_t)b->offset_ns - jump + SYN_MS < 2 * SYN_MS);
			CHECK((uint64_t)r->offset_ns - 2 * jump + SYN_MS < 2 * SYN_MS);
		}
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

/* Tier connections opened before tracing: seen from their first data record only. */
static void test_preopened(void)
{
	struct synth_opts o = { .n = 30, .conc = 5, .preopened = true };
	struct synth s;
	struct pk_trace_paths *p = run(&o, &s);

	if (p)
		check_chain(p, o.n, true, "byte-match+tcp-endpoints");
	pk_trace_paths_free(p);
	free(s.ev);
}

/* The same with the backend on a port above the kernel's source-port range (61000-65535 are
 * free for servers): its side of a connection found open is still the server's. */
static void test_preopened_high_port(void)
{
	struct synth_opts o = { .n = 30, .conc = 5, .preopened = true, .bport = 62001 };
	struct synth s;
	struct pk_trace_paths *p = run(&o, &s);

	if (p)
		check_chain(p, o.n, true, "byte-match+tcp-endpoints");
	pk_trace_paths_free(p);
	free(s.ev);
}

/* redis not traced: its peer is no traced process's, the paths are still complete. */
static void test_untraced_peer(void)
{
	struct synth_opts o = { .n = 8, .conc = 2, .no_redis = true };
	struct synth s;
	struct pk_trace_paths *p = run(&o, &s);

	if (p)
		check_chain(p, o.n, false, "byte-match+tcp-endpoints");
	pk_trace_paths_free(p);
	free(s.ev);
}

/* nginx never answers request 0: that path is incomplete, the others are not. */
static void test_incomplete(void)
{
	struct synth_opts o = { .n = 6, .conc = 1, .no_reply = true };
	struct synth s;
	struct pk_trace_paths *p = run(&o, &s);

	if (p) {
		CHECK_EQ_INT(p->npaths, 6);
		CHECK_EQ_INT(p->ncomplete, 5);
		for (size_t i = 0; i < p->npaths; i++)
			CHECK(p->paths[i].complete ==
			      (root_id(&p->hops[p->paths[i].first_hop]) != 0));
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

/* A record lost from a full ring: the backend's read of redis's answer to request 3.  That
 * path is incomplete (its bytes are missing), the others are complete and exact, and the lossy
 * exchange bounds no clock offset (the merged bursts would pair request 3 with answer 4). */
/* The backend starts recording late (attached while the chain ran): nginx recorded requests the
 * backend never did, on connections it sees from their middle.  The requests before the attach
 * have no backend hop (incomplete), every later one is linked to the backend hop that served
 * it: the offsets are aligned on requests both sides saw, never paired by order alone. */
static void test_late_server(void)
{
	struct synth_opts o = { .n = 60, .conc = 2, .preopened = true };
	struct synth s;
	struct pk_trace_paths *p = NULL;
	char err[128] = "";
	int64_t backend = -1;
	uint64_t cut = 0;
	size_t kept = 0, reads = 0;

	CHECK(synth_chain(&s, &o));
	for (size_t i = 0; i < s.nprocs; i++)
		if (s.procs[i].pid == SYN_BACKEND)
			backend = s.procs[i].id;
	for (size_t i = 0; i < s.nev && !cut; i++)
		if (s.ev[i].proc == backend && s.ev[i].rec.call == PK_TRACE_READ &&
		    s.ev[i].rec.peek[0] == 'G' && ++reads == 28)
			cut = s.ev[i].rec.ts_ns;
	CHECK(cut > 0);
	for (size_t i = 0; i < s.nev; i++)
		if (s.ev[i].proc != backend || s.ev[i].rec.ts_ns >= cut)
			s.ev[kept++] = s.ev[i];
	s.nev = kept;
	CHECK_EQ_INT(pk_trace_analyze(s.procs, s.nprocs, s.ev, s.nev, &p, err, sizeof(err)), 0);
	if (p) {
		int complete = 0;
		char url[32];

		for (size_t i = 0; i < p->npaths; i++) {
			const struct pk_trace_path *t = &p->paths[i];
			const struct pk_trace_hop *h = &p->hops[t->first_hop];
			int id = root_id(h);

			if (id < 0 || t->nhops < 2)
				continue;
			snprintf(url, sizeof(url), "/r/%d ", id);
			CHECK(has(&h[1], url)); /* never another request's backend hop */
			complete += t->complete;
		}
		CHECK(complete >= o.n - 30);
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

static void test_lost_record(void)
{
	struct synth_opts o = { .n = 8, .conc = 1 };
	struct synth s;
	struct pk_trace_paths *p = NULL;
	char err[128] = "";
	size_t lost, k = 0;
	int64_t backend = -1;

	CHECK(synth_chain(&s, &o));
	lost = s.nev;
	for (size_t i = 0; i < s.nprocs; i++)
		if (s.procs[i].pid == SYN_BACKEND)
			backend = s.procs[i].id;
	for (size_t i = 0; i < s.nev; i++) {
		const struct pk_trace_rec *r = &s.ev[i].rec;

		if (r->call == PK_TRACE_READ && s.ev[i].proc == backend && r->peek_len &&
		    r->peek[0] == '$' && k++ == 3)
			lost = i;
	}
	CHECK(lost < s.nev);
	if (lost < s.nev) {
		memmove(&s.ev[lost], &s.ev[lost + 1], (s.nev - lost - 1) * sizeof(*s.ev));
		s.nev--;
	}
	CHECK_EQ_INT(pk_trace_analyze(s.procs, s.nprocs, s.ev, s.nev, &p, err, sizeof(err)), 0);
	if (p) {
		int incomplete = -1;

		CHECK_EQ_INT(p->npaths, 8);
		CHECK_EQ_INT(p->ncomplete, 7);
		for (size_t i = 0; i < p->npaths; i++)
			if (!p->paths[i].complete)
				incomplete = root_id(&p->hops[p->paths[i].first_hop]);
		CHECK_EQ_INT(incomplete, 3);
		for (size_t i = 0; i < p->nprocs; i++) {
			const struct pk_trace_pproc *q = &p->procs[i];

			CHECK(!q->has_lo || !q->has_hi || q->lo_ns <= q->hi_ns);
			CHECK_EQ_INT(q->offset_ns, 0);
		}
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

static void test_drops_static(void)
{
	struct synth_opts o = { .n = 4, .conc = 2, .extras = true };
	struct synth s;
	struct pk_trace_paths *p = run(&o, &s);

	if (p) {
		CHECK_EQ_INT(p->dropped, 10);
		CHECK_EQ_INT(proc_of(p, 102)->dropped, 7);
		CHECK_EQ_INT(proc_of(p, SYN_BACKEND)->dropped, 3);
		CHECK_EQ_INT(p->nuntraceable, 1);
		if (p->nuntraceable) {
			CHECK_EQ_INT(p->untraceable[0].pid, SYN_MASTER);
			CHECK_STR(p->untraceable[0].path, "/x/static-bin");
		}
		check_chain(p, o.n, true, "byte-match+tcp-endpoints");
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

/* Two requests open on one event loop whose bytes share nothing with the call: "latest". */
static void test_latest(void)
{
	struct pk_trace_proc pr[2] = { { .id = 1, .pid = 10 }, { .id = 2, .pid = 20 } };
	struct synth s = { 0 };
	struct synth_side a = { .proc = 1, .fd = 5, .lport = 7000, .pport = 40001 };
	struct synth_side b = { .proc = 1, .fd = 6, .lport = 7000, .pport = 40002 };
	struct synth_side c = { .proc = 1, .fd = 7, .lport = 45000, .pport = 7100 };
	struct synth_side d = { .proc = 2, .fd = 5, .lport = 7100, .pport = 45000 };
	struct pk_trace_paths *p = NULL;

	snprintf(pr[0].comm, sizeof(pr[0].comm), "front");
	snprintf(pr[1].comm, sizeof(pr[1].comm), "back");
	synth_io(&s, &a, PK_TRACE_READ, 10, 100, "alpha request one");
	synth_io(&s, &b, PK_TRACE_READ, 10, 200, "bravo request two");
	synth_io(&s, &c, PK_TRACE_WRITE, 10, 300, "zzz");
	synth_io(&s, &d, PK_TRACE_READ, 20, 310, "zzz");
	synth_io(&s, &d, PK_TRACE_WRITE, 20, 320, "ok");
	synth_io(&s, &c, PK_TRACE_READ, 10, 330, "ok");
	synth_io(&s, &a, PK_TRACE_WRITE, 10, 400, "done1");
	synth_io(&s, &b, PK_TRACE_WRITE, 10, 410, "done2");
	CHECK(!s.oom);
	CHECK_EQ_INT(pk_trace_analyze(pr, 2, s.ev, s.nev, &p, NULL, 0), 0);
	if (p) {
		CHECK_EQ_INT(p->npaths, 2);
		CHECK_EQ_INT(p->nhops, 3);
		for (size_t i = 0; i < p->npaths; i++) {
			const struct pk_trace_path *t = &p->paths[i];

			if (t->nhops == 2) {
				CHECK(has(&p->hops[t->first_hop], "bravo"));
				CHECK_STR(p->hops[t->first_hop + 1].rule, "latest+tcp-endpoints");
				CHECK(p->hops[t->first_hop + 1].confidence == 0.5);
			}
		}
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

/* A thread-per-connection server attached while thread 12 waited in recv: that request went
 * unseen, and the call thread 12 makes for it must not join thread 11's open request (it is a
 * path of its own); thread 12's next request, seen, links its call same-thread. */
static void test_unseen_request(void)
{
	struct pk_trace_proc pr[2] = { { .id = 1, .pid = 10 }, { .id = 2, .pid = 20 } };
	struct synth s = { 0 };
	struct synth_side a = { .proc = 1, .fd = 5, .lport = 7000, .pport = 40001 };
	struct synth_side b = { .proc = 1, .fd = 6, .lport = 7000, .pport = 40002 };
	struct synth_side ca = { .proc = 1, .fd = 7, .lport = 45000, .pport = 7100 };
	struct synth_side cb = { .proc = 1, .fd = 8, .lport = 45001, .pport = 7100 };
	struct synth_side da = { .proc = 2, .fd = 5, .lport = 7100, .pport = 45000 };
	struct synth_side db = { .proc = 2, .fd = 6, .lport = 7100, .pport = 45001 };
	struct pk_trace_paths *p = NULL;

	snprintf(pr[0].comm, sizeof(pr[0].comm), "front");
	snprintf(pr[1].comm, sizeof(pr[1].comm), "back");
	synth_io(&s, &a, PK_TRACE_READ, 11, 100, "alpha request");
	b.in += 13; /* thread 12 read "bravo request" unseen */
	synth_io(&s, &ca, PK_TRACE_WRITE, 11, 200, "get alpha");
	synth_io(&s, &da, PK_TRACE_READ, 20, 210, "get alpha");
	synth_io(&s, &cb, PK_TRACE_WRITE, 12, 220, "get bravo");
	synth_io(&s, &db, PK_TRACE_READ, 20, 230, "get bravo");
	synth_io(&s, &da, PK_TRACE_WRITE, 20, 240, "A");
	synth_io(&s, &db, PK_TRACE_WRITE, 20, 250, "B");
	synth_io(&s, &ca, PK_TRACE_READ, 11, 260, "A");
	synth_io(&s, &cb, PK_TRACE_READ, 12, 270, "B");
	synth_io(&s, &b, PK_TRACE_WRITE, 12, 280, "done bravo");
	synth_io(&s, &a, PK_TRACE_WRITE, 11, 300, "done alpha");
	synth_io(&s, &b, PK_TRACE_READ, 12, 400, "charlie request");
	synth_io(&s, &cb, PK_TRACE_WRITE, 12, 410, "get charlie");
	synth_io(&s, &db, PK_TRACE_READ, 20, 420, "get charlie");
	synth_io(&s, &db, PK_TRACE_WRITE, 20, 430, "C");
	synth_io(&s, &cb, PK_TRACE_READ, 12, 440, "C");
	synth_io(&s, &b, PK_TRACE_WRITE, 12, 450, "done charlie");
	CHECK(!s.oom);
	CHECK_EQ_INT(pk_trace_analyze(pr, 2, s.ev, s.nev, &p, NULL, 0), 0);
	if (p) {
		CHECK_EQ_INT(p->nhops, 5);
		CHECK_EQ_INT(p->npaths, 3);
		for (size_t i = 0; i < p->npaths; i++) {
			const struct pk_trace_path *t = &p->paths[i];
			const struct pk_trace_hop *h = &p->hops[t->first_hop];

			if (has(h, "alpha") || has(h, "charlie")) {
				CHECK_EQ_INT(t->nhops, 2);
				CHECK(t->nhops == 2 &&
				      has(h + 1, has(h, "alpha") ? "get alpha" : "get charlie"));
				CHECK(t->nhops == 2 &&
				      !strcmp(h[1].rule, "same-thread+tcp-endpoints"));
			} else {
				CHECK(has(h, "get bravo"));
				CHECK_EQ_INT(t->nhops, 1);
			}
		}
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

/* Three pipelined redis commands in one write, their replies in one write: three hops, each
 * matched to its own call by byte offset, children of the request that made them. */
static void test_pipelined(void)
{
	struct pk_trace_proc pr[2] = { { .id = 1, .pid = 10 }, { .id = 2, .pid = 20 } };
	struct synth s = { 0 };
	struct synth_side front = { .proc = 1, .fd = 5, .lport = 8000, .pport = 40001 };
	struct synth_side c = { .proc = 1, .fd = 6, .lport = 45000, .pport = 6379 };
	struct synth_side r = { .proc = 2, .fd = 7, .lport = 6379, .pport = 45000 };
	const char *cmds = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"
			   "*1\r\n$4\r\nPING\r\n";
	const char *replies = "$1\r\nA\r\n$-1\r\n+PONG\r\n";
	struct pk_trace_paths *p = NULL;

	snprintf(pr[0].comm, sizeof(pr[0].comm), "app");
	snprintf(pr[1].comm, sizeof(pr[1].comm), "redis-server");
	synth_io(&s, &front, PK_TRACE_READ, 10, 100, "GET /x HTTP/1.1\r\n\r\n");
	synth_io(&s, &c, PK_TRACE_WRITE, 10, 200, cmds);
	synth_io(&s, &r, PK_TRACE_READ, 20, 210, cmds);
	synth_io(&s, &r, PK_TRACE_WRITE, 20, 220, replies);
	synth_io(&s, &c, PK_TRACE_READ, 10, 230, replies);
	synth_io(&s, &front, PK_TRACE_WRITE, 10, 300, "HTTP/1.1 204 No Content\r\n\r\n");
	CHECK(!s.oom);
	CHECK_EQ_INT(pk_trace_analyze(pr, 2, s.ev, s.nev, &p, NULL, 0), 0);
	if (p) {
		CHECK_EQ_INT(p->npaths, 1);
		CHECK_EQ_INT(p->ncomplete, 1);
		CHECK_EQ_INT(p->nhops, 4);
		if (p->nhops == 4) {
			CHECK(has(&p->hops[1], "\r\na\r\n"));
			CHECK(has(&p->hops[2], "\r\nb\r\n"));
			CHECK(has(&p->hops[3], "PING"));
			for (int i = 1; i < 4; i++) {
				CHECK_EQ_INT(p->hops[i].parent, 0);
				CHECK_STR(p->hops[i].rule, "same-thread+tcp-endpoints");
			}
		}
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

/* Garbage never crashes: unknown process rows, calls out of range, no records at all. */
/* A DNS message (header and one question) for name "<label>.test", into buf; its length. */
static size_t dns_msg(uint8_t *buf, uint16_t id, bool answer, const char *label, uint16_t qtype)
{
	size_t n = 0, l = strlen(label);

	buf[n++] = (uint8_t)(id >> 8);
	buf[n++] = (uint8_t)id;
	buf[n++] = answer ? 0x81 : 0x01; /* QR, opcode QUERY, RD */
	buf[n++] = answer ? 0x80 : 0x00;
	memcpy(buf + n, answer ? "\0\1\0\1\0\0\0\0" : "\0\1\0\0\0\0\0\0", 8);
	n += 8;
	buf[n++] = (uint8_t)l;
	memcpy(buf + n, label, l);
	n += l;
	memcpy(buf + n, "\4test\0", 6);
	n += 6;
	buf[n++] = (uint8_t)(qtype >> 8);
	buf[n++] = (uint8_t)qtype;
	buf[n++] = 0;
	buf[n++] = 1;
	return n;
}

/* A datagram of proc on fd (local port lport, address 127.0.0.1 or the wildcard) with peer
 * 127.0.0.1:pport. */
static void dgram(struct synth *s, int64_t proc, int fd, uint16_t lport, bool wildcard,
		  uint16_t pport, uint8_t call, uint64_t ts, uint64_t off, const uint8_t *msg,
		  size_t len)
{
	struct pk_trace_rec *r = synth_rec(s, proc, call, (uint32_t)proc, ts);

	if (!r)
		return;
	r->fd = fd;
	r->flags = PK_TRACE_F_DGRAM | PK_TRACE_F_FROM_START;
	synth_addr(&r->local, lport);
	if (wildcard)
		memset(r->local.addr, 0, sizeof(r->local.addr));
	synth_addr(&r->peer, pport);
	r->ret = (int64_t)len;
	r->offset = off;
	r->peek_len = (uint16_t)len;
	memcpy(r->peek, msg, len);
}

/* DNS over UDP: an HTTP front end (pid 400) resolves names through one unconnected socket
 * (two queries at once, then another for the next request, whose id begins with '*') against a
 * server on port 5353 bound to the wildcard address (pid 500) that answers out of order; another
 * client (pid 401, not a server) reuses the first query id.  Each query pairs with its own
 * answer by peer and id, is DNS whatever its first bytes, and each front-end request's path
 * holds exactly its own lookups. */
static void test_dns_udp(void)
{
	struct synth s;
	struct pk_trace_paths *p = NULL;
	struct synth_side front[2];
	uint8_t m[64];
	size_t n;
	uint64_t coff = 0, soff = 0, t;
	char err[128] = "";
	static const struct {
		int front;   /* request of the front end it serves, -1: pid 401's */
		uint16_t id; /* query id */
		const char *name;
		uint16_t qtype;
		uint64_t q_us, a_us; /* when the server reads the query, writes the answer */
	} qs[] = {
		{ 0, 0x1234, "a", 1, 3200, 3500 },
		{ 0, 0x1235, "a", 28, 3300, 3400 },
		{ -1, 0x1234, "z", 1, 3350, 3450 },
		{ 1, 0x2a47, "b", 1, 11200, 11300 }, /* "*G": not RESP, not HTTP */
	};

	memset(&s, 0, sizeof(s));
	synth_proc(&s, 1, 400, 1, 0, "front", "/usr/bin/front", 0, 0);
	synth_proc(&s, 2, 500, 1, 0, "dnsmasq", "/usr/sbin/dnsmasq", 0, 0);
	synth_proc(&s, 3, 401, 1, 0, "dig", "/usr/bin/dig", 0, 0);
	for (int r = 0; r < 2; r++) {
		char get[32];

		t = (uint64_t)(1 + 9 * r) * SYN_MS;
		front[r] =
			(struct synth_side){ .proc = 1,
					     .fd = 5 + r,
					     .lport = 8080,
					     .pport = (uint16_t)(50000 + r),
					     .flags = PK_TRACE_F_FROM_START | PK_TRACE_F_SERVER };
		synth_io(&s, &front[r], PK_TRACE_ACCEPT, 400, t, NULL);
		snprintf(get, sizeof(get), "GET /%c HTTP/1.1\r\n\r\n", 'a' + r);
		synth_io(&s, &front[r], PK_TRACE_READ, 400, t + SYN_MS, get);
		synth_io(&s, &front[r], PK_TRACE_WRITE, 400, t + 3 * SYN_MS,
			 "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	}
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		int64_t cp = qs[i].front < 0 ? 3 : 1;
		uint16_t cport = qs[i].front < 0 ? 40001 : 40000;
		uint64_t q = qs[i].q_us * SYN_US, a = qs[i].a_us * SYN_US;

		n = dns_msg(m, qs[i].id, false, qs[i].name, qs[i].qtype);
		dgram(&s, cp, 7, cport, false, 5353, PK_TRACE_WRITE, q - 100 * SYN_US, coff, m, n);
		dgram(&s, 2, 4, 5353, true, cport, PK_TRACE_READ, q, soff, m, n);
		n = dns_msg(m, qs[i].id, true, qs[i].name, qs[i].qtype);
		dgram(&s, 2, 4, 5353, true, cport, PK_TRACE_WRITE, a, soff, m, n);
		dgram(&s, cp, 7, cport, false, 5353, PK_TRACE_READ, a + 50 * SYN_US, coff, m, n);
		coff += n;
		soff += n;
	}
	CHECK(!s.oom);
	CHECK_EQ_INT(pk_trace_analyze(s.procs, s.nprocs, s.ev, s.nev, &p, err, sizeof(err)), 0);
	if (p) {
		int front_paths = 0, dns_roots = 0;

		CHECK_EQ_INT(p->npaths, 3); /* two front-end requests, pid 401's lookup */
		for (size_t i = 0; i < p->npaths; i++) {
			const struct pk_trace_path *tp = &p->paths[i];
			const struct pk_trace_hop *h = &p->hops[tp->first_hop];

			CHECK(tp->complete);
			if (h->pid == 500) {
				dns_roots++;
				CHECK_EQ_INT(h->proto, PK_TRACE_PROTO_DNS);
				CHECK(memmem(h->request, h->request_len, "\1z\4test", 7) != NULL);
				CHECK_EQ_INT(h->end_ns - h->start_ns, 100 * SYN_US);
				continue;
			}
			CHECK_EQ_INT(h->pid, 400);
			int r = has(h, "GET /b") ? 1 : 0;

			front_paths++;
			CHECK_EQ_INT(tp->nhops, r ? 2 : 3);
			for (size_t k = 1; k < tp->nhops; k++) {
				const struct pk_trace_hop *d = &h[k];

				CHECK_EQ_INT(d->pid, 500);
				CHECK_EQ_INT(d->proto, PK_TRACE_PROTO_DNS);
				CHECK_EQ_INT(d->parent, 0);
				CHECK(memmem(d->request, d->request_len,
					     r ? "\1b\4test" : "\1a\4test", 7) != NULL);
				/* each query's own answer: 300 us for A, 100 us for AAAA (answered
				 * first) */
				uint16_t qt = (uint16_t)(d->request[d->request_len - 4] << 8 |
							 d->request[d->request_len - 3]);

				CHECK_EQ_INT(d->end_ns - d->start_ns, qt == 28 ? 100 * SYN_US
								      : r      ? 100 * SYN_US
									       : 300 * SYN_US);
			}
		}
		CHECK_EQ_INT(front_paths, 2);
		CHECK_EQ_INT(dns_roots, 1);
	}
	pk_trace_paths_free(p);
	free(s.ev);
}

static void test_bad_input(void)
{
	struct synth_opts o = { .n = 4, .conc = 2 };
	struct synth s;
	struct pk_trace_paths *p = NULL;
	uint32_t x = 12345;

	CHECK(synth_chain(&s, &o));
	CHECK_EQ_INT(pk_trace_analyze(s.procs, 0, NULL, 0, &p, NULL, 0), 0);
	CHECK(p && p->npaths == 0);
	pk_trace_paths_free(p);
	for (size_t i = 0; i < s.nev; i++) {
		uint8_t *b = (uint8_t *)&s.ev[i].rec;

		for (size_t j = 0; j < 8; j++) {
			x = x * 1103515245 + 12345;
			b[(x >> 8) % sizeof(s.ev[i].rec)] = (uint8_t)(x >> 16);
		}
		if (i % 7 == 0)
			s.ev[i].proc = 99;
		if (i % 5 == 0)
			s.ev[i].rec.peek_len = (uint16_t)(x >> 4);
	}
	p = NULL;
	CHECK_EQ_INT(pk_trace_analyze(s.procs, s.nprocs, s.ev, s.nev, &p, NULL, 0), 0);
	CHECK(p != NULL);
	pk_trace_paths_free(p);
	free(s.ev);
}

int main(void)
{
	UNIT_RUN(test_chain);
	UNIT_RUN(test_sequential);
	UNIT_RUN(test_skew);
	UNIT_RUN(test_skew_huge);
	UNIT_RUN(test_preopened);
	UNIT_RUN(test_preopened_high_port);
	UNIT_RUN(test_untraced_peer);
	UNIT_RUN(test_incomplete);
	UNIT_RUN(test_drops_static);
	UNIT_RUN(test_lost_record);
	UNIT_RUN(test_late_server);
	UNIT_RUN(test_latest);
	UNIT_RUN(test_unseen_request);
	UNIT_RUN(test_pipelined);
	UNIT_RUN(test_dns_udp);
	UNIT_RUN(test_bad_input);
	return unit_done();
}
