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
#include "container/container_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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
	int src, dst, rc;

	src = open_in_root(s->pid, s->m[i].mnt);
	if (src < 0)
		return src;
	pk_path(path, sizeof(path), "%s/tmpfs/%d", s->dir, i);
	dst = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	rc = dst < 0 ? -errno : pk_fs_mirror_at(src, dst);
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
