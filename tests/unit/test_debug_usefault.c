/* test_debug_usefault.c — `use` and `fault` without a container: the value parsers of fault
 * (rates, percentages, times), netem's argument text, the USE report computed and rendered from
 * fixed counter snapshots (table and JSON), and the sample reader on this process. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "debug/delayq.h"
#include "debug/fault.h"
#include "debug/use.h"
#include "unit.h"

static void test_parse_rate(void)
{
	uint64_t v = 0;

	CHECK(pk_fault_parse_rate("10mbit", &v) == 0 && v == 10000000);
	CHECK(pk_fault_parse_rate("500kbit", &v) == 0 && v == 500000);
	CHECK(pk_fault_parse_rate("1Gbit", &v) == 0 && v == 1000000000);
	CHECK(pk_fault_parse_rate("1mbps", &v) == 0 && v == 8000000);
	CHECK(pk_fault_parse_rate("2.5mbit", &v) == 0 && v == 2500000);
	CHECK(pk_fault_parse_rate("100bit", &v) == 0 && v == 100);
	CHECK_EQ_INT(pk_fault_parse_rate("10", &v), -EINVAL); /* tc's unit is required */
	CHECK_EQ_INT(pk_fault_parse_rate("10mb", &v), -EINVAL);
	CHECK_EQ_INT(pk_fault_parse_rate("", &v), -EINVAL);
	CHECK_EQ_INT(pk_fault_parse_rate("-1mbit", &v), -EINVAL);
	CHECK_EQ_INT(pk_fault_parse_rate("0bit", &v), -ERANGE);
	CHECK(pk_fault_parse_rate("mbit", &v) != 0);
}

static void test_parse_pct(void)
{
	double p = -1;

	CHECK(pk_fault_parse_pct("10", &p) == 0 && p == 10);
	CHECK(pk_fault_parse_pct("0.5%", &p) == 0 && p == 0.5);
	CHECK(pk_fault_parse_pct("100", &p) == 0 && p == 100);
	CHECK(pk_fault_parse_pct("100.1", &p) != 0);
	CHECK(pk_fault_parse_pct("10%%", &p) != 0);
	CHECK(pk_fault_parse_pct("ten", &p) != 0);
	CHECK(pk_fault_parse_pct("", &p) != 0);
}

static void test_parse_ms(void)
{
	uint64_t us = 0;

	CHECK(pk_fault_parse_ms("50", &us) == 0 && us == 50000);
	CHECK(pk_fault_parse_ms("2.5ms", &us) == 0 && us == 2500);
	CHECK(pk_fault_parse_ms("1s", &us) == 0 && us == 1000000);
	CHECK(pk_fault_parse_ms("300us", &us) == 0 && us == 300);
	CHECK_EQ_INT(pk_fault_parse_ms("61s", &us), -ERANGE);
	CHECK(pk_fault_parse_ms("5m", &us) != 0);
	CHECK(pk_fault_parse_ms("50 ms", &us) != 0);
	CHECK(pk_fault_parse_ms("", &us) != 0);
}

/* The fates of many packets match the percentages asked, and held ones are due delay ± jitter. */
static void test_delayq_decide(void)
{
	struct pk_fault_net n = {
		.delay_us = 50000, .jitter_us = 10000, .loss_pct = 10, .reorder_pct = 20
	};
	uint64_t rng = 0, due = 0, now = 1000000000ull, lo = UINT64_MAX, hi = 0;
	int count[3] = { 0 };

	for (int i = 0; i < 100000; i++) {
		enum pk_delay_fate f = pk_delayq_decide(&n, &rng, now, &due);

		count[f]++;
		if (f == PK_DELAY_HOLD) {
			lo = due < lo ? due : lo;
			hi = due > hi ? due : hi;
		}
	}
	/* loss 10%; of the rest, 20% at once: 18%; held 72% (binomial sd ~0.15%) */
	CHECK(count[PK_DELAY_DROP] > 9000 && count[PK_DELAY_DROP] < 11000);
	CHECK(count[PK_DELAY_NOW] > 16500 && count[PK_DELAY_NOW] < 19500);
	CHECK(count[PK_DELAY_HOLD] > 70000 && count[PK_DELAY_HOLD] < 74000);
	CHECK(lo >= now + 40000000ull && lo < now + 40500000ull);
	CHECK(hi <= now + 60000000ull && hi > now + 59500000ull);
	n = (struct pk_fault_net){ .loss_pct = 100 };
	CHECK(pk_delayq_decide(&n, &rng, now, &due) == PK_DELAY_DROP);
	n = (struct pk_fault_net){ .loss_pct = 1 }; /* no delay: what is not lost goes at once */
	for (int i = 0; i < 1000; i++)
		CHECK(pk_delayq_decide(&n, &rng, now, &due) != PK_DELAY_HOLD);
	n = (struct pk_fault_net){ .delay_us = 100, .jitter_us = 1000 }; /* never before now */
	for (int i = 0; i < 1000; i++)
		CHECK(pk_delayq_decide(&n, &rng, now, &due) == PK_DELAY_HOLD && due >= now);
}

/* Held packets leave earliest first, ties in arrival order, none before its time; the limit. */
static void test_delayq_queue(void)
{
	struct pk_delayq q = { .max = 1000 };
	uint64_t rng = 7, last = 0;
	uint32_t id = 0, prev_id = 0;
	int n = 0;

	CHECK(pk_delayq_next_due(&q) == 0);
	CHECK(!pk_delayq_pop_due(&q, UINT64_MAX, &id));
	for (uint32_t i = 0; i < 1000; i++) /* due times 1..64, many equal */
		CHECK_EQ_INT(
			pk_delayq_push(&q, i, 1 + (rng = rng * 6364136223846793005ull + 1) % 64),
			0);
	CHECK_EQ_INT(pk_delayq_push(&q, 1000, 5), -ENOBUFS);
	CHECK(pk_delayq_next_due(&q) == 1);
	CHECK(!pk_delayq_pop_due(&q, 0, &id));
	for (uint64_t t = 1; t <= 64; t++) {
		bool first = true;

		while (pk_delayq_pop_due(&q, t, &id)) {
			n++;
			CHECK(last <= t);
			if (!first)
				CHECK(id > prev_id); /* equal due times: FIFO */
			first = false;
			prev_id = id;
			last = t;
		}
		CHECK(q.n == 0 || pk_delayq_next_due(&q) > t);
	}
	CHECK_EQ_INT(n, 1000);
	CHECK(q.n == 0);
	pk_delayq_release(&q);
	CHECK(q.heap == NULL);
}

static void test_netem_args(void)
{
	struct pk_fault_net n = { 0 };
	char buf[256], err[128], tiny[8];

	CHECK_EQ_INT(pk_fault_netem_args(&n, buf, sizeof(buf), err, sizeof(err)), -EINVAL);
	n.delay_us = 50000;
	CHECK(pk_fault_netem_args(&n, buf, sizeof(buf), err, sizeof(err)) == 0);
	CHECK_STR(buf, "delay 50ms");
	n.jitter_us = 10000;
	n.loss_pct = 5;
	n.reorder_pct = 12.5;
	n.rate_bps = 10000000;
	CHECK(pk_fault_netem_args(&n, buf, sizeof(buf), err, sizeof(err)) == 0);
	CHECK_STR(buf, "delay 50ms 10ms loss 5% reorder 12.5% rate 10000000bit");
	n.delay_us = 2500;
	n.jitter_us = 300;
	CHECK(pk_fault_netem_args(&n, buf, sizeof(buf), err, sizeof(err)) == 0);
	CHECK_STR(buf, "delay 2.5ms 0.3ms loss 5% reorder 12.5% rate 10000000bit");
	n.delay_us = 50000;
	n.jitter_us = 10000;
	CHECK_EQ_INT(pk_fault_netem_args(&n, tiny, sizeof(tiny), err, sizeof(err)), -ENOSPC);
	n = (struct pk_fault_net){ .loss_pct = 1 };
	CHECK(pk_fault_netem_args(&n, buf, sizeof(buf), err, sizeof(err)) == 0);
	CHECK_STR(buf, "loss 1%");
	n = (struct pk_fault_net){ .delay_us = 50000, .limit = 100 };
	CHECK(pk_fault_netem_args(&n, buf, sizeof(buf), err, sizeof(err)) == 0);
	CHECK_STR(buf, "limit 100 delay 50ms");
	n = (struct pk_fault_net){ .limit = 100 }; /* a limit alone holds nothing */
	CHECK(pk_fault_net_set(&n));
	CHECK_EQ_INT(pk_fault_netem_args(&n, buf, sizeof(buf), err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--limit") != NULL);
	n = (struct pk_fault_net){ .loss_pct = 1 };
	n.reorder_pct = 10; /* reordering needs a delay */
	CHECK_EQ_INT(pk_fault_netem_args(&n, buf, sizeof(buf), err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--delay") != NULL);
}

/* Two snapshots one second apart: half of a 2-CPU limit busy, 30 of 100 periods throttled,
 * a quarter of the memory used, 2 MB/s of disk, 1 MB/s of network with drops and retransmits. */
static void snapshots(struct pk_use_sample *a, struct pk_use_sample *b)
{
	*a = (struct pk_use_sample){ .t = 10,
				     .cpus = 2,
				     .cpu_ns = 5000000000ull,
				     .nr_periods = 1000,
				     .nr_throttled = 7,
				     .runq_wait_ns = 123,
				     .mem_used = 100,
				     .mem_limit = 400,
				     .mem_majfault = 3,
				     .mem_failcnt = 9,
				     .io_bytes = 4096,
				     .io_ops = 1,
				     .net_bytes = 1000,
				     .net_packets = 10,
				     .net_drops = 1,
				     .net_errs = 0,
				     .tcp_retrans = 5,
				     .listen_drops = 0 };
	*b = *a;
	b->t = 11;
	b->cpu_ns += 1000000000ull;
	b->nr_periods += 100;
	b->nr_throttled += 30;
	b->runq_wait_ns += 1500000000ull; /* 1.5 threads waited all along */
	b->io_bytes += 2000000;
	b->io_ops += 40;
	b->net_bytes += 1000000;
	b->net_packets += 700;
	b->net_drops += 2;
	b->tcp_retrans += 3;
	b->listen_drops += 1;
}

static void test_compute(void)
{
	struct pk_use_sample a, b;
	struct pk_use_report r;

	snapshots(&a, &b);
	pk_use_compute(&a, &b, &r);
	CHECK(fabs(r.interval_s - 1) < 1e-9);
	CHECK(fabs(r.v[PK_USE_CPU_USED] - 50) < 1e-9);
	CHECK(fabs(r.v[PK_USE_CPU_THROTTLED] - 30) < 1e-9);
	CHECK(fabs(r.v[PK_USE_CPU_RUNQ_WAIT] - 1.5) < 1e-9);
	CHECK(fabs(r.v[PK_USE_MEM_USED] - 25) < 1e-9);
	CHECK(r.v[PK_USE_MEM_MAJFAULT] == 0 && r.v[PK_USE_MEM_LIMIT_HITS] == 0);
	CHECK(r.v[PK_USE_IO_BYTES] == 2000000 && r.v[PK_USE_IO_OPS] == 40);
	CHECK(r.v[PK_USE_NET_BYTES] == 1000000 && r.v[PK_USE_NET_PACKETS] == 700);
	CHECK(r.v[PK_USE_NET_DROPS] == 2 && r.v[PK_USE_NET_LISTEN_DROPS] == 1);
	CHECK(r.v[PK_USE_NET_ERRS] == 0 && r.v[PK_USE_NET_RETRANS] == 3);
	/* no interval: rates unknown; a counter that went back (a restart) counts from 0 */
	pk_use_compute(&a, &a, &r);
	CHECK(isnan(r.v[PK_USE_CPU_USED]) && isnan(r.v[PK_USE_NET_BYTES]));
	CHECK(r.v[PK_USE_CPU_THROTTLED] == 0);
	b.tcp_retrans = 2;
	pk_use_compute(&a, &b, &r);
	CHECK(r.v[PK_USE_NET_RETRANS] == 2);
}

static void test_render_table(void)
{
	struct pk_use_sample a, b, idle;
	struct pk_use_report r, p;
	struct pk_strbuf out = { 0 };
	const char *s;

	snapshots(&a, &b);
	pk_use_compute(&a, &b, &r);
	idle = a;
	idle.t = 11;
	pk_use_compute(&a, &idle, &p);
	struct pk_use_column cols[2] = { { "clone", "dbg", &r }, { "production", "prod", &p } };

	pk_use_render(cols, 2, false, &out);
	s = pk_strbuf_str(&out);
	if (getenv("PK_SHOW"))
		fputs(s, stdout);
	CHECK(strncmp(s, "rates over 1.0 s\n", 17) == 0);
	CHECK(strstr(s, "RESOURCE USE METRIC") && strstr(s, "clone dbg") &&
	      strstr(s, "production prod"));
	CHECK(strstr(s, "cpu      U   used              % of limit                  50.0 "
			"               0.0\n") != NULL);
	CHECK(strstr(s, "         S   run-queue wait    threads                      1.5") != NULL);
	CHECK(strstr(s, "         S   throttled         % of periods                30.0") != NULL);
	CHECK(strstr(s, "disk     U   read+write        B/s                         2.0M") != NULL);
	CHECK(strstr(s, "network  U   rx+tx             B/s                         1.0M") != NULL);
	CHECK(strstr(s, "         E   tcp retransmits   /s                           3.0") != NULL);
	/* one line for the interval, one header, one per row */
	{
		int lines = 0;

		for (const char *c = s; *c; c++)
			lines += *c == '\n';
		CHECK_EQ_INT(lines, 2 + PK_USE_NROWS);
	}
	pk_strbuf_release(&out);
}

static void test_render_json(void)
{
	struct pk_use_sample a, b;
	struct pk_use_report r;
	struct pk_strbuf out = { 0 };
	cJSON *o, *cols, *c0;

	snapshots(&a, &b);
	pk_use_compute(&a, &b, &r);
	r.v[PK_USE_IO_OPS] = NAN;
	struct pk_use_column col = { "clone", "dbg", &r };

	pk_use_render(&col, 1, true, &out);
	o = cJSON_Parse(pk_strbuf_str(&out));
	CHECK(o != NULL);
	cols = cJSON_GetObjectItem(o, "columns");
	CHECK(cJSON_GetArraySize(cols) == 1);
	c0 = cJSON_GetArrayItem(cols, 0);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c0, "role")), "clone");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c0, "name")), "dbg");
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(c0, "cpu_used")) == 50);
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(c0, "cpu_throttled")) == 30);
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(c0, "cpu_runq_wait")) == 1.5);
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(c0, "net_retrans")) == 3);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(c0, "io_ops")));
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "interval_s")) == 1);
	cJSON_Delete(o);
	pk_strbuf_release(&out);
}

/* Writes text into dir/name. */
static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A cgroup v2 directory as the kernel shows it (a fake one: this host may have v1 only). */
static void test_sample_v2(void)
{
	char dir[] = "/tmp/pk-test-usev2.XXXXXX";
	struct pk_use_sample s = { 0 }, b;
	struct pk_use_report r;
	const char *files[] = { "cgroup.procs",	 "cgroup.threads",  "cpu.stat",
				"cpu.max",	 "memory.current",  "memory.max",
				"memory.events", "memory.stat",	    "io.stat",
				"cpu.pressure",	 "memory.pressure", "io.pressure" };

	CHECK(mkdtemp(dir) != NULL);
	CHECK(pk_use_sample_v2(dir, &s) < 0); /* no cgroup.procs: no cgroup */
	put(dir, "cgroup.procs", "1\n");
	put(dir, "cgroup.threads", "");
	put(dir, "cpu.stat",
	    "usage_usec 2000000\nuser_usec 1\nsystem_usec 1\nnr_periods 50\n"
	    "nr_throttled 5\nthrottled_usec 10\n");
	put(dir, "cpu.max", "50000 100000\n");
	put(dir, "memory.current", "1048576\n");
	put(dir, "memory.max", "4194304\n");
	put(dir, "memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n");
	put(dir, "memory.stat", "anon 1\npgfault 100\npgmajfault 3\n");
	put(dir, "io.stat",
	    "8:0 rbytes=1000 wbytes=24 rios=3 wios=4 dbytes=0 dios=0\n"
	    "8:16 rbytes=1 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
	put(dir, "cpu.pressure",
	    "some avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n"
	    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
	put(dir, "memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=10\n");
	put(dir, "io.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=20\n");
	CHECK(pk_use_sample_v2(dir, &s) == 0);
	CHECK(s.cpu_ns == 2000000000ull && s.nr_periods == 50 && s.nr_throttled == 5);
	CHECK(s.cpus == 0.5);
	CHECK(s.mem_used == 1048576 && s.mem_limit == 4194304);
	CHECK(s.mem_failcnt == 7 && s.mem_majfault == 3);
	CHECK(s.io_bytes == 1025 && s.io_ops == 8);
	CHECK(s.has_psi && s.psi_cpu_us == 1000 && s.psi_mem_us == 10 && s.psi_io_us == 20);
	/* a second reading 1 s later: a quarter of the time some task waited for a CPU */
	b = s;
	s.t = 1;
	b.t = 2;
	b.psi_cpu_us += 250000;
	pk_use_compute(&s, &b, &r);
	CHECK(fabs(r.v[PK_USE_CPU_PRESSURE] - 25) < 1e-9);
	CHECK(r.v[PK_USE_MEM_PRESSURE] == 0);
	/* no PSI (v1): unknown, not zero */
	s.has_psi = false;
	pk_use_compute(&s, &b, &r);
	CHECK(isnan(r.v[PK_USE_CPU_PRESSURE]) && isnan(r.v[PK_USE_IO_PRESSURE]));
	put(dir, "cpu.max", "max 100000\n");
	put(dir, "memory.max", "max\n");
	CHECK(pk_use_sample_v2(dir, &s) == 0);
	CHECK(s.cpus >= 1 && s.mem_limit == 0); /* no quota: every CPU; no limit: the caller's */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	CHECK(rmdir(dir) == 0);
}

/* The reader on this very process: its cgroups and network namespace exist. */
static void test_sample_self(void)
{
	struct pk_use_sample s;
	int rc = pk_use_sample_read(getpid(), &s);

	CHECK(rc == 0 || rc == -ENOENT); /* -ENOENT: no cgroup v1 cpuacct on this host */
	if (rc == 0) {
		CHECK(s.cpus > 0);
		CHECK(s.mem_limit > 0);
		CHECK(s.t > 0);
	}
	CHECK(pk_use_sample_read(-5, &s) < 0);
}

int main(void)
{
	UNIT_RUN(test_parse_rate);
	UNIT_RUN(test_parse_pct);
	UNIT_RUN(test_parse_ms);
	UNIT_RUN(test_netem_args);
	UNIT_RUN(test_delayq_decide);
	UNIT_RUN(test_delayq_queue);
	UNIT_RUN(test_compute);
	UNIT_RUN(test_render_table);
	UNIT_RUN(test_render_json);
	UNIT_RUN(test_sample_v2);
	UNIT_RUN(test_sample_self);
	return unit_done();
}
