/* container_int.h — what the container module's files share, and the clone module with them:
 * the state of our containers and clones, their network, file systems, bundles and cgroups. */
#ifndef PK_CONTAINER_CONTAINER_INT_H
#define PK_CONTAINER_CONTAINER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "container/container.h"

#define PK_PATH_MAX 4096
#define PK_CMD_TIMEOUT_MS 30000

/* What the tool remembers of a container or clone (NAME/meta.json). */
struct pk_meta {
	char name[PK_NAME_MAX + 1];
	char kind[16];		     /* "container" or "clone" */
	char parent[PK_CTR_REF_MAX]; /* clones: production's reference ("web", "docker:web") */
	char ip[16];		     /* service IP */
	int prefix;
	char gw[16];   /* host end of the veth */
	char mgmt[16]; /* clones: the address the host reaches the clone at */
	char netns[64];
	char veth[16];
	char lower[PK_PATH_MAX];
	long long created;
	int keeper_pid;
	char trace_sock[108]; /* traced with --trace: logd's socket; "" when not traced */
};

/* Resource limits of a container's cgroups (cgroup v1); 0 / "" = none (inherited). */
struct pk_cg_limits {
	uint64_t mem;	     /* memory.limit_in_bytes */
	int64_t cpu_quota;   /* cpu.cfs_quota_us */
	uint64_t cpu_period; /* cpu.cfs_period_us */
	uint64_t cpu_shares;
	int64_t pids;  /* pids.max */
	char cpus[64]; /* cpuset.cpus */
	char mems[64]; /* cpuset.mems */
};

/* state.c */

/* Reads a whole small file (at most 16 MiB) into a NUL-terminated buffer the caller frees;
 * NULL with errno set. */
char *pk_read_file(const char *path);

/* Formats a path into buf; returns 0, or -ENAMETOOLONG when it did not fit (buf is then cut).
 * The CLI keeps state dirs short, so callers on known-short paths may ignore the result. */
int pk_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Tells whether name is a valid container name: [a-z0-9][a-z0-9_.-]*, at most 32 chars. */
bool pk_name_valid(const char *name);

/* Formats "state_dir/name[/file]" into buf; returns buf, or NULL when it does not fit. */
const char *pk_state_path(const char *state_dir, const char *name, const char *file, char *buf,
			  size_t len);

/* Fills the derived names of m (netns, veth) from m->name. */
void pk_meta_names(struct pk_meta *m);

/* Writes m to dir/meta.json atomically.  Returns 0 or -errno. */
int pk_meta_save(const char *dir, const struct pk_meta *m);

/* Creates state_dir (if needed) and the new directory of m->name in it (into dir), and writes
 * its meta.json; on failure nothing is left.  Returns 0 or -errno (err says why). */
int pk_state_create(const char *state_dir, const struct pk_meta *m, char *dir, size_t dirlen,
		    char *err, size_t errlen);

/* Reads dir/meta.json.  Returns 0, -ENOENT, or -EINVAL for a damaged file. */
int pk_meta_load(const char *dir, struct pk_meta *m);

/* Parses "A.B.C.D/N" into ip and prefix and picks the gateway (first host address, or the
 * last when the first is the service IP).  Returns 0 or -EINVAL. */
int pk_parse_cidr(const char *s, char *ip, size_t iplen, int *prefix, char *gw, size_t gwlen);

/* The host's IPv4 routing table, as pk_mgmt_alloc reads it. */
#define PK_HOST_ROUTES "/proc/net/route"

/* Picks the lowest management address 10.78.x.y not used by a clone under state_dir nor
 * routed as a /32 in routes (a /proc/net/route table, or NULL: none): a clone of another state
 * directory keeps its address, whose host route a second clone would otherwise take over.
 * Returns 0, or -ENOSPC when all are taken. */
int pk_mgmt_alloc(const char *state_dir, const char *routes, char *ip, size_t len);

/* Removes a directory tree (best effort); returns 0 or the first -errno. */
int pk_rm_tree(const char *path);

/* net.c — uses iproute2 and iptables */

/* Creates netns m->netns with eth0 = m->ip/m->prefix, joined to the host by veth m->veth
 * whose host end is m->gw; default route via the host.  Returns 0 or -errno. */
int pk_net_create_container(const struct pk_meta *m, char *err, size_t errlen);

/* Creates a clone's netns: eth0 carries the service IP (/32, no subnet route) and the
 * management address; its only route leads to the host end; traffic to the management
 * address is DNATed to the service IP.  The clone's connections to each backend of r (n of
 * them) go to the aggregator at the clone's gateway.  Returns 0 or -errno (nothing is left). */
int pk_net_create_clone(const struct pk_meta *m, const struct pk_clone_redirect *r, int n,
			char *err, size_t errlen);

/* Returns how many packets the firewall of clone m rejected or dropped (both sides). */
uint64_t pk_net_blocked(const struct pk_meta *m);

/* Removes the netns, the veth and the host's firewall rules of m (whatever of them exists). */
void pk_net_remove(const struct pk_meta *m);

/* Tells whether network namespace name exists. */
bool pk_netns_exists(const char *name);

/* fs.c */

/* Mounts an overlay on dir/rootfs: lower, dir/upper, dir/work.  Returns 0 or -errno. */
int pk_fs_mount(const char *dir, const char *lower, char *err, size_t errlen);

/* Unmounts whatever is mounted below dir: its rootfs, the tmpfs copies under dir/tmpfs (their
 * mount points removed), what a CRIU killed mid-restore left. */
void pk_fs_umount(const char *dir);

/* Copies directory src into dst, or file src to path dst (cp -a --reflink=auto).  Returns 0 or
 * -errno (err says why). */
int pk_fs_copy(const char *src, const char *dst, char *err, size_t errlen);

/* Pins overlay lower dirs lower (':'-separated) for a clone whose state is in dir: each one's
 * tree hard-linked (copied where that cannot be) into dir/layers/<i>, so that the clone keeps
 * its root when the engine removes production and its image.  Writes the copies' lower string
 * into out[outlen].  Returns 0 or -errno (err says why); dir/layers is the caller's to remove. */
int pk_fs_pin_layers(const char *lower, const char *dir, char *out, size_t outlen, char *err,
		     size_t errlen);

/* Makes directory dst (fd) hold what directory src (fd) holds on src's filesystem, in this
 * process (see fs.c for what is copied).  Returns 0 or -errno. */
int pk_fs_mirror_at(int src, int dst);

/* pk_fs_mirror_at() on paths.  Returns 0 or -errno (err says why). */
int pk_fs_mirror(const char *src, const char *dst, char *err, size_t errlen);

/* Returns the bytes used by files under path (du), or -errno. */
long long pk_fs_usage(const char *path);

/* Runs rsync -a [--delete] from src/ to dst/ (dst may be an rsync:// URL, then with
 * --password-file pwfile).  Returns 0 or -errno. */
int pk_fs_rsync(const char *src, const char *dst, const char *pwfile, bool del, char *err,
		size_t errlen);

/* runc.c */

/* Writes dir/config.json for m running o->argv with o's limits and tracing (runc spec, then
 * our changes).  Returns 0/-errno. */
int pk_runc_bundle(const char *dir, const struct pk_meta *m, const struct pk_run_opts *o, char *err,
		   size_t errlen);

#define PK_VOLUME_KEY "pk-vol-" /* CRIU's external key of production's volume i: "pk-vol-<i>" */

/* A writable volume (or bind mount) of production and what the clone mounts in its place. */
struct pk_volume {
	enum pk_volume_mode mode;
	char dest[PK_CTR_MNT_PATH_MAX]; /* where the container mounts it ("": a copy only) */
	char from[PK_CTR_MNT_PATH_MAX]; /* production's directory (shared: or file) on the host */
	char to[PK_PATH_MAX];		/* the clone's: STATE/NAME/volumes/<i> (copy, overlay),
					 * STATE/NAME/shared/<i>[/FILE] (share) */
};

/* Makes directory path with mode when it does not exist (its parent must); 0 or -errno with
 * err saying why. */
int pk_fs_mkdir(const char *path, mode_t mode, char *err, size_t errlen);

/* Mounts an overlay of directory lower at mnt (made if missing): writable with its upper and
 * work dirs in rw_dir (made), or read-only when rw_dir is NULL (no remount can make it
 * writable: the superblock is read-only).  0, or -errno with err saying why (-EINVAL: lower's
 * path holds a ',', ':' or '\\', which overlay options cannot carry). */
int pk_fs_overlay(const char *lower, const char *rw_dir, const char *mnt, char *err, size_t errlen);

/* Writes a clone's bundle into dir: production's OCI config (file src_config) with m's network
 * namespace, the cgroup limits lim, dir's CRIU config, and the bind mounts of the n volumes of
 * vols (NULL: none) from their copies.  Returns 0 or -errno. */
int pk_runc_bundle_from(const char *src_config, const char *dir, const struct pk_meta *m,
			const struct pk_cg_limits *lim, const struct pk_volume *vols, int n,
			char *err, size_t errlen);

/* Starts the container (or restores image_dir when not NULL) detached, with stdout/stderr on
 * pipes held by a keeper process that appends them to dir/stdout.log and dir/stderr.log.
 * Sets *keeper_pid.  Returns 0 or -errno. */
int pk_runc_start(const char *dir, const char *name, const char *image_dir, int *keeper_pid,
		  char *err, size_t errlen);

/* Reads runc's status of name ("running", "stopped", ...) and its init pid.  Returns 0, or
 * -ENOENT when runc does not know it. */
int pk_runc_state(const char *name, char *status, size_t len, int *pid);

/* Kills and deletes runc container name, also one whose restore died half-way (best effort). */
void pk_runc_destroy(const char *name);

/* trace.c — traced containers */

/* Makes OCI config spec trace its processes: host library lib bind-mounted read-only at
 * PK_CONTAINER_TRACE_LIB, the directory of logd's socket sock bind-mounted at its own path,
 * LD_PRELOAD, PARIKSHAN_TRACE_LIB and PARIKSHAN_TRACE_SOCK in the process's env.  Returns 0 or
 * -EINVAL. */
int pk_container_trace_spec(cJSON *spec, const char *lib, const char *sock);

#define PK_TRACE_SOCKS_MAX 4096

/* Fills inos (at most max) with the inodes of the connected, unnamed Unix stream sockets in
 * the network namespace of process pid (a container's init): the client ends, among them every
 * traced process's connection to logd, which a dump must declare external (CRIU then connects
 * the restored socket to its peer's name, logd's socket).  Returns how many, or -errno. */
int pk_container_trace_socks(int pid, unsigned long *inos, int max);

/* cgroup.c — a clone's own cgroups */

/* Reads the live limits of the cgroups process pid is in (what cannot be read stays 0). */
void pk_cgroup_limits_read(int pid, struct pk_cg_limits *l);

/* Overrides the memory limit (bytes, when mem > 0) and the CPU quota (cpus CPUs' worth of each
 * period, when cpus > 0). */
void pk_cgroup_limits_override(struct pk_cg_limits *l, uint64_t mem, double cpus);

/* Returns the CPUs' worth the quota of l allows, or 0 when it has none. */
double pk_cgroup_limits_cpus(const struct pk_cg_limits *l);

/* Returns l as a new JSON object (the caller owns it). */
cJSON *pk_cgroup_limits_json(const struct pk_cg_limits *l);

/* Fills l from a JSON object made by pk_cgroup_limits_json (anything malformed reads as none). */
void pk_cgroup_limits_from_json(const cJSON *o, struct pk_cg_limits *l);

/* Writes l into the linux.resources of OCI config spec.  Returns 0 or -EINVAL. */
int pk_cgroup_limits_apply(cJSON *spec, const struct pk_cg_limits *l);

/* tmpfs.c — production's tmpfs mounts copied before the freeze, external to CRIU */

#define PK_TMPFS_MAX 16
#define PK_TMPFS_KEY "pk-tmpfs-" /* CRIU's external key of copy i: "pk-tmpfs-<i>" */

/* One tmpfs mount of production. */
struct pk_tmpfs {
	char mnt[256];	/* mount point in production's mount namespace ("/dev") */
	char data[256]; /* its tmpfs options ("size=65536k,mode=755") */
	bool ro;	/* read-only superblock (a mask): never changes, never re-synced */
};

/* Production's tmpfs mounts and their copies dir/tmpfs/<i> (i = index in m). */
struct pk_tmpfs_set {
	int pid;	       /* production's init: the copies are read through its root */
	char dir[PK_PATH_MAX]; /* the clone's state dir */
	int n;
	struct pk_tmpfs m[PK_TMPFS_MAX];
};

/* Fills s->m and s->n with the tmpfs mounts of mountinfo (the text of /proc/PID/mountinfo)
 * that can be copied: whole tmpfs (root "/"), not the root, plain paths, each mounted once.
 * Returns 0 or -ENOMEM. */
int pk_tmpfs_list(const char *mountinfo, struct pk_tmpfs_set *s);

/* Lists pid's tmpfs mounts into s and mounts a copy of each on dir/tmpfs/<i> (same options,
 * private, read-only when production's is).  On failure nothing is left.  Returns 0/-errno. */
int pk_tmpfs_prepare(struct pk_tmpfs_set *s, int pid, const char *dir, char *err, size_t errlen);

/* Brings the writable copies of s up to date with production (call while it is frozen).
 * Returns 0 or the first -errno. */
int pk_tmpfs_resync(const struct pk_tmpfs_set *s);

/* Appends CRIU's restore mappings of the copies ("external mnt[KEY]:PATH") to file conf.
 * Returns 0 or -errno. */
int pk_tmpfs_criu_conf(const struct pk_tmpfs_set *s, const char *conf);

/* Unmounts and removes the copies under dir/tmpfs (whatever of them exists). */
void pk_tmpfs_umount(const char *dir);

/* source.c */

/* Fills c with our container or clone m, whose state is in dir and whose init is pid (source
 * left NULL).  Returns 0 or -ENAMETOOLONG. */
int pk_ctr_from_meta(const char *dir, const struct pk_meta *m, int pid, struct pk_ctr *c);

#endif
