/* clone_int.h — what the clone module's files share privately. */
#ifndef PK_CLONE_CLONE_INT_H
#define PK_CLONE_CLONE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "clone/clone.h"
#include "container/container_int.h"

/* dump.c */

/* CRIU's log level for a dump (3: info, with timestamps; see dump.c for why not 4). */
#define PK_CRIU_DUMP_LOG_LEVEL 3

/* Where a dump sends what it does not keep locally. */
struct pk_dump_target {
	const char *clone_upper;  /* local copy of the upper dir, or NULL */
	const char *rsync_upper;  /* rsync:// URL of the remote upper dir, or NULL */
	const char *rsync_pwfile; /* rsync --password-file for it */
	const char *page_server;  /* CRIU page server address (memory pages go there), or NULL */
	int page_server_port;
	void (*on_frozen)(void *arg); /* called in the post-dump hook, still frozen; or NULL */
	void *on_frozen_arg;
	/* tmpfs mounts copied beforehand: declared external, re-synced while frozen; or NULL
	 * (CRIU archives them) */
	const struct pk_tmpfs_set *tmpfs;
	/* production's writable volumes, the clone's made beforehand: the copies re-synced while
	 * frozen, every one external to the dump; or NULL */
	const struct pk_volume *volumes;
	int nvolumes;
	double *post_dump_ms; /* out: time spent in the post-dump hook (production frozen) */
};

/* Checkpoints production (prod: its init, root, upper dir; its network namespace stays
 * external) into image_dir with leave-running, through libcriu with ptrace freezing, in the form
 * `runc restore` takes; while production is still frozen, copies what changed in its upper dir
 * to t's destination and calls t->on_frozen.  CRIU's log and statistics go to work_dir.  Returns
 * 0 or -errno. */
int pk_criu_dump(const struct pk_ctr *prod, const char *image_dir, const char *work_dir,
		 const struct pk_dump_target *t, char *err, size_t errlen);

/* clone.c */

/* Fills m as a new clone name of container parent (service IP ip, overlay lower dir lower),
 * with a free management address, and creates its state directory (into dir) with its
 * meta.json.  Returns 0 or -errno (err says why); on failure nothing is left. */
int pk_clone_state_new(const char *state_dir, const char *name, const char *parent, const char *ip,
		       const char *lower, struct pk_meta *m, char *dir, size_t dirlen, char *err,
		       size_t errlen);

struct pk_tmpfs_set;

/* What a restore adds to production's OCI config besides the clone's network and limits. */
struct pk_restore_extra {
	const struct pk_tmpfs_set *tmpfs; /* tmpfs copies as CRIU external mounts; NULL */
	const struct pk_volume *volumes;  /* the clone's volumes (clone.c); NULL */
	int nvolumes;
};

/* Restores image_dir as clone m, whose state is in dir and whose network exists: mounts its
 * overlay, writes its bundle from production's OCI config prod_config with limits lim (runc
 * puts the clone in cgroups of its own with them) and x's copies (NULL: none), runs `runc
 * restore`, saves meta.json.  Returns 0 or -errno (err says why); on failure the runc state and
 * mounts are undone, the directory and network are the caller's. */
int pk_clone_restore(const char *dir, struct pk_meta *m, const char *prod_config,
		     const char *image_dir, const struct pk_cg_limits *lim,
		     const struct pk_restore_extra *x, char *err, size_t errlen);

/* Replaces err with "criu <step>: " and CRIU's first telling "Error" line of dir/log, when there
 * is one (step: the log's name, "dump" or "restore"). */
void pk_criu_error(const char *dir, const char *log, char *err, size_t errlen);

/* The clone safety checks (the clone's name valid and usable, production resolved and running,
 * CRIU present, memory and disk): fills prod.  Returns 0 or -errno. */
int pk_clone_checks(const struct pk_clone_opts *o, struct pk_ctr *prod, bool local, char *err,
		    size_t errlen);

/* Fills lim with production's live limits (init pid prod_pid) overridden by o's --mem/--cpus,
 * and notes the result in rep. */
void pk_clone_limits(const struct pk_clone_opts *o, int prod_pid, struct pk_cg_limits *lim,
		     struct pk_clone_report *rep);

/* wire.c — the agent protocol */

#define PK_TOKEN_MAX 256

/* Sends msg as one line.  Returns 0 or -errno. */
int pk_wire_send(int fd, cJSON *msg);

/* Receives one line as JSON within timeout_ms; NULL with *err = -ETIMEDOUT, -ECONNRESET (peer
 * closed), -EPROTO (not JSON) or another -errno.  The caller frees the result. */
cJSON *pk_wire_recv(int fd, int timeout_ms, int *err);

/* Reads one received line (len bytes at line, without its newline) as a message: exactly one
 * JSON object.  NULL with *err = -EPROTO for anything else (NUL bytes, not JSON, trailing
 * text, an array).  No I/O; the caller frees the result. */
cJSON *pk_wire_parse(const char *line, size_t len, int *err);

/* Writes a random 128-bit nonce as hex.  Returns 0 or -EIO. */
int pk_wire_nonce(char *hex, size_t len);

/* Writes hex(HMAC-SHA256(token, nonce)).  Returns 0 or -EIO. */
int pk_wire_mac(const char *token, const char *nonce, char *hex, size_t len);

/* Compares two strings in time independent of where they differ. */
bool pk_wire_equal(const char *a, const char *b);

/* Tells whether msg answers the challenge nonce with "mac": hex(HMAC-SHA256(token, nonce)). */
bool pk_wire_authentic(const cJSON *msg, const char *token, const char *nonce);

enum pk_wire_op {
	PK_WIRE_PREPARE = 1, /* make the clone's state, namespace and bundle; start the engines */
	PK_WIRE_RESTORE,     /* the image has arrived: restore the clone */
};

/* A request of an authenticated client to the agent; the strings point into the message. */
struct pk_wire_req {
	enum pk_wire_op op;
	const char *name, *parent; /* prepare: valid names (parent "" when not given) */
	const char *ip;		   /* prepare: an IPv4 address */
	const char *lower;	   /* prepare: an absolute path shorter than PK_PATH_MAX */
	const char *config;	   /* prepare: production's OCI config, a JSON object */
	const cJSON *limits;	   /* prepare: the clone's cgroup limits (an object), or NULL */
};

/* Reads request msg of an authenticated session, without side effects: "prepare" (only while
 * no clone is prepared) with its fields checked as pk_wire_req says, or "restore" (only once
 * one is).  Returns 0, or -EPROTO with the reason in err; req lives as long as msg. */
int pk_wire_request(const cJSON *msg, bool prepared, struct pk_wire_req *req, char *err,
		    size_t errlen);

/* Reads the token (first line, >= 16 chars) of path.  Returns 0 or -errno. */
int pk_token_load(const char *path, char *token, size_t len, char *err, size_t errlen);

/* Returns the string member key of msg, or NULL. */
const char *pk_wire_str(const cJSON *msg, const char *key);

/* Returns msg[key] when it is an integer TCP port (1..65535), else -EPROTO. */
int pk_wire_port(const cJSON *msg, const char *key);

/* stats.c */

/* Fills the dump timings of r from dir/stats-dump (CRIU's statistics, written into its work
 * dir).  Returns 0 or -errno. */
int pk_criu_dump_stats(const char *dir, struct pk_clone_report *r);

/* Fills r->mounts_ms and r->namespaces_ms from the timestamps of CRIU's dump log (read from
 * log, log level 4).  Returns 0, or -ENOENT when a phase's markers are missing. */
int pk_criu_dump_log_times(FILE *log, struct pk_clone_report *r);

/* Fills the frozen-time breakdown of r from dir (stats-dump and dump.log, CRIU's work dir) and
 * post_dump_ms (time measured in our post-dump hook); frozen_other_ms is what is left of the
 * frozen total.  Returns 0 or -errno (the fields read so far stay filled). */
int pk_criu_dump_report(const char *dir, double post_dump_ms, struct pk_clone_report *r);

#endif
