/* dump.c — checkpoint a runc container by driving CRIU directly through libcriu.
 *
 * `runc checkpoint` on cgroup v1 hands CRIU the container's freezer cgroup; CRIU writes FROZEN,
 * often reads back FREEZING, and then sleeps its fixed 100 ms poll interval while production
 * stands still.  Seizing the tasks with ptrace instead (no freeze cgroup) takes well under a
 * millisecond.  The image is made exactly as runc would need it to restore it (`runc restore`
 * then does the rest): the container's root, its network namespace as the external
 * "extRootNetNS", bind mounts as automatic external mounts, and descriptors.json naming the
 * init process's stdio.
 */
#include "clone/clone_int.h"

#include <criu.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"

/* Writes image_dir/descriptors.json: what fds 0, 1, 2 of pid are ("pipe:[123]", "/dev/null"),
 * which runc reconnects on restore. */
static int write_descriptors(const char *image_dir, int pid)
{
	char path[PK_PATH_MAX], link[64], target[PK_PATH_MAX];
	FILE *f;

	pk_path(path, sizeof(path), "%s/descriptors.json", image_dir);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fputc('[', f);
	for (int fd = 0; fd < 3; fd++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, fd);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		/* the targets are kernel names (pipe:[N], /dev/null): no JSON escaping needed */
		fprintf(f, "%s\"%s\"", fd ? "," : "", n > 0 ? target : "/dev/null");
	}
	fputc(']', f);
	return fclose(f) == 0 ? 0 : -EIO;
}

/* The second filesystem sync, done from CRIU's post-dump notification while production is
 * still frozen.  libcriu's notify callback takes no user pointer, so the two paths travel in
 * this file-static context, set only for the duration of one criu_local_dump() call. */
static struct {
	const char *upper_from;
	const struct pk_dump_target *t;
	int rc, tmpfs_rc;
} sync_ctx;

static int on_notify(char *action, criu_notify_arg_t na)
{
	char err[PK_ERR_MAX];
	uint64_t t0 = pk_now_ns();

	if (strcmp(action, "post-dump") != 0 || !sync_ctx.upper_from)
		return 0;
	if (sync_ctx.t->on_frozen)
		sync_ctx.t->on_frozen(sync_ctx.t->on_frozen_arg);
	if (sync_ctx.t->tmpfs)
		sync_ctx.tmpfs_rc = pk_tmpfs_resync(sync_ctx.t->tmpfs);
	/* A mirror walked in this process (fs.c): what changed since the first copy, overlay
	 * whiteouts and opaque directories included, and what was removed meanwhile; no fork and
	 * exec while production waits (`cp -u` cost ~2 ms here on a quiet machine, ~20 ms on a
	 * loaded one; rsync ~45 ms). */
	if (sync_ctx.t->clone_upper)
		sync_ctx.rc = pk_fs_mirror(sync_ctx.upper_from, sync_ctx.t->clone_upper, err,
					   sizeof(err));
	else if (sync_ctx.t->rsync_upper)
		sync_ctx.rc = pk_fs_rsync(sync_ctx.upper_from, sync_ctx.t->rsync_upper,
					  sync_ctx.t->rsync_pwfile, true, err, sizeof(err));
	/* production's writable volumes (a database's files) the clone has copies of */
	for (int i = 0; !sync_ctx.rc && i < sync_ctx.t->nvolumes; i++)
		if (sync_ctx.t->volumes[i].mode == PK_VOLUME_COPY)
			sync_ctx.rc = pk_fs_mirror(sync_ctx.t->volumes[i].from,
						   sync_ctx.t->volumes[i].to, err, sizeof(err));
	if (sync_ctx.t->post_dump_ms)
		*sync_ctx.t->post_dump_ms = (double)(pk_now_ns() - t0) / 1e6;
	return 0; /* a failed sync is reported after the dump; production must be unfrozen */
}

int pk_criu_dump(const struct pk_ctr *prod, const char *image_dir, const char *work_dir,
		 const struct pk_dump_target *t, char *err, size_t errlen)
{
	char netns[64], ext[64];
	criu_opts *opts = NULL;
	struct stat st;
	int img_fd = -1, work_fd = -1, rc, pid = prod->pid;

	/* production's network namespace stays behind: the clone is restored into its own */
	snprintf(netns, sizeof(netns), "/proc/%d/ns/net", pid);
	if (stat(netns, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "network namespace of %s (%s): %s", prod->ref, netns,
			 strerror(e));
		return -e;
	}
	snprintf(ext, sizeof(ext), "net[%lu]:extRootNetNS", (unsigned long)st.st_ino);
	rc = write_descriptors(image_dir, pid);
	if (rc) {
		snprintf(err, errlen, "write descriptors.json: %s", strerror(-rc));
		return rc;
	}
	img_fd = open(image_dir, O_DIRECTORY | O_CLOEXEC);
	work_fd = open(work_dir, O_DIRECTORY | O_CLOEXEC);
	if (img_fd < 0 || work_fd < 0 || criu_local_init_opts(&opts) < 0) {
		rc = -errno ? -errno : -ENOMEM;
		snprintf(err, errlen, "prepare CRIU: %s", strerror(-rc));
		goto out;
	}
	criu_local_set_images_dir_fd(opts, img_fd);
	criu_local_set_work_dir_fd(opts, work_fd);
	criu_local_set_log_file(opts, "dump.log");
	/* Level 3 (info), not 4 (debug): CRIU writes each log line with its own write(), most of
	 * them while production is frozen; at level 4 the ~1,900 lines of a small redis dump cost
	 * ~6 ms of frozen time here (44 -> 37 ms).  Level 3 keeps errors, warnings, the info lines
	 * and their timestamps, which the frozen-time breakdown reads (stats.c). */
	criu_local_set_log_level(opts, PK_CRIU_DUMP_LOG_LEVEL);
	criu_local_set_pid(opts, pid);
	criu_local_set_root(opts, prod->root);
	criu_local_set_leave_running(opts, true);
	criu_local_set_tcp_close(opts, true);
	criu_local_set_network_lock(opts, CRIU_NETWORK_LOCK_SKIP);
	criu_local_set_file_locks(opts, true);
	criu_local_set_orphan_pts_master(opts, true);
	criu_local_set_manage_cgroups(opts, true);
	criu_local_set_manage_cgroups_mode(opts, CRIU_CG_MODE_IGNORE);
	criu_local_set_auto_ext_mnt(opts, true);
	criu_local_set_ext_sharing(opts, true);
	criu_local_set_ext_masters(opts, true);
	criu_local_add_external(opts, ext);
	/* tmpfs mounts copied beforehand (tmpfs.c): not archived while production is frozen */
	for (int i = 0; t->tmpfs && i < t->tmpfs->n; i++) {
		char key[sizeof(t->tmpfs->m[i].mnt) + 32];

		snprintf(key, sizeof(key), "mnt[%s]:" PK_TMPFS_KEY "%d", t->tmpfs->m[i].mnt, i);
		criu_local_add_external(opts, key);
	}
	/* production's writable volumes, the clone's made beforehand (clone.c): external, so
	 * that the restore binds the clone's (criu.conf) and not production's directories */
	for (int i = 0; i < t->nvolumes; i++) {
		char key[sizeof(t->volumes[i].dest) + 32];

		if (!t->volumes[i].dest[0])
			continue;
		snprintf(key, sizeof(key), "mnt[%s]:" PK_VOLUME_KEY "%d", t->volumes[i].dest, i);
		criu_local_add_external(opts, key);
	}
	/* a traced container's connections to logd (trace.c); CRIU connects them again by name
	 * on restore (ext-unix-sk in the clone's criu.conf) */
	if (prod->trace_sock[0]) {
		unsigned long *inos = calloc(PK_TRACE_SOCKS_MAX, sizeof(*inos));
		int n = inos ? pk_container_trace_socks(pid, inos, PK_TRACE_SOCKS_MAX) : 0;

		for (int i = 0; i < n; i++) {
			snprintf(ext, sizeof(ext), "unix[%lu]", inos[i]);
			criu_local_add_external(opts, ext);
		}
		free(inos);
	}
	if (t->page_server)
		criu_local_set_page_server_address_port(opts, t->page_server, t->page_server_port);
	criu_local_set_notify_cb(opts, on_notify);
	sync_ctx.upper_from = prod->upper;
	sync_ctx.t = t;
	sync_ctx.rc = 0;
	sync_ctx.tmpfs_rc = 0;
	rc = criu_local_dump(opts);
	sync_ctx.upper_from = NULL;
	sync_ctx.t = NULL;
	if (rc < 0) {
		snprintf(err, errlen, "criu dump failed (%d): see %s/dump.log", rc, work_dir);
	} else if (sync_ctx.tmpfs_rc) {
		rc = sync_ctx.tmpfs_rc;
		snprintf(err, errlen, "copy of production's tmpfs mounts (while frozen) failed: %s",
			 strerror(-rc));
	} else if (sync_ctx.rc) {
		rc = sync_ctx.rc;
		snprintf(err, errlen, "second filesystem copy (while frozen) failed: %s",
			 strerror(-rc));
	} else {
		rc = 0;
	}
out:
	if (opts)
		criu_local_free_opts(opts);
	if (img_fd >= 0)
		close(img_fd);
	if (work_fd >= 0)
		close(work_fd);
	return rc < 0 ? (rc == -1 ? -EIO : rc) : 0;
}
