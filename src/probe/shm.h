/* shm.h — the tools' view of a libiprobe segment: checking a mapped segment's header (its bytes
 * come from another process: untrusted), and reading a ring. */
#ifndef PK_PROBE_SHM_H
#define PK_PROBE_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parikshan/iprobe.h"

/* Checks that the header at s describes a segment of exactly `size` bytes whose registry and
 * rings lie inside it; 0 or -EINVAL with a reason. */
int pk_shm_check(const struct pk_iprobe_shm *s, size_t size, char *err, size_t errlen);

/* Ring i of a checked segment. */
struct pk_iprobe_ring *pk_shm_ring(const struct pk_iprobe_shm *s, uint32_t i);

/* Registry entry id of a checked segment (id < max_probes). */
struct pk_iprobe_probe *pk_shm_probe(const struct pk_iprobe_shm *s, uint32_t id);

/* Copies up to max events of ring r, from its tail, into out; returns the count (0: empty).
 * The events stay in the ring until pk_shm_ring_consume. */
size_t pk_shm_ring_read(const struct pk_iprobe_shm *s, struct pk_iprobe_ring *r,
			struct pk_iprobe_event *out, size_t max);

/* Frees the first n events of ring r (after pk_shm_ring_read returned at least n). */
void pk_shm_ring_consume(struct pk_iprobe_ring *r, size_t n);

#endif
