/* pcap_write.c — the recorder: producers' queues, the writer thread, synthesized packets.
 *
 * Producer (a proxy worker)              writer thread (every 10 ms, or kicked at half full)
 *   lock q; reserve; memcpy; unlock  ──►   lock q; swap q->ring <-> batch[i]; unlock  (O(1))
 *                                          merge the batches by time, record by record:
 *                                            OPEN  → SYN, SYN-ACK, ACK
 *                                            DATA  → PSH|ACK segments of <= PK_REC_MSS bytes
 *                                            GAP   → the direction's sequence jumps
 *                                            FIN   → FIN|ACK (and the last ACK after both)
 *                                            CLOSE → FINs not sent yet; state forgotten
 *                                          pcap_dump() each packet, flush once per batch
 *
 * Per connection the writer keeps the next sequence number of each side and the last one
 * the other side acknowledged: a side never has more than a window (65535) unacknowledged,
 * the other side sends a pure ACK first, as a real receiver would.
 */
#include "capture/pcap_write.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h> /* TH_* flags */
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/ring.h"
#include "common/stat.h"

#define REC_TICK_NS (10 * 1000000L) /* the writer's period when not kicked */
#define REC_SNAPLEN 262144
#define REC_IOBUF (1u << 20) /* stdio buffer of the file */
#define REC_WINDOW 65535u
#define REC_SMALL_SHARE 16 /* 1/16 of a queue is kept for open/FIN/close records */

#define ETH_LEN 14
#define TCP_LEN 20
#define PCAP_FILE_HDR 24
#define PCAP_PKT_HDR 16
#define PKT_MAX (ETH_LEN + 40 + TCP_LEN + PK_REC_MSS)

enum rec_type { REC_OPEN = 1, REC_DATA, REC_GAP, REC_FIN, REC_CLOSE };

/* The fixed header in front of every record in a queue (copied in and out with memcpy: a
 * record may start anywhere, and wrap around the ring's end). */
struct rec_hdr {
	uint64_t id;
	uint64_t ts_ns; /* CLOCK_REALTIME when queued */
	uint32_t len;	/* payload bytes that follow */
	uint8_t type;	/* enum rec_type */
	uint8_t dir;	/* 0: client to server, 1: server to client */
	uint16_t pad;
};

/* One producer's queue, on its own cache lines. */
struct pk_recq {
	pthread_mutex_t lock;
	struct pk_ring ring; /* records; swapped out whole by the writer */
	size_t data_cap;     /* data may fill the ring up to here; small records up to ring.cap */
	struct pk_rec *r;
	uint64_t dropped;     /* payload bytes not queued (relaxed atomic) */
	uint64_t lost_events; /* open/FIN/close records not queued (relaxed atomic) */
} __attribute__((aligned(64)));

/* The writer's view of one connection. */
struct wconn {
	uint64_t id;
	struct pk_rec_ends e;
	uint32_t seq[2];   /* next sequence number of each side */
	uint32_t acked[2]; /* the last acknowledgement the other side sent for it */
	bool fin[2];
	UT_hash_handle hh;
};

/* The writer's read position in one swapped-out queue. */
struct cursor {
	struct iovec iov[2];
	size_t pos, len;  /* offset of the current record, bytes in the batch */
	struct rec_hdr h; /* the current record's header */
};

struct pk_rec {
	struct pk_recq *q;
	int nq;
	char *path;
	uint64_t file_max;
	uint32_t files_max;

	pthread_t thread;
	pthread_mutex_t wlock; /* guards stop and the sleep on wake */
	pthread_cond_t wake;
	bool stop;
	bool kicked; /* a queue passed half full (relaxed atomic; set under wlock) */
	bool failed; /* relaxed atomic: read by producers */

	/* the writer thread's own */
	struct pk_ring *batch; /* nq rings swapped out of the queues */
	struct cursor *cur;
	pcap_t *dead;
	pcap_dumper_t *dump; /* NULL once failed */
	FILE *f;
	char *iobuf;
	unsigned char *pkt;
	char name[PATH_MAX]; /* the current file */
	uint32_t fileno;
	uint64_t cur_bytes, cur_pkts; /* in the current file */
	bool dirty;		      /* packets written since the last flush */
	struct wconn *conns;
	uint16_t ip_id;
	uint64_t seed;

	/* counters written by the writer only, read with relaxed atomics */
	uint64_t packets, bytes, file_bytes, wdropped, conns_n, unknown;
	uint32_t files;
};

static const uint8_t rec_mac[2][6] = { { 0x02, 0, 0, 0, 0, 0x01 }, { 0x02, 0, 0, 0, 0, 0x02 } };

static bool rec_failed(const struct pk_rec *r)
{
	return __atomic_load_n(&r->failed, __ATOMIC_RELAXED);
}

/* ---- producers ---- */

/* A cursor writing consecutive bytes into the (1 or 2) reserved segments of a ring. */
struct put {
	struct iovec *iov;
	int i;
	size_t off;
};

static void put(struct put *p, const void *src, size_t n)
{
	const char *s = src;

	while (n > 0) {
		size_t k = p->iov[p->i].iov_len - p->off;

		if (k > n)
			k = n;
		memcpy((char *)p->iov[p->i].iov_base + p->off, s, k);
		s += k;
		n -= k;
		p->off += k;
		if (p->off == p->iov[p->i].iov_len) {
			p->i++;
			p->off = 0;
		}
	}
}

static void put_hdr(struct put *p, const struct pk_rec_conn *c, uint64_t ts, enum rec_type type,
		    int dir, size_t len)
{
	struct rec_hdr h = {
		.id = c->id,
		.ts_ns = ts,
		.len = (uint32_t)len,
		.type = (uint8_t)type,
		.dir = (uint8_t)dir,
	};

	put(p, &h, sizeof(h));
}

/* Tells the writer that a queue passed half full (once until it wakes up). */
static void kick(struct pk_rec *r)
{
	if (PK_STAT_GET(r->kicked))
		return;
	pthread_mutex_lock(&r->wlock);
	PK_STAT_SET(r->kicked, true);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->wlock);
}

/* Queues, all or nothing, what c still owes (its open record, its gaps), then the record
 * type (none when type is REC_OPEN) with n bytes of buf.  small: the record may use the part
 * of the queue kept for small records.  Returns false when it did not fit. */
static bool q_put(struct pk_recq *q, struct pk_rec_conn *c, enum rec_type type, int dir,
		  const void *buf, size_t n, bool small)
{
	size_t hs = sizeof(struct rec_hdr), total = 0, limit;
	uint64_t ts;
	struct iovec iov[2];
	struct put p = { iov, 0, 0 };
	bool open = !c->opened, half;

	if (n > UINT32_MAX)
		return false;
	if (open)
		total += hs + sizeof(c->ends);
	for (int d = 0; d < 2; d++)
		if (c->gap[d])
			total += hs + sizeof(uint64_t);
	if (type != REC_OPEN)
		total += hs + n;
	pthread_mutex_lock(&q->lock);
	/* stamped under the lock: with the writer's swap of all queues at once (writer_batch),
	 * every record of a batch is older than every record of the next */
	ts = pk_wall_ns();
	limit = small ? q->ring.cap : q->data_cap;
	if (pk_ring_used(&q->ring) > limit || total > limit - pk_ring_used(&q->ring) ||
	    pk_ring_reserve(&q->ring, total, iov) < 0) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	if (open) {
		put_hdr(&p, c, ts, REC_OPEN, 0, sizeof(c->ends));
		put(&p, &c->ends, sizeof(c->ends));
	}
	for (int d = 0; d < 2; d++) {
		if (c->gap[d]) {
			put_hdr(&p, c, ts, REC_GAP, d, sizeof(uint64_t));
			put(&p, &c->gap[d], sizeof(uint64_t));
		}
	}
	if (type != REC_OPEN) {
		put_hdr(&p, c, ts, type, dir, n);
		put(&p, buf, n);
	}
	pk_ring_commit(&q->ring, total);
	half = pk_ring_used(&q->ring) >= q->ring.cap / 2;
	pthread_mutex_unlock(&q->lock);
	c->opened = true;
	c->gap[0] = c->gap[1] = 0;
	if (half)
		kick(q->r);
	return true;
}

/* Fills side i of e from sa, or with the documented stand-in when sa is not IP. */
static void ends_set_side(struct pk_rec_ends *e, int i, const struct sockaddr_storage *sa,
			  uint64_t id)
{
	uint8_t a4[4] = { 192, 0, 2, (uint8_t)(1 + i) };
	uint16_t port = i == 0 ? (uint16_t)(1024 + id % 64000) : 0;

	if (sa && sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		memcpy(e->addr[i], &s6->sin6_addr, 16);
		e->port[i] = ntohs(s6->sin6_port);
		return;
	}
	if (sa && sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		memcpy(a4, &s4->sin_addr, 4);
		port = ntohs(s4->sin_port);
	}
	if (e->v6) {
		e->addr[i][10] = e->addr[i][11] = 0xff;
		memcpy(e->addr[i] + 12, a4, 4);
	} else {
		memcpy(e->addr[i], a4, 4);
	}
	e->port[i] = port;
}

void pk_rec_conn_open(struct pk_recq *q, struct pk_rec_conn *c, uint64_t id,
		      const struct sockaddr_storage *client, const struct sockaddr_storage *server)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->started = true;
	c->ends.v6 = (client && client->ss_family == AF_INET6) ||
		     (server && server->ss_family == AF_INET6);
	ends_set_side(&c->ends, 0, client, id);
	ends_set_side(&c->ends, 1, server, id);
	if (rec_failed(q->r))
		return;
	if (!q_put(q, c, REC_OPEN, 0, NULL, 0, true))
		__atomic_fetch_add(&q->lost_events, 1, __ATOMIC_RELAXED);
}

void pk_rec_data(struct pk_recq *q, struct pk_rec_conn *c, bool to_server, const void *buf,
		 size_t n)
{
	int dir = to_server ? 0 : 1;

	if (n == 0)
		return;
	if (c->started && !rec_failed(q->r)) {
		if (q_put(q, c, REC_DATA, dir, buf, n, false))
			return;
		c->gap[dir] += n;
	}
	__atomic_fetch_add(&q->dropped, n, __ATOMIC_RELAXED);
}

void pk_rec_fin(struct pk_recq *q, struct pk_rec_conn *c, bool from_client)
{
	if (!c->started || rec_failed(q->r))
		return;
	if (!q_put(q, c, REC_FIN, from_client ? 0 : 1, NULL, 0, true))
		__atomic_fetch_add(&q->lost_events, 1, __ATOMIC_RELAXED);
}

void pk_rec_conn_close(struct pk_recq *q, struct pk_rec_conn *c)
{
	/* never opened in the pcap: there is nothing to close there */
	if (c->started && c->opened && !rec_failed(q->r) &&
	    !q_put(q, c, REC_CLOSE, 0, NULL, 0, true))
		__atomic_fetch_add(&q->lost_events, 1, __ATOMIC_RELAXED);
	memset(c, 0, sizeof(*c));
}

struct pk_recq *pk_rec_queue(struct pk_rec *r, int i)
{
	return &r->q[i];
}

/* ---- packets ---- */

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* Adds n bytes to a one's complement sum kept in host order (RFC 1071: the folded sum of
 * host-order words, stored back as it is, is the checksum in network order).  Only the last
 * piece of a sum may have an odd length. */
static uint64_t csum_add(uint64_t sum, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint32_t w;
	uint16_t h = 0;

	for (; n >= 4; p += 4, n -= 4) {
		memcpy(&w, p, 4);
		sum += w;
	}
	if (n >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		n -= 2;
	}
	if (n) {
		h = 0;
		memcpy(&h, p, 1); /* the odd byte, padded with a zero byte after it */
		sum += h;
	}
	return sum;
}

/* Folds a sum to 16 bits and complements it: the checksum, in host order as stored. */
static uint16_t csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t hdr_len(const struct wconn *k)
{
	return ETH_LEN + (k->e.v6 ? 40u : 20u) + TCP_LEN;
}

static void rec_fail(struct pk_rec *r, const char *verb, int err)
{
	if (rec_failed(r))
		return;
	pk_log(PK_LOG_WARN, "record: %s %s: %s; recording stopped", verb, r->name, strerror(err));
	__atomic_store_n(&r->failed, true, __ATOMIC_RELAXED);
	if (r->dump) {
		pcap_dump_close(r->dump); /* its flush fails again: nothing more to say */
		r->dump = NULL;
		r->f = NULL;
	}
}

/* Opens file number n (the current file is closed) and deletes the one files_max before it.
 * Returns 0 or -errno; r->name is the file concerned either way. */
static int file_open(struct pk_rec *r, uint32_t n)
{
	char old[PATH_MAX];
	FILE *f;
	int err = pk_rec_file_name(r->path, n, r->name, sizeof(r->name));

	if (err)
		return err;
	f = fopen(r->name, "we");
	if (!f)
		return -errno;
	setvbuf(f, r->iobuf, _IOFBF, REC_IOBUF);
	r->dump = pcap_dump_fopen(r->dead, f);
	if (!r->dump) {
		err = errno ? errno : EIO;
		fclose(f);
		return -err;
	}
	r->f = f;
	r->fileno = n;
	r->cur_bytes = PCAP_FILE_HDR;
	r->cur_pkts = 0;
	r->dirty = true;
	PK_STAT_ADD(r->files, 1);
	PK_STAT_ADD(r->file_bytes, PCAP_FILE_HDR);
	if (r->files_max && n >= r->files_max &&
	    pk_rec_file_name(r->path, n - r->files_max, old, sizeof(old)) == 0 && unlink(old) < 0 &&
	    errno != ENOENT)
		pk_log(PK_LOG_WARN, "record: delete %s: %s", old, strerror(errno));
	return 0;
}

/* Flushes and closes the current file; 0 or -errno (the file is closed either way). */
static int file_close(struct pk_rec *r)
{
	int err = 0;

	if (!r->dump)
		return 0;
	if (pcap_dump_flush(r->dump) < 0 || ferror(r->f))
		err = -(errno ? errno : EIO);
	pcap_dump_close(r->dump);
	r->dump = NULL;
	r->f = NULL;
	return err;
}

/* Writes the packet of len bytes in r->pkt, rotating first if it would not fit in the file.
 * Returns false if it could not (the recording then failed). */
static bool pkt_write(struct pk_rec *r, size_t len, uint64_t ts)
{
	struct pcap_pkthdr ph;
	int err;

	if (r->file_max && r->cur_pkts && r->cur_bytes + PCAP_PKT_HDR + len > r->file_max) {
		err = file_close(r);
		if (err) {
			rec_fail(r, "write", -err);
			return false;
		}
		err = file_open(r, r->fileno + 1);
		if (err) {
			rec_fail(r, "open", -err);
			return false;
		}
	}
	ph.ts.tv_sec = (time_t)(ts / 1000000000u);
	ph.ts.tv_usec = (suseconds_t)(ts % 1000000000u / 1000u);
	ph.caplen = ph.len = (bpf_u_int32)len;
	errno = 0;
	pcap_dump((u_char *)r->dump, &ph, r->pkt);
	if (ferror(r->f)) {
		rec_fail(r, "write", errno ? errno : EIO);
		return false;
	}
	r->cur_bytes += PCAP_PKT_HDR + len;
	r->cur_pkts++;
	r->dirty = true;
	PK_STAT_ADD(r->packets, 1);
	PK_STAT_ADD(r->file_bytes, PCAP_PKT_HDR + len);
	return true;
}

/* Writes a segment from side dir of k with the flags; its plen payload bytes are already in
 * r->pkt after the headers.  Does not advance k->seq[dir].  false: not written (failed). */
static bool emit(struct pk_rec *r, struct wconn *k, int dir, uint8_t flags, size_t plen,
		 uint64_t ts)
{
	unsigned char *p = r->pkt, *ip = p + ETH_LEN, *t;
	size_t tcplen = TCP_LEN + plen;
	unsigned char pseudo[4] = { 0, 6, (unsigned char)(tcplen >> 8), (unsigned char)tcplen };
	uint16_t ck;
	uint64_t sum;

	if (!r->dump)
		return false;
	memcpy(p, rec_mac[!dir], 6);
	memcpy(p + 6, rec_mac[dir], 6);
	put16(p + 12, k->e.v6 ? 0x86dd : 0x0800);
	if (k->e.v6) {
		put32(ip, 0x60000000u);
		put16(ip + 4, (uint16_t)tcplen);
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		memcpy(ip + 8, k->e.addr[dir], 16);
		memcpy(ip + 24, k->e.addr[!dir], 16);
		sum = csum_add(0, ip + 8, 32);
		t = ip + 40;
	} else {
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, (uint16_t)(20 + tcplen));
		put16(ip + 4, r->ip_id++);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		memset(ip + 10, 0, 2);
		memcpy(ip + 12, k->e.addr[dir], 4);
		memcpy(ip + 16, k->e.addr[!dir], 4);
		ck = csum_fold(csum_add(0, ip, 20));
		memcpy(ip + 10, &ck, 2);
		sum = csum_add(0, ip + 12, 8);
		t = ip + 20;
	}
	/* the rest of the pseudo-header: protocol and TCP length (the same sum for v4 and v6) */
	sum = csum_add(sum, pseudo, sizeof(pseudo));
	put16(t, k->e.port[dir]);
	put16(t + 2, k->e.port[!dir]);
	put32(t + 4, k->seq[dir]);
	put32(t + 8, (flags & TH_ACK) ? k->seq[!dir] : 0);
	t[12] = (TCP_LEN / 4) << 4;
	t[13] = flags;
	put16(t + 14, REC_WINDOW);
	memset(t + 16, 0, 4);
	ck = csum_fold(csum_add(sum, t, tcplen));
	memcpy(t + 16, &ck, 2);
	if (flags & TH_ACK)
		k->acked[!dir] = k->seq[!dir];
	if (!pkt_write(r, (size_t)(t - p) + tcplen, ts))
		return false;
	PK_STAT_ADD(r->bytes, plen);
	return true;
}

/* ---- connections ---- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void conn_fin(struct pk_rec *r, struct wconn *k, int dir, uint64_t ts)
{
	if (k->fin[dir])
		return;
	emit(r, k, dir, TH_FIN | TH_ACK, 0, ts);
	k->seq[dir]++;
	k->fin[dir] = true;
	if (k->fin[!dir])
		emit(r, k, !dir, TH_ACK, 0, ts); /* the last ACK, of this FIN */
}

static void conn_end(struct pk_rec *r, struct wconn *k, uint64_t ts)
{
	conn_fin(r, k, 0, ts);
	conn_fin(r, k, 1, ts);
	HASH_DEL(r->conns, k);
	free(k);
}

static void conn_start(struct pk_rec *r, uint64_t id, const struct pk_rec_ends *e, uint64_t ts)
{
	struct wconn *k;
	uint64_t isn = mix64(r->seed ^ id);

	HASH_FIND(hh, r->conns, &id, sizeof(id), k);
	if (k) /* an id used again without its close: end the old one */
		conn_end(r, k, ts);
	k = calloc(1, sizeof(*k));
	if (!k)
		return; /* its records will count as unknown */
	k->id = id;
	k->e = *e;
	k->seq[0] = (uint32_t)isn;
	k->seq[1] = (uint32_t)(isn >> 32);
	HASH_ADD(hh, r->conns, id, sizeof(k->id), k);
	emit(r, k, 0, TH_SYN, 0, ts);
	k->seq[0]++;
	emit(r, k, 1, TH_SYN | TH_ACK, 0, ts);
	k->seq[1]++;
	emit(r, k, 0, TH_ACK, 0, ts);
	PK_STAT_ADD(r->conns_n, 1);
}

/* Copies n bytes at offset off of a batch's segments into dst. */
static void iov_copy(const struct iovec iov[2], size_t off, void *dst, size_t n)
{
	char *d = dst;

	for (int i = 0; i < 2 && n > 0; i++) {
		size_t k;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		k = iov[i].iov_len - off < n ? iov[i].iov_len - off : n;
		memcpy(d, (const char *)iov[i].iov_base + off, k);
		d += k;
		n -= k;
		off = 0;
	}
}

/* Writes n bytes (at off in the batch of cu) sent by side dir as segments. */
static void conn_data(struct pk_rec *r, struct wconn *k, int dir, const struct cursor *cu,
		      size_t off, size_t n, uint64_t ts)
{
	size_t hl = hdr_len(k);

	if (k->fin[dir]) { /* after its FIN: a producer's mistake; keep the pcap sound */
		PK_STAT_ADD(r->wdropped, n);
		return;
	}
	while (n > 0) {
		size_t seg = n < PK_REC_MSS ? n : PK_REC_MSS;

		if (k->seq[dir] + (uint32_t)seg - k->acked[dir] >= REC_WINDOW)
			emit(r, k, !dir, TH_ACK, 0, ts);
		iov_copy(cu->iov, off, r->pkt + hl, seg);
		if (!emit(r, k, dir, TH_PUSH | TH_ACK, seg, ts))
			break;
		k->seq[dir] += (uint32_t)seg;
		off += seg;
		n -= seg;
	}
	PK_STAT_ADD(r->wdropped, n); /* what a failure left unwritten */
}

static void rec_process(struct pk_rec *r, const struct cursor *cu)
{
	const struct rec_hdr *h = &cu->h;
	size_t off = cu->pos + sizeof(*h);
	int dir = h->dir ? 1 : 0;
	struct pk_rec_ends e;
	struct wconn *k;
	uint64_t gap;

	if (!r->dump) {
		if (h->type == REC_DATA)
			PK_STAT_ADD(r->wdropped, h->len);
		return;
	}
	if (h->type == REC_OPEN) {
		iov_copy(cu->iov, off, &e, sizeof(e));
		conn_start(r, h->id, &e, h->ts_ns);
		return;
	}
	HASH_FIND(hh, r->conns, &h->id, sizeof(h->id), k);
	if (!k) {
		PK_STAT_ADD(r->unknown, 1);
		if (h->type == REC_DATA)
			PK_STAT_ADD(r->wdropped, h->len);
		return;
	}
	switch (h->type) {
	case REC_GAP:
		iov_copy(cu->iov, off, &gap, sizeof(gap));
		k->seq[dir] += (uint32_t)gap;
		break;
	case REC_DATA:
		conn_data(r, k, dir, cu, off, h->len, h->ts_ns);
		break;
	case REC_FIN:
		conn_fin(r, k, dir, h->ts_ns);
		break;
	case REC_CLOSE:
		conn_end(r, k, h->ts_ns);
		break;
	}
}

/* ---- the writer thread ---- */

/* Sleeps until the tick, a kick or stop; returns whether stop was asked. */
static bool writer_wait(struct pk_rec *r)
{
	struct timespec until;
	bool stop;

	pthread_mutex_lock(&r->wlock);
	if (!r->stop && !PK_STAT_GET(r->kicked)) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += REC_TICK_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->wake, &r->wlock, &until);
	}
	stop = r->stop;
	PK_STAT_SET(r->kicked, false);
	pthread_mutex_unlock(&r->wlock);
	return stop;
}

static void cursor_load(struct cursor *cu)
{
	if (cu->pos < cu->len)
		iov_copy(cu->iov, cu->pos, &cu->h, sizeof(cu->h));
}

/* Takes every queue's records and writes them, oldest first across queues. */
static void writer_batch(struct pk_rec *r)
{
	/* Every queue is swapped under all the locks at once: swapped one after the other, a writer
	 * descheduled between two swaps (a loaded machine) would take a later queue's newer records
	 * in this batch and leave an earlier queue's older ones for the next, a step back in time
	 * as long as the pause.  Producers take one lock each, always this order: no deadlock. */
	for (int i = 0; i < r->nq; i++)
		pthread_mutex_lock(&r->q[i].lock);
	for (int i = 0; i < r->nq; i++) {
		struct pk_ring tmp = r->q[i].ring;

		r->q[i].ring = r->batch[i];
		r->batch[i] = tmp;
	}
	for (int i = r->nq - 1; i >= 0; i--)
		pthread_mutex_unlock(&r->q[i].lock);
	for (int i = 0; i < r->nq; i++) {
		memset(&r->cur[i], 0, sizeof(r->cur[i]));
		pk_ring_peek(&r->batch[i], r->cur[i].iov);
		r->cur[i].len = pk_ring_used(&r->batch[i]);
		cursor_load(&r->cur[i]);
	}
	for (;;) {
		struct cursor *best = NULL;

		for (int i = 0; i < r->nq; i++) {
			struct cursor *cu = &r->cur[i];

			if (cu->pos < cu->len && (!best || cu->h.ts_ns < best->h.ts_ns))
				best = cu;
		}
		if (!best)
			break;
		rec_process(r, best);
		best->pos += sizeof(best->h) + best->h.len;
		cursor_load(best);
	}
	for (int i = 0; i < r->nq; i++)
		pk_ring_clear(&r->batch[i]);
}

static void *writer_main(void *arg)
{
	struct pk_rec *r = arg;
	bool stop;
	int err;

	do {
		stop = writer_wait(r);
		writer_batch(r);
		if (r->dump && r->dirty) {
			r->dirty = false;
			if (pcap_dump_flush(r->dump) < 0 || ferror(r->f))
				rec_fail(r, "write", errno ? errno : EIO);
		}
	} while (!stop);
	/* here, in the writer, so that a signal the last write raises (SIGXFSZ) is blocked */
	err = file_close(r);
	if (err)
		rec_fail(r, "write", -err);
	return NULL;
}

/* ---- life cycle ---- */

static void rec_free(struct pk_rec *r)
{
	struct wconn *k, *tmp;

	if (r->dump)
		pcap_dump_close(r->dump);
	HASH_ITER(hh, r->conns, k, tmp)
	{
		HASH_DEL(r->conns, k);
		free(k);
	}
	if (r->q) {
		for (int i = 0; i < r->nq; i++) {
			pk_ring_release(&r->q[i].ring);
			pthread_mutex_destroy(&r->q[i].lock);
		}
	}
	if (r->batch)
		for (int i = 0; i < r->nq; i++)
			pk_ring_release(&r->batch[i]);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->wlock);
	if (r->dead)
		pcap_close(r->dead);
	free(r->q);
	free(r->batch);
	free(r->cur);
	free(r->iobuf);
	free(r->pkt);
	free(r->path);
	free(r);
}

struct pk_rec *pk_rec_open(const struct pk_rec_opts *o, enum pk_rec_step *step)
{
	size_t cap = o->queue_bytes ? o->queue_bytes : PK_REC_DEFAULT_QUEUE;
	pthread_condattr_t ca;
	sigset_t all, old;
	struct pk_rec *r;
	int err;

	*step = PK_REC_STEP_ALLOC;
	if (!o->path || o->nqueues < 1) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_mutex_init(&r->wlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	r->nq = o->nqueues;
	r->file_max = o->file_max;
	r->files_max = o->files_max;
	r->seed = pk_wall_ns() ^ ((uint64_t)getpid() << 32);
	r->path = strdup(o->path);
	r->q = aligned_alloc(64, (size_t)r->nq * sizeof(*r->q));
	r->batch = calloc((size_t)r->nq, sizeof(*r->batch));
	r->cur = calloc((size_t)r->nq, sizeof(*r->cur));
	r->iobuf = malloc(REC_IOBUF);
	r->pkt = malloc(PKT_MAX);
	r->dead = pcap_open_dead(DLT_EN10MB, REC_SNAPLEN);
	if (r->q)
		memset(r->q, 0, (size_t)r->nq * sizeof(*r->q));
	if (!r->path || !r->q || !r->batch || !r->cur || !r->iobuf || !r->pkt || !r->dead) {
		r->nq = r->q ? r->nq : 0;
		errno = ENOMEM;
		goto fail;
	}
	for (int i = 0; i < r->nq; i++) {
		pthread_mutex_init(&r->q[i].lock, NULL);
		pk_ring_init(&r->q[i].ring, cap);
		pk_ring_init(&r->batch[i], cap);
		r->q[i].data_cap = cap - cap / REC_SMALL_SHARE;
		r->q[i].r = r;
	}
	*step = PK_REC_STEP_OPEN;
	err = file_open(r, 0);
	if (err) {
		errno = -err;
		goto fail;
	}
	*step = PK_REC_STEP_WRITE;
	errno = 0;
	if (pcap_dump_flush(r->dump) < 0 || ferror(r->f)) {
		errno = errno ? errno : EIO;
		goto fail;
	}
	*step = PK_REC_STEP_THREAD;
	/* the writer takes no asynchronous signals: they are the host's main thread's business */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&r->thread, NULL, writer_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errno = err;
		goto fail;
	}
	return r;
fail:
	err = errno;
	rec_free(r);
	errno = err;
	return NULL;
}

void pk_rec_close(struct pk_rec *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->wlock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->wlock);
	pthread_join(r->thread, NULL);
	rec_free(r);
}

void pk_rec_get_stats(struct pk_rec *r, struct pk_rec_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->packets = PK_STAT_GET(r->packets);
	st->bytes = PK_STAT_GET(r->bytes);
	st->file_bytes = PK_STAT_GET(r->file_bytes);
	st->dropped_bytes = PK_STAT_GET(r->wdropped);
	st->files = PK_STAT_GET(r->files);
	st->failed = rec_failed(r);
	st->conns = PK_STAT_GET(r->conns_n);
	st->unknown = PK_STAT_GET(r->unknown);
	for (int i = 0; i < r->nq; i++) {
		st->dropped_bytes += PK_STAT_GET(r->q[i].dropped);
		st->lost_events += PK_STAT_GET(r->q[i].lost_events);
	}
}

int pk_rec_file_name(const char *path, uint32_t n, char *out, size_t outlen)
{
	size_t len = strlen(path);
	int w;

	if (n == 0)
		w = snprintf(out, outlen, "%s", path);
	else if (len >= 5 && strcmp(path + len - 5, ".pcap") == 0)
		w = snprintf(out, outlen, "%.*s.%u.pcap", (int)(len - 5), path, n);
	else
		w = snprintf(out, outlen, "%s.%u", path, n);
	return w < 0 || (size_t)w >= outlen ? -ENAMETOOLONG : 0;
}
