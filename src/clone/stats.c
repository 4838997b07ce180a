/* stats.c — reads CRIU's stats-dump image: how long production was frozen.
 *
 * Layout (criu/include/magic.h, images/stats.proto): u32 IMG_SERVICE_MAGIC, u32 STATS_MAGIC,
 * then one entry: u32 length + a protobuf stats_entry { dump_stats_entry dump = 1; }, whose
 * fields are varints (times in microseconds).  Only varints and one nested message occur, so
 * a few lines of wire-format walking replace generated protobuf code.
 */
#include "clone/clone_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define IMG_SERVICE_MAGIC 0x55105940u
#define STATS_MAGIC 0x57093306u

/* Reads one varint at *p (< end); returns 0 or -EINVAL. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -EINVAL;
}

/* Walks a message; for each varint field calls back, for field `nested` (length-delimited)
 * descends.  Returns 0 or -EINVAL. */
static int walk(const uint8_t *p, const uint8_t *end, uint32_t nested, struct pk_clone_report *r)
{
	while (p < end) {
		uint64_t key, v;

		if (varint(&p, end, &key))
			return -EINVAL;
		switch (key & 7) {
		case 0:
			if (varint(&p, end, &v))
				return -EINVAL;
			if (nested == 0) { /* inside dump_stats_entry */
				switch (key >> 3) {
				case 1:
					r->freezing_ms = (double)v / 1000;
					break;
				case 2:
					r->frozen_ms = (double)v / 1000;
					break;
				case 3:
					r->memdump_ms = (double)v / 1000;
					break;
				case 4:
					r->memwrite_ms = (double)v / 1000;
					break;
				case 7:
					r->pages_written = v;
					break;
				}
			}
			break;
		case 2:
			if (varint(&p, end, &v) || v > (uint64_t)(end - p))
				return -EINVAL;
			if ((key >> 3) == nested && walk(p, p + v, 0, r))
				return -EINVAL;
			p += v;
			break;
		case 1:
			p += 8;
			break;
		case 5:
			p += 4;
			break;
		default:
			return -EINVAL;
		}
	}
	return p == end ? 0 : -EINVAL;
}

/* Fills the dump timings of r from dir/stats-dump.  Returns 0 or -errno. */
int pk_criu_dump_stats(const char *dir, struct pk_clone_report *r)
{
	char path[PK_PATH_MAX];
	uint8_t buf[4096];
	uint32_t hdr[3];
	ssize_t n;
	int fd;

	pk_path(path, sizeof(path), "%s/stats-dump", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < (ssize_t)sizeof(hdr))
		return -EINVAL;
	memcpy(hdr, buf, sizeof(hdr));
	if (hdr[0] != IMG_SERVICE_MAGIC || hdr[1] != STATS_MAGIC || hdr[2] > (uint32_t)n - 12)
		return -EINVAL;
	return walk(buf + 12, buf + 12 + hdr[2], 1, r);
}
