/* fuzz_probe_shm.c — libFuzzer target: a libiprobe segment as another process could leave it.
 * The input's first bytes overlay the header's fields (everything before the request array),
 * the rest becomes the registry and rings; magic, version and size are set right so that the
 * layout checks, the ring heads and the events are what varies.  Promise: pk_shm_check either
 * refuses the segment or every format dumps it without reading outside it, and the events
 * counted never exceed what the rings can hold.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/dump.h"
#include "probe/shm.h"

#define FUZZ_TARGET "fuzz_probe_shm"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t hdr = offsetof(struct pk_iprobe_shm, req), total, rest;
	struct pk_iprobe_shm *s;
	char err[256];

	if (size < hdr || size > (1u << 20))
		return 0;
	rest = size - hdr;
	total = (sizeof(struct pk_iprobe_shm) + rest + 63) & ~(size_t)63;
	s = aligned_alloc(64, total);
	if (!s)
		return 0;
	memset(s, 0, total);
	memcpy(s, data, hdr);
	memcpy((char *)s + sizeof(*s), data + hdr, rest);
	s->magic = PK_IPROBE_MAGIC;
	s->version = PK_IPROBE_VERSION;
	s->size = total;
	s->tsc_hz = s->tsc_hz ? s->tsc_hz : 1;
	if (!pk_shm_check(s, total, err, sizeof(err))) {
		struct pk_probe_target t = { .pid = 1, .shm = s, .shm_size = total };

		for (int f = 0; f < PK_DUMP_NFORMATS; f++) {
			struct pk_dump_stats st;
			FILE *out = fopen("/dev/null", "we");

			if (!out)
				break;
			pk_probe_dump(&t, (enum pk_dump_format)f, out, &st, err, sizeof(err));
			fclose(out);
			require(st.events + st.bad <= (uint64_t)s->max_threads * s->ring_events,
				"more events than the rings hold");
		}
	}
	free(s);
	return 0;
}
