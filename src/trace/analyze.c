/* analyze.c — the path builder (analyze.h).  Every step is linear or n log n in the records:
 * one sort of record indices by (pid, ts), hash tables keyed by pid+fd and by endpoints, a
 * sweep per pid to find the hops open when a call starts.  No step compares all pairs. */
#include "trace/analyze.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/errbuf.h"
#include "proto/msg.h"

/* Linux's default ip_local_port_range: the source ports of connections */
#define EPHEMERAL_MIN 32768
#define EPHEMERAL_MAX 60999
#define TOKEN_RUN 8 /* equal bytes that tie a call's request to a hop's */

enum rule { R_SAME_THREAD, R_BYTE_MATCH, R_LATEST, R_TCP_ENDPOINTS, R_TCP_ORDER, R_ROOT };
static const char *const rule_names[PK_TRACE_NRULES] = {
	"same-thread", "byte-match", "latest", "tcp-endpoints", "tcp-order", "root",
};

const char *pk_trace_rule_name(size_t i)
{
	return i < PK_TRACE_NRULES ? rule_names[i] : NULL;
}

const char *pk_trace_proto_name(enum pk_trace_proto p)
{
	static const char *const names[] = { "raw", "http", "resp", "mysql", "memcached", "dns" };

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "raw";
}

/* A run of records in one direction on one connection. */
struct burst {
	int conn;
	bool out;
	uint32_t tid;
	uint64_t t0, t1, off, bytes;
	const uint8_t *peek; /* the first bytes moved: the first record's peek, or (when records
				each held whole were merged) a buffer of an.peeks */
	uint16_t plen;
	uint16_t nrec; /* records merged (saturates) */
	bool cut;      /* the first record moved more than its peek holds */
	bool gap;      /* records of the connection were lost around it (their bytes are missing) */
};

struct conn {
	int32_t pid;
	size_t proc;
	uint32_t flags;	 /* OR of the records' flags */
	uint64_t t_last; /* its last record (CLOSE included) */
	struct pk_trace_addr local, peer;
	bool server;
	int last_burst;	      /* while building */
	uint64_t next_off[2]; /* while building: where the next read [0] / write [1] should start */
	bool off_seen[2];
	int ex0, nex;	/* its exchanges */
	int ep_next;	/* chain of the endpoint table */
	int local_next; /* chain of the local-endpoint table */
	int first_burst;
	bool dgram; /* one peer (and DNS query id) of a datagram socket: offsets its own */
	enum pk_trace_proto proto;
};

/* A request and its response (server side: a hop; client side: a call). */
struct exch {
	int conn;
	int req, resp; /* bursts, -1 when missing */
	int parent;    /* call: the hop (exch) it was made for; hop: the call it serves */
	int match;     /* call: the server exch it reached */
	enum rule link, tcp;
	double conf;
	int path_hop; /* hop: its index in the output */
	bool bad;     /* hop: something under it is missing */
};

/* Open-addressing table from a 64-bit key to an int (-1: empty). */
struct htab {
	uint64_t *keys;
	int *vals;
	size_t mask;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static int htab_init(struct htab *h, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 16)
		cap <<= 1;
	h->keys = calloc(cap, sizeof(*h->keys));
	h->vals = malloc(cap * sizeof(*h->vals));
	if (!h->keys || !h->vals)
		return -ENOMEM;
	memset(h->vals, 0xff, cap * sizeof(*h->vals));
	h->mask = cap - 1;
	return 0;
}

static void htab_release(struct htab *h)
{
	free(h->keys);
	free(h->vals);
}

/* The slot of key (found, or the empty one where it goes). */
static size_t htab_slot(const struct htab *h, uint64_t key)
{
	size_t i = mix64(key) & h->mask;

	while (h->vals[i] != -1 && h->keys[i] != key)
		i = (i + 1) & h->mask;
	return i;
}

/* IPv4-mapped IPv6 becomes IPv4, so both sides of a connection compare equal. */
static struct pk_trace_addr addr_norm(const struct pk_trace_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct pk_trace_addr n = *a;

	if (n.family == AF_INET6 && memcmp(n.addr, mapped, 12) == 0) {
		n.family = AF_INET;
		memmove(n.addr, n.addr + 12, 4);
	}
	if (n.family == AF_INET)
		memset(n.addr + 4, 0, 12);
	if (n.family != AF_INET && n.family != AF_INET6)
		memset(&n, 0, sizeof(n));
	return n;
}

static bool addr_known(const struct pk_trace_addr *a)
{
	return a->family == AF_INET || a->family == AF_INET6;
}

static bool addr_eq(const struct pk_trace_addr *a, const struct pk_trace_addr *b)
{
	return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, 16) == 0;
}

static uint64_t addr_hash(const struct pk_trace_addr *a)
{
	uint64_t h = a->family * 0x9e3779b97f4a7c15ULL ^ a->port;

	for (int i = 0; i < 16; i += 8) {
		uint64_t w;

		memcpy(&w, a->addr + i, 8);
		h = mix64(h ^ w);
	}
	return h;
}

/* Whether a datagram looks like a DNS message: a whole header, opcode QUERY, one question. */
static bool dns_like(const uint8_t *pk, size_t plen)
{
	return plen >= 12 && ((pk[2] >> 3) & 0xf) == 0 && pk[4] == 0 && pk[5] == 1;
}

/* The connection key of a datagram record of pid: the socket, its peer and, for DNS, the
 * query id, so that each query and its answer pair up even when one socket serves many
 * clients (a server) or many queries (a resolver).  The top bit keeps it apart from the
 * pid<<32|fd keys of stream sockets. */
static uint64_t dgram_key(int32_t pid, const struct pk_trace_rec *r)
{
	struct pk_trace_addr peer = addr_norm(&r->peer);
	uint64_t id =
		dns_like(r->peek, r->peek_len) ? (uint64_t)(r->peek[0] << 8 | r->peek[1]) + 1 : 0;

	return mix64(((uint64_t)(uint32_t)pid << 32 | (uint32_t)r->fd) ^
		     mix64(addr_hash(&peer) + (id << 40))) |
	       1ULL << 63;
}

static enum pk_trace_proto detect(const struct conn *c, const struct burst *req,
				  const struct burst *first)
{
	static const char *const methods[] = { "GET ",	 "POST ",    "PUT ",	 "DELETE ", "HEAD ",
					       "PATCH ", "OPTIONS ", "CONNECT ", "TRACE " };
	static const char *const mc[] = { "get ",     "gets ",	   "set ",	  "add ",
					  "replace ", "append ",   "prepend ",	  "cas ",
					  "delete ",  "incr ",	   "decr ",	  "touch ",
					  "gat ",     "gats ",	   "mg ",	  "ms ",
					  "md ",      "ma ",	   "version\r\n", "flush_all",
					  "quit\r\n", "verbosity " };
	const uint8_t *pk = req ? req->peek : NULL;
	size_t plen = req ? req->plen : 0;

	if ((c->flags & PK_TRACE_F_DGRAM) && (c->local.port == 53 || c->peer.port == 53))
		return PK_TRACE_PROTO_DNS;
	/* a DNS message on any port (a query id may begin with '*' or "GE") */
	if ((c->flags & PK_TRACE_F_DGRAM) && pk && dns_like(pk, plen))
		return PK_TRACE_PROTO_DNS;
	if (first && first->out == c->server && first->plen >= 5 && first->peek[3] == 0 &&
	    first->peek[4] == 10)
		return PK_TRACE_PROTO_MYSQL; /* the server spoke first: a greeting */
	if (!pk || plen == 0)
		return PK_TRACE_PROTO_RAW;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (plen >= strlen(methods[i]) && memcmp(pk, methods[i], strlen(methods[i])) == 0)
			return PK_TRACE_PROTO_HTTP;
	if (pk[0] == '*')
		return PK_TRACE_PROTO_RESP;
	for (size_t i = 0; i < sizeof(mc) / sizeof(mc[0]); i++)
		if (plen >= strlen(mc[i]) && memcmp(pk, mc[i], strlen(mc[i])) == 0)
			return PK_TRACE_PROTO_MEMCACHED;
	if (c->flags & PK_TRACE_F_DGRAM)
		return PK_TRACE_PROTO_DNS;
	return PK_TRACE_PROTO_RAW;
}

/* The working state of one analysis. */
struct an {
	const struct pk_trace_proc *procs;
	size_t nprocs;
	const struct pk_trace_ev *ev;
	size_t nev;
	size_t *prow;		   /* index of each proc row in pprocs */
	struct pk_trace_pproc *pp; /* one per pid */
	size_t npp;
	struct conn *conns;
	size_t nconns, capconns;
	struct burst *bursts;
	size_t nbursts, capbursts;
	struct exch *ex;
	size_t nex, capex;
	uint8_t **peeks; /* the bursts' own peek buffers (PK_TRACE_PEEK bytes each) */
	size_t npeeks, cappeeks;
	struct pk_trace_paths *out;
};

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 1024;
	void *p = realloc(*arr, nc * size);

	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = nc;
	return 0;
}

/* Appends record r's peek to burst b's (into a buffer of its own, made on first use).  0 or
 * -ENOMEM. */
static int peek_append(struct an *a, struct burst *b, const struct pk_trace_rec *r)
{
	size_t n = r->peek_len < PK_TRACE_PEEK - b->plen ? r->peek_len : PK_TRACE_PEEK - b->plen;
	uint8_t *own;

	if (b->nrec == 1) { /* still the record's own peek */
		if (grow((void **)&a->peeks, &a->cappeeks, a->npeeks, sizeof(*a->peeks)) ||
		    !(own = malloc(PK_TRACE_PEEK)))
			return -ENOMEM;
		memcpy(own, b->peek, b->plen);
		a->peeks[a->npeeks++] = own;
		b->peek = own;
	}
	memcpy((uint8_t *)b->peek + b->plen, r->peek, n);
	b->plen = (uint16_t)(b->plen + n);
	return 0;
}

static int cmp_row(const void *a, const void *b, void *arg)
{
	const struct pk_trace_proc *p = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return p[x].id < p[y].id ? -1 : p[x].id > p[y].id;
}

/* pprocs: one per pid, named by its latest hello; prow maps row index -> pproc. */
static int build_procs(struct an *a)
{
	uint64_t *latest = calloc(a->nprocs + 1, sizeof(*latest));
	struct htab pids = { 0 };
	int rc = -ENOMEM;

	a->pp = calloc(a->nprocs + 1, sizeof(*a->pp));
	a->prow = calloc(a->nprocs + 1, sizeof(*a->prow));
	if (!latest || !a->pp || !a->prow || htab_init(&pids, a->nprocs))
		goto out;
	for (size_t i = 0; i < a->nprocs; i++) {
		const struct pk_trace_proc *p = &a->procs[i];
		size_t slot = htab_slot(&pids, (uint64_t)(uint32_t)p->pid);
		size_t j;

		if (pids.vals[slot] < 0) {
			j = a->npp++;
			pids.keys[slot] = (uint64_t)(uint32_t)p->pid;
			pids.vals[slot] = (int)j;
			a->pp[j].pid = p->pid;
			a->pp[j].wall_base_ns = (int64_t)(p->real_ns - p->mono_ns);
		} else {
			j = (size_t)pids.vals[slot];
		}
		struct pk_trace_pproc *q = &a->pp[j];

		if (!q->comm[0] || p->mono_ns >= latest[j]) {
			latest[j] = p->mono_ns;
			memcpy(q->comm, p->comm, sizeof(q->comm));
			q->comm[sizeof(q->comm) - 1] = 0;
			memcpy(q->exe, p->exe, sizeof(q->exe));
			q->exe[sizeof(q->exe) - 1] = 0;
		}
		q->dropped += p->dropped;
		a->prow[i] = j;
	}
	rc = 0;
out:
	free(latest);
	htab_release(&pids);
	return rc;
}

/* The proc row index of a record's proc id (binary search in sorted ids). */
static long row_of(const struct pk_trace_proc *procs, const size_t *sorted, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (procs[sorted[mid]].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && procs[sorted[lo]].id == id ? (long)sorted[lo] : -1;
}

struct evk {
	int32_t pid;
	uint32_t pp;
	uint64_t ts;
	size_t i;
};

static int cmp_evk(const void *a, const void *b)
{
	const struct evk *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int new_conn(struct an *a, int32_t pid, size_t pp, const struct pk_trace_rec *r)
{
	if (grow((void **)&a->conns, &a->capconns, a->nconns, sizeof(*a->conns)))
		return -1;
	struct conn *c = &a->conns[a->nconns];

	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->proc = pp;
	c->local = addr_norm(&r->local);
	c->peer = addr_norm(&r->peer);
	c->last_burst = c->first_burst = -1;
	c->ep_next = c->local_next = -1;
	return (int)a->nconns++;
}

/* Pass 1: records -> connections and bursts; STATIC and DROPS noted. */
static int build_conns(struct an *a)
{
	size_t *sorted = malloc((a->nprocs + 1) * sizeof(*sorted));
	struct evk *k = malloc((a->nev + 1) * sizeof(*k));
	struct htab fds = { 0 };
	size_t nk = 0, nun = 0, capun = 0;
	int rc = -ENOMEM;

	if (!sorted || !k || htab_init(&fds, a->nev))
		goto out;
	for (size_t i = 0; i < a->nprocs; i++)
		sorted[i] = i;
	qsort_r(sorted, a->nprocs, sizeof(*sorted), cmp_row, (void *)a->procs);
	for (size_t i = 0; i < a->nev; i++) {
		long row = row_of(a->procs, sorted, a->nprocs, a->ev[i].proc);

		/* what the wire parser refuses is ignored here too (never trusted) */
		if (row < 0 || a->ev[i].rec.call == 0 || a->ev[i].rec.call >= PK_TRACE_CALL_MAX ||
		    a->ev[i].rec.peek_len > PK_TRACE_PEEK)
			continue;
		k[nk].pid = a->procs[row].pid;
		k[nk].pp = (uint32_t)a->prow[row];
		k[nk].ts = a->ev[i].rec.ts_ns;
		k[nk].i = i;
		nk++;
	}
	qsort(k, nk, sizeof(*k), cmp_evk);
	for (size_t j = 0; j < nk; j++) {
		const struct pk_trace_rec *r = &a->ev[k[j].i].rec;
		struct pk_trace_pproc *pp = &a->pp[k[j].pp];
		uint64_t key = (uint64_t)(uint32_t)k[j].pid << 32 | (uint32_t)r->fd;
		size_t slot;
		int ci;

		switch (r->call) {
		case PK_TRACE_DROPS:
			pp->dropped += r->ret > 0 ? (uint64_t)r->ret : 0;
			continue;
		case PK_TRACE_STATIC:
			if (grow((void **)&a->out->untraceable, &capun, nun,
				 sizeof(*a->out->untraceable)))
				goto out;
			a->out->untraceable[nun].pid = k[j].pid;
			memcpy(a->out->untraceable[nun].path, r->peek, r->peek_len);
			a->out->untraceable[nun].path[r->peek_len] = 0;
			a->out->nuntraceable = ++nun;
			continue;
		case PK_TRACE_ACCEPT:
		case PK_TRACE_CONNECT:
			if (r->ret < 0 && r->ret != -EINPROGRESS)
				continue;
			slot = htab_slot(&fds, key);
			if ((ci = new_conn(a, k[j].pid, k[j].pp, r)) < 0)
				goto out;
			a->conns[ci].flags |=
				r->flags | (r->call == PK_TRACE_ACCEPT ? PK_TRACE_F_SERVER
								       : PK_TRACE_F_CLIENT);
			fds.keys[slot] = key;
			fds.vals[slot] = ci;
			continue;
		case PK_TRACE_CLOSE:
			slot = htab_slot(&fds, key);
			if (fds.vals[slot] >= 0) {
				a->conns[fds.vals[slot]].t_last = r->ts_ns;
				fds.vals[slot] = -2; /* a tombstone: keeps probe chains intact */
			}
			continue;
		case PK_TRACE_DUP: {
			slot = htab_slot(&fds, key);
			int from = fds.vals[slot];
			uint64_t nkey = (uint64_t)(uint32_t)k[j].pid << 32 | (uint32_t)r->arg;

			if (from < 0)
				continue;
			slot = htab_slot(&fds, nkey);
			fds.keys[slot] = nkey;
			fds.vals[slot] = from;
			continue;
		}
		case PK_TRACE_READ:
		case PK_TRACE_WRITE:
			break;
		default:
			continue;
		}
		if (r->ret <= 0)
			continue;
		bool dg = (r->flags & PK_TRACE_F_DGRAM) && addr_known(&r->peer);

		if (dg)
			key = dgram_key(k[j].pid, r);
		slot = htab_slot(&fds, key);
		ci = fds.vals[slot];
		if (ci < 0) {
			if ((ci = new_conn(a, k[j].pid, k[j].pp, r)) < 0)
				goto out;
			a->conns[ci].dgram = dg;
			fds.keys[slot] = key;
			fds.vals[slot] = ci;
		}
		struct conn *c = &a->conns[ci];
		bool out = r->call == PK_TRACE_WRITE;
		/* a datagram conn's offsets count its own messages (the socket's are shared) */
		uint64_t off = c->dgram ? c->next_off[out] : r->offset;

		c->flags |= r->flags;
		c->t_last = r->ts_ns;
		if (!addr_known(&c->peer) && addr_known(&r->peer)) {
			c->local = addr_norm(&r->local);
			c->peer = addr_norm(&r->peer);
		}
		/* a jump forward in a direction's bytes: its records in between were lost (a full
		 * ring), maybe inside the other direction's last burst too, which then may join two
		 * messages: neither burst is trusted */
		bool gap = c->off_seen[out] && off > c->next_off[out];

		if (!c->off_seen[out] || off + (uint64_t)r->ret > c->next_off[out])
			c->next_off[out] = off + (uint64_t)r->ret;
		c->off_seen[out] = true;
		if (gap && c->last_burst >= 0)
			a->bursts[c->last_burst].gap = true;
		/* (each datagram is a message of its own: never joined to the one before) */
		if (!gap && !c->dgram && c->last_burst >= 0 &&
		    a->bursts[c->last_burst].out == out) {
			struct burst *b = &a->bursts[c->last_burst];

			/* a message read in pieces (a MySQL server reads the 4-byte header, then
			 * the rest): while every byte so far is in the peek, the next ones join it
			 */
			if (b->plen == b->bytes && b->plen < PK_TRACE_PEEK && r->peek_len &&
			    peek_append(a, b, r))
				goto out;

			b->t1 = r->ts_ns;
			b->bytes += (uint64_t)r->ret;
			b->cut = b->plen < b->bytes;
			if (b->nrec < UINT16_MAX)
				b->nrec++;
			continue;
		}
		if (grow((void **)&a->bursts, &a->capbursts, a->nbursts, sizeof(*a->bursts)))
			goto out;
		a->bursts[a->nbursts] =
			(struct burst){ .conn = ci,
					.out = out,
					.tid = r->tid,
					.t0 = r->ts_ns,
					.t1 = r->ts_ns,
					.off = off,
					.bytes = (uint64_t)r->ret,
					.peek = r->peek,
					.plen = r->peek_len,
					.nrec = 1,
					.gap = gap,
					.cut = (r->flags & PK_TRACE_F_PEEK_CUT) != 0 ||
					       (uint64_t)r->ret != r->peek_len };
		c->last_burst = (int)a->nbursts++;
		if (c->first_burst < 0)
			c->first_burst = c->last_burst;
	}
	rc = 0;
out:
	free(sorted);
	free(k);
	htab_release(&fds);
	return rc;
}

static bool port_in(const struct htab *ports, uint16_t port)
{
	return ports->vals[htab_slot(ports, (uint64_t)port + 1)] >= 0;
}

#define SPLIT_MAX 16 /* pipelined messages split out of one burst */

/* Where the messages of burst b end (ends[]), when its one record's bytes are all in its peek
 * and the src/proto framer cuts them into whole messages; 0 when it cannot tell. */
static size_t split_msgs(const struct burst *b, enum pk_trace_proto proto, bool response,
			 uint16_t *ends)
{
	struct pk_msgr m;
	size_t pos = 0, n = 0;

	if (b->nrec != 1 || b->cut ||
	    (proto != PK_TRACE_PROTO_RESP && proto != PK_TRACE_PROTO_HTTP))
		return 0;
	pk_msgr_init(&m, proto == PK_TRACE_PROTO_HTTP ? PK_PROTO_HTTP : PK_PROTO_RESP, response);
	while (pos < b->plen) {
		enum pk_msg_event ev;
		size_t used = pk_msgr_feed(&m, (const char *)b->peek + pos, b->plen - pos, &ev);

		pos += used;
		if (ev == PK_MSG_LOST || used == 0)
			return 0;
		if (ev == PK_MSG_END) {
			if (n == SPLIT_MAX)
				return 0;
			ends[n++] = (uint16_t)pos;
		}
	}
	return n && ends[n - 1] == b->plen ? n : 0;
}

/* A new burst: message i of burst b (cut at ends[]); its index, or -1 (out of memory). */
static int sub_burst(struct an *a, int b, const uint16_t *ends, size_t i)
{
	uint16_t from = i ? ends[i - 1] : 0;
	struct burst x;

	if (grow((void **)&a->bursts, &a->capbursts, a->nbursts, sizeof(*a->bursts)))
		return -1;
	x = a->bursts[b];
	x.off += from;
	x.bytes = (uint64_t)(ends[i] - from);
	x.peek += from;
	x.plen = (uint16_t)(ends[i] - from);
	a->bursts[a->nbursts] = x;
	return (int)a->nbursts++;
}

/* Adds the exchange (req, resp) of connection ci (bursts or -1) — or one per message when
 * both are pipelined messages that the framers count alike.  0 or -ENOMEM. */
static int add_exchanges(struct an *a, int ci, int req, int resp)
{
	const struct conn *c = &a->conns[ci];
	uint16_t qe[SPLIT_MAX], re[SPLIT_MAX];
	size_t nq = req >= 0 && resp >= 0 ? split_msgs(&a->bursts[req], c->proto, false, qe) : 0;
	size_t nr = nq > 1 ? split_msgs(&a->bursts[resp], c->proto, true, re) : 0;
	size_t n = nq > 1 && nq == nr ? nq : 1;

	for (size_t i = 0; i < n; i++) {
		int q = req, r = resp;

		if (n > 1 &&
		    ((q = sub_burst(a, req, qe, i)) < 0 || (r = sub_burst(a, resp, re, i)) < 0))
			return -ENOMEM;
		if (grow((void **)&a->ex, &a->capex, a->nex, sizeof(*a->ex)))
			return -ENOMEM;
		a->ex[a->nex++] = (struct exch){
			.conn = ci, .req = q, .resp = r, .parent = -1, .match = -1, .path_hop = -1
		};
	}
	return 0;
}

static bool ephemeral(uint16_t port)
{
	return port >= EPHEMERAL_MIN && port <= EPHEMERAL_MAX;
}

/* Pass 2: which side of each connection this process is, then its exchanges. */
static int build_exchanges(struct an *a)
{
	struct htab ports = { 0 };
	int *cnt = calloc(a->nconns + 1, sizeof(*cnt));
	int *order = malloc((a->nbursts + 1) * sizeof(*order));
	int rc = -ENOMEM;

	if (!cnt || !order || htab_init(&ports, a->nconns))
		goto out;
	for (size_t i = 0; i < a->nconns; i++)
		if ((a->conns[i].flags & PK_TRACE_F_SERVER) && a->conns[i].local.port) {
			size_t s = htab_slot(&ports, (uint64_t)a->conns[i].local.port + 1);

			ports.keys[s] = (uint64_t)a->conns[i].local.port + 1;
			ports.vals[s] = 1;
		}
	for (size_t i = 0; i < a->nconns; i++) {
		struct conn *c = &a->conns[i];
		const struct burst *b0 = c->first_burst >= 0 ? &a->bursts[c->first_burst] : NULL;

		if (c->dgram && b0 && dns_like(b0->peek, b0->plen))
			c->server = b0->out == ((b0->peek[2] & 0x80) != 0); /* got a query (QR 0) */
		else if (c->flags & PK_TRACE_F_SERVER)
			c->server = true;
		else if (c->flags & PK_TRACE_F_CLIENT)
			c->server = false;
		else if (port_in(&ports, c->local.port))
			c->server = true;
		else if (port_in(&ports, c->peer.port))
			c->server = false;
		else
			/* a port outside the range the kernel picks source ports from serves;
			 * when both or neither are, the lower one */
			c->server = c->local.port &&
				    (ephemeral(c->local.port) == ephemeral(c->peer.port)
					     ? c->local.port < c->peer.port
					     : !ephemeral(c->local.port));
	}
	/* the bursts of each connection, in order (a stable counting sort) */
	for (size_t i = 0; i < a->nbursts; i++)
		cnt[a->bursts[i].conn + 1]++;
	for (size_t i = 1; i <= a->nconns; i++)
		cnt[i] += cnt[i - 1];
	for (size_t i = 0; i < a->nbursts; i++)
		order[cnt[a->bursts[i].conn]++] = (int)i;
	/* cnt[c] is now the end of connection c's run */
	for (size_t ci = 0, b = 0; ci < a->nconns; ci++) {
		struct conn *c = &a->conns[ci];
		size_t end = (size_t)cnt[ci], f;
		int first = b < end ? order[b] : -1, req0 = -1;

		for (f = b; f < end && req0 < 0; f++)
			if (a->bursts[order[f]].out != c->server)
				req0 = order[f];
		c->proto = detect(c, req0 >= 0 ? &a->bursts[req0] : NULL,
				  first >= 0 ? &a->bursts[first] : NULL);
		c->ex0 = (int)a->nex;
		while (b < end) {
			bool is_req = a->bursts[order[b]].out != c->server;
			int req = is_req ? order[b++] : -1;
			/* (two requests in a row: records were lost between them) */
			int resp =
				b < end && a->bursts[order[b]].out == c->server ? order[b++] : -1;

			if (add_exchanges(a, (int)ci, req, resp))
				goto out;
		}
		c->nex = (int)a->nex - c->ex0;
	}
	rc = 0;
out:
	htab_release(&ports);
	free(cnt);
	free(order);
	return rc;
}

static const struct burst *req_of(const struct an *a, int e)
{
	return a->ex[e].req >= 0 ? &a->bursts[a->ex[e].req] : NULL;
}

static const struct burst *resp_of(const struct an *a, int e)
{
	return a->ex[e].resp >= 0 ? &a->bursts[a->ex[e].resp] : NULL;
}

/* Whether a memcached text command expects no answer: "quit", or a first line that ends in
 * "noreply" (as far as the peek shows it). */
static bool memcached_answerless(const struct burst *q)
{
	static const char nr[] = " noreply";
	const uint8_t *eol = memmem(q->peek, q->plen, "\r\n", 2);
	size_t n = eol ? (size_t)(eol - q->peek) : 0;

	if (q->plen >= 4 && memcmp(q->peek, "quit", 4) == 0 && (q->plen == 4 || n == 4))
		return true;
	return n >= sizeof(nr) - 1 &&
	       memcmp(q->peek + n - (sizeof(nr) - 1), nr, sizeof(nr) - 1) == 0;
}

/* Whether exchange e's request expects no answer: MySQL's COM_QUIT, COM_STMT_SEND_LONG_DATA
 * and COM_STMT_CLOSE; memcached's quit and noreply commands. */
static bool answerless(const struct an *a, int e)
{
	const struct burst *q = req_of(a, e);
	enum pk_trace_proto proto = a->conns[a->ex[e].conn].proto;

	if (q && proto == PK_TRACE_PROTO_MEMCACHED)
		return memcached_answerless(q);
	return q && proto == PK_TRACE_PROTO_MYSQL && q->plen >= 5 && q->peek[3] == 0 &&
	       (q->peek[4] == 0x01 || q->peek[4] == 0x18 || q->peek[4] == 0x19);
}

/* Whether records of exchange e were lost (a burst next to a gap in its bytes). */
static bool lossy(const struct an *a, int e)
{
	const struct burst *q = req_of(a, e), *r = resp_of(a, e);

	return (q && q->gap) || (r && r->gap);
}

static bool is_hop(const struct an *a, int e)
{
	return a->ex[e].req >= 0 && a->conns[a->ex[e].conn].server;
}

static bool is_call(const struct an *a, int e)
{
	return a->ex[e].req >= 0 && !a->conns[a->ex[e].conn].server;
}

static uint64_t hop_end(const struct an *a, int e)
{
	const struct burst *r = resp_of(a, e);

	/* no response: open until its connection's last record */
	return r ? r->t1 : a->conns[a->ex[e].conn].t_last;
}

/* The HTTP request target of a request's first bytes ("/r/17"), or NULL. */
static const uint8_t *http_target(const struct burst *r, size_t *len)
{
	const uint8_t *sp = memchr(r->peek, ' ', r->plen);
	const uint8_t *end;

	if (!sp || sp + 1 >= r->peek + r->plen)
		return NULL;
	sp++;
	end = memchr(sp, ' ', (size_t)(r->peek + r->plen - sp));
	if (!end)
		end = r->peek + r->plen;
	*len = (size_t)(end - sp);
	return *len >= 2 ? sp : NULL;
}

/* Whether hay holds tok followed by a delimiter (or the end of what was kept). */
static bool has_token(const uint8_t *hay, size_t n, const uint8_t *tok, size_t len)
{
	for (const uint8_t *p = hay; p + len <= hay + n;) {
		const uint8_t *q = memmem(p, (size_t)(hay + n - p), tok, len);

		if (!q)
			return false;
		if (q + len == hay + n || q[len] == ' ' || q[len] == '?' || q[len] == '#' ||
		    q[len] == '\r')
			return true;
		p = q + 1;
	}
	return false;
}

/* The longest run of equal bytes in a and b (both at most PK_TRACE_PEEK). */
static size_t common_run(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	uint8_t prev[PK_TRACE_PEEK + 1] = { 0 }, cur[PK_TRACE_PEEK + 1];
	size_t best = 0;

	for (size_t i = 0; i < na; i++) {
		cur[0] = 0;
		for (size_t j = 0; j < nb; j++) {
			cur[j + 1] = a[i] == b[j] ? (uint8_t)(prev[j] + 1) : 0;
			if (cur[j + 1] > best)
				best = cur[j + 1];
		}
		memcpy(prev, cur, sizeof(prev));
	}
	return best;
}

/* The one candidate whose request shares a token with the call's request, or -1. */
static int byte_match(const struct an *a, int call, const int *cand, size_t k)
{
	const struct burst *cr = req_of(a, call);
	size_t tlen, nfound = 0;
	const uint8_t *tok = http_target(cr, &tlen);
	int found = -1;

	if (tok && a->conns[a->ex[call].conn].proto == PK_TRACE_PROTO_HTTP) {
		for (size_t i = 0; i < k; i++) {
			const struct burst *hr = req_of(a, cand[i]);

			if (has_token(hr->peek, hr->plen, tok, tlen)) {
				found = cand[i];
				nfound++;
			}
		}
		return nfound == 1 ? found : -1;
	}
	for (size_t i = 0; i < k; i++) {
		const struct burst *hr = req_of(a, cand[i]);

		if (common_run(cr->peek, cr->plen, hr->peek, hr->plen) >= TOKEN_RUN) {
			found = cand[i];
			nfound++;
		}
	}
	return nfound == 1 ? found : -1;
}

static int cmp_ex_start(const void *x, const void *y, void *arg)
{
	const struct an *a = arg;
	uint64_t s = req_of(a, *(const int *)x)->t0, t = req_of(a, *(const int *)y)->t0;

	if (s != t)
		return s < t ? -1 : 1;
	return *(const int *)x - *(const int *)y;
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t s = *(const uint32_t *)x, t = *(const uint32_t *)y;

	return s < t ? -1 : s > t;
}

/* Pass 3: each call to the hop of its process it was made for (a sweep per pid).  A call
 * on a thread that serves hops of its own is only ever linked to one of them: when none is
 * open, the request it was made for went unseen (a receive the thread was blocked in when
 * the library was attached), and another thread's hop would be a wrong parent.  Calls of
 * threads that serve none (a pool's workers) go to any open hop of the process. */
static int link_calls(struct an *a)
{
	int *hops = malloc((a->nex + 1) * sizeof(*hops));
	int *calls = malloc((a->nex + 1) * sizeof(*calls));
	int *act = malloc((a->nex + 1) * sizeof(*act));
	int *same = malloc((a->nex + 1) * sizeof(*same));
	uint32_t *serving = malloc((a->nex + 1) * sizeof(*serving));

	if (!hops || !calls || !act || !same || !serving) {
		free(hops);
		free(calls);
		free(act);
		free(same);
		free(serving);
		return -ENOMEM;
	}
	/* connections are in pid order, so are their exchanges */
	for (size_t e0 = 0; e0 < a->nex;) {
		int32_t pid = a->conns[a->ex[e0].conn].pid;
		size_t e1 = e0, nh = 0, nc = 0, nact = 0, h = 0;

		while (e1 < a->nex && a->conns[a->ex[e1].conn].pid == pid)
			e1++;
		for (size_t e = e0; e < e1; e++) {
			if (is_hop(a, (int)e))
				hops[nh++] = (int)e;
			else if (is_call(a, (int)e))
				calls[nc++] = (int)e;
		}
		qsort_r(hops, nh, sizeof(*hops), cmp_ex_start, a);
		qsort_r(calls, nc, sizeof(*calls), cmp_ex_start, a);
		for (size_t i = 0; i < nh; i++)
			serving[i] = req_of(a, hops[i])->tid;
		qsort(serving, nh, sizeof(*serving), cmp_u32);
		for (size_t i = 0; i < nc; i++) {
			int c = calls[i];
			const struct burst *cb = req_of(a, c);
			size_t n = 0, k;

			while (h < nh && req_of(a, hops[h])->t0 <= cb->t0)
				act[nact++] = hops[h++];
			for (size_t j = 0; j < nact; j++)
				if (hop_end(a, act[j]) >= cb->t0)
					act[n++] = act[j];
			nact = n;
			if (!nact)
				continue;
			k = 0;
			for (size_t j = 0; j < nact; j++)
				if (req_of(a, act[j])->tid == cb->tid)
					same[k++] = act[j];
			if (!k && bsearch(&cb->tid, serving, nh, sizeof(*serving), cmp_u32))
				continue;
			const int *cand = k ? same : act;

			if (!k)
				k = nact;
			if (k == 1 && cand == same) {
				a->ex[c].parent = cand[0];
				a->ex[c].link = R_SAME_THREAD;
				a->ex[c].conf = 1.0;
				continue;
			}
			int m = byte_match(a, c, cand, k);

			if (m >= 0) {
				a->ex[c].parent = m;
				a->ex[c].link = R_BYTE_MATCH;
				a->ex[c].conf = 0.9;
				continue;
			}
			/* the latest started: act is in start order */
			a->ex[c].parent = cand[k - 1];
			a->ex[c].link = R_LATEST;
			a->ex[c].conf = 1.0 / (double)k;
		}
		e0 = e1;
	}
	free(hops);
	free(calls);
	free(act);
	free(same);
	free(serving);
	return 0;
}

static uint64_t pair_hash(const struct pk_trace_addr *l, const struct pk_trace_addr *p)
{
	return mix64(addr_hash(l) ^ mix64(addr_hash(p) + 1));
}

/* The first exchange of connection s at or after e that has a request (s's end if none). */
static int next_req(const struct an *a, const struct conn *s, int e)
{
	while (e < s->ex0 + s->nex && !req_of(a, e))
		e++;
	return e;
}

/* The server exchange of connection s whose request starts at offset off, or -1.  Exchanges
 * without a request (the first; after lost records, any) take the next one's offset. */
static int ex_at(const struct an *a, const struct conn *s, uint64_t off)
{
	int lo = s->ex0, hi = s->ex0 + s->nex;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2, m = next_req(a, s, mid);

		if (m < s->ex0 + s->nex && req_of(a, m)->off < off)
			lo = m + 1;
		else
			hi = mid;
	}
	lo = next_req(a, s, lo);
	return lo < s->ex0 + s->nex && req_of(a, lo)->off == off ? lo : -1;
}

/* Whether two requests carry the same bytes (as far as their peeks tell). */
static bool same_bytes(const struct burst *x, const struct burst *y)
{
	return x->bytes == y->bytes && x->plen == y->plen && memcmp(x->peek, y->peek, x->plen) == 0;
}

#define ALIGN_FIRST 4  /* first requests of each side tried as anchors */
#define ALIGN_TRIES 16 /* offset deltas tried per anchor (requests repeated verbatim) */

/* How many of client connection c's requests land on a request of s under delta d. */
static int delta_hits(const struct an *a, const struct conn *c, const struct conn *s, int64_t d)
{
	int n = 0;

	for (int e = c->ex0; e < c->ex0 + c->nex; e++)
		if (req_of(a, e) && ex_at(a, s, req_of(a, e)->off + (uint64_t)d) >= 0)
			n++;
	return n;
}

/* How client connection c's request offsets map onto server connection s's (delta added).
 * Either side may have started recording mid-stream (an attach, a connection opened before
 * tracing): each of the first requests of one side is looked up among all the requests of the
 * other, and the delta under which most of c's requests land on one of s's wins; false when no
 * request agrees. */
static bool align(const struct an *a, const struct conn *c, const struct conn *s, int64_t *delta)
{
	const struct conn *side[2] = { c, s };
	int best = 0;

	if ((c->flags & s->flags & PK_TRACE_F_FROM_START) != 0) {
		*delta = 0;
		return true;
	}
	for (int k = 0; k < 2; k++) {
		const struct conn *x = side[k], *y = side[!k];
		int anchors = 0;

		for (int i = x->ex0; i < x->ex0 + x->nex && anchors < ALIGN_FIRST; i++) {
			const struct burst *xb = req_of(a, i);
			int tries = 0;

			if (!xb)
				continue;
			anchors++;
			for (int j = y->ex0; j < y->ex0 + y->nex && tries < ALIGN_TRIES; j++) {
				const struct burst *yb = req_of(a, j);

				if (!yb || !same_bytes(xb, yb))
					continue;
				tries++;
				/* s's offset minus c's */
				int64_t d = k ? (int64_t)(xb->off - yb->off)
					      : (int64_t)(yb->off - xb->off);
				int n = delta_hits(a, c, s, d);

				if (n > best) {
					best = n;
					*delta = d;
				}
			}
		}
	}
	return best > 0;
}

static void match_one(struct an *a, int call, int hop, enum rule tcp, double conf)
{
	if (hop < 0 || !is_hop(a, hop) || a->ex[hop].parent >= 0)
		return;
	a->ex[call].match = hop;
	a->ex[call].tcp = tcp;
	a->ex[call].conf = (a->ex[call].parent >= 0 ? a->ex[call].conf : 1.0) * conf;
	a->ex[hop].parent = call;
}

/* Pass 4: each client connection to the server side of the same TCP connection. */
static int match_conns(struct an *a)
{
	struct htab ep = { 0 };

	if (htab_init(&ep, a->nconns))
		return -ENOMEM;
	for (size_t i = 0; i < a->nconns; i++) {
		struct conn *s = &a->conns[i];

		if (!s->server || !addr_known(&s->local) || !addr_known(&s->peer))
			continue;
		uint64_t key = pair_hash(&s->local, &s->peer);
		size_t slot = htab_slot(&ep, key);

		s->ep_next = ep.vals[slot];
		ep.keys[slot] = key;
		ep.vals[slot] = (int)i;
	}
	for (size_t i = 0; i < a->nconns; i++) {
		struct conn *c = &a->conns[i];
		const struct burst *c0 = c->nex ? (req_of(a, c->ex0) ?: resp_of(a, c->ex0)) : NULL;
		int best = -1;
		uint64_t bestd = UINT64_MAX;

		if (c->server || !c0 || !addr_known(&c->peer))
			continue;
		/* a datagram server bound to the wildcard address knows only its port */
		struct pk_trace_addr wild = { .family = c->peer.family, .port = c->peer.port };
		const struct pk_trace_addr *as[2] = { &c->peer, &wild };

		for (int w = 0; w < (c->dgram ? 2 : 1); w++)
			for (int j = ep.vals[htab_slot(&ep, pair_hash(as[w], &c->local))]; j >= 0;
			     j = a->conns[j].ep_next) {
				const struct conn *s = &a->conns[j];
				const struct burst *s0;

				if (s->pid == c->pid || !addr_eq(&s->local, as[w]) ||
				    !addr_eq(&s->peer, &c->local) || !s->nex)
					continue;
				s0 = req_of(a, s->ex0) ?: resp_of(a, s->ex0);
				/* datagram peers reuse ports: the query's bytes must agree too */
				if (c->dgram && (!req_of(a, c->ex0) || !req_of(a, s->ex0) ||
						 !same_bytes(req_of(a, c->ex0), req_of(a, s->ex0))))
					continue;
				uint64_t d = s0->t0 > c0->t0 ? s0->t0 - c0->t0 : c0->t0 - s0->t0;

				if (d < bestd) {
					bestd = d;
					best = j;
				}
			}
		if (best < 0)
			continue;
		const struct conn *s = &a->conns[best];
		int64_t delta;

		if (align(a, c, s, &delta)) {
			for (int e = c->ex0; e < c->ex0 + c->nex; e++) {
				if (!is_call(a, e))
					continue;
				uint64_t off = req_of(a, e)->off + (uint64_t)delta;
				int h = ex_at(a, s, off);

				match_one(a, e, h, R_TCP_ENDPOINTS, 1.0);
				/* records lost inside a call's request may have joined several
				 * requests: the hops they reached are under the same (incomplete)
				 * hop, not roots of their own */
				for (h = h < 0 ? -1 : h + 1;
				     lossy(a, e) && h >= 0 && h < s->ex0 + s->nex; h++) {
					const struct burst *q = req_of(a, h);

					if (q && q->off >= off + req_of(a, e)->bytes)
						break;
					if (q && is_hop(a, h) && a->ex[h].parent < 0)
						a->ex[h].parent = e;
				}
			}
			continue;
		}
		for (int e = c->ex0, f = s->ex0; e < c->ex0 + c->nex; e++) {
			if (!is_call(a, e))
				continue;
			while (f < s->ex0 + s->nex && !is_hop(a, f))
				f++;
			if (f >= s->ex0 + s->nex)
				break;
			/* in order, and only where the bytes agree: a wrong link is worse than none
			 */
			if (same_bytes(req_of(a, e), req_of(a, f)))
				match_one(a, e, f, R_TCP_ORDER, 0.8);
			f++;
		}
	}
	htab_release(&ep);
	return 0;
}

/* The hop a hop's request came from (through the call that reached it), or -1: a root. */
static int parent_hop(const struct an *a, int h)
{
	int call = a->ex[h].parent;

	return call >= 0 ? a->ex[call].parent : -1;
}

struct edge {
	size_t p, q; /* processes: q's offset minus p's lies in [lo, hi] */
	int64_t lo, hi;
	bool has_lo;
};

/* a + b and -a modulo 2^64: times from outside may be anything (no signed overflow), and
 * correcting a time subtracts its offset modulo 2^64 too (at()). */
static int64_t wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t wrap_neg(int64_t a)
{
	return (int64_t)(0 - (uint64_t)a);
}

static int64_t pick(int64_t lo, bool has_lo, int64_t hi, bool has_hi)
{
	if (has_lo && lo > 0)
		return lo;
	if (has_hi && hi < 0)
		return hi;
	return 0;
}

/* Pass 5: clock offsets from causality, breadth-first from the process with most roots. */
static int skew(struct an *a)
{
	struct edge *ed = NULL;
	size_t ned = 0, caped = 0, *queue = NULL;
	bool *seen = NULL;
	int rc = -ENOMEM;

	for (size_t e = 0; e < a->nex; e++) {
		int call = a->ex[e].parent;

		/* a lossy exchange may pair a request with a later response: no bound from it */
		if (!is_hop(a, (int)e) || call < 0 || lossy(a, (int)e) || lossy(a, call))
			continue;
		size_t p = a->conns[a->ex[call].conn].proc, q = a->conns[a->ex[e].conn].proc;
		const struct burst *cq = req_of(a, call), *hq = req_of(a, (int)e);
		const struct burst *cr = resp_of(a, call), *hr = resp_of(a, (int)e);
		int64_t hi = (int64_t)(hq->t0 - cq->t0), lo = 0;
		bool has_lo = cr && hr;
		size_t i;

		if (has_lo) {
			/* the answer's first and last bytes are each read after they were written:
			 * the last ones bound it too, so that a hop never ends after its call */
			lo = (int64_t)(hr->t0 - cr->t0);
			if ((int64_t)(hr->t1 - cr->t1) > lo)
				lo = (int64_t)(hr->t1 - cr->t1);
		}
		if (p == q)
			continue;
		for (i = 0; i < ned && !(ed[i].p == p && ed[i].q == q); i++)
			;
		if (i == ned) {
			if (grow((void **)&ed, &caped, ned, sizeof(*ed)))
				goto out;
			ed[ned++] = (struct edge){
				.p = p, .q = q, .lo = lo, .hi = hi, .has_lo = has_lo
			};
			continue;
		}
		if (hi < ed[i].hi)
			ed[i].hi = hi;
		if (has_lo && (!ed[i].has_lo || lo > ed[i].lo)) {
			ed[i].lo = lo;
			ed[i].has_lo = true;
		}
	}
	queue = malloc((a->npp + 1) * sizeof(*queue));
	seen = calloc(a->npp + 1, sizeof(*seen));
	if (!queue || !seen)
		goto out;
	for (;;) {
		size_t start = a->npp, qh = 0, qt = 0;

		for (size_t i = 0; i < a->npp; i++)
			if (!seen[i] &&
			    (start == a->npp || a->pp[i].root_hops > a->pp[start].root_hops))
				start = i;
		if (start == a->npp)
			break;
		seen[start] = true;
		a->pp[start].offset_ns = 0;
		queue[qt++] = start;
		while (qh < qt) {
			size_t p = queue[qh++];

			for (size_t i = 0; i < ned; i++) {
				const struct edge *g = &ed[i];
				struct pk_trace_pproc *o;
				int64_t lo, hi;
				bool has_lo, has_hi;

				if (g->p == p && !seen[g->q]) {
					o = &a->pp[g->q];
					lo = g->lo, hi = g->hi, has_lo = g->has_lo, has_hi = true;
				} else if (g->q == p && !seen[g->p]) {
					o = &a->pp[g->p];
					lo = wrap_neg(g->hi), hi = wrap_neg(g->lo), has_lo = true,
					has_hi = g->has_lo;
				} else {
					continue;
				}
				int64_t base = a->pp[p].offset_ns;

				/* the smallest correction the absolute interval allows */
				o->lo_ns = wrap_add(base, lo);
				o->hi_ns = wrap_add(base, hi);
				o->offset_ns = pick(o->lo_ns, has_lo, o->hi_ns, has_hi);
				o->has_lo = has_lo;
				o->has_hi = has_hi;
				o->wall_base_ns = a->pp[start].wall_base_ns;
				seen[o - a->pp] = true;
				queue[qt++] = (size_t)(o - a->pp);
			}
		}
	}
	rc = 0;
out:
	free(ed);
	free(queue);
	free(seen);
	return rc;
}

static uint64_t at(const struct an *a, int e, uint64_t t)
{
	return t - (uint64_t)a->pp[a->conns[a->ex[e].conn].proc].offset_ns;
}

/* Whether everything a hop owes is there: its response, and for each call it made a response
 * and the hop that served it (or a peer no traced process has). */
static void mark_bad(struct an *a, const struct htab *locals)
{
	for (size_t e = 0; e < a->nex; e++)
		if (is_hop(a, (int)e) &&
		    ((!resp_of(a, (int)e) && !answerless(a, (int)e)) || lossy(a, (int)e)))
			a->ex[e].bad = true;
	for (size_t e = 0; e < a->nex; e++) {
		int h = a->ex[e].parent;

		if (!is_call(a, (int)e) || h < 0)
			continue;
		const struct conn *c = &a->conns[a->ex[e].conn];
		bool traced = false;

		if (addr_known(&c->peer))
			for (int j = locals->vals[htab_slot(locals, addr_hash(&c->peer))]; j >= 0;
			     j = a->conns[j].local_next)
				if (addr_eq(&a->conns[j].local, &c->peer) &&
				    a->conns[j].pid != c->pid)
					traced = true;
		if ((!resp_of(a, (int)e) && !answerless(a, (int)e)) || lossy(a, (int)e) ||
		    (a->ex[e].match < 0 && traced))
			a->ex[h].bad = true;
	}
}

struct root {
	int e;
	uint64_t dur;
};

static int cmp_root(const void *x, const void *y)
{
	const struct root *r = x, *s = y;

	if (r->dur != s->dur)
		return r->dur > s->dur ? -1 : 1;
	return r->e - s->e;
}

static void hex64(char *dst, uint64_t v)
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--, v >>= 4)
		dst[i] = hx[v & 15];
}

static void fill_hop(struct an *a, struct pk_trace_hop *o, int e, int parent, int depth)
{
	const struct conn *c = &a->conns[a->ex[e].conn];
	const struct burst *rq = req_of(a, e), *rs = resp_of(a, e);
	int call = a->ex[e].parent;

	memset(o, 0, sizeof(*o));
	o->parent = parent;
	o->depth = depth;
	o->proc = c->proc;
	o->pid = c->pid;
	o->tid = rq->tid;
	o->proto = c->proto;
	o->request_len = rq->plen;
	memcpy(o->request, rq->peek, rq->plen);
	o->start_ns = at(a, e, rq->t0);
	o->end_ns = at(a, e, rs ? rs->t1 : rq->t1);
	o->local = c->local;
	o->peer = c->peer;
	o->complete = !a->ex[e].bad;
	o->confidence = 1.0;
	if (parent < 0 || call < 0) {
		snprintf(o->rule, sizeof(o->rule), "root");
		a->out->rule_count[R_ROOT]++;
	} else {
		const struct burst *cq = req_of(a, call), *cr = resp_of(a, call);

		snprintf(o->rule, sizeof(o->rule), "%s+%s", rule_names[a->ex[call].link],
			 rule_names[a->ex[call].tcp]);
		o->confidence = a->ex[call].conf;
		a->out->rule_count[a->ex[call].link]++;
		a->out->rule_count[a->ex[call].tcp]++;
		o->call_start_ns = at(a, call, cq->t0);
		o->call_end_ns = at(a, call, cr ? cr->t1 : cq->t1);
	}
}

/* Pass 6: trees from the parent links, slowest first, in preorder. */
static int build_paths(struct an *a)
{
	int *first = malloc((a->nex + 1) * sizeof(int)), *next = malloc((a->nex + 1) * sizeof(int));
	int *last = malloc((a->nex + 1) * sizeof(int)), *order = malloc((a->nex + 1) * sizeof(int));
	int *stack = malloc((a->nex + 1) * sizeof(int)),
	    *sdepth = malloc((a->nex + 1) * sizeof(int));
	int *spos = malloc((a->nex + 1) * sizeof(int));
	struct root *roots = malloc((a->nex + 1) * sizeof(*roots));
	struct pk_trace_paths *out = a->out;
	size_t nh = 0, nr = 0;
	int rc = -ENOMEM;

	if (!first || !next || !last || !order || !stack || !sdepth || !spos || !roots)
		goto out;
	for (size_t e = 0; e < a->nex; e++) {
		first[e] = last[e] = next[e] = -1;
		if (is_hop(a, (int)e))
			order[nh++] = (int)e;
	}
	qsort_r(order, nh, sizeof(*order), cmp_ex_start, a);
	for (size_t i = 0; i < nh; i++) {
		int e = order[i], p = parent_hop(a, e);

		if (p < 0) {
			const struct burst *rq = req_of(a, e), *rs = resp_of(a, e);

			roots[nr].e = e;
			roots[nr++].dur = (rs ? rs->t1 : rq->t1) - rq->t0;
			a->pp[a->conns[a->ex[e].conn].proc].root_hops++;
			continue;
		}
		if (last[p] < 0)
			first[p] = e;
		else
			next[last[p]] = e;
		last[p] = e;
	}
	if (skew(a))
		goto out;
	qsort(roots, nr, sizeof(*roots), cmp_root);
	out->hops = calloc(nh + 1, sizeof(*out->hops));
	out->paths = calloc(nr + 1, sizeof(*out->paths));
	if (!out->hops || !out->paths)
		goto out;
	for (size_t r = 0; r < nr; r++) {
		struct pk_trace_path *p = &out->paths[out->npaths++];
		size_t sp = 0;
		uint64_t t;

		p->id = (int)r + 1;
		p->first_hop = out->nhops;
		p->complete = true;
		stack[sp] = roots[r].e;
		sdepth[sp] = 0;
		spos[sp++] = -1;
		while (sp) {
			int e = stack[--sp], d = sdepth[sp], par = spos[sp];
			size_t me = out->nhops - p->first_hop;

			fill_hop(a, &out->hops[out->nhops++], e, par, d);
			p->complete = p->complete && !a->ex[e].bad;
			/* children pushed in reverse so that the earliest comes out first */
			size_t base = sp;

			for (int c = first[e]; c >= 0; c = next[c]) {
				stack[sp] = c;
				sdepth[sp] = d + 1;
				spos[sp++] = (int)me;
			}
			for (size_t i = base, j = sp ? sp - 1 : 0; i < j; i++, j--) {
				int x = stack[i];

				stack[i] = stack[j];
				stack[j] = x;
			}
		}
		p->nhops = out->nhops - p->first_hop;
		p->duration_ns = roots[r].dur;
		t = mix64((uint64_t)out->hops[p->first_hop].pid << 32 ^
			  out->hops[p->first_hop].start_ns ^ (uint64_t)r);
		hex64(p->trace_id, t);
		hex64(p->trace_id + 16, mix64(t + 0x9e3779b97f4a7c15ULL));
		p->trace_id[32] = 0;
		out->ncomplete += p->complete;
	}
	rc = 0;
out:
	free(first);
	free(next);
	free(last);
	free(order);
	free(stack);
	free(sdepth);
	free(spos);
	free(roots);
	return rc;
}

void pk_trace_paths_free(struct pk_trace_paths *p)
{
	if (!p)
		return;
	free(p->paths);
	free(p->hops);
	free(p->procs);
	free(p->untraceable);
	free(p);
}

int pk_trace_analyze(const struct pk_trace_proc *procs, size_t nprocs, const struct pk_trace_ev *ev,
		     size_t nev, struct pk_trace_paths **out, char *err, size_t errlen)
{
	struct an a = { .procs = procs, .nprocs = nprocs, .ev = ev, .nev = nev };
	struct htab locals = { 0 };
	int rc;

	*out = NULL;
	a.out = calloc(1, sizeof(*a.out));
	rc = a.out ? build_procs(&a) : -ENOMEM;
	if (!rc)
		rc = build_conns(&a);
	if (!rc)
		rc = build_exchanges(&a);
	if (!rc)
		rc = link_calls(&a);
	if (!rc)
		rc = match_conns(&a);
	if (!rc)
		rc = htab_init(&locals, a.nconns);
	if (!rc) {
		for (size_t i = 0; i < a.nconns; i++) {
			struct conn *c = &a.conns[i];

			if (!addr_known(&c->local))
				continue;
			size_t s = htab_slot(&locals, addr_hash(&c->local));

			c->local_next = locals.vals[s];
			locals.keys[s] = addr_hash(&c->local);
			locals.vals[s] = (int)i;
		}
		mark_bad(&a, &locals);
		rc = build_paths(&a);
	}
	htab_release(&locals);
	if (!rc) {
		a.out->procs = a.pp;
		a.out->nprocs = a.npp;
		a.pp = NULL;
		for (size_t i = 0; i < a.out->nprocs; i++)
			a.out->dropped += a.out->procs[i].dropped;
		*out = a.out;
		a.out = NULL;
	}
	pk_trace_paths_free(a.out);
	free(a.pp);
	free(a.prow);
	free(a.conns);
	free(a.bursts);
	free(a.ex);
	for (size_t i = 0; i < a.npeeks; i++)
		free(a.peeks[i]);
	free(a.peeks);
	if (rc)
		return pk_errbuf_set(rc, err, errlen, "analysing the trace: out of memory");
	return 0;
}
