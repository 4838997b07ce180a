/* test_ring.c — the growable byte ring: empty state, round trips, wrap-around, the cap,
 * growth, reserve/commit, the release of big buffers once drained, and clear (which keeps them). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ring.h"
#include "unit.h"

/* Fills p with a pattern that depends on the absolute stream offset, so that any
 * reordering or loss shows up when the bytes are read back. */
static void pattern(unsigned char *p, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((off + i) * 131u + ((off + i) >> 8));
}

static int check_pattern(const unsigned char *p, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)((off + i) * 131u + ((off + i) >> 8)))
			return 0;
	return 1;
}

/* Concatenates the peeked segments into dst; returns the byte count. */
static size_t peek_all(const struct pk_ring *r, unsigned char *dst, int *segs)
{
	struct iovec iov[2];
	int n = pk_ring_peek(r, iov);
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		memcpy(dst + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	if (segs)
		*segs = n;
	return off;
}

static void test_zero_ring_is_empty(void)
{
	struct pk_ring r;
	struct iovec iov[2];
	char c;

	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	CHECK_EQ_INT(pk_ring_room(&r), 0);
	CHECK_EQ_INT(pk_ring_peek(&r, iov), 0);
	CHECK_EQ_INT(pk_ring_read(&r, &c, 1), 0);
	/* cap 0: any non-empty write is refused, an empty one is fine */
	CHECK_EQ_INT(pk_ring_write(&r, "x", 1), -ENOSPC);
	CHECK_EQ_INT(pk_ring_write(&r, "", 0), 0);
	CHECK(r.buf == NULL);
	pk_ring_release(&r);
}

static void test_init_allocates_nothing(void)
{
	struct pk_ring r;
	struct iovec iov[2];

	pk_ring_init(&r, 1000);
	CHECK(r.buf == NULL);
	CHECK_EQ_INT(r.size, 0);
	CHECK_EQ_INT(r.cap, 1000);
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	CHECK_EQ_INT(pk_ring_room(&r), 1000);
	CHECK_EQ_INT(pk_ring_peek(&r, iov), 0);
	pk_ring_release(&r);
	CHECK_EQ_INT(r.cap, 1000);
}

static void test_write_read_round_trip(void)
{
	struct pk_ring r;
	struct iovec iov[2];
	char out[64];

	pk_ring_init(&r, 100);
	CHECK_EQ_INT(pk_ring_write(&r, "hello, ", 7), 0);
	CHECK_EQ_INT(pk_ring_write(&r, "world", 5), 0);
	CHECK_EQ_INT(pk_ring_used(&r), 12);
	CHECK_EQ_INT(pk_ring_room(&r), 88);
	CHECK_EQ_INT(r.size, 4096); /* the minimum allocation */
	CHECK_EQ_INT(pk_ring_peek(&r, iov), 1);
	CHECK_EQ_INT(iov[0].iov_len, 12);
	CHECK(memcmp(iov[0].iov_base, "hello, world", 12) == 0);
	/* peek does not consume */
	CHECK_EQ_INT(pk_ring_used(&r), 12);

	/* partial read */
	CHECK_EQ_INT(pk_ring_read(&r, out, 5), 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	CHECK_EQ_INT(pk_ring_used(&r), 7);
	/* read asking for more than there is gets what there is */
	memset(out, 0, sizeof(out));
	CHECK_EQ_INT(pk_ring_read(&r, out, sizeof(out)), 7);
	CHECK_STR(out, ", world");
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	CHECK_EQ_INT(pk_ring_peek(&r, iov), 0);
	/* a small buffer is kept once drained */
	CHECK(r.buf != NULL);
	CHECK_EQ_INT(r.size, 4096);
	pk_ring_release(&r);
	CHECK(r.buf == NULL);
	CHECK_EQ_INT(r.size, 0);
	CHECK_EQ_INT(pk_ring_used(&r), 0);
}

static void test_wrap_around(void)
{
	struct pk_ring r;
	struct iovec iov[2];
	unsigned char in[4096], got[4096];
	int segs;

	pk_ring_init(&r, 4096);
	pattern(in, 3000, 0);
	CHECK_EQ_INT(pk_ring_write(&r, in, 3000), 0);
	CHECK_EQ_INT(pk_ring_read(&r, got, 2500), 2500);
	CHECK(check_pattern(got, 2500, 0));
	/* 500 used at [2500, 3000); 2000 more wrap past the end of the 4096-byte buffer */
	pattern(in, 2000, 3000);
	CHECK_EQ_INT(pk_ring_write(&r, in, 2000), 0);
	CHECK_EQ_INT(r.size, 4096); /* no growth was needed */
	CHECK_EQ_INT(pk_ring_used(&r), 2500);
	CHECK_EQ_INT(pk_ring_peek(&r, iov), 2);
	CHECK_EQ_INT(iov[0].iov_len, 4096 - 2500);
	CHECK_EQ_INT(iov[1].iov_len, 2500 - (4096 - 2500));
	CHECK(iov[1].iov_base == r.buf);
	CHECK_EQ_INT(peek_all(&r, got, &segs), 2500);
	CHECK_EQ_INT(segs, 2);
	CHECK(check_pattern(got, 2500, 2500));
	/* read across the seam */
	memset(got, 0, sizeof(got));
	CHECK_EQ_INT(pk_ring_read(&r, got, sizeof(got)), 2500);
	CHECK(check_pattern(got, 2500, 2500));
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	pk_ring_release(&r);
}

static void test_write_all_or_nothing(void)
{
	struct pk_ring r;
	unsigned char in[200], got[200];
	uint64_t head, tail;

	pk_ring_init(&r, 100);
	pattern(in, sizeof(in), 0);
	CHECK_EQ_INT(pk_ring_write(&r, in, 101), -ENOSPC);
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	CHECK(r.buf == NULL); /* refused before allocating */

	CHECK_EQ_INT(pk_ring_write(&r, in, 60), 0);
	head = r.head;
	tail = r.tail;
	CHECK_EQ_INT(pk_ring_write(&r, in + 60, 41), -ENOSPC);
	CHECK_EQ_INT(r.head, head);
	CHECK_EQ_INT(r.tail, tail);
	CHECK_EQ_INT(pk_ring_used(&r), 60);
	CHECK_EQ_INT(pk_ring_room(&r), 40);
	/* exactly filling the cap is allowed */
	CHECK_EQ_INT(pk_ring_write(&r, in + 60, 40), 0);
	CHECK_EQ_INT(pk_ring_room(&r), 0);
	CHECK_EQ_INT(pk_ring_write(&r, in, 1), -ENOSPC);
	CHECK_EQ_INT(pk_ring_read(&r, got, sizeof(got)), 100);
	CHECK(check_pattern(got, 100, 0));
	pk_ring_release(&r);
}

static void test_growth_preserves_content(void)
{
	enum { TOTAL = 300000 };
	struct pk_ring r;
	unsigned char *in = malloc(TOTAL), *got = malloc(TOTAL);
	size_t prev_size;

	CHECK(in && got);
	if (!in || !got)
		goto out;
	pattern(in, TOTAL, 0);
	pk_ring_init(&r, TOTAL);
	/* leave the used bytes wrapped in a 4 KiB buffer, then force several growths */
	CHECK_EQ_INT(pk_ring_write(&r, in, 3000), 0);
	CHECK_EQ_INT(pk_ring_read(&r, got, 2000), 2000);
	CHECK_EQ_INT(pk_ring_write(&r, in + 3000, 2000), 0);
	{
		struct iovec iov[2];

		CHECK_EQ_INT(pk_ring_peek(&r, iov), 2);
	}
	prev_size = r.size;
	CHECK_EQ_INT(prev_size, 4096);
	CHECK_EQ_INT(pk_ring_write(&r, in + 5000, 10000), 0);
	CHECK_EQ_INT(r.size, 16384);
	CHECK_EQ_INT(pk_ring_write(&r, in + 15000, TOTAL - 15000 - 2000), 0);
	CHECK_EQ_INT(pk_ring_used(&r), TOTAL - 2000 - 2000);
	CHECK_EQ_INT(pk_ring_room(&r), 4000);
	CHECK_EQ_INT(r.size, 524288);
	CHECK_EQ_INT(pk_ring_read(&r, got + 2000, TOTAL), TOTAL - 4000);
	CHECK(memcmp(got + 2000, in + 2000, TOTAL - 4000) == 0);
	pk_ring_release(&r);
out:
	free(in);
	free(got);
}

static void test_cap_not_power_of_two(void)
{
	struct pk_ring r;
	unsigned char in[5000], got[5000];
	uint64_t off = 0, roff = 0;

	pk_ring_init(&r, 5000);
	pattern(in, 5000, 0);
	CHECK_EQ_INT(pk_ring_write(&r, in, 5000), 0);
	CHECK_EQ_INT(r.size, 8192); /* roundup_pow2(5000) */
	CHECK_EQ_INT(pk_ring_room(&r), 0);
	CHECK_EQ_INT(pk_ring_write(&r, in, 1), -ENOSPC);
	off = 5000;
	/* stream many odd-sized chunks through it; the buffer never exceeds 8192 */
	for (int i = 0; i < 200; i++) {
		size_t rd = (size_t)(i * 37 % 4999) + 1, wr;

		if (rd > pk_ring_used(&r))
			rd = pk_ring_used(&r);
		CHECK_EQ_INT(pk_ring_read(&r, got, rd), rd);
		if (!check_pattern(got, rd, roff)) {
			CHECK(!"stream corrupted");
			break;
		}
		roff += rd;
		wr = pk_ring_room(&r);
		if (wr > (size_t)(i * 53 % 5000) + 1)
			wr = (size_t)(i * 53 % 5000) + 1;
		pattern(in, wr, off);
		CHECK_EQ_INT(pk_ring_write(&r, in, wr), 0);
		off += wr;
		CHECK(pk_ring_used(&r) <= 5000);
	}
	CHECK_EQ_INT(r.size, 8192);
	CHECK_EQ_INT(pk_ring_used(&r), off - roff);
	pk_ring_release(&r);
}

static void test_reserve_commit(void)
{
	struct pk_ring r;
	struct iovec iov[2];
	unsigned char got[4096];
	int segs;

	pk_ring_init(&r, 4096);
	CHECK_EQ_INT(pk_ring_reserve(&r, 0, iov), 0);
	CHECK_EQ_INT(pk_ring_reserve(&r, 4097, iov), -ENOSPC);
	segs = pk_ring_reserve(&r, 10, iov);
	CHECK_EQ_INT(segs, 1);
	CHECK_EQ_INT(iov[0].iov_len, 10);
	/* reserved but not committed: nothing readable yet */
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	memcpy(iov[0].iov_base, "abcdefghij", 10);
	pk_ring_commit(&r, 6); /* commit only part of it */
	CHECK_EQ_INT(pk_ring_used(&r), 6);
	CHECK_EQ_INT(pk_ring_read(&r, got, sizeof(got)), 6);
	CHECK(memcmp(got, "abcdef", 6) == 0);

	/* move the tail near the end, then reserve across it: two segments */
	CHECK_EQ_INT(pk_ring_reserve(&r, 4000, iov), 1);
	pk_ring_commit(&r, 4000);
	CHECK_EQ_INT(pk_ring_read(&r, got, 4000), 4000);
	CHECK_EQ_INT(r.tail & (r.size - 1), 4006);
	segs = pk_ring_reserve(&r, 200, iov);
	CHECK_EQ_INT(segs, 2);
	CHECK_EQ_INT(iov[0].iov_len, 90);
	CHECK_EQ_INT(iov[1].iov_len, 110);
	CHECK(iov[1].iov_base == r.buf);
	pattern(iov[0].iov_base, 90, 0);
	pattern(iov[1].iov_base, 110, 90);
	pk_ring_commit(&r, 200);
	CHECK_EQ_INT(peek_all(&r, got, &segs), 200);
	CHECK_EQ_INT(segs, 2);
	CHECK(check_pattern(got, 200, 0));
	pk_ring_release(&r);
}

static void test_consume_frees_big_buffers(void)
{
	enum { BIG = 100000 };
	struct pk_ring r;
	unsigned char *in = calloc(1, BIG);
	struct iovec iov[2];

	CHECK(in != NULL);
	if (!in)
		return;
	pk_ring_init(&r, 1 << 20);
	CHECK_EQ_INT(pk_ring_write(&r, in, BIG), 0);
	CHECK(r.size > 64 * 1024);
	/* partial consume keeps the buffer */
	pk_ring_consume(&r, BIG - 1);
	CHECK(r.buf != NULL);
	CHECK_EQ_INT(pk_ring_used(&r), 1);
	pk_ring_consume(&r, 1);
	CHECK_EQ_INT(r.size, 0);
	CHECK(r.buf == NULL);
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	CHECK_EQ_INT(pk_ring_room(&r), 1 << 20);
	CHECK_EQ_INT(pk_ring_peek(&r, iov), 0);
	/* usable again afterwards */
	CHECK_EQ_INT(pk_ring_write(&r, "ok", 2), 0);
	CHECK_EQ_INT(r.size, 4096);
	CHECK_EQ_INT(pk_ring_peek(&r, iov), 1);
	CHECK(memcmp(iov[0].iov_base, "ok", 2) == 0);
	pk_ring_release(&r);

	/* the same through pk_ring_read */
	pk_ring_init(&r, 1 << 20);
	CHECK_EQ_INT(pk_ring_write(&r, in, BIG), 0);
	{
		unsigned char *got = malloc(BIG);

		CHECK(got != NULL);
		if (got) {
			CHECK_EQ_INT(pk_ring_read(&r, got, BIG), BIG);
			CHECK_EQ_INT(r.size, 0);
			free(got);
		}
	}
	pk_ring_release(&r);
	free(in);
}

static void test_clear_keeps_buffer(void)
{
	enum { BIG = 100000 };
	struct pk_ring r;
	unsigned char *in = malloc(BIG), got[16];
	char *buf;

	CHECK(in != NULL);
	if (!in)
		return;
	pattern(in, BIG, 0);
	pk_ring_init(&r, 1 << 20);
	CHECK_EQ_INT(pk_ring_write(&r, in, BIG), 0);
	buf = r.buf;
	pk_ring_clear(&r);
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	CHECK_EQ_INT(pk_ring_room(&r), 1 << 20);
	CHECK(r.buf == buf); /* unlike a drain by consume, the big buffer stays */
	CHECK(r.size > 64 * 1024);
	CHECK_EQ_INT(r.head, 0); /* and writes start over at its beginning */
	CHECK_EQ_INT(r.tail, 0);
	CHECK_EQ_INT(pk_ring_write(&r, in, BIG), 0);
	CHECK(r.buf == buf); /* refilled without growing again */
	CHECK_EQ_INT(pk_ring_read(&r, got, sizeof(got)), sizeof(got));
	CHECK(check_pattern(got, sizeof(got), 0));
	pk_ring_clear(&r);
	pk_ring_clear(&r); /* clearing an empty ring is fine */
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	pk_ring_release(&r);
	free(in);
}

/* Consuming more than is used breaks the ring's documented precondition: debug builds stop
 * there (PK_BUG_ON aborts, checked in a child), release builds clamp to what is used. */
static void test_consume_past_used(void)
{
#ifdef PK_DEBUG
	pid_t pid;
	int status = 0;

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct pk_ring r;

		dup2(open("/dev/null", O_WRONLY | O_CLOEXEC), 2); /* the BUG line is expected */
		pk_ring_init(&r, 64);
		if (pk_ring_write(&r, "abc", 3) == 0)
			pk_ring_consume(&r, 4);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#else
	struct pk_ring r;

	pk_ring_init(&r, 64);
	CHECK_EQ_INT(pk_ring_write(&r, "abc", 3), 0);
	pk_ring_consume(&r, 4);
	CHECK_EQ_INT(pk_ring_used(&r), 0);
	CHECK_EQ_INT(pk_ring_write(&r, "de", 2), 0);
	CHECK_EQ_INT(pk_ring_used(&r), 2);
	pk_ring_release(&r);
#endif
}

int main(void)
{
	UNIT_RUN(test_zero_ring_is_empty);
	UNIT_RUN(test_init_allocates_nothing);
	UNIT_RUN(test_write_read_round_trip);
	UNIT_RUN(test_wrap_around);
	UNIT_RUN(test_write_all_or_nothing);
	UNIT_RUN(test_growth_preserves_content);
	UNIT_RUN(test_cap_not_power_of_two);
	UNIT_RUN(test_reserve_commit);
	UNIT_RUN(test_consume_frees_big_buffers);
	UNIT_RUN(test_clear_keeps_buffer);
	UNIT_RUN(test_consume_past_used);
	return unit_done();
}
