/* test_replay.c — the replay engine against a scripted loopback server (a thread of this test):
 * same and different answers in timed and fast mode, a short answer (stall, then the verdict),
 * a silent target (overall timeout), a hole in the capture, a recorded client reset, a capture
 * that ended before its connection, a refused connect, and the report's table and JSON. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/replay.h"
#include "common/clock.h"
#include "unit.h"

/* How the scripted server answers each '\n'-terminated line. */
enum answer {
	ANSWER_SAME,	   /* "R" + line: what the capture below recorded */
	ANSWER_DIFFERENT,  /* "X" + line */
	ANSWER_FIRST_ONLY, /* the first line only, then silence */
	ANSWER_NONE,	   /* never */
	ANSWER_EXTRA,	   /* as recorded, plus one more line at the end */
};

struct server {
	int lfd;
	uint16_t port;
	enum answer mode;
	pthread_t thread;
	atomic_bool stop;
	atomic_int conns;
	atomic_int resets; /* connections that ended with ECONNRESET */
};

/* Serves one connection until EOF, a reset, or stop. */
static void serve_conn(struct server *s, int fd)
{
	char buf[256], line[64];
	size_t n = 0;
	int lines = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		int ready = poll(&p, 1, 50);

		if (ready < 0 || (ready == 0 && s->stop)) /* stop only when idle: a reset is seen */
			break;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(fd, buf, sizeof(buf));
		if (r <= 0) {
			if (r < 0 && errno == ECONNRESET)
				s->resets++;
			break;
		}
		for (ssize_t i = 0; i < r; i++) {
			if (n < sizeof(line) - 2)
				line[n++] = buf[i];
			if (buf[i] != '\n')
				continue;
			char out[80];
			int len = snprintf(out, sizeof(out), "%c%.*s",
					   s->mode == ANSWER_DIFFERENT ? 'X' : 'R', (int)n, line);
			bool answer = s->mode == ANSWER_SAME || s->mode == ANSWER_DIFFERENT ||
				      s->mode == ANSWER_EXTRA ||
				      (s->mode == ANSWER_FIRST_ONLY && lines == 0);

			if (answer && write(fd, out, (size_t)len) != len)
				break;
			if (s->mode == ANSWER_EXTRA && n == 4 && memcmp(line, "ccc\n", 4) == 0 &&
			    write(fd, "Rmore\n", 6) != 6)
				break;
			lines++;
			n = 0;
		}
	}
	close(fd);
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	while (!s->stop) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = pk_sock_accept(s->lfd, NULL);
		if (fd < 0)
			continue;
		s->conns++;
		serve_conn(s, fd);
	}
	return NULL;
}

static void server_start(struct server *s, enum answer mode)
{
	struct pk_addr a;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	pk_addr_resolve("127.0.0.1", 0, &a, NULL, 0);
	s->lfd = pk_sock_listen(&a, 16);
	s->port = (uint16_t)pk_sock_local_port(s->lfd);
	pthread_create(&s->thread, NULL, server_main, s);
}

static void server_stop(struct server *s)
{
	s->stop = true;
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

/* A capture made by hand: one connection, three requests a 1 ms apart, each answered. */
struct fake {
	struct pk_pcap p;
	struct pk_pcap_conn c;
	struct pk_pcap_conn *cp[1];
	struct pk_pcap_chunk ch[3];
	char c2s[16], s2c[32];
};

static void fake_init(struct fake *f)
{
	static const char *req[] = { "a\n", "bb\n", "ccc\n" };
	uint64_t off = 0, s2c = 0, t0 = 1700000000ull * 1000000000ull;

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(req[i]);

		memcpy(f->c2s + off, req[i], n);
		f->ch[i] = (struct pk_pcap_chunk){ .off = off,
						   .len = n,
						   .ts_ns = t0 + (uint64_t)(i + 1) * 1000000,
						   .s2c_before = s2c };
		off += n;
		f->s2c[s2c++] = 'R';
		memcpy(f->s2c + s2c, req[i], n);
		s2c += n;
	}
	f->c.id = 1;
	pk_addr_resolve("10.0.0.1", 40000, &f->c.client, NULL, 0);
	pk_addr_resolve("10.0.0.2", 6379, &f->c.server, NULL, 0);
	f->c.syn_seen = true;
	f->c.first_ns = t0;
	f->c.last_ns = t0 + 5000000;
	f->c.c2s = (struct pk_pcap_stream){ .data = f->c2s,
					    .len = off,
					    .fin = true,
					    .fin_ts_ns = t0 + 4000000,
					    .fin_before = s2c };
	f->c.s2c = (struct pk_pcap_stream){ .data = f->s2c,
					    .len = s2c,
					    .fin = true,
					    .fin_ts_ns = t0 + 5000000,
					    .fin_before = off };
	f->c.chunks = f->ch;
	f->c.nchunks = 3;
	f->cp[0] = &f->c;
	f->p.conns = f->cp;
	f->p.nconns = 1;
}

static struct pk_replay_opts opts_for(const struct server *s, bool fast)
{
	struct pk_replay_opts o = { .fast = fast, .speed = 10, .stall_ms = 150, .quiet_ms = 50 };

	pk_addr_resolve("127.0.0.1", s->port, &o.target, NULL, 0);
	return o;
}

/* Replays f against a server answering in mode; returns the run's result code. */
static int replay(struct fake *f, enum answer mode, bool fast, uint64_t timeout_ms,
		  struct pk_replay_report *rep, struct server *s)
{
	char err[256] = "";
	struct pk_replay_opts o;
	int rc;

	server_start(s, mode);
	o = opts_for(s, fast);
	o.timeout_ms = timeout_ms;
	rc = pk_replay_run(&f->p, &o, rep, err, sizeof(err));
	if (rc)
		printf("  replay: %s\n", err);
	server_stop(s);
	return rc;
}

static void test_same_both_modes(void)
{
	for (int fast = 0; fast < 2; fast++) {
		struct fake f;
		struct pk_replay_report rep;
		struct server s;

		fake_init(&f);
		CHECK_EQ_INT(replay(&f, ANSWER_SAME, fast, 0, &rep, &s), 0);
		CHECK_EQ_INT(rep.nconns, 1);
		CHECK(pk_replay_all_same(&rep));
		CHECK_EQ_INT(rep.conns[0].verdict, PK_SCMP_SAME);
		CHECK_EQ_INT(rep.conns[0].bytes_sent, 9);
		CHECK_EQ_INT(rep.conns[0].bytes_received, 12);
		CHECK_EQ_INT(rep.conns[0].stalls, 0);
		CHECK_STR(rep.conns[0].client, "10.0.0.1:40000");
		CHECK(rep.conns[0].note == NULL);
		CHECK_EQ_INT(s.conns, 1);
		pk_replay_report_release(&rep);
	}
}

static void test_different(void)
{
	struct fake f;
	struct pk_replay_report rep;
	struct server s;

	fake_init(&f);
	CHECK_EQ_INT(replay(&f, ANSWER_DIFFERENT, true, 0, &rep, &s), 0);
	CHECK_EQ_INT(rep.conns[0].verdict, PK_SCMP_DIFFERENT);
	CHECK_EQ_INT(rep.conns[0].diverge_off, 0);
	CHECK_EQ_INT(rep.different, 1);
	CHECK(!pk_replay_all_same(&rep));
	pk_replay_report_release(&rep);
}

/* Fast mode: the target answers the first request only.  The second request goes after one
 * stall, the third at once (that shortfall is known by then); the FIN waits for the third
 * answer, a new shortfall: a second stall. */
static void test_short_answer_stalls(void)
{
	struct fake f;
	struct pk_replay_report rep;
	struct server s;
	uint64_t t = pk_now_ms();

	fake_init(&f);
	CHECK_EQ_INT(replay(&f, ANSWER_FIRST_ONLY, true, 0, &rep, &s), 0);
	CHECK_EQ_INT(rep.conns[0].verdict, PK_SCMP_DIFFERENT);
	CHECK_EQ_INT(rep.conns[0].diverge_off, 3);
	CHECK_EQ_INT(rep.conns[0].bytes_sent, 9);
	CHECK_EQ_INT(rep.conns[0].bytes_received, 3);
	CHECK_EQ_INT(rep.conns[0].stalls, 2);
	CHECK(pk_now_ms() - t >= 300); /* two stalls; then the FIN, and the target closes */
	pk_replay_report_release(&rep);
}

/* A target that never answers, and an overall timeout shorter than the stall limits. */
static void test_timeout(void)
{
	struct fake f;
	struct pk_replay_report rep;
	struct server s;

	fake_init(&f);
	f.p.nconns = 1;
	server_start(&s, ANSWER_NONE);
	struct pk_replay_opts o = opts_for(&s, true);
	char err[128];

	o.stall_ms = 5000;
	o.timeout_ms = 200;
	uint64_t t = pk_now_ms();
	CHECK_EQ_INT(pk_replay_run(&f.p, &o, &rep, err, sizeof(err)), 0);
	CHECK(pk_now_ms() - t < 2000);
	CHECK_EQ_INT(rep.conns[0].verdict, PK_SCMP_UNKNOWN);
	CHECK_STR(rep.conns[0].note ? rep.conns[0].note : "", "timeout");
	CHECK_EQ_INT(rep.conns[0].bytes_sent, 2);
	server_stop(&s);
	pk_replay_report_release(&rep);
}

static void test_gap_is_unknown(void)
{
	struct fake f;
	struct pk_replay_report rep;
	struct server s;

	fake_init(&f);
	f.c.s2c.missing = 10;
	CHECK_EQ_INT(replay(&f, ANSWER_SAME, true, 0, &rep, &s), 0);
	CHECK_EQ_INT(rep.conns[0].verdict, PK_SCMP_UNKNOWN);
	CHECK_STR(rep.conns[0].note ? rep.conns[0].note : "", "gap in capture");
	pk_replay_report_release(&rep);
}

/* The recorded client reset the connection after the second answer: so does the replay, and
 * the third request's answer is never read. */
static void test_client_reset(void)
{
	struct fake f;
	struct pk_replay_report rep;
	struct server s;

	fake_init(&f);
	f.c.c2s.fin = false;
	f.c.s2c.fin = false;
	f.c.c2s.rst = true;
	f.c.c2s.rst_before = 7;
	f.c.nchunks = 2;
	f.c.c2s.len = 5;
	f.c.s2c.len = 7;
	CHECK_EQ_INT(replay(&f, ANSWER_SAME, true, 0, &rep, &s), 0);
	CHECK_EQ_INT(rep.conns[0].verdict, PK_SCMP_SAME);
	CHECK_STR(rep.conns[0].note ? rep.conns[0].note : "", "reset, as recorded");
	CHECK_EQ_INT(rep.conns[0].bytes_received, 7);
	CHECK_EQ_INT(s.resets, 1);
	pk_replay_report_release(&rep);
}

/* More answer than recorded: different when the capture saw the connection end, unknown when
 * the capture stopped first. */
static void test_longer_answer(void)
{
	for (int ended = 0; ended < 2; ended++) {
		struct fake f;
		struct pk_replay_report rep;
		struct server s;

		fake_init(&f);
		f.c.c2s.fin = f.c.s2c.fin = ended;
		CHECK_EQ_INT(replay(&f, ANSWER_EXTRA, true, 0, &rep, &s), 0);
		CHECK_EQ_INT(rep.conns[0].bytes_received, 18);
		CHECK_EQ_INT(rep.conns[0].verdict, ended ? PK_SCMP_DIFFERENT : PK_SCMP_UNKNOWN);
		if (ended)
			CHECK_EQ_INT(rep.conns[0].diverge_off, 12);
		else
			CHECK_STR(rep.conns[0].note ? rep.conns[0].note : "",
				  "capture ended first");
		pk_replay_report_release(&rep);
	}
}

static void test_refused(void)
{
	struct fake f;
	struct pk_replay_report rep;
	struct pk_replay_opts o = { .fast = true };
	struct pk_addr a;
	char err[128], want[128];
	int fd, port;

	/* A port that was free a moment ago. */
	pk_addr_resolve("127.0.0.1", 0, &a, NULL, 0);
	fd = pk_sock_listen(&a, 1);
	port = pk_sock_local_port(fd);
	close(fd);
	fake_init(&f);
	pk_addr_resolve("127.0.0.1", (uint16_t)port, &o.target, NULL, 0);
	CHECK_EQ_INT(pk_replay_run(&f.p, &o, &rep, err, sizeof(err)), -ECONNREFUSED);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%d: Connection refused", port);
	CHECK_STR(err, want);
	CHECK(rep.conns == NULL);
}

static void test_report_formats(void)
{
	struct fake f;
	struct pk_replay_report rep;
	struct server s;
	struct pk_strbuf out = { 0 };

	fake_init(&f);
	CHECK_EQ_INT(replay(&f, ANSWER_DIFFERENT, false, 0, &rep, &s), 0);
	pk_replay_report_table(&rep, &out);
	CHECK(strstr(pk_strbuf_str(&out), "10.0.0.1:40000 10.0.0.2:6379") != NULL);
	CHECK(strstr(pk_strbuf_str(&out), " different          0\n") != NULL);
	CHECK(strstr(pk_strbuf_str(&out), "1 connections: 0 same, 1 different, 0 unknown; sent 9 "
					  "of 9 client bytes; received 12 bytes (12 expected); "
					  "0 stalls;") != NULL);
	pk_strbuf_release(&out);
	CHECK_EQ_INT(pk_replay_report_json(&rep, &out), 0);
	cJSON *j = cJSON_Parse(pk_strbuf_str(&out));
	CHECK(j != NULL);
	if (j) {
		cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "connections"), 0);
		cJSON *sum = cJSON_GetObjectItem(j, "summary");

		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c0, "verdict")), "different");
		CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(c0, "diverge_offset")), 0);
		CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(sum, "bytes_sent")), 9);
		CHECK(cJSON_IsNull(cJSON_GetObjectItem(c0, "note")));
		CHECK(cJSON_GetObjectItem(j, "capture") != NULL);
		cJSON_Delete(j);
	}
	pk_strbuf_release(&out);
	pk_replay_report_release(&rep);
}

int main(void)
{
	UNIT_RUN(test_same_both_modes);
	UNIT_RUN(test_different);
	UNIT_RUN(test_short_answer_stalls);
	UNIT_RUN(test_timeout);
	UNIT_RUN(test_gap_is_unknown);
	UNIT_RUN(test_client_reset);
	UNIT_RUN(test_longer_answer);
	UNIT_RUN(test_refused);
	UNIT_RUN(test_report_formats);
	return unit_done();
}
