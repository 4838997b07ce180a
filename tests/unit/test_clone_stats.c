/* test_clone_stats.c — reading CRIU's stats-dump image: a synthesized file exactly as CRIU
 * writes it (two magics, a u32 length, a protobuf stats_entry { dump_stats_entry dump = 1 }),
 * multi-byte varints, unknown fields skipped, damaged and missing files refused. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clone/clone_int.h"
#include "unit.h"

#define IMG_SERVICE_MAGIC 0x55105940u
#define STATS_MAGIC 0x57093306u

/* Protobuf wire types. */
enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_GROUP = 3, WT_FIXED32 = 5 };

/* A protobuf message being encoded. */
struct pb {
	uint8_t b[1024];
	size_t n;
};

static void pb_byte(struct pb *p, uint8_t c)
{
	if (p->n < sizeof(p->b))
		p->b[p->n++] = c;
}

static void pb_varint(struct pb *p, uint64_t v)
{
	while (v >= 0x80) {
		pb_byte(p, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	pb_byte(p, (uint8_t)v);
}

static void pb_key(struct pb *p, uint32_t field, int wire_type)
{
	pb_varint(p, (uint64_t)field << 3 | (uint64_t)wire_type);
}

static void pb_uint(struct pb *p, uint32_t field, uint64_t v)
{
	pb_key(p, field, WT_VARINT);
	pb_varint(p, v);
}

static void pb_bytes(struct pb *p, uint32_t field, const void *data, size_t len)
{
	pb_key(p, field, WT_LEN);
	pb_varint(p, len);
	for (size_t i = 0; i < len; i++)
		pb_byte(p, ((const uint8_t *)data)[i]);
}

static void pb_msg(struct pb *p, uint32_t field, const struct pb *m)
{
	pb_bytes(p, field, m->b, m->n);
}

static void pb_fixed(struct pb *p, uint32_t field, uint64_t v, int bytes)
{
	pb_key(p, field, bytes == 8 ? WT_FIXED64 : WT_FIXED32);
	for (int i = 0; i < bytes; i++)
		pb_byte(p, (uint8_t)(v >> (8 * i)));
}

/* A dump_stats_entry with the given times (µs) and page counts. */
static void dump_entry(struct pb *d, uint64_t freezing, uint64_t frozen, uint64_t memdump,
		       uint64_t memwrite, uint64_t scanned, uint64_t skipped, uint64_t written)
{
	memset(d, 0, sizeof(*d));
	pb_uint(d, 1, freezing);
	pb_uint(d, 2, frozen);
	pb_uint(d, 3, memdump);
	pb_uint(d, 4, memwrite);
	pb_uint(d, 5, scanned);
	pb_uint(d, 6, skipped);
	pb_uint(d, 7, written);
}

static char tmpdir[64];

/* Creates a fresh private directory under /tmp; returns its path or NULL. */
static const char *dir_make(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pk-clone-stats-test.XXXXXX");
	return mkdtemp(tmpdir);
}

/* Writes dir/stats-dump: the two magics, the length len (which may lie), then the first
 * body_len bytes of body.  Returns 0 or -1. */
static int stats_write(const char *dir, uint32_t magic1, uint32_t magic2, uint32_t len,
		       const void *body, size_t body_len)
{
	char path[PK_PATH_MAX];
	uint32_t hdr[3] = { magic1, magic2, len };
	int fd, rc = 0;

	pk_path(path, sizeof(path), "%s/stats-dump", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		rc = -1;
	if (body_len && write(fd, body, body_len) != (ssize_t)body_len)
		rc = -1;
	close(fd);
	return rc;
}

/* Writes a well-formed stats-dump holding message m. */
static int stats_write_msg(const char *dir, const struct pb *m)
{
	return stats_write(dir, IMG_SERVICE_MAGIC, STATS_MAGIC, (uint32_t)m->n, m->b, m->n);
}

/* Writes raw bytes as dir/stats-dump. */
static int raw_write(const char *dir, const void *data, size_t len)
{
	char path[PK_PATH_MAX];
	int fd;
	ssize_t n;

	pk_path(path, sizeof(path), "%s/stats-dump", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* A report whose every field holds a recognizable value. */
static void report_sentinel(struct pk_clone_report *r)
{
	memset(r, 0, sizeof(*r));
	r->checks_ms = r->sync1_ms = r->netns_ms = r->checkpoint_ms = -1;
	r->restore_ms = r->total_ms = -1;
	r->frozen_ms = r->freezing_ms = r->memdump_ms = r->memwrite_ms = -1;
	r->image_bytes = 4242;
	r->pages_written = 4242;
}

/* Tells whether the fields the stats file does not carry kept their sentinel values. */
static bool others_untouched(const struct pk_clone_report *r)
{
	return r->checks_ms == -1 && r->sync1_ms == -1 && r->netns_ms == -1 &&
	       r->checkpoint_ms == -1 && r->restore_ms == -1 && r->total_ms == -1 &&
	       r->image_bytes == 4242 && !r->service_ip[0] && !r->mgmt_ip[0];
}

static void test_basic(void)
{
	struct pb d, top = { .n = 0 };
	struct pk_clone_report r;
	const char *dir = dir_make();

	if (!dir) {
		CHECK(!"mkdtemp");
		return;
	}
	dump_entry(&d, 1, 2, 3, 4, 5, 6, 7);
	pb_msg(&top, 1, &d);
	CHECK_EQ_INT(stats_write_msg(dir, &top), 0);
	report_sentinel(&r);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), 0);
	CHECK(r.freezing_ms == 0.001);
	CHECK(r.frozen_ms == 0.002);
	CHECK(r.memdump_ms == 0.003);
	CHECK(r.memwrite_ms == 0.004);
	CHECK_EQ_INT(r.pages_written, 7);
	CHECK(others_untouched(&r));
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

static void test_multibyte_varints(void)
{
	struct pb d, top = { .n = 0 };
	struct pk_clone_report r;
	const char *dir = dir_make();

	if (!dir) {
		CHECK(!"mkdtemp");
		return;
	}
	/* 300000 takes 3 bytes, 1234567890 takes 5; pages_written the largest 10-byte varint */
	dump_entry(&d, 127, 300000, 1234567890, 128, 1ull << 40, 16384, UINT64_MAX);
	pb_msg(&top, 1, &d);
	CHECK_EQ_INT(stats_write_msg(dir, &top), 0);
	report_sentinel(&r);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), 0);
	CHECK(r.freezing_ms == 0.127);
	CHECK(r.frozen_ms == 300.0);
	CHECK(r.memdump_ms == 1234567.89);
	CHECK(r.memwrite_ms == 0.128);
	CHECK(r.pages_written == UINT64_MAX);
	CHECK(others_untouched(&r));

	/* a message longer than 127 bytes: its length is itself a two-byte varint */
	memset(&d, 0, sizeof(d));
	for (int i = 0; i < 40; i++)
		pb_uint(&d, 5, 1000000 + (uint64_t)i); /* repeated pages_scanned, ignored */
	pb_uint(&d, 2, 2500);
	pb_uint(&d, 7, 1ull << 20);
	CHECK(d.n > 127);
	top.n = 0;
	pb_msg(&top, 1, &d);
	CHECK_EQ_INT(stats_write_msg(dir, &top), 0);
	report_sentinel(&r);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), 0);
	CHECK(r.frozen_ms == 2.5);
	CHECK_EQ_INT(r.pages_written, 1 << 20);
	CHECK(r.freezing_ms == -1); /* absent fields stay as they were */
	CHECK(r.memdump_ms == -1);
	CHECK(r.memwrite_ms == -1);
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

static void test_unknown_fields_skipped(void)
{
	static const char blob[] = "some bytes that are not a message \x80\x80\x80";
	struct pb d, inner, top = { .n = 0 };
	struct pk_clone_report r;
	const char *dir = dir_make();

	if (!dir) {
		CHECK(!"mkdtemp");
		return;
	}
	/* inside dump_stats_entry: unknown fixed64, fixed32, length-delimited 99, varint 99 */
	memset(&d, 0, sizeof(d));
	pb_fixed(&d, 8, 0x8080808080808080ull, 8);
	pb_uint(&d, 1, 11000);
	pb_bytes(&d, 99, blob, sizeof(blob) - 1);
	pb_uint(&d, 2, 22000);
	pb_fixed(&d, 9, 0xffffffffu, 4);
	pb_uint(&d, 3, 33000);
	pb_uint(&d, 99, 1ull << 62);
	pb_uint(&d, 4, 44000);
	pb_uint(&d, 7, 77);
	pb_fixed(&d, 10, 0, 8);

	/* around it: unknown fields, and a restore entry (field 2) whose field numbers overlap */
	memset(&inner, 0, sizeof(inner));
	pb_uint(&inner, 1, 999000);
	pb_uint(&inner, 2, 999000);
	pb_uint(&inner, 7, 999);
	pb_fixed(&top, 3, 0x0102030405060708ull, 8);
	pb_bytes(&top, 99, blob, sizeof(blob) - 1);
	pb_uint(&top, 2, 999000); /* a top-level varint is not a dump field */
	pb_msg(&top, 1, &d);
	pb_msg(&top, 2, &inner);
	pb_fixed(&top, 4, 0x11223344u, 4);
	pb_bytes(&top, 99, "", 0);
	CHECK_EQ_INT(stats_write_msg(dir, &top), 0);

	report_sentinel(&r);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), 0);
	CHECK(r.freezing_ms == 11.0);
	CHECK(r.frozen_ms == 22.0);
	CHECK(r.memdump_ms == 33.0);
	CHECK(r.memwrite_ms == 44.0);
	CHECK_EQ_INT(r.pages_written, 77);
	CHECK(others_untouched(&r));

	/* only the message the header's length covers is read: trailing bytes are ignored */
	{
		uint8_t buf[sizeof(top.b) + 8];

		memcpy(buf, top.b, top.n);
		memset(buf + top.n, 0xff, 8);
		CHECK_EQ_INT(stats_write(dir, IMG_SERVICE_MAGIC, STATS_MAGIC, (uint32_t)top.n, buf,
					 top.n + 8),
			     0);
		report_sentinel(&r);
		CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), 0);
		CHECK(r.frozen_ms == 22.0);
		CHECK_EQ_INT(r.pages_written, 77);
	}
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

static void test_bad_magic(void)
{
	struct pb d, top = { .n = 0 };
	struct pk_clone_report r;
	const char *dir = dir_make();

	if (!dir) {
		CHECK(!"mkdtemp");
		return;
	}
	dump_entry(&d, 1, 2, 3, 4, 5, 6, 7);
	pb_msg(&top, 1, &d);

	CHECK_EQ_INT(stats_write(dir, 0x12345678u, STATS_MAGIC, (uint32_t)top.n, top.b, top.n), 0);
	report_sentinel(&r);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	CHECK(r.frozen_ms == -1);

	CHECK_EQ_INT(
		stats_write(dir, IMG_SERVICE_MAGIC, 0x12345678u, (uint32_t)top.n, top.b, top.n), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);

	/* the magics swapped, and byte-swapped */
	CHECK_EQ_INT(
		stats_write(dir, STATS_MAGIC, IMG_SERVICE_MAGIC, (uint32_t)top.n, top.b, top.n), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	CHECK_EQ_INT(stats_write(dir, __builtin_bswap32(IMG_SERVICE_MAGIC),
				 __builtin_bswap32(STATS_MAGIC), (uint32_t)top.n, top.b, top.n),
		     0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);

	/* another CRIU image (inventory) in its place */
	CHECK_EQ_INT(stats_write(dir, 0x54564319u, 0x58313116u, (uint32_t)top.n, top.b, top.n), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	CHECK(r.frozen_ms == -1);
	CHECK_EQ_INT(r.pages_written, 4242);
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

static void test_truncated(void)
{
	struct pb d, top = { .n = 0 }, m;
	struct pk_clone_report r;
	const char *dir = dir_make();

	if (!dir) {
		CHECK(!"mkdtemp");
		return;
	}
	dump_entry(&d, 1, 300000, 3, 4, 5, 6, 7);
	pb_msg(&top, 1, &d);

	/* an empty file, one shorter than the header, a header without its message */
	CHECK_EQ_INT(raw_write(dir, "", 0), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	CHECK_EQ_INT(raw_write(dir, "\x40\x59\x10\x55\x06\x33\x09\x57", 8), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	CHECK_EQ_INT(stats_write(dir, IMG_SERVICE_MAGIC, STATS_MAGIC, (uint32_t)top.n, NULL, 0), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);

	/* the length says more than the file holds */
	CHECK_EQ_INT(
		stats_write(dir, IMG_SERVICE_MAGIC, STATS_MAGIC, (uint32_t)top.n + 1, top.b, top.n),
		0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	CHECK_EQ_INT(stats_write(dir, IMG_SERVICE_MAGIC, STATS_MAGIC, 0xffffffffu, top.b, top.n),
		     0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	CHECK_EQ_INT(stats_write(dir, IMG_SERVICE_MAGIC, STATS_MAGIC, 0x80000000u, top.b, top.n),
		     0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);

	/* the file cut short of the message, at every byte */
	for (size_t cut = 1; cut < top.n; cut++) {
		int rc;

		CHECK_EQ_INT(stats_write(dir, IMG_SERVICE_MAGIC, STATS_MAGIC, (uint32_t)top.n,
					 top.b, cut),
			     0);
		rc = pk_criu_dump_stats(dir, &r);
		if (rc != -EINVAL) {
			printf("  file cut at %zu of %zu: rc %d\n", cut, top.n, rc);
			CHECK_EQ_INT(rc, -EINVAL);
		}
	}
	/* the header's length cutting the message, at every byte */
	for (size_t cut = 1; cut < top.n; cut++) {
		int rc;

		CHECK_EQ_INT(stats_write(dir, IMG_SERVICE_MAGIC, STATS_MAGIC, (uint32_t)cut, top.b,
					 top.n),
			     0);
		rc = pk_criu_dump_stats(dir, &r);
		if (rc != -EINVAL) {
			printf("  length cut at %zu of %zu: rc %d\n", cut, top.n, rc);
			CHECK_EQ_INT(rc, -EINVAL);
		}
	}
	/* the nested length points past the end of the outer message */
	memset(&m, 0, sizeof(m));
	pb_key(&m, 1, WT_LEN);
	pb_varint(&m, d.n + 5);
	memcpy(m.b + m.n, d.b, d.n);
	m.n += d.n;
	CHECK_EQ_INT(stats_write_msg(dir, &m), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);

	/* a varint that never ends */
	memset(&m, 0, sizeof(m));
	pb_key(&m, 1, WT_LEN);
	pb_varint(&m, 3);
	pb_key(&m, 2, WT_VARINT);
	pb_byte(&m, 0x80);
	pb_byte(&m, 0x80);
	CHECK_EQ_INT(stats_write_msg(dir, &m), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);

	/* a varint longer than 10 bytes */
	memset(&m, 0, sizeof(m));
	memset(&d, 0, sizeof(d));
	pb_key(&d, 2, WT_VARINT);
	for (int i = 0; i < 11; i++)
		pb_byte(&d, 0x81);
	pb_byte(&d, 0x01);
	pb_msg(&m, 1, &d);
	CHECK_EQ_INT(stats_write_msg(dir, &m), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);

	/* fixed-size fields cut short inside the nested message and at the end */
	memset(&m, 0, sizeof(m));
	memset(&d, 0, sizeof(d));
	pb_uint(&d, 2, 1000);
	pb_key(&d, 8, WT_FIXED64);
	pb_byte(&d, 1);
	pb_byte(&d, 2);
	pb_msg(&m, 1, &d);
	pb_uint(&m, 3, 1);
	CHECK_EQ_INT(stats_write_msg(dir, &m), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	memset(&m, 0, sizeof(m));
	dump_entry(&d, 1, 2, 3, 4, 5, 6, 7);
	pb_msg(&m, 1, &d);
	pb_key(&m, 9, WT_FIXED32);
	pb_byte(&m, 1);
	CHECK_EQ_INT(stats_write_msg(dir, &m), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);

	/* wire types protobuf no longer uses (groups) or never defined */
	memset(&m, 0, sizeof(m));
	dump_entry(&d, 1, 2, 3, 4, 5, 6, 7);
	pb_msg(&m, 1, &d);
	pb_key(&m, 5, WT_GROUP);
	CHECK_EQ_INT(stats_write_msg(dir, &m), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	memset(&m, 0, sizeof(m));
	pb_key(&m, 5, 7);
	pb_msg(&m, 1, &d);
	CHECK_EQ_INT(stats_write_msg(dir, &m), 0);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -EINVAL);
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

static void test_missing(void)
{
	char sub[PK_PATH_MAX];
	struct pk_clone_report r;
	const char *dir = dir_make();

	if (!dir) {
		CHECK(!"mkdtemp");
		return;
	}
	report_sentinel(&r);
	CHECK_EQ_INT(pk_criu_dump_stats(dir, &r), -ENOENT);
	pk_path(sub, sizeof(sub), "%s/no-such-dir", dir);
	CHECK_EQ_INT(pk_criu_dump_stats(sub, &r), -ENOENT);
	CHECK(r.frozen_ms == -1);
	CHECK_EQ_INT(r.pages_written, 4242);
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

/* An excerpt of a real CRIU 4.2 dump.log (level 4) of a redis container, with the lines that
 * bracket the phases; lines of the namespace dumpers (forked children) interleave. */
static const char dump_log[] = "(00.000000) CRIU run id = 92755b10-d8e3-406c-bf13-ee2a25c9cc53\n"
			       "(00.173798) Seized task 8591, state 1\n"
			       "(00.187455) Dumping pages (type: 59 pid: 8591)\n"
			       "(00.198752) mnt: Dumping mountpoints\n"
			       "(00.198756) mnt: \t55: 30:/ @ ./sys/firmware\n"
			       "a line without a timestamp: Dumping file-locks\n"
			       "(00.384816) mnt: \t74: 2a:/ @ ./dev\n"
			       "(00.384926) Dumping file-locks\n"
			       "(00.385207) ----------------------------------------\n"
			       "(00.385218) Dumping 1(8591)'s namespaces\n"
			       "(00.394145) Dump IPC namespace 11 via 8591\n"
			       "(00.418961) net: Dumping netns links\n"
			       "(00.447596) Namespaces dump complete\n"
			       "(00.449073) Running post-dump scripts\n"
			       "(00.470594) Unfreezing tasks into 1\n";

/* Writes text to a temporary FILE opened for reading; NULL on failure. */
static FILE *text_file(const char *text)
{
	FILE *f = tmpfile();

	if (!f)
		return NULL;
	fputs(text, f);
	rewind(f);
	return f;
}

static void test_log_times(void)
{
	struct pk_clone_report r;
	FILE *f = text_file(dump_log);

	if (!f) {
		CHECK(!"tmpfile");
		return;
	}
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(pk_criu_dump_log_times(f, &r), 0);
	fclose(f);
	CHECK(r.mounts_ms > 186.173 && r.mounts_ms < 186.175);	     /* 0.384926 - 0.198752 */
	CHECK(r.namespaces_ms > 62.377 && r.namespaces_ms < 62.379); /* 0.447596 - 0.385218 */
}

static void test_log_times_missing(void)
{
	/* a dump that failed before the namespaces: the mounts are known, the phase is missing */
	const char *cut = strstr(dump_log, "(00.385218)");
	char text[sizeof(dump_log)];
	struct pk_clone_report r;
	FILE *f;

	snprintf(text, sizeof(text), "%.*s", (int)(cut - dump_log), dump_log);
	f = text_file(text);
	if (!f) {
		CHECK(!"tmpfile");
		return;
	}
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(pk_criu_dump_log_times(f, &r), -ENOENT);
	fclose(f);
	CHECK(r.mounts_ms > 186.173 && r.mounts_ms < 186.175);
	CHECK(r.namespaces_ms == 0);
	f = text_file("");
	CHECK_EQ_INT(pk_criu_dump_log_times(f, &r), -ENOENT);
	fclose(f);
	/* an end marker before its begin marker is no phase */
	f = text_file(
		"(00.100000) Namespaces dump complete\n(00.200000) Dumping 1(2)'s namespaces\n"
		"(00.300000) mnt: Dumping mountpoints\n(00.310000) Dumping file-locks\n");
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(pk_criu_dump_log_times(f, &r), -ENOENT);
	fclose(f);
	CHECK(r.mounts_ms > 9.999 && r.mounts_ms < 10.001);
	CHECK(r.namespaces_ms == 0);
}

/* The report adds the breakdown up: what is not accounted for is "other", never negative. */
static void test_report(void)
{
	struct pk_clone_report r;
	struct pb d, m;
	char path[PK_PATH_MAX];
	const char *dir = dir_make();
	FILE *f;

	if (!dir) {
		CHECK(!"mkdtemp");
		return;
	}
	dump_entry(&d, 1000, 300000, 11000, 2000, 0, 0, 686);
	memset(&m, 0, sizeof(m));
	pb_msg(&m, 1, &d);
	CHECK_EQ_INT(stats_write_msg(dir, &m), 0);
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(pk_criu_dump_report(dir, 20.5, &r), -ENOENT); /* no dump.log */
	CHECK(r.frozen_total_ms > 300.999 && r.frozen_total_ms < 301.001);
	pk_path(path, sizeof(path), "%s/dump.log", dir);
	f = fopen(path, "we");
	CHECK(f != NULL);
	if (f) {
		fputs(dump_log, f);
		fclose(f);
	}
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(pk_criu_dump_report(dir, 20.5, &r), 0);
	CHECK(r.post_dump_ms == 20.5);
	/* 301 - 1 - 11 - 186.174 - 62.378 - 20.5 = 19.948 */
	CHECK(r.frozen_other_ms > 19.947 && r.frozen_other_ms < 19.949);
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(pk_criu_dump_report(dir, 500, &r), 0);
	CHECK(r.frozen_other_ms == 0);
	CHECK_EQ_INT(pk_rm_tree(dir), 0);
}

int main(void)
{
	UNIT_RUN(test_basic);
	UNIT_RUN(test_multibyte_varints);
	UNIT_RUN(test_unknown_fields_skipped);
	UNIT_RUN(test_bad_magic);
	UNIT_RUN(test_truncated);
	UNIT_RUN(test_missing);
	UNIT_RUN(test_log_times);
	UNIT_RUN(test_log_times_missing);
	UNIT_RUN(test_report);
	return unit_done();
}
