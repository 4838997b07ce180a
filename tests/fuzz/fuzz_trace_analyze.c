/* fuzz_trace_analyze.c — libFuzzer target: the request-path analyzer (trace/analyze.h) over
 * records that traced processes (or anything that connects to logd) sent, and the outputs of
 * the paths it builds (trace/paths_out.h, every format).
 *
 * Input: one byte for the processes, then records of REC_SIZE bytes each (a short tail is
 * ignored).  Four processes, rows 1..4, pids 100..103; the first byte's bits:
 *   0-3  the clock of process i runs SKEW_NS ahead (its hello and its records)
 *   4    row 4 is an exec of pid 102 (same pid: the analyzer merges the rows)
 *   5    row 2 is a fork of pid 100
 *   6-7  records pid 100 lost before its hello (0, 1, 17, 4096)
 * A record, byte by byte:
 *   0  bits 0-2: process (row index mod 5; 4 is a row no hello announced), bits 3-4: thread,
 *      bits 5-7: fd (from fds[])
 *   1  call (the low 4 bits: the valid calls and 0, 12..15 out of range)
 *   2  flags (as they are)
 *   3  ret: 0 the template's length, bit 7 set -(low 7 bits), 127 a huge count, else itself
 *   4  time step from the previous record, signed, in TS_STEP_NS (going backwards too);
 *      -128: a jump of byte 9 x 2^56 ns (a clock from outside can hold anything)
 *   5  offset: bits 0-1 mode (0 where the direction stopped, 1 a jump forward, 2 an
 *      overlap back, 3 absolute), bits 2-7 the amount (x16 for a jump)
 *   6  local endpoint, 7 peer endpoint: bits 0-3 port (ports[]), bits 4-5 address (addrs[]),
 *      bits 6-7 family (IPv4, IPv6, none, Unix)
 *   8  peek: bits 0-3 template (templates[]; 15: raw input bytes that follow), bits 4-7 a
 *      number put into it (request, key)
 *   9  arg (signed: the child of a FORK, the new fd of a DUP, ...)
 * Small sets of fds, ports and addresses make connections of two processes line up, so that
 * the linking rules are reached.
 *
 * Besides the sanitizers' checks, it asserts the promises of analyze.h: 0 or -ENOMEM with a
 * reason; paths take hops[] in turn, each a tree in preorder (parent -1 and depth 0 first, then a
 * smaller index within the path and the parent's depth + 1); ncomplete counts the complete
 * paths; every hop's process and rule names valid; each output format written without error.
 * Built with clang by `make fuzz`, and with gcc+ASan into test_fuzz_corpus.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "trace/analyze.h"
#include "trace/paths_out.h"

#define FUZZ_TARGET "fuzz_trace_analyze"
#include "fuzz.h"

#define NPROC 4
#define REC_SIZE 10
#define TS_BASE_NS 1000000000ull
#define TS_STEP_NS 10000ull
#define SKEW_NS 50000000ull
#define MAX_EV 1024

static const int32_t fds[8] = { 3, 4, 5, 6, 7, 8, -1, 1 << 20 };
static const uint16_t ports[16] = { 80,	   8080,  6379,	 3306,	53,    11211, 9000,  0,
				    50001, 50002, 50003, 50004, 51001, 51002, 40000, 65535 };
static const uint8_t addrs[4][4] = { { 127, 0, 0, 1 }, { 127, 0, 0, 2 }, { 10, 0, 0, 1 }, { 0 } };

/* Request and response bytes of the protocols the analyzer tells apart; %d: a number. */
static const struct tmpl {
	const char *fmt;
	size_t len; /* binary templates (fmt used as bytes): their length; 0: text */
} templates[15] = {
	{ "GET /r/%d HTTP/1.1\r\nHost: backend\r\n\r\n", 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0 },
	{ "*2\r\n$3\r\nGET\r\n$4\r\nr:%02d\r\n", 0 },
	{ "$2\r\n%02d\r\n", 0 },
	{ "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 0 },
	{ "\x09\x00\x00\x00\x03SELECT 1", 13 },
	{ "\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00", 11 },
	{ "\x0a\x00\x00\x00\x0a"
	  "8.0.36\x00\x01\x00\x00\x00",
	  16 },
	{ "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01r\x00\x00\x01\x00\x01", 19 },
	{ "\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x01r\x00\x00\x01\x00\x01", 19 },
	{ "get k%d\r\n", 0 },
	{ "VALUE k 0 1\r\nx\r\nEND\r\n", 0 },
	{ "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0 },
	{ "", 0 },
	{ "/usr/bin/backend --port %d", 0 },
};

/* Fills r's peek from template t (15: the input bytes at raw, at most avail); its length. */
static size_t fill_peek(struct pk_trace_rec *r, unsigned t, unsigned num, const uint8_t *raw,
			size_t avail)
{
	size_t len;

	if (t >= sizeof(templates) / sizeof(templates[0])) {
		len = (size_t)num * 4 < avail ? (size_t)num * 4 : avail;
		memcpy(r->peek, raw, len);
	} else if (templates[t].len) {
		len = templates[t].len;
		memcpy(r->peek, templates[t].fmt, len);
	} else {
		char text[256];
		int n;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		n = snprintf(text, sizeof(text), templates[t].fmt, (int)num);
#pragma GCC diagnostic pop
		len = n > 0 ? (size_t)n : 0;
		memcpy(r->peek, text, len < PK_TRACE_PEEK ? len : PK_TRACE_PEEK);
	}
	r->peek_len = (uint16_t)(len < PK_TRACE_PEEK ? len : PK_TRACE_PEEK);
	return len;
}

static void fill_addr(struct pk_trace_addr *a, uint8_t sel)
{
	static const uint16_t families[4] = { AF_INET, AF_INET6, 0, AF_UNIX };

	memset(a, 0, sizeof(*a));
	a->family = families[sel >> 6];
	if (a->family == AF_INET || a->family == AF_INET6) {
		a->port = ports[sel & 15];
		if (a->family == AF_INET6) {
			a->addr[10] = a->addr[11] = 0xff; /* a v4-mapped address */
			memcpy(a->addr + 12, addrs[(sel >> 4) & 3], 4);
		} else {
			memcpy(a->addr, addrs[(sel >> 4) & 3], 4);
		}
	}
}

static void make_procs(struct pk_trace_proc *procs, uint8_t cfg, uint64_t *skew)
{
	static const uint64_t dropped[4] = { 0, 1, 17, 4096 };

	for (int i = 0; i < NPROC; i++) {
		struct pk_trace_proc *p = &procs[i];

		memset(p, 0, sizeof(*p));
		skew[i] = cfg & (1u << i) ? SKEW_NS : 0;
		p->id = i + 1;
		p->pid = 100 + i;
		p->ppid = 1;
		p->mono_ns = TS_BASE_NS - 1000000 + skew[i];
		p->real_ns = 1700000000ull * 1000000000ull + p->mono_ns;
		snprintf(p->comm, sizeof(p->comm), "proc%d", i);
		snprintf(p->exe, sizeof(p->exe), "/usr/bin/proc%d", i);
	}
	if (cfg & 0x10) {
		procs[3].pid = 102;
		procs[3].ppid = procs[2].ppid;
		procs[3].flags = PK_TRACE_HELLO_EXECED;
	}
	if (cfg & 0x20) {
		procs[1].ppid = 100;
		procs[1].flags = PK_TRACE_HELLO_FORKED;
	}
	procs[0].dropped = dropped[cfg >> 6];
}

/* Decodes the records of data into ev (at most MAX_EV); their count. */
static size_t make_events(const uint8_t *data, size_t size, const uint64_t *skew,
			  struct pk_trace_ev *ev)
{
	/* where the next byte of each (process, fd, direction) is: offsets contiguous by default */
	uint64_t next[NPROC + 1][8][2];
	uint64_t ts = TS_BASE_NS;
	size_t n = 0;

	memset(next, 0, sizeof(next));
	for (size_t i = 0; i + REC_SIZE <= size && n < MAX_EV; i += REC_SIZE, n++) {
		const uint8_t *b = data + i;
		struct pk_trace_rec *r = &ev[n].rec;
		unsigned proc = (b[0] & 7) % (NPROC + 1), fdi = b[0] >> 5, amount = b[5] >> 2;
		size_t len;
		uint64_t *nx;

		memset(&ev[n], 0, sizeof(ev[n]));
		ev[n].proc = proc + 1; /* row 5: no such process */
		r->tid = 100 + proc + ((b[0] >> 3) & 3) * 1000;
		r->fd = fds[fdi];
		r->call = b[1] & 15;
		r->flags = b[2];
		/* wraps: bytes from outside */
		ts += b[4] == 0x80 ? (uint64_t)b[9] << 56
				   : (uint64_t)(int64_t)(int8_t)b[4] * TS_STEP_NS;
		r->ts_ns = ts + (proc < NPROC ? skew[proc] : 0);
		fill_addr(&r->local, b[6]);
		fill_addr(&r->peer, b[7]);
		len = fill_peek(r, b[8] & 15, b[8] >> 4, b + REC_SIZE, size - i - REC_SIZE);
		if (len > PK_TRACE_PEEK)
			r->flags |= PK_TRACE_F_PEEK_CUT;
		if (b[3] == 0)
			r->ret = (int64_t)len;
		else if (b[3] & 0x80)
			r->ret = -(int64_t)(b[3] & 0x7f);
		else
			r->ret = b[3] == 127 ? INT64_C(1) << 40 : b[3];
		r->arg = (int8_t)b[9];
		nx = &next[proc][fdi][r->call == PK_TRACE_WRITE];
		switch (b[5] & 3) {
		case 0:
			r->offset = *nx;
			break;
		case 1:
			r->offset = *nx + (uint64_t)amount * 16;
			break;
		case 2:
			r->offset = *nx - amount; /* wraps below 0: bytes from outside */
			break;
		default:
			r->offset = amount;
			break;
		}
		if ((r->call == PK_TRACE_READ || r->call == PK_TRACE_WRITE) && r->ret > 0)
			*nx = r->offset + (uint64_t)r->ret;
	}
	return n;
}

static bool rule_valid(const char *rule)
{
	const char *end = memchr(rule, '\0', PK_TRACE_RULE_MAX);

	if (!end || end == rule)
		return false;
	for (const char *s = rule; s < end;) {
		const char *plus = memchr(s, '+', (size_t)(end - s));
		size_t len = plus ? (size_t)(plus - s) : (size_t)(end - s);
		bool known = false;
		const char *name;

		for (size_t k = 0; (name = pk_trace_rule_name(k)); k++)
			known |= strlen(name) == len && !memcmp(name, s, len);
		if (!known)
			return false;
		s += len + (plus != NULL);
	}
	return true;
}

static void check_paths(const struct pk_trace_paths *p)
{
	size_t ncomplete = 0, next_hop = 0;

	require(p->ncomplete <= p->npaths, "ncomplete <= npaths");
	for (size_t i = 0; i < p->npaths; i++) {
		const struct pk_trace_path *path = &p->paths[i];
		const struct pk_trace_hop *h;

		require(path->id == (int)i + 1, "path ids 1.. in order");
		require(path->nhops > 0 && path->first_hop < p->nhops &&
				path->nhops <= p->nhops - path->first_hop,
			"a path's hops inside hops[]");
		require(path->first_hop == next_hop, "paths take hops[] in turn");
		next_hop += path->nhops;
		require(memchr(path->trace_id, '\0', sizeof(path->trace_id)) != NULL,
			"a trace id is a string");
		ncomplete += path->complete;
		h = &p->hops[path->first_hop];
		for (size_t k = 0; k < path->nhops; k++) {
			if (k == 0)
				require(h[k].parent == -1 && h[k].depth == 0,
					"a path's root first");
			else
				require(h[k].parent >= 0 && (size_t)h[k].parent < k &&
						h[k].depth == h[h[k].parent].depth + 1,
					"a hop under an earlier hop of its path, one deeper");
			require(h[k].proc < p->nprocs && p->procs[h[k].proc].pid == h[k].pid,
				"a hop's process");
			require(h[k].request_len <= PK_TRACE_PEEK, "a hop's request fits");
			require(rule_valid(h[k].rule), "a hop's rule names");
			require(pk_trace_proto_name(h[k].proto) != NULL, "a hop's protocol");
		}
	}
	require(ncomplete == p->ncomplete, "ncomplete counts the complete paths");
	require(next_hop == p->nhops, "every hop in a path");
}

static void write_all(const struct pk_trace_paths *p, size_t limit)
{
	static const enum pk_trace_fmt fmts[] = {
		PK_TRACE_FMT_TEXT, PK_TRACE_FMT_JSON,	 PK_TRACE_FMT_CHROME,
		PK_TRACE_FMT_OTLP, PK_TRACE_FMT_SUMMARY, PK_TRACE_FMT_SUMMARY_JSON,
		PK_TRACE_FMT_HTML,
	};
	FILE *f = fopen("/dev/null", "we");

	if (!f)
		return;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		char err[256] = "";
		int rc = pk_trace_paths_write(p, fmts[i], limit, f, err, sizeof(err));

		require(rc == 0 || (rc == -ENOMEM && err[0]), "an output written (or -ENOMEM)");
	}
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pk_trace_ev ev[MAX_EV];
	struct pk_trace_proc procs[NPROC];
	struct pk_trace_paths *out = NULL;
	uint64_t skew[NPROC];
	char err[256] = "";
	size_t nev;
	int rc;

	if (size < 1)
		return 0;
	make_procs(procs, data[0], skew);
	nev = make_events(data + 1, size - 1, skew, ev);
	rc = pk_trace_analyze(procs, NPROC, ev, nev, &out, err, sizeof(err));
	require(rc == 0 || (rc == -ENOMEM && err[0]), "0 or -ENOMEM with a reason");
	if (rc == 0) {
		require(out != NULL, "a result");
		check_paths(out);
		write_all(out, data[0] & 3);
	}
	pk_trace_paths_free(out);
	return 0;
}
