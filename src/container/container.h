/* container.h — containers: the ones Parikshan runs itself (OCI bundles run by runc, a network
 * namespace per container joined to the host by a veth, an overlay root filesystem) and the
 * ones other engines run (Docker), seen the same way by the clone algorithm.
 *
 * Our own containers' state lives under one directory (default /var/lib/parikshan), one
 * subdirectory per container or clone: meta.json, config.json (the OCI bundle), upper/ work/
 * rootfs/ (the overlay), stdout.log stderr.log (kept by a small keeper process that owns the
 * pipes).  Functions report failures as -errno with a one-line reason in err; they leave no
 * debris (mounts, namespaces, veths, runc state) behind.
 *
 * Sources: a container is named by a reference, "NAME" (ours) or "SOURCE:NAME" ("docker:web");
 * each source is one entry of the table in source.c that resolves a reference to a struct
 * pk_ctr — its init process, root filesystem layers, service address, mounts and the OCI
 * config its runc runs it with — and lists what it has.  A third engine is one more file.
 */
#ifndef PK_CONTAINER_CONTAINER_H
#define PK_CONTAINER_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/strbuf.h"

#define PK_STATE_DIR "/var/lib/parikshan"
#define PK_STATE_DIR_ENV "PARIKSHAN_STATE_DIR" /* overrides the default */

/* Returns the state directory to use when none is given: $PARIKSHAN_STATE_DIR or the default. */
const char *pk_state_dir_default(void);
#define PK_NAME_MAX 32
#define PK_ERR_MAX 512
#define PK_CTR_REF_MAX 160 /* a container reference: "docker:" and a Docker name */

struct pk_run_opts {
	const char *state_dir;
	const char *name;
	const char *rootfs; /* lower dir of the overlay ("/" works) */
	const char *ip;	    /* "10.77.0.2/24" */
	uint64_t mem_limit; /* bytes, 0 = none */
	char **argv;	    /* the command, NULL-terminated */
	/* Tracing (`--trace`): the host's libparikshan_trace.so (absolute path; NULL: not traced)
	 * and logd's socket (absolute, checked by pk_container_trace_check). */
	const char *trace_lib;
	const char *trace_sock;
};

/* Where the processes of a traced container find the tracing library (a read-only bind mount
 * of the host's file). */
#define PK_CONTAINER_TRACE_LIB "/run/parikshan-trace/libparikshan_trace.so"

/* Checks that sock can be a traced container's logd socket: absolute, short enough for a Unix
 * socket address, in a directory of its own that can be bind-mounted at the same path inside
 * the container.  Returns 0, -EINVAL or -ENAMETOOLONG (err says why). */
int pk_container_trace_check(const char *sock, char *err, size_t errlen);

/* Creates and starts container o->name detached.  Returns 0 or -errno (err says why). */
int pk_container_run(const struct pk_run_opts *o, char *err, size_t errlen);

/* Stops and removes a container or clone and everything it made.  Returns 0 or -errno. */
int pk_container_rm(const char *state_dir, const char *name, char *err, size_t errlen);

/* Appends a table (or JSON) of every container and clone with its live status to out, then
 * the containers of the other sources that can be cloned (their engine unreachable: none). */
int pk_container_list(const char *state_dir, bool json, struct pk_strbuf *out);

/* Writes the kept stdout and stderr of a container to fd 1 and 2.  Returns 0 or -errno. */
int pk_container_logs(const char *state_dir, const char *name, char *err, size_t errlen);

/* What `container ls` shows of one container or clone. */
struct pk_container_info {
	char kind[16];		     /* "container" or "clone" */
	char parent[PK_CTR_REF_MAX]; /* clones: production's reference */
	char ip[16];		     /* service IP */
	char mgmt[16];		     /* clones: management address */
	char status[32];	     /* runc's status, or "missing" */
	int pid;
	char trace_sock[108]; /* traced (`--trace`): logd's socket; "" when not traced */
};

/* Fills info for container name.  Returns 0, -ENOENT or -EINVAL (damaged state). */
int pk_container_info(const char *state_dir, const char *name, struct pk_container_info *info);

/* Writes into dir the directory of pid's cgroup for controller ctl ("cpu", "memory", ...; cgroup
 * v1: /sys/fs/cgroup/CTL/PATH; "" names the unified hierarchy of cgroup v2: /sys/fs/cgroup/PATH).
 * Returns 0, -ENOENT (no such controller), -ENAMETOOLONG, or -errno when /proc/PID/cgroup cannot be
 * read. */
int pk_cgroup_dir(int pid, const char *ctl, char *dir, size_t len);

/* Whether process pid runs inside a clone of state_dir: its network namespace is a clone's
 * (each clone has its own).  0 with the clone's name in name[len], -ENOENT when it is in no
 * clone (production, or a plain process), or -errno when pid's namespace cannot be read. */
int pk_clone_of_pid(const char *state_dir, pid_t pid, char *name, size_t len);

#define PK_CLONE_MAX_REDIRECTS 8

/* One backend of production, as a clone's network must show it: its TCP connections to ip:port
 * are sent to the aggregator's debug side at the clone's gateway (PK_CLONE_GATEWAY:to_port); any
 * other packet to ip is refused, so the clone never reaches the real backend. */
struct pk_clone_redirect {
	char ip[64];
	uint16_t port;
	uint16_t to_port;
};

/* Every clone's gateway: the host end of its veth (an aggregator's debug side listens here). */
#define PK_CLONE_GATEWAY "10.78.0.1"

/* ---- sources (source.c): a running container, whoever runs it ---- */

#define PK_CTR_PATH_MAX 4096
#define PK_CTR_MOUNTS_MAX 16
#define PK_CTR_MNT_PATH_MAX 1024

/* A mount of a container other than its root filesystem and the engine's own small files. */
struct pk_ctr_mount {
	char kind[16];			  /* "volume", "bind", "tmpfs" */
	char name[128];			  /* a volume's name; "" otherwise */
	char source[PK_CTR_MNT_PATH_MAX]; /* on the host */
	char dest[PK_CTR_MNT_PATH_MAX];	  /* in the container */
	bool rw;
};

/* How a clone gets one of production's writable volumes (or bound directories): a copy of its
 * own (copied while production runs, again while it is frozen), an overlay on production's
 * directory (nothing copied: the clone's writes land in an upper dir of its own, production's
 * later writes show through the files the clone has not written), or production's directory
 * itself, read-only (`--share-volume PATH:ro`: a read-only overlay, which no remount makes
 * writable).  The names, in this order, are pk_volume_mode_name's. */
enum pk_volume_mode { PK_VOLUME_COPY, PK_VOLUME_OVERLAY, PK_VOLUME_SHARE, PK_VOLUME_MODES };

/* "copy", "overlay", "share" (NULL out of range). */
const char *pk_volume_mode_name(enum pk_volume_mode m);

/* The mode named name among the modes a user may choose for every volume (copy, overlay);
 * -EINVAL for any other. */
int pk_volume_mode_parse(const char *name);

struct pk_ctr_source;

/* A running container as the clone algorithm sees it. */
struct pk_ctr {
	const struct pk_ctr_source *source;
	char ref[PK_CTR_REF_MAX];  /* as named: "web", "docker:web" */
	char name[PK_CTR_REF_MAX]; /* the source's name for it ("web") */
	char id[72];		   /* the source's id (ours: the name) */
	int pid;		   /* its init, in the host's pid namespace */
	char ip[16];		   /* the service address (IPv4) */
	int prefix;
	char root[PK_CTR_PATH_MAX];   /* its root filesystem as mounted on the host */
	char lower[PK_CTR_PATH_MAX];  /* overlay lower dirs, ':'-separated, upper-most first */
	char upper[PK_CTR_PATH_MAX];  /* overlay upper dir: what a clone copies */
	char config[PK_CTR_PATH_MAX]; /* the OCI config.json runc runs it with */
	char trace_sock[108];	      /* traced (ours, `--trace`): logd's socket; "" */
	struct pk_ctr_mount mounts[PK_CTR_MOUNTS_MAX];
	int nmounts;
};

/* A running container of another engine, as `container ls` shows it. */
struct pk_ctr_brief {
	char ref[PK_CTR_REF_MAX]; /* "docker:web" */
	char image[512];
	char status[16];
	char ip[16]; /* "" when it has no IPv4 address */
};

/* One source of containers: an entry of the table in source.c. */
struct pk_ctr_source {
	const char *prefix; /* "docker" in "docker:NAME"; "" for ours (a plain NAME) */
	const char *label;  /* for messages and `container ls`: "parikshan", "docker" */
	/* Fills c for the running container name of this source.  0, or -ENOENT (no such
	 * container), -ESRCH (not running), -ENOTSUP (a setup we cannot clone), -ECONNREFUSED
	 * (the engine is unreachable), -errno; err says why in one line. */
	int (*resolve)(const char *state_dir, const char *name, struct pk_ctr *c, char *err,
		       size_t errlen);
	/* Its running containers into *out (malloc'ed, the caller frees it) and *n; 0 or -errno
	 * (engine unreachable).  NULL for ours (the state directory lists them). */
	int (*list)(struct pk_ctr_brief **out, size_t *n);
};

/* Resolves reference ref ("NAME" or "SOURCE:NAME") to the running container c through its
 * source.  Returns what the source's resolve returns, or -EINVAL for an unknown source. */
int pk_ctr_resolve(const char *state_dir, const char *ref, struct pk_ctr *c, char *err,
		   size_t errlen);

/* The running containers of the other engines that answer, into *out (malloc'ed, the caller
 * frees it; NULL when none) and *n.  An engine that cannot be reached adds none. */
void pk_ctr_list_foreign(struct pk_ctr_brief **out, size_t *n);

/* Tells whether ref names a container of another engine than ours ("docker:web"). */
bool pk_ctr_ref_foreign(const char *ref);

#endif
