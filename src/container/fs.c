/* fs.c — overlay root filesystems and copies of upper dirs and tmpfs mounts.
 *
 * Two ways to copy: `cp -a --reflink=auto` for the first copy of an upper dir (production runs
 * meanwhile: hard links and everything cp knows are kept), and a mirror walked in this process
 * for the copies made while production is frozen (no fork and exec of cp: an unchanged tree
 * costs two fstatat()s per entry).  The mirror makes dst equal to src on src's filesystem:
 * entries that differ (type, mode, owner, size, mtime; device numbers) are made again with
 * their extended attributes (overlay's whiteouts are character devices 0:0, its opaque
 * directories carry trusted.overlay.opaque), entries gone from src are removed; directories
 * on another filesystem (mount points) are made empty; sockets are skipped; hard links are
 * copied apart.
 */
#include "container/container_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/proc.h"

int pk_fs_mkdir(const char *path, mode_t mode, char *err, size_t errlen)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		int e = errno;

		snprintf(err, errlen, "mkdir %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

int pk_fs_overlay(const char *lower, const char *rw_dir, const char *mnt, char *err, size_t errlen)
{
	char opts[3 * PK_PATH_MAX + 64], path[PK_PATH_MAX];
	int rc;

	if (strpbrk(lower, ",\\")) {
		snprintf(err, errlen, "%s: an overlay cannot have a ',' or '\\' in its paths",
			 lower);
		return -EINVAL;
	}
	if ((rc = pk_fs_mkdir(mnt, 0755, err, errlen)))
		return rc;
	if (rw_dir) {
		const char *sub[] = { "", "/upper", "/work" };

		for (unsigned i = 0; i < 3; i++) {
			pk_path(path, sizeof(path), "%s%s", rw_dir, sub[i]);
			if ((rc = pk_fs_mkdir(path, 0755, err, errlen)))
				return rc;
		}
		rc = pk_path(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work",
			     lower, rw_dir, rw_dir);
	} else { /* no upper dir: a read-only overlay, which takes two lower dirs at least */
		pk_path(path, sizeof(path), "%s.empty", mnt);
		if ((rc = pk_fs_mkdir(path, 0755, err, errlen)))
			return rc;
		rc = pk_path(opts, sizeof(opts), "lowerdir=%s:%s", lower, path);
	}
	if (rc < 0 || mount("overlay", mnt, "overlay", rw_dir ? 0 : MS_RDONLY, opts) < 0) {
		int e = rc < 0 ? ENAMETOOLONG : errno;

		snprintf(err, errlen, "mount overlay of %s on %s: %s", lower, mnt, strerror(e));
		return -e;
	}
	return 0;
}

int pk_fs_mount(const char *dir, const char *lower, char *err, size_t errlen)
{
	char target[PK_PATH_MAX];

	pk_path(target, sizeof(target), "%s/rootfs", dir);
	return pk_fs_overlay(lower, dir, target, err, errlen);
}

#define UMOUNT_MAX 128 /* mounts below one container's dir: rootfs, volumes, CRIU's cgroup yard */

void pk_fs_umount(const char *dir)
{
	char *below[UMOUNT_MAX], prefix[PK_PATH_MAX], buf[4 * PK_PATH_MAX];
	struct mntent ent;
	size_t plen, n = 0;
	FILE *f;

	/* Not only rootfs and the tmpfs copies: a CRIU killed during a restore leaves its cgroup
	 * yard mounted in the work dir.  Later mounts sit on earlier ones, so they go first. */
	if (pk_path(prefix, sizeof(prefix), "%s/", dir) < 0)
		return;
	plen = strlen(prefix);
	f = setmntent("/proc/self/mounts", "re");
	if (!f)
		return;
	while (n < UMOUNT_MAX && getmntent_r(f, &ent, buf, sizeof(buf)))
		if (strncmp(ent.mnt_dir, prefix, plen) == 0 && (below[n] = strdup(ent.mnt_dir)))
			n++;
	endmntent(f);
	while (n-- > 0) {
		if (umount2(below[n], 0) < 0 && errno == EBUSY)
			umount2(below[n], MNT_DETACH);
		free(below[n]);
	}
	pk_tmpfs_umount(dir); /* removes the tmpfs copies' mount points */
}

int pk_fs_copy(const char *src, const char *dst, char *err, size_t errlen)
{
	char from[PK_PATH_MAX];
	struct stat st;

	if (stat(src, &st) == 0 && !S_ISDIR(st.st_mode)) /* a file: to the path dst */
		return pk_proc_check(
			(char *[]){ "cp", "-a", "--reflink=auto", (char *)src, (char *)dst, NULL },
			PK_CMD_TIMEOUT_MS, err, errlen);
	pk_path(from, sizeof(from), "%s/.", src);
	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		return -errno;
	return pk_proc_check((char *[]){ "cp", "-a", "--reflink=auto", from, (char *)dst, NULL },
			     10 * PK_CMD_TIMEOUT_MS, err, errlen);
}

int pk_fs_pin_layers(const char *lower, const char *dir, char *out, size_t outlen, char *err,
		     size_t errlen)
{
	char layers[PK_PATH_MAX], dst[PK_PATH_MAX], layer[PK_PATH_MAX], from[PK_PATH_MAX];
	const char *p = lower;
	size_t n = 0;
	int i = 0, rc;

	pk_path(layers, sizeof(layers), "%s/layers", dir);
	if (mkdir(layers, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "mkdir %s: %s", layers, strerror(-rc));
		return rc;
	}
	out[0] = '\0';
	while (*p) {
		size_t len = strcspn(p, ":");

		if (pk_path(layer, sizeof(layer), "%.*s", (int)len, p) ||
		    pk_path(from, sizeof(from), "%s/.", layer) ||
		    pk_path(dst, sizeof(dst), "%s/%d", layers, i++) ||
		    n + strlen(dst) + 2 > outlen) {
			snprintf(err, errlen, "pin the lower layers: paths too long");
			return -ENAMETOOLONG;
		}
		/* hard links: no data copied, and the files stay when the engine deletes its own
		 * names for them; a full copy where the layer is on another file system */
		if (pk_proc_check((char *[]){ "cp", "-al", from, dst, NULL },
				  10 * PK_CMD_TIMEOUT_MS, err, errlen) < 0) {
			pk_rm_tree(dst);
			rc = pk_fs_copy(layer, dst, err, errlen);
			if (rc)
				return rc;
		}
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? ":" : "", dst);
		p += len;
		p += *p == ':';
	}
	return 0;
}

#define MIRROR_DEPTH_MAX 32

/* Opens a directory stream on fd, which it owns from then on (closed on failure).  NULL with
 * errno set when fd < 0 (errno from the call that made it) or fdopendir fails. */
static DIR *dir_stream(int fd)
{
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return d;
}

/* Removes name (a whole tree when it is a directory) from directory dfd.  Returns 0/-errno. */
static int remove_at(int dfd, const char *name, int depth)
{
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (unlinkat(dfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR)
		return -errno;
	if (depth > MIRROR_DEPTH_MAX)
		return -ELOOP;
	d = dir_stream(openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (!d)
		return -errno;
	while (!rc && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = remove_at(dirfd(d), e->d_name, depth + 1);
	closedir(d);
	if (!rc && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		rc = -errno;
	return rc;
}

/* Tells whether dst already is what src is (a directory's entries are checked separately). */
static bool same_entry(const struct stat *s, const struct stat *d)
{
	if ((s->st_mode & S_IFMT) != (d->st_mode & S_IFMT) || s->st_mode != d->st_mode ||
	    s->st_uid != d->st_uid || s->st_gid != d->st_gid)
		return false;
	if (S_ISDIR(s->st_mode))
		return true;
	if (S_ISCHR(s->st_mode) || S_ISBLK(s->st_mode))
		return s->st_rdev == d->st_rdev;
	return s->st_size == d->st_size && s->st_mtim.tv_sec == d->st_mtim.tv_sec &&
	       s->st_mtim.tv_nsec == d->st_mtim.tv_nsec;
}

/* Copies the bytes of regular file name (src dir fd) into the new file name of dst. */
static int copy_file(int src, int dst, const char *name, const struct stat *st, bool content)
{
	int in = -1, out, rc = 0;
	off_t left = content ? st->st_size : 0;

	out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	if (left > 0) {
		in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0)
			rc = -errno;
	}
	while (!rc && left > 0) {
		ssize_t n = sendfile(out, in, NULL, (size_t)left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* the file shrank under us: keep what was read */
			rc = n < 0 ? -errno : 0;
		if (n <= 0)
			break;
		left -= n;
	}
	if (in >= 0)
		close(in);
	close(out);
	return rc;
}

/* Gives name in dst the extended attributes of name in src (overlay's trusted.overlay.opaque on
 * a directory, file capabilities); symlinks keep none.  Best effort: a filesystem without
 * xattrs has none to copy. */
static void copy_xattrs(int src, int dst, const char *name)
{
	char sp[PK_PATH_MAX], dp[PK_PATH_MAX], list[4096], val[4096];
	ssize_t n;

	pk_path(sp, sizeof(sp), "/proc/self/fd/%d/%s", src, name);
	pk_path(dp, sizeof(dp), "/proc/self/fd/%d/%s", dst, name);
	n = llistxattr(sp, list, sizeof(list));
	for (char *k = list; n > 0 && k < list + n; k += strlen(k) + 1) {
		ssize_t v = lgetxattr(sp, k, val, sizeof(val));

		if (v >= 0)
			lsetxattr(dp, k, val, (size_t)v, 0);
	}
}

/* Gives name in dst the owner, mode and times of st. */
static void set_attrs(int dst, const char *name, const struct stat *st)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) {
		/* a copy keeps root's ownership: harmless, CRIU's tar would do the same as root */
	}
	if (!S_ISLNK(st->st_mode) && fchmodat(dst, name, st->st_mode & 07777, 0) < 0) {
		/* only fails for a vanished entry: the next walk sees it again */
	}
	utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW);
}

static int mirror_dir(int src, int dst, dev_t dev, int depth);

/* Creates name in dst as a copy of the same entry of src (st).  Entries on another filesystem
 * (mount points) become empty directories or files; sockets are skipped. */
static int create_entry(int src, int dst, const char *name, const struct stat *st, dev_t dev,
			int depth)
{
	char link[PK_PATH_MAX];
	ssize_t n;
	int rc = 0;

	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(dst, name, 0700) < 0)
			return -errno;
		if (st->st_dev == dev) {
			int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int d = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			rc = s < 0 || d < 0 ? -errno : mirror_dir(s, d, dev, depth + 1);
			if (s >= 0)
				close(s);
			if (d >= 0)
				close(d);
		}
		break;
	case S_IFREG:
		rc = copy_file(src, dst, name, st, st->st_dev == dev);
		break;
	case S_IFLNK:
		n = readlinkat(src, name, link, sizeof(link) - 1);
		if (n < 0)
			return -errno;
		link[n] = '\0';
		if (symlinkat(link, dst, name) < 0)
			return -errno;
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		if (mknodat(dst, name, st->st_mode, st->st_rdev) < 0)
			return -errno;
		break;
	default: /* sockets: bound again by whoever owns them (CRIU restores the socket itself) */
		return 0;
	}
	if (!S_ISLNK(st->st_mode))
		copy_xattrs(src, dst, name);
	set_attrs(dst, name, st);
	return rc;
}

/* Makes directory dst hold what directory src holds on filesystem dev: entries missing or
 * different in dst are (re)created, entries gone from src are removed.  Returns 0/-errno. */
static int mirror_dir(int src, int dst, dev_t dev, int depth)
{
	struct stat ss, ds;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (depth > MIRROR_DEPTH_MAX)
		return -ELOOP;
	d = dir_stream(dup(src));
	if (!d)
		return -errno;
	while (!rc && (e = readdir(d))) {
		const char *name = e->d_name;
		bool have;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (fstatat(src, name, &ss, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		have = fstatat(dst, name, &ds, AT_SYMLINK_NOFOLLOW) == 0;
		if (have && !same_entry(&ss, &ds)) {
			rc = remove_at(dst, name, depth);
			have = false;
		}
		if (rc)
			break;
		if (!have) {
			rc = create_entry(src, dst, name, &ss, dev, depth);
		} else if (S_ISDIR(ss.st_mode) && ss.st_dev == dev) {
			int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int dd = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			rc = s < 0 || dd < 0 ? -errno : mirror_dir(s, dd, dev, depth + 1);
			if (s >= 0)
				close(s);
			if (dd >= 0)
				close(dd);
			copy_xattrs(src, dst, name); /* a directory made again is opaque */
			set_attrs(dst, name, &ss); /* its mtime moved with the entries made in it */
		}
	}
	closedir(d);
	if (rc)
		return rc;
	/* Second pass: what dst has and src no longer has. */
	d = dir_stream(dup(dst));
	if (!d)
		return -errno;
	while (!rc && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    fstatat(src, e->d_name, &ss, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			rc = remove_at(dst, e->d_name, depth);
	closedir(d);
	return rc;
}

int pk_fs_mirror_at(int src, int dst)
{
	struct stat st;
	int rc;

	if (fstat(src, &st) < 0)
		return -errno;
	rc = mirror_dir(src, dst, st.st_dev, 0);
	copy_xattrs(src, dst, ".");
	set_attrs(dst, ".", &st);
	return rc;
}

int pk_fs_mirror(const char *src, const char *dst, char *err, size_t errlen)
{
	int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int d = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = s < 0 || d < 0 ? -errno : pk_fs_mirror_at(s, d);

	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	if (rc)
		snprintf(err, errlen, "copy %s to %s: %s", src, dst, strerror(-rc));
	return rc;
}

int pk_fs_rsync(const char *src, const char *dst, const char *pwfile, bool del, char *err,
		size_t errlen)
{
	char from[PK_PATH_MAX], to[PK_PATH_MAX], pw[PK_PATH_MAX + 32];
	char *argv[8] = { "rsync", "-a" };
	int k = 2;

	pk_path(from, sizeof(from), "%s/", src);
	pk_path(to, sizeof(to), "%s/", dst);
	if (del)
		argv[k++] = "--delete";
	if (pwfile) {
		pk_path(pw, sizeof(pw), "--password-file=%s", pwfile);
		argv[k++] = pw;
	}
	argv[k++] = from;
	argv[k++] = to;
	argv[k] = NULL;
	return pk_proc_check(argv, 10 * PK_CMD_TIMEOUT_MS, err, errlen);
}

long long pk_fs_usage(const char *path)
{
	struct pk_strbuf out = { 0 };
	long long v = -1;
	int rc =
		pk_proc_run((char *[]){ "du", "-sb", (char *)path, NULL }, PK_CMD_TIMEOUT_MS, &out);

	if (rc == 0 && sscanf(pk_strbuf_str(&out), "%lld", &v) != 1)
		v = -1;
	pk_strbuf_release(&out);
	return rc == 0 && v >= 0 ? v : -EIO;
}

static const char *const volume_modes[PK_VOLUME_MODES] = { "copy", "overlay", "share" };

const char *pk_volume_mode_name(enum pk_volume_mode m)
{
	return (unsigned)m < PK_VOLUME_MODES ? volume_modes[m] : NULL;
}

int pk_volume_mode_parse(const char *name)
{
	for (int m = 0; m < PK_VOLUME_MODES; m++)
		if (m != PK_VOLUME_SHARE && !strcmp(name, volume_modes[m]))
			return m;
	return -EINVAL;
}
