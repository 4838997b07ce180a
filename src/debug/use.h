/* use.h — the USE report of a container or clone (`parikshan use`): utilisation, saturation and
 * errors of CPU, memory, disk I/O and network, from its cgroups (v1) and its network
 * namespace's counters (/proc/PID/net/...).
 *
 * A sample is a set of raw counters read at one instant; a report is two samples turned into
 * rates and ratios over the interval between them.  Reading is separate from computing and
 * rendering, so the unit tests render fixed snapshots.
 */
#ifndef PK_DEBUG_USE_H
#define PK_DEBUG_USE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/strbuf.h"

/* Raw counters of one container at one instant (cumulative unless said otherwise). */
struct pk_use_sample {
	double t;	       /* CLOCK_MONOTONIC, seconds */
	double cpus;	       /* the CPU limit in CPUs: quota/period, or the online CPUs */
	uint64_t cpu_ns;       /* cpuacct.usage */
	uint64_t nr_periods;   /* cpu.stat */
	uint64_t nr_throttled; /* cpu.stat */
	uint64_t runq_wait_ns; /* /proc/TID/schedstat of the cgroup's threads: runnable, waiting */
	uint64_t mem_used;     /* memory.usage_in_bytes (a level, not a counter) */
	uint64_t mem_limit;    /* memory.limit_in_bytes, or the host's MemTotal when unlimited */
	uint64_t mem_majfault; /* memory.stat total_pgmajfault */
	uint64_t mem_failcnt;  /* memory.failcnt: allocations that hit the limit */
	uint64_t io_bytes;     /* blkio.throttle.io_service_bytes Total */
	uint64_t io_ops;       /* blkio.throttle.io_serviced Total */
	uint64_t net_bytes;    /* /proc/PID/net/dev, every interface but lo, rx + tx */
	uint64_t net_packets;  /* idem */
	uint64_t net_drops;    /* idem */
	uint64_t net_errs;     /* idem */
	uint64_t tcp_retrans;  /* /proc/PID/net/snmp Tcp RetransSegs */
	bool has_psi;	       /* cgroup v2 with PSI: the three below are read */
	uint64_t psi_cpu_us;   /* cpu.pressure "some" total: µs some task waited for a CPU */
	uint64_t psi_mem_us;   /* memory.pressure, idem */
	uint64_t psi_io_us;    /* io.pressure, idem */
	uint64_t listen_drops; /* /proc/PID/net/netstat TcpExt ListenOverflows + ListenDrops */
};

/* The rows of the report: resource, U/S/E, metric, unit. */
#define PK_USE_ROWS(X)                                                                             \
	X(CPU_USED, "cpu", "U", "used", "% of limit")                                              \
	X(CPU_RUNQ_WAIT, "cpu", "S", "run-queue wait", "threads")                                  \
	X(CPU_THROTTLED, "cpu", "S", "throttled", "% of periods")                                  \
	X(CPU_PRESSURE, "cpu", "S", "pressure (PSI)", "% of time")                                 \
	X(MEM_USED, "memory", "U", "used", "% of limit")                                           \
	X(MEM_MAJFAULT, "memory", "S", "major faults", "/s")                                       \
	X(MEM_PRESSURE, "memory", "S", "pressure (PSI)", "% of time")                              \
	X(MEM_LIMIT_HITS, "memory", "E", "limit hits", "/s")                                       \
	X(IO_BYTES, "disk", "U", "read+write", "B/s")                                              \
	X(IO_OPS, "disk", "U", "operations", "/s")                                                 \
	X(IO_PRESSURE, "disk", "S", "pressure (PSI)", "% of time")                                 \
	X(NET_BYTES, "network", "U", "rx+tx", "B/s")                                               \
	X(NET_PACKETS, "network", "U", "packets", "/s")                                            \
	X(NET_DROPS, "network", "S", "dropped", "/s")                                              \
	X(NET_LISTEN_DROPS, "network", "S", "listen overflows", "/s")                              \
	X(NET_ERRS, "network", "E", "errors", "/s")                                                \
	X(NET_RETRANS, "network", "E", "tcp retransmits", "/s")

enum pk_use_row {
#define PK_USE_ENUM(id, res, kind, metric, unit) PK_USE_##id,
	PK_USE_ROWS(PK_USE_ENUM)
#undef PK_USE_ENUM
		PK_USE_NROWS
};

/* A report: one value per row (NaN when it cannot be computed, e.g. no interval). */
struct pk_use_report {
	double interval_s;
	double v[PK_USE_NROWS];
};

/* Reads the counters of the container whose init is pid into s (what cannot be read stays 0),
 * from cgroup v1 or, on a cgroup v2 host, from its unified cgroup.
 * Returns 0, or -errno when pid's cgroups cannot be found (the process is gone). */
int pk_use_sample_read(int pid, struct pk_use_sample *s);

/* Reads the counters of the cgroup v2 directory dir into s (cpu.stat, cpu.max, memory.current,
 * memory.max, memory.events, memory.stat, io.stat, cgroup.threads, *.pressure); the caller
 * adds the time and the network.  Returns 0, or -errno when dir is no cgroup. */
int pk_use_sample_v2(const char *dir, struct pk_use_sample *s);

/* Computes the report of the interval from a to b (b later). */
void pk_use_compute(const struct pk_use_sample *a, const struct pk_use_sample *b,
		    struct pk_use_report *r);

/* One column of the rendered report: its role ("clone", "production", "container"), the
 * container's name, and its report. */
struct pk_use_column {
	const char *role;
	const char *name;
	const struct pk_use_report *r;
};

#define PK_USE_MAX_COLUMNS 2

/* Appends to out the report of n (1 or 2) columns side by side: a table with one row per
 * metric (the interval said above it), or with json one object {"interval_s": S, "columns":
 * [{"role":..., "name":..., "cpu_used": V, ...}]} with one key per row (null when unknown). */
void pk_use_render(const struct pk_use_column *cols, int n, bool json, struct pk_strbuf *out);

#endif
