/* pcap_mem.h — captures written in memory with libpcap's own writer (pcap_open_dead +
 * pcap_dump, nanosecond timestamps), for the tests of the readers of capture files.
 *
 *   struct cap c;  cap_open(&c, DLT_RAW);  cap_frame(&c, ...);  cap_close(&c);
 *   ... read c.buf, c.len ...;  cap_free(&c);
 */
#ifndef PK_TESTS_PCAP_MEM_H
#define PK_TESTS_PCAP_MEM_H

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A capture being written to memory. */
struct cap {
	pcap_t *dead;
	pcap_dumper_t *dump;
	FILE *f;
	char *buf;
	size_t len;
	int linktype;
	uint64_t ts;
};

static inline void cap_open(struct cap *c, int linktype)
{
	memset(c, 0, sizeof(*c));
	c->linktype = linktype;
	c->f = open_memstream(&c->buf, &c->len);
	c->dead =
		pcap_open_dead_with_tstamp_precision(linktype, 262144, PCAP_TSTAMP_PRECISION_NANO);
	c->dump = pcap_dump_fopen(c->dead, c->f);
	c->ts = 1700000000ull * 1000000000ull;
}

/* Writes one frame of wire length wire, of which caplen bytes are captured, at ts_ns. */
static inline void cap_frame_at(struct cap *c, const void *frame, size_t caplen, size_t wire,
				uint64_t ts_ns)
{
	struct pcap_pkthdr h = { .caplen = (bpf_u_int32)caplen, .len = (bpf_u_int32)wire };

	c->ts = ts_ns;
	h.ts.tv_sec = (time_t)(ts_ns / 1000000000ull);
	h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000ull); /* nanoseconds in a nano capture */
	pcap_dump((u_char *)c->dump, &h, frame);
}

/* Writes one frame 1 ms after the previous one. */
static inline void cap_frame(struct cap *c, const void *frame, size_t caplen, size_t wire)
{
	cap_frame_at(c, frame, caplen, wire, c->ts + 1000000);
}

/* Finishes the file: c->buf and c->len hold it. */
static inline void cap_close(struct cap *c)
{
	pcap_dump_close(c->dump);
	pcap_close(c->dead);
}

static inline void cap_free(struct cap *c)
{
	free(c->buf);
}

#endif
