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
	uint64_t drain_ns;    /* on SIGINT/SIGTERM, how long to finish queued production bytes */
	int threads;	      /* worker threads (event loops); 0 = one per online CPU */
	enum pk_proto resync; /* re-attach out-of-sync clones at request boundaries (or NONE) */
	uint64_t resync_backoff_ns; /* wait after a desync before trying again */
	bool agg; /* aggregator: see above (one worker, so that pairing is ordered) */
	struct pk_addr debug_listen; /* agg: where clones connect */
	uint64_t pair_timeout_ns;    /* agg: how long a finished production connection waits */
	uint64_t close_grace_ns;     /* how long a clone's FIN waits for the clone to catch up */
	bool compare; /* compare the clone's output with production's (dup: responses; agg:
			 requests) */
	const struct pk_rec_opts *record; /* record production's streams as pcap (NULL: off) */
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

/* Appends the Prometheus text of all metrics to out. */
void pk_proxy_metrics(struct pk_proxy *p, struct pk_strbuf *out);

#endif
