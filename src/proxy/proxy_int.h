/* proxy_int.h — what the proxy core's files share privately.
 *
 *   client ──► session ──► production          (synchronous, back-pressured)
 *                 │
 *                 ├──► dconn[0] ──► target 0   (bounded sbuf, coalesced flush)
 *                 └──► dconn[1] ──► target 1
 *
 * A dconn outlives its session: when the client goes away its remaining buffered bytes
 * are still delivered, then it shuts down its write side and waits for the target's EOF.
 * The shutdown (the client's FIN) waits, besides, until the clone has sent as many bytes as
 * production's side did on that connection (dup: answers; agg: requests), or until the
 * close grace runs out: a clone that lags must not see its client vanish mid-request.
 * Neither sessions nor dconns are freed inside their own callbacks: they are marked and
 * moved to a reap list, freed in the before-sleep hook.
 */
#ifndef PK_PROXY_PROXY_INT_H
#define PK_PROXY_PROXY_INT_H

#include <pthread.h>

#include "common/bug.h"
#include "common/http.h"
#include "common/list.h"
#include "common/loop.h"
#include "common/ring.h"
#include "common/sbuf.h"
#include "common/stat.h" /* statistics: written by the owning worker, read by the admin thread */
#include "diverge/reqcmp.h"
#include "diverge/streamcmp.h"
#include "proxy/adapt.h"
#include "proxy/proxy.h"
#include "window/window.h"

#define PK_SCRATCH_SIZE (64 * 1024)
#define PK_FLUSH_HIGH (64 * 1024) /* flush a debug buffer at once past this many bytes */
#define PK_LAG_MARKS 32

/* agg: the rule that paired a clone connection with a production connection (pair.c). */
enum pk_pair_rule {
	PK_PAIR_CONTENT, /* the same first request */
	PK_PAIR_ORDER,	 /* none was the same: the oldest waiting */
	PK_PAIR_RULES,
};

/* One worker's view of one debug target. */
struct target_stats {
	struct pk_list conns; /* this worker's live dconns (struct dconn.target_link) */
	uint64_t conns_active;
	uint64_t bytes_sent;
	uint64_t bytes_dropped;
	uint64_t resp_bytes;
	uint64_t buffered; /* bytes in this worker's buffers for the target, kept exact */
	uint64_t high_water;
	uint64_t overflows;
	uint64_t desyncs;
	uint64_t connect_failures;
	uint64_t rejoins;	  /* re-attached at a request boundary (resync) */
	uint64_t reclones;	  /* POST /targets/N/recloned (admin thread; worker 0) */
	uint64_t assigned;	  /* client connections given to the target */
	uint64_t cmp_bytes;	  /* --compare: bytes found equal */
	uint64_t cmp_verdicts[3]; /* --compare: ended connections by pk_scmp_verdict */
	uint64_t rq_verdicts[PK_RCMP_VERDICTS]; /* --compare PROTO: requests by verdict */
	uint64_t unpaired;			/* agg: connections that never found their pair */
	uint64_t grace_expired;			/* FINs passed on when --close-grace ran out */
	uint64_t paired[PK_PAIR_RULES];		/* agg: clone connections paired, by rule */
	uint64_t sample_log2;  /* --adapt-pid: the sampling rate set (worker 0 only) */
	uint64_t sample_steps; /* --adapt-pid: its changes (worker 0 only) */
	/* published by the gauge timer (scans of the connection list) */
	uint64_t pub_spilled;
	uint64_t pub_lag_bytes;
	uint64_t pub_lag_ns;	/* at the last publish: the age of the oldest unsent byte (or the
				 * round trip of unacknowledged ones), 0 if none */
	uint64_t pub_window_ns; /* the debug window: the soonest predicted overflow among the
				 * connections, in ns from the last publish; UINT64_MAX: none */
	uint64_t pub_in_bps;	/* arrival: bytes/s appended (sum over connections) */
	uint64_t pub_in_rps;	/* arrival: requests (client reads) /s */
	uint64_t pub_out_bps;	/* drain: bytes/s the target took */
	uint64_t pub_svc_bps;	/* service: the fastest drain seen while a backlog waited */
};

/* A time mark for lag: bytes up to offset `off` were appended at (or after) `t_ns`. */
struct lag_mark {
	uint64_t off;
	uint64_t t_ns;
};

struct session;
struct pk_worker;
struct pk_conn_cmp;
struct pair_prod;

/* Where a dconn's socket comes from. */
enum pk_dconn_origin {
	PK_DCONN_DIALED,   /* dup: the proxy connects to its clone */
	PK_DCONN_ACCEPTED, /* agg: a clone connection accepted on the debug side, once paired */
};

struct dconn {
	uint64_t id;
	enum pk_dconn_origin origin;
	int target;
	struct pk_worker *w;
	struct session *s; /* NULL once the client side is gone */
	struct pk_io io;
	struct pk_sbuf buf;
	bool connected;
	bool eof_pending; /* shut the write side once drained and caught up */
	bool grace_over;  /* the close grace ran out: shut once drained */
	bool shut;
	bool dead;
	bool balanced;		  /* --balance: d holds its session's count of the load */
	bool peer_eof;		  /* agg: the clone closed its side */
	bool cmp_on;		  /* compare (the connection saw its stream from the start) */
	struct pk_scmp cmp;	  /* A: production's stream, B: what the clone sent */
	struct pk_conn_cmp *ccmp; /* --compare PROTO: its connection's comparison (a reference) */
	struct pair_prod *pair_slot; /* agg: pair.c's entry while it waits (only pair.c uses it) */
	uint64_t ended_ns;	     /* agg: when its production connection ended (unpaired) */
	unsigned charge; /* fds charged to the capacity by d itself once its session is gone
			   (0 while its session's charge covers it) */
	uint64_t appended;
	uint64_t sent;
	uint64_t requests;	   /* appends (client reads): the window's requests */
	struct pk_window_live win; /* rates for the debug window (published by the gauge timer) */
	uint64_t prod_out;  /* bytes production's side sent that the clone answers to mirror */
	uint64_t clone_out; /* bytes the clone sent */
	struct pk_timer grace_timer; /* --close-grace, armed while the FIN waits */
	struct lag_mark marks[PK_LAG_MARKS];
	int mark_head, mark_count;
	uint64_t pub_sent;	    /* sent at the last publish */
	uint32_t pub_outq;	    /* bytes written but not yet acknowledged at the last publish */
	struct pk_list target_link; /* on target_stats.conns */
	struct pk_list dirty_link;  /* on worker.dirty: waiting for the flush timer */
	struct pk_list reap_link;   /* on worker.dead_dconns */
};

struct session {
	uint64_t id;
	struct pk_worker *w;
	struct pk_io cio;   /* client */
	struct pk_io pio;   /* production */
	struct pk_ring c2p; /* client bytes production has not taken yet */
	struct pk_ring p2c; /* production bytes the client has not taken yet */
	bool prod_connected;
	bool c_eof, p_eof;	 /* that side sent EOF */
	bool c2p_shut, p2c_shut; /* EOF passed on to production / to the client */
	bool closing;
	bool carried;	 /* a byte passed, either way (agg: it entered the pairing) */
	unsigned charge; /* fds charged to the capacity for this connection and its dconns */
	struct dconn *dbg[PK_PROXY_MAX_TARGETS];
	int assigned; /* --balance: the one target of this connection (-1: none yet) */
	uint64_t rejoin_after[PK_PROXY_MAX_TARGETS]; /* resync: not before this time (ns) */
	struct pk_framer framer;		     /* resync: where client requests start */
	struct pk_rec_conn rec;			     /* --record */
	struct pk_conn_cmp *ccmp; /* --compare PROTO: the comparison (a reference), or NULL */
	struct pk_list link;	  /* on worker.sessions, then worker.dead_sessions */
};

/* agg: pair.c's state in a worker: connections of both sides waiting for their partner. */
struct pk_pairing {
	bool on;		    /* pk_pair_init() ran (the scan timer is armed) */
	struct pk_timer timer;	    /* drops what waited longer than the pair timeout */
	uint64_t epoch;		    /* the proxy's pair_epoch this state belongs to */
	uint64_t nprod, nclone;	    /* connections numbered since the last reset (log lines) */
	struct pk_list prods;	    /* struct pair_prod, oldest first */
	struct pk_list clones;	    /* struct pair_clone, oldest first */
	struct pk_list dead_clones; /* freed by pk_pair_reap() */
};

/* One event loop on one thread: its own listener (SO_REUSEPORT), sessions, and statistics. */
struct pk_worker {
	struct pk_proxy *p;
	const struct pk_proxy_config *cfg;
	const char *prod_name;
	int idx;
	pthread_t thread;
	bool started;
	struct pk_loop *loop;
	struct pk_io lio;
	struct pk_io stopio; /* eventfd: the main thread asks this worker to drain and stop */
	struct pk_timer flush_timer;
	struct pk_timer accept_timer; /* re-enables accept after EMFILE or at capacity */
	bool at_capacity;	      /* the listener is off until a connection fits again */
	struct pk_timer drain_timer;
	struct pk_timer gauge_timer; /* publishes scanned gauges for /metrics */
	bool draining;
	struct pk_recq *recq;	/* --record: this worker's queue */
	struct pk_io dlio;	/* agg: the debug side's listener (fd -1 unless agg) */
	struct pk_pairing pair; /* agg: only pair.c touches it */
	struct pk_list sessions;
	struct pk_list dead_sessions;
	struct pk_list dirty;
	struct pk_list dead_dconns;
	struct target_stats targets[PK_PROXY_MAX_TARGETS];
	/* production-side counters */
	uint64_t conns_accepted;
	uint64_t conns_active;
	uint64_t prod_connect_failures;
	uint64_t accept_pauses; /* times accepting paused at capacity */
	uint64_t bytes_c2p;
	uint64_t bytes_p2c;
	char scratch[PK_SCRATCH_SIZE];
};

/* --balance: the load of each target, shared by the workers (balance.c; atomics). */
struct pk_balance {
	uint64_t active[PK_PROXY_MAX_TARGETS]; /* connections going on, given to each */
	uint64_t turn;			       /* ties go in turn from here */
};

/* The open-files capacity (capacity.c). */
struct pk_capacity {
	uint64_t nofile;  /* RLIMIT_NOFILE at start */
	uint64_t fixed;	  /* fds held apart from connections (at start, plus reserves) */
	unsigned cost;	  /* fds per client connection */
	uint64_t budget;  /* fds for connections: nofile - fixed */
	uint64_t conns;	  /* budget / cost: client connections at once */
	uint64_t charged; /* fds charged by live connections (atomic, all workers) */
};

struct pk_proxy {
	struct pk_proxy_config cfg;
	char prod_name[PK_ADDR_STRLEN];
	char target_names[PK_PROXY_MAX_TARGETS][PK_ADDR_STRLEN];
	int listen_port;
	int debug_port;
	uint64_t next_id;			 /* session ids, shared by the workers (atomic) */
	uint64_t pair_epoch;			 /* agg: bumped by POST /pairing/reset (atomic) */
	int window_warned[PK_PROXY_MAX_TARGETS]; /* the window is below --window-warn (atomic) */
	int cmp_log_fd;				 /* --compare-log, or -1 */
	int cmp_log_failed;			 /* writing it failed (logged once; atomic) */
	struct pk_loop *loop;			 /* main thread: admin endpoint and signals */
	struct pk_io sigio;
	struct pk_httpd *admin;
	struct pk_rec *rec; /* --record */
	struct pk_capacity cap;
	struct pk_balance balance;		     /* --balance */
	struct pk_adapt adapt[PK_PROXY_MAX_TARGETS]; /* --adapt-pid (worker 0's gauge timer) */
	int adapt_err[PK_PROXY_MAX_TARGETS]; /* the last adapt_set's result (not 0: retried) */
	int nworkers; /* workers (all initialised once pk_proxy_new() returned) */
	int ninit;    /* workers whose pk_worker_init() ran: what is released */
	struct pk_worker *workers;
};

/* status.c: the proxy-wide values of /metrics and of the status document, one row each of
 * summary_metrics.def (see there). */
enum pk_summary_group {
	PK_SUMMARY_CONNECTIONS,
	PK_SUMMARY_BYTES,
	PK_SUMMARY_RECORDING, /* only with --record */
	PK_SUMMARY_GROUPS,
};

/* How a proxy-wide value is in the status document. */
enum pk_summary_as {
	PK_SUMMARY_AS_NUMBER,
	PK_SUMMARY_AS_BOOL, /* false for 0, true otherwise */
};

enum pk_summary_metric_id {
#define PK_SUMMARY_METRIC(field, ...) PK_SM_##field,
#include "proxy/summary_metrics.def"
#undef PK_SUMMARY_METRIC
	PK_SM_NUM
};

struct pk_summary_metric {
	size_t off; /* of the double in struct pk_proxy_status */
	const char *name;
	const char *type, *help; /* NULL: the row continues the family of the row above */
	const char *label, *label_value;
	enum pk_summary_group group;
	const char *key;
	int pos; /* the key's place in its group's object */
	enum pk_summary_as as;
};

extern const struct pk_summary_metric pk_summary_metrics[PK_SM_NUM];

/* The value of row sm in st. */
static inline double pk_summary_value(const struct pk_proxy_status *st,
				      const struct pk_summary_metric *sm)
{
	return *(const double *)((const char *)st + sm->off);
}

/* capacity.c: the open-files capacity */

/* Computes p->cap from RLIMIT_NOFILE and the fds open now (call once every fixed fd is open)
 * and logs it.  Returns 0, -EMFILE when not even one connection fits, or -errno. */
int pk_cap_init(struct pk_proxy *p);

/* Returns the fds one debug connection may hold (its socket, and a spill file if any). */
unsigned pk_cap_dconn_cost(const struct pk_proxy_config *cfg);

/* Charges one client connection's cost if it fits the budget; tells whether it did. */
bool pk_cap_take(struct pk_proxy *p);

/* Tells whether one more client connection would fit now. */
bool pk_cap_has_room(const struct pk_proxy *p);

/* Charges n fds without checking the budget (a clone connection accepted by agg). */
void pk_cap_charge(struct pk_proxy *p, unsigned n);

/* Gives back n charged fds. */
void pk_cap_release(struct pk_proxy *p, unsigned n);

/* Returns the connections' charge in client connections (rounded up). */
uint64_t pk_cap_in_use(const struct pk_proxy *p);

/* balance.c: --balance */

/* Returns the target (0..ntargets-1) a new client connection goes to: the one with the fewest
 * connections given to it still going on, over all workers; ties in turn.  Takes no count:
 * the caller holds one (pk_balance_hold).  Any thread. */
int pk_balance_pick(struct pk_balance *b, int ntargets);

/* Counts one more connection going on for target i.  Any thread. */
void pk_balance_hold(struct pk_balance *b, int i);

/* Counts one connection of target i less (one held before).  Any thread. */
void pk_balance_release(struct pk_balance *b, int i);

/* Returns the connections going on for target i now. */
uint64_t pk_balance_load(const struct pk_balance *b, int i);

/* worker.c: the production path */

/* Prepares worker idx of p around an already listening fd (and, for agg, the debug side's
 * listener dlfd, else -1); both fds are the worker's from then on.  Returns 0 or -errno. */
int pk_worker_init(struct pk_worker *w, struct pk_proxy *p, int idx, int lfd, int dlfd);

/* Runs w's loop on a new thread; returns 0 or -errno. */
int pk_worker_start(struct pk_worker *w);

/* Asks w (from another thread) to stop accepting, drain, and end its thread. */
void pk_worker_stop(struct pk_worker *w);

/* Joins w's thread if it was started, closes everything of w. */
void pk_worker_release(struct pk_worker *w);

/* Publishes w's scanned gauges now (also done every 100 ms while admin is on). */
void pk_worker_publish(struct pk_worker *w);

/* target.c: debug connections */

/* Opens a debug connection to target i for session s; returns it, or NULL when the connect
 * failed at once (counted as a desync). */
struct dconn *pk_dconn_open(struct pk_worker *w, struct session *s, int i);

/* Appends client bytes to d; on overflow d is desynced (closed, counted, logged). */
void pk_dconn_append(struct dconn *d, const char *buf, size_t n);

/* --balance: d's session ends and d goes on: d holds the session's count of its target's load
 * from now on (released when d dies). */
void pk_dconn_take_balance(struct dconn *d);

/* Detaches d from its session: deliver what is buffered, then shut down. */
void pk_dconn_detach(struct dconn *d);

/* Tells whether d has bytes not yet written to its target. */
bool pk_dconn_pending(const struct dconn *d);

/* Flush timer callback: writes out every dirty debug connection. */
void pk_dconn_flush_timer(struct pk_loop *loop, struct pk_timer *t);

/* Closes d at once (proxy shutdown), without counting a desync. */
void pk_dconn_close(struct dconn *d);

/* Frees the dconns of w killed since the last call (from the reap hook). */
void pk_dconn_reap(struct pk_worker *w);

/* Closes every dconn of w at once (proxy shutdown). */
void pk_dconn_close_all(struct pk_worker *w);

/* Publishes the gauges scanned over w's dconns (spill, lag) into its target_stats. */
void pk_dconn_publish(struct pk_worker *w, uint64_t now_ns);

/* --adapt-pid (worker 0, after its publish): steps the sampling rate of each adapted target
 * from its fullest buffer over every worker; a change goes to cfg->adapt_set, the log and
 * w's target_stats. */
void pk_dconn_adapt(struct pk_worker *w);

/* d's session is gone (the session no longer points to d): deliver what is buffered, then
 * shut down, on its own. */
void pk_dconn_session_gone(struct dconn *d);

/* Returns the age in ns of the oldest byte of d not yet written, 0 when none (the publish adds
 * the round trip of bytes written but not acknowledged). */
uint64_t pk_dconn_lag_ns(const struct dconn *d, uint64_t now_ns);

/* worker.c: called by target.c when a session's debug side drained (sync mode). */
void pk_session_debug_drained(struct session *s);

/* worker.c: called by target.c when s's dconn for target i died (desync, drop): s forgets it
 * (and may rejoin it at a request boundary after the resync backoff). */
void pk_session_dconn_gone(struct session *s, int i);

/* target.c: makes a debug connection for target i of session s with no socket yet. */
struct dconn *pk_dconn_new(struct pk_worker *w, struct session *s, int i,
			   enum pk_dconn_origin origin);

/* target.c: gives d its clone's accepted socket (d owns fd from then on) and the n bytes the
 * clone already sent on it (early), and starts delivering.  Returns 0 or -errno (d is then
 * desynced). */
int pk_dconn_attach_fd(struct dconn *d, int fd, const char *early, size_t n);

/* target.c: closes a dconn that was never paired (agg), without a comparison verdict. */
void pk_dconn_drop(struct dconn *d);

/* target.c: d takes part in its connection's per-request comparison c (a reference of its
 * own; c may be NULL). */
void pk_dconn_set_compare(struct dconn *d, struct pk_conn_cmp *c);

/* target.c: stops comparing d (it joined its connection late): counted as unknown. */
void pk_dconn_compare_skip(struct dconn *d);

/* target.c: production's side of d's connection sent buf (dup: responses, agg: requests):
 * counted (the clone's FIN waits until it sent as much) and fed to the comparison. */
void pk_dconn_prod_output(struct dconn *d, const char *buf, size_t n);

/* compare.c: per-request comparison (--compare PROTO) */

/* Starts the comparison of connection conn among the targets whose debug connections dbg[i]
 * are open (NULL when --compare PROTO is off, none is open, or out of memory: then nothing is
 * compared).  The caller holds the one reference it returns. */
struct pk_conn_cmp *pk_ccmp_start(struct pk_worker *w, uint64_t conn, struct dconn *const *dbg);

/* Tells whether target's clone takes part in c (c may be NULL). */
bool pk_ccmp_has(const struct pk_conn_cmp *c, int target);

/* Takes one more reference to c (NULL: none) and returns c. */
struct pk_conn_cmp *pk_ccmp_hold(struct pk_conn_cmp *c);

/* Lets go of one reference; the last frees c.  NULL is ignored. */
void pk_ccmp_put(struct pk_conn_cmp *c);

/* The client's bytes; production's bytes toward the client, and their end; a clone's output,
 * its end, and that it can no longer be compared (reason).  Each ignores a NULL c, and a
 * target that does not take part. */
void pk_ccmp_request(struct pk_conn_cmp *c, const char *buf, size_t n);
void pk_ccmp_prod(struct pk_conn_cmp *c, const char *buf, size_t n);
void pk_ccmp_prod_end(struct pk_conn_cmp *c);
void pk_ccmp_clone(struct pk_conn_cmp *c, int target, const char *buf, size_t n);
void pk_ccmp_clone_end(struct pk_conn_cmp *c, int target);
void pk_ccmp_clone_lag(struct pk_conn_cmp *c, int target, const char *reason);

/* Logs divergence r of target (one line) and appends it to --compare-log. */
void pk_compare_log(struct pk_worker *w, const struct pk_rcmp_report *r, int target);

/* Appends divergence r of target to --compare-log (if any): one write, so that the lines of
 * several workers never mix. */
void pk_compare_log_line(struct pk_worker *w, const struct pk_rcmp_report *r, int target);

/* Opens --compare-log (if any) for appending; 0 or -errno.  p->cmp_log_fd is -1 without. */
int pk_compare_log_open(struct pk_proxy *p);

/* Closes it (if open). */
void pk_compare_log_close(struct pk_proxy *p);

/* pair.c (agg): sets up pairing on w around its debug listener (w->dlio.fd); returns 0 or
 * -errno. */
int pk_pair_init(struct pk_worker *w);

/* pair.c (agg): returns the debug connection of the new session s (not yet paired; NULL when
 * out of memory, counted as a desync); the session keeps it. */
struct dconn *pk_pair_open(struct pk_worker *w, struct session *s);

/* pair.c (agg): the first n bytes passed on the session of d (from production's service when
 * from_client, else from the backend): d enters the pairing (a session that never carried a
 * byte is never paired). */
void pk_pair_first_bytes(struct pk_worker *w, struct dconn *d, bool from_client, const char *buf,
			 size_t n);

/* pair.c (agg): d is being killed; if it still waited for its clone connection, it leaves a
 * tombstone (its clone connection will be closed as out of sync). */
void pk_pair_dconn_gone(struct dconn *d);

/* pair.c: the name of a pairing rule in logs ("content", "order": the values of the rule
 * label of parikshan_debug_paired_total in target_metrics.def). */
const char *pk_pair_rule_name(enum pk_pair_rule rule);

/* pair.c: frees the clone connections closed since the last call (before-sleep hook). */
void pk_pair_reap(struct pk_worker *w);

/* pair.c: closes the debug listener (if any), the connections still waiting, and cancels the
 * pairing timer (if armed). */
void pk_pair_release(struct pk_worker *w);

#endif
