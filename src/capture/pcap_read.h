/* pcap_read.h — the TCP connections of a capture file, reassembled into byte streams.
 *
 * Reads pcap or pcapng through libpcap.  Link types: Ethernet (with up to two VLAN tags), raw IP
 * (DLT_RAW, LINKTYPE_IPV4/IPV6), Linux cooked (SLL, SLL2), BSD loopback (NULL, LOOP).  IPv4 and
 * IPv6; TCP only: other frames, other protocols and IP fragments are skipped and counted.
 *
 * Each connection (4-tuple; a SYN with a new sequence number on a known tuple starts a new one)
 * becomes two streams ordered by sequence number: retransmitted bytes are dropped, segments
 * that arrive early are held (at most PK_PCAP_MAX_HELD per direction) until the hole before them
 * fills; a hole that never fills (a packet the capture missed, or cut by the snap length) is
 * skipped and the stream is marked as having a gap.  The client is the SYN's sender, else the
 * side whose port is opts.server_port, else the side with the higher port.
 *
 * The client→server stream is also kept as chunks, one per in-order delivery, each with its
 * capture time and how far the server→client stream had got before it: enough to replay the
 * client with its original timing or as fast as causality allows.
 *
 *   c2s.data  |chunk 0|chunk 1 |  chunk 2  |...     (contiguous; chunk i = data[off, off+len))
 *   s2c.data  |...........................|         (the server's bytes, in order)
 *
 * With opts.reply_times, the server→client stream is also kept as marks of when its bytes came
 * (one per in-order delivery, in stream positions, holes counted): enough to time how long the
 * server took to begin each answer (the `sim` trace reader).
 *
 * Everything is in memory, under a hard cap (opts.max_bytes) on all that is held.  Malformed
 * input is an error with a message, never undefined behaviour: this reader is fuzzed.
 */
#ifndef PK_CAPTURE_PCAP_READ_H
#define PK_CAPTURE_PCAP_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/sock.h"

#define PK_PCAP_DEFAULT_MAX_GB 1 /* default cap on bytes held, in GiB */
#define PK_PCAP_DEFAULT_MAX ((uint64_t)PK_PCAP_DEFAULT_MAX_GB << 30)
#define PK_PCAP_MAX_HELD 1024 /* out-of-order segments held per direction */

struct pk_pcap_opts {
	uint16_t server_port; /* 0: none; else keep only connections to this port */
	uint64_t max_bytes;   /* cap on memory held; 0: PK_PCAP_DEFAULT_MAX */
	bool reply_times;     /* keep pk_pcap_conn.replies */
};

/* One in-order piece of the client's stream. */
struct pk_pcap_chunk {
	uint64_t off;	     /* where its bytes start in c2s.data */
	uint64_t len;	     /* its length (> 0) */
	uint64_t ts_ns;	     /* capture time (ns since the epoch) of the packet that completed it */
	uint64_t s2c_before; /* server→client stream position when it was sent */
};

/* When a stretch of the server's stream came (opts.reply_times). */
struct pk_pcap_mark {
	uint64_t pos;	/* its first byte's server→client stream position (holes counted) */
	uint64_t len;	/* bytes delivered then (> 0) */
	uint64_t ts_ns; /* capture time of the packet that completed it */
};

/* One direction of a connection. */
struct pk_pcap_stream {
	char *data;	     /* the bytes in order, holes left out */
	uint64_t len;	     /* bytes in data */
	uint64_t missing;    /* bytes of holes that never filled (0: complete) */
	bool fin;	     /* this side sent a FIN */
	uint64_t fin_ts_ns;  /* when */
	uint64_t fin_before; /* the other direction's stream position at that moment */
	bool rst;	     /* this side reset the connection */
	uint64_t rst_ts_ns;  /* when (the first reset) */
	uint64_t rst_before; /* the other direction's stream position at that moment */
};

struct pk_pcap_conn {
	unsigned id;		       /* 1, 2, ... in order of first packet */
	struct pk_addr client, server; /* as recorded */
	bool syn_seen;		       /* the client's SYN is in the capture */
	uint64_t first_ns, last_ns;    /* capture times of its first and last packets */
	uint64_t packets;
	struct pk_pcap_stream c2s, s2c;
	struct pk_pcap_chunk *chunks;
	size_t nchunks;
	struct pk_pcap_mark *replies; /* with opts.reply_times: the s2c stream's arrival times, */
	size_t nreplies;	      /* in stream order, not overlapping */
};

struct pk_pcap_stats {
	uint64_t packets;	/* records in the file */
	uint64_t tcp_packets;	/* TCP segments read (including filtered ones) */
	uint64_t not_ip;	/* frames skipped: not IPv4/IPv6 (ARP, ...) */
	uint64_t not_tcp;	/* IP packets skipped: another protocol */
	uint64_t fragments;	/* IP fragments skipped */
	uint64_t filtered;	/* TCP segments of connections to another server port */
	uint64_t retransmitted; /* segments that carried only bytes already seen */
	uint64_t out_of_order;	/* segments held until the hole before them filled */
	uint64_t holes;		/* holes skipped (never filled) */
};

struct pk_pcap {
	int linktype; /* libpcap's DLT_ value */
	struct pk_pcap_conn **conns;
	size_t nconns;
	struct pk_pcap_stats stats;
	uint64_t mem_bytes; /* memory held at the end */
};

/* Tells whether the capture saw c end (a FIN or a reset from either side). */
static inline bool pk_pcap_conn_ended(const struct pk_pcap_conn *c)
{
	return c->c2s.fin || c->s2c.fin || c->c2s.rst || c->s2c.rst;
}

/* Tells whether either stream of c has a hole. */
static inline bool pk_pcap_conn_has_gap(const struct pk_pcap_conn *c)
{
	return c->c2s.missing > 0 || c->s2c.missing > 0;
}

/* Reads the capture file at path.  On success *out is a new capture the caller frees with
 * pk_pcap_free().  On failure returns -errno (-ENOENT and such from opening, -EBADMSG for a
 * malformed file, -EPROTONOSUPPORT for a link type not read, -E2BIG past the memory cap,
 * -ENOMEM) and writes one line saying why into err. */
int pk_pcap_read_file(const char *path, const struct pk_pcap_opts *opts, struct pk_pcap **out,
		      char *err, size_t errlen) __attribute__((warn_unused_result));

/* Like pk_pcap_read_file(), from an open stream (e.g. fmemopen()), which it takes over and
 * closes in every case. */
int pk_pcap_read_stream(FILE *f, const struct pk_pcap_opts *opts, struct pk_pcap **out, char *err,
			size_t errlen) __attribute__((warn_unused_result));

/* Frees a capture and everything in it; NULL is ignored. */
void pk_pcap_free(struct pk_pcap *p);

#endif
