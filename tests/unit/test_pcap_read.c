/* test_pcap_read.c — the capture reader on captures made in memory with libpcap's own writer
 * (pcap_open_dead + pcap_dump): reassembly (out of order, retransmissions, holes, sequence
 * wrap, reused tuples), which side is the client, the server-port filter, every link type,
 * IPv6, pcapng, skipped packets, and malformed or unsupported files. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h> /* TH_* flags */

#include "capture/pcap_read.h"
#include "pcap_mem.h"
#include "unit.h"

static int read_mem(const void *buf, size_t len, uint16_t server_port, uint64_t max,
		    struct pk_pcap **out, char *err, size_t errlen)
{
	struct pk_pcap_opts o = { .server_port = server_port, .max_bytes = max };
	FILE *f = fmemopen((void *)buf, len, "rb");

	return pk_pcap_read_stream(f, &o, out, err, errlen);
}

/* A TCP segment to write. */
struct tcp {
	int family;
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t flags;
	const char *data;
	size_t len;
};

/* Writes an IP header (v4 or v6) and a TCP header followed by the payload; returns the length. */
static size_t ip_tcp(uint8_t *p, const struct tcp *t, size_t ext6)
{
	size_t tcp_len = 20 + t->len, ip_len;
	uint8_t *th;

	if (t->family == AF_INET) {
		ip_len = 20;
		memset(p, 0, 20);
		p[0] = 0x45;
		p[2] = (uint8_t)((20 + tcp_len) >> 8);
		p[3] = (uint8_t)(20 + tcp_len);
		p[8] = 64;
		p[9] = IPPROTO_TCP;
		inet_pton(AF_INET, t->src, p + 12);
		inet_pton(AF_INET, t->dst, p + 16);
	} else {
		ip_len = 40 + ext6;
		memset(p, 0, ip_len);
		p[0] = 0x60;
		p[4] = (uint8_t)((ext6 + tcp_len) >> 8);
		p[5] = (uint8_t)(ext6 + tcp_len);
		p[6] = ext6 ? IPPROTO_HOPOPTS : IPPROTO_TCP;
		p[7] = 64;
		inet_pton(AF_INET6, t->src, p + 8);
		inet_pton(AF_INET6, t->dst, p + 24);
		if (ext6) {
			p[40] = IPPROTO_TCP;
			p[41] = (uint8_t)(ext6 / 8 - 1);
		}
	}
	th = p + ip_len;
	memset(th, 0, 20);
	th[0] = (uint8_t)(t->sport >> 8);
	th[1] = (uint8_t)t->sport;
	th[2] = (uint8_t)(t->dport >> 8);
	th[3] = (uint8_t)t->dport;
	th[4] = (uint8_t)(t->seq >> 24);
	th[5] = (uint8_t)(t->seq >> 16);
	th[6] = (uint8_t)(t->seq >> 8);
	th[7] = (uint8_t)t->seq;
	th[12] = 5 << 4;
	th[13] = t->flags;
	if (t->len)
		memcpy(th + 20, t->data, t->len);
	return ip_len + tcp_len;
}

/* Writes the link-layer header for linktype carrying an IP packet of the given version. */
static size_t link_hdr(uint8_t *p, int linktype, int family)
{
	uint16_t et = family == AF_INET ? 0x0800 : 0x86dd;

	switch (linktype) {
	case DLT_EN10MB:
		memset(p, 0, 14);
		p[12] = (uint8_t)(et >> 8);
		p[13] = (uint8_t)et;
		return 14;
	case DLT_LINUX_SLL:
		memset(p, 0, 16);
		p[14] = (uint8_t)(et >> 8);
		p[15] = (uint8_t)et;
		return 16;
	case DLT_LINUX_SLL2:
		memset(p, 0, 20);
		p[0] = (uint8_t)(et >> 8);
		p[1] = (uint8_t)et;
		return 20;
	case DLT_NULL: { /* host byte order of the capturing machine: little-endian here */
		uint32_t af = family == AF_INET ? 2 : 10;
		memcpy(p, &af, 4);
		return 4;
	}
	case DLT_LOOP:
		memset(p, 0, 4);
		p[3] = family == AF_INET ? 2 : 30;
		return 4;
	case 0x10000: /* Ethernet with one 802.1Q tag (written as DLT_EN10MB) */
		memset(p, 0, 18);
		p[12] = 0x81;
		p[16] = (uint8_t)(et >> 8);
		p[17] = (uint8_t)et;
		return 18;
	default: /* raw IP */
		return 0;
	}
}

static size_t frame_of(uint8_t *buf, int linktype, const struct tcp *t)
{
	size_t n = link_hdr(buf, linktype, t->family);

	return n + ip_tcp(buf + n, t, 0);
}

/* Writes one TCP segment as a frame of the capture's link type. */
static void cap_tcp(struct cap *c, const struct tcp *t)
{
	static uint8_t buf[70000];
	size_t n = frame_of(buf, c->linktype, t);

	cap_frame(c, buf, n, n);
}

/* A conversation builder: client C (port cport) talks to server S:6379. */
struct talk {
	struct cap *cap;
	int family;
	const char *c_ip, *s_ip;
	uint16_t cport, sport;
	uint32_t cseq, sseq;
};

static void say(struct talk *t, bool from_client, uint8_t flags, const char *data, size_t len)
{
	struct tcp s = {
		.family = t->family,
		.src = from_client ? t->c_ip : t->s_ip,
		.dst = from_client ? t->s_ip : t->c_ip,
		.sport = from_client ? t->cport : t->sport,
		.dport = from_client ? t->sport : t->cport,
		.seq = from_client ? t->cseq : t->sseq,
		.flags = flags,
		.data = data,
		.len = len,
	};
	uint32_t *seq = from_client ? &t->cseq : &t->sseq;

	cap_tcp(t->cap, &s);
	*seq += (uint32_t)len + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
}

/* A whole small exchange: handshake, two requests and answers, FINs. */
static void conversation(struct talk *t)
{
	say(t, true, TH_SYN, NULL, 0);
	say(t, false, TH_SYN | TH_ACK, NULL, 0);
	say(t, true, TH_ACK, NULL, 0);
	say(t, true, TH_ACK | TH_PUSH, "GET a\r\n", 7);
	say(t, false, TH_ACK | TH_PUSH, "A\r\n", 3);
	say(t, true, TH_ACK | TH_PUSH, "GET bb\r\n", 8);
	say(t, false, TH_ACK | TH_PUSH, "BB\r\n", 4);
	say(t, true, TH_FIN | TH_ACK, NULL, 0);
	say(t, false, TH_FIN | TH_ACK, NULL, 0);
	say(t, true, TH_ACK, NULL, 0);
}

static struct talk talk4(struct cap *c)
{
	return (struct talk){ .cap = c,
			      .family = AF_INET,
			      .c_ip = "10.0.0.1",
			      .s_ip = "10.0.0.2",
			      .cport = 40000,
			      .sport = 6379,
			      .cseq = 1000,
			      .sseq = 5000 };
}

static struct talk talk6(struct cap *c)
{
	return (struct talk){ .cap = c,
			      .family = AF_INET6,
			      .c_ip = "fd00::1",
			      .s_ip = "fd00::2",
			      .cport = 40000,
			      .sport = 6379,
			      .cseq = 1000,
			      .sseq = 5000 };
}

static bool stream_is(const struct pk_pcap_stream *s, const char *want)
{
	return s->len == strlen(want) && memcmp(s->data, want, s->len) == 0;
}

/* Checks the capture holds exactly conversation()'s exchange. */
static void check_conversation(const struct pk_pcap *p, int family)
{
	char buf[PK_ADDR_STRLEN];

	CHECK_EQ_INT(p->nconns, 1);
	if (p->nconns != 1)
		return;
	const struct pk_pcap_conn *c = p->conns[0];

	CHECK_EQ_INT(c->id, 1);
	CHECK(c->syn_seen);
	CHECK(stream_is(&c->c2s, "GET a\r\nGET bb\r\n"));
	CHECK(stream_is(&c->s2c, "A\r\nBB\r\n"));
	CHECK(!pk_pcap_conn_has_gap(c));
	CHECK(c->c2s.fin && c->s2c.fin);
	CHECK_EQ_INT(c->c2s.fin_before, 7);
	CHECK_EQ_INT(c->nchunks, 2);
	if (c->nchunks == 2) {
		CHECK_EQ_INT(c->chunks[0].off, 0);
		CHECK_EQ_INT(c->chunks[0].len, 7);
		CHECK_EQ_INT(c->chunks[0].s2c_before, 0);
		CHECK_EQ_INT(c->chunks[1].off, 7);
		CHECK_EQ_INT(c->chunks[1].len, 8);
		CHECK_EQ_INT(c->chunks[1].s2c_before, 3);
		CHECK_EQ_INT(c->chunks[1].ts_ns - c->chunks[0].ts_ns, 2000000);
	}
	CHECK_EQ_INT(c->packets, 10);
	CHECK_EQ_INT(c->last_ns - c->first_ns, 9000000);
	CHECK_STR(pk_addr_str(&c->client, buf, sizeof(buf)),
		  family == AF_INET ? "10.0.0.1:40000" : "[fd00::1]:40000");
	CHECK_STR(pk_addr_str(&c->server, buf, sizeof(buf)),
		  family == AF_INET ? "10.0.0.2:6379" : "[fd00::2]:6379");
	CHECK_EQ_INT(p->stats.packets, 10);
	CHECK_EQ_INT(p->stats.tcp_packets, 10);
}

/* Reads a finished capture; returns the reader's result. */
static int cap_read(struct cap *c, uint16_t server_port, struct pk_pcap **p, char *err, size_t n)
{
	cap_close(c);
	return read_mem(c->buf, c->len, server_port, 0, p, err, n);
}

static void test_conversation_ipv4(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256] = "";

	cap_open(&c, DLT_EN10MB);
	struct talk t = talk4(&c);
	conversation(&t);
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (p) {
		CHECK_EQ_INT(p->linktype, DLT_EN10MB);
		check_conversation(p, AF_INET);
	}
	pk_pcap_free(p);
	cap_free(&c);
}

/* The same exchange under every link type read, and IPv6 under those that carry it. */
static void test_link_types(void)
{
	static const int types[] = { DLT_RAW,  DLT_IPV4, DLT_LINUX_SLL, DLT_LINUX_SLL2,
				     DLT_NULL, DLT_LOOP, DLT_EN10MB,	0x10000 };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		for (int v6 = 0; v6 < 2; v6++) {
			struct cap c;
			struct pk_pcap *p;
			char err[256] = "";
			int lt = types[i] == 0x10000 ? DLT_EN10MB : types[i];

			if (types[i] == DLT_IPV4 && v6)
				lt = DLT_IPV6;
			cap_open(&c, lt);
			c.linktype = types[i] == DLT_IPV4 && v6 ? DLT_IPV6 : types[i];
			struct talk t = v6 ? talk6(&c) : talk4(&c);
			conversation(&t);
			int rc = cap_read(&c, 0, &p, err, sizeof(err));
			if (rc)
				printf("  link type %d v6=%d: %s\n", lt, v6, err);
			CHECK_EQ_INT(rc, 0);
			if (p)
				check_conversation(p, v6 ? AF_INET6 : AF_INET);
			pk_pcap_free(p);
			cap_free(&c);
		}
}

/* An IPv6 packet with a hop-by-hop options header before TCP. */
static void test_ipv6_extension_header(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];
	uint8_t buf[256];
	struct tcp t = { .family = AF_INET6,
			 .src = "fd00::1",
			 .dst = "fd00::2",
			 .sport = 40000,
			 .dport = 80,
			 .seq = 7,
			 .flags = TH_ACK,
			 .data = "hello",
			 .len = 5 };
	size_t n = link_hdr(buf, DLT_EN10MB, AF_INET6);

	n += ip_tcp(buf + n, &t, 8);
	cap_open(&c, DLT_EN10MB);
	cap_frame(&c, buf, n, n);
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	CHECK(p && p->nconns == 1 && stream_is(&p->conns[0]->c2s, "hello"));
	CHECK(p && !p->conns[0]->syn_seen);
	pk_pcap_free(p);
	cap_free(&c);
}

/* Segments that arrive out of order are held and delivered once the hole fills; the delivery
 * that fills it is one chunk. */
static void test_out_of_order(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];

	cap_open(&c, DLT_RAW);
	struct talk t = talk4(&c);
	say(&t, true, TH_SYN, NULL, 0);
	uint32_t s0 = t.cseq;
	t.cseq = s0 + 6;
	say(&t, true, TH_ACK, "ccc", 3); /* [6,9) */
	t.cseq = s0 + 3;
	say(&t, true, TH_ACK, "bbb", 3); /* [3,6): held too */
	t.cseq = s0;
	say(&t, true, TH_ACK, "aaa", 3); /* [0,3): fills */
	t.cseq = s0 + 9;
	say(&t, true, TH_ACK, "ddd", 3);
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	if (p && p->nconns == 1) {
		const struct pk_pcap_conn *pc = p->conns[0];

		CHECK(stream_is(&pc->c2s, "aaabbbcccddd"));
		CHECK(!pk_pcap_conn_has_gap(pc));
		CHECK_EQ_INT(p->stats.out_of_order, 2);
		CHECK_EQ_INT(pc->nchunks, 2);
		CHECK_EQ_INT(pc->chunks[0].len, 9);
		CHECK_EQ_INT(pc->chunks[1].len, 3);
	} else {
		CHECK(0);
	}
	pk_pcap_free(p);
	cap_free(&c);
}

/* Retransmitted bytes, whole or overlapping, are kept once. */
static void test_retransmissions(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];

	cap_open(&c, DLT_RAW);
	struct talk t = talk4(&c);
	uint32_t isn = t.cseq;
	say(&t, true, TH_SYN, NULL, 0);
	t.cseq = isn;
	say(&t, true, TH_SYN, NULL, 0); /* SYN retransmitted: same connection */
	uint32_t s0 = t.cseq;
	say(&t, true, TH_ACK, "01234", 5);
	t.cseq = s0;
	say(&t, true, TH_ACK, "01234", 5); /* whole */
	t.cseq = s0 + 3;
	say(&t, true, TH_ACK, "34567", 5); /* overlapping */
	t.cseq = s0 + 10;
	say(&t, true, TH_ACK, "ab", 2); /* held */
	t.cseq = s0 + 10;
	say(&t, true, TH_ACK, "ab", 2); /* held twice */
	t.cseq = s0 + 7;
	say(&t, true, TH_ACK, "789", 3);
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	CHECK(p && p->nconns == 1);
	if (p && p->nconns == 1) {
		CHECK(stream_is(&p->conns[0]->c2s, "0123456789ab"));
		CHECK(!pk_pcap_conn_has_gap(p->conns[0]));
		CHECK_EQ_INT(p->stats.retransmitted, 2);
	}
	pk_pcap_free(p);
	cap_free(&c);
}

/* A hole that never fills is skipped at the end and marks the connection. */
static void test_gap(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];

	cap_open(&c, DLT_RAW);
	struct talk t = talk4(&c);
	say(&t, true, TH_SYN, NULL, 0);
	say(&t, true, TH_ACK, "aaaaa", 5);
	t.cseq += 5;
	say(&t, true, TH_ACK, "ccccc", 5);
	say(&t, false, TH_ACK, "x", 1);
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	if (p && p->nconns == 1) {
		const struct pk_pcap_conn *pc = p->conns[0];

		CHECK(stream_is(&pc->c2s, "aaaaaccccc"));
		CHECK_EQ_INT(pc->c2s.missing, 5);
		CHECK(pk_pcap_conn_has_gap(pc));
		CHECK(!pk_pcap_conn_ended(pc));
		CHECK_EQ_INT(p->stats.holes, 1);
		CHECK(stream_is(&pc->s2c, "x"));
		CHECK_EQ_INT(pc->s2c.missing, 0);
	} else {
		CHECK(0);
	}
	pk_pcap_free(p);
	cap_free(&c);
}

/* A packet cut by the snap length leaves a hole of what was cut. */
static void test_snaplen_cut(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];
	uint8_t buf[256];
	struct tcp s = { .family = AF_INET,
			 .src = "10.0.0.1",
			 .dst = "10.0.0.2",
			 .sport = 40000,
			 .dport = 6379,
			 .seq = 100,
			 .flags = TH_ACK,
			 .data = "0123456789",
			 .len = 10 };
	size_t n = frame_of(buf, DLT_EN10MB, &s);

	cap_open(&c, DLT_EN10MB);
	cap_frame(&c, buf, n - 4, n);
	s.seq = 110;
	s.data = "abc";
	s.len = 3;
	n = frame_of(buf, DLT_EN10MB, &s);
	cap_frame(&c, buf, n, n);
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	if (p && p->nconns == 1) {
		CHECK(stream_is(&p->conns[0]->c2s, "012345abc"));
		CHECK_EQ_INT(p->conns[0]->c2s.missing, 4);
		CHECK_EQ_INT(p->stats.out_of_order, 0);
	} else {
		CHECK(0);
	}
	pk_pcap_free(p);
	cap_free(&c);
}

/* More held segments than the bound: the oldest hole is given up at once. */
static void test_held_bound(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];

	cap_open(&c, DLT_RAW);
	struct talk t = talk4(&c);
	say(&t, true, TH_SYN, NULL, 0);
	t.cseq += 1;
	for (int i = 0; i < PK_PCAP_MAX_HELD + 1; i++) {
		say(&t, true, TH_ACK, "x", 1);
		t.cseq += 1; /* a one-byte hole after every byte */
	}
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	if (p && p->nconns == 1) {
		CHECK_EQ_INT(p->conns[0]->c2s.len, PK_PCAP_MAX_HELD + 1);
		CHECK_EQ_INT(p->conns[0]->c2s.missing, PK_PCAP_MAX_HELD + 1);
	} else {
		CHECK(0);
	}
	pk_pcap_free(p);
	cap_free(&c);
}

/* Sequence numbers that wrap past 2^32 inside the stream. */
static void test_sequence_wrap(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];

	cap_open(&c, DLT_RAW);
	struct talk t = talk4(&c);
	t.cseq = 0xfffffffau;
	say(&t, true, TH_SYN, NULL, 0);
	say(&t, true, TH_ACK, "abcd", 4);
	say(&t, true, TH_ACK, "efgh", 4); /* crosses 0 */
	uint32_t after = t.cseq;
	t.cseq = after + 4;
	say(&t, true, TH_ACK, "mnop", 4); /* early: held */
	t.cseq = after;
	say(&t, true, TH_ACK, "ijkl", 4); /* fills */
	say(&t, true, TH_ACK, "mnop", 4); /* retransmitted */
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	CHECK(p && p->nconns == 1 && stream_is(&p->conns[0]->c2s, "abcdefghijklmnop"));
	CHECK(p && p->nconns == 1 && !pk_pcap_conn_has_gap(p->conns[0]));
	pk_pcap_free(p);
	cap_free(&c);
}

/* A SYN with a new sequence number on a finished tuple is a second connection. */
static void test_reused_tuple(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];

	cap_open(&c, DLT_EN10MB);
	struct talk t = talk4(&c);
	conversation(&t);
	t.cseq += 100000;
	t.sseq += 100000;
	conversation(&t);
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	CHECK(p && p->nconns == 2);
	if (p && p->nconns == 2) {
		CHECK_EQ_INT(p->conns[1]->id, 2);
		CHECK(stream_is(&p->conns[1]->c2s, "GET a\r\nGET bb\r\n"));
		CHECK(stream_is(&p->conns[0]->s2c, "A\r\nBB\r\n"));
	}
	pk_pcap_free(p);
	cap_free(&c);
}

/* Without a SYN: the side with the server port, else the higher port, is the client. */
static void test_client_side(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256], a[PK_ADDR_STRLEN];

	for (int with_port = 0; with_port < 2; with_port++) {
		cap_open(&c, DLT_RAW);
		struct talk t = talk4(&c);
		say(&t, false, TH_ACK, "+OK\r\n", 5); /* the server speaks first in the capture */
		say(&t, true, TH_ACK, "PING\r\n", 6);
		/* With --server-port 40000, the 6379 side becomes the client. */
		CHECK_EQ_INT(cap_read(&c, with_port ? 40000 : 0, &p, err, sizeof(err)), 0);
		if (p && p->nconns == 1) {
			const struct pk_pcap_conn *pc = p->conns[0];

			CHECK_STR(pk_addr_str(&pc->client, a, sizeof(a)),
				  with_port ? "10.0.0.2:6379" : "10.0.0.1:40000");
			CHECK(stream_is(&pc->c2s, with_port ? "+OK\r\n" : "PING\r\n"));
			CHECK(!pc->syn_seen);
		} else {
			CHECK(0);
		}
		pk_pcap_free(p);
		cap_free(&c);
	}
}

/* --server-port keeps only connections to that port; a SYN-ACK seen first names the client. */
static void test_server_port_filter(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256], a[PK_ADDR_STRLEN];

	cap_open(&c, DLT_RAW);
	struct talk t = talk4(&c), u = talk4(&c), w = talk4(&c);
	u.sport = 80;
	u.cport = 40001;
	w.cport = 6379; /* the 6379 side dials out to port 9999: its server port is 9999 */
	w.sport = 9999;
	w.c_ip = "10.0.0.9";
	conversation(&u);
	say(&t, false, TH_SYN | TH_ACK, NULL, 0);
	t.cseq++;
	say(&t, true, TH_ACK, "x", 1);
	say(&w, true, TH_SYN, NULL, 0);
	say(&w, true, TH_ACK, "y", 1);
	CHECK_EQ_INT(cap_read(&c, 6379, &p, err, sizeof(err)), 0);
	CHECK(p && p->nconns == 1);
	if (p && p->nconns == 1) {
		CHECK_EQ_INT(p->conns[0]->id, 1);
		CHECK_STR(pk_addr_str(&p->conns[0]->client, a, sizeof(a)), "10.0.0.1:40000");
		CHECK(stream_is(&p->conns[0]->c2s, "x"));
		CHECK_EQ_INT(p->stats.filtered, 12);
	}
	pk_pcap_free(p);
	cap_free(&c);
}

/* Non-IP frames, other protocols and fragments are skipped and counted; a reset's payload is
 * not stream data. */
static void test_skipped(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];
	uint8_t arp[42] = { [12] = 0x08, [13] = 0x06 }, ip[64];
	struct tcp s = { .family = AF_INET,
			 .src = "10.0.0.1",
			 .dst = "10.0.0.2",
			 .sport = 4000,
			 .dport = 53,
			 .data = "q",
			 .len = 1 };
	size_t n;

	cap_open(&c, DLT_EN10MB);
	cap_frame(&c, arp, sizeof(arp), sizeof(arp));
	n = frame_of(ip, DLT_EN10MB, &s);
	ip[14 + 9] = IPPROTO_UDP;
	cap_frame(&c, ip, n, n);
	n = frame_of(ip, DLT_EN10MB, &s);
	ip[14 + 6] = 0x20; /* more fragments */
	cap_frame(&c, ip, n, n);
	struct talk t = talk4(&c);
	say(&t, true, TH_SYN, NULL, 0);
	say(&t, false, TH_RST | TH_ACK, "reset!", 6);
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), 0);
	if (p) {
		CHECK_EQ_INT(p->stats.packets, 5);
		CHECK_EQ_INT(p->stats.not_ip, 1);
		CHECK_EQ_INT(p->stats.not_tcp, 1);
		CHECK_EQ_INT(p->stats.fragments, 1);
		CHECK_EQ_INT(p->stats.tcp_packets, 2);
		CHECK(p->nconns == 1 && p->conns[0]->s2c.rst && !p->conns[0]->c2s.rst);
		CHECK(p->nconns == 1 && p->conns[0]->s2c.len == 0 &&
		      p->conns[0]->s2c.rst_before == 0);
		CHECK(p->nconns == 1 && pk_pcap_conn_ended(p->conns[0]));
	}
	pk_pcap_free(p);
	cap_free(&c);
}

/* Reads one frame (caplen bytes) in a capture of the given link type; returns the result and
 * leaves the message in err. */
static int read_one_frame(int linktype, const uint8_t *frame, size_t caplen, char *err, size_t n)
{
	struct cap c;
	struct pk_pcap *p = NULL;
	int rc;

	cap_open(&c, linktype);
	cap_frame(&c, frame, caplen, caplen);
	rc = cap_read(&c, 0, &p, err, n);
	CHECK(rc == 0 ? p != NULL : p == NULL);
	pk_pcap_free(p);
	cap_free(&c);
	return rc;
}

/* Malformed headers are errors with a message naming the packet. */
static void test_bad_headers(void)
{
	char err[256];
	uint8_t f[128];
	struct tcp s = { .family = AF_INET,
			 .src = "10.0.0.1",
			 .dst = "10.0.0.2",
			 .sport = 4000,
			 .dport = 80,
			 .data = "data",
			 .len = 4 };
	size_t n = frame_of(f, DLT_EN10MB, &s);

	f[14] = 0x41; /* IHL 1 */
	CHECK_EQ_INT(read_one_frame(DLT_EN10MB, f, n, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: bogus IPv4 header length 4 (total 44)");
	n = frame_of(f, DLT_EN10MB, &s);
	f[14 + 20 + 12] = 0x20; /* TCP data offset 2 */
	CHECK_EQ_INT(read_one_frame(DLT_EN10MB, f, n, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: bogus TCP header length 8");
	n = frame_of(f, DLT_EN10MB, &s);
	f[14 + 20 + 12] = 0xf0; /* TCP data offset 15: past the packet */
	CHECK_EQ_INT(read_one_frame(DLT_EN10MB, f, n, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: bogus TCP header length 60");
	n = frame_of(f, DLT_EN10MB, &s);
	CHECK_EQ_INT(read_one_frame(DLT_EN10MB, f, 14 + 20 + 10, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: truncated TCP header (10 bytes)");
	CHECK_EQ_INT(read_one_frame(DLT_EN10MB, f, 20, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: truncated IPv4 header (6 bytes)");
	CHECK_EQ_INT(read_one_frame(DLT_EN10MB, f, 10, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: truncated EN10MB header (10 bytes)");
	f[14] = 0x65; /* version 6 under an IPv4 Ethernet type */
	CHECK_EQ_INT(read_one_frame(DLT_EN10MB, f, n, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: IP version 6 where 4 was expected");
	CHECK_EQ_INT(read_one_frame(DLT_RAW, f, n, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: IP version 0 in a raw IP capture");
	CHECK_EQ_INT(read_one_frame(DLT_RAW, f, 0, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: empty IP packet");

	s.family = AF_INET6;
	s.src = "fd00::1";
	s.dst = "fd00::2";
	n = link_hdr(f, DLT_EN10MB, AF_INET6);
	n += ip_tcp(f + n, &s, 8);
	f[14 + 41] = 200; /* extension header longer than the packet */
	CHECK_EQ_INT(read_one_frame(DLT_EN10MB, f, n, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: IPv6 extension header past the packet");
	CHECK_EQ_INT(read_one_frame(DLT_EN10MB, f, 14 + 39, err, sizeof(err)), -EBADMSG);
	CHECK_STR(err, "packet 1: truncated IPv6 header (39 bytes)");
}

/* Whole-file damage: not a capture, a cut file, a link type not read. */
static void test_bad_files(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];

	CHECK_EQ_INT(read_mem("", 0, 0, 0, &p, err, sizeof(err)), -EBADMSG);
	CHECK(p == NULL);
	CHECK_EQ_INT(read_mem("this is not a capture file at all", 33, 0, 0, &p, err, sizeof(err)),
		     -EBADMSG);
	CHECK(strstr(err, "unknown file format") != NULL);

	cap_open(&c, DLT_EN10MB);
	struct talk t = talk4(&c);
	conversation(&t);
	cap_close(&c);
	CHECK_EQ_INT(read_mem(c.buf, c.len - 5, 0, 0, &p, err, sizeof(err)), -EBADMSG);
	CHECK(strstr(err, "after packet 9: truncated") != NULL);
	CHECK_EQ_INT(read_mem(c.buf, 30, 0, 0, &p, err, sizeof(err)), -EBADMSG);
	CHECK(strstr(err, "after packet 0: truncated") != NULL);
	CHECK_EQ_INT(read_mem(c.buf, 10, 0, 0, &p, err, sizeof(err)), -EBADMSG);
	CHECK(strstr(err, "truncated") != NULL);
	c.buf[0] ^= 0xff;
	CHECK_EQ_INT(read_mem(c.buf, c.len, 0, 0, &p, err, sizeof(err)), -EBADMSG);
	CHECK(strstr(err, "unknown file format") != NULL);
	cap_free(&c);

	cap_open(&c, DLT_IEEE802_11);
	cap_frame(&c, "0123456789", 10, 10);
	CHECK_EQ_INT(cap_read(&c, 0, &p, err, sizeof(err)), -EPROTONOSUPPORT);
	CHECK_STR(err, "link type IEEE802_11 (105) is not read (Ethernet, raw IP, Linux cooked and "
		       "BSD loopback are)");
	cap_free(&c);

	CHECK_EQ_INT(pk_pcap_read_file("/nonexistent/x.pcap", NULL, &p, err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "No such file or directory");
}

/* The memory cap stops a capture that needs more. */
static void test_memory_cap(void)
{
	struct cap c;
	struct pk_pcap *p;
	char err[256];
	static char big[60000];

	memset(big, 'z', sizeof(big));
	cap_open(&c, DLT_RAW);
	struct talk t = talk4(&c);
	say(&t, true, TH_SYN, NULL, 0);
	for (int i = 0; i < 4; i++)
		say(&t, true, TH_ACK, big, sizeof(big));
	cap_close(&c);
	CHECK_EQ_INT(read_mem(c.buf, c.len, 0, 100000, &p, err, sizeof(err)), -E2BIG);
	CHECK(p == NULL);
	CHECK_STR(err, "over the memory cap of 100000 bytes after packet 3");
	CHECK_EQ_INT(read_mem(c.buf, c.len, 0, 1 << 20, &p, err, sizeof(err)), 0);
	CHECK(p && p->nconns == 1 && p->conns[0]->c2s.len == 4 * sizeof(big));
	CHECK(p && p->mem_bytes <= 1 << 20 && p->mem_bytes >= 4 * sizeof(big));
	pk_pcap_free(p);
	cap_free(&c);
}

/* pcapng (written by hand: libpcap 1.10 writes only pcap). */
static void test_pcapng(void)
{
	uint8_t file[512], frame[128];
	size_t n = 0, flen;
	struct pk_pcap *p;
	char err[256];
	struct tcp s = { .family = AF_INET,
			 .src = "10.0.0.1",
			 .dst = "10.0.0.2",
			 .sport = 40000,
			 .dport = 6379,
			 .seq = 1,
			 .flags = TH_SYN };
	uint32_t w;

#define PUT32(v) (w = (uint32_t)(v), memcpy(file + n, &w, 4), n += 4)
	/* Section header block. */
	PUT32(0x0a0d0d0a);
	PUT32(28);
	PUT32(0x1a2b3c4d);
	PUT32(1); /* version 1.0 */
	PUT32(0xffffffff);
	PUT32(0xffffffff);
	PUT32(28);
	/* Interface description block: Ethernet, snap length 65535. */
	PUT32(1);
	PUT32(20);
	PUT32(DLT_EN10MB);
	PUT32(65535);
	PUT32(20);
	for (int i = 0; i < 2; i++) {
		flen = frame_of(frame, DLT_EN10MB, &s);
		size_t pad = (flen + 3) & ~(size_t)3;
		PUT32(6); /* enhanced packet block */
		PUT32(32 + pad);
		PUT32(0);
		PUT32(0);
		PUT32(1000 + i); /* microseconds */
		PUT32(flen);
		PUT32(flen);
		memset(file + n, 0, pad);
		memcpy(file + n, frame, flen);
		n += pad;
		PUT32(32 + pad);
		s.seq = 2;
		s.flags = TH_ACK;
		s.data = "hi";
		s.len = 2;
	}
#undef PUT32
	CHECK_EQ_INT(read_mem(file, n, 0, 0, &p, err, sizeof(err)), 0);
	CHECK(p && p->nconns == 1 && stream_is(&p->conns[0]->c2s, "hi"));
	CHECK(p && p->nconns == 1 && p->conns[0]->chunks[0].ts_ns == 1001000);
	pk_pcap_free(p);
}

int main(void)
{
	UNIT_RUN(test_conversation_ipv4);
	UNIT_RUN(test_link_types);
	UNIT_RUN(test_ipv6_extension_header);
	UNIT_RUN(test_out_of_order);
	UNIT_RUN(test_retransmissions);
	UNIT_RUN(test_gap);
	UNIT_RUN(test_snaplen_cut);
	UNIT_RUN(test_held_bound);
	UNIT_RUN(test_sequence_wrap);
	UNIT_RUN(test_reused_tuple);
	UNIT_RUN(test_client_side);
	UNIT_RUN(test_server_port_filter);
	UNIT_RUN(test_skipped);
	UNIT_RUN(test_bad_headers);
	UNIT_RUN(test_bad_files);
	UNIT_RUN(test_memory_cap);
	UNIT_RUN(test_pcapng);
	return unit_done();
}
