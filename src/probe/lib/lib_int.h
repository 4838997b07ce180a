/* lib_int.h — what libiprobe.so's files share: the mapped segment, the handlers the stubs call,
 * and the text patcher.  Everything here runs inside the target process: no output, no
 * sanitizers, fds closed at once or kept high, and nothing on the hot path that allocates,
 * blocks or locks.
 */
#ifndef PK_PROBE_LIB_INT_H
#define PK_PROBE_LIB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parikshan/iprobe.h"

#define PK_LIB_EXPORT __attribute__((visibility("default")))

/* The segment, mapped by pk_lib_shm_open at load (NULL when that failed: probes then record
 * nothing). */
extern struct pk_iprobe_shm *pk_lib_shm;

/* Hot path of a site compiled as a call to __cyg_profile_func_*: its stub loads the probe into
 * esi (the call's second argument) and jumps here. */
void pk_iprobe_call_hit(void *fn, uint32_t probe);

/* Hot path of a patchable function entry: its stub saves the argument registers, then calls
 * this, which touches no vector register. */
void pk_iprobe_entry_hit(uint32_t probe);

/* Creates and maps /dev/shm/parikshan-iprobe.<pid>; 0 or -errno. */
int pk_lib_shm_open(void);

/* Starts a batch of pk_lib_patch calls: the process's mappings are read again at its first
 * request (control thread only). */
void pk_lib_patch_begin(void);

/* Executes one request of a batch (control thread only); returns its result. */
int pk_lib_patch(struct pk_iprobe_req *req);

/* Switches the requests of the batch of n that pk_lib_patch left at -EAGAIN, no thread stopped
 * (patch.c, trap.c): each switched gets PK_IPROBE_DEFERRED; those it could not switch keep
 * -EAGAIN and their old bytes (the tool writes them through ptrace). */
void pk_lib_patch_deferred(struct pk_iprobe_req *req, uint32_t n);

/* What the int3 handling cost the program's threads since the last take (trap.c). */
struct pk_lib_trap_stats {
	uint64_t longest_ns; /* most CPU time one thread spent in a trap or sweep handler */
	uint32_t trapped;    /* int3s of ours taken */
	uint32_t signalled;  /* threads sent the sweep's signal */
	uint32_t moved;	     /* of them: PC moved past a site's NOPs */
};

/* Installs the SIGTRAP handler of the int3 bracket (again, if the program replaced it); 0 or
 * -errno. */
int pk_lib_trap_ready(void);

/* Adds the n sites to the table of sites that may hold our int3 (before it is written); 0 or
 * -ENOMEM. */
int pk_lib_trap_add(const uint64_t *site, size_t n);

/* Moves every other thread whose PC lies inside one of the n 5-byte entry sites (after the
 * first byte) past it, by a signal each handles itself; waits up to timeout_ns for each to
 * have handled it or exited.  0, -ETIMEDOUT (a thread blocks the signal, or is stopped),
 * -EBUSY (no real-time signal is free), or -errno. */
int pk_lib_sweep(const uint64_t *entry, size_t n, uint64_t timeout_ns);

/* Copies the stats into *out and zeroes them. */
void pk_lib_trap_stats_take(struct pk_lib_trap_stats *out);

/* Makes the writes of a batch visible to every thread's instruction stream (membarrier with
 * core serialisation); 0 or -errno. */
int pk_lib_sync_cores(void);

/* Registers the process for pk_lib_sync_cores; 0 or -errno. */
int pk_lib_sync_init(void);

/* Writes a marker event (enum pk_iprobe_mark, its argument) into the calling thread's ring. */
void pk_lib_mark(uint32_t kind, uint32_t aux);

/* Measures what one event costs the thread that records it (the handler into a ring), in
 * picoseconds; 0 when it cannot.  Control thread only, at start. */
uint64_t pk_lib_event_ps(void);

/* Switches off (unpatches) every call site of probe id and marks it PK_IPROBE_F_AUTOOFF
 * (entry sites: their handler checks that flag); 0 or -errno. */
int pk_lib_autooff(uint32_t id);

/* The slow path of a probe whose registry flags include one of PK_IPROBE_F_HOOKS: called by
 * both handlers right after an entry's event is recorded and right before an exit's (probe:
 * id << 1 | exit bit; flags: the registry entry's, as the handler read them).  Runs on the
 * probed thread with general registers only saved (see ring.c). */
void pk_lib_hook(uint32_t probe, uint32_t flags);

/* Writes a counter event (PK_IPROBE_MARK_COUNTER; aux: counter index | PK_IPROBE_CTR_EXIT at
 * an exit; value in place of the time) into the calling thread's ring. */
void pk_lib_counter(uint32_t aux, uint64_t value);

/* The index of the calling thread's ring, or -1 when it has none. */
int pk_lib_ring_index(void);

/* fperf (fperf.c): allocates the per-ring counter state at load; 0 or -errno. */
int pk_lib_fperf_init(void);

/* fperf: reads the calling thread's counters into its ring (probe: id << 1 | exit bit). */
void pk_lib_fperf_hit(uint32_t probe);

/* fperf: closes the counters of ring `ring` (control thread, before the ring is freed). */
void pk_lib_fperf_release(uint32_t ring);

/* invivo (invivo.c): at a flagged entry, maybe forks a child that runs the tools' test (probe:
 * id << 1). */
void pk_lib_invivo_hit(uint32_t probe);

/* invivo: reaps and counts finished children, kills those past the deadline (control thread,
 * every tick); true while children are alive. */
bool pk_lib_invivo_reap(void);

/* Forgets the calling thread's ring (after fork, in the child). */
void pk_lib_ring_forget(void);

#endif
