/* sbuf.c — memory ring with an unlinked spill file behind it. */
#include "common/sbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void pk_sbuf_init(struct pk_sbuf *sb, size_t mem_cap, const char *dir, uint64_t spill_max)
{
	pk_ring_init(&sb->mem, mem_cap);
	sb->dir = dir;
	sb->spill_max = dir ? spill_max : 0;
	sb->fd = -1;
	sb->spill_rd = sb->spill_wr = 0;
}

void pk_sbuf_release(struct pk_sbuf *sb)
{
	pk_ring_release(&sb->mem);
	if (sb->fd >= 0)
		close(sb->fd);
	sb->fd = -1;
	sb->spill_rd = sb->spill_wr = 0;
}

/* Opens an anonymous file in sb->dir: O_TMPFILE, or mkstemp + unlink where unsupported. */
static int spill_open(struct pk_sbuf *sb)
{
	char path[4096];
	int fd = open(sb->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	if ((size_t)snprintf(path, sizeof(path), "%s/pk-spill-XXXXXX", sb->dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

/* The file is a ring of spill_max bytes: stream offset o lives at file offset
 * o % spill_max, so the file never grows past spill_max however long the stream. */
static int pwrite_all(int fd, const char *p, size_t n, uint64_t pos)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = pwrite(fd, p + off, n - off, (off_t)(pos + off));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)w;
	}
	return 0;
}

static int spill_write(struct pk_sbuf *sb, const void *p, size_t n)
{
	uint64_t pos;
	size_t first;
	int err;

	if (pk_sbuf_spilled(sb) + n > sb->spill_max)
		return -ENOSPC;
	if (sb->fd < 0) {
		int fd = spill_open(sb);

		if (fd < 0)
			return fd;
		sb->fd = fd;
	}
	pos = sb->spill_wr % sb->spill_max;
	first = n < sb->spill_max - pos ? n : (size_t)(sb->spill_max - pos);
	err = pwrite_all(sb->fd, p, first, pos);
	if (!err && first < n)
		err = pwrite_all(sb->fd, (const char *)p + first, n - first, 0);
	if (err)
		return err;
	sb->spill_wr += n;
	return 0;
}

int pk_sbuf_append(struct pk_sbuf *sb, const void *p, size_t n)
{
	if (pk_sbuf_spilled(sb) == 0 && n <= pk_ring_room(&sb->mem))
		return pk_ring_write(&sb->mem, p, n);
	if (!sb->dir)
		return -ENOSPC;
	return spill_write(sb, p, n);
}

/* Moves bytes from the file into the ring's free room; resets the file once drained. */
static int spill_refill(struct pk_sbuf *sb)
{
	uint64_t want = pk_sbuf_spilled(sb), pos = sb->spill_rd % sb->spill_max;
	size_t room = pk_ring_room(&sb->mem);
	struct iovec iov[2];
	ssize_t r;
	int segs;

	if (want > room)
		want = room;
	if (want > sb->spill_max - pos)
		want = sb->spill_max - pos; /* up to the end of the file; the rest next time */
	segs = pk_ring_reserve(&sb->mem, (size_t)want, iov);
	if (segs < 0)
		return segs;
	do
		r = preadv(sb->fd, iov, segs, (off_t)pos);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -EIO; /* the file is shorter than what we wrote: truncated under us */
	pk_ring_commit(&sb->mem, (size_t)r);
	sb->spill_rd += (uint64_t)r;
	if (sb->spill_rd == sb->spill_wr) {
		sb->spill_rd = sb->spill_wr = 0;
		if (ftruncate(sb->fd, 0) < 0)
			return -errno;
	}
	return 0;
}

int pk_sbuf_peek(struct pk_sbuf *sb, struct iovec iov[2])
{
	/* Refill when at least half the ring is free: few, large file reads. */
	size_t room = pk_ring_room(&sb->mem);

	if (pk_sbuf_spilled(sb) > 0 && room > 0 && room >= sb->mem.cap / 2) {
		int err = spill_refill(sb);

		if (err)
			return err;
	}
	return pk_ring_peek(&sb->mem, iov);
}

void pk_sbuf_consume(struct pk_sbuf *sb, size_t n)
{
	pk_ring_consume(&sb->mem, n);
}
