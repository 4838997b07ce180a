/* proxy.h — the proxy core shared by the duplicator (dup) and the aggregator (agg).
 *
 * One epoll loop per worker thread (one per CPU by default), each with its own SO_REUSEPORT
 * listener and its own connections: nothing is shared on the data path.  For every accepted client
 * connection the core opens one production connection and one connection per debug target.  Client
 * bytes go to production at once and are appended to each debug connection's bounded buffer
 * (memory, then an optional spill file), written out to the target as it accepts them,
 * coalesced every flush interval.  Production never waits on a target (unless the
 * synchronous mode is asked for): a buffer that would overflow closes that debug
 * connection and marks it desynced.  Debug responses are read and discarded (counted).
 *
 * The aggregator (agg) is the same core turned around: the "client" is production's service
 * connecting to its backend, and the debug side is a second listener where the clone's
 * service connects.  What is duplicated is then the backend's responses: the k-th clone
 * connection is paired with the k-th production connection and gets its recorded responses;
 * the clone's requests are read and (optionally) compared with production's, never forwarded.
 *
 * The core knows nothing of protocols or containers.
 */
#ifndef PK_PROXY_PROXY_H
#define PK_PROXY_PROXY_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/sock.h"
#include "proto/proto.h"
#include "common/strbuf.h"
#include "capture/pcap_write.h"

#define PK_PROXY_MAX_TARGETS 8

enum pk_proxy_mode {
	PK_PROXY_ASYNC = 0, /* production never waits on a debug target */
	PK_PROXY_SYNC = 1, /* a client's next bytes wait until every in-sync target took the last */
};

struct pk_proxy_config {
	const char *role; /* "dup" or "agg": names log lines */
	struct pk_addr listen;
	struct pk_addr prod;
	struct pk_addr targets[PK_PROXY_MAX_TARGETS];
	int ntargets;
	enum pk_proxy_mode mode;
	uint64_t buffer_size;  /* per connection, per target (memory) */
	const char *spill_dir; /* NULL: no spill */
	uint64_t spill_max;    /* per connection, per target */
	uint64_t flush_ns;     /* coalescing interval toward targets; 0 = write at once */
	bool admin_enabled;
	struct pk_addr admin;
	uint64_t drain_ns; /* on SIGINT/SIGTERM, how long to finish queued production bytes */
	int threads;	   /* worker threads (event loops); 0 = one per online CPU */
	bool balance;	   /* dup: give each client connection to one target only, the one with the
			    * fewest debug connections open (ties in turn), instead of to every target;
			    * each clone then sees a subset of the traffic.  Not with agg (ignored). */
	enum pk_proto resync; /* re-attach out-of-sync clones at request boundaries (or NONE) */
	uint64_t resync_backoff_ns; /* wait after a desync before trying again */
	bool agg; /* aggregator: see above (one worker, so that pairing is ordered) */
	struct pk_addr debug_listen; /* agg: where clones connect */
	uint64_t pair_timeout_ns;    /* agg: how long a finished production connection waits */
	uint64_t close_grace_ns;     /* how long a clone's FIN waits for the clone to catch up */
	bool compare; /* compare the clone's output with production's (dup: responses; agg:
			 requests) */
	const struct pk_rec_opts *record; /* record production's streams as pcap (NULL: off) */
	double window_warn_s; /* log once when a target's debug window falls below (0: never) */
	bool compare_framed;  /* dup: compare per request (framed by compare_proto), not per
			       * connection byte by byte (compare) */
	enum pk_proto compare_proto;
	const regex_t *compare_ignore; /* masks (REG_EXTENDED), the caller's; see reqcmp.h */
	size_t ncompare_ignore;
	const char *compare_log; /* a JSON line per divergence appended there (NULL: none) */
	/* dup --adapt-pid: adaptive sampling of the targets with adapt[i] set.  Every gauge tick
	 * (100 ms) worker 0 takes the fullest connection buffer of each such target over every
	 * worker and steps its rate (adapt.h) between adapt_low and adapt_high (fractions of a
	 * connection's capacity); each change is logged and given to adapt_set (called on worker
	 * 0's thread: it must not block; 0 or -errno).  A failed set is tried again every tick
	 * until it succeeds; -EAGAIN (the process has no probes yet) is not logged, another
	 * failure once until the next change. */
	bool adapt[PK_PROXY_MAX_TARGETS];
	double adapt_high, adapt_low;
	int (*adapt_set)(void *arg, int target, uint32_t log2);
	void *adapt_arg;
};

struct pk_proxy;

/* The steps of pk_proxy_new(), with the text that names each in an error line.  The
 * RECORD_OPEN and RECORD_WRITE steps are about the file cfg->record->path; LISTEN,
 * DEBUG_LISTEN and ADMIN_LISTEN about cfg->listen, cfg->debug_listen and cfg->admin. */
#define PK_PROXY_STEPS(X)                                                                          \
	X(ALLOC, "allocate")                                                                       \
	X(LOOP, "create event loop")                                                               \
	X(RECORD_ALLOC, "allocate recorder")                                                       \
	X(RECORD_OPEN, "open record file")                                                         \
	X(RECORD_WRITE, "write record file")                                                       \
	X(RECORD_THREAD, "start recorder thread")                                                  \
	X(DEBUG_LISTEN, "debug listen")                                                            \
	X(LISTEN, "listen")                                                                        \
	X(WORKER, "start worker")                                                                  \
	X(ADMIN_LISTEN, "admin listen")                                                            \
	X(COMPARE_LOG, "open compare log")                                                         \
	X(NOFILE, "open-files limit (ulimit -n)")

enum pk_proxy_step {
#define PK_PROXY_STEP_ENUM(id, text) PK_PROXY_STEP_##id,
	PK_PROXY_STEPS(PK_PROXY_STEP_ENUM)
#undef PK_PROXY_STEP_ENUM
};

/* Returns the text of step ("admin listen"); a static string. */
const char *pk_proxy_step_name(enum pk_proxy_step step);

/* Creates a proxy: binds the listener (and admin endpoint) at once so that a port in use is
 * reported here.  NULL with errno set on failure; *step says which step failed.  Prints
 * nothing: the caller reports the failure. */
struct pk_proxy *pk_proxy_new(const struct pk_proxy_config *cfg, enum pk_proxy_step *step);

/* Returns the port the front door listens on (useful with port 0). */
int pk_proxy_listen_port(const struct pk_proxy *p);

/* Returns the port of the aggregator's debug side (0 when not an aggregator). */
int pk_proxy_debug_port(const struct pk_proxy *p);

/* Starts the worker threads and runs the admin endpoint on the calling thread until SIGINT or
 * SIGTERM; then every worker stops accepting, drains queued production bytes (up to
 * cfg->drain_ns), and is joined.  Returns 0, or -errno if a loop or thread failed.  Blocks
 * those signals while it runs (they are read through a signalfd). */
int pk_proxy_run(struct pk_proxy *p);

/* Closes every connection and frees the proxy. */
void pk_proxy_free(struct pk_proxy *p);

/* ---- per-target metrics: one table (target_metrics.def) for /metrics, /status.json and
 * `parikshan status` ---- */

/* The index of each row of target_metrics.def: a misspelt name does not compile. */
enum pk_target_metric_id {
#define PK_TARGET_METRIC(id, ...) PK_TM_##id,
#include "proxy/target_metrics.def"
#undef PK_TARGET_METRIC
	PK_TM_NUM
};

/* How a value reads. */
enum pk_tm_fmt {
	PK_TM_AS_COUNT,
	PK_TM_AS_BYTES, /* a table shows a binary unit: 1.5M */
	PK_TM_AS_SECONDS,
};

/* One row of target_metrics.def, as the readers of /metrics and /status.json see it. */
struct pk_target_metric {
	const char *name;
	const char *type, *help;	 /* NULL: the row continues the family of the row above */
	const char *label, *label_value; /* a second label, or NULL */
	const char *key, *header;	 /* NULL: /metrics only */
	enum pk_tm_fmt fmt;
};

/* The rows of target_metrics.def, indexed by enum pk_target_metric_id. */
extern const struct pk_target_metric pk_proxy_target_metrics[PK_TM_NUM];

/* Returns the state a target's values v (indexed by PK_TM_*) say, as `status` shows it:
 * "desynced" (a connection fell out of sync), "diverged" (--compare found a difference: in a
 * connection's bytes, or a request answered differently),
 * "lagging" (its oldest unsent byte is older than 1 s) or "in-sync"; a static string. */
const char *pk_proxy_target_state(const double v[PK_TM_NUM]);

/* ---- what a proxy reports: /metrics, and the status document GET /status.json ---- */

#define PK_STATUS_MAX_TARGETS 64 /* a status document's targets: at most this many */

/* A proxy's state at one moment: what pk_proxy_status_get() reads from a running proxy, and
 * pk_proxy_status_parse() from a status document. */
struct pk_proxy_status {
	char role[16]; /* "dup" or "agg" */
	char production[PK_ADDR_STRLEN];
	char mode[16]; /* "async" or "sync" */
	double accepted, active, prod_connect_failures;
	double capacity, open_files_limit, in_use, accept_paused;
	double client_to_prod, prod_to_client;
	bool recording; /* --record: the rec_* fields are set */
	double rec_packets, rec_bytes, rec_dropped_bytes, rec_files;
	double rec_failed; /* 1 when writing failed and recording stopped, else 0 */
	int ntargets;
	struct pk_proxy_status_target {
		char name[PK_ADDR_STRLEN];
		double v[PK_TM_NUM]; /* by PK_TM_*; a document has the rows with a key only */
	} targets[PK_STATUS_MAX_TARGETS];
};

/* Reads p's state now into st: every counter summed (or maxed) over the workers as
 * target_metrics.def says.  Any thread may call it while p runs: each counter is read
 * atomically (on its own: the values are of nearly, not exactly, one moment). */
void pk_proxy_status_get(struct pk_proxy *p, struct pk_proxy_status *st);

/* Appends the Prometheus text of all metrics to out. */
void pk_proxy_metrics(struct pk_proxy *p, struct pk_strbuf *out);

/* Appends st as the status document (JSON, what GET /status.json answers and `parikshan
 * status --json` prints) to out; every number as /metrics' text carries it:
 *   {"role", "production", "mode",
 *    "connections": {"accepted", "active", "prod_connect_failures", "capacity",
 *                    "open_files_limit", "in_use", "accept_paused"},
 *    "bytes": {"client_to_prod", "prod_to_client"},
 *    "recording": {"packets", "bytes", "dropped_bytes", "files", "failed": bool} (--record),
 *    "targets": [{"target": "HOST:PORT", one number per KEY of target_metrics.def (a time
 *                 without end, such as no predicted overflow in window_s, is null), "state"}]}
 * Returns 0, or -ENOMEM (out is then unchanged). */
int pk_proxy_status_write(const struct pk_proxy_status *st, struct pk_strbuf *out);

/* Reads a status document (text, NUL-terminated: bytes from another process) into st, each
 * number as /metrics' text would carry it.  Returns 0, or -EINVAL when it is not one: not one
 * JSON object, a field above missing or of another type (a target without one of the keys: a
 * misspelt one; null stands for INFINITY only in a SECONDS row), a string that does not fit
 * st or holds anything but printable ASCII, a number negative or not finite, more than
 * PK_STATUS_MAX_TARGETS targets.  Keys it does not know (and "state": it follows from the
 * numbers) are ignored. */
int pk_proxy_status_parse(const char *text, struct pk_proxy_status *st);

#endif
