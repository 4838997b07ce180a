/* stats.c — where production's frozen time went: CRIU's stats-dump image (how long it was
 * frozen, how long the memory dump took) and the timestamps of CRIU's dump log (mounts,
 * namespaces).
 *
 * Layout (criu/include/magic.h, images/stats.proto): u32 IMG_SERVICE_MAGIC, u32 STATS_MAGIC,
 * then one entry: u32 length + a protobuf stats_entry { dump_stats_entry dump = 1; }, whose
 * fields are varints (times in microseconds).  Only varints and one nested message occur, so
 * a few lines of wire-format walking replace generated protobuf code.
 */
#include "clone/clone_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
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

/* The phases of a dump that CRIU's log brackets (criu/cr-dump.c, cr_dump_tasks(): mounts are
 * dumped by dump_mnt_namespaces() and followed by dump_file_locks(); namespaces by
 * dump_namespaces()).  Each begins and ends at the first line holding its marker. */
static const struct {
	const char *begin, *end;
	size_t off; /* of the double in struct pk_clone_report */
} log_phases[] = {
	{ "mnt: Dumping mountpoints", "Dumping file-locks",
	  offsetof(struct pk_clone_report, mounts_ms) },
	{ "'s namespaces", "Namespaces dump complete",
	  offsetof(struct pk_clone_report, namespaces_ms) },
};
#define NPHASES (sizeof(log_phases) / sizeof(log_phases[0]))

/* Reads the timestamp "(SS.UUUUUU) " that starts a line at log level 3 and above: seconds since
 * CRIU started.  Returns false for a line without one. */
static bool log_time(const char *line, double *t)
{
	char *end;

	if (line[0] != '(')
		return false;
	*t = strtod(line + 1, &end);
	return end != line + 1 && *end == ')';
}

int pk_criu_dump_log_times(FILE *log, struct pk_clone_report *r)
{
	double begin[NPHASES], t;
	bool begun[NPHASES] = { false }, done[NPHASES] = { false };
	char line[1024];
	size_t found = 0;

	while (found < NPHASES && fgets(line, sizeof(line), log)) {
		if (!log_time(line, &t))
			continue;
		for (size_t i = 0; i < NPHASES; i++) {
			if (done[i])
				continue;
			if (!begun[i] && strstr(line, log_phases[i].begin)) {
				begun[i] = true;
				begin[i] = t;
			} else if (begun[i] && strstr(line, log_phases[i].end)) {
				done[i] = true;
				found++;
				*(double *)((char *)r + log_phases[i].off) = (t - begin[i]) * 1000;
			}
		}
	}
	return found == NPHASES ? 0 : -ENOENT;
}

int pk_criu_dump_report(const char *dir, double post_dump_ms, struct pk_clone_report *r)
{
	char path[PK_PATH_MAX];
	FILE *f;
	int rc = pk_criu_dump_stats(dir, r);

	r->frozen_total_ms = r->freezing_ms + r->frozen_ms;
	r->post_dump_ms = post_dump_ms;
	pk_path(path, sizeof(path), "%s/dump.log", dir);
	f = fopen(path, "re");
	if (!f)
		return rc ? rc : -errno;
	if (!rc)
		rc = pk_criu_dump_log_times(f, r);
	fclose(f);
	if (!rc) {
		r->frozen_other_ms = r->frozen_total_ms - r->freezing_ms - r->memdump_ms -
				     r->mounts_ms - r->namespaces_ms - r->post_dump_ms;
		if (r->frozen_other_ms < 0)
			r->frozen_other_ms = 0;
	}
	return rc;
}
