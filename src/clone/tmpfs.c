/* tmpfs.c — a container's tmpfs mounts, recreated outside the frozen window.
 *
 * runc gives every container several tmpfs mounts: /dev, /dev/shm, the cgroup v1 skeleton at
 * /sys/fs/cgroup and the read-only masks over /proc/acpi and /sys/firmware.  CRIU archives each
 * of them with `tar | gzip` while production is frozen (~19 ms apiece on a fresh machine, most
 * of a small container's frozen time).  Instead, before the freeze, each one is copied into a
 * tmpfs of the same options on the host (DIR/tmpfs/<i>) and declared to CRIU as an external
 * mount; restore bind-mounts the copy in its place with the mount flags production had (a
 * mask stays read-only and empty).  Writable ones are brought up to date again while
 * production is frozen, by a walk in this process (no fork, microseconds for the usual few
 * entries):
 *
 *   production's /dev (tmpfs) --copy before freeze--> DIR/tmpfs/0 (tmpfs, private)
 *                             --re-sync while frozen-->      |
 *                                        CRIU restore: bind DIR/tmpfs/0 on the clone's /dev
 *
 * What the copy does not carry: content hidden under a mount point inside the tmpfs (CRIU's
 * tar sees it through a mount namespace of its own), sockets (tar skips them too), and hard
 * links between entries (copied as separate files).
 */
#include "clone/clone_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MIRROR_DEPTH_MAX 32

/* Removes name (a whole tree when it is a directory) from directory dfd.  Returns 0/-errno. */
static int remove_at(int dfd, const char *name, int depth)
{
	struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	if (unlinkat(dfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR)
		return -errno;
	if (depth > MIRROR_DEPTH_MAX)
		return -ELOOP;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
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
	int fd, rc = 0;

	if (depth > MIRROR_DEPTH_MAX)
		return -ELOOP;
	fd = dup(src);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
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
			set_attrs(dst, name, &ss); /* its mtime moved with the entries made in it */
		}
	}
	closedir(d);
	if (rc)
		return rc;
	/* Second pass: what dst has and src no longer has. */
	fd = dup(dst);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (!rc && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    fstatat(src, e->d_name, &ss, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			rc = remove_at(dst, e->d_name, depth);
	closedir(d);
	return rc;
}

/* Opens production's mount point mnt (a path in its mount namespace) as a directory, resolved
 * inside production's root whatever symlinks it holds.  Returns an fd or -errno. */
static int open_in_root(int pid, const char *mnt)
{
	struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	char path[64];
	int root, fd;

	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, root, mnt[0] == '/' ? mnt + 1 : mnt, &how, sizeof(how));
	if (fd < 0)
		fd = -errno;
	close(root);
	return fd;
}

/* Brings the copy of mount i of s up to date with production's.  Returns 0 or -errno. */
static int sync_one(const struct pk_tmpfs_set *s, int i)
{
	char path[PK_PATH_MAX];
	struct stat st;
	int src, dst, rc;

	src = open_in_root(s->pid, s->m[i].mnt);
	if (src < 0)
		return src;
	pk_path(path, sizeof(path), "%s/tmpfs/%d", s->dir, i);
	dst = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0 || fstat(src, &st) < 0) {
		rc = -errno;
	} else {
		rc = mirror_dir(src, dst, st.st_dev, 0);
		set_attrs(dst, ".", &st);
	}
	if (dst >= 0)
		close(dst);
	close(src);
	return rc;
}

/* Splits one /proc/PID/mountinfo line; returns false for a line we do not handle (escaped
 * characters in a path, a bind of a sub-directory, not tmpfs). */
static bool parse_tmpfs(char *line, char *dev, size_t devlen, struct pk_tmpfs *t)
{
	char *f[12], *save = NULL, *sep, *opts;
	int n = 0;

	sep = strstr(line, " - ");
	if (!sep || strchr(line, '\\'))
		return false;
	*sep = '\0';
	for (char *tok = strtok_r(line, " ", &save); tok && n < 12;
	     tok = strtok_r(NULL, " ", &save))
		f[n++] = tok;
	/* f: id parent maj:min root mountpoint flags [optional...]; after " - ": type source super
	 */
	if (n < 6 || strcmp(f[3], "/") != 0 || strcmp(f[4], "/") == 0)
		return false;
	save = NULL;
	n = 0;
	for (char *tok = strtok_r(sep + 3, " \n", &save); tok && n < 3;
	     tok = strtok_r(NULL, " \n", &save))
		f[6 + n++] = tok;
	if (n < 3 || strcmp(f[6], "tmpfs") != 0)
		return false;
	snprintf(dev, devlen, "%s", f[2]);
	if (pk_path(t->mnt, sizeof(t->mnt), "%s", f[4]))
		return false;
	/* superblock options: "rw,size=65536k,mode=755" -> ro flag + the data string */
	opts = f[8];
	t->ro = strncmp(opts, "ro", 2) == 0 && (opts[2] == ',' || opts[2] == '\0');
	opts += strcspn(opts, ",");
	snprintf(t->data, sizeof(t->data), "%s", *opts ? opts + 1 : "");
	return true;
}

int pk_tmpfs_list(const char *mountinfo, struct pk_tmpfs_set *s)
{
	char devs[PK_TMPFS_MAX][32], dev[32];
	bool dup[PK_TMPFS_MAX] = { false };
	char *text = strdup(mountinfo), *line, *save = NULL;
	int n = 0;

	if (!text)
		return -ENOMEM;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct pk_tmpfs t;
		bool seen = false;

		if (!parse_tmpfs(line, dev, sizeof(dev), &t))
			continue;
		/* the same tmpfs mounted twice: its mounts must keep sharing it, leave it to CRIU
		 */
		for (int i = 0; i < n; i++)
			if (!strcmp(devs[i], dev))
				dup[i] = seen = true;
		if (seen || n == PK_TMPFS_MAX)
			continue;
		snprintf(devs[n], sizeof(devs[n]), "%s", dev);
		s->m[n++] = t;
	}
	free(text);
	s->n = 0;
	for (int i = 0; i < n; i++)
		if (!dup[i])
			s->m[s->n++] = s->m[i];
	return 0;
}

void pk_tmpfs_umount(const char *dir)
{
	char path[PK_PATH_MAX];

	for (int i = 0; i < PK_TMPFS_MAX; i++) {
		pk_path(path, sizeof(path), "%s/tmpfs/%d", dir, i);
		if (umount2(path, MNT_DETACH) < 0 && errno == ENOENT)
			break;
		rmdir(path);
	}
	pk_path(path, sizeof(path), "%s/tmpfs", dir);
	rmdir(path);
}

int pk_tmpfs_prepare(struct pk_tmpfs_set *s, int pid, const char *dir, char *err, size_t errlen)
{
	char path[PK_PATH_MAX], buf[4096];
	struct pk_strbuf info = { 0 };
	size_t n;
	FILE *f;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	/* a /proc file: its size is 0 to stat, read it to the end */
	pk_path(path, sizeof(path), "/proc/%d/mountinfo", pid);
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "read %s: %s", path, strerror(-rc));
		return rc;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		pk_strbuf_append(&info, buf, n);
	fclose(f);
	rc = pk_strbuf_ok(&info) ? pk_tmpfs_list(pk_strbuf_str(&info), s) : -ENOMEM;
	pk_strbuf_release(&info);
	pk_path(path, sizeof(path), "%s/tmpfs", dir);
	if (!rc && s->n && mkdir(path, 0700) < 0)
		rc = -errno;
	for (int i = 0; !rc && i < s->n; i++) {
		pk_path(path, sizeof(path), "%s/tmpfs/%d", dir, i);
		if (mkdir(path, 0700) < 0 ||
		    mount("tmpfs", path, "tmpfs", MS_NOSUID,
			  s->m[i].data[0] ? s->m[i].data : NULL) < 0 ||
		    mount(NULL, path, NULL, MS_PRIVATE, NULL) < 0) {
			rc = -errno;
			snprintf(err, errlen, "mount a copy of production's %s on %s: %s",
				 s->m[i].mnt, path, strerror(-rc));
			break;
		}
		rc = sync_one(s, i);
		if (!rc && s->m[i].ro &&
		    mount(NULL, path, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID, NULL) < 0)
			rc = -errno;
		if (rc)
			snprintf(err, errlen, "copy production's %s: %s", s->m[i].mnt,
				 strerror(-rc));
	}
	if (rc) {
		pk_tmpfs_umount(dir);
		s->n = 0;
	}
	return rc;
}

int pk_tmpfs_resync(const struct pk_tmpfs_set *s)
{
	int rc = 0;

	for (int i = 0; i < s->n; i++) {
		int r = s->m[i].ro ? 0 : sync_one(s, i);

		if (r && !rc)
			rc = r;
	}
	return rc;
}

int pk_tmpfs_criu_conf(const struct pk_tmpfs_set *s, const char *conf)
{
	FILE *f;

	if (!s->n)
		return 0;
	f = fopen(conf, "ae");
	if (!f)
		return -errno;
	for (int i = 0; i < s->n; i++)
		fprintf(f, "external mnt[" PK_TMPFS_KEY "%d]:%s/tmpfs/%d\n", i, s->dir, i);
	return fclose(f) == 0 ? 0 : -EIO;
}
