/* pcap_read.c — capture file → TCP connections → ordered byte streams (see pcap_read.h).
 *
 * Layers, each a function that checks every length before it reads: frame (link type) → IP
 * header (v4/v6, extension headers) → TCP header → segment into a connection's direction.
 * Per direction, stream offsets are 64-bit and sequence numbers are read relative to the next
 * expected byte, so wrapping sequence numbers need no special case.
 */
#include "capture/pcap_read.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h> /* TH_* flags */
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/errbuf.h"
#include "common/list.h"

#define MAX_VLAN_TAGS 2
#define MAX_IP6_EXT 8

/* An out-of-order segment, held until the stream reaches it. */
struct seg {
	struct seg *next;
	uint64_t off; /* stream offset of data[0] */
	uint64_t len; /* bytes captured */
	uint64_t
		wire_len; /* bytes the segment carried: more than len when the snap length cut it */
	char data[];
};

/* Reassembly state of one direction. */
struct dir {
	bool started;
	uint32_t base; /* sequence number of stream offset 0 */
	uint64_t next; /* stream offset of the next byte expected (holes included) */
	uint64_t cap;  /* bytes allocated for the public stream's data */
	struct seg *held;
	unsigned nheld;
};

struct endpoint {
	uint8_t addr[16];
	uint16_t port;
};

struct key {
	uint8_t family;	      /* AF_INET or AF_INET6 */
	struct endpoint a, b; /* the smaller endpoint first */
};

enum { C2S = 0, S2C = 1 };

struct conn {
	struct pk_pcap_conn pub;
	struct conn *hnext; /* hash chain */
	struct key key;
	struct endpoint client;
	uint32_t client_isn;
	bool filtered; /* its server port is not the one asked for: segments only counted */
	struct dir d[2];
	size_t chunk_cap;
	size_t reply_cap;
};

/* A decoded TCP segment. */
struct segment {
	uint8_t family;
	struct endpoint src, dst;
	uint32_t seq;
	uint8_t flags;
	const uint8_t *payload;
	uint64_t len;	   /* payload bytes captured */
	uint64_t wire_len; /* payload bytes the packet carried */
	uint64_t ts_ns;
};

struct reader {
	struct pk_pcap *p;
	uint64_t max_bytes;
	uint16_t server_port;
	bool reply_times;
	struct conn **buckets;
	size_t nbuckets, nhashed;
	size_t conns_cap;
	uint64_t pktno;
	char *err;
	size_t errlen;
};

/* Writes the reason into the caller's buffer and returns code. */
__attribute__((format(printf, 3, 4))) static int fail(struct reader *r, int code, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	pk_errbuf_vset(code, r->err, r->errlen, fmt, ap);
	va_end(ap);
	return code;
}

/* Counts n more bytes against the memory cap. */
static int charge(struct reader *r, uint64_t n)
{
	if (n > r->max_bytes || r->p->mem_bytes > r->max_bytes - n)
		return fail(r, -E2BIG, "over the memory cap of %llu bytes after packet %llu",
			    (unsigned long long)r->max_bytes, (unsigned long long)r->pktno);
	r->p->mem_bytes += n;
	return 0;
}

static void uncharge(struct reader *r, uint64_t n)
{
	r->p->mem_bytes -= n;
}

static int no_memory(struct reader *r)
{
	return fail(r, -ENOMEM, "out of memory after packet %llu", (unsigned long long)r->pktno);
}

/* Doubles the array v of *cap elements of elem bytes (first elements when it has none),
 * charging the growth to the memory cap.  Returns the new array (and updates *cap), or NULL
 * with *err set; v stays valid then. */
static void *grow_array(struct reader *r, void *v, size_t *cap, size_t elem, size_t first, int *err)
{
	size_t n = *cap ? *cap * 2 : first;
	void *nv;

	if ((*err = charge(r, (n - *cap) * elem)))
		return NULL;
	nv = realloc(v, n * elem);
	if (!nv) {
		*err = no_memory(r);
		return NULL;
	}
	*cap = n;
	return nv;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* ---- frames and headers ---- */

enum { L3_NONE = 0, L3_IPV4 = 4, L3_IPV6 = 6, L3_ANY = 1 };

/* Maps an Ethernet type to the IP version it carries (L3_NONE for ARP and the like). */
static int ethertype_l3(uint16_t type)
{
	return type == 0x0800 ? L3_IPV4 : type == 0x86dd ? L3_IPV6 : L3_NONE;
}

/* Maps a BSD address family (host or network order, as written by the capturing machine) to an
 * IP version: AF_INET6 is 10 on Linux, 24 on the BSDs, 28 on FreeBSD, 30 on macOS. */
static int af_l3(uint32_t af)
{
	if (af > 0xffff)
		af = ((af & 0xff) << 24) | ((af & 0xff00) << 8) | ((af >> 8) & 0xff00) | (af >> 24);
	if (af == 2)
		return L3_IPV4;
	if (af == 10 || af == 24 || af == 28 || af == 30)
		return L3_IPV6;
	return L3_NONE;
}

/* Finds the network layer of a frame: sets *off and returns the IP version it should carry,
 * L3_ANY (raw IP: the version nibble says), L3_NONE (not IP: skip), or a negative error. */
static int link_layer(struct reader *r, int linktype, const uint8_t *d, uint32_t n, uint32_t *off)
{
	uint16_t type;

	switch (linktype) {
	case DLT_EN10MB:
		if (n < 14)
			break;
		type = be16(d + 12);
		*off = 14;
		for (int i = 0; i < MAX_VLAN_TAGS && (type == 0x8100 || type == 0x88a8); i++) {
			if (n < *off + 4)
				return fail(r, -EBADMSG, "packet %llu: truncated VLAN tag",
					    (unsigned long long)r->pktno);
			type = be16(d + *off + 2);
			*off += 4;
		}
		return ethertype_l3(type);
	case DLT_RAW:
	case 101: /* LINKTYPE_RAW, should libpcap ever report it unmapped */
	case DLT_IPV4:
	case DLT_IPV6:
		*off = 0;
		return L3_ANY;
	case DLT_LINUX_SLL:
		if (n < 16)
			break;
		*off = 16;
		return ethertype_l3(be16(d + 14));
	case DLT_LINUX_SLL2:
		if (n < 20)
			break;
		*off = 20;
		return ethertype_l3(be16(d));
	case DLT_NULL:
		if (n < 4)
			break;
		*off = 4;
		return af_l3(le32(d));
	case DLT_LOOP:
		if (n < 4)
			break;
		*off = 4;
		return af_l3(be32(d));
	}
	return fail(r, -EBADMSG, "packet %llu: truncated %s header (%u bytes)",
		    (unsigned long long)r->pktno, pcap_datalink_val_to_name(linktype), n);
}

/* Reads the TCP header at d (n bytes up to the end of the IP packet as captured; wire bytes
 * carried by the packet).  Returns 0 or an error. */
static int tcp_header(struct reader *r, const uint8_t *d, uint64_t n, uint64_t wire,
		      struct segment *s)
{
	uint32_t hl;

	if (n < 20)
		return fail(r, -EBADMSG, "packet %llu: truncated TCP header (%llu bytes)",
			    (unsigned long long)r->pktno, (unsigned long long)n);
	hl = (uint32_t)(d[12] >> 4) * 4;
	if (hl < 20 || hl > wire)
		return fail(r, -EBADMSG, "packet %llu: bogus TCP header length %u",
			    (unsigned long long)r->pktno, hl);
	if (hl > n)
		return fail(r, -EBADMSG, "packet %llu: truncated TCP options",
			    (unsigned long long)r->pktno);
	s->src.port = be16(d);
	s->dst.port = be16(d + 2);
	s->seq = be32(d + 4);
	s->flags = d[13];
	s->payload = d + hl;
	s->len = n - hl;
	s->wire_len = wire - hl;
	return 0;
}

/* Reads an IPv4 packet (n bytes captured).  Returns 0 for a TCP segment, 1 to skip it. */
static int ipv4(struct reader *r, const uint8_t *d, uint64_t n, struct segment *s)
{
	uint32_t hl, total;

	if (n < 20)
		return fail(r, -EBADMSG, "packet %llu: truncated IPv4 header (%llu bytes)",
			    (unsigned long long)r->pktno, (unsigned long long)n);
	if (d[0] >> 4 != 4)
		return fail(r, -EBADMSG, "packet %llu: IP version %u where 4 was expected",
			    (unsigned long long)r->pktno, d[0] >> 4);
	hl = (uint32_t)(d[0] & 0x0f) * 4;
	total = be16(d + 2);
	if (total == 0) /* segmentation offload: the length is the frame's */
		total = n > 0xffff ? 0xffff : (uint32_t)n;
	if (hl < 20 || hl > total)
		return fail(r, -EBADMSG, "packet %llu: bogus IPv4 header length %u (total %u)",
			    (unsigned long long)r->pktno, hl, total);
	if (hl > n)
		return fail(r, -EBADMSG, "packet %llu: truncated IPv4 options",
			    (unsigned long long)r->pktno);
	if (be16(d + 6) & 0x3fff) { /* more fragments, or an offset */
		r->p->stats.fragments++;
		return 1;
	}
	if (d[9] != IPPROTO_TCP) {
		r->p->stats.not_tcp++;
		return 1;
	}
	s->family = AF_INET;
	memcpy(s->src.addr, d + 12, 4);
	memcpy(s->dst.addr, d + 16, 4);
	if (n > total) /* Ethernet padding */
		n = total;
	return tcp_header(r, d + hl, n - hl, total - hl, s);
}

/* Reads an IPv6 packet and its extension headers.  Returns 0 for a TCP segment, 1 to skip. */
static int ipv6(struct reader *r, const uint8_t *d, uint64_t n, struct segment *s)
{
	uint64_t total, off = 40, hl;
	uint8_t next;

	if (n < 40)
		return fail(r, -EBADMSG, "packet %llu: truncated IPv6 header (%llu bytes)",
			    (unsigned long long)r->pktno, (unsigned long long)n);
	if (d[0] >> 4 != 6)
		return fail(r, -EBADMSG, "packet %llu: IP version %u where 6 was expected",
			    (unsigned long long)r->pktno, d[0] >> 4);
	total = 40 + (uint64_t)be16(d + 4);
	if (total == 40 && n > 40) /* jumbogram or segmentation offload */
		total = n;
	if (n > total)
		n = total;
	next = d[6];
	for (int i = 0;; i++) {
		if (next == IPPROTO_TCP)
			break;
		if (next == IPPROTO_FRAGMENT) {
			r->p->stats.fragments++;
			return 1;
		}
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS &&
		    next != IPPROTO_AH) {
			r->p->stats.not_tcp++;
			return 1;
		}
		if (i == MAX_IP6_EXT)
			return fail(r, -EBADMSG, "packet %llu: more than %d IPv6 extension headers",
				    (unsigned long long)r->pktno, MAX_IP6_EXT);
		if (off + 2 > n)
			return fail(r, -EBADMSG, "packet %llu: truncated IPv6 extension header",
				    (unsigned long long)r->pktno);
		hl = next == IPPROTO_AH ? ((uint64_t)d[off + 1] + 2) * 4
					: ((uint64_t)d[off + 1] + 1) * 8;
		next = d[off];
		off += hl;
		if (off > total)
			return fail(r, -EBADMSG,
				    "packet %llu: IPv6 extension header past the packet",
				    (unsigned long long)r->pktno);
		if (off > n)
			return fail(r, -EBADMSG, "packet %llu: truncated IPv6 extension header",
				    (unsigned long long)r->pktno);
	}
	s->family = AF_INET6;
	memcpy(s->src.addr, d + 8, 16);
	memcpy(s->dst.addr, d + 24, 16);
	return tcp_header(r, d + off, n - off, total - off, s);
}

/* Decodes one frame.  Returns 0 for a TCP segment in *s, 1 when the frame is skipped, or an
 * error. */
static int decode(struct reader *r, int linktype, const uint8_t *d, uint32_t n, struct segment *s)
{
	uint32_t off = 0;
	int l3 = link_layer(r, linktype, d, n, &off);

	if (l3 < 0)
		return l3;
	if (l3 == L3_NONE) {
		r->p->stats.not_ip++;
		return 1;
	}
	d += off;
	n -= off;
	if (l3 == L3_ANY) {
		if (n < 1)
			return fail(r, -EBADMSG, "packet %llu: empty IP packet",
				    (unsigned long long)r->pktno);
		l3 = d[0] >> 4;
		if (l3 != L3_IPV4 && l3 != L3_IPV6)
			return fail(r, -EBADMSG, "packet %llu: IP version %d in a raw IP capture",
				    (unsigned long long)r->pktno, l3);
	}
	memset(s, 0, sizeof(*s));
	return l3 == L3_IPV4 ? ipv4(r, d, n, s) : ipv6(r, d, n, s);
}

/* ---- connections ---- */

static int endpoint_cmp(const struct endpoint *a, const struct endpoint *b)
{
	int c = memcmp(a->addr, b->addr, sizeof(a->addr));

	return c ? c : (a->port > b->port) - (a->port < b->port);
}

static void make_key(const struct segment *s, struct key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = s->family;
	if (endpoint_cmp(&s->src, &s->dst) <= 0) {
		k->a = s->src;
		k->b = s->dst;
	} else {
		k->a = s->dst;
		k->b = s->src;
	}
}

/* FNV-1a over the key's fields. */
static size_t key_hash(const struct key *k)
{
	uint64_t h = 14695981039346656037ull;
	const struct endpoint *e[2] = { &k->a, &k->b };

	h = (h ^ k->family) * 1099511628211ull;
	for (int i = 0; i < 2; i++) {
		for (size_t j = 0; j < sizeof(e[i]->addr); j++)
			h = (h ^ e[i]->addr[j]) * 1099511628211ull;
		h = (h ^ (e[i]->port & 0xff)) * 1099511628211ull;
		h = (h ^ (e[i]->port >> 8)) * 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 32));
}

static bool key_eq(const struct key *a, const struct key *b)
{
	return a->family == b->family && endpoint_cmp(&a->a, &b->a) == 0 &&
	       endpoint_cmp(&a->b, &b->b) == 0;
}

static struct conn *lookup(struct reader *r, const struct key *k)
{
	struct conn *c;

	if (!r->nbuckets)
		return NULL;
	for (c = r->buckets[key_hash(k) & (r->nbuckets - 1)]; c; c = c->hnext)
		if (key_eq(&c->key, k))
			return c;
	return NULL;
}

static void unhash(struct reader *r, struct conn *c)
{
	struct conn **pp = &r->buckets[key_hash(&c->key) & (r->nbuckets - 1)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	r->nhashed--;
}

/* Adds c to the hash table, doubling it when it is full. */
static int hash_add(struct reader *r, struct conn *c)
{
	if (r->nhashed >= r->nbuckets) {
		size_t n = r->nbuckets ? r->nbuckets * 2 : 256;
		struct conn **b;
		int err = charge(r, n * sizeof(*b));

		if (err)
			return err;
		b = calloc(n, sizeof(*b));
		if (!b)
			return no_memory(r);
		for (size_t i = 0; i < r->nbuckets; i++) {
			struct conn *x = r->buckets[i], *nx;

			for (; x; x = nx) {
				nx = x->hnext;
				x->hnext = b[key_hash(&x->key) & (n - 1)];
				b[key_hash(&x->key) & (n - 1)] = x;
			}
		}
		free(r->buckets);
		uncharge(r, r->nbuckets * sizeof(*b));
		r->buckets = b;
		r->nbuckets = n;
	}
	size_t i = key_hash(&c->key) & (r->nbuckets - 1);

	c->hnext = r->buckets[i];
	r->buckets[i] = c;
	r->nhashed++;
	return 0;
}

static void set_addr(struct pk_addr *a, uint8_t family, const struct endpoint *e)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&a->ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(e->port);
		memcpy(&s->sin_addr, e->addr, 4);
		a->len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(e->port);
		memcpy(&s->sin6_addr, e->addr, 16);
		a->len = sizeof(*s);
	}
}

/* Decides which side of a connection's first segment is the client (see pcap_read.h). */
static bool src_is_client(const struct reader *r, const struct segment *s)
{
	if (s->flags & TH_SYN)
		return !(s->flags & TH_ACK);
	if (r->server_port && s->dst.port == r->server_port)
		return true;
	if (r->server_port && s->src.port == r->server_port)
		return false;
	return s->src.port >= s->dst.port;
}

/* Creates the connection that s opens (or is the first seen segment of) and hashes it. */
static int conn_new(struct reader *r, const struct segment *s, const struct key *k,
		    struct conn **out)
{
	struct pk_pcap *p = r->p;
	bool src_client = src_is_client(r, s);
	const struct endpoint *client = src_client ? &s->src : &s->dst;
	const struct endpoint *server = src_client ? &s->dst : &s->src;
	struct conn *c;
	int err;

	if (p->nconns == r->conns_cap) {
		struct pk_pcap_conn **v =
			grow_array(r, p->conns, &r->conns_cap, sizeof(*v), 64, &err);

		if (!v)
			return err;
		p->conns = v;
	}
	if ((err = charge(r, sizeof(*c))))
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return no_memory(r);
	c->key = *k;
	c->client = *client;
	c->filtered = r->server_port && server->port != r->server_port;
	set_addr(&c->pub.client, s->family, client);
	set_addr(&c->pub.server, s->family, server);
	c->pub.first_ns = s->ts_ns;
	p->conns[p->nconns++] = &c->pub;
	*out = c;
	return hash_add(r, c);
}

/* ---- reassembly ---- */

/* Grows a connection's stream buffer to hold n more bytes. */
static int stream_room(struct reader *r, struct conn *c, int side, uint64_t n)
{
	struct pk_pcap_stream *st = side == C2S ? &c->pub.c2s : &c->pub.s2c;
	struct dir *d = &c->d[side];
	uint64_t want = st->len + n, cap = d->cap ? d->cap : 1024;
	char *p;
	int err;

	if (want <= d->cap)
		return 0;
	while (cap < want)
		cap = cap > (UINT64_MAX >> 1) ? want : cap * 2;
	if (cap - want > (16u << 20)) /* past 16 MiB, grow by what is needed plus 16 MiB */
		cap = want + (16u << 20);
	if ((err = charge(r, cap - d->cap)))
		return err;
	if (cap > SIZE_MAX || !(p = realloc(st->data, (size_t)cap)))
		return no_memory(r);
	st->data = p;
	d->cap = cap;
	return 0;
}

/* Records a client chunk for the n bytes just appended at off. */
static int add_chunk(struct reader *r, struct conn *c, uint64_t off, uint64_t n, uint64_t ts)
{
	struct pk_pcap_conn *pc = &c->pub;
	uint64_t before = c->d[S2C].next;
	struct pk_pcap_chunk *last = pc->nchunks ? &pc->chunks[pc->nchunks - 1] : NULL;
	int err;

	/* Segments delivered together (a hole filled) are one chunk. */
	if (last && last->ts_ns == ts && last->s2c_before == before &&
	    last->off + last->len == off) {
		last->len += n;
		return 0;
	}
	if (pc->nchunks == c->chunk_cap) {
		struct pk_pcap_chunk *v =
			grow_array(r, pc->chunks, &c->chunk_cap, sizeof(*v), 16, &err);

		if (!v)
			return err;
		pc->chunks = v;
	}
	pc->chunks[pc->nchunks++] =
		(struct pk_pcap_chunk){ .off = off, .len = n, .ts_ns = ts, .s2c_before = before };
	return 0;
}

/* Records that the server's n bytes at stream position pos came at ts (opts.reply_times). */
static int add_reply(struct reader *r, struct conn *c, uint64_t pos, uint64_t n, uint64_t ts)
{
	struct pk_pcap_conn *pc = &c->pub;
	struct pk_pcap_mark *last = pc->nreplies ? &pc->replies[pc->nreplies - 1] : NULL;
	int err;

	if (last && last->ts_ns == ts && last->pos + last->len == pos) {
		last->len += n;
		return 0;
	}
	if (pc->nreplies == c->reply_cap) {
		struct pk_pcap_mark *v =
			grow_array(r, pc->replies, &c->reply_cap, sizeof(*v), 16, &err);

		if (!v)
			return err;
		pc->replies = v;
	}
	pc->replies[pc->nreplies++] = (struct pk_pcap_mark){ .pos = pos, .len = n, .ts_ns = ts };
	return 0;
}

/* Appends n in-order bytes to a direction. */
static int deliver(struct reader *r, struct conn *c, int side, const void *p, uint64_t n,
		   uint64_t ts)
{
	struct pk_pcap_stream *st = side == C2S ? &c->pub.c2s : &c->pub.s2c;
	int err;

	if (n == 0)
		return 0;
	if ((err = stream_room(r, c, side, n)))
		return err;
	memcpy(st->data + st->len, p, (size_t)n);
	if (side == C2S && (err = add_chunk(r, c, st->len, n, ts)))
		return err;
	if (side == S2C && r->reply_times && (err = add_reply(r, c, c->d[S2C].next, n, ts)))
		return err;
	st->len += n;
	c->d[side].next += n;
	return 0;
}

/* Skips the stream forward to offset to: those bytes are missing for good. */
static void skip_hole(struct reader *r, struct conn *c, int side, uint64_t to)
{
	struct pk_pcap_stream *st = side == C2S ? &c->pub.c2s : &c->pub.s2c;
	struct dir *d = &c->d[side];

	if (to <= d->next)
		return;
	st->missing += to - d->next;
	d->next = to;
	r->p->stats.holes++;
}

/* Takes a segment that starts at or before the next expected byte: its new bytes go to the
 * stream; bytes it carried but the capture cut off become a hole. */
static int take(struct reader *r, struct conn *c, int side, uint64_t off, const char *data,
		uint64_t len, uint64_t wire_len, uint64_t ts)
{
	struct dir *d = &c->d[side];
	int err;

	if (off + len > d->next) {
		uint64_t skip = d->next - off;

		if ((err = deliver(r, c, side, data + skip, len - skip, ts)))
			return err;
	}
	skip_hole(r, c, side, off + wire_len);
	return 0;
}

/* Delivers the held segments the stream has reached. */
static int drain(struct reader *r, struct conn *c, int side, uint64_t ts)
{
	struct dir *d = &c->d[side];
	int err = 0;

	while (d->held && d->held->off <= d->next) {
		struct seg *s = d->held;

		d->held = s->next;
		d->nheld--;
		if (s->off + s->wire_len > d->next)
			err = take(r, c, side, s->off, s->data, s->len, s->wire_len, ts);
		uncharge(r, sizeof(*s) + s->len);
		free(s);
		if (err)
			return err;
	}
	return 0;
}

/* Holds a segment that starts past the next expected byte; when too many are held, gives up on
 * the oldest hole. */
static int hold(struct reader *r, struct conn *c, int side, uint64_t off, const char *data,
		uint64_t len, uint64_t wire_len, uint64_t ts)
{
	struct dir *d = &c->d[side];
	struct seg **pp = &d->held, *s;
	int err;

	for (; *pp && (*pp)->off <= off; pp = &(*pp)->next)
		if ((*pp)->off == off && (*pp)->wire_len >= wire_len && (*pp)->len >= len) {
			r->p->stats.retransmitted++;
			return 0;
		}
	if ((err = charge(r, sizeof(*s) + len)))
		return err;
	s = malloc(sizeof(*s) + len);
	if (!s)
		return no_memory(r);
	s->off = off;
	s->len = len;
	s->wire_len = wire_len;
	memcpy(s->data, data, (size_t)len);
	s->next = *pp;
	*pp = s;
	d->nheld++;
	r->p->stats.out_of_order++;
	if (d->nheld > PK_PCAP_MAX_HELD) {
		skip_hole(r, c, side, d->held->off);
		return drain(r, c, side, ts);
	}
	return 0;
}

/* Gives up on every hole left in a direction (end of the connection or of the file). */
static int flush_holes(struct reader *r, struct conn *c, int side, uint64_t ts)
{
	struct dir *d = &c->d[side];
	int err;

	while (d->held) {
		skip_hole(r, c, side, d->held->off);
		if ((err = drain(r, c, side, ts)))
			return err;
	}
	return 0;
}

/* Feeds a segment's payload (and FIN) into one direction of c. */
static int segment_in(struct reader *r, struct conn *c, int side, const struct segment *s)
{
	struct dir *d = &c->d[side];
	uint32_t seq = s->seq;
	int64_t off;
	uint64_t end;
	int err;

	if (s->flags & TH_SYN)
		seq++;
	if (!d->started) {
		d->started = true;
		d->base = seq;
		d->next = 0;
	}
	/* Offset relative to the next expected byte, read as a signed 32-bit distance. */
	off = (int64_t)d->next + (int32_t)(seq - (d->base + (uint32_t)d->next));
	if (s->flags & TH_FIN) {
		struct pk_pcap_stream *st = side == C2S ? &c->pub.c2s : &c->pub.s2c;

		if (!st->fin) {
			st->fin = true;
			st->fin_ts_ns = s->ts_ns;
			st->fin_before = c->d[!side].next;
		}
	}
	if (s->wire_len == 0)
		return 0;
	if (off + (int64_t)s->wire_len <= (int64_t)d->next) {
		r->p->stats.retransmitted++;
		return 0;
	}
	const char *data = (const char *)s->payload;
	uint64_t len = s->len, wire_len = s->wire_len;

	if (off < 0) { /* starts before the stream's first byte: keep what follows it */
		uint64_t cut = (uint64_t)-off;

		data += cut < len ? cut : len;
		len = cut < len ? len - cut : 0;
		wire_len -= cut;
		off = 0;
	}
	end = (uint64_t)off;
	if (end <= d->next) {
		if ((err = take(r, c, side, end, data, len, wire_len, s->ts_ns)))
			return err;
		return drain(r, c, side, s->ts_ns);
	}
	return hold(r, c, side, end, data, len, wire_len, s->ts_ns);
}

/* Routes one TCP segment to its connection. */
static int tcp_segment(struct reader *r, const struct segment *s)
{
	struct key k;
	struct conn *c;
	int err;

	r->p->stats.tcp_packets++;
	if (r->server_port && s->src.port != r->server_port && s->dst.port != r->server_port) {
		r->p->stats.filtered++;
		return 0;
	}
	make_key(s, &k);
	c = lookup(r, &k);
	/* A SYN that is not a retransmission of the known one opens a new connection. */
	if (c && (s->flags & (TH_SYN | TH_ACK)) == TH_SYN &&
	    !(c->pub.syn_seen && s->seq == c->client_isn &&
	      endpoint_cmp(&s->src, &c->client) == 0)) {
		if ((err = flush_holes(r, c, C2S, s->ts_ns)) ||
		    (err = flush_holes(r, c, S2C, s->ts_ns)))
			return err;
		unhash(r, c);
		c = NULL;
	}
	if (!c && (err = conn_new(r, s, &k, &c)))
		return err;
	c->pub.packets++;
	c->pub.last_ns = s->ts_ns;
	if (c->filtered) {
		r->p->stats.filtered++;
		return 0;
	}
	int side = endpoint_cmp(&s->src, &c->client) == 0 ? C2S : S2C;

	if ((s->flags & (TH_SYN | TH_ACK)) == TH_SYN && side == C2S && !c->pub.syn_seen) {
		c->pub.syn_seen = true;
		c->client_isn = s->seq;
	}
	if (s->flags & TH_RST) {
		struct pk_pcap_stream *st = side == C2S ? &c->pub.c2s : &c->pub.s2c;

		if (!st->rst) {
			st->rst = true;
			st->rst_ts_ns = s->ts_ns;
			st->rst_before = c->d[!side].next;
		}
		return 0; /* a reset's payload is a diagnostic, not stream data */
	}
	return segment_in(r, c, side, s);
}

/* ---- the file ---- */

static void conn_free(struct conn *c)
{
	for (int side = 0; side < 2; side++) {
		struct seg *s, *n;

		for (s = c->d[side].held; s; s = n) {
			n = s->next;
			free(s);
		}
	}
	free(c->pub.c2s.data);
	free(c->pub.s2c.data);
	free(c->pub.chunks);
	free(c->pub.replies);
	free(c);
}

void pk_pcap_free(struct pk_pcap *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nconns; i++)
		conn_free(pk_container_of(p->conns[i], struct conn, pub));
	free(p->conns);
	free(p);
}

/* After the last packet: closes every hole, drops filtered connections, numbers the rest. */
static int finish(struct reader *r)
{
	struct pk_pcap *p = r->p;
	size_t kept = 0;
	int err;

	for (size_t i = 0; i < p->nconns; i++) {
		struct conn *c = pk_container_of(p->conns[i], struct conn, pub);

		if ((err = flush_holes(r, c, C2S, c->pub.last_ns)) ||
		    (err = flush_holes(r, c, S2C, c->pub.last_ns)))
			return err;
		if (c->filtered) {
			conn_free(c);
			uncharge(r, sizeof(*c));
			continue;
		}
		c->pub.id = (unsigned)(kept + 1);
		p->conns[kept++] = &c->pub;
	}
	p->nconns = kept;
	return 0;
}

static bool linktype_supported(int lt)
{
	return lt == DLT_EN10MB || lt == DLT_RAW || lt == 101 || lt == DLT_IPV4 || lt == DLT_IPV6 ||
	       lt == DLT_LINUX_SLL || lt == DLT_LINUX_SLL2 || lt == DLT_NULL || lt == DLT_LOOP;
}

static int read_packets(struct reader *r, pcap_t *pc)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	struct segment s;
	int rc, err;

	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		r->pktno++;
		r->p->stats.packets++;
		err = decode(r, r->p->linktype, data, h->caplen, &s);
		if (err < 0)
			return err;
		if (err > 0)
			continue;
		s.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
		if ((err = tcp_segment(r, &s)))
			return err;
	}
	if (rc != PCAP_ERROR_BREAK)
		return fail(r, -EBADMSG, "after packet %llu: %s", (unsigned long long)r->pktno,
			    pcap_geterr(pc));
	return finish(r);
}

int pk_pcap_read_stream(FILE *f, const struct pk_pcap_opts *opts, struct pk_pcap **out, char *err,
			size_t errlen)
{
	char pcap_err[PCAP_ERRBUF_SIZE] = "";
	struct reader r = {
		.max_bytes = opts && opts->max_bytes ? opts->max_bytes : PK_PCAP_DEFAULT_MAX,
		.server_port = opts ? opts->server_port : 0,
		.reply_times = opts && opts->reply_times,
		.err = err,
		.errlen = errlen,
	};
	pcap_t *pc;
	int rc;

	*out = NULL;
	pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, pcap_err);
	if (!pc) {
		fclose(f);
		return fail(&r, -EBADMSG, "%s", pcap_err[0] ? pcap_err : "not a capture file");
	}
	r.p = calloc(1, sizeof(*r.p));
	if (!r.p) {
		pcap_close(pc);
		return no_memory(&r);
	}
	r.p->linktype = pcap_datalink(pc);
	if (!linktype_supported(r.p->linktype)) {
		const char *name = pcap_datalink_val_to_name(r.p->linktype);

		rc = fail(&r, -EPROTONOSUPPORT,
			  "link type %s (%d) is not read (Ethernet, raw IP, "
			  "Linux cooked and BSD loopback are)",
			  name ? name : "unknown", r.p->linktype);
	} else {
		rc = read_packets(&r, pc);
	}
	pcap_close(pc);
	free(r.buckets);
	if (rc) {
		pk_pcap_free(r.p);
		return rc;
	}
	r.p->mem_bytes -= r.nbuckets * sizeof(*r.buckets);
	*out = r.p;
	return 0;
}

int pk_pcap_read_file(const char *path, const struct pk_pcap_opts *opts, struct pk_pcap **out,
		      char *err, size_t errlen)
{
	FILE *f = fopen(path, "rbe");

	*out = NULL;
	if (!f) {
		int e = errno;

		if (err && errlen)
			snprintf(err, errlen, "%s", strerror(e));
		return -e;
	}
	return pk_pcap_read_stream(f, opts, out, err, errlen);
}
