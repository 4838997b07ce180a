/* ring.h — a bounded byte FIFO that grows on demand.
 *
 *   buf (size = power of two, grown up to roundup_pow2(cap), freed when drained)
 *   +---------------------------------------------+
 *   |  free  |###### used ######|      free       |
 *   +---------------------------------------------+
 *            ^ head & (size-1)  ^ tail & (size-1)
 *
 * head and tail are absolute byte counters; used = tail - head never exceeds cap.
 * An all-zero ring is a valid empty ring of cap 0; pk_ring_init() sets the cap.
 * Writes are all-or-nothing: a stream in the ring is never cut mid-write.
 */
#ifndef PK_COMMON_RING_H
#define PK_COMMON_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct pk_ring {
	char *buf;
	size_t size;   /* bytes allocated (0 or a power of two) */
	size_t cap;    /* hard limit on used bytes */
	uint64_t head; /* absolute offset of the first unread byte */
	uint64_t tail; /* absolute offset one past the last written byte */
};

/* Initialises an empty ring that will hold at most cap bytes; allocates nothing. */
void pk_ring_init(struct pk_ring *r, size_t cap);

/* Frees the ring's memory; the ring is empty afterwards and may be reused. */
void pk_ring_release(struct pk_ring *r);

/* Returns the number of bytes waiting to be read. */
static inline size_t pk_ring_used(const struct pk_ring *r)
{
	return (size_t)(r->tail - r->head);
}

/* Returns how many more bytes may be written before the cap. */
static inline size_t pk_ring_room(const struct pk_ring *r)
{
	return r->cap - pk_ring_used(r);
}

/* Appends all n bytes, or nothing: -ENOSPC past the cap, -ENOMEM if growing failed. */
int pk_ring_write(struct pk_ring *r, const void *p, size_t n) __attribute__((warn_unused_result));

/* Makes room for n more bytes and returns the writable segments (1 or 2) in iov; fill them,
 * then pk_ring_commit().  Returns the number of segments, or -ENOSPC / -ENOMEM. */
int pk_ring_reserve(struct pk_ring *r, size_t n, struct iovec iov[2])
	__attribute__((warn_unused_result));

/* Marks n bytes of the reserved space as written. */
void pk_ring_commit(struct pk_ring *r, size_t n);

/* Fills iov with the readable bytes (0, 1 or 2 segments) and returns the segment count. */
int pk_ring_peek(const struct pk_ring *r, struct iovec iov[2]);

/* Drops the first n readable bytes (n <= used: PK_BUG_ON in debug builds, clamped to used
 * in release builds); frees large buffers once empty. */
void pk_ring_consume(struct pk_ring *r, size_t n);

/* Empties the ring but keeps its buffer, however big, for the next writes (pk_ring_consume()
 * frees big buffers once drained), which start again at the buffer's beginning (head and
 * tail are reset to 0): for a ring refilled at a steady high rate. */
void pk_ring_clear(struct pk_ring *r);

/* Copies up to n bytes out (consuming them); returns the number copied. */
size_t pk_ring_read(struct pk_ring *r, void *dst, size_t n);

#endif
