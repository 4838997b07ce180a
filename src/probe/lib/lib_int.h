/* lib_int.h — what libiprobe.so's files share: the mapped segment, the handlers the stubs call,
 * and the text patcher.  Everything here runs inside the target process: no output, no
 * sanitizers, fds closed at once or kept high, and nothing on the hot path that allocates,
 * blocks or locks.
 */
#ifndef PK_PROBE_LIB_INT_H
#define PK_PROBE_LIB_INT_H

#include <stdbool.h>
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
