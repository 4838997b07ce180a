/* probe.h — iProbe from the tools' side: a live target process, the probe tables of its
 * modules, its libiprobe segment, switching probes on and off, and reading its events.
 *
 * A target is opened by pid: its executable (and any shared library named with --file) is
 * read through /proc/PID/map_files/, so a process in a clone's mount namespace is handled like
 * any other.  Switching a probe registers its function in the segment's registry (id = index;
 * stable for the life of the process) and sends libiprobe one batch per PK_IPROBE_MAX_REQ
 * sites; sites that libiprobe cannot switch atomically are written through ptrace with
 * pk_inject_poke.
 */
#ifndef PK_PROBE_PROBE_H
#define PK_PROBE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "parikshan/iprobe.h"
#include "probe/table.h"

struct pk_probe_module {
	char *path;	 /* as the target's maps show it */
	uint64_t bias;	 /* added to the table's addresses */
	uint64_t lo, hi; /* the module's mapped range */
	struct pk_probe_table table;
};

struct pk_probe_target {
	pid_t pid;
	struct pk_probe_module *mods;
	size_t nmods;
	struct pk_iprobe_shm *shm; /* NULL until libiprobe is loaded and attached */
	size_t shm_size;
	/* index of the registry by function address (open addressing; slot = id + 1, 0 empty),
	 * covering its first idx_n entries */
	uint32_t *idx;
	size_t idx_cap;
	uint32_t idx_n;
};

/* Opens process pid: loads the probe tables of its executable, or of the mapped files named
 * in files[0..nfiles) (a path or a base name); attaches to its segment when libiprobe is
 * already loaded.  0 or -errno with a reason (no such process, not permitted, no probe sites,
 * a file not mapped).  The caller closes t. */
int pk_probe_open(pid_t pid, const char *const *files, size_t nfiles, struct pk_probe_target *t,
		  char *err, size_t errlen);

/* Releases what t holds (the target is not touched). */
void pk_probe_close(struct pk_probe_target *t);

/* Maps the target's libiprobe segment when the process has one now (nothing to do when t
 * holds it already), without loading anything.  0, -ENOENT (not loaded there yet), -ESRCH
 * (the process is gone) or -errno, with a reason. */
int pk_probe_segment(struct pk_probe_target *t, char *err, size_t errlen);

/* Loads libiprobe (library at lib_path on our side) into the target unless it is there, then
 * attaches to its segment, waiting for it up to timeout_ms.  0 or -errno with a reason. */
int pk_probe_attach(struct pk_probe_target *t, const char *lib_path, int timeout_ms, char *err,
		    size_t errlen);

/* Which sites a switch touches. */
enum pk_probe_kinds { PK_PROBE_ENTRY = 1, PK_PROBE_EXIT = 2, PK_PROBE_BOTH = 3 };

struct pk_probe_switch_stats {
	size_t funcs;	    /* functions matched */
	size_t sites;	    /* sites switched now */
	size_t already;	    /* sites already in the wanted state */
	size_t stopped;	    /* of sites: written through ptrace (poke.c fallback) */
	uint64_t pause_ns;  /* longest stop of one thread in the fallback */
	uint64_t batch_ns;  /* longest round trip of a batch to libiprobe (threads never stop) */
	size_t deferred;    /* of sites: switched at a batch's end (a sweep or an int3) */
	uint64_t trap_hits; /* int3s of ours the target's threads took meanwhile */
	uint64_t trap_signalled; /* threads sent the sweep's signal (patchable entries) */
	uint64_t trap_moved;	 /* of them: PC moved past an entry's NOPs */
	uint64_t trap_ns;	 /* most CPU time one thread spent in libiprobe's handlers */
};

/* Switches on (on=true) or off the probes of every function matching one of the globs (all
 * functions when nglobs is 0) in the target's modules.  The target must be attached.  0, or
 * -ENOENT when nothing matched, or -errno with a reason (the target exited, libiprobe did not
 * answer, unexpected bytes at a site). */
int pk_probe_switch(struct pk_probe_target *t, const char *const *globs, size_t nglobs, bool on,
		    unsigned kinds, struct pk_probe_switch_stats *st, char *err, size_t errlen);

/* Sets the attached target's budget: libiprobe keeps the estimated cost of its probes under
 * pct percent of the process's CPU time by switching off the hottest (0: no budget).  0 or
 * -errno with a reason. */
int pk_probe_budget(struct pk_probe_target *t, double pct, char *err, size_t errlen);

/* Sets (on) or clears registry flag `flag` (PK_IPROBE_F_*) of every function matching one of
 * the globs (all when nglobs is 0), registering them when setting; *funcs: how many.  0, or
 * -ENOENT when setting matched nothing, or -errno with a reason. */
int pk_probe_set_flag(struct pk_probe_target *t, const char *const *globs, size_t nglobs,
		      uint32_t flag, bool on, size_t *funcs, char *err, size_t errlen);

/* Writes the fperf counter list (types[i], configs[i]; n <= PK_IPROBE_FPERF_MAX, 0: none) every
 * thread of the attached target reads at fperf probes; threads reopen their counters at their
 * next such hit.  0 or -errno with a reason. */
int pk_probe_fperf_set(struct pk_probe_target *t, const uint32_t *types, const uint64_t *configs,
		       uint32_t n, char *err, size_t errlen);

/* Sets the sampling rate (record 1 call in 2^log2; 0: all, at most PK_IPROBE_SAMPLE_MAX) of
 * the functions matching globs (registering them), or with nglobs = 0 the target's global
 * rate (a probe records at the lower of the two rates); *funcs: functions set.  0 or -errno
 * with a reason. */
int pk_probe_sample_set(struct pk_probe_target *t, const char *const *globs, size_t nglobs,
			uint32_t log2, size_t *funcs, char *err, size_t errlen);

/* What the in-vivo tests of a target run with (see the invivo block of iprobe.h). */
struct pk_probe_invivo {
	uint32_t threshold;   /* probability x 2^32; UINT32_MAX: every entry; 0: none */
	uint64_t test;	      /* the test function's address in the target (pk_probe_invivo_load) */
	uint32_t max_live;    /* 1..PK_IPROBE_INVIVO_MAX_LIVE */
	uint32_t deadline_ms; /* a child alive longer is killed (0: never) */
	const char *log;      /* verdict log path, as the target sees it ("" for none) */
	const char *name;     /* the test's name for the log (truncated to 63 bytes) */
};

/* Writes cfg into the attached target's segment (threads fork nothing while it is written).
 * 0 or -errno with a reason. */
int pk_probe_invivo_set(struct pk_probe_target *t, const struct pk_probe_invivo *cfg, char *err,
			size_t errlen);

/* Checks that the shared library test_path exports pk_invivo_test, loads it into the target
 * (pk_inject_library; nothing is loaded when the check fails) and sets *addr to the test's
 * address there.  0, or -ENOENT (no such file, or no such symbol), -ENOEXEC (not a shared
 * library) or another -errno, with a reason. */
int pk_probe_invivo_load(struct pk_probe_target *t, const char *test_path, uint64_t *addr,
			 char *err, size_t errlen);

/* The invivo counters of the attached target's segment. */
struct pk_probe_invivo_counts {
	uint64_t forked, passed, failed, timed_out, crashed, skipped_busy, fork_failed;
	uint32_t live;
};

/* Reads the invivo counters of a checked segment into *c (its bytes are the target's: each
 * verdict count is clamped to forked and live to PK_IPROBE_INVIVO_MAX_LIVE); false when they
 * were inconsistent (then clamped). */
bool pk_probe_invivo_counts(const struct pk_iprobe_shm *s, struct pk_probe_invivo_counts *c);

/* The registry entry of the function at address addr, or NULL (t's index of the registry is
 * brought up to date first). */
const struct pk_iprobe_probe *pk_probe_find(struct pk_probe_target *t, uint64_t addr);

/* True when probe id's entry is in use (the registry is the target's: read it as untrusted). */
bool pk_probe_id_valid(const struct pk_probe_target *t, uint32_t id);

#endif
