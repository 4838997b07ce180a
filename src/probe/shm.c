/* shm.c — reading a libiprobe segment from outside the target.  The header is checked once
 * (pk_shm_check) before any offset in it is used; a ring's head comes from the target and is
 * clamped to what the ring can hold, so a corrupt or hostile head never makes us read outside
 * the segment.
 */
#include <errno.h>
#include <string.h>

#include "common/errbuf.h"
#include "probe/shm.h"

int pk_shm_check(const struct pk_iprobe_shm *s, size_t size, char *err, size_t errlen)
{
	uint64_t probes_end, ring_min, rings_end;

	if (size < sizeof(*s))
		return pk_errbuf_set(-EINVAL, err, errlen, "segment of %zu bytes is too small",
				     size);
	if (s->magic != PK_IPROBE_MAGIC)
		return pk_errbuf_set(-EINVAL, err, errlen, "not a libiprobe segment (bad magic)");
	if (s->version != PK_IPROBE_VERSION)
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "libiprobe segment version %u (this parikshan reads %u)",
				     s->version, PK_IPROBE_VERSION);
	if (s->size != size)
		return pk_errbuf_set(-EINVAL, err, errlen, "segment says %llu bytes, file has %zu",
				     (unsigned long long)s->size, size);
	if (!s->ring_events || (s->ring_events & (s->ring_events - 1)) || !s->max_threads ||
	    !s->max_probes)
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "segment has bad ring or registry sizes");
	ring_min = sizeof(struct pk_iprobe_ring) +
		   (uint64_t)s->ring_events * sizeof(struct pk_iprobe_event);
	probes_end = s->probes_off + (uint64_t)s->max_probes * sizeof(struct pk_iprobe_probe);
	rings_end = s->rings_off + (uint64_t)s->max_threads * s->ring_bytes;
	if (s->ring_bytes < ring_min || s->ring_bytes % 8 || s->probes_off < sizeof(*s) ||
	    s->probes_off % 8 || s->rings_off % 64 || probes_end > s->rings_off ||
	    rings_end > size || rings_end < s->rings_off || s->probes_off > size)
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "segment layout lies outside its %zu bytes", size);
	return 0;
}

struct pk_iprobe_ring *pk_shm_ring(const struct pk_iprobe_shm *s, uint32_t i)
{
	return (struct pk_iprobe_ring *)((char *)s + s->rings_off + (uint64_t)i * s->ring_bytes);
}

struct pk_iprobe_probe *pk_shm_probe(const struct pk_iprobe_shm *s, uint32_t id)
{
	return (struct pk_iprobe_probe *)((char *)s + s->probes_off) + id;
}

size_t pk_shm_ring_read(const struct pk_iprobe_shm *s, struct pk_iprobe_ring *r,
			struct pk_iprobe_event *out, size_t max)
{
	const struct pk_iprobe_event *ev = (const struct pk_iprobe_event *)(r + 1);
	uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
	uint64_t n = head - tail, mask = s->ring_events - 1;

	if (head < tail || n > s->ring_events)
		n = 0; /* not a state a well-behaved producer leaves: read nothing */
	if (n > max)
		n = max;
	for (uint64_t i = 0; i < n; i++)
		out[i] = ev[(tail + i) & mask];
	return (size_t)n;
}

void pk_shm_ring_consume(struct pk_iprobe_ring *r, size_t n)
{
	__atomic_store_n(&r->tail, r->tail + n, __ATOMIC_RELEASE);
}
