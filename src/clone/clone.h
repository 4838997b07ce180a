/* clone.h — live clones of a running container (container.h: ours or another engine's): CRIU
 * checkpoint with leave-running, restore under a new name in a network namespace of its own with
 * production's service address, a copy of its file system, its own cgroups; snapshots of a
 * clone; clones onto another host through `parikshan agent`.
 *
 * A clone's state is a container directory of the state dir (container.h) with img/ (the CRIU
 * image) besides.  Functions report failures as -errno with a one-line reason in err; they leave
 * no debris (mounts, namespaces, veths, runc state) behind.
 */
#ifndef PK_CLONE_CLONE_H
#define PK_CLONE_CLONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/strbuf.h"
#include "container/container.h"

struct pk_clone_opts {
	const char *state_dir;
	const char *prod;
	const char *name;
	bool recreate;	    /* replace an existing clone of that name */
	uint64_t mem_limit; /* the clone's memory limit in bytes; 0: production's */
	double cpus;	    /* the clone's CPU quota in CPUs; 0: production's */
	struct pk_clone_redirect redirects[PK_CLONE_MAX_REDIRECTS];
	int nredirects;
	/* production's writable volumes: PK_VOLUME_COPY (the default, 0) or PK_VOLUME_OVERLAY */
	enum pk_volume_mode volumes;
	/* --share-volume: production's mounts (each named by its path in the container or on the
	 * host) the clone binds read-only from production's own directory or file */
	const char *share[PK_CTR_MOUNTS_MAX];
	int nshare;
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
	int volumes[PK_VOLUME_MODES]; /* production's writable volumes, by how the clone has them */
	uint64_t volume_bytes;	      /* the copied ones' size (the first copy) */
	char service_ip[64], mgmt_ip[64];
	uint64_t mem_limit; /* the clone's own cgroups: memory limit in bytes (0: none) */
	double cpus;	    /* and CPU quota in CPUs (0: none) */
};

/* Removes container or clone name of state_dir (pk_container_rm), a clone's snapshot recorders
 * first.  Returns 0 or -errno (err says why). */
int pk_clone_rm(const char *state_dir, const char *name, char *err, size_t errlen);

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
