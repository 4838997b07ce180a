/* fs.c — overlay root filesystems and copies of upper dirs. */
#include "clone/clone_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "common/proc.h"

int pk_fs_mount(const char *dir, const char *lower, char *err, size_t errlen)
{
	char opts[3 * PK_PATH_MAX], target[PK_PATH_MAX];
	const char *sub[] = { "upper", "work", "rootfs" };

	for (unsigned i = 0; i < 3; i++) {
		pk_path(target, sizeof(target), "%s/%s", dir, sub[i]);
		if (mkdir(target, 0755) < 0 && errno != EEXIST) {
			int e = errno;

			snprintf(err, errlen, "mkdir %s: %s", target, strerror(e));
			return -e;
		}
	}
	pk_path(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir,
		dir);
	if (mount("overlay", target, "overlay", 0, opts) < 0) {
		int e = errno;

		snprintf(err, errlen, "mount overlay on %s: %s", target, strerror(e));
		return -e;
	}
	return 0;
}

void pk_fs_umount(const char *dir)
{
	char target[PK_PATH_MAX];

	pk_path(target, sizeof(target), "%s/rootfs", dir);
	if (umount2(target, 0) < 0 && errno == EBUSY)
		umount2(target, MNT_DETACH);
	pk_tmpfs_umount(dir);
}

int pk_fs_copy(const char *src, const char *dst, char *err, size_t errlen)
{
	char from[PK_PATH_MAX];

	pk_path(from, sizeof(from), "%s/.", src);
	if (mkdir(dst, 0755) < 0 && errno != EEXIST)
		return -errno;
	return pk_proc_check((char *[]){ "cp", "-a", "--reflink=auto", from, (char *)dst, NULL },
			     10 * PK_CMD_TIMEOUT_MS, err, errlen);
}

int pk_fs_copy_newer(const char *src, const char *dst, char *err, size_t errlen)
{
	char from[PK_PATH_MAX];

	pk_path(from, sizeof(from), "%s/.", src);
	return pk_proc_check(
		(char *[]){ "cp", "-a", "--reflink=auto", "-u", from, (char *)dst, NULL },
		10 * PK_CMD_TIMEOUT_MS, err, errlen);
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
