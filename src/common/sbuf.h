/* sbuf.h — a bounded FIFO: a memory ring that continues in a spill file when full.
 *
 *   append ──► [ spill file: rd ... wr ] ──refill──► [ memory ring ] ──► peek/consume
 *              (used only while the ring is full, or while older bytes are still in it)
 *
 * Order is kept: once a byte has gone to the file, later bytes go to the file too until
 * the file drains, and the ring is refilled from the file as it empties.  Memory stays
 * at most mem_cap; the file (unlinked, in dir) at most spill_max.  Appends are
 * all-or-nothing, so a reader never sees a stream with a hole in it.
 */
#ifndef PK_COMMON_SBUF_H
#define PK_COMMON_SBUF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/ring.h"

struct pk_sbuf {
	struct pk_ring mem;
	const char *dir;    /* spill directory, NULL = no spill (not owned) */
	uint64_t spill_max; /* cap of the spill file */
	int fd;		    /* spill file, -1 until first needed */
	uint64_t spill_rd;  /* file offset of the first unread byte */
	uint64_t spill_wr;  /* file offset one past the last written byte */
};

/* Initialises an empty buffer; dir may be NULL (memory only).  Opens nothing yet. */
void pk_sbuf_init(struct pk_sbuf *sb, size_t mem_cap, const char *dir, uint64_t spill_max);

/* Frees memory and closes (and so deletes) the spill file. */
void pk_sbuf_release(struct pk_sbuf *sb);

/* Appends all n bytes or none: 0, -ENOSPC when memory and spill are full, or the -errno of
 * a failed spill write (e.g. -ENOSPC for a full disk). */
int pk_sbuf_append(struct pk_sbuf *sb, const void *p, size_t n) __attribute__((warn_unused_result));

/* Fills iov with the next readable bytes from memory (refilling memory from the spill file
 * first when it has room); returns the segment count, or -errno if the file read failed. */
int pk_sbuf_peek(struct pk_sbuf *sb, struct iovec iov[2]);

/* Drops the first n bytes returned by the last peek. */
void pk_sbuf_consume(struct pk_sbuf *sb, size_t n);

/* Returns the bytes waiting in the spill file. */
static inline uint64_t pk_sbuf_spilled(const struct pk_sbuf *sb)
{
	return sb->spill_wr - sb->spill_rd;
}

/* Returns all bytes waiting (memory + spill). */
static inline uint64_t pk_sbuf_used(const struct pk_sbuf *sb)
{
	return pk_ring_used(&sb->mem) + pk_sbuf_spilled(sb);
}

#endif
