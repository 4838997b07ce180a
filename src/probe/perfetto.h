/* perfetto.h — a streaming writer of Perfetto's protobuf trace format (what ui.perfetto.dev and
 * trace_processor open), for traces too large for JSON: one process track, one track per
 * thread under it, slices that begin and end on a thread's track, and instant events.  Each
 * call writes one TracePacket to the FILE at once, framed as one `Trace.packet` field, so the
 * file is a valid Trace message at every packet boundary and no more than one packet is ever
 * held in memory.  Function names are interned: the first slice with a name carries it in the
 * packet's interned data, later ones refer to it by number.  The messages and their field
 * numbers are in perfetto_trace.proto.  Nothing is printed; errors are returned.
 *
 *   p = pk_perfetto_new(f, pid, "server");
 *   pk_perfetto_thread(p, tid);                  a thread's track; what follows goes on it
 *   pk_perfetto_slice_begin(p, ns, 3, "parse");  3: the caller's number for "parse"
 *   pk_perfetto_slice_end(p, ns);                ends the innermost open slice of the track
 *   pk_perfetto_instant(p, ns, "dropped 12");
 *   pk_perfetto_free(p);                         f stays open: the caller's
 */
#ifndef PK_PROBE_PERFETTO_H
#define PK_PROBE_PERFETTO_H

#include <stdint.h>
#include <stdio.h>

/* A packet larger than this is refused (-EMSGSIZE): names are symbol names, far shorter. */
#define PK_PERFETTO_MAX_PACKET (64u * 1024)
/* Name numbers (name_id) are below this (-E2BIG otherwise). */
#define PK_PERFETTO_MAX_NAMES (1u << 24)

struct pk_perfetto;

/* A writer to out (borrowed: the caller flushes and closes it) for process pid (> 0), named
 * process_name (may be NULL); writes the process's track at once.  NULL with errno set (no
 * memory, or the write failed).  Free it with pk_perfetto_free. */
struct pk_perfetto *pk_perfetto_new(FILE *out, int32_t pid, const char *process_name);

/* Writes the track of thread tid of the process; the events that follow go on it.  0 or
 * -errno. */
int pk_perfetto_thread(struct pk_perfetto *p, uint32_t tid) __attribute__((warn_unused_result));

/* Begins a slice named name at ns (nanoseconds, the trace's clock) on the current thread's
 * track.  name_id is the caller's small number for name (one name, one number, below
 * PK_PERFETTO_MAX_NAMES): the name is written the first time its number is used, and referred
 * to after that.  0 or -errno. */
int pk_perfetto_slice_begin(struct pk_perfetto *p, uint64_t ns, uint32_t name_id, const char *name)
	__attribute__((warn_unused_result));

/* Ends the current thread's innermost open slice at ns.  0 or -errno. */
int pk_perfetto_slice_end(struct pk_perfetto *p, uint64_t ns) __attribute__((warn_unused_result));

/* An instant event named name (written in full, not interned) at ns on the current thread's
 * track.  0 or -errno. */
int pk_perfetto_instant(struct pk_perfetto *p, uint64_t ns, const char *name)
	__attribute__((warn_unused_result));

/* Frees p (NULL is fine); the FILE is not touched. */
void pk_perfetto_free(struct pk_perfetto *p);

#endif
