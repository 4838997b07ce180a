/* clone.c — the live-clone algorithm (the original Algorithm 1):
 *   checks → first copy of the upper dir → clone netns → checkpoint with leave-running (CRIU
 *   freezes, dumps, and — in the post-dump hook, still frozen — the upper dir is synced again)
 *   → restore under the new name in the clone netns.
 */
#include "clone/clone_int.h"

#include <arpa/inet.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/args.h"
#include "common/clock.h"
#include "common/errbuf.h"
#include "common/proc.h"

#define CRIU_MIN_MAJOR 4
#define CRIU_MIN_MINOR 2
#define SPACE_MARGIN (64ll << 20)

int pk_criu_version(char *buf, size_t len)
{
	struct pk_strbuf out = { 0 };
	int rc = pk_proc_run((char *[]){ "criu", "--version", NULL }, PK_CMD_TIMEOUT_MS, &out);
	const char *v = strstr(pk_strbuf_str(&out), "Version:");

	if (rc == 0 && v)
		snprintf(buf, len, "%.*s", (int)strcspn(v + 9, " \n"), v + 9);
	pk_strbuf_release(&out);
	return rc == 0 && v ? 0 : -ENOENT;
}

/* Tells whether criu >= 4.2 is installed; fills err otherwise. */
static int criu_usable(char *err, size_t errlen)
{
	char v[32];
	int major = 0, minor = 0;

	if (pk_criu_version(v, sizeof(v)) < 0) {
		snprintf(err, errlen, "criu is not installed (run scripts/deps.sh)");
		return -ENOENT;
	}
	sscanf(v, "%d.%d", &major, &minor);
	if (major < CRIU_MIN_MAJOR || (major == CRIU_MIN_MAJOR && minor < CRIU_MIN_MINOR)) {
		snprintf(err, errlen, "criu %s is too old: 4.2 or newer is needed on this kernel",
			 v);
		return -ENOTSUP;
	}
	return 0;
}

/* Resident memory of pid in bytes (VmRSS), or 0 if unknown. */
static long long rss_bytes(int pid)
{
	char path[64], line[256];
	long long kb = 0;
	FILE *f;

	pk_path(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

static long long mem_available(void)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* Whether --share-volume names production's mount pm (by its path in the container or on the
 * host). */
static bool volume_shared(const struct pk_clone_opts *o, const struct pk_ctr_mount *pm)
{
	for (int j = 0; j < o->nshare; j++)
		if (!strcmp(o->share[j], pm->dest) || !strcmp(o->share[j], pm->source))
			return true;
	return false;
}

/* A clone writing production's data (a database's volume) is the worst outcome: each writable
 * mount must be one the clone can have apart (a directory, copied or overlaid) or one it was
 * told to share read-only (a directory or a file: never a socket or device).  Checks that, and that
 * every --share-volume names a mount.  0, or -ENOTSUP / -ENOENT / -EINVAL with err saying why. */
static int volumes_check(const struct pk_clone_opts *o, const struct pk_ctr *prod, char *err,
			 size_t errlen)
{
	for (int j = 0; j < o->nshare; j++) {
		int i = 0;

		while (i < prod->nmounts && strcmp(o->share[j], prod->mounts[i].dest) &&
		       strcmp(o->share[j], prod->mounts[i].source))
			i++;
		if (i == prod->nmounts) {
			snprintf(err, errlen,
				 "--share-volume %s: %s has no volume or bind mount there",
				 o->share[j], prod->ref);
			return -ENOENT;
		}
	}
	for (int i = 0; i < prod->nmounts; i++) {
		const struct pk_ctr_mount *pm = &prod->mounts[i];
		struct stat vs;

		if (!pm->rw || !strcmp(pm->kind, "tmpfs"))
			continue;
		if (stat(pm->source, &vs) < 0) {
			int e = errno;

			snprintf(err, errlen, "%s's %s at %s: %s: %s", prod->ref, pm->kind,
				 pm->dest, pm->source, strerror(e));
			return -e;
		}
		/* a socket or a device is written through even on a read-only mount: the clone
		 * would reach production's server or device */
		if (!S_ISDIR(vs.st_mode) && !S_ISREG(vs.st_mode)) {
			snprintf(err, errlen,
				 "%s has a writable %s at %s that is neither a directory nor a "
				 "file (a socket or device): the clone would reach production "
				 "through it, read-only or not",
				 prod->ref, pm->kind, pm->dest);
			return -ENOTSUP;
		}
		if (volume_shared(o, pm))
			continue;
		if (S_ISREG(vs.st_mode)) {
			snprintf(err, errlen,
				 "%s has a writable %s at %s that is not a directory: the clone "
				 "would write production's file (--share-volume %s:ro binds it "
				 "read-only)",
				 prod->ref, pm->kind, pm->dest, pm->dest);
			return -ENOTSUP;
		}
		if (o->volumes == PK_VOLUME_OVERLAY && strpbrk(pm->source, ",:\\")) {
			snprintf(err, errlen,
				 "%s's %s at %s: an overlay cannot have a ',' ':' or '\\' in its "
				 "path (%s): use --volumes copy",
				 prod->ref, pm->kind, pm->dest, pm->source);
			return -EINVAL;
		}
	}
	return 0;
}

int pk_clone_checks(const struct pk_clone_opts *o, struct pk_ctr *prod, bool local, char *err,
		    size_t errlen)
{
	char dir[PK_PATH_MAX];
	struct statvfs vfs;
	struct stat st;
	long long need, upper;
	int rc;

	if (!pk_name_valid(o->name)) {
		snprintf(err, errlen, "'%s' is not a valid name", o->name);
		return -EINVAL;
	}
	rc = pk_ctr_resolve(o->state_dir, o->prod, prod, err, errlen);
	if (rc)
		return rc;
	rc = volumes_check(o, prod, err, errlen);
	if (rc)
		return rc;
	pk_state_path(o->state_dir, o->name, NULL, dir, sizeof(dir));
	if (local && stat(dir, &st) == 0) {
		struct pk_meta old;

		if (!o->recreate) {
			snprintf(err, errlen,
				 "'%s' exists already (use --recreate to replace a clone)",
				 o->name);
			return -EEXIST;
		}
		if (pk_meta_load(dir, &old) == 0 && strcmp(old.kind, "clone") != 0) {
			snprintf(err, errlen, "'%s' is a container, not a clone: not replacing it",
				 o->name);
			return -EEXIST;
		}
		rc = pk_clone_rm(o->state_dir, o->name, err, errlen);
		if (rc)
			return rc;
	}
	rc = criu_usable(err, errlen);
	if (rc)
		return rc;
	need = rss_bytes(prod->pid);
	if (mem_available() >= 0 && mem_available() < need + SPACE_MARGIN) {
		snprintf(err, errlen,
			 "not enough memory: the clone needs about %lld MiB, %lld MiB free",
			 (need + SPACE_MARGIN) >> 20, mem_available() >> 20);
		return -ENOMEM;
	}
	upper = pk_fs_usage(prod->upper);
	need += (upper > 0 ? upper : 0) + SPACE_MARGIN;
	if (statvfs(o->state_dir, &vfs) == 0 && (long long)(vfs.f_bavail * vfs.f_frsize) < need) {
		snprintf(err, errlen,
			 "not enough disk in %s: image and filesystem copy need about %lld MiB, "
			 "%lld MiB free",
			 o->state_dir, need >> 20, (long long)(vfs.f_bavail * vfs.f_frsize) >> 20);
		return -ENOSPC;
	}
	return 0;
}

void pk_clone_limits(const struct pk_clone_opts *o, int prod_pid, struct pk_cg_limits *lim,
		     struct pk_clone_report *rep)
{
	pk_cgroup_limits_read(prod_pid, lim);
	pk_cgroup_limits_override(lim, o->mem_limit, o->cpus);
	rep->mem_limit = lim->mem;
	rep->cpus = pk_cgroup_limits_cpus(lim);
}

/* Replaces err with CRIU's first telling "Error" line from dir/log, when there is one: it says
 * more than runc's summary, and the log goes away with the half-made clone.  (CRIU's complaint
 * that it cannot raise its own RLIMIT_NOFILE, where root lacks CAP_SYS_RESOURCE, is harmless.) */
void pk_criu_error(const char *dir, const char *log, char *err, size_t errlen)
{
	char path[PK_PATH_MAX], line[1024];
	const char *base = strrchr(log, '/') ? strrchr(log, '/') + 1 : log;
	int step = (int)strcspn(base, "."); /* "dump", "restore": the step that failed */
	FILE *f;

	pk_path(path, sizeof(path), "%s/%s", dir, log);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *e = strstr(line, "Error (");

		if (e && !strstr(e, "for self")) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(err, errlen, "criu %.*s: %s", step, base, e);
			break;
		}
	}
	fclose(f);
}

int pk_clone_state_new(const char *state_dir, const char *name, const char *parent, const char *ip,
		       const char *lower, struct pk_meta *m, char *dir, size_t dirlen, char *err,
		       size_t errlen)
{
	int rc;

	/* The clone's identity: production's service IP, a management address of its own. */
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->kind, sizeof(m->kind), "clone");
	snprintf(m->parent, sizeof(m->parent), "%s", parent);
	snprintf(m->ip, sizeof(m->ip), "%s", ip);
	snprintf(m->lower, sizeof(m->lower), "%s", lower);
	m->prefix = 32;
	m->created = (long long)time(NULL);
	pk_meta_names(m);
	rc = pk_mgmt_alloc(state_dir, PK_HOST_ROUTES, m->mgmt, sizeof(m->mgmt));
	if (rc) {
		snprintf(err, errlen, "no free management address in 10.78.0.0/16");
		return rc;
	}
	return pk_state_create(state_dir, m, dir, dirlen, err, errlen);
}

/* Readies the clone's volumes v[n] for the restore: mounts each (a shared mount of its own) and
 * appends CRIU's mapping of it (the key the dump gave it, dump.c) to file conf.  0 or -errno. */
static int volumes_prepare(const struct pk_volume *v, int n, const char *conf)
{
	FILE *f;

	if (!n)
		return 0;
	/* production's volume was a slave of the engine's mount, and CRIU makes the clone's a
	 * slave of this one (pk_fs_umount takes them away) */
	for (int i = 0; i < n; i++)
		if (v[i].dest[0] && (mount(v[i].to, v[i].to, NULL, MS_BIND, NULL) < 0 ||
				     mount(NULL, v[i].to, NULL, MS_SHARED, NULL) < 0))
			return -errno;
	f = fopen(conf, "ae");
	if (!f)
		return -errno;
	for (int i = 0; i < n; i++)
		if (v[i].dest[0])
			fprintf(f, "external mnt[" PK_VOLUME_KEY "%d]:%s\n", i, v[i].to);
	return fclose(f) == 0 ? 0 : -EIO;
}

int pk_clone_restore(const char *dir, struct pk_meta *m, const char *prod_config,
		     const char *image_dir, const struct pk_cg_limits *lim,
		     const struct pk_restore_extra *x, char *err, size_t errlen)
{
	const struct pk_tmpfs_set *tmpfs = x ? x->tmpfs : NULL;
	char root[PK_PATH_MAX];
	int rc = pk_fs_mount(dir, m->lower, err, errlen);

	if (rc)
		return rc;
	/* shared, so that CRIU can make the restored root a slave of it as production's root was
	 * of its own (Docker's: master of the overlay dockerd mounted) */
	pk_path(root, sizeof(root), "%s/rootfs", dir);
	if (mount(NULL, root, NULL, MS_SHARED, NULL) < 0) {
		rc = -errno;
		snprintf(err, errlen, "make %s shared: %s", root, strerror(-rc));
		goto undo_mount;
	}
	rc = pk_runc_bundle_from(prod_config, dir, m, lim, x ? x->volumes : NULL,
				 x ? x->nvolumes : 0, err, errlen);
	if (rc)
		goto undo_mount;
	if (tmpfs || (x && x->nvolumes)) {
		char conf[PK_PATH_MAX];

		pk_path(conf, sizeof(conf), "%s/criu.conf", dir);
		rc = tmpfs ? pk_tmpfs_criu_conf(tmpfs, conf) : 0;
		if (!rc && x)
			rc = volumes_prepare(x->volumes, x->nvolumes, conf);
		if (rc) {
			snprintf(err, errlen, "write %s: %s", conf, strerror(-rc));
			goto undo_mount;
		}
	}
	rc = pk_runc_start(dir, m->name, image_dir, &m->keeper_pid, err, errlen);
	if (rc) { /* runc may have registered the half-restored container */
		pk_criu_error(dir, "restore-work/restore.log", err, errlen);
		goto undo_runc;
	}
	rc = pk_meta_save(dir, m);
	if (rc) {
		snprintf(err, errlen, "write %s/meta.json: %s", dir, strerror(-rc));
		goto undo_runc;
	}
	return 0;
undo_runc:
	pk_runc_destroy(m->name);
undo_mount:
	pk_fs_umount(dir);
	return rc;
}

int pk_clone_rm(const char *state_dir, const char *name, char *err, size_t errlen)
{
	char dir[PK_PATH_MAX];

	if (pk_name_valid(name) && pk_state_path(state_dir, name, NULL, dir, sizeof(dir)))
		pk_snapshot_stop_all(dir);
	return pk_container_rm(state_dir, name, err, errlen);
}

/* A read-only overlay of directory lower at mnt (pk_fs_overlay), with the reason the kernel
 * refuses one that would lie inside its own lower dir. */
static int overlay_ro(const char *lower, const char *mnt, char *err, size_t errlen)
{
	int rc = pk_fs_overlay(lower, NULL, mnt, err, errlen);

	if (rc == -ELOOP)
		snprintf(err, errlen,
			 "%s holds the clone's directory, where its read-only view would be "
			 "mounted (use --state-dir elsewhere)",
			 lower);
	return rc;
}

/* Makes the clone's volume c (its mode, dest and from set; index i) under dir: a copy or an
 * overlay at dir/volumes/<i> (the overlay's own dirs in dir/volumes-rw/<i>), or production's
 * directory read-only at dir/shared/<i> (a file: from its directory's).  0 or -errno (err). */
static int volume_make(struct pk_volume *c, int i, const char *dir, char *err, size_t errlen)
{
	char base[PK_PATH_MAX], rw[PK_PATH_MAX], parent[PK_CTR_MNT_PATH_MAX];
	const char *slash;
	struct stat st;
	int rc;

	pk_path(base, sizeof(base), "%s/%s", dir,
		c->mode == PK_VOLUME_SHARE ? "shared" : "volumes");
	if ((rc = pk_fs_mkdir(base, 0700, err, errlen)))
		return rc;
	if (pk_path(c->to, sizeof(c->to), "%s/%d", base, i) < 0)
		return pk_errbuf_set(-ENAMETOOLONG, err, errlen, "%s: path too long", base);
	switch (c->mode) {
	case PK_VOLUME_COPY:
		return pk_fs_copy(c->from, c->to, err, errlen);
	case PK_VOLUME_OVERLAY:
		pk_path(rw, sizeof(rw), "%s/volumes-rw", dir);
		if ((rc = pk_fs_mkdir(rw, 0700, err, errlen)))
			return rc;
		pk_path(rw, sizeof(rw), "%s/volumes-rw/%d", dir, i);
		return pk_fs_overlay(c->from, rw, c->to, err, errlen);
	default:
		break;
	}
	if (stat(c->from, &st) < 0)
		return pk_errbuf_set(-errno, err, errlen, "%s: %s", c->from, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return overlay_ro(c->from, c->to, err, errlen);
	/* a file: its directory read-only, the clone binds the file from there */
	slash = strrchr(c->from, '/');
	snprintf(parent, sizeof(parent), "%.*s",
		 slash && slash > c->from ? (int)(slash - c->from) : 1,
		 slash && slash > c->from ? c->from : "/");
	rc = overlay_ro(parent, c->to, err, errlen);
	if (!rc && pk_path(c->to + strlen(c->to), sizeof(c->to) - strlen(c->to), "/%s",
			   slash ? slash + 1 : c->from) < 0)
		rc = pk_errbuf_set(-ENAMETOOLONG, err, errlen, "%s: path too long", c->from);
	return rc;
}

/* The clone's own of production's writable volumes and bind mounts, as o says (copied by
 * default: while production runs here, again while it is frozen by the dump's hook): fills
 * v[] and *n, and the report.  0 or -errno (err says why). */
static int volumes_setup(const struct pk_clone_opts *o, const struct pk_ctr *prod, const char *dir,
			 struct pk_volume *v, int *n, struct pk_clone_report *rep, char *err,
			 size_t errlen)
{
	int rc;

	*n = 0;
	for (int i = 0; i < prod->nmounts; i++) {
		const struct pk_ctr_mount *pm = &prod->mounts[i];
		struct pk_volume *c = &v[*n];

		if (!pm->rw || !strcmp(pm->kind, "tmpfs"))
			continue;
		c->mode = volume_shared(o, pm) ? PK_VOLUME_SHARE : o->volumes;
		snprintf(c->dest, sizeof(c->dest), "%s", pm->dest);
		snprintf(c->from, sizeof(c->from), "%s", pm->source);
		rc = volume_make(c, *n, dir, err, errlen);
		if (rc) {
			char why[PK_ERR_MAX];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s of %s's %s at %s: %s",
				 pk_volume_mode_name(c->mode), prod->ref, pm->kind, pm->dest, why);
			return rc;
		}
		if (c->mode == PK_VOLUME_COPY) {
			long long used = pk_fs_usage(c->to);

			rep->volume_bytes += (uint64_t)(used > 0 ? used : 0);
		}
		rep->volumes[c->mode]++;
		++*n;
	}
	return 0;
}

int pk_clone_create(const struct pk_clone_opts *o, struct pk_clone_report *rep, char *err,
		    size_t errlen)
{
	char dir[PK_PATH_MAX], path[PK_PATH_MAX], work[PK_PATH_MAX], upper[PK_PATH_MAX];
	struct pk_meta m = { 0 };
	struct pk_ctr *prod = calloc(1, sizeof(*prod)); /* ~60 KiB: not on the stack */
	struct pk_tmpfs_set tmpfs;
	struct pk_volume *vols = calloc(PK_CTR_MOUNTS_MAX, sizeof(*vols));
	struct pk_cg_limits lim;
	double post_dump_ms = 0;
	int nvols = 0;
	uint64_t t0 = pk_now_ns(), t;
	int rc;
	long long used;

	memset(rep, 0, sizeof(*rep));
	if (!prod || !vols) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	rc = pk_clone_checks(o, prod, true, err, errlen);
	if (rc)
		goto out;
	pk_clone_limits(o, prod->pid, &lim, rep);
	rep->checks_ms = pk_ms_since(t0);

	rc = pk_clone_state_new(o->state_dir, o->name, o->prod, prod->ip, prod->lower, &m, dir,
				sizeof(dir), err, errlen);
	if (rc)
		goto out;
	/* traced like production: its bundle is production's, mounts and env included */
	snprintf(m.trace_sock, sizeof(m.trace_sock), "%s", prod->trace_sock);
	snprintf(rep->service_ip, sizeof(rep->service_ip), "%s", m.ip);
	snprintf(rep->mgmt_ip, sizeof(rep->mgmt_ip), "%s", m.mgmt);

	/* First copy of the filesystem, while production runs; another engine's layers pinned
	 * (it may remove them while the clone runs: `docker rm`, `docker rmi`). */
	t = pk_now_ns();
	if (prod->source->prefix[0]) {
		rc = pk_fs_pin_layers(prod->lower, dir, m.lower, sizeof(m.lower), err, errlen);
		if (!rc && (rc = pk_meta_save(dir, &m)))
			snprintf(err, errlen, "write %s/meta.json: %s", dir, strerror(-rc));
		if (rc)
			goto undo_dir;
	}
	pk_path(work, sizeof(work), "%s/upper", dir);
	rc = pk_fs_copy(prod->upper, work, err, errlen);
	if (!rc) /* production's tmpfs mounts, so that CRIU need not archive them while frozen */
		rc = pk_tmpfs_prepare(&tmpfs, prod->pid, dir, err, errlen);
	if (!rc)
		rc = volumes_setup(o, prod, dir, vols, &nvols, rep, err, errlen);
	if (rc)
		goto undo_dir;
	rep->sync1_ms = pk_ms_since(t);

	t = pk_now_ns();
	rc = pk_net_create_clone(&m, o->redirects, o->nredirects, err, errlen);
	if (rc)
		goto undo_dir;
	rep->netns_ms = pk_ms_since(t);

	/* Checkpoint with leave-running (libcriu, ptrace freeze); the post-dump notification
	 * re-syncs the upper dir while production is still frozen. */
	t = pk_now_ns();
	pk_path(path, sizeof(path), "%s/img", dir);
	pk_path(work, sizeof(work), "%s/dump-work", dir);
	if (mkdir(path, 0700) < 0 || mkdir(work, 0700) < 0)
		rc = -errno;
	if (rc) {
		snprintf(err, errlen, "prepare checkpoint: %s", strerror(-rc));
		goto undo_net;
	}
	pk_path(upper, sizeof(upper), "%s/upper", dir);
	rc = pk_criu_dump(prod, path, work,
			  &(struct pk_dump_target){ .clone_upper = upper,
						    .on_frozen = o->on_frozen,
						    .on_frozen_arg = o->on_frozen_arg,
						    .tmpfs = &tmpfs,
						    .volumes = vols,
						    .nvolumes = nvols,
						    .post_dump_ms = &post_dump_ms },
			  err, errlen);
	if (rc) {
		pk_criu_error(work, "dump.log", err, errlen);
		goto undo_net;
	}
	rep->checkpoint_ms = pk_ms_since(t);
	pk_criu_dump_report(work, post_dump_ms, rep); /* CRIU's statistics and log: work dir */
	used = pk_fs_usage(path);
	rep->image_bytes = (uint64_t)(used > 0 ? used : 0);

	/* Restore as the clone, in its own netns, on its own overlay, in its own cgroups. */
	t = pk_now_ns();
	rc = pk_clone_restore(
		dir, &m, prod->config, path, &lim,
		&(struct pk_restore_extra){ .tmpfs = &tmpfs, .volumes = vols, .nvolumes = nvols },
		err, errlen);
	if (rc)
		goto undo_net;
	rep->restore_ms = pk_ms_since(t);
	rep->total_ms = pk_ms_since(t0);
	goto out;
undo_net:
	pk_net_remove(&m);
	/* A failed restore can leave CRIU's iptables lock behind; the netns went with it. */
undo_dir: /* the tmpfs copies, overlaid and shared volumes, pinned layers: all below dir */
	pk_fs_umount(dir);
	pk_rm_tree(dir);
out:
	free(prod);
	free(vols);
	return rc;
}

void pk_clone_report_render(const struct pk_clone_report *r, bool json, struct pk_strbuf *out)
{
	const struct {
		const char *key, *label;
		double v;
	} steps[] = {
		{ "checks_ms", "safety checks", r->checks_ms },
		{ "sync1_ms", "filesystem copy", r->sync1_ms },
		{ "netns_ms", "clone network", r->netns_ms },
		{ "checkpoint_ms", "checkpoint (leave-running)", r->checkpoint_ms },
		{ "restore_ms", "restore as clone", r->restore_ms },
		{ "total_ms", "total", r->total_ms },
		{ "frozen_total_ms", "production frozen", r->frozen_total_ms },
		{ "freezing_ms", "  seize (freezing)", r->freezing_ms },
		{ "memdump_ms", "  memory dump", r->memdump_ms },
		{ "memwrite_ms", "    of which writing", r->memwrite_ms },
		{ "mounts_ms", "  mounts", r->mounts_ms },
		{ "namespaces_ms", "  namespaces", r->namespaces_ms },
		{ "post_dump_ms", "  post-dump copy (fs sync)", r->post_dump_ms },
		{ "frozen_other_ms", "  other (tasks, files, images)", r->frozen_other_ms },
		{ "frozen_ms", "  (CRIU frozen, after seize)", r->frozen_ms },
	};
	const size_t n = sizeof(steps) / sizeof(steps[0]);

	if (json) {
		cJSON *o = cJSON_CreateObject();
		char *text;

		for (size_t i = 0; i < n; i++)
			cJSON_AddNumberToObject(o, steps[i].key, steps[i].v);
		cJSON_AddNumberToObject(o, "image_bytes", (double)r->image_bytes);
		cJSON_AddNumberToObject(o, "pages_written", (double)r->pages_written);
		cJSON_AddNumberToObject(o, "volumes_copied", r->volumes[PK_VOLUME_COPY]);
		cJSON_AddNumberToObject(o, "volume_bytes", (double)r->volume_bytes);
		cJSON_AddNumberToObject(o, "volumes_overlaid", r->volumes[PK_VOLUME_OVERLAY]);
		cJSON_AddNumberToObject(o, "volumes_shared", r->volumes[PK_VOLUME_SHARE]);
		cJSON_AddStringToObject(o, "service_ip", r->service_ip);
		cJSON_AddStringToObject(o, "mgmt_ip", r->mgmt_ip);
		cJSON_AddNumberToObject(o, "mem_limit", (double)r->mem_limit);
		cJSON_AddNumberToObject(o, "cpus", r->cpus);
		text = cJSON_Print(o);
		cJSON_Delete(o);
		if (text)
			pk_strbuf_printf(out, "%s\n", text);
		cJSON_free(text);
		return;
	}
	pk_strbuf_printf(out, "%-30s %10s\n", "STEP", "MS");
	for (size_t i = 0; i < n; i++)
		pk_strbuf_printf(out, "%-30s %10.1f\n", steps[i].label, steps[i].v);
	pk_strbuf_printf(out, "image %.1f MiB, %llu pages written; service IP %s, management %s\n",
			 (double)r->image_bytes / (1 << 20), (unsigned long long)r->pages_written,
			 r->service_ip, r->mgmt_ip);
	if (r->volumes[PK_VOLUME_COPY])
		pk_strbuf_printf(out,
				 "production's writable volumes: %d copied (%.1f MiB), again while "
				 "frozen\n",
				 r->volumes[PK_VOLUME_COPY], (double)r->volume_bytes / (1 << 20));
	if (r->volumes[PK_VOLUME_OVERLAY])
		pk_strbuf_printf(out,
				 "production's writable volumes: %d overlaid (the clone writes its "
				 "own upper dirs; production's later writes show through)\n",
				 r->volumes[PK_VOLUME_OVERLAY]);
	if (r->volumes[PK_VOLUME_SHARE])
		pk_strbuf_printf(out, "production's mounts shared read-only (--share-volume): %d\n",
				 r->volumes[PK_VOLUME_SHARE]);
	pk_strbuf_printf(out, "own cgroups: memory limit ");
	if (r->mem_limit)
		pk_strbuf_printf(out, "%.1f MiB", (double)r->mem_limit / (1 << 20));
	else
		pk_strbuf_printf(out, "none");
	if (r->cpus > 0)
		pk_strbuf_printf(out, ", CPU quota %.2f CPUs\n", r->cpus);
	else
		pk_strbuf_printf(out, ", CPU quota none\n");
}

int pk_clone_redirect_parse(const char *s, struct pk_clone_redirect *r)
{
	const char *eq = strchr(s, '=');
	char hostport[128];
	struct in_addr ip;

	if (!eq || (size_t)(eq - s) >= sizeof(hostport) || pk_parse_port(eq + 1, &r->to_port) ||
	    r->to_port == 0)
		return -EINVAL;
	memcpy(hostport, s, (size_t)(eq - s));
	hostport[eq - s] = '\0';
	if (pk_parse_hostport(hostport, "", r->ip, sizeof(r->ip), &r->port) ||
	    inet_pton(AF_INET, r->ip, &ip) != 1)
		return -EINVAL;
	return 0;
}
