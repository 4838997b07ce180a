/* fuzz_probe_shm.c — libFuzzer target: a libiprobe segment as another process could leave it.
 * The input's first bytes overlay the header's fields (everything before the request array),
 * the rest becomes the registry and rings; magic, version and size are set right so that the
 * layout checks, the ring heads and the events are what varies.  The input's last bytes also
 * overlay the fperf and invivo blocks at the header's end.  The sampling rates (the header's
 * and each registry entry's) and the sampling markers come from the input too.  Promise:
 * pk_shm_check either refuses the segment or every format, and the fperf table (drained twice:
 * open calls kept between drains), reads it without reading outside it, and the events counted
 * never exceed what the rings can hold; the invivo counts as read never claim more verdicts
 * than children forked nor more live children than the cap.  Each reader gets the segment as
 * it was (dumps consume events).
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
	/* the fperf block and the invivo block after it */
	size_t fperf = sizeof(struct pk_iprobe_shm) - offsetof(struct pk_iprobe_shm, fperf_gen);
	struct pk_iprobe_shm *s, *orig = NULL;
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
	if (rest >= fperf)
		memcpy(&s->fperf_gen, data + size - fperf, fperf);
	s->magic = PK_IPROBE_MAGIC;
	s->version = PK_IPROBE_VERSION;
	s->size = total;
	s->tsc_hz = s->tsc_hz ? s->tsc_hz : 1;
	if (!pk_shm_check(s, total, err, sizeof(err))) {
		struct pk_probe_target t = { .pid = 1, .shm = s, .shm_size = total };
		struct pk_dump_table tb = { 0 };
		struct pk_probe_invivo_counts ic;
		struct pk_dump_stats st;

		pk_probe_invivo_counts(s, &ic);
		require(ic.passed + ic.failed + ic.timed_out + ic.crashed <= ic.forked &&
				ic.passed + ic.failed + ic.timed_out + ic.crashed >= ic.passed,
			"more verdicts than children");
		require(ic.live <= PK_IPROBE_INVIVO_MAX_LIVE, "more live children than the cap");

		orig = malloc(total);
		if (!orig)
			goto out;
		memcpy(orig, s, total);
		for (int pass = 0; pass < 2; pass++) {
			memcpy(s, orig, total);
			pk_probe_dump_table(&t, &tb, &st, err, sizeof(err));
			require(st.events + st.bad <= (uint64_t)s->max_threads * s->ring_events,
				"more events than the rings hold");
			require(tb.nfuncs <= s->max_probes && tb.nctr <= PK_IPROBE_FPERF_MAX,
				"a table larger than the registry");
		}
		pk_dump_table_release(&tb);
		for (int f = 0; f < PK_DUMP_NFORMATS; f++) {
			FILE *out = fopen("/dev/null", "we");

			if (!out)
				break;
			memcpy(s, orig, total);
			pk_probe_dump(&t, (enum pk_dump_format)f, out, &st, err, sizeof(err));
			fclose(out);
			require(st.events + st.bad <= (uint64_t)s->max_threads * s->ring_events,
				"more events than the rings hold");
		}
	}
out:
	free(orig);
	free(s);
	return 0;
}
