/* iprobe.h — the shared-memory layout between libiprobe.so (inside a target process) and the
 * `parikshan probe` commands (outside it): control words, the probe registry and one event
 * ring per thread.  This is a wire format: fixed-width fields, explicit padding, a version.
 *
 * libiprobe creates the segment /dev/shm/parikshan-iprobe.<pid> (the pid as the target sees
 * it) when it is loaded, maps it and unlinks it at once (nothing is left behind, whatever way
 * the process ends); the tools find it through /proc/PID/maps (as "... (deleted)") and open
 * it through /proc/PID/map_files/, which also works for a target in other namespaces.
 *
 *   +--------------------+  offset 0
 *   | pk_iprobe_shm      |  header, control words, one batch of requests
 *   +--------------------+  hdr.probes_off
 *   | pk_iprobe_probe[]  |  max_probes entries: registry of functions (id = index)
 *   +--------------------+  hdr.rings_off
 *   | ring 0             |  pk_iprobe_ring header, then ring_events pk_iprobe_event
 *   | ring 1 ...         |  one per thread that hit a probe (max_threads)
 *   +--------------------+
 *
 * Each ring has one producer (its thread, in the handler: no lock, no allocation, no block)
 * and one consumer (`probe dump`).  The producer writes event head % ring_events, then
 * publishes head with a release store; the consumer reads up to head (acquire), then
 * publishes tail.  A full ring drops the event and counts it in drops; the next event that
 * fits is preceded by a PK_IPROBE_MARK_DROPS marker carrying the count, so every output can
 * show where events were lost.
 */
#ifndef PARIKSHAN_IPROBE_H
#define PARIKSHAN_IPROBE_H

#include <stdint.h>

#define PK_IPROBE_MAGIC 0x45424f5250494b50ull /* "PKIPROBE" little-endian */
#define PK_IPROBE_VERSION 2
#define PK_IPROBE_SHM_PREFIX "parikshan-iprobe."
#define PK_IPROBE_MAX_REQ 1024 /* sites per batch of requests */

/* One event: 16 bytes.  probe = id << 1 | PK_IPROBE_EXIT for a probe hit; a marker has
 * probe = PK_IPROBE_MARK_BASE | its kind (enum pk_iprobe_mark) and its argument in aux. */
struct pk_iprobe_event {
	uint64_t tsc;	/* rdtsc at the hit */
	uint32_t probe; /* id << 1 | exit bit, or a marker */
	uint32_t aux;	/* 0; for a marker: its argument */
};

#define PK_IPROBE_EXIT 1u
#define PK_IPROBE_MARK_BASE 0xffffff00u
#define PK_IPROBE_IS_MARK(probe) ((probe) >= PK_IPROBE_MARK_BASE)
enum pk_iprobe_mark {
	PK_IPROBE_MARK_DROPS = 1, /* aux: events dropped just before this point (ring full) */
	PK_IPROBE_MARK_AUTOOFF,	  /* aux: probe id disabled by the budget */
	PK_IPROBE_MARK_COUNTER,	  /* fperf: aux = counter index | PK_IPROBE_CTR_EXIT when read
				   * at an exit; tsc holds the counter's 64-bit value instead of
				   * a time.  An entry's counters follow its event, an exit's
				   * precede it (what they measure lies between the two). */
	PK_IPROBE_MARK_SAMPLE,	  /* aux: the global sampling rate's log2 from here on in this
				   * thread (written before its first recorded hit after a change) */
};
#define PK_IPROBE_SAMPLE_MAX 16u  /* largest log2 of a sampling rate (1 call in 65536) */
#define PK_IPROBE_CTR_EXIT 0x100u /* aux bit of a counter read at an exit */

/* Per-thread ring header, one cache line for the producer, one for the consumer. */
struct pk_iprobe_ring {
	uint32_t state;	     /* PK_IPROBE_RING_FREE / _OWNED */
	uint32_t tid;	     /* owner's thread id, as the target sees it */
	uint64_t head;	     /* events written (producer; release) */
	uint64_t drops;	     /* events dropped, total (producer) */
	uint64_t drops_told; /* drops already reported by a marker (producer) */
	uint8_t pad0[32];
	uint64_t tail; /* events consumed (consumer; release) */
	uint8_t pad1[56];
	/* struct pk_iprobe_event ev[ring_events] follows */
};

enum pk_iprobe_ring_state {
	PK_IPROBE_RING_FREE = 0,
	PK_IPROBE_RING_OWNED, /* a thread writes it (freed by libiprobe once the thread exited and
			       * its events were read) */
};

/* Registry entry of one function (probe id = index).  Written by the tools (name, addr) and
 * by libiprobe (flags, hits of automatic decisions). */
struct pk_iprobe_probe {
	uint64_t addr;	 /* function's address in the target */
	uint32_t flags;	 /* PK_IPROBE_F_* */
	uint32_t sample; /* record 1 call in 2^sample (0 = all; tools) */
	uint64_t hits;	 /* events counted by the budget loop (libiprobe) */
	char name[104];	 /* symbol name, NUL-terminated, truncated */
};

enum pk_iprobe_flag {
	PK_IPROBE_F_USED = 1u << 0,    /* slot holds a function */
	PK_IPROBE_F_ON = 1u << 1,      /* at least one site enabled */
	PK_IPROBE_F_AUTOOFF = 1u << 2, /* disabled by the budget */
	PK_IPROBE_F_FPERF = 1u << 3,   /* read the fperf counters at each entry and exit */
	PK_IPROBE_F_INVIVO = 1u << 4,  /* run the in-vivo test at entry (with its probability) */
};

/* Flags that send a hit through libiprobe's slow path (pk_lib_hook) besides its event. */
#define PK_IPROBE_F_HOOKS (PK_IPROBE_F_FPERF | PK_IPROBE_F_INVIVO)

/* One site to switch: filled by the tools, executed by libiprobe. */
struct pk_iprobe_req {
	uint64_t site;	/* address of the site in the target */
	uint32_t probe; /* id << 1 | exit bit */
	uint8_t op;	/* PK_IPROBE_OP_* */
	uint8_t how;	/* PK_IPROBE_HOW_* */
	uint8_t len;	/* bytes of the site (5 or 6) */
	uint8_t pad;
	uint8_t nop[8]; /* the site's bytes when off (checked before any write) */
	int32_t result; /* 0 switched, PK_IPROBE_ALREADY, PK_IPROBE_DEFERRED, or -errno
			 * (libiprobe); -EAGAIN: the tool writes the site itself through
			 * ptrace (see stub) */
	uint32_t pad2;
	uint64_t stub; /* the site's handler stub in the target, to call (libiprobe) */
};

#define PK_IPROBE_ALREADY 1 /* a request's result: the site was already in that state */
#define PK_IPROBE_DEFERRED                                                                         \
	2 /* ... switched at the batch's end, no thread stopped (a sweep                           \
	   * or an int3 first: see libiprobe's patch.c) */

enum pk_iprobe_op { PK_IPROBE_OP_ENABLE = 1, PK_IPROBE_OP_DISABLE };
enum pk_iprobe_how {
	PK_IPROBE_HOW_CALL = 1, /* a compiled call to __cyg_profile_func_*, made a NOP */
	PK_IPROBE_HOW_ENTRY,	/* -fpatchable-function-entry NOPs at a function's entry */
	PK_IPROBE_HOW_TAIL,	/* a compiled tail jmp to __cyg_profile_func_exit, made a ret */
};

struct pk_iprobe_shm {
	uint64_t magic;
	uint32_t version;
	uint32_t pid;	       /* the target's pid, as it sees it */
	uint64_t size;	       /* bytes of the whole segment */
	uint64_t probes_off;   /* offset of the registry */
	uint64_t rings_off;    /* offset of ring 0 */
	uint32_t max_probes;   /* registry entries */
	uint32_t max_threads;  /* rings */
	uint32_t ring_events;  /* events per ring, a power of two */
	uint32_t ring_bytes;   /* bytes per ring, header included */
	uint64_t tsc_hz;       /* measured by libiprobe at load; 0 until then */
	uint64_t tsc0;	       /* a tsc reading ... */
	uint64_t realtime0_ns; /* ... and CLOCK_REALTIME at the same moment */
	uint32_t nprobes;      /* registry entries in use (tools) */
	uint32_t sample;       /* global: record 1 call in 2^sample (tools; a probe's own
				* sample applies when higher; at most PK_IPROBE_SAMPLE_MAX) */
	uint64_t no_ring;      /* events dropped because every ring was taken */
	uint32_t budget_ppm;   /* tools: keep probe cost under this share of the process's CPU
				* (parts per million; 0: no budget) */
	uint32_t autooff;      /* libiprobe: probes the budget switched off, total */
	uint64_t event_ps;     /* libiprobe: measured cost of one event, picoseconds */
	uint64_t cost_ns;      /* libiprobe: estimated probe cost in the last budget period */
	uint64_t cpu_ns;       /* libiprobe: the process's CPU time in that period */
	uint8_t pad0[8];
	/* control: a tool takes the lock word (0 -> its pid), fills nreq and req[], increments
	 * req_seq and futex-wakes it; libiprobe's control thread executes the batch, sets each
	 * result, then stores ack_seq = req_seq and futex-wakes ack_seq. */
	uint32_t lock;
	uint32_t req_seq;
	uint32_t ack_seq;
	uint32_t nreq;
	int32_t batch_result; /* 0 or the first failure's -errno */
	uint32_t served;      /* batches executed, for the tools' progress */
	/* libiprobe, for the last batch's PK_IPROBE_DEFERRED sites */
	uint32_t trap_hits;	 /* int3s of ours the program's threads took */
	uint32_t trap_signalled; /* threads sent the sweep's signal */
	uint32_t trap_moved;	 /* of them: PC moved past a patchable entry's NOPs */
	uint32_t trap_pad;
	uint64_t trap_ns; /* most CPU time one thread spent in a trap or sweep handler */
	uint8_t pad1[16];
	struct pk_iprobe_req req[PK_IPROBE_MAX_REQ];

	/* --- fperf: per-function performance counters --------------------------------------
	 * The counters every thread opens (perf_event_open type and config) when it hits a
	 * probe flagged PK_IPROBE_F_FPERF.  A tool makes fperf_gen odd, writes fperf_n and
	 * fperf[], then makes it even again (a seqlock: a thread that reads an odd or changed
	 * generation reads no counter at that hit); a thread whose counters were opened for
	 * another generation reopens them.  fperf_n = 0: no counter. */
	uint32_t fperf_gen;
	uint32_t fperf_n; /* counters in fperf[], at most PK_IPROBE_FPERF_MAX */
	struct pk_iprobe_fperf_ctr {
		uint32_t type; /* PERF_TYPE_* */
		uint32_t pad;
		uint64_t config; /* PERF_COUNT_* */
	} fperf[8];
	/* --- end of fperf ------------------------------------------------------------------ */

	/* --- invivo: in-vivo tests (PK_IPROBE_F_INVIVO) ------------------------------------
	 * Written by a tool under inv_gen (a seqlock, as fperf_gen): a thread that reads an odd
	 * or changed generation forks nothing.  At a flagged entry a thread draws a number;
	 * below inv_threshold (UINT32_MAX: always) and with fewer than inv_max_live children
	 * alive, it forks a child that calls inv_test.  The counters are libiprobe's. */
	uint32_t inv_gen;
	uint32_t inv_threshold;	   /* probability x 2^32 (UINT32_MAX: every entry) */
	uint64_t inv_test;	   /* address of the test function in the target; 0: none */
	uint32_t inv_max_live;	   /* children alive at once, 1..PK_IPROBE_INVIVO_MAX_LIVE */
	uint32_t inv_deadline_ms;  /* a child still alive after this is killed (timed out) */
	char inv_log[256];	   /* verdict log, a path in the target's mount namespace */
	char inv_name[64];	   /* the test's name, for the log */
	uint64_t inv_forked;	   /* children forked */
	uint64_t inv_passed;	   /* ... that returned 0 */
	uint64_t inv_failed;	   /* ... that returned non-zero */
	uint64_t inv_timed_out;	   /* ... killed at the deadline */
	uint64_t inv_crashed;	   /* ... ended by a signal of their own */
	uint64_t inv_skipped_busy; /* draws that forked nothing: inv_max_live children alive */
	uint64_t inv_fork_failed;  /* clone() failed */
	uint32_t inv_live;	   /* children alive now */
	uint32_t inv_pad;
	/* --- end of invivo ----------------------------------------------------------------- */
};
#define PK_IPROBE_FPERF_MAX 8
#define PK_IPROBE_INVIVO_MAX_LIVE 16

#endif
