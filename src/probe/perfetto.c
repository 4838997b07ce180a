/* perfetto.c — the Perfetto trace writer of perfetto.h.  Every packet is built on the stack as
 * protobuf-c messages (generated from perfetto_trace.proto), packed into one reusable buffer
 * and written at once as one field of the Trace message:
 *
 *   file:   | 0x0a | varint len | TracePacket (len bytes) | 0x0a | varint len | TracePacket | ...
 *             field 1, length-delimited: Trace.packet, repeated
 *
 * so the file parses as a Trace however many packets it holds.  All packets are on one packet
 * sequence (trusted_packet_sequence_id SEQ_ID).  The first packet says the sequence's
 * incremental state starts cleared; every track event says it needs that state, since it may
 * refer to a name by its iid (an EventName written earlier on the sequence in interned_data).
 * The iid of a name is the caller's name_id + 1 (iid 0 means "none" to readers); a byte per
 * name_id remembers which names were written.
 *
 * Track uuids: the process's is its pid, a thread's tid << 32 | THREAD_BIT | pid (a pid is
 * positive, so bit 31 is free to tell the two apart, even for a tid 0 from a corrupt ring):
 * unique, short varints (every event carries one), and easy to recompute reading the trace.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "probe/perfetto.h"
#include "probe/perfetto_trace.pb-c.h"

#define SEQ_ID 1u
#define THREAD_BIT (1ull << 31)
#define TRACE_PACKET_TAG 0x0a /* field 1 (Trace.packet), wire type 2 (length-delimited) */

struct pk_perfetto {
	FILE *out; /* borrowed */
	int32_t pid;
	uint64_t process_uuid;
	uint64_t track_uuid; /* the current thread's track; 0 before pk_perfetto_thread */
	bool started;	     /* the first packet (incremental state cleared) is written */
	uint8_t *pkt;	     /* packing buffer, pkt_cap bytes, at most PK_PERFETTO_MAX_PACKET */
	size_t pkt_cap;
	uint8_t *interned; /* interned[name_id]: the name is written on the sequence */
	size_t interned_cap;
};

/* Writes the framing of a length-delimited field: its tag, then len as a varint. */
static int put_field_header(FILE *out, uint8_t tag, uint64_t len)
{
	uint8_t hdr[11]; /* a tag byte and a varint of up to 10 bytes */
	size_t n = 0;

	hdr[n++] = tag;
	do {
		hdr[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len);
	if (fwrite(hdr, 1, n, out) != n)
		return errno ? -errno : -EIO;
	return 0;
}

/* Packs pk and writes it as one Trace.packet field, on our sequence. */
static int put_packet(struct pk_perfetto *p, PkPerfetto__TracePacket *pk)
{
	size_t len, packed;
	int rc;

	pk->has_trusted_packet_sequence_id = 1;
	pk->trusted_packet_sequence_id = SEQ_ID;
	if (!p->started) {
		pk->has_sequence_flags = 1;
		pk->sequence_flags |=
			PK_PERFETTO__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_INCREMENTAL_STATE_CLEARED;
	}
	len = pk_perfetto__trace_packet__get_packed_size(pk);
	if (len > PK_PERFETTO_MAX_PACKET)
		return -EMSGSIZE;
	if (len > p->pkt_cap) {
		uint8_t *nb = realloc(p->pkt, len);

		if (!nb)
			return -ENOMEM;
		p->pkt = nb;
		p->pkt_cap = len;
	}
	packed = pk_perfetto__trace_packet__pack(pk, p->pkt);
	PK_BUG_ON(packed != len);
	errno = 0;
	rc = put_field_header(p->out, TRACE_PACKET_TAG, packed);
	if (rc)
		return rc;
	if (packed && fwrite(p->pkt, 1, packed, p->out) != packed)
		return errno ? -errno : -EIO;
	p->started = true;
	return 0;
}

/* Writes ev (its type and name set by the caller) at ns on the current thread's track, with
 * the names in interned (may be NULL) made known to the sequence first. */
static int put_event(struct pk_perfetto *p, uint64_t ns, PkPerfetto__TrackEvent *ev,
		     PkPerfetto__InternedData *interned)
{
	PkPerfetto__TracePacket pk = PK_PERFETTO__TRACE_PACKET__INIT;

	if (!p->track_uuid)
		return -EINVAL; /* no thread yet */
	ev->has_track_uuid = 1;
	ev->track_uuid = p->track_uuid;
	pk.has_timestamp = 1;
	pk.timestamp = ns;
	pk.track_event = ev;
	pk.interned_data = interned;
	pk.has_sequence_flags = 1;
	pk.sequence_flags = PK_PERFETTO__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_NEEDS_INCREMENTAL_STATE;
	return put_packet(p, &pk);
}

struct pk_perfetto *pk_perfetto_new(FILE *out, int32_t pid, const char *process_name)
{
	struct pk_perfetto *p;
	PkPerfetto__TracePacket pk = PK_PERFETTO__TRACE_PACKET__INIT;
	PkPerfetto__TrackDescriptor td = PK_PERFETTO__TRACK_DESCRIPTOR__INIT;
	PkPerfetto__ProcessDescriptor pd = PK_PERFETTO__PROCESS_DESCRIPTOR__INIT;
	int rc;

	if (pid <= 0) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->out = out;
	p->pid = pid;
	p->process_uuid = (uint64_t)pid;
	pd.has_pid = 1;
	pd.pid = pid;
	pd.process_name = (char *)process_name;
	td.has_uuid = 1;
	td.uuid = p->process_uuid;
	td.process = &pd;
	pk.track_descriptor = &td;
	rc = put_packet(p, &pk);
	if (rc) {
		pk_perfetto_free(p);
		errno = -rc;
		return NULL;
	}
	return p;
}

int pk_perfetto_thread(struct pk_perfetto *p, uint32_t tid)
{
	PkPerfetto__TracePacket pk = PK_PERFETTO__TRACE_PACKET__INIT;
	PkPerfetto__TrackDescriptor td = PK_PERFETTO__TRACK_DESCRIPTOR__INIT;
	PkPerfetto__ThreadDescriptor thd = PK_PERFETTO__THREAD_DESCRIPTOR__INIT;
	int rc;

	thd.has_pid = 1;
	thd.pid = p->pid;
	thd.has_tid = 1;
	thd.tid = tid;
	td.has_uuid = 1;
	td.uuid = (uint64_t)tid << 32 | THREAD_BIT | p->process_uuid;
	td.has_parent_uuid = 1;
	td.parent_uuid = p->process_uuid;
	td.thread = &thd;
	pk.track_descriptor = &td;
	rc = put_packet(p, &pk);
	if (rc)
		return rc;
	p->track_uuid = td.uuid;
	return 0;
}

/* Marks name_id written; 1 when it was not before, 0 when it was, or -errno. */
static int intern_first(struct pk_perfetto *p, uint32_t name_id)
{
	if (name_id >= PK_PERFETTO_MAX_NAMES)
		return -E2BIG;
	if (name_id >= p->interned_cap) {
		size_t ncap = p->interned_cap ? p->interned_cap : 256;
		uint8_t *ni;

		while (ncap <= name_id)
			ncap *= 2;
		ni = realloc(p->interned, ncap);
		if (!ni)
			return -ENOMEM;
		memset(ni + p->interned_cap, 0, ncap - p->interned_cap);
		p->interned = ni;
		p->interned_cap = ncap;
	}
	if (p->interned[name_id])
		return 0;
	p->interned[name_id] = 1;
	return 1;
}

int pk_perfetto_slice_begin(struct pk_perfetto *p, uint64_t ns, uint32_t name_id, const char *name)
{
	PkPerfetto__TrackEvent ev = PK_PERFETTO__TRACK_EVENT__INIT;
	PkPerfetto__InternedData idata = PK_PERFETTO__INTERNED_DATA__INIT;
	PkPerfetto__EventName en = PK_PERFETTO__EVENT_NAME__INIT;
	PkPerfetto__EventName *ens[1] = { &en };
	int first = intern_first(p, name_id), rc;

	if (first < 0)
		return first;
	ev.has_type = 1;
	ev.type = PK_PERFETTO__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN;
	ev.has_name_iid = 1;
	ev.name_iid = (uint64_t)name_id + 1;
	if (first) {
		en.has_iid = 1;
		en.iid = ev.name_iid;
		en.name = (char *)name;
		idata.n_event_names = 1;
		idata.event_names = ens;
	}
	rc = put_event(p, ns, &ev, first ? &idata : NULL);
	if (rc && first)
		p->interned[name_id] = 0; /* not written: write it with the next use */
	return rc;
}

int pk_perfetto_slice_end(struct pk_perfetto *p, uint64_t ns)
{
	PkPerfetto__TrackEvent ev = PK_PERFETTO__TRACK_EVENT__INIT;

	ev.has_type = 1;
	ev.type = PK_PERFETTO__TRACK_EVENT__TYPE__TYPE_SLICE_END;
	return put_event(p, ns, &ev, NULL);
}

int pk_perfetto_instant(struct pk_perfetto *p, uint64_t ns, const char *name)
{
	PkPerfetto__TrackEvent ev = PK_PERFETTO__TRACK_EVENT__INIT;

	ev.has_type = 1;
	ev.type = PK_PERFETTO__TRACK_EVENT__TYPE__TYPE_INSTANT;
	ev.name = (char *)name;
	return put_event(p, ns, &ev, NULL);
}

void pk_perfetto_free(struct pk_perfetto *p)
{
	if (!p)
		return;
	free(p->pkt);
	free(p->interned);
	free(p);
}
