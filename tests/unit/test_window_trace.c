/* test_window_trace.c — traces for `sim --trace`: the simulator on a trace made by hand, and
 * the reader on captures written here with libpcap's own writer (raw IPv4): a request is a
 * client burst, its service time runs to the server's first answering byte, a greeting belongs
 * to no request, an unanswered request is not measured, connections merge in time order, the
 * server-port filter, and the captures it refuses. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h> /* TH_* flags */
#include <pcap/pcap.h>
#include <stdlib.h>

#include "capture/pcap_read.h"
#include "pcap_mem.h"
#include "unit.h"
#include "window/window.h"

#define T0 1700000000000000000ull /* ns */
#define MS 1000000ull

/* One side of a connection. */
struct end {
	const char *ip;
	uint16_t port;
	uint32_t seq;
};

/* Trace-driven parameters: the trace's arrivals and measured service times. */
static struct pk_window_sim_params trace_params(const struct pk_window_trace *t, double slowdown,
						uint64_t buffer, double duration)
{
	return (struct pk_window_sim_params){ .arrival = PK_WINDOW_ARRIVAL_TRACE,
					      .trace = t,
					      .service = PK_WINDOW_SERVICE_TRACE,
					      .slowdown = slowdown,
					      .buffer_bytes = buffer,
					      .duration_s = duration };
}

/* Writes a segment from a to b at ts (ns) carrying len bytes of 'x'; advances a's sequence. */
static void seg(struct cap *c, struct end *a, const struct end *b, uint8_t flags, size_t len,
		uint64_t ts)
{
	uint8_t p[1600] = { 0 };
	uint16_t total = (uint16_t)(40 + len);

	p[0] = 0x45;
	p[2] = (uint8_t)(total >> 8);
	p[3] = (uint8_t)total;
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	inet_pton(AF_INET, a->ip, p + 12);
	inet_pton(AF_INET, b->ip, p + 16);
	p[20] = (uint8_t)(a->port >> 8);
	p[21] = (uint8_t)a->port;
	p[22] = (uint8_t)(b->port >> 8);
	p[23] = (uint8_t)b->port;
	for (int i = 0; i < 4; i++)
		p[24 + i] = (uint8_t)(a->seq >> (24 - 8 * i));
	p[32] = 5 << 4;
	p[33] = flags;
	memset(p + 40, 'x', len);
	a->seq += (uint32_t)len + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
	cap_frame_at(c, p, total, total, ts);
}

/* A connection's handshake at ts. */
static void connect_at(struct cap *c, struct end *cl, struct end *sv, uint64_t ts)
{
	seg(c, cl, sv, TH_SYN, 0, ts);
	seg(c, sv, cl, TH_SYN | TH_ACK, 0, ts);
	seg(c, cl, sv, TH_ACK, 0, ts);
}

static int cap_trace(struct cap *c, uint16_t server_port, struct pk_window_trace **t, char *err,
		     size_t errlen)
{
	cap_close(c);
	return pk_window_trace_read_stream(fmemopen(c->buf, c->len, "rb"), server_port, 0, t, err,
					   errlen);
}

/* The trace of one connection of n requests of size bytes, the i-th at first_ms + i·gap_ms and
 * answered answer_ms later (7 bytes); NULL (and a failed check) when it does not read. */
static struct pk_window_trace *periodic_trace(int n, uint64_t first_ms, uint64_t gap_ms,
					      size_t size, uint64_t answer_ms)
{
	struct end cl = { "10.0.0.1", 40000, 1 }, sv = { "10.0.0.2", 6379, 1 };
	struct pk_window_trace *t = NULL;
	char err[256] = "";
	struct cap c;

	cap_open(&c, DLT_RAW);
	connect_at(&c, &cl, &sv, T0);
	for (uint64_t i = 0; i < (uint64_t)n; i++) {
		seg(&c, &cl, &sv, TH_ACK, size, T0 + (first_ms + gap_ms * i) * MS);
		seg(&c, &sv, &cl, TH_ACK, 7, T0 + (first_ms + gap_ms * i + answer_ms) * MS);
	}
	CHECK_EQ_INT(cap_trace(&c, 0, &t, err, sizeof(err)), 0);
	cap_free(&c);
	return t;
}

static void test_one_connection(void)
{
	struct end cl = { "10.0.0.1", 40000, 1000 }, sv = { "10.0.0.2", 3306, 5000 };
	struct pk_window_trace *t = NULL;
	char err[256] = "";
	struct cap c;

	cap_open(&c, DLT_RAW);
	connect_at(&c, &cl, &sv, T0);
	seg(&c, &sv, &cl, TH_ACK, 50, T0 + 10 * MS);  /* greeting: no request's */
	seg(&c, &cl, &sv, TH_ACK, 20, T0 + 100 * MS); /* request 0, in two segments */
	seg(&c, &cl, &sv, TH_ACK, 10, T0 + 101 * MS);
	seg(&c, &sv, &cl, TH_ACK, 150, T0 + 105 * MS); /* its answer begins 4 ms later */
	seg(&c, &sv, &cl, TH_ACK, 50, T0 + 106 * MS);
	seg(&c, &cl, &sv, TH_ACK, 40, T0 + 200 * MS); /* request 1, answered after 30 ms */
	seg(&c, &sv, &cl, TH_ACK, 10, T0 + 230 * MS);
	seg(&c, &cl, &sv, TH_ACK, 25, T0 + 300 * MS); /* request 2, never answered */
	seg(&c, &cl, &sv, TH_FIN | TH_ACK, 0, T0 + 400 * MS);
	CHECK_EQ_INT(cap_trace(&c, 0, &t, err, sizeof(err)), 0);
	if (t) {
		CHECK(t->n == 3 && t->conns == 1 && t->measured == 2);
		CHECK(t->reqs[0].t_s == 0 && t->reqs[0].bytes == 30);
		CHECK(fabs(t->reqs[1].t_s - 0.1) < 1e-12 && t->reqs[1].bytes == 40);
		CHECK(fabs(t->reqs[2].t_s - 0.2) < 1e-12 && t->reqs[2].bytes == 25);
		CHECK(fabs(t->reqs[0].service_s - 0.004) < 1e-12);
		CHECK(fabs(t->reqs[1].service_s - 0.030) < 1e-12);
		CHECK(t->reqs[2].service_s < 0);
		CHECK(fabs(t->mean_service_s - 0.017) < 1e-12);
		CHECK(fabs(t->period_s - 0.3) < 1e-12);
		CHECK(fabs(t->mean_bytes - 95.0 / 3) < 1e-12);
	}
	pk_window_trace_free(t);
	cap_free(&c);
}

/* Two connections' requests interleave in time; pipelined requests sent before any answer are
 * one burst; the filter keeps one server port. */
static void test_two_connections(void)
{
	struct end a = { "10.0.0.1", 40001, 1 }, b = { "10.0.0.3", 40002, 7 };
	struct end sa = { "10.0.0.2", 3306, 100 }, sb = { "10.0.0.2", 80, 900 };
	struct pk_window_trace *t = NULL;
	char err[256] = "";
	struct cap c;

	for (int filtered = 0; filtered < 2; filtered++) {
		cap_open(&c, DLT_RAW);
		connect_at(&c, &a, &sa, T0);
		connect_at(&c, &b, &sb, T0 + 1 * MS);
		seg(&c, &a, &sa, TH_ACK, 10, T0 + 10 * MS);
		seg(&c, &b, &sb, TH_ACK, 20, T0 + 20 * MS);
		seg(&c, &b, &sb, TH_ACK, 20, T0 + 21 * MS); /* pipelined: same burst */
		seg(&c, &sa, &a, TH_ACK, 5, T0 + 25 * MS);
		seg(&c, &sb, &b, TH_ACK, 5, T0 + 31 * MS);
		seg(&c, &a, &sa, TH_ACK, 11, T0 + 30 * MS);
		seg(&c, &sa, &a, TH_ACK, 5, T0 + 35 * MS);
		seg(&c, &b, &sb, TH_ACK, 12, T0 + 40 * MS);
		seg(&c, &a, &sa, TH_ACK, 13, T0 + 50 * MS);
		CHECK_EQ_INT(cap_trace(&c, filtered ? 3306 : 0, &t, err, sizeof(err)), 0);
		if (!filtered && t) {
			const uint64_t bytes[] = { 10, 40, 11, 12, 13 };

			CHECK(t->n == 5 && t->conns == 2 && t->measured == 3);
			for (size_t i = 0; i < 5 && i < t->n; i++)
				CHECK(t->reqs[i].bytes == bytes[i]);
			CHECK(fabs(t->reqs[0].service_s - 0.015) < 1e-12);
			CHECK(fabs(t->reqs[1].service_s - 0.010) < 1e-12);
			CHECK(fabs(t->reqs[2].service_s - 0.005) < 1e-12);
			CHECK(t->reqs[3].service_s < 0 && t->reqs[4].service_s < 0);
			CHECK(fabs(t->period_s - 0.040 * 5 / 4) < 1e-12);
		} else if (t) {
			CHECK(t->n == 3 && t->conns == 1 && t->measured == 2);
			CHECK(t->reqs[2].bytes == 13 && fabs(t->reqs[2].t_s - 0.040) < 1e-12);
		}
		pk_window_trace_free(t);
		t = NULL;
		cap_free(&c);
	}
}

/* A trace made by hand: 4 requests in a period of 2 s, measured service times but one. */
static void test_made_trace(void)
{
	struct pk_window_request reqs[] = {
		{ .t_s = 0, .bytes = 100, .service_s = 0.3 },
		{ .t_s = 0.5, .bytes = 300, .service_s = -1 }, /* not measured: the mean, 0.4 */
		{ .t_s = 1, .bytes = 100, .service_s = 0.5 },
		{ .t_s = 1.5, .bytes = 300, .service_s = 0.4 },
	};
	struct pk_window_trace t = { .reqs = reqs,
				     .n = 4,
				     .conns = 1,
				     .measured = 3,
				     .period_s = 2,
				     .mean_bytes = 200,
				     .mean_service_s = 0.4 };
	struct pk_window_sim_params p = trace_params(&t, 1, 400, 1000);
	struct pk_window_prediction pred;
	struct pk_window_sim_result r;

	CHECK_EQ_INT(pk_window_predict(&p, &pred), 0);
	CHECK(pred.lambda == 2 && pred.bytes == 200 && pred.k == 2);
	CHECK(fabs(pred.mu - 2.5) < 1e-12);
	CHECK(isinf(pred.fluid_s));
	/* every request is served before the next: at most 300 bytes held */
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
	CHECK(!r.overflowed);
	CHECK(r.max_bytes == 300 && r.max_in_system == 1);
	CHECK(r.arrivals == 2000);
	/* twice as slow: services of 0.6, 0.8, 1.0, 0.8 s against arrivals every 0.5 s */
	p.slowdown = 2;
	CHECK_EQ_INT(pk_window_predict(&p, &pred), 0);
	CHECK(fabs(pred.fluid_s - 400 / (400 - 1.25 * 200)) < 1e-9);
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
	/* t=0 r0 (100 B) until 0.6; t=0.5 r1 (300 B) fits (400), until 0.6+0.8=1.4; t=1 r2
	 * (100 B): 300 held, fits (400) until 2.4; t=1.5 r3 (300 B): 100 held + 300 = 400 fits,
	 * until 3.2; t=2 r0' (100 B): 400 held: refused */
	CHECK(r.overflowed);
	CHECK(fabs(r.window_s - 2) < 1e-12);
	CHECK(r.arrivals == 5 && r.served == 2);
	/* constant service from the trace's arrivals */
	p.service = PK_WINDOW_SERVICE_CONST;
	p.service_rate = 1;
	p.slowdown = 1;
	CHECK_EQ_INT(pk_window_predict(&p, &pred), 0);
	CHECK(pred.mu == 1);
	/* a trace without measured service times cannot give them */
	t.measured = 0;
	t.mean_service_s = 0;
	p.service = PK_WINDOW_SERVICE_TRACE;
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), -EINVAL);
}

/* An answer stamped with its request's own time (a coarse clock) took the clock's resolution,
 * not nothing: the trace's service times still drive the simulator (found by fuzz_sim_trace:
 * a mean service time of 0 made the trace unusable for `--service trace`). */
static void test_same_instant_answer(void)
{
	struct pk_window_trace *t = periodic_trace(3, 0, 1, 10, 0);
	struct pk_window_sim_params p;
	struct pk_window_prediction pred;
	struct pk_window_sim_result r;

	if (!t)
		return;
	CHECK(t->n == 3 && t->measured == 3);
	CHECK(t->reqs[0].service_s == 1e-9 && t->mean_service_s == 1e-9);
	p = trace_params(t, 1, 100, 10);
	CHECK_EQ_INT(pk_window_predict(&p, &pred), 0);
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
	CHECK(!r.overflowed && r.served == r.arrivals);
	pk_window_trace_free(t);
}

/* Captures with no arrival rate, and files that are not captures: -errno and one line. */
static void test_refused(void)
{
	struct end cl = { "10.0.0.1", 40000, 1 }, sv = { "10.0.0.2", 80, 1 };
	struct pk_window_trace *t = NULL;
	char err[256];
	struct cap c;

	cap_open(&c, DLT_RAW); /* no packet */
	err[0] = '\0';
	CHECK_EQ_INT(cap_trace(&c, 0, &t, err, sizeof(err)), -ENODATA);
	CHECK(t == NULL && strstr(err, "0 client requests in 0 TCP connections"));
	cap_free(&c);

	cap_open(&c, DLT_RAW); /* one request */
	connect_at(&c, &cl, &sv, T0);
	seg(&c, &cl, &sv, TH_ACK, 10, T0 + MS);
	CHECK_EQ_INT(cap_trace(&c, 0, &t, err, sizeof(err)), -ENODATA);
	CHECK(strstr(err, "1 client request in 1 TCP connection"));
	cap_free(&c);

	cap_open(&c, DLT_RAW); /* two requests at the same instant, on two connections */
	connect_at(&c, &cl, &sv, T0);
	seg(&c, &cl, &sv, TH_ACK, 10, T0 + MS);
	cl.port++;
	connect_at(&c, &cl, &sv, T0);
	seg(&c, &cl, &sv, TH_ACK, 10, T0 + MS);
	CHECK_EQ_INT(cap_trace(&c, 0, &t, err, sizeof(err)), -ENODATA);
	CHECK(strstr(err, "all at the same time"));
	cap_free(&c);

	static const char junk[] = "this is not a capture file, not even close";
	err[0] = '\0';
	CHECK_EQ_INT(pk_window_trace_read_stream(fmemopen((void *)junk, sizeof(junk), "rb"), 0, 0,
						 &t, err, sizeof(err)),
		     -EBADMSG);
	CHECK(t == NULL && err[0]);
	CHECK_EQ_INT(pk_window_trace_read_file("/nonexistent/x.pcap", 0, 0, &t, err, sizeof(err)),
		     -ENOENT);
	CHECK(strstr(err, "No such file"));
}

/* The trace drives the simulator: one request every 100 ms of 100 bytes, answered after
 * 40 ms; at slowdown 4 the clone takes 160 ms a request and the buffer of 10 requests fills
 * at 3.75 requests/s: the first overflow comes at the fluid estimate, give or take an arrival
 * and the departures' granularity (1/3.75 s; see test_window's test_sim_fluid). */
static void test_trace_sim(void)
{
	struct pk_window_trace *t = periodic_trace(20, 100, 100, 100, 40);
	struct pk_window_sim_params p;
	struct pk_window_prediction pred;
	struct pk_window_sim_result r;

	if (!t)
		return;
	CHECK(t->n == 20 && t->measured == 20);
	CHECK(fabs(t->period_s - 2) < 1e-9);
	p = trace_params(t, 4, 1000, 600);
	CHECK_EQ_INT(pk_window_predict(&p, &pred), 0);
	CHECK(fabs(pred.lambda - 10) < 1e-9 && pred.k == 10);
	CHECK(fabs(pred.mu - 6.25) < 1e-9);
	CHECK(fabs(pred.fluid_s - 1000 / (1000 - 625.0)) < 1e-9);
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
	CHECK(r.overflowed && r.window_s <= pred.fluid_s + 0.1 + 1e-9 &&
	      r.window_s >= pred.fluid_s - 0.1 - 1 / 3.75 - 1e-9);
	/* the clone keeps up at slowdown 2 (80 ms a request): no overflow, the trace repeated */
	p.slowdown = 2;
	CHECK_EQ_INT(pk_window_sim_run(&p, &r), 0);
	CHECK(!r.overflowed && r.arrivals == 6000 && r.max_in_system == 1);
	pk_window_trace_free(t);
}

int main(void)
{
	UNIT_RUN(test_made_trace);
	UNIT_RUN(test_one_connection);
	UNIT_RUN(test_two_connections);
	UNIT_RUN(test_same_instant_answer);
	UNIT_RUN(test_refused);
	UNIT_RUN(test_trace_sim);
	return unit_done();
}
