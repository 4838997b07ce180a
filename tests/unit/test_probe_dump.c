/* test_probe_dump.c — draining rings into every format, on a segment built in memory exactly as
 * libiprobe lays it out: pairing of entries and exits, inclusive/exclusive time, folded sums
 * equal to the table's exclusive times, drops shown in every format, Chrome output that parses
 * as JSON in the trace-event shape, a Perfetto trace that protoc decodes as a Trace with the same
 * events (and whose tracks and interned names hold together), and a corrupt header or ring
 * head refused or clamped. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/dump.h"
#include "probe/perfetto_trace.pb-c.h"
#include "probe/shm.h"
#include "unit.h"

#define RING_EVENTS 64u
#define MAX_THREADS 4u
#define MAX_PROBES 8u
#define HZ 1000000000ull /* 1 tick = 1 ns: times in the test read as ns */

struct seg {
	struct pk_iprobe_shm *s;
	size_t size;
};

static struct seg seg_new(void)
{
	struct seg g;
	uint64_t probes_off = (sizeof(struct pk_iprobe_shm) + 63) & ~63ull;
	uint64_t rings_off =
		(probes_off + MAX_PROBES * sizeof(struct pk_iprobe_probe) + 63) & ~63ull;
	uint32_t ring_bytes =
		sizeof(struct pk_iprobe_ring) + RING_EVENTS * sizeof(struct pk_iprobe_event);

	g.size = rings_off + (uint64_t)ring_bytes * MAX_THREADS;
	g.s = aligned_alloc(64, (g.size + 63) & ~(size_t)63);
	memset(g.s, 0, g.size);
	g.s->magic = PK_IPROBE_MAGIC;
	g.s->version = PK_IPROBE_VERSION;
	g.s->size = g.size;
	g.s->probes_off = probes_off;
	g.s->rings_off = rings_off;
	g.s->max_probes = MAX_PROBES;
	g.s->max_threads = MAX_THREADS;
	g.s->ring_events = RING_EVENTS;
	g.s->ring_bytes = ring_bytes;
	g.s->tsc_hz = HZ;
	g.s->tsc0 = 1000;
	return g;
}

static void add_probe(struct seg *g, const char *name)
{
	struct pk_iprobe_probe *p = pk_shm_probe(g->s, g->s->nprobes++);

	p->flags = PK_IPROBE_F_USED;
	p->addr = 0x1000 + g->s->nprobes;
	snprintf(p->name, sizeof(p->name), "%s", name);
}

/* Appends an event to ring i (as the producer would). */
static void put(struct seg *g, uint32_t i, uint64_t tsc, uint32_t probe, uint32_t aux)
{
	struct pk_iprobe_ring *r = pk_shm_ring(g->s, i);
	struct pk_iprobe_event *ev = (struct pk_iprobe_event *)(r + 1);

	r->state = PK_IPROBE_RING_OWNED;
	r->tid = 100 + i;
	ev[r->head % RING_EVENTS] =
		(struct pk_iprobe_event){ .tsc = tsc, .probe = probe, .aux = aux };
	r->head++;
}

#define ENTER(id) ((uint32_t)(id) << 1)
#define LEAVE(id) ((uint32_t)(id) << 1 | PK_IPROBE_EXIT)

/* Thread 0: main(0) [1000..2000] calls a(1) [1100..1400] which calls b(2) [1200..1300], then
 * b again [1500..1600].  Thread 1: a [5000..5500], then 3 drops, then b [6000..6100]. */
static void fill(struct seg *g)
{
	add_probe(g, "main");
	add_probe(g, "a");
	add_probe(g, "b");
	put(g, 0, 1000 + 1000, ENTER(0), 0);
	put(g, 0, 1000 + 1100, ENTER(1), 0);
	put(g, 0, 1000 + 1200, ENTER(2), 0);
	put(g, 0, 1000 + 1300, LEAVE(2), 0);
	put(g, 0, 1000 + 1400, LEAVE(1), 0);
	put(g, 0, 1000 + 1500, ENTER(2), 0);
	put(g, 0, 1000 + 1600, LEAVE(2), 0);
	put(g, 0, 1000 + 2000, LEAVE(0), 0);
	put(g, 1, 1000 + 5000, ENTER(1), 0);
	put(g, 1, 1000 + 5500, LEAVE(1), 0);
	put(g, 1, 1000 + 5900, PK_IPROBE_MARK_BASE | PK_IPROBE_MARK_DROPS, 3);
	put(g, 1, 1000 + 6000, ENTER(2), 0);
	put(g, 1, 1000 + 6100, LEAVE(2), 0);
}

/* Runs a dump of fmt into a memory buffer; the caller frees it. */
static char *run(struct seg *g, enum pk_dump_format fmt, struct pk_dump_stats *st, int *rc)
{
	struct pk_probe_target t = { .pid = 4242, .shm = g->s, .shm_size = g->size };
	char *buf = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*rc = pk_probe_dump(&t, fmt, f, st, err, sizeof(err));
	fclose(f);
	if (*rc)
		printf("  dump: %s\n", err);
	return buf;
}

static void test_check_header(void)
{
	struct seg g = seg_new();
	char err[128];

	CHECK_EQ_INT(pk_shm_check(g.s, g.size, err, sizeof(err)), 0);
	CHECK_EQ_INT(pk_shm_check(g.s, g.size - 1, err, sizeof(err)), -EINVAL);
	g.s->ring_events = 48; /* not a power of two */
	CHECK_EQ_INT(pk_shm_check(g.s, g.size, err, sizeof(err)), -EINVAL);
	g.s->ring_events = RING_EVENTS;
	g.s->rings_off = g.size; /* rings outside */
	CHECK_EQ_INT(pk_shm_check(g.s, g.size, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "outside") != NULL);
	g.s->rings_off = ((sizeof(struct pk_iprobe_shm) + 63) & ~63ull);
	CHECK_EQ_INT(pk_shm_check(g.s, g.size, err, sizeof(err)), -EINVAL); /* overlaps registry */
	g.s->magic = 0;
	CHECK_EQ_INT(pk_shm_check(g.s, g.size, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "magic") != NULL);
	free(g.s);
}

/* Calls, inclusive and exclusive times, drops in the table. */
static void test_table(void)
{
	struct seg g = seg_new();
	struct pk_dump_stats st;
	int rc;
	char *out;

	fill(&g);
	out = run(&g, PK_DUMP_TABLE, &st, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(st.events, 12);
	CHECK_EQ_INT(st.drops, 3);
	CHECK_EQ_INT(st.threads, 2);
	/* main: 1 call, incl 1000 ns, excl 1000 - 300 (a) - 100 (b) = 600 ns */
	CHECK(strstr(out, "main") && strstr(out, "1.000") && strstr(out, "0.600"));
	/* a: 2 calls, incl 300 + 500 = 800, excl 200 + 500 = 700 */
	CHECK(strstr(out, "\na ") != NULL);
	CHECK(strstr(out, "0.800") && strstr(out, "0.700"));
	/* b: 3 calls, 300 ns */
	CHECK(strstr(out, "0.300") != NULL);
	CHECK(strstr(out, "dropped 3") != NULL);
	/* the rings are consumed: a second dump has nothing */
	free(out);
	out = run(&g, PK_DUMP_TABLE, &st, &rc);
	CHECK_EQ_INT(st.events, 0);
	free(out);
	free(g.s);
}

/* Folded stacks: per leaf function, the sums equal the table's exclusive times. */
static void test_folded(void)
{
	struct seg g = seg_new();
	struct pk_dump_stats st;
	int rc;
	char *out, *line, *save = NULL;
	unsigned long long sum_b = 0, sum_a = 0, sum_main = 0;

	fill(&g);
	out = run(&g, PK_DUMP_FOLDED, &st, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK(strstr(out, "tid 100;main;a;b 100\n") != NULL);
	CHECK(strstr(out, "tid 100;main;b 100\n") != NULL);
	CHECK(strstr(out, "tid 101;b 100\n") != NULL);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(line, ' '), *leaf;
		unsigned long long v = strtoull(sp + 1, NULL, 10);

		*sp = 0;
		leaf = strrchr(line, ';');
		leaf = leaf ? leaf + 1 : line;
		if (!strcmp(leaf, "b"))
			sum_b += v;
		else if (!strcmp(leaf, "a"))
			sum_a += v;
		else if (!strcmp(leaf, "main"))
			sum_main += v;
	}
	CHECK_EQ_INT(sum_b, 300);
	CHECK_EQ_INT(sum_a, 700);
	CHECK_EQ_INT(sum_main, 600);
	free(out);
	free(g.s);
}

/* Chrome: parses as JSON; traceEvents with B/E pairs, a thread name per thread, and the drop
 * marker as an instant event. */
static void test_chrome(void)
{
	struct seg g = seg_new();
	struct pk_dump_stats st;
	int rc, b = 0, e = 0, inst = 0, meta = 0;
	char *out;
	cJSON *root, *evs, *ev;

	fill(&g);
	out = run(&g, PK_DUMP_CHROME, &st, &rc);
	CHECK_EQ_INT(rc, 0);
	root = cJSON_Parse(out);
	CHECK(root != NULL);
	evs = root ? cJSON_GetObjectItem(root, "traceEvents") : NULL;
	CHECK(cJSON_IsArray(evs));
	cJSON_ArrayForEach(ev, evs)
	{
		const char *ph = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "ph"));

		CHECK(ph && cJSON_IsNumber(cJSON_GetObjectItem(ev, "pid")) &&
		      cJSON_IsNumber(cJSON_GetObjectItem(ev, "tid")));
		if (!ph)
			continue;
		b += !strcmp(ph, "B");
		e += !strcmp(ph, "E");
		meta += !strcmp(ph, "M");
		if (!strcmp(ph, "i")) {
			inst++;
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "name")),
				  "dropped 3");
		}
	}
	CHECK_EQ_INT(b, 6);
	CHECK_EQ_INT(e, 6);
	CHECK_EQ_INT(meta, 2);
	CHECK_EQ_INT(inst, 1);
	cJSON_Delete(root);
	free(out);
	free(g.s);
}

/* How many times needle occurs in hay. */
static int count_str(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* What protoc --decode makes of the trace at path, with our .proto (from the repository's
 * root: PK_ROOT, or the working directory); the caller frees it.  NULL when protoc fails. */
static char *protoc_decode(const char *path)
{
	const char *root = getenv("PK_ROOT");
	char cmd[1024], chunk[4096], *text = NULL;
	size_t len = 0, n;
	FILE *p, *mem;
	int status;

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && protoc --proto_path=src --decode=pk_perfetto.Trace "
		 "src/probe/perfetto_trace.proto < '%s'",
		 root ? root : ".", path);
	p = popen(cmd, "re");
	if (!p)
		return NULL;
	mem = open_memstream(&text, &len);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, n, mem);
	fclose(mem);
	status = pclose(p);
	if (status != 0) {
		printf("  protoc exited with status %d\n", status);
		free(text);
		return NULL;
	}
	return text;
}

/* Unpacks the trace in path with protobuf-c (our generated code); NULL on failure. */
static PkPerfetto__Trace *unpack_file(const char *path)
{
	FILE *f = fopen(path, "rbe");
	PkPerfetto__Trace *tr = NULL;
	uint8_t *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc(len > 0 ? (size_t)len : 1);
	if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len)
		tr = pk_perfetto__trace__unpack(NULL, (size_t)len, buf);
	free(buf);
	fclose(f);
	return tr;
}

/* The names of the slices begun on track uuid, in order, resolved through the interned names
 * written before them ("a,b,..."), into out; also counts the ends and instants of the track.
 * An iid used before its name was written shows as "?". */
static void track_events(const PkPerfetto__Trace *tr, uint64_t uuid, char *out, size_t outlen,
			 int *ends, int *instants)
{
	const char *names[16] = { 0 };
	size_t n = 0;

	out[0] = 0;
	*ends = *instants = 0;
	for (size_t i = 0; i < tr->n_packet; i++) {
		const PkPerfetto__TracePacket *pk = tr->packet[i];
		const PkPerfetto__TrackEvent *ev = pk->track_event;

		for (size_t j = 0; pk->interned_data && j < pk->interned_data->n_event_names; j++) {
			const PkPerfetto__EventName *en = pk->interned_data->event_names[j];

			if (en->iid < 16)
				names[en->iid] = en->name;
		}
		if (!ev || ev->track_uuid != uuid)
			continue;
		if (ev->type == PK_PERFETTO__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN) {
			const char *nm = ev->name_iid < 16 && names[ev->name_iid]
						 ? names[ev->name_iid]
						 : "?";

			n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? "," : "", nm);
		} else if (ev->type == PK_PERFETTO__TRACK_EVENT__TYPE__TYPE_SLICE_END) {
			(*ends)++;
		} else if (ev->type == PK_PERFETTO__TRACK_EVENT__TYPE__TYPE_INSTANT) {
			(*instants)++;
		}
	}
}

/* Perfetto: protoc decodes the file as a Trace holding the events of the other formats; with
 * protobuf-c, every event is on a thread track described before it, slices nest per thread,
 * names resolve through interned data written before their use, times are in ns. */
static void test_perfetto(void)
{
	struct seg g = seg_new();
	struct pk_probe_target t = { .pid = 4242, .shm = g.s, .shm_size = g.size };
	struct pk_dump_stats st;
	char path[] = "/tmp/pk-test-perfetto-XXXXXX", err[256] = "", seq[128];
	uint64_t uuid100 = 0, uuid101 = 0, process_uuid = 0;
	int fd, rc, ends, instants;
	PkPerfetto__Trace *tr;
	char *text;
	FILE *f;

	fill(&g);
	fd = mkostemp(path, O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out_seg;
	f = fdopen(fd, "w");
	rc = pk_probe_dump(&t, PK_DUMP_PERFETTO, f, &st, err, sizeof(err));
	fclose(f);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(st.events, 12);
	CHECK_EQ_INT(st.drops, 3);

	text = protoc_decode(path);
	CHECK(text != NULL);
	if (text) {
		CHECK_EQ_INT(count_str(text, "type: TYPE_SLICE_BEGIN"), 6);
		CHECK_EQ_INT(count_str(text, "type: TYPE_SLICE_END"), 6);
		CHECK_EQ_INT(count_str(text, "type: TYPE_INSTANT"), 1);
		CHECK_EQ_INT(count_str(text, "name: \"dropped 3\""), 1);
		/* each name interned once */
		CHECK_EQ_INT(count_str(text, "event_names {"), 3);
		CHECK_EQ_INT(count_str(text, "name: \"main\""), 1);
		CHECK_EQ_INT(count_str(text, "name: \"a\""), 1);
		CHECK_EQ_INT(count_str(text, "name: \"b\""), 1);
		CHECK_EQ_INT(count_str(text, "thread {"), 2);
		CHECK_EQ_INT(count_str(text, "tid: 100\n"), 1);
		CHECK_EQ_INT(count_str(text, "tid: 101\n"), 1);
		CHECK_EQ_INT(count_str(text, "pid: 4242\n"), 3); /* the process and 2 threads */
		free(text);
	}

	tr = unpack_file(path);
	CHECK(tr != NULL);
	if (!tr)
		goto out_file;
	CHECK(tr->n_packet > 0 &&
	      tr->packet[0]->sequence_flags ==
		      PK_PERFETTO__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_INCREMENTAL_STATE_CLEARED);
	for (size_t i = 0; i < tr->n_packet; i++) {
		const PkPerfetto__TracePacket *pk = tr->packet[i];
		const PkPerfetto__TrackDescriptor *td = pk->track_descriptor;

		CHECK_EQ_INT(pk->trusted_packet_sequence_id, 1);
		if (td && td->process)
			process_uuid = td->uuid;
		if (td && td->thread && td->thread->tid == 100)
			uuid100 = td->uuid;
		if (td && td->thread && td->thread->tid == 101)
			uuid101 = td->uuid;
		if (td && td->thread)
			CHECK(td->parent_uuid == process_uuid && process_uuid);
		if (pk->track_event) {
			/* on a thread described before, and needing the interned names */
			CHECK(pk->track_event->track_uuid == uuid100 ||
			      pk->track_event->track_uuid == uuid101);
			CHECK(pk->track_event->track_uuid);
			CHECK(pk->sequence_flags &
			      PK_PERFETTO__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_NEEDS_INCREMENTAL_STATE);
		}
	}
	CHECK(uuid100 && uuid101 && uuid100 != uuid101 && process_uuid != uuid100);
	track_events(tr, uuid100, seq, sizeof(seq), &ends, &instants);
	CHECK_STR(seq, "main,a,b,b");
	CHECK_EQ_INT(ends, 4);
	CHECK_EQ_INT(instants, 0);
	track_events(tr, uuid101, seq, sizeof(seq), &ends, &instants);
	CHECK_STR(seq, "a,b");
	CHECK_EQ_INT(ends, 2);
	CHECK_EQ_INT(instants, 1);
	/* times in ns from tsc0: main begins at 1000, the drop marker is at 4900 */
	for (size_t i = 0; i < tr->n_packet; i++) {
		const PkPerfetto__TrackEvent *ev = tr->packet[i]->track_event;

		if (ev && ev->type == PK_PERFETTO__TRACK_EVENT__TYPE__TYPE_INSTANT)
			CHECK_EQ_INT(tr->packet[i]->timestamp, 4900);
		if (ev && ev->track_uuid == uuid100 &&
		    ev->type == PK_PERFETTO__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN) {
			CHECK_EQ_INT(tr->packet[i]->timestamp, 1000);
			break;
		}
	}
	pk_perfetto__trace__free_unpacked(tr, NULL);
out_file:
	unlink(path);
out_seg:
	free(g.s);
}

/* Perfetto into a full disk: the dump fails with an error, not silently. */
static void test_perfetto_write_error(void)
{
	struct seg g = seg_new();
	struct pk_probe_target t = { .pid = 4242, .shm = g.s, .shm_size = g.size };
	struct pk_dump_stats st;
	char err[256] = "";
	FILE *f = fopen("/dev/full", "we");
	int rc;

	fill(&g);
	CHECK(f != NULL);
	if (f) {
		rc = pk_probe_dump(&t, PK_DUMP_PERFETTO, f, &st, err, sizeof(err));
		fclose(f);
		CHECK(rc < 0);
		CHECK(err[0] != 0);
	}
	free(g.s);
}

/* JSON and text: every event, the drop marker, names escaped. */
static void test_json_text(void)
{
	struct seg g = seg_new();
	struct pk_dump_stats st;
	int rc;
	char *out;
	cJSON *root;

	fill(&g);
	snprintf(pk_shm_probe(g.s, 2)->name, sizeof(pk_shm_probe(g.s, 2)->name), "b\"q");
	out = run(&g, PK_DUMP_JSON, &st, &rc);
	CHECK_EQ_INT(rc, 0);
	root = cJSON_Parse(out);
	CHECK(root != NULL);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "events")), 13);
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "drops")), 3);
	cJSON_Delete(root);
	free(out);

	g.s->tsc0 = 1000;
	for (uint32_t i = 0; i < MAX_THREADS; i++)
		memset(pk_shm_ring(g.s, i), 0, sizeof(struct pk_iprobe_ring));
	g.s->nprobes = 0;
	fill(&g);
	out = run(&g, PK_DUMP_TEXT, &st, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK(strstr(out, "-> main") && strstr(out, "  -> a") && strstr(out, "    -> b"));
	CHECK(strstr(out, "!! dropped 3 events") != NULL);
	free(out);
	free(g.s);
}

/* A head that runs ahead of the ring (corrupt or hostile) is read as empty; an unknown probe
 * id is counted, not followed. */
static void test_corrupt(void)
{
	struct seg g = seg_new();
	struct pk_dump_stats st;
	int rc;
	char *out;

	fill(&g);
	pk_shm_ring(g.s, 0)->head += 10 * RING_EVENTS;
	put(&g, 1, 9000, ENTER(7), 0); /* id 7: not registered */
	out = run(&g, PK_DUMP_TABLE, &st, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(st.events, 4); /* thread 1's only */
	CHECK_EQ_INT(st.bad, 1);
	free(out);
	free(g.s);
}

int main(void)
{
	UNIT_RUN(test_check_header);
	UNIT_RUN(test_table);
	UNIT_RUN(test_folded);
	UNIT_RUN(test_chrome);
	UNIT_RUN(test_perfetto);
	UNIT_RUN(test_perfetto_write_error);
	UNIT_RUN(test_json_text);
	UNIT_RUN(test_corrupt);
	return unit_done();
}
