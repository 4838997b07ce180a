/* test_sbuf.c — the spill buffer: memory-only overflow, spilling to an unlinked file,
 * byte-exact order across the ring/file boundary, spill_max, file reset and release. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sbuf.h"
#include "unit.h"

static char tmpdir[64];

/* Creates a fresh private directory under /tmp; returns its path or NULL. */
static const char *dir_make(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pk-sbuf-test.XXXXXX");
	return mkdtemp(tmpdir);
}

/* Counts the entries of dir other than . and .. (-1 if it cannot be read). */
static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Removes dir and whatever a failed test may have left in it. */
static void dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Peeks once and copies what was offered into dst (at most cap bytes); returns the byte
 * count or the negative peek error. */
static long peek_copy(struct pk_sbuf *sb, char *dst, size_t cap)
{
	struct iovec iov[2];
	int segs = pk_sbuf_peek(sb, iov);
	size_t off = 0;

	if (segs < 0)
		return segs;
	for (int i = 0; i < segs; i++) {
		size_t k = iov[i].iov_len < cap - off ? iov[i].iov_len : cap - off;

		memcpy(dst + off, iov[i].iov_base, k);
		off += k;
	}
	return (long)off;
}

/* Reads everything out (peek + consume until empty) into dst; returns the byte count or a
 * negative error. */
static long drain(struct pk_sbuf *sb, char *dst, size_t cap)
{
	size_t total = 0;

	for (int guard = 0; guard < 100000; guard++) {
		long n = peek_copy(sb, dst + total, cap - total);

		if (n < 0)
			return n;
		if (n == 0)
			return pk_sbuf_used(sb) == 0 ? (long)total : -EIO;
		pk_sbuf_consume(sb, (size_t)n);
		total += (size_t)n;
	}
	return -ELOOP;
}

static void test_memory_only(void)
{
	struct pk_sbuf sb;
	char in[200], out[200];
	struct iovec iov[2];

	memset(in, 'm', sizeof(in));
	pk_sbuf_init(&sb, 100, NULL, 1 << 20);
	CHECK_EQ_INT(sb.spill_max, 0); /* no dir: no spill whatever is asked */
	CHECK_EQ_INT(sb.fd, -1);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 0);
	CHECK_EQ_INT(pk_sbuf_peek(&sb, iov), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 101), -ENOSPC);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, "0123456789", 10), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 90), 0);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 100);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 1), -ENOSPC);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 100);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 0);
	CHECK_EQ_INT(sb.fd, -1);
	CHECK_EQ_INT(drain(&sb, out, sizeof(out)), 100);
	CHECK(memcmp(out, "0123456789", 10) == 0);
	CHECK(memcmp(out + 10, in, 90) == 0);
	/* room again after draining */
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 100), 0);
	pk_sbuf_release(&sb);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 0);
}

static void test_spill_basic_order(void)
{
	const char *dir = dir_make();
	struct pk_sbuf sb;
	char a[100], out[256];
	struct iovec iov[2];
	struct stat st;

	CHECK(dir != NULL);
	if (!dir)
		return;
	memset(a, 'A', sizeof(a));
	pk_sbuf_init(&sb, 100, dir, 1000);
	CHECK_EQ_INT(pk_sbuf_append(&sb, a, 100), 0);
	CHECK_EQ_INT(sb.fd, -1); /* fits in memory: no file yet */
	CHECK_EQ_INT(pk_sbuf_append(&sb, "BBBBBBBBBB", 10), 0);
	CHECK(sb.fd >= 0);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 10);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 110);
	CHECK_EQ_INT(pk_ring_used(&sb.mem), 100);
	/* the spill file is anonymous: nothing visible in the directory */
	CHECK_EQ_INT(dir_entries(dir), 0);
	CHECK(fstat(sb.fd, &st) == 0 && st.st_size == 10);

	/* make room in memory; a later append must still go behind the spilled bytes */
	CHECK(pk_sbuf_peek(&sb, iov) >= 1);
	pk_sbuf_consume(&sb, 50);
	CHECK_EQ_INT(pk_sbuf_append(&sb, "CCCCC", 5), 0);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 15);
	CHECK_EQ_INT(pk_ring_used(&sb.mem), 50);

	/* peek refills memory from the file (half the ring is free) and resets the file */
	CHECK_EQ_INT(peek_copy(&sb, out, sizeof(out)), 65);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 0);
	CHECK_EQ_INT(sb.spill_rd, 0);
	CHECK_EQ_INT(sb.spill_wr, 0);
	CHECK(fstat(sb.fd, &st) == 0 && st.st_size == 0);
	CHECK(memcmp(out, a, 50) == 0);
	CHECK(memcmp(out + 50, "BBBBBBBBBBCCCCC", 15) == 0);
	pk_sbuf_consume(&sb, 65);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 0);

	/* with the file empty again, appends go to memory first */
	CHECK_EQ_INT(pk_sbuf_append(&sb, "DD", 2), 0);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 0);
	CHECK_EQ_INT(pk_ring_used(&sb.mem), 2);
	pk_sbuf_release(&sb);
	dir_remove(dir);
}

static void test_append_bigger_than_memory(void)
{
	const char *dir = dir_make();
	struct pk_sbuf sb;
	char in[5000], out[6000];

	CHECK(dir != NULL);
	if (!dir)
		return;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)(i * 7);
	pk_sbuf_init(&sb, 1024, dir, 1 << 20);
	CHECK_EQ_INT(pk_sbuf_append(&sb, "head", 4), 0);
	/* larger than the whole ring: goes to the file in one piece */
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, sizeof(in)), 0);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), sizeof(in));
	CHECK_EQ_INT(pk_ring_used(&sb.mem), 4);
	CHECK_EQ_INT(drain(&sb, out, sizeof(out)), 4 + sizeof(in));
	CHECK(memcmp(out, "head", 4) == 0);
	CHECK(memcmp(out + 4, in, sizeof(in)) == 0);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 0);
	pk_sbuf_release(&sb);
	dir_remove(dir);
}

/* A long random stream of appends, peeks and consumes, alternating between phases where
 * the producer is ahead (the file fills, sometimes up to spill_max) and phases where the
 * consumer is (the file drains and resets).  Everything read must equal what was appended. */
static void test_random_stream_order(void)
{
	enum { TOTAL = 3 << 20, MEM = 3000, SPILL = 40000, CHUNK = 4500 };
	const char *dir = dir_make();
	char *ref = malloc(TOTAL), *got = malloc(MEM + 16);
	struct pk_sbuf sb;
	uint64_t wr = 0, rd = 0;
	int spills = 0, resets = 0, enospc = 0, bad = 0, refills_seen = 0;
	int ops = 0;

	CHECK(dir != NULL && ref && got);
	if (!dir || !ref || !got)
		goto out;
	rng_state = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < TOTAL; i++)
		ref[i] = (char)rng();
	pk_sbuf_init(&sb, MEM, dir, SPILL);
	while (wr + CHUNK < TOTAL && !bad) {
		/* phases of 400 operations: producer-heavy, then consumer-heavy */
		int producer_pct = (ops / 400) % 2 ? 25 : 75;
		uint64_t spilled_before = pk_sbuf_spilled(&sb);

		ops++;
		if ((int)(rng() % 100) < producer_pct) {
			size_t n = (size_t)(rng() % CHUNK) + 1;
			uint64_t used = pk_sbuf_used(&sb), sp = pk_sbuf_spilled(&sb);
			int err = pk_sbuf_append(&sb, ref + wr, n);

			if (err == 0) {
				wr += n;
			} else {
				enospc++;
				if (err != -ENOSPC || pk_sbuf_used(&sb) != used ||
				    pk_sbuf_spilled(&sb) != sp)
					bad = 1;
			}
		} else {
			long n = peek_copy(&sb, got, MEM + 16);
			size_t k;

			if (n < 0 || (uint64_t)n > wr - rd ||
			    memcmp(got, ref + rd, (size_t)n) != 0) {
				bad = 2;
				break;
			}
			if (spilled_before > pk_sbuf_spilled(&sb))
				refills_seen++;
			k = n ? (size_t)(rng() % (uint64_t)n) + 1 : 0;
			pk_sbuf_consume(&sb, k);
			rd += k;
		}
		if (pk_sbuf_used(&sb) != wr - rd || pk_ring_used(&sb.mem) > MEM ||
		    pk_sbuf_spilled(&sb) > SPILL)
			bad = 3;
		if (pk_sbuf_spilled(&sb) > 0 && spilled_before == 0)
			spills++;
		if (pk_sbuf_spilled(&sb) == 0 && spilled_before > 0)
			resets++;
	}
	CHECK_EQ_INT(bad, 0);
	/* drain the rest and compare */
	while (!bad && rd < wr) {
		long n = peek_copy(&sb, got, MEM + 16);

		if (n <= 0 || memcmp(got, ref + rd, (size_t)n) != 0) {
			bad = 4;
			break;
		}
		pk_sbuf_consume(&sb, (size_t)n);
		rd += (uint64_t)n;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(rd, wr);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 0);
	CHECK(wr > 2 << 20);
	/* the run did exercise what it is meant to */
	CHECK(spills > 10);
	CHECK(resets > 10);
	CHECK(enospc > 0);
	CHECK(refills_seen > 10);
	pk_sbuf_release(&sb);
out:
	if (dir)
		dir_remove(dir);
	free(ref);
	free(got);
}

static void test_spill_max_enforced(void)
{
	const char *dir = dir_make();
	struct pk_sbuf sb;
	char in[2000], out[4000];
	struct stat st;

	CHECK(dir != NULL);
	if (!dir)
		return;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)(i ^ 0x5a);
	pk_sbuf_init(&sb, 100, dir, 1000);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 100), 0);
	/* more than spill_max at once: refused whole, no file write */
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 1001), -ENOSPC);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 0);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 100);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in + 100, 600), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in + 700, 401), -ENOSPC); /* 600 + 401 > 1000 */
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 600);
	CHECK(fstat(sb.fd, &st) == 0 && st.st_size == 600); /* nothing partial was written */
	/* what does fit still goes in, after the refused appends */
	CHECK_EQ_INT(pk_sbuf_append(&sb, in + 700, 399), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in + 1099, 2), -ENOSPC);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in + 1099, 1), 0);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 1000);
	CHECK_EQ_INT(drain(&sb, out, sizeof(out)), 1100);
	CHECK(memcmp(out, in, 1100) == 0);
	pk_sbuf_release(&sb);
	dir_remove(dir);
}

static void test_spill_max_exact_fill(void)
{
	const char *dir = dir_make();
	struct pk_sbuf sb;
	char in[1200], out[1200];

	CHECK(dir != NULL);
	if (!dir)
		return;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)(i * 13 + 1);
	pk_sbuf_init(&sb, 100, dir, 1000);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 100), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in + 100, 600), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in + 700, 400), 0); /* exactly 1000 spilled */
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 1000);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in + 1100, 1), -ENOSPC);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 1100);
	CHECK_EQ_INT(drain(&sb, out, sizeof(out)), 1100);
	CHECK(memcmp(out, in, 1100) == 0);
	/* drained: the file is reset (offsets back to 0, truncated) and accepts a full load */
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 0);
	CHECK_EQ_INT(sb.spill_wr, 0);
	CHECK(sb.fd >= 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 100), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in + 100, 1000), 0);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 1000);
	pk_sbuf_release(&sb);
	dir_remove(dir);
}

static void test_file_reset_after_drain(void)
{
	const char *dir = dir_make();
	struct pk_sbuf sb;
	char in[3000], out[8192];
	struct stat st;

	CHECK(dir != NULL);
	if (!dir)
		return;
	memset(in, 'r', sizeof(in));
	pk_sbuf_init(&sb, 1000, dir, 1 << 20);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 1000), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 3000), 0);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 3000);
	CHECK(fstat(sb.fd, &st) == 0 && st.st_size == 3000);
	CHECK_EQ_INT(drain(&sb, out, sizeof(out)), 4000);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 0);
	CHECK_EQ_INT(sb.spill_rd, 0);
	CHECK_EQ_INT(sb.spill_wr, 0);
	CHECK(fstat(sb.fd, &st) == 0 && st.st_size == 0);
	pk_sbuf_release(&sb);
	dir_remove(dir);
}

static void test_release_closes_file(void)
{
	const char *dir = dir_make();
	struct pk_sbuf sb;
	char in[300];
	int fd;

	CHECK(dir != NULL);
	if (!dir)
		return;
	memset(in, 'x', sizeof(in));
	pk_sbuf_init(&sb, 100, dir, 1 << 20);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 300), 0);
	fd = sb.fd;
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	pk_sbuf_release(&sb);
	CHECK_EQ_INT(sb.fd, -1);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 0);
	errno = 0;
	CHECK_EQ_INT(fcntl(fd, F_GETFD), -1);
	CHECK_EQ_INT(errno, EBADF);
	CHECK_EQ_INT(dir_entries(dir), 0);
	/* a released buffer can be used again */
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 100), 0);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 200), 0);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 200);
	pk_sbuf_release(&sb);
	pk_sbuf_release(&sb); /* twice is harmless */
	CHECK_EQ_INT(sb.fd, -1);
	dir_remove(dir);
}

static void test_spill_dir_missing(void)
{
	const char *dir = dir_make();
	char missing[128];
	struct pk_sbuf sb;
	char in[300], out[300];
	int err;

	CHECK(dir != NULL);
	if (!dir)
		return;
	snprintf(missing, sizeof(missing), "%s/no/such/dir", dir);
	memset(in, 'q', sizeof(in));
	pk_sbuf_init(&sb, 100, missing, 1 << 20);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, 100), 0);
	err = pk_sbuf_append(&sb, in, 50);
	CHECK(err < 0);
	CHECK_EQ_INT(err, -ENOENT);
	CHECK_EQ_INT(sb.fd, -1);
	CHECK_EQ_INT(pk_sbuf_spilled(&sb), 0);
	CHECK_EQ_INT(pk_sbuf_used(&sb), 100);
	/* the memory part is intact and readable */
	CHECK_EQ_INT(drain(&sb, out, sizeof(out)), 100);
	CHECK(memcmp(out, in, 100) == 0);
	pk_sbuf_release(&sb);
	dir_remove(dir);
}

/* sbuf.h promises "the file (unlinked, in dir) at most spill_max".  A consumer that keeps
 * up on average but never empties the file completely makes the file grow forever: bytes
 * already read stay in it, since it is only truncated when it drains to zero. */
static void test_spill_file_size_bounded(void)
{
	enum { MEM = 4096, SPILL = 8192 };
	const char *dir = dir_make();
	struct pk_sbuf sb;
	char in[MEM], out[2 * MEM];
	struct stat st;
	int bad = 0;

	CHECK(dir != NULL);
	if (!dir)
		return;
	memset(in, 's', sizeof(in));
	pk_sbuf_init(&sb, MEM, dir, SPILL);
	CHECK_EQ_INT(pk_sbuf_append(&sb, in, MEM), 0);
	for (int i = 0; i < 200 && !bad; i++) {
		long n;

		if (pk_sbuf_append(&sb, in, MEM) != 0)
			bad = 1;
		n = peek_copy(&sb, out, sizeof(out));
		if (n <= 0)
			bad = 2;
		else
			pk_sbuf_consume(&sb, (size_t)n);
		if (pk_sbuf_spilled(&sb) > SPILL)
			bad = 3;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(sb.fd >= 0);
	CHECK(fstat(sb.fd, &st) == 0);
	/* allow block rounding, not 100 times spill_max */
	CHECK((uint64_t)st.st_blocks * 512 <= 2 * SPILL);
	pk_sbuf_release(&sb);
	dir_remove(dir);
}

/* A ring of 0 or 1 byte with a spill file: peek must still deliver the spilled bytes. */
static void test_tiny_memory_with_spill(void)
{
	const char *dir = dir_make();
	struct pk_sbuf sb;
	char out[64];

	CHECK(dir != NULL);
	if (!dir)
		return;
	pk_sbuf_init(&sb, 1, dir, 1 << 20);
	CHECK_EQ_INT(pk_sbuf_append(&sb, "abcdef", 6), 0); /* all to the file */
	CHECK_EQ_INT(drain(&sb, out, sizeof(out)), 6);
	CHECK(memcmp(out, "abcdef", 6) == 0);
	pk_sbuf_release(&sb);

	pk_sbuf_init(&sb, 1, dir, 1 << 20);
	CHECK_EQ_INT(pk_sbuf_append(&sb, "a", 1), 0);	  /* fills the ring */
	CHECK_EQ_INT(pk_sbuf_append(&sb, "bcdef", 5), 0); /* to the file */
	CHECK_EQ_INT(drain(&sb, out, sizeof(out)), 6);
	CHECK(memcmp(out, "abcdef", 6) == 0);
	pk_sbuf_release(&sb);
	dir_remove(dir);
}

int main(void)
{
	UNIT_RUN(test_memory_only);
	UNIT_RUN(test_spill_basic_order);
	UNIT_RUN(test_append_bigger_than_memory);
	UNIT_RUN(test_random_stream_order);
	UNIT_RUN(test_spill_max_enforced);
	UNIT_RUN(test_spill_max_exact_fill);
	UNIT_RUN(test_file_reset_after_drain);
	UNIT_RUN(test_release_closes_file);
	UNIT_RUN(test_spill_dir_missing);
	UNIT_RUN(test_spill_file_size_bounded);
	UNIT_RUN(test_tiny_memory_with_spill);
	return unit_done();
}
