/* test_probe_perf.c — the perf module: counter names, and a group of the calling thread's
 * counters opened and read through the path libiprobe uses.  Opens whatever the kernel offers
 * (hardware counters first, the software fallback otherwise) and checks the counters against
 * known work: pages touched for the first time are page faults, a busy loop is task-clock,
 * instructions grow when there are hardware counters.  Runs as any user. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "probe/perf.h"
#include "unit.h"

#define PAGES 256

static void test_parse(void)
{
	struct pk_perf_event ev[PK_PERF_MAX];
	char err[512];

	CHECK_EQ_INT(pk_perf_parse("cycles,instructions", ev, PK_PERF_MAX, err, sizeof(err)), 2);
	CHECK(ev[0].type == PERF_TYPE_HARDWARE && ev[0].config == PERF_COUNT_HW_CPU_CYCLES);
	CHECK(ev[1].config == PERF_COUNT_HW_INSTRUCTIONS);
	CHECK(pk_perf_any_hardware(ev, 2));
	CHECK_EQ_INT(pk_perf_parse(PK_PERF_FALLBACK, ev, PK_PERF_MAX, err, sizeof(err)), 3);
	CHECK(!pk_perf_any_hardware(ev, 3));
	CHECK_STR(pk_perf_name(ev[1].type, ev[1].config), "page-faults");
	CHECK(pk_perf_name(PERF_TYPE_RAW, 1) == NULL);
	CHECK_EQ_INT(pk_perf_parse("cycles,bogus", ev, PK_PERF_MAX, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "'bogus': not a counter") && strstr(err, "context-switches"));
	CHECK_EQ_INT(pk_perf_parse("", ev, PK_PERF_MAX, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(pk_perf_parse("cycles,cycles", ev, PK_PERF_MAX, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(pk_perf_parse("cycles,instructions,task-clock", ev, 2, err, sizeof(err)),
		     -E2BIG);
	CHECK_EQ_INT(pk_perf_parse("minor-faults,", ev, PK_PERF_MAX, err, sizeof(err)), 1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_counts(void)
{
	const char *list = pk_perf_hardware_available()
				   ? "instructions,task-clock,page-faults,context-switches"
				   : PK_PERF_FALLBACK;
	struct pk_perf_event ev[PK_PERF_MAX];
	uint64_t a[PK_PERF_MAX], b[PK_PERF_MAX], c[PK_PERF_MAX];
	struct pk_perf_raw_group g;
	int n, itask = -1, ipf = -1, iinstr = -1;
	volatile uint64_t sink = 0;
	char err[512], *mem;
	bool rdpmc;
	uint64_t t0;

	n = pk_perf_parse(list, ev, PK_PERF_MAX, err, sizeof(err));
	CHECK(n >= 3);
	for (int i = 0; i < n; i++) {
		const char *name = pk_perf_name(ev[i].type, ev[i].config);

		if (!strcmp(name, "task-clock"))
			itask = i;
		else if (!strcmp(name, "page-faults"))
			ipf = i;
		else if (!strcmp(name, "instructions"))
			iinstr = i;
	}
	CHECK_EQ_INT(pk_perf_open(&g, ev, (size_t)n), n);
	if (g.nopen != (uint32_t)n) {
		pk_perf_close(&g);
		return;
	}
	CHECK_EQ_INT(pk_perf_read(&g, a, &rdpmc), (1 << n) - 1);
	/* touch PAGES new pages: a fault each */
	mem = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	for (int i = 0; mem != MAP_FAILED && i < PAGES; i++)
		mem[i * 4096] = 1;
	CHECK_EQ_INT(pk_perf_read(&g, b, &rdpmc), (1 << n) - 1);
	CHECK(b[ipf] - a[ipf] >= PAGES);
	CHECK(b[ipf] - a[ipf] < PAGES * 4); /* and not much more */
	/* a busy loop of 20 ms of CPU time: no fault, task-clock grows by about that */
	t0 = now_ns();
	while (now_ns() - t0 < 20 * 1000 * 1000)
		for (int i = 0; i < 1000; i++)
			sink += (uint64_t)i * sink + 1;
	CHECK_EQ_INT(pk_perf_read(&g, c, &rdpmc), (1 << n) - 1);
	CHECK(c[ipf] - b[ipf] < PAGES / 4);
	/* at least 1 ms of the 20 ms wall time on the CPU, however loaded the machine */
	CHECK(c[itask] - b[itask] > 1000 * 1000);
	CHECK(c[itask] - b[itask] <= (now_ns() - t0) + 5 * 1000 * 1000);
	if (iinstr >= 0)
		CHECK(c[iinstr] - b[iinstr] > 1000 * 1000);
	else
		CHECK(!rdpmc); /* software counters are read with read(), never rdpmc */
	if (mem != MAP_FAILED)
		munmap(mem, PAGES * 4096);
	pk_perf_close(&g);
	CHECK(g.fd[0] == -1 && g.nopen == 0);
}

/* A counter the kernel refuses is left out; the others still read. */
static void test_refused(void)
{
	struct pk_perf_event ev[2] = {
		{ PERF_TYPE_SOFTWARE, PERF_COUNT_SW_MAX + 100 }, /* no such software counter */
		{ PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK },
	};
	struct pk_perf_raw_group g;
	uint64_t v[2];
	bool rdpmc;

	CHECK_EQ_INT(pk_perf_open(&g, ev, 2), 1);
	CHECK(g.fd[0] == -1 && g.fd[1] >= 0);
	CHECK_EQ_INT(pk_perf_read(&g, v, &rdpmc), 2);
	pk_perf_close(&g);
}

int main(void)
{
	UNIT_RUN(test_parse);
	UNIT_RUN(test_counts);
	UNIT_RUN(test_refused);
	return unit_done();
}
