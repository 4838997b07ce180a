/* pcap_write.h — records TCP byte streams as a pcap file that tshark and Wireshark open.
 *
 * The proxy knows streams, not packets: each recorded connection is written with synthesized
 * Ethernet/IP/TCP headers (handshake, data segments with consistent sequence and
 * acknowledgement numbers, FINs), so that "Follow TCP stream" gives back the bytes exactly.
 *
 * Recording never blocks the proxy: every worker appends small records to its own bounded
 * queue (a short mutex, a memcpy); one writer thread turns them into packets and writes them
 * with libpcap.  A full queue drops the bytes (counted; the gap shows in the pcap as lost
 * segments, not as malformed packets).  Files rotate by size: FILE, then FILE.1, FILE.2, ...
 *
 * A queue holds records, each a fixed header then its payload, written all-or-nothing:
 *
 *   | hdr: id, ts, len, type, dir | payload (len) | hdr | payload | ...
 *   types: OPEN (payload: struct pk_rec_ends), DATA (the bytes), GAP (8 bytes: how many
 *   bytes of dir were lost), FIN, CLOSE.
 *
 * Data may use the queue up to 15/16 of queue_bytes; the last 1/16 is kept for the small
 * records (open, FIN, close), so that a queue full of data does not lose connection events.
 * Lost bytes are remembered in the connection (gap[]) and queued as a GAP record in front of
 * its next record; the writer then advances that direction's sequence number by the amount.
 * If the open record itself did not fit, it is queued again in front of the connection's next
 * record (the connection then starts there, with its real addresses).  The writer ignores and
 * counts records of connections it does not know (stats.unknown); with the above that happens
 * only when a close record was lost and the id is used again without an open.
 *
 * Threads: pk_rec_open() starts one writer thread; pk_rec_close() stops and joins it.  It wakes
 * every 10 ms, or sooner once a queue is half full, swaps each producer's queue with an empty
 * one (O(1) under the queue's mutex) and writes the records, merged by time, without any lock.
 * The file is flushed after each batch: it lags by about 10 ms and always ends with a whole
 * packet.  Memory: at most 2 x queue_bytes (rounded up to a power of two) per producer, the
 * queue and the batch being written.  A failed write (disk full, EFBIG...) logs one warning
 * and stops the recording for good.
 */
#ifndef PK_CAPTURE_PCAP_WRITE_H
#define PK_CAPTURE_PCAP_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct pk_rec_opts {
	const char *path;   /* first file; later ones get ".1", ".2", ... inserted before ".pcap" */
	uint64_t file_max;  /* a packet that would take a file past this many bytes starts the next
			     * file (a file holds at least one packet); 0 = one file */
	uint32_t files_max; /* keep at most this many files of this recording (oldest deleted);
			     * 0 = all */
	size_t queue_bytes; /* per producer queue (default 8 MiB when 0) */
	int nqueues;	    /* producers (proxy workers), each with its own queue */
};

/* The per-producer queue size when opts.queue_bytes is 0. */
#define PK_REC_DEFAULT_QUEUE (8u << 20)
/* Largest TCP payload per synthesized segment (an IPv4 packet stays under 65535 bytes). */
#define PK_REC_MSS 65000

struct pk_rec_stats {
	uint64_t packets;	/* packets written */
	uint64_t bytes;		/* payload bytes handed to the file */
	uint64_t file_bytes;	/* bytes written to files, headers included */
	uint64_t dropped_bytes; /* payload bytes lost: full queue, failed file, connection not
				 * opened or not known (bytes + dropped_bytes: all recorded) */
	uint32_t files;		/* files opened so far */
	bool failed;		/* writing failed (disk full...): recording stopped */
	uint64_t conns;		/* connections started in the pcap (handshakes written) */
	uint64_t lost_events;	/* open/FIN/close records lost to a full queue */
	uint64_t unknown;	/* records for a connection the writer did not know (ignored) */
};

struct pk_rec;
struct pk_recq;

/* A connection's two ends as the pcap shows them: index 0 is the client, 1 the server.
 * IPv4 addresses use the first 4 bytes of addr, unless v6, where they are ::ffff:a.b.c.d. */
struct pk_rec_ends {
	uint8_t addr[2][16];
	uint16_t port[2]; /* host order */
	uint8_t v6;
	uint8_t pad[3];
};

/* Per-connection recording state, owned by the producer (embedded in its session).  All zero
 * is a connection not being recorded; pk_rec_conn_open() sets it, pk_rec_conn_close() zeroes it. */
struct pk_rec_conn {
	uint64_t id;
	uint64_t gap[2]; /* bytes lost per direction (0: client to server) not yet reported */
	bool opened;	 /* the open record was queued */
	bool started;	 /* pk_rec_conn_open() was called: ends is set */
	struct pk_rec_ends ends;
};

/* The step of pk_rec_open() that failed (its caller words it: the proxy's enum pk_proxy_step). */
enum pk_rec_step {
	PK_REC_STEP_ALLOC,  /* allocating the recorder (or o is not valid) */
	PK_REC_STEP_OPEN,   /* opening the file o->path */
	PK_REC_STEP_WRITE,  /* writing its header through to the file */
	PK_REC_STEP_THREAD, /* starting the writer thread */
};

/* Opens the first file and writes its header through to the file (so that a bad path or a
 * full disk fails here), then starts the writer thread.  NULL with errno set on failure; *step
 * says which step failed (PK_REC_STEP_OPEN and PK_REC_STEP_WRITE are about the file o->path). */
struct pk_rec *pk_rec_open(const struct pk_rec_opts *o, enum pk_rec_step *step);

/* Writes out everything queued, stops the writer and closes the file.  Producers must have
 * stopped.  Connections still open are left open in the pcap (no FIN is made up).  NULL is a
 * no-op. */
void pk_rec_close(struct pk_rec *r);

/* Returns producer i's queue (0 <= i < nqueues). */
struct pk_recq *pk_rec_queue(struct pk_rec *r, int i);

/* Starts recording connection id between client and server (IPv4 or IPv6 addresses; if either
 * is IPv6 both are written as IPv6).  An address of another family, or NULL, is replaced by
 * 192.0.2.1 (client, port 1024 + id % 64000) or 192.0.2.2 (server, port 0).  ids must be
 * unique among the connections open at once, over all queues. */
void pk_rec_conn_open(struct pk_recq *q, struct pk_rec_conn *c, uint64_t id,
		      const struct sockaddr_storage *client, const struct sockaddr_storage *server);

/* Records n bytes sent by the client (to_server) or by the server: copies them (all or none)
 * into q and never blocks on I/O.  If q is full they are counted as dropped and as c->gap.
 * Bytes for a c that was never opened are counted as dropped. */
void pk_rec_data(struct pk_recq *q, struct pk_rec_conn *c, bool to_server, const void *buf,
		 size_t n);

/* Records that the client (from_client) or the server closed its side (a FIN). */
void pk_rec_fin(struct pk_recq *q, struct pk_rec_conn *c, bool from_client);

/* Records the end of the connection (FINs for sides that did not send one); c is reusable. */
void pk_rec_conn_close(struct pk_recq *q, struct pk_rec_conn *c);

/* Copies the writer's counters (safe from any thread). */
void pk_rec_get_stats(struct pk_rec *r, struct pk_rec_stats *st);

/* Writes the name of file number n of a recording at path into out (n = 0 is path itself;
 * else ".N" goes before a final ".pcap", or at the end).  0 or -ENAMETOOLONG. */
int pk_rec_file_name(const char *path, uint32_t n, char *out, size_t outlen);

#endif
