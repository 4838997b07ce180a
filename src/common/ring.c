/* ring.c — growable power-of-two byte ring. */
#include "common/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"

#define RING_MIN_SIZE 4096
/* Buffers larger than this are returned to the allocator when the ring drains, so that
 * thousands of idle connections do not pin their burst-time high water. */
#define RING_KEEP_SIZE (64 * 1024)

void pk_ring_init(struct pk_ring *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->cap = cap;
}

void pk_ring_release(struct pk_ring *r)
{
	free(r->buf);
	r->buf = NULL;
	r->size = 0;
	r->head = r->tail = 0;
}

static size_t roundup_pow2(size_t n)
{
	size_t s = RING_MIN_SIZE;

	while (s < n)
		s <<= 1;
	return s;
}

/* Copies the used bytes of r into dst linearly (dst has room for them). */
static void ring_linearize(const struct pk_ring *r, char *dst)
{
	struct iovec iov[2];
	int n = pk_ring_peek(r, iov);
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		memcpy(dst + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
}

/* Ensures size >= used + n.  Returns 0 or -ENOMEM. */
static int ring_grow(struct pk_ring *r, size_t n)
{
	size_t used = pk_ring_used(r), want = used + n, size;
	char *nb;

	if (want <= r->size)
		return 0;
	size = roundup_pow2(want);
	nb = malloc(size);
	if (!nb)
		return -ENOMEM;
	ring_linearize(r, nb);
	free(r->buf);
	r->buf = nb;
	r->size = size;
	r->head = 0;
	r->tail = used;
	return 0;
}

/* Describes the n bytes of r's buffer that start at stream position pos (head or tail) as
 * one iovec, or two when they wrap past the end of the buffer; returns how many. */
static int ring_span(const struct pk_ring *r, uint64_t pos, size_t n, struct iovec iov[2])
{
	size_t off = (size_t)(pos & (r->size - 1)), first = r->size - off;

	if (first >= n) {
		iov[0] = (struct iovec){ r->buf + off, n };
		return 1;
	}
	iov[0] = (struct iovec){ r->buf + off, first };
	iov[1] = (struct iovec){ r->buf, n - first };
	return 2;
}

int pk_ring_reserve(struct pk_ring *r, size_t n, struct iovec iov[2])
{
	int err;

	if (n > pk_ring_room(r))
		return -ENOSPC;
	err = ring_grow(r, n);
	if (err)
		return err;
	return n == 0 ? 0 : ring_span(r, r->tail, n, iov);
}

void pk_ring_commit(struct pk_ring *r, size_t n)
{
	PK_BUG_ON(n > pk_ring_room(r) || pk_ring_used(r) + n > r->size);
	r->tail += n;
}

int pk_ring_write(struct pk_ring *r, const void *p, size_t n)
{
	struct iovec iov[2];
	int segs = pk_ring_reserve(r, n, iov);
	size_t off = 0;

	if (segs < 0)
		return segs;
	for (int i = 0; i < segs; i++) {
		memcpy(iov[i].iov_base, (const char *)p + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	pk_ring_commit(r, n);
	return 0;
}

int pk_ring_peek(const struct pk_ring *r, struct iovec iov[2])
{
	size_t used = pk_ring_used(r);

	return used == 0 ? 0 : ring_span(r, r->head, used, iov);
}

void pk_ring_consume(struct pk_ring *r, size_t n)
{
	PK_BUG_ON(n > pk_ring_used(r));
	if (n > pk_ring_used(r)) /* release builds: never let head pass tail */
		n = pk_ring_used(r);
	r->head += n;
	if (r->head == r->tail && r->size > RING_KEEP_SIZE)
		pk_ring_release(r);
}

void pk_ring_clear(struct pk_ring *r)
{
	/* back to the buffer's start: the next writes land where the cache is likely warm */
	r->head = r->tail = 0;
}

size_t pk_ring_read(struct pk_ring *r, void *dst, size_t n)
{
	struct iovec iov[2];
	int segs = pk_ring_peek(r, iov);
	size_t off = 0;

	for (int i = 0; i < segs && off < n; i++) {
		size_t k = iov[i].iov_len < n - off ? iov[i].iov_len : n - off;

		memcpy((char *)dst + off, iov[i].iov_base, k);
		off += k;
	}
	pk_ring_consume(r, off);
	return off;
}
