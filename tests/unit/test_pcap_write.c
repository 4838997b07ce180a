/* test_pcap_write.c — the pcap recorder, read back with libpcap and checked by a small TCP
 * checker of its own (checksums computed here the slow, obvious way): IPv4, IPv6 and mapped
 * connections interleaved, segment splitting, rotation, deletion of old files, a full queue
 * (exact gaps), a writer stuck on I/O (producers go on; lost opens come back), write failures
 * (one warning, exact accounting), bad paths, several producers at once, merging by time.
 *
 * Every recorded byte is pattern(client port, direction, stream offset), so the checker knows
 * where each captured byte belongs: a gap in the pcap is right iff the bytes after it match. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h> /* TH_* flags */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/pcap_write.h"
#include "common/clock.h"
#include "unit.h"

#define SERVER_PORT 80 /* server ports are < 1024, client ports >= 1024 */
#define BIG (256 * 1024)

static unsigned char scratch[BIG];

static unsigned char pat(uint16_t cport, int dir, uint64_t off)
{
	return (unsigned char)(off * 131u + (off >> 8) + cport * 7u + (unsigned)dir * 101u);
}

/* ---- the checker ---- */

struct tdir {
	bool known;	    /* isn is known (from the SYN, or guessed mid-stream) */
	bool from_syn;	    /* ... from the SYN: stream offsets are exact */
	uint32_t isn, next; /* next: the sequence number expected next */
	uint32_t acked;	    /* the last ack the other side sent */
	bool fin;
	uint64_t bytes; /* payload captured */
	uint64_t gaps;	/* sequence jumps (bytes never captured) */
	uint64_t end;	/* stream length at the FIN */
};

struct tconn {
	uint16_t port[2]; /* client, server */
	bool v6;
	uint8_t addr[2][16];
	bool syn, synack, hs_ack;
	struct tdir d[2];
};

#define TMAX 256

struct tcap {
	struct tconn c[TMAX];
	int n;
	uint64_t packets, payload;
	int bad, pattern_bad, ack_behind, ack_ahead, seq_back, window_bad, ts_back;
	uint64_t last_us, back_max_us; /* the biggest step back in time */
};

static uint32_t sum16(const unsigned char *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static struct tconn *tconn_get(struct tcap *t, uint16_t cport, uint16_t sport)
{
	for (int i = 0; i < t->n; i++)
		if (t->c[i].port[0] == cport && t->c[i].port[1] == sport)
			return &t->c[i];
	if (t->n == TMAX)
		return NULL;
	memset(&t->c[t->n], 0, sizeof(t->c[0]));
	t->c[t->n].port[0] = cport;
	t->c[t->n].port[1] = sport;
	return &t->c[t->n++];
}

static void t_segment(struct tcap *t, struct tconn *c, int dir, const unsigned char *tcp,
		      size_t plen)
{
	struct tdir *me = &c->d[dir], *peer = &c->d[!dir];
	uint32_t seq = get32(tcp + 4), ack = get32(tcp + 8);
	uint8_t fl = tcp[13];
	const unsigned char *pl = tcp + 20;
	int32_t jump;

	if (fl & TH_SYN) {
		if (plen || (fl & TH_FIN)) {
			t->bad++;
			return;
		}
		me->known = me->from_syn = true;
		me->isn = seq;
		me->next = seq + 1;
		me->acked = seq + 1;
		if (dir == 0 && !(fl & TH_ACK)) {
			c->syn = true;
		} else if (dir == 1 && (fl & TH_ACK)) {
			c->synack = true;
			if (ack != peer->next)
				t->ack_behind++;
		} else {
			t->bad++;
		}
		return;
	}
	if (!(fl & TH_ACK)) {
		t->bad++;
		return;
	}
	if (!me->known) { /* first seen mid-stream (its file was deleted) */
		me->known = true;
		me->isn = seq - 1;
		me->next = seq;
		me->acked = seq;
	}
	if (peer->known) {
		int32_t d = (int32_t)(ack - peer->next);

		if (d < 0)
			t->ack_behind++;
		else if (d > 0)
			t->ack_ahead++;
		peer->acked = ack;
	}
	jump = (int32_t)(seq - me->next);
	if (plen == 0 && !(fl & TH_FIN)) { /* a pure ACK */
		if (jump < 0)
			t->seq_back++;
		if (dir == 0 && c->synack && !c->hs_ack)
			c->hs_ack = true;
		return;
	}
	if (jump < 0)
		t->seq_back++;
	else
		me->gaps += (uint64_t)jump;
	if (plen) {
		if (!(fl & TH_PUSH))
			t->bad++;
		if (me->from_syn) {
			uint64_t off = (uint32_t)(seq - me->isn - 1);

			for (size_t i = 0; i < plen; i++) {
				if (pl[i] != pat(c->port[0], dir, off + i)) {
					t->pattern_bad++;
					break;
				}
			}
		}
		if ((uint32_t)(seq + plen - me->acked) > 65535)
			t->window_bad++;
		me->bytes += plen;
		t->payload += plen;
	}
	me->next = seq + (uint32_t)plen;
	if (fl & TH_FIN) {
		if (me->fin)
			t->bad++;
		me->fin = true;
		me->end = (uint32_t)(me->next - me->isn - 1);
		me->next++;
	}
}

static void t_packet(struct tcap *t, const struct pcap_pkthdr *h, const unsigned char *d)
{
	static const uint8_t mac[2][6] = { { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 } };
	const unsigned char *ip = d + 14, *tcp, *src, *dst;
	size_t alen, tcplen;
	uint64_t us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
	uint16_t type, sport, dport;
	unsigned char pseudo[4];
	uint32_t sum;
	struct tconn *c;
	int dir;
	bool v6;

	t->packets++;
	if (us < t->last_us) {
		t->ts_back++;
		if (t->last_us - us > t->back_max_us)
			t->back_max_us = t->last_us - us;
	}
	t->last_us = us;
	if (h->caplen != h->len || h->caplen < 54) {
		t->bad++;
		return;
	}
	type = get16(d + 12);
	v6 = type == 0x86dd;
	if (v6) {
		if (h->caplen < 74 || ip[0] >> 4 != 6 || ip[6] != 6 ||
		    get16(ip + 4) != h->caplen - 54) {
			t->bad++;
			return;
		}
		src = ip + 8;
		dst = ip + 24;
		alen = 16;
		tcp = ip + 40;
		tcplen = get16(ip + 4);
	} else if (type == 0x0800) {
		if (ip[0] != 0x45 || ip[9] != 6 || get16(ip + 2) != h->caplen - 14 ||
		    sum16(ip, 20, 0) != 0xffff) {
			t->bad++;
			return;
		}
		src = ip + 12;
		dst = ip + 16;
		alen = 4;
		tcp = ip + 20;
		tcplen = get16(ip + 2) - 20u;
	} else {
		t->bad++;
		return;
	}
	pseudo[0] = 0;
	pseudo[1] = 6;
	pseudo[2] = (unsigned char)(tcplen >> 8);
	pseudo[3] = (unsigned char)tcplen;
	sum = sum16(src, alen, 0);
	sum = sum16(dst, alen, sum);
	sum = sum16(pseudo, 4, sum);
	if (sum16(tcp, tcplen, sum) != 0xffff || tcp[12] != 0x50 || get16(tcp + 14) != 65535) {
		t->bad++;
		return;
	}
	sport = get16(tcp);
	dport = get16(tcp + 2);
	dir = sport >= 1024 ? 0 : 1;
	if (memcmp(d + 6, mac[dir], 6) != 0 || memcmp(d, mac[!dir], 6) != 0)
		t->bad++;
	c = dir == 0 ? tconn_get(t, sport, dport) : tconn_get(t, dport, sport);
	if (!c) {
		t->bad++;
		return;
	}
	c->v6 = v6;
	memcpy(c->addr[dir], src, alen);
	memcpy(c->addr[!dir], dst, alen);
	t_segment(t, c, dir, tcp, tcplen - 20);
}

/* Reads one pcap file into t; false if libpcap could not read it all. */
static bool t_read(struct tcap *t, const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p = pcap_open_offline(path, err);
	int rc;

	if (!p) {
		printf("  %s: %s\n", path, err);
		return false;
	}
	if (pcap_datalink(p) != DLT_EN10MB)
		t->bad++;
	while ((rc = pcap_next_ex(p, &h, &data)) == 1)
		t_packet(t, h, data);
	pcap_close(p);
	return rc == PCAP_ERROR_BREAK;
}

static struct tconn *t_find(struct tcap *t, uint16_t cport)
{
	for (int i = 0; i < t->n; i++)
		if (t->c[i].port[0] == cport)
			return &t->c[i];
	return NULL;
}

/* Checks that a connection is complete: handshake, both FINs, sent[d] bytes per direction
 * of which gaps[d] were lost (-1: any number). */
static void check_conn(struct tcap *t, uint16_t cport, const uint64_t sent[2],
		       const int64_t gaps[2])
{
	struct tconn *c = t_find(t, cport);

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(c->syn && c->synack && c->hs_ack);
	for (int d = 0; d < 2; d++) {
		CHECK(c->d[d].fin);
		CHECK_EQ_INT(c->d[d].end, sent[d]);
		CHECK_EQ_INT(c->d[d].bytes + c->d[d].gaps, sent[d]);
		if (gaps[d] >= 0)
			CHECK_EQ_INT(c->d[d].gaps, gaps[d]);
	}
}

/* The checks every capture must pass; strict: no loss at all was expected. */
static void check_sound(const struct tcap *t, bool strict)
{
	CHECK_EQ_INT(t->bad, 0);
	CHECK_EQ_INT(t->pattern_bad, 0);
	CHECK_EQ_INT(t->ack_behind, 0);
	CHECK_EQ_INT(t->seq_back, 0);
	CHECK_EQ_INT(t->window_bad, 0);
	if (strict)
		CHECK_EQ_INT(t->ack_ahead, 0);
}

/* ---- helpers ---- */

static char tmpdir[64];

static void tmp_make(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pk-recXXXXXX");
	if (!mkdtemp(tmpdir))
		tmpdir[0] = '\0';
}

static void tmp_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

static void tmp_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (tmpdir[0] && system(cmd) != 0)
		printf("  could not remove %s\n", tmpdir);
}

static void addr4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s->sin_addr);
}

static void addr6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &s->sin6_addr);
}

/* A recorded connection of the test, with what was sent each way. */
struct tc {
	struct pk_rec_conn rc;
	uint16_t cport;
	uint64_t sent[2];
};

static void tc_open(struct pk_recq *q, struct tc *c, uint64_t id, uint16_t cport, bool v6c,
		    bool v6s)
{
	struct sockaddr_storage cl, sv;

	memset(c, 0, sizeof(*c));
	c->cport = cport;
	if (v6c)
		addr6(&cl, "2001:db8::1", cport);
	else
		addr4(&cl, "10.1.2.3", cport);
	if (v6s)
		addr6(&sv, "2001:db8::2", SERVER_PORT);
	else
		addr4(&sv, "10.9.8.7", SERVER_PORT);
	pk_rec_conn_open(q, &c->rc, id, &cl, &sv);
}

/* Records n pattern bytes in direction dir (0: client to server); n <= BIG. */
static void tc_send(struct pk_recq *q, struct tc *c, int dir, size_t n)
{
	for (size_t i = 0; i < n; i++)
		scratch[i] = pat(c->cport, dir, c->sent[dir] + i);
	pk_rec_data(q, &c->rc, dir == 0, scratch, n);
	c->sent[dir] += n;
}

static struct pk_rec *rec_open(const char *path, uint64_t file_max, uint32_t files_max,
			       size_t queue, int nq)
{
	struct pk_rec_opts o = { .path = path,
				 .file_max = file_max,
				 .files_max = files_max,
				 .queue_bytes = queue,
				 .nqueues = nq };
	enum pk_rec_step step = PK_REC_STEP_ALLOC;
	struct pk_rec *r = pk_rec_open(&o, &step);

	if (!r)
		printf("  pk_rec_open %s: step %d: %s\n", path, (int)step, strerror(errno));
	return r;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ---- tests ---- */

static void test_file_name(void)
{
	char b[64];

	CHECK_EQ_INT(pk_rec_file_name("cap.pcap", 0, b, sizeof(b)), 0);
	CHECK_STR(b, "cap.pcap");
	CHECK_EQ_INT(pk_rec_file_name("cap.pcap", 1, b, sizeof(b)), 0);
	CHECK_STR(b, "cap.1.pcap");
	CHECK_EQ_INT(pk_rec_file_name("/var/x.y/cap.pcap", 12, b, sizeof(b)), 0);
	CHECK_STR(b, "/var/x.y/cap.12.pcap");
	CHECK_EQ_INT(pk_rec_file_name("cap", 2, b, sizeof(b)), 0);
	CHECK_STR(b, "cap.2");
	CHECK_EQ_INT(pk_rec_file_name("cap.pcapng", 3, b, sizeof(b)), 0);
	CHECK_STR(b, "cap.pcapng.3");
	CHECK_EQ_INT(pk_rec_file_name("d.pcap/cap", 1, b, sizeof(b)), 0);
	CHECK_STR(b, "d.pcap/cap.1");
	CHECK_EQ_INT(pk_rec_file_name(".pcap", 1, b, sizeof(b)), 0);
	CHECK_STR(b, ".1.pcap");
	CHECK_EQ_INT(pk_rec_file_name("cap.pcap", 4294967295u, b, sizeof(b)), 0);
	CHECK_STR(b, "cap.4294967295.pcap");
	/* exactly fits, then one byte short */
	CHECK_EQ_INT(pk_rec_file_name("cap.pcap", 1, b, 11), 0);
	CHECK_EQ_INT(pk_rec_file_name("cap.pcap", 10, b, 11), -ENAMETOOLONG);
	CHECK_EQ_INT(pk_rec_file_name("cap.pcap", 0, b, 8), -ENAMETOOLONG);
}

static void test_bad_paths(void)
{
	struct pk_rec_opts o = { .nqueues = 1 };
	enum pk_rec_step step = PK_REC_STEP_ALLOC;

	o.path = "/nonexistent-pk-dir/cap.pcap";
	errno = 0;
	CHECK(pk_rec_open(&o, &step) == NULL);
	CHECK_EQ_INT(errno, ENOENT);
	CHECK_EQ_INT(step, PK_REC_STEP_OPEN);

	o.path = "/etc/passwd/cap.pcap";
	errno = 0;
	CHECK(pk_rec_open(&o, &step) == NULL);
	CHECK_EQ_INT(errno, ENOTDIR);
	CHECK_EQ_INT(step, PK_REC_STEP_OPEN);

	/* a full disk is found at open: the file header is written through */
	o.path = "/dev/full";
	errno = 0;
	CHECK(pk_rec_open(&o, &step) == NULL);
	CHECK_EQ_INT(errno, ENOSPC);
	CHECK_EQ_INT(step, PK_REC_STEP_WRITE);

	o.path = NULL;
	errno = 0;
	CHECK(pk_rec_open(&o, &step) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	o.path = "/tmp/x.pcap";
	o.nqueues = 0;
	CHECK(pk_rec_open(&o, &step) == NULL);
	CHECK_EQ_INT(errno, EINVAL);

	if (geteuid() != 0) { /* root ignores permissions */
		o.path = "/proc/pk-no-such.pcap";
		o.nqueues = 1;
		CHECK(pk_rec_open(&o, &step) == NULL);
		CHECK_EQ_INT(step, PK_REC_STEP_OPEN);
	}
	pk_rec_close(NULL);
}

/* IPv4, IPv6 and a v4 client to a v6 server, interleaved, chunks of 1 B, 1 KiB, 200 KiB each
 * way; three ways to end. */
static void test_streams(void)
{
	static const size_t sizes[] = { 1, 1024, 200 * 1024, 1, 7, 65000, 65001, 1024 };
	struct tc c[3];
	struct tcap *t = calloc(1, sizeof(*t));
	char path[128];
	struct pk_rec *r;
	struct pk_recq *q;
	uint64_t total = 0;
	static const uint8_t v4c[4] = { 10, 1, 2, 3 }, v4s[4] = { 10, 9, 8, 7 };
	uint8_t mapped[16] = { 0 };

	tmp_make();
	tmp_path(path, sizeof(path), "s.pcap");
	r = rec_open(path, 0, 0, 0, 1);
	CHECK(r != NULL && t != NULL);
	if (!r || !t)
		goto out;
	q = pk_rec_queue(r, 0);
	tc_open(q, &c[0], 1, 40001, false, false);
	tc_open(q, &c[1], 2, 40002, true, true);
	tc_open(q, &c[2], 3, 40003, false, true);
	CHECK(c[0].rc.opened && c[0].rc.started && !c[0].rc.ends.v6);
	CHECK(c[1].rc.ends.v6 && c[2].rc.ends.v6);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (int k = 0; k < 3; k++)
			for (int d = 0; d < 2; d++)
				tc_send(q, &c[k], (int)(i + (size_t)k + (size_t)d) % 2, sizes[i]);
	/* conn 0: the client closes first, then the server, then close */
	pk_rec_fin(q, &c[0].rc, true);
	tc_send(q, &c[0], 1, 100); /* the server still talks after the client's FIN */
	pk_rec_fin(q, &c[0].rc, false);
	pk_rec_conn_close(q, &c[0].rc);
	/* conn 1: close without FINs (both made up) */
	pk_rec_conn_close(q, &c[1].rc);
	/* conn 2: the server closes first; a second FIN is ignored */
	pk_rec_fin(q, &c[2].rc, false);
	pk_rec_fin(q, &c[2].rc, false);
	pk_rec_fin(q, &c[2].rc, true);
	pk_rec_conn_close(q, &c[2].rc);
	CHECK(!c[2].rc.started && !c[2].rc.opened); /* zeroed, reusable */
	pk_rec_close(r);

	CHECK(t_read(t, path));
	check_sound(t, true);
	CHECK_EQ_INT(t->n, 3);
	CHECK_EQ_INT(t->ts_back, 0);
	for (int k = 0; k < 3; k++) {
		static const int64_t none[2] = { 0, 0 };

		check_conn(t, c[k].cport, c[k].sent, none);
		total += c[k].sent[0] + c[k].sent[1];
	}
	CHECK_EQ_INT(t->payload, total);
	/* addresses and families as given; the v4 client of a v6 server is ::ffff:10.1.2.3 */
	mapped[10] = mapped[11] = 0xff;
	memcpy(mapped + 12, v4c, 4);
	{
		struct tconn *a = t_find(t, 40001), *b = t_find(t, 40002), *m = t_find(t, 40003);

		CHECK(a && b && m);
		if (a && b && m) {
			CHECK(!a->v6);
			CHECK(memcmp(a->addr[0], v4c, 4) == 0);
			CHECK(memcmp(a->addr[1], v4s, 4) == 0);
			CHECK(b->v6);
			CHECK(m->v6);
			CHECK(memcmp(m->addr[0], mapped, 16) == 0);
		}
	}
	/* 200 KiB went as 65000-byte segments at most; every packet is an IPv4/v6 packet */
	CHECK(t->packets > 3 * (200 * 1024 / 65000 + 1) * 2);
out:
	free(t);
	tmp_remove();
}

/* The counters, for a run whose stats are read before close. */
static void test_stats(void)
{
	struct tc c;
	struct pk_rec_stats st;
	char path[128];
	struct pk_rec *r;
	struct pk_recq *q;
	struct pk_rec_conn never;
	uint64_t t0;

	tmp_make();
	tmp_path(path, sizeof(path), "st.pcap");
	r = rec_open(path, 0, 0, 0, 2);
	CHECK(r != NULL);
	if (!r)
		goto out;
	q = pk_rec_queue(r, 1);
	tc_open(q, &c, 7, 2000, false, false);
	tc_send(q, &c, 0, 1000);
	tc_send(q, &c, 1, 70000); /* 2 segments, with a window ACK between them */
	/* bytes for a connection never opened are dropped, not queued */
	memset(&never, 0, sizeof(never));
	pk_rec_data(q, &never, true, "abc", 3);
	pk_rec_fin(q, &never, true);
	pk_rec_conn_close(q, &never);
	pk_rec_conn_close(q, &c.rc);
	t0 = pk_now_ms();
	do {
		usleep(2000);
		pk_rec_get_stats(r, &st);
	} while (st.bytes < 71000 && pk_now_ms() - t0 < 5000);
	CHECK_EQ_INT(st.bytes, 71000);
	/* SYN, SYN-ACK, ACK, data, data, ACK, data, FIN, FIN, last ACK */
	CHECK_EQ_INT(st.packets, 10);
	CHECK_EQ_INT(st.dropped_bytes, 3);
	CHECK_EQ_INT(st.files, 1);
	CHECK_EQ_INT(st.conns, 1);
	CHECK_EQ_INT(st.lost_events, 0);
	CHECK_EQ_INT(st.unknown, 0);
	CHECK(!st.failed);
	CHECK_EQ_INT(st.file_bytes, 24 + 10 * 16 + 8 * 54 + 1000 + 54 + 65000 + 54 + 5000);
	pk_rec_close(r);
	CHECK_EQ_INT(file_size(path), st.file_bytes);
out:
	tmp_remove();
}

/* Rotation: many small files, each a valid pcap no bigger than file_max, that together
 * hold every byte. */
static void test_rotation(void)
{
	enum { MAX = 100 * 1024 };
	struct tc c[3];
	struct tcap *t = calloc(1, sizeof(*t));
	char path[128], name[160];
	struct pk_rec *r;
	struct pk_recq *q;
	uint32_t n = 0;

	tmp_make();
	tmp_path(path, sizeof(path), "rot.pcap");
	r = rec_open(path, MAX, 0, 0, 1);
	CHECK(r != NULL && t != NULL);
	if (!r || !t)
		goto out;
	q = pk_rec_queue(r, 0);
	for (int k = 0; k < 3; k++)
		tc_open(q, &c[k], (uint64_t)k + 10, (uint16_t)(5000 + k), k == 1, k == 1);
	for (int i = 0; i < 40; i++)
		for (int k = 0; k < 3; k++)
			tc_send(q, &c[k], (i + k) % 2, (size_t)(i * 997 + k * 13) % 30000 + 1);
	for (int k = 0; k < 3; k++)
		pk_rec_conn_close(q, &c[k].rc);
	pk_rec_close(r);

	for (;; n++) {
		CHECK_EQ_INT(pk_rec_file_name(path, n, name, sizeof(name)), 0);
		if (!file_exists(name))
			break;
		CHECK(file_size(name) <= MAX);
		CHECK(t_read(t, name)); /* each file alone is a readable pcap */
	}
	CHECK(n >= 5);
	check_sound(t, true);
	CHECK_EQ_INT(t->ts_back, 0);
	for (int k = 0; k < 3; k++) {
		static const int64_t none[2] = { 0, 0 };

		check_conn(t, c[k].cport, c[k].sent, none);
	}
out:
	free(t);
	tmp_remove();
}

/* files_max: only the newest files stay. */
static void test_files_max(void)
{
	struct tc c;
	struct tcap *t = calloc(1, sizeof(*t));
	char path[128], name[160];
	struct pk_rec *r;
	struct pk_recq *q;
	uint32_t n = 0;

	tmp_make();
	tmp_path(path, sizeof(path), "keep"); /* no .pcap: keep, keep.1, ... */
	r = rec_open(path, 64 * 1024, 3, 0, 1);
	CHECK(r != NULL && t != NULL);
	if (!r || !t)
		goto out;
	q = pk_rec_queue(r, 0);
	tc_open(q, &c, 1, 3000, false, false);
	for (int i = 0; i < 20; i++)
		tc_send(q, &c, i % 2, 40000);
	pk_rec_conn_close(q, &c.rc);
	pk_rec_close(r);
	/* find the last file, then check that exactly the 3 newest exist */
	for (n = 0; n < 1000; n++) {
		pk_rec_file_name(path, n + 1, name, sizeof(name));
		if (!file_exists(name)) {
			pk_rec_file_name(path, n, name, sizeof(name));
			if (file_exists(name))
				break;
		}
	}
	CHECK(n >= 5 && n < 1000);
	for (uint32_t i = 0; i <= n; i++) {
		pk_rec_file_name(path, i, name, sizeof(name));
		CHECK_EQ_INT(file_exists(name), i + 3 > n);
		if (i + 3 > n)
			CHECK(t_read(t, name));
	}
	check_sound(t, true);
	CHECK(t->payload > 0);
out:
	free(t);
	tmp_remove();
}

/* A chunk bigger than the queue is dropped; the next record carries the gap, and the
 * sequence numbers jump by exactly that much. */
static void test_queue_full_gap(void)
{
	enum { Q = 64 * 1024 };
	struct tc c, d;
	struct tcap *t = calloc(1, sizeof(*t));
	struct pk_rec_stats st;
	char path[128];
	struct pk_rec *r;
	struct pk_recq *q;

	tmp_make();
	tmp_path(path, sizeof(path), "gap.pcap");
	r = rec_open(path, 0, 0, Q, 1);
	CHECK(r != NULL && t != NULL);
	if (!r || !t)
		goto out;
	q = pk_rec_queue(r, 0);
	tc_open(q, &c, 1, 6001, false, false);
	tc_open(q, &d, 2, 6002, true, true);
	tc_send(q, &c, 0, 10);
	tc_send(q, &c, 0, 100000); /* > the queue: dropped */
	CHECK_EQ_INT(c.rc.gap[0], 100000);
	tc_send(q, &c, 1, 5);
	CHECK_EQ_INT(c.rc.gap[0], 0); /* reported with the server's record */
	tc_send(q, &c, 1, 70000);     /* dropped */
	tc_send(q, &c, 1, 62000);     /* > 15/16 of the queue: dropped too */
	CHECK_EQ_INT(c.rc.gap[1], 132000);
	tc_send(q, &d, 1, 3);
	tc_send(q, &c, 0, 20); /* carries the server's gap */
	CHECK_EQ_INT(c.rc.gap[1], 0);
	tc_send(q, &c, 0, 90000); /* dropped, reported by the close */
	tc_send(q, &d, 0, 200000);
	tc_send(q, &d, 0, 1);
	pk_rec_conn_close(q, &c.rc);
	pk_rec_fin(q, &d.rc, false);
	pk_rec_conn_close(q, &d.rc);
	pk_rec_get_stats(r, &st);
	CHECK_EQ_INT(st.dropped_bytes, 100000 + 132000 + 90000 + 200000);
	pk_rec_close(r);

	CHECK(t_read(t, path));
	check_sound(t, false);
	{
		static const int64_t cg[2] = { 100000 + 90000, 132000 }, dg[2] = { 200000, 0 };

		check_conn(t, c.cport, c.sent, cg);
		check_conn(t, d.cport, d.sent, dg);
	}
	CHECK_EQ_INT(t->payload, 10 + 5 + 3 + 20 + 1);
out:
	free(t);
	tmp_remove();
}

struct drain {
	int fd;
	FILE *out;
	uint64_t bytes;
};

static void *drain_main(void *arg)
{
	struct drain *dr = arg;
	char buf[65536];
	ssize_t n;

	while ((n = read(dr->fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && fwrite(buf, 1, (size_t)n, dr->out) == (size_t)n)
			dr->bytes += (uint64_t)n;
	return NULL;
}

/* The writer is stuck on I/O (a FIFO nobody reads): producers never wait, their bytes are
 * dropped and counted, the space kept for small records still takes FINs, and opens that did
 * not fit are queued again with the connection's next record once the writer moves. */
static void test_stalled_writer(void)
{
	enum { Q = 64 * 1024, NOPEN = 100 };
	struct tc big, fin, *c = calloc(NOPEN, sizeof(*c));
	struct tcap *t = calloc(1, sizeof(*t));
	struct pk_rec_stats st, st2;
	char path[128], out[128];
	struct drain dr = { .fd = -1 };
	struct pk_rec *r = NULL;
	struct pk_recq *q;
	pthread_t th;
	uint64_t t0, worst = 0, sent = 0, captured;
	int lost = -1;

	tmp_make();
	tmp_path(path, sizeof(path), "fifo");
	tmp_path(out, sizeof(out), "fifo.pcap");
	CHECK(c != NULL && t != NULL);
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	dr.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	dr.out = fopen(out, "w");
	CHECK(dr.fd >= 0 && dr.out != NULL);
	if (!c || !t || dr.fd < 0 || !dr.out)
		goto out;
	fcntl(dr.fd, F_SETFL, 0);
	r = rec_open(path, 0, 0, Q, 1);
	CHECK(r != NULL);
	if (!r)
		goto out;
	q = pk_rec_queue(r, 0);
	tc_open(q, &fin, 1, 7000, false, false);
	tc_open(q, &big, 2, 7001, false, false);
	/* more than the queue, the stdio buffer and the pipe hold together, until the writer
	 * makes no progress for 30 ms while the queue is not empty: it is stuck in write(2) */
	t0 = pk_now_ms();
	do {
		for (int i = 0; i < 20; i++) {
			uint64_t a = pk_now_ns(), b;

			tc_send(q, &big, i % 3 == 0, 16 * 1024);
			b = pk_now_ns() - a;
			worst = b > worst ? b : worst;
		}
		pk_rec_get_stats(r, &st);
		usleep(30000);
		pk_rec_get_stats(r, &st2);
	} while (st2.file_bytes != st.file_bytes && pk_now_ms() - t0 < 10000);
	CHECK(st2.file_bytes == st.file_bytes);
	/* fill the queue up to its data limit */
	for (int i = 0; i < 200; i++) {
		uint64_t g = big.rc.gap[0];

		tc_send(q, &big, 0, 1024);
		if (big.rc.gap[0] > g)
			break;
	}
	CHECK(big.rc.gap[0] > 0);
	/* a FIN still fits (the space kept for small records) */
	pk_rec_get_stats(r, &st);
	pk_rec_fin(q, &fin.rc, true);
	pk_rec_get_stats(r, &st2);
	CHECK_EQ_INT(st2.lost_events, st.lost_events);
	/* opens fill that space, then get lost */
	for (int i = 0; i < NOPEN; i++) {
		tc_open(q, &c[i], (uint64_t)i + 100, (uint16_t)(8000 + i), i % 2, i % 2);
		if (!c[i].rc.opened && lost < 0)
			lost = i;
	}
	CHECK(lost > 0);
	pk_rec_get_stats(r, &st);
	CHECK_EQ_INT(st.lost_events, NOPEN - lost);
	printf("  writer stuck: worst pk_rec_data %.1f us, %d opens fitted\n", (double)worst / 1e3,
	       lost);
	CHECK(worst < 100 * 1000 * 1000ull); /* a producer never waits for the disk */

	/* unblock the writer; a lost open comes back with its connection's next record */
	CHECK_EQ_INT(pthread_create(&th, NULL, drain_main, &dr), 0);
	t0 = pk_now_ms();
	while (!c[NOPEN - 1].rc.opened && pk_now_ms() - t0 < 10000) {
		tc_send(q, &c[NOPEN - 1], 1, 100);
		usleep(1000);
	}
	CHECK(c[NOPEN - 1].rc.opened);
	tc_send(q, &c[NOPEN - 1], 0, 50);
	for (int i = 0; i < NOPEN; i++) {
		pk_rec_conn_close(q, &c[i].rc);
		sent += c[i].sent[0] + c[i].sent[1];
	}
	pk_rec_conn_close(q, &fin.rc);
	pk_rec_conn_close(q, &big.rc);
	sent += big.sent[0] + big.sent[1];
	/* every byte is accounted for once the writer is through */
	t0 = pk_now_ms();
	do {
		usleep(2000);
		pk_rec_get_stats(r, &st);
	} while (st.bytes + st.dropped_bytes < sent && pk_now_ms() - t0 < 10000);
	CHECK_EQ_INT(st.lost_events, NOPEN - lost);
	pk_rec_close(r);
	r = NULL;
	pthread_join(th, NULL);
	fclose(dr.out);
	dr.out = NULL;

	CHECK(t_read(t, out));
	check_sound(t, false);
	{
		static const int64_t any[2] = { -1, -1 }, none[2] = { 0, 0 };

		check_conn(t, big.cport, big.sent, any);
		check_conn(t, fin.cport, fin.sent, none);
		check_conn(t, c[NOPEN - 1].cport, c[NOPEN - 1].sent, any);
		check_conn(t, c[0].cport, c[0].sent, none);
	}
	captured = t->payload;
	CHECK(t_find(t, (uint16_t)(8000 + lost)) == NULL);
	CHECK_EQ_INT(st.dropped_bytes, sent - captured);
	CHECK(st.dropped_bytes > 0);
	CHECK_EQ_INT(st.bytes, captured);
out:
	pk_rec_close(r);
	if (dr.fd >= 0)
		close(dr.fd);
	if (dr.out)
		fclose(dr.out);
	free(c);
	free(t);
	tmp_remove();
}

/* A write error mid-recording (the file size limit: EFBIG) stops the recording with one
 * warning; every byte is then either written or counted as dropped. */
static void test_write_error(void)
{
	struct tc c;
	struct pk_rec_stats st, st2;
	struct rlimit old, lim;
	char path[128], logp[128], line[512];
	struct pk_rec *r = NULL;
	struct pk_recq *q;
	int saved = -1, logfd = -1, warnings = 0;
	void (*oldsig)(int);
	FILE *lf;
	uint64_t t0;

	tmp_make();
	tmp_path(path, sizeof(path), "err.pcap");
	tmp_path(logp, sizeof(logp), "err.log");
	CHECK_EQ_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 256 * 1024;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	fflush(stderr);
	saved = dup(2);
	logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(saved >= 0 && logfd >= 0);
	if (saved < 0 || logfd < 0)
		goto out;
	dup2(logfd, 2);
	CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = rec_open(path, 0, 0, 0, 1);
	CHECK(r != NULL);
	if (!r)
		goto restore;
	q = pk_rec_queue(r, 0);
	tc_open(q, &c, 1, 9000, false, false);
	for (int i = 0; i < 8; i++)
		tc_send(q, &c, i % 2, 128 * 1024);
	t0 = pk_now_ms();
	do {
		usleep(2000);
		pk_rec_get_stats(r, &st);
	} while (!st.failed && pk_now_ms() - t0 < 5000);
	CHECK(st.failed);
	tc_send(q, &c, 0, 1000); /* after the failure: counted, not queued */
	pk_rec_conn_close(q, &c.rc);
	t0 = pk_now_ms();
	do {
		usleep(2000);
		pk_rec_get_stats(r, &st2);
	} while (st2.bytes + st2.dropped_bytes < c.sent[0] + c.sent[1] && pk_now_ms() - t0 < 5000);
	CHECK_EQ_INT(st2.packets, st.packets);
	CHECK_EQ_INT(st2.bytes + st2.dropped_bytes, c.sent[0] + c.sent[1]);
	CHECK(st2.dropped_bytes >= 1000);
	CHECK(st2.failed);
	pk_rec_close(r);
	r = NULL;
restore:
	setrlimit(RLIMIT_FSIZE, &old);
	fflush(stderr);
	dup2(saved, 2);
	lf = fopen(logp, "r");
	CHECK(lf != NULL);
	while (lf && fgets(line, sizeof(line), lf)) {
		if (strstr(line, "recording stopped")) {
			warnings++;
			CHECK(strstr(line, "record: write ") != NULL);
			CHECK(strstr(line, "File too large") != NULL);
		}
	}
	if (lf)
		fclose(lf);
	CHECK_EQ_INT(warnings, 1);
out:
	pk_rec_close(r);
	signal(SIGXFSZ, oldsig);
	if (saved >= 0)
		close(saved);
	if (logfd >= 0)
		close(logfd);
	tmp_remove();
}

struct prod {
	struct pk_recq *q;
	struct tc c[4];
	int idx;
};

static void *prod_main(void *arg)
{
	struct prod *p = arg;
	unsigned char *buf = malloc(32768);
	unsigned seed = (unsigned)p->idx * 7919u + 1;

	if (!buf)
		return NULL;
	for (int k = 0; k < 4; k++) {
		struct sockaddr_storage cl, sv;

		p->c[k].cport = (uint16_t)(20000 + p->idx * 100 + k);
		if (k % 2)
			addr6(&cl, "::1", p->c[k].cport);
		else
			addr4(&cl, "127.0.0.1", p->c[k].cport);
		addr4(&sv, "127.0.0.2", SERVER_PORT);
		pk_rec_conn_open(p->q, &p->c[k].rc, (uint64_t)(p->idx * 100 + k + 1000), &cl, &sv);
	}
	for (int i = 0; i < 4000; i++) {
		struct tc *c = &p->c[rand_r(&seed) % 4];
		int dir = (int)(rand_r(&seed) % 2);
		size_t n = (size_t)(rand_r(&seed) % 4096) + 1;

		if (i % 500 == 0)
			n = 32768;
		for (size_t j = 0; j < n; j++)
			buf[j] = pat(c->cport, dir, c->sent[dir] + j);
		pk_rec_data(p->q, &c->rc, dir == 0, buf, n);
		c->sent[dir] += n;
	}
	for (int k = 0; k < 4; k++)
		pk_rec_conn_close(p->q, &p->c[k].rc);
	free(buf);
	return NULL;
}

/* Two producers at once, each on its own queue. */
static void test_producers(void)
{
	struct prod p[2];
	struct tcap *t = calloc(1, sizeof(*t));
	pthread_t th[2];
	char path[128];
	struct pk_rec *r;
	uint64_t sent = 0;

	tmp_make();
	tmp_path(path, sizeof(path), "mp.pcap");
	r = rec_open(path, 0, 0, 0, 2);
	CHECK(r != NULL && t != NULL);
	if (!r || !t)
		goto out;
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 2; i++) {
		p[i].q = pk_rec_queue(r, i);
		p[i].idx = i;
		CHECK_EQ_INT(pthread_create(&th[i], NULL, prod_main, &p[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pk_rec_close(r);
	CHECK(t_read(t, path));
	check_sound(t, false);
	CHECK_EQ_INT(t->n, 8);
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < 4; k++) {
			static const int64_t any[2] = { -1, -1 };

			check_conn(t, p[i].c[k].cport, p[i].c[k].sent, any);
			sent += p[i].c[k].sent[0] + p[i].c[k].sent[1];
		}
	}
	CHECK(t->payload <= sent);
	if (t->payload < sent)
		printf("  %llu of %llu bytes dropped (queue full)\n",
		       (unsigned long long)(sent - t->payload), (unsigned long long)sent);
out:
	free(t);
	tmp_remove();
}

/* Records of two queues come out merged by time (one thread feeds both alternately, so the
 * true order is known).  Only records queued while the writer was between two queues' swaps
 * can come out of order, by that long: microseconds. */
static void test_merge_order(void)
{
	struct tc c[2];
	struct tcap *t = calloc(1, sizeof(*t));
	char path[128];
	struct pk_rec *r;

	tmp_make();
	tmp_path(path, sizeof(path), "merge.pcap");
	r = rec_open(path, 0, 0, 0, 2);
	CHECK(r != NULL && t != NULL);
	if (!r || !t)
		goto out;
	tc_open(pk_rec_queue(r, 0), &c[0], 1, 4000, false, false);
	tc_open(pk_rec_queue(r, 1), &c[1], 2, 4001, true, true);
	for (int i = 0; i < 600; i++) {
		tc_send(pk_rec_queue(r, i % 2), &c[i % 2], i / 2 % 2, 100);
		usleep(100);
	}
	pk_rec_conn_close(pk_rec_queue(r, 0), &c[0].rc);
	pk_rec_conn_close(pk_rec_queue(r, 1), &c[1].rc);
	pk_rec_close(r);
	CHECK(t_read(t, path));
	check_sound(t, true);
	for (int k = 0; k < 2; k++) {
		static const int64_t none[2] = { 0, 0 };

		check_conn(t, c[k].cport, c[k].sent, none);
	}
	if (t->ts_back)
		printf("  %d steps back in time, at most %llu us\n", t->ts_back,
		       (unsigned long long)t->back_max_us);
	CHECK(t->ts_back == 0); /* one producer: its records are written in its order */
out:
	free(t);
	tmp_remove();
}

int main(void)
{
	UNIT_RUN(test_file_name);
	UNIT_RUN(test_bad_paths);
	UNIT_RUN(test_streams);
	UNIT_RUN(test_stats);
	UNIT_RUN(test_rotation);
	UNIT_RUN(test_files_max);
	UNIT_RUN(test_queue_full_gap);
	UNIT_RUN(test_stalled_writer);
	UNIT_RUN(test_write_error);
	UNIT_RUN(test_producers);
	UNIT_RUN(test_merge_order);
	return unit_done();
}
