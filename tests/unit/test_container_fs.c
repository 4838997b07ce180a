/* test_container_fs.c — the in-process mirror used while production is frozen (pk_fs_mirror):
 * a tree of files, directories, symlinks, fifos, an overlay whiteout (character device 0:0) and
 * an opaque directory (trusted.overlay.opaque) is copied exactly; after changes in the source
 * (content, mode, an entry removed, a directory replaced by a file, a new entry) a second
 * mirror makes the copy equal again; unchanged entries are left alone.  And the volume modes'
 * names, and the paths an overlay refuses. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "container/container_int.h"
#include "unit.h"

static char base[64];

static void put(const char *rel, const char *text, time_t mtime)
{
	char path[PK_PATH_MAX];
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
	FILE *f;

	pk_path(path, sizeof(path), "%s/%s", base, rel);
	f = fopen(path, "we");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	utimensat(AT_FDCWD, path, ts, 0);
}

static void mk(const char *rel)
{
	char path[PK_PATH_MAX];

	pk_path(path, sizeof(path), "%s/%s", base, rel);
	CHECK_EQ_INT(mkdir(path, 0755), 0);
}

/* Compares trees a and b (relative to base) entry by entry; returns the number of differences
 * and prints each. */
static int tree_diff(const char *a, const char *b)
{
	char pa[PK_PATH_MAX], pb[PK_PATH_MAX], ta[256], tb[256];
	struct dirent **names = NULL;
	struct stat sa, sb;
	int n, diffs = 0;

	pk_path(pa, sizeof(pa), "%s/%s", base, a);
	pk_path(pb, sizeof(pb), "%s/%s", base, b);
	n = scandir(pa, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char ra[PK_PATH_MAX], rb[PK_PATH_MAX];
		const char *e = names[i]->d_name;

		if (!strcmp(e, ".") || !strcmp(e, ".."))
			goto next;
		pk_path(ra, sizeof(ra), "%s/%s", a, e);
		pk_path(rb, sizeof(rb), "%s/%s", b, e);
		pk_path(pa, sizeof(pa), "%s/%s", base, ra);
		pk_path(pb, sizeof(pb), "%s/%s", base, rb);
		if (lstat(pa, &sa) || lstat(pb, &sb)) {
			printf("  missing in copy: %s\n", rb);
			diffs++;
			goto next;
		}
		if (sa.st_mode != sb.st_mode || sa.st_size != sb.st_size ||
		    sa.st_rdev != sb.st_rdev ||
		    (!S_ISDIR(sa.st_mode) && sa.st_mtim.tv_sec != sb.st_mtim.tv_sec)) {
			printf("  differs: %s\n", rb);
			diffs++;
		}
		if (S_ISREG(sa.st_mode)) {
			FILE *fa = fopen(pa, "re"), *fb = fopen(pb, "re");
			size_t na = fa ? fread(ta, 1, sizeof(ta), fa) : 0;
			size_t nb = fb ? fread(tb, 1, sizeof(tb), fb) : 0;

			if (na != nb || memcmp(ta, tb, na)) {
				printf("  content differs: %s\n", rb);
				diffs++;
			}
			if (fa)
				fclose(fa);
			if (fb)
				fclose(fb);
		} else if (S_ISLNK(sa.st_mode)) {
			ssize_t la = readlink(pa, ta, sizeof(ta)),
				lb = readlink(pb, tb, sizeof(tb));

			if (la != lb || la < 0 || memcmp(ta, tb, (size_t)la)) {
				printf("  link differs: %s\n", rb);
				diffs++;
			}
		} else if (S_ISDIR(sa.st_mode)) {
			ssize_t xa = lgetxattr(pa, "trusted.overlay.opaque", ta, sizeof(ta));
			ssize_t xb = lgetxattr(pb, "trusted.overlay.opaque", tb, sizeof(tb));

			if (xa != xb) {
				printf("  opaque xattr differs: %s\n", rb);
				diffs++;
			}
			diffs += tree_diff(ra, rb);
		}
	next:
		free(names[i]);
	}
	free(names);
	/* entries only in the copy */
	pk_path(pb, sizeof(pb), "%s/%s", base, b);
	n = scandir(pb, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		pk_path(pa, sizeof(pa), "%s/%s/%s", base, a, names[i]->d_name);
		if (lstat(pa, &sa) < 0) {
			printf("  only in copy: %s/%s\n", b, names[i]->d_name);
			diffs++;
		}
		free(names[i]);
	}
	free(names);
	return diffs;
}

static int mirror(void)
{
	char s[PK_PATH_MAX], d[PK_PATH_MAX], err[PK_ERR_MAX] = "";
	int rc;

	pk_path(s, sizeof(s), "%s/src", base);
	pk_path(d, sizeof(d), "%s/dst", base);
	rc = pk_fs_mirror(s, d, err, sizeof(err));
	if (rc)
		printf("  pk_fs_mirror: %s\n", err);
	return rc;
}

static void test_mirror(void)
{
	char path[PK_PATH_MAX];
	bool root = geteuid() == 0;
	struct stat before, after;

	snprintf(base, sizeof(base), "/tmp/pk-clone-fs-test.XXXXXX");
	if (!mkdtemp(base)) {
		CHECK(!"mkdtemp");
		return;
	}
	mk("src");
	mk("dst");
	mk("src/d");
	mk("src/d/e");
	mk("src/gone-dir");
	put("src/a", "alpha", 1000);
	put("src/d/b", "beta", 2000);
	put("src/d/e/c", "gamma", 3000);
	put("src/gone-dir/x", "x", 4000);
	put("src/gone", "to be removed", 5000);
	pk_path(path, sizeof(path), "%s/src/link", base);
	CHECK_EQ_INT(symlink("d/b", path), 0);
	pk_path(path, sizeof(path), "%s/src/fifo", base);
	CHECK_EQ_INT(mkfifo(path, 0640), 0);
	if (root) { /* overlay's whiteout and opaque directory need root to make */
		pk_path(path, sizeof(path), "%s/src/whiteout", base);
		CHECK_EQ_INT(mknod(path, S_IFCHR | 0, makedev(0, 0)), 0);
		pk_path(path, sizeof(path), "%s/src/d/e", base);
		CHECK_EQ_INT(lsetxattr(path, "trusted.overlay.opaque", "y", 1, 0), 0);
	}
	CHECK_EQ_INT(mirror(), 0);
	CHECK_EQ_INT(tree_diff("src", "dst"), 0);

	/* changes while "production runs" */
	put("src/a", "ALPHA", 1001);	      /* same size, new mtime */
	put("src/d/b", "beta, longer", 2000); /* new size */
	pk_path(path, sizeof(path), "%s/src/d/e/c", base);
	CHECK_EQ_INT(chmod(path, 0600), 0);
	pk_path(path, sizeof(path), "%s/src/gone", base);
	CHECK_EQ_INT(unlink(path), 0);
	pk_path(path, sizeof(path), "%s/src/gone-dir/x", base);
	CHECK_EQ_INT(unlink(path), 0);
	pk_path(path, sizeof(path), "%s/src/gone-dir", base);
	CHECK_EQ_INT(rmdir(path), 0);
	put("src/gone-dir", "now a file", 6000); /* a directory replaced by a file */
	put("src/d/new", "new", 7000);
	pk_path(path, sizeof(path), "%s/dst/d/e/c", base);
	CHECK_EQ_INT(stat(path, &before), 0);
	pk_path(path, sizeof(path), "%s/dst/link", base);
	CHECK_EQ_INT(lstat(path, &before), 0);
	CHECK_EQ_INT(mirror(), 0);
	CHECK_EQ_INT(tree_diff("src", "dst"), 0);
	CHECK_EQ_INT(lstat(path, &after), 0);
	CHECK_EQ_INT(after.st_ino, before.st_ino); /* unchanged: not made again */
	CHECK_EQ_INT(mirror(), 0);		   /* idempotent */
	CHECK_EQ_INT(tree_diff("src", "dst"), 0);
	CHECK_EQ_INT(pk_rm_tree(base), 0);
}

static void test_missing(void)
{
	char err[PK_ERR_MAX] = "";

	CHECK_EQ_INT(pk_fs_mirror("/nonexistent/pk-src", "/tmp", err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/pk-src") != NULL);
}

/* The volume modes a user may name (--volumes), and their names in reports. */
static void test_volume_modes(void)
{
	char err[PK_ERR_MAX] = "";

	CHECK_EQ_INT(pk_volume_mode_parse("copy"), PK_VOLUME_COPY);
	CHECK_EQ_INT(pk_volume_mode_parse("overlay"), PK_VOLUME_OVERLAY);
	CHECK_EQ_INT(pk_volume_mode_parse("share"), -EINVAL); /* only per mount, --share-volume */
	CHECK_EQ_INT(pk_volume_mode_parse(""), -EINVAL);
	CHECK_EQ_INT(pk_volume_mode_parse("Copy"), -EINVAL);
	for (int m = 0; m < PK_VOLUME_MODES; m++)
		CHECK(pk_volume_mode_name(m) != NULL);
	CHECK_STR(pk_volume_mode_name(PK_VOLUME_SHARE), "share");
	CHECK(pk_volume_mode_name(PK_VOLUME_MODES) == NULL);
	/* overlay options cannot carry these: refused before anything is made */
	CHECK_EQ_INT(pk_fs_overlay("/tmp/a,b", NULL, "/nonexistent/pk-mnt", err, sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "/tmp/a,b") != NULL);
}

int main(void)
{
	UNIT_RUN(test_mirror);
	UNIT_RUN(test_missing);
	UNIT_RUN(test_volume_modes);
	return unit_done();
}
