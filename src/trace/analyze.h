/* analyze.h — request paths from the records of traced processes (what `trace analyze` and
 * `trace paths` print).  A pure function over arrays: the processes (their hellos) and their
 * records, as the store gives them; no I/O, nothing printed.
 *
 *   records --(pid, fd)--> connections --bursts--> exchanges --server side--> hops
 *   call (client exchange) --same pid, open hops--> parent hop   (same-thread|byte-match|latest)
 *   call --endpoints + byte offsets--> server exchange (hop) in another pid (tcp-endpoints)
 *   hops without a parent = roots of paths; clock offsets from causality (send before receive)
 *
 * Every time in the result is corrected by its process's clock offset (true = recorded - o).
 */
#ifndef PK_TRACE_ANALYZE_H
#define PK_TRACE_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parikshan/trace.h"
#include "trace/store.h"

/* One record with its process row (procs[].id), as pk_trace_store_each gives them. */
struct pk_trace_ev {
	int64_t proc;
	struct pk_trace_rec rec;
};

/* Protocols told from a connection's first request bytes. */
enum pk_trace_proto {
	PK_TRACE_PROTO_RAW = 0,
	PK_TRACE_PROTO_HTTP,
	PK_TRACE_PROTO_RESP,
	PK_TRACE_PROTO_MYSQL,
	PK_TRACE_PROTO_MEMCACHED,
	PK_TRACE_PROTO_DNS,
};

#define PK_TRACE_RULE_MAX 48

/* A process of the result (one per pid: rows after exec are merged). */
struct pk_trace_pproc {
	int32_t pid;
	char comm[16];
	char exe[PK_TRACE_EXE_MAX];
	int64_t offset_ns;    /* its clock's offset: true time = recorded - offset */
	int64_t lo_ns, hi_ns; /* the interval causality allows for it */
	bool has_lo, has_hi;  /* else unbounded on that side */
	int64_t wall_base_ns; /* wall clock = wall_base_ns + corrected monotonic ns */
	uint64_t dropped;     /* hellos' dropped + DROPS records */
	uint64_t root_hops;   /* hops of this process that root a path */
};

/* One hop: a process serving one request (a server-side exchange). */
struct pk_trace_hop {
	int parent;  /* index of the parent within its path's hops, -1 for the root */
	int depth;   /* 0 for the root */
	size_t proc; /* index in pk_trace_paths.procs */
	int32_t pid;
	uint32_t tid;
	enum pk_trace_proto proto;
	uint8_t request[PK_TRACE_PEEK]; /* the first request bytes */
	uint16_t request_len;
	uint64_t start_ns, end_ns; /* first request byte read, last response byte written */
	uint64_t call_start_ns, call_end_ns; /* the parent's call (0 for a root) */
	struct pk_trace_addr local, peer;
	char rule[PK_TRACE_RULE_MAX]; /* "root", "same-thread+tcp-endpoints", ... */
	double confidence;
	bool complete; /* has a response, and every call it made is accounted for */
};

/* One path: a tree of hops stored in preorder, the root first. */
struct pk_trace_path {
	int id;		   /* 1.. in the order of paths[] (slowest first) */
	char trace_id[33]; /* 32 hex digits */
	bool complete;
	uint64_t duration_ns;	 /* the root hop's latency */
	size_t first_hop, nhops; /* hops[first_hop .. first_hop + nhops) */
};

/* A program that could not be traced (PK_TRACE_STATIC). */
struct pk_trace_untraceable {
	int32_t pid;
	char path[PK_TRACE_PEEK + 1];
};

#define PK_TRACE_NRULES 6 /* same-thread, byte-match, latest, tcp-endpoints, tcp-order, root */

/* What pk_trace_analyze returns (one allocation tree; pk_trace_paths_free releases it). */
struct pk_trace_paths {
	struct pk_trace_path *paths;
	size_t npaths, ncomplete;
	struct pk_trace_hop *hops;
	size_t nhops;
	struct pk_trace_pproc *procs;
	size_t nprocs;
	struct pk_trace_untraceable *untraceable;
	size_t nuntraceable;
	uint64_t dropped;		      /* total */
	uint64_t rule_count[PK_TRACE_NRULES]; /* links made by each rule */
};

/* The name of rule i of rule_count (a static string), NULL past the end. */
const char *pk_trace_rule_name(size_t i);

/* The name of a protocol ("http", "resp", "mysql", "memcached", "dns", "raw"). */
const char *pk_trace_proto_name(enum pk_trace_proto p);

/* Builds the paths of procs[0..nprocs) and ev[0..nev) (any order; records of an unknown
 * process row are ignored).  The inputs stay the caller's; *out is new (pk_trace_paths_free).
 * 0 or -ENOMEM with a reason. */
int pk_trace_analyze(const struct pk_trace_proc *procs, size_t nprocs, const struct pk_trace_ev *ev,
		     size_t nev, struct pk_trace_paths **out, char *err, size_t errlen);

/* Releases a result (NULL is fine). */
void pk_trace_paths_free(struct pk_trace_paths *p);

#endif
