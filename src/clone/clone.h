/* clone.h — containers and live clones: OCI bundles run by runc, a network namespace per
 * container joined to the host by a veth, an overlay root filesystem, CRIU checkpoint with
 * leave-running and restore under a new name.
 *
 * State lives under one directory (default /var/lib/parikshan), one subdirectory per
 * container or clone:  meta.json, config.json (the OCI bundle), upper/ work/ rootfs/ (the
 * overlay), stdout.log stderr.log (kept by a small keeper process that owns the pipes),
 * and for clones img/ (the CRIU image).  Functions report failures as -errno with a one-line
 * reason in err; they leave no debris (mounts, namespaces, veths, runc state) behind.
 */
#ifndef PK_CLONE_CLONE_H
#define PK_CLONE_CLONE_H

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

/* Appends a table (or JSON) of every container and clone with its live status to out. */
int pk_container_list(const char *state_dir, bool json, struct pk_strbuf *out);

/* Writes the kept stdout and stderr of a container to fd 1 and 2.  Returns 0 or -errno. */
int pk_container_logs(const char *state_dir, const char *name, char *err, size_t errlen);

/* What `container ls` shows of one container or clone. */
struct pk_container_info {
	char kind[16]; /* "container" or "clone" */
	char parent[PK_NAME_MAX + 1];
	char ip[16];	 /* service IP */
	char mgmt[16];	 /* clones: management address */
	char status[32]; /* runc's status, or "missing" */
	int pid;
	char trace_sock[108]; /* traced (`--trace`): logd's socket; "" when not traced */
};

/* Fills info for container name.  Returns 0, -ENOENT or -EINVAL (damaged state). */
int pk_container_info(const char *state_dir, const char *name, struct pk_container_info *info);

/* Whether process pid runs inside a clone of state_dir: its network namespace is a clone's
 * (each clone has its own).  0 with the clone's name in name[len], -ENOENT when it is in no
 * clone (production, or a plain process), or -errno when pid's namespace cannot be read. */
int pk_clone_of_pid(const char *state_dir, pid_t pid, char *name, size_t len);

/* Writes into dir the directory of pid's cgroup for controller ctl ("cpu", "memory", ...; cgroup
 * v1: /sys/fs/cgroup/CTL/PATH; "" names the unified hierarchy of cgroup v2: /sys/fs/cgroup/PATH).
 * Returns 0, -ENOENT (no such controller), -ENAMETOOLONG, or -errno when /proc/PID/cgroup cannot be
 * read. */
int pk_cgroup_dir(int pid, const char *ctl, char *dir, size_t len);

#define PK_CLONE_MAX_REDIRECTS 8

/* One backend of production, as the clone must see it: its TCP connections to ip:port are sent
 * to the aggregator's debug side at the clone's gateway (PK_CLONE_GATEWAY:to_port); any other
 * packet to ip is refused, so the clone never reaches the real backend. */
struct pk_clone_redirect {
	char ip[64];
	uint16_t port;
	uint16_t to_port;
};

/* Every clone's gateway: the host end of its veth (an aggregator's debug side listens here). */
#define PK_CLONE_GATEWAY "10.78.0.1"

struct pk_clone_opts {
	const char *state_dir;
	const char *prod;
	const char *name;
	bool recreate;	    /* replace an existing clone of that name */
	uint64_t mem_limit; /* the clone's memory limit in bytes; 0: production's */
	double cpus;	    /* the clone's CPU quota in CPUs; 0: production's */
	struct pk_clone_redirect redirects[PK_CLONE_MAX_REDIRECTS];
	int nredirects;
	/* Called once while production is frozen, after its memory was dumped (e.g. to reset an
	 * aggregator's pairing: the clone and production open their next connections together);
	 * NULL: none.  Must be quick: production waits. */
	void (*on_frozen)(void *arg);
	void *on_frozen_arg;
};

/* Parses "IP:PORT=TO_PORT" (the --agg flag of clone and up) into r.  Returns 0 or -EINVAL. */
int pk_clone_redirect_parse(const char *s, struct pk_clone_redirect *r);

/* Timings of one clone, in milliseconds.  Where production's frozen time went:
 * frozen_total_ms = freezing_ms (seize, CRIU's stats) + frozen_ms (CRIU's stats), of which
 * memdump_ms (CRIU's stats; memwrite_ms is part of it), mounts_ms and namespaces_ms (CRIU's dump
 * log timestamps), post_dump_ms (our post-dump hook: filesystem and tmpfs re-sync, measured),
 * frozen_other_ms (the rest: collecting tasks and files, cgroups, images). */
struct pk_clone_report {
	double checks_ms, sync1_ms, netns_ms, checkpoint_ms, restore_ms, total_ms;
	double frozen_ms, freezing_ms, memdump_ms, memwrite_ms;
	double frozen_total_ms, mounts_ms, namespaces_ms, post_dump_ms, frozen_other_ms;
	uint64_t image_bytes, pages_written;
	char service_ip[64], mgmt_ip[64];
	uint64_t mem_limit; /* the clone's own cgroups: memory limit in bytes (0: none) */
	double cpus;	    /* and CPU quota in CPUs (0: none) */
};

/* Live-clones container o->prod into o->name: production keeps running; the clone has the
 * same memory, the same service IP in its own namespace, reachable from the host at its
 * management address, and its own copy of the filesystem.  Returns 0 or -errno. */
int pk_clone_create(const struct pk_clone_opts *o, struct pk_clone_report *rep, char *err,
		    size_t errlen);

struct pk_agent_opts {
	const char *listen_host;
	uint16_t port;
	const char *token_file;
	const char *state_dir;
	const char
		*criu_version; /* this host's CRIU, told to clients for the compatibility check */
};

/* Serves external clones (one client at a time) until killed.  Returns -errno when it cannot
 * start (bad token file, address in use). */
int pk_agent_run(const struct pk_agent_opts *o, char *err, size_t errlen);

/* Returns this host's CRIU version ("4.2.1") into buf, or -ENOENT when CRIU is missing. */
int pk_criu_version(char *buf, size_t len);

struct pk_remote_opts {
	const char *host; /* the agent */
	uint16_t port;
	const char *token_file;
};

/* Like pk_clone_create(), onto the host where `parikshan agent` listens: memory pages through
 * CRIU's page server, files through rsync, restore by the agent.  Returns 0 or -errno. */
int pk_clone_remote(const struct pk_clone_opts *o, const struct pk_remote_opts *r,
		    struct pk_clone_report *rep, char *err, size_t errlen);

/* Appends the report as a table (or JSON) to out. */
void pk_clone_report_render(const struct pk_clone_report *rep, bool json, struct pk_strbuf *out);

/* snapshot.c — snapshots of a clone (`parikshan snapshot`, `rewind`) */

struct pk_snapshot_info {
	char tag[PK_NAME_MAX + 1];
	long long created;    /* seconds since the epoch */
	uint16_t port;	      /* the service port whose input is recorded */
	int recorder_pid;     /* the recorder's pid (when it was started) */
	bool recording;	      /* the recorder still runs */
	uint64_t input_bytes; /* size of the recorded input (pcap) */
	uint64_t dropped;     /* packets the capture lost (known once the recorder stopped) */
	char rec_error[256];  /* the recorder's error, "" when none */
	double ms;	      /* pk_snapshot_take: how long it took */
};

/* Takes snapshot tag (NULL: the next free s1, s2, ...) of running clone name: a CRIU checkpoint
 * with leave-running, copies of its upper dir and tmpfs mounts, and from then on a recorder
 * (a process of its own) capturing the TCP input of port (0: the one port it listens on) in
 * the clone's network namespace.  Refuses production, a clone with a traced process, a tag in
 * use.  Fills out.  0 or -errno (err says why); on failure nothing is left. */
int pk_snapshot_take(const char *state_dir, const char *name, const char *tag, uint16_t port,
		     struct pk_snapshot_info *out, char *err, size_t errlen);

/* The snapshots of clone name (*out: a new array of *n; free() it).  0 or -errno. */
int pk_snapshot_list(const char *state_dir, const char *name, struct pk_snapshot_info **out,
		     size_t *n, char *err, size_t errlen);

/* Rewinds clone name to snapshot tag: stops tag's recorder, stops the clone, puts its upper
 * dir back to the snapshot's and restores it from the snapshot's image in its own network
 * (same name, addresses, limits).  Production is not touched; the snapshot stays usable.
 * Fills info and, when input is not NULL, the path of the input recorded since the snapshot.
 * 0 or -errno (err says why). */
int pk_snapshot_rewind(const char *state_dir, const char *name, const char *tag,
		       struct pk_snapshot_info *info, char *input, size_t inlen, char *err,
		       size_t errlen);

/* Stops the recorders of the snapshots of the clone whose state is in dir (its removal). */
void pk_snapshot_stop_all(const char *dir);

#endif
