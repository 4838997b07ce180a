/* trace.c — a capture's client requests, timed, for `sim --trace`.
 *
 * The capture is read by src/capture/pcap_read (TCP reassembly, with the server's arrival
 * marks).  On each connection, a request is a client→server burst: consecutive client chunks
 * with no server byte between them (the same s2c_before).  Its service time is measured from
 * the burst's last byte to the first byte of the server's answer, i.e. the first byte at or past
 * the burst's s2c_before, and only when that byte came before the next burst (else the server
 * did not answer it in the capture: not measured); an answer stamped with the request's own
 * time took the clock's resolution, 1 ns, not nothing.  A server's greeting before any request
 * (MySQL's handshake) belongs to no request.  All connections' requests are then merged in
 * time order into one stream, as the study's single session was: one buffer, one server.
 *
 *   client  |--req 0--|          |-req 1-|                 chunks, s2c_before = 0, 0 | 90
 *   server             |answer 0 (90 B)|      |answer 1|   marks
 *           <---t0--->^service 0^
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture/pcap_read.h"
#include "common/errbuf.h"
#include "window/window.h"

/* A request while collecting: absolute times, and where it came from to sort ties. */
struct raw {
	uint64_t t_ns;
	uint64_t bytes;
	int64_t service_ns; /* < 0: not measured */
	unsigned conn;
	size_t index;
};

/* The first mark holding a byte at or past pos, or NULL (marks are in stream order). */
static const struct pk_pcap_mark *mark_at(const struct pk_pcap_conn *c, uint64_t pos)
{
	size_t lo = 0, hi = c->nreplies;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->replies[mid].pos + c->replies[mid].len > pos)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo < c->nreplies ? &c->replies[lo] : NULL;
}

/* Appends the requests of connection c to v (room for all its chunks); returns how many. */
static size_t conn_requests(const struct pk_pcap_conn *c, struct raw *v)
{
	size_t n = 0;

	for (size_t k = 0; k < c->nchunks;) {
		const struct pk_pcap_chunk *first = &c->chunks[k];
		uint64_t before = first->s2c_before, bytes = 0, last_ts = first->ts_ns;
		const struct pk_pcap_mark *m;
		bool more;

		for (; k < c->nchunks && c->chunks[k].s2c_before == before; k++) {
			bytes += c->chunks[k].len;
			last_ts = c->chunks[k].ts_ns;
		}
		more = k < c->nchunks;
		m = mark_at(c, before);
		v[n] = (struct raw){ .t_ns = first->ts_ns,
				     .bytes = bytes,
				     .service_ns = -1,
				     .conn = c->id,
				     .index = n };
		/* the answer must begin before the next request was sent */
		if (m && (!more || m->pos < c->chunks[k].s2c_before) && m->ts_ns >= last_ts &&
		    m->ts_ns - last_ts <= INT64_MAX)
			v[n].service_ns = m->ts_ns > last_ts ? (int64_t)(m->ts_ns - last_ts) : 1;
		n++;
	}
	return n;
}

static int raw_cmp(const void *a, const void *b)
{
	const struct raw *x = a, *y = b;

	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	if (x->conn != y->conn)
		return x->conn < y->conn ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Fills t from the sorted raw requests (n >= 2, not all at the same time). */
static void fill(struct pk_window_trace *t, const struct raw *v, size_t n)
{
	double bytes = 0, service = 0, span = (double)(v[n - 1].t_ns - v[0].t_ns) / 1e9;

	for (size_t i = 0; i < n; i++) {
		struct pk_window_request *r = &t->reqs[i];

		r->t_s = (double)(v[i].t_ns - v[0].t_ns) / 1e9;
		r->bytes = v[i].bytes;
		r->service_s = v[i].service_ns < 0 ? -1 : (double)v[i].service_ns / 1e9;
		bytes += (double)r->bytes;
		if (r->service_s >= 0) {
			service += r->service_s;
			t->measured++;
		}
	}
	t->n = n;
	t->period_s = span * (double)n / (double)(n - 1);
	t->mean_bytes = bytes / (double)n;
	t->mean_service_s = t->measured ? service / (double)t->measured : 0;
}

int pk_window_trace_from_pcap(const struct pk_pcap *cap, struct pk_window_trace **out, char *err,
			      size_t errlen)
{
	struct pk_window_trace *t;
	struct raw *v;
	size_t chunks = 0, n = 0;

	*out = NULL;
	for (size_t i = 0; i < cap->nconns; i++)
		chunks += cap->conns[i]->nchunks;
	if (chunks < 2)
		return pk_errbuf_set(
			-ENODATA, err, errlen,
			"%zu client request%s in %zu TCP connection%s (at least two are needed)",
			chunks, chunks == 1 ? "" : "s", cap->nconns, cap->nconns == 1 ? "" : "s");
	v = calloc(chunks, sizeof(*v));
	if (!v)
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory for %zu requests",
				     chunks);
	for (size_t i = 0; i < cap->nconns; i++)
		n += conn_requests(cap->conns[i], v + n);
	qsort(v, n, sizeof(*v), raw_cmp);
	if (n < 2 || v[n - 1].t_ns == v[0].t_ns) {
		free(v);
		return pk_errbuf_set(-ENODATA, err, errlen,
				     "%zu client request%s, all at the same time: no arrival rate",
				     n, n == 1 ? "" : "s");
	}
	t = calloc(1, sizeof(*t));
	if (t)
		t->reqs = calloc(n, sizeof(*t->reqs));
	if (!t || !t->reqs) {
		free(t);
		free(v);
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory for %zu requests", n);
	}
	t->conns = cap->nconns;
	fill(t, v, n);
	free(v);
	*out = t;
	return 0;
}

int pk_window_trace_read_stream(FILE *f, uint16_t server_port, uint64_t max_bytes,
				struct pk_window_trace **out, char *err, size_t errlen)
{
	struct pk_pcap_opts o = { .server_port = server_port,
				  .max_bytes = max_bytes,
				  .reply_times = true };
	struct pk_pcap *cap;
	int rc;

	*out = NULL;
	rc = pk_pcap_read_stream(f, &o, &cap, err, errlen);
	if (rc < 0)
		return rc;
	rc = pk_window_trace_from_pcap(cap, out, err, errlen);
	pk_pcap_free(cap);
	return rc;
}

int pk_window_trace_read_file(const char *path, uint16_t server_port, uint64_t max_bytes,
			      struct pk_window_trace **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rbe");

	*out = NULL;
	if (!f) {
		int e = errno;

		return pk_errbuf_set(-e, err, errlen, "%s", strerror(e));
	}
	return pk_window_trace_read_stream(f, server_port, max_bytes, out, err, errlen);
}

void pk_window_trace_free(struct pk_window_trace *t)
{
	if (!t)
		return;
	free(t->reqs);
	free(t);
}
