/* paths_out.c — the outputs of paths_out.h.  The JSON shapes are built with cJSON; 64-bit
 * nanosecond values are written as raw integers (a double would round them). */
#include "trace/paths_out.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "common/errbuf.h"
#include "common/strbuf.h"
#include "trace/report.h"

int pk_trace_fmt_parse(const char *name, enum pk_trace_fmt *out)
{
	static const struct {
		const char *name;
		enum pk_trace_fmt fmt;
	} names[] = {
		{ "text", PK_TRACE_FMT_TEXT },	   { "json", PK_TRACE_FMT_JSON },
		{ "chrome", PK_TRACE_FMT_CHROME }, { "otlp", PK_TRACE_FMT_OTLP },
		{ "html", PK_TRACE_FMT_HTML },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0) {
			*out = names[i].fmt;
			return 0;
		}
	return -EINVAL;
}

static void put_byte(char *dst, size_t dstlen, size_t *n, uint8_t c, bool keep_ws)
{
	char tmp[5];
	size_t len;

	if ((c >= 0x20 && c < 0x7f) || (keep_ws && (c == '\r' || c == '\n' || c == '\t'))) {
		tmp[0] = (char)c;
		len = 1;
	} else {
		snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		len = 4;
	}
	if (*n + len + 1 > dstlen)
		return;
	memcpy(dst + *n, tmp, len);
	*n += len;
}

/* A MySQL client packet (4-byte header, then the command) readably: "QUERY select 1",
 * "EXECUTE stmt 3", "HANDSHAKE" for the login packet (sequence id 1). */
static void mysql_str(const uint8_t *b, size_t len, char *dst, size_t dstlen, size_t *n)
{
	static const struct {
		uint8_t cmd;
		const char *name;
		bool text; /* the rest is text (a query, a schema name) */
		bool stmt; /* the rest starts with a 4-byte statement id */
	} cmds[] = {
		{ 0x01, "QUIT", false, false },		 { 0x02, "INIT_DB", true, false },
		{ 0x03, "QUERY", true, false },		 { 0x0e, "PING", false, false },
		{ 0x16, "PREPARE", true, false },	 { 0x17, "EXECUTE", false, true },
		{ 0x18, "SEND_LONG_DATA", false, true }, { 0x19, "CLOSE", false, true },
		{ 0x1a, "RESET", false, true },
	};
	char head[32];
	size_t i, k;

	if (b[3] != 0) {
		snprintf(head, sizeof(head), "%s", b[3] == 1 ? "HANDSHAKE" : "PACKET");
	} else {
		for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]) && cmds[k].cmd != b[4]; k++)
			;
		if (k == sizeof(cmds) / sizeof(cmds[0]))
			snprintf(head, sizeof(head), "COM_0x%02x", b[4]);
		else if (cmds[k].stmt && len >= 9)
			snprintf(head, sizeof(head), "%s stmt %u", cmds[k].name,
				 (unsigned)(b[5] | b[6] << 8 | b[7] << 16 | (uint32_t)b[8] << 24));
		else
			snprintf(head, sizeof(head), "%s", cmds[k].name);
		if (k < sizeof(cmds) / sizeof(cmds[0]) && cmds[k].text) {
			for (i = 0; head[i]; i++)
				put_byte(dst, dstlen, n, (uint8_t)head[i], false);
			put_byte(dst, dstlen, n, ' ', false);
			for (i = 5; i < len; i++)
				put_byte(dst, dstlen, n, b[i], false);
			return;
		}
	}
	for (i = 0; head[i]; i++)
		put_byte(dst, dstlen, n, (uint8_t)head[i], false);
}

/* A DNS query's question readably: "A www.example.com", "TYPE65 x.test"; false when the
 * header or the name is cut or malformed (the caller prints the bytes then). */
static bool dns_str(const uint8_t *b, size_t len, char *dst, size_t dstlen, size_t *n)
{
	static const struct {
		uint16_t type;
		const char *name;
	} types[] = { { 1, "A" },    { 2, "NS" },    { 5, "CNAME" },  { 6, "SOA" },
		      { 12, "PTR" }, { 15, "MX" },   { 16, "TXT" },   { 28, "AAAA" },
		      { 33, "SRV" }, { 64, "SVCB" }, { 65, "HTTPS" }, { 255, "ANY" } };
	char head[16];
	size_t i = 12, k;
	uint16_t type;

	if (len < 12)
		return false;
	while (i < len && b[i] != 0) {
		if (b[i] > 63 || i + 1 + b[i] >= len)
			return false; /* a pointer, or cut by the peek */
		i += 1 + b[i];
	}
	if (i + 2 >= len)
		return false;
	type = (uint16_t)(b[i + 1] << 8 | b[i + 2]);
	for (k = 0; k < sizeof(types) / sizeof(types[0]) && types[k].type != type; k++)
		;
	if (k < sizeof(types) / sizeof(types[0]))
		snprintf(head, sizeof(head), "%s ", types[k].name);
	else
		snprintf(head, sizeof(head), "TYPE%u ", type);
	for (k = 0; head[k]; k++)
		put_byte(dst, dstlen, n, (uint8_t)head[k], false);
	if (b[12] == 0)
		put_byte(dst, dstlen, n, '.', false); /* the root */
	for (i = 12; b[i] != 0; i += 1 + b[i]) {
		if (i > 12)
			put_byte(dst, dstlen, n, '.', false);
		for (k = 1; k <= b[i]; k++)
			put_byte(dst, dstlen, n, b[i + k], false);
	}
	return true;
}

void pk_trace_request_str(const struct pk_trace_hop *h, bool full, char *dst, size_t dstlen)
{
	size_t n = 0, i = 0, len = h->request_len;
	const uint8_t *b = h->request;

	if (!dstlen)
		return;
	if (full) {
		for (i = 0; i < len; i++)
			put_byte(dst, dstlen, &n, b[i], true);
	} else if (h->proto == PK_TRACE_PROTO_RESP) {
		/* "*2\r\n$3\r\nGET\r\n$4\r\nr:17\r\n" -> "GET r:17" */
		while (i < len) {
			size_t j = i;

			while (j < len && b[j] != '\r' && b[j] != '\n')
				j++;
			if (j > i && b[i] != '*' && b[i] != '$') {
				if (n && n + 2 < dstlen)
					dst[n++] = ' ';
				for (size_t k = i; k < j; k++)
					put_byte(dst, dstlen, &n, b[k], false);
			}
			i = j;
			while (i < len && (b[i] == '\r' || b[i] == '\n'))
				i++;
		}
	} else if (h->proto == PK_TRACE_PROTO_MYSQL && len >= 5) {
		mysql_str(b, len, dst, dstlen, &n);
	} else if (h->proto == PK_TRACE_PROTO_DNS && dns_str(b, len, dst, dstlen, &n)) {
		;
	} else {
		for (i = 0; i < len && b[i] != '\r' && b[i] != '\n'; i++)
			put_byte(dst, dstlen, &n, b[i], false);
	}
	dst[n] = 0;
}

static void addr_str(const struct pk_trace_addr *a, char *dst, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (a->family == AF_INET || a->family == AF_INET6) {
		inet_ntop(a->family, a->addr, ip, sizeof(ip));
		snprintf(dst, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
	} else if (a->family == AF_UNIX) {
		snprintf(dst, len, "unix");
	} else {
		snprintf(dst, len, "?");
	}
}

static bool add_int(cJSON *o, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return cJSON_AddRawToObject(o, name, buf) != NULL;
}

static size_t npaths(const struct pk_trace_paths *p, size_t limit)
{
	return limit && limit < p->npaths ? limit : p->npaths;
}

static cJSON *proc_json(const struct pk_trace_pproc *q)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	add_int(o, "pid", q->pid);
	cJSON_AddStringToObject(o, "comm", q->comm);
	cJSON_AddStringToObject(o, "exe", q->exe);
	add_int(o, "clock_offset_ns", q->offset_ns);
	if (q->has_lo)
		add_int(o, "offset_lo_ns", q->lo_ns);
	else
		cJSON_AddNullToObject(o, "offset_lo_ns");
	if (q->has_hi)
		add_int(o, "offset_hi_ns", q->hi_ns);
	else
		cJSON_AddNullToObject(o, "offset_hi_ns");
	add_int(o, "dropped", (int64_t)q->dropped);
	return o;
}

/* "processes", "untraceable" and "dropped", shared by the JSON outputs. */
static void add_common(cJSON *root, const struct pk_trace_paths *p)
{
	cJSON *procs = cJSON_AddArrayToObject(root, "processes");
	cJSON *un = cJSON_AddArrayToObject(root, "untraceable");

	for (size_t i = 0; procs && i < p->nprocs; i++)
		cJSON_AddItemToArray(procs, proc_json(&p->procs[i]));
	for (size_t i = 0; un && i < p->nuntraceable; i++) {
		cJSON *o = cJSON_CreateObject();

		add_int(o, "pid", p->untraceable[i].pid);
		cJSON_AddStringToObject(o, "path", p->untraceable[i].path);
		cJSON_AddItemToArray(un, o);
	}
	add_int(root, "dropped", (int64_t)p->dropped);
}

static cJSON *hop_json(const struct pk_trace_paths *p, const struct pk_trace_hop *h, int id)
{
	cJSON *o = cJSON_CreateObject();
	char buf[4 * PK_TRACE_PEEK + 1], addr[64];

	if (!o)
		return NULL;
	add_int(o, "id", id);
	add_int(o, "parent", h->parent);
	add_int(o, "pid", h->pid);
	add_int(o, "tid", h->tid);
	cJSON_AddStringToObject(o, "comm", p->procs[h->proc].comm);
	cJSON_AddStringToObject(o, "proto", pk_trace_proto_name(h->proto));
	pk_trace_request_str(h, true, buf, sizeof(buf));
	cJSON_AddStringToObject(o, "request", buf);
	pk_trace_request_str(h, false, buf, sizeof(buf));
	cJSON_AddStringToObject(o, "title", buf);
	add_int(o, "start_ns", (int64_t)h->start_ns);
	add_int(o, "end_ns", (int64_t)h->end_ns);
	add_int(o, "latency_ns", (int64_t)(h->end_ns - h->start_ns));
	addr_str(&h->local, addr, sizeof(addr));
	cJSON_AddStringToObject(o, "local", addr);
	addr_str(&h->peer, addr, sizeof(addr));
	cJSON_AddStringToObject(o, "peer", addr);
	cJSON_AddStringToObject(o, "rule", h->rule);
	cJSON_AddNumberToObject(o, "confidence", h->confidence);
	add_int(o, "call_start_ns", (int64_t)h->call_start_ns);
	add_int(o, "call_end_ns", (int64_t)h->call_end_ns);
	return o;
}

static cJSON *paths_json(const struct pk_trace_paths *p, size_t limit)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(root, "paths");

	for (size_t i = 0; arr && i < npaths(p, limit); i++) {
		const struct pk_trace_path *t = &p->paths[i];
		cJSON *o = cJSON_CreateObject(), *hops;

		cJSON_AddItemToArray(arr, o);
		add_int(o, "id", t->id);
		cJSON_AddStringToObject(o, "trace_id", t->trace_id);
		cJSON_AddBoolToObject(o, "complete", t->complete);
		add_int(o, "duration_ns", (int64_t)t->duration_ns);
		hops = cJSON_AddArrayToObject(o, "hops");
		for (size_t j = 0; hops && j < t->nhops; j++)
			cJSON_AddItemToArray(hops, hop_json(p, &p->hops[t->first_hop + j], (int)j));
	}
	add_common(root, p);
	return root;
}

static cJSON *summary_json(const struct pk_trace_paths *p)
{
	cJSON *root = cJSON_CreateObject(), *rules;

	add_int(root, "paths", (int64_t)p->npaths);
	add_int(root, "complete", (int64_t)p->ncomplete);
	add_int(root, "hops", (int64_t)p->nhops);
	add_common(root, p);
	rules = cJSON_AddObjectToObject(root, "rules");
	for (size_t i = 0; rules && pk_trace_rule_name(i); i++)
		add_int(rules, pk_trace_rule_name(i), (int64_t)p->rule_count[i]);
	return root;
}

static cJSON *chrome_json(const struct pk_trace_paths *p, size_t limit)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *ev = cJSON_AddArrayToObject(root, "traceEvents");
	char name[4 * PK_TRACE_PEEK + 1];

	for (size_t i = 0; ev && i < p->nprocs; i++) {
		cJSON *o = cJSON_CreateObject(), *args;

		cJSON_AddStringToObject(o, "name", "process_name");
		cJSON_AddStringToObject(o, "ph", "M");
		add_int(o, "pid", p->procs[i].pid);
		args = cJSON_AddObjectToObject(o, "args");
		snprintf(name, sizeof(name), "%s[%d]", p->procs[i].comm, (int)p->procs[i].pid);
		cJSON_AddStringToObject(args, "name", name);
		cJSON_AddItemToArray(ev, o);
	}
	for (size_t i = 0; ev && i < npaths(p, limit); i++) {
		const struct pk_trace_path *t = &p->paths[i];

		for (size_t j = 0; j < t->nhops; j++) {
			const struct pk_trace_hop *h = &p->hops[t->first_hop + j];
			cJSON *o = cJSON_CreateObject(), *args;

			pk_trace_request_str(h, false, name, sizeof(name));
			cJSON_AddStringToObject(o, "name", name);
			cJSON_AddStringToObject(o, "cat", pk_trace_proto_name(h->proto));
			cJSON_AddStringToObject(o, "ph", "X");
			add_int(o, "pid", h->pid);
			add_int(o, "tid", h->tid);
			cJSON_AddNumberToObject(o, "ts", (double)h->start_ns / 1e3);
			cJSON_AddNumberToObject(o, "dur", (double)(h->end_ns - h->start_ns) / 1e3);
			args = cJSON_AddObjectToObject(o, "args");
			add_int(args, "path", t->id);
			cJSON_AddStringToObject(args, "trace_id", t->trace_id);
			cJSON_AddStringToObject(args, "rule", h->rule);
			cJSON_AddNumberToObject(args, "confidence", h->confidence);
			cJSON_AddItemToArray(ev, o);
		}
	}
	cJSON_AddStringToObject(root, "displayTimeUnit", "ms");
	return root;
}

static void hex64(char *dst, uint64_t v)
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--, v >>= 4)
		dst[i] = hx[v & 15];
	dst[16] = 0;
}

/* A span id: 16 hex digits from the trace id and the hop's place in its path. */
static void span_id(const struct pk_trace_path *t, size_t j, char dst[17])
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++)
		v = v * 131 + (uint8_t)t->trace_id[i + 16];
	v ^= (uint64_t)(j + 1) * 0x9e3779b97f4a7c15ULL;
	v ^= v >> 29;
	hex64(dst, v ? v : 1);
}

static cJSON *attr(cJSON *arr, const char *key)
{
	cJSON *o = cJSON_CreateObject(), *v;

	cJSON_AddStringToObject(o, "key", key);
	v = cJSON_AddObjectToObject(o, "value");
	cJSON_AddItemToArray(arr, o);
	return v;
}

static void attr_str(cJSON *arr, const char *key, const char *val)
{
	cJSON_AddStringToObject(attr(arr, key), "stringValue", val);
}

static void attr_int(cJSON *arr, const char *key, int64_t val)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, val);
	cJSON_AddStringToObject(attr(arr, key), "intValue", buf);
}

static cJSON *otlp_json(const struct pk_trace_paths *p, size_t limit)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *rs = cJSON_AddArrayToObject(root, "resourceSpans");
	cJSON **spans = calloc(p->nprocs + 1, sizeof(*spans));
	char buf[4 * PK_TRACE_PEEK + 1], id[17], pid[17];

	if (!root || !rs || !spans) {
		free(spans);
		cJSON_Delete(root);
		return NULL;
	}
	for (size_t i = 0; i < p->nprocs; i++) {
		const struct pk_trace_pproc *q = &p->procs[i];
		cJSON *r = cJSON_CreateObject(), *res, *attrs, *ss, *s;

		cJSON_AddItemToArray(rs, r);
		res = cJSON_AddObjectToObject(r, "resource");
		attrs = cJSON_AddArrayToObject(res, "attributes");
		attr_str(attrs, "service.name", q->comm);
		attr_int(attrs, "process.pid", q->pid);
		attr_str(attrs, "process.executable.path", q->exe);
		ss = cJSON_AddArrayToObject(r, "scopeSpans");
		s = cJSON_CreateObject();
		cJSON_AddItemToArray(ss, s);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(s, "scope"), "name", "parikshan");
		spans[i] = cJSON_AddArrayToObject(s, "spans");
	}
	for (size_t i = 0; i < npaths(p, limit); i++) {
		const struct pk_trace_path *t = &p->paths[i];

		for (size_t j = 0; j < t->nhops; j++) {
			const struct pk_trace_hop *h = &p->hops[t->first_hop + j];
			const struct pk_trace_pproc *q = &p->procs[h->proc];
			cJSON *s = cJSON_CreateObject(), *attrs;

			if (!s || !spans[h->proc])
				continue;
			cJSON_AddItemToArray(spans[h->proc], s);
			cJSON_AddStringToObject(s, "traceId", t->trace_id);
			span_id(t, j, id);
			cJSON_AddStringToObject(s, "spanId", id);
			if (h->parent >= 0) {
				span_id(t, (size_t)h->parent, pid);
				cJSON_AddStringToObject(s, "parentSpanId", pid);
			}
			pk_trace_request_str(h, false, buf, sizeof(buf));
			cJSON_AddStringToObject(s, "name",
						buf[0] ? buf : pk_trace_proto_name(h->proto));
			add_int(s, "kind", 2);
			/* unsigned: times from outside may be anything (no overflow) */
			snprintf(buf, sizeof(buf), "%" PRIu64,
				 (uint64_t)q->wall_base_ns + h->start_ns);
			cJSON_AddStringToObject(s, "startTimeUnixNano", buf);
			snprintf(buf, sizeof(buf), "%" PRIu64,
				 (uint64_t)q->wall_base_ns + h->end_ns);
			cJSON_AddStringToObject(s, "endTimeUnixNano", buf);
			attrs = cJSON_AddArrayToObject(s, "attributes");
			attr_str(attrs, "parikshan.rule", h->rule);
			cJSON_AddNumberToObject(attr(attrs, "parikshan.confidence"), "doubleValue",
						h->confidence);
			attr_str(attrs, "network.protocol.name", pk_trace_proto_name(h->proto));
			addr_str(&h->local, buf, sizeof(buf));
			attr_str(attrs, "server.address", buf);
			addr_str(&h->peer, buf, sizeof(buf));
			attr_str(attrs, "net.peer.name", buf);
			attr_int(attrs, "thread.id", h->tid);
		}
	}
	free(spans);
	return root;
}

static void ms(char *dst, size_t len, uint64_t ns)
{
	snprintf(dst, len, "%" PRIu64 ".%03" PRIu64 " ms", ns / 1000000, ns / 1000 % 1000);
}

static void text_tail(const struct pk_trace_paths *p, FILE *f)
{
	fprintf(f, "processes:\n");
	for (size_t i = 0; i < p->nprocs; i++) {
		const struct pk_trace_pproc *q = &p->procs[i];

		fprintf(f, "  %s[%d]  clock offset %+" PRId64 " ns", q->comm, (int)q->pid,
			q->offset_ns);
		if (q->has_lo || q->has_hi) {
			fputs("  allowed [", f);
			q->has_lo ? fprintf(f, "%" PRId64, q->lo_ns) : fputs("-inf", f);
			fputs(", ", f);
			q->has_hi ? fprintf(f, "%" PRId64, q->hi_ns) : fputs("+inf", f);
			fputs("]", f);
		}
		fprintf(f, "  dropped %" PRIu64 "  %s\n", q->dropped, q->exe);
	}
	fprintf(f, "dropped: %" PRIu64 "\n", p->dropped);
	if (!p->nuntraceable)
		fprintf(f, "untraceable: none\n");
	for (size_t i = 0; i < p->nuntraceable; i++)
		fprintf(f, "untraceable: %s (pid %d, statically linked: its calls are not seen)\n",
			p->untraceable[i].path, (int)p->untraceable[i].pid);
}

static void text_paths(const struct pk_trace_paths *p, size_t limit, FILE *f)
{
	char req[4 * PK_TRACE_PEEK + 1], lat[32];

	for (size_t i = 0; i < npaths(p, limit); i++) {
		const struct pk_trace_path *t = &p->paths[i];

		pk_trace_request_str(&p->hops[t->first_hop], false, req, sizeof(req));
		ms(lat, sizeof(lat), t->duration_ns);
		fprintf(f, "path %d  %s  %s  %s\n", t->id, lat,
			t->complete ? "complete" : "incomplete", req);
		for (size_t j = 0; j < t->nhops; j++) {
			const struct pk_trace_hop *h = &p->hops[t->first_hop + j];

			pk_trace_request_str(h, false, req, sizeof(req));
			ms(lat, sizeof(lat), h->end_ns - h->start_ns);
			fprintf(f, "%*s%s[%d] %s %s  %s", 2 * (h->depth + 1), "",
				p->procs[h->proc].comm, (int)h->pid, pk_trace_proto_name(h->proto),
				lat, req);
			if (h->parent >= 0)
				fprintf(f, "  (%s, %.2f)", h->rule, h->confidence);
			fputc('\n', f);
		}
	}
	if (!p->npaths)
		fprintf(f, "no paths\n");
}

static void text_summary(const struct pk_trace_paths *p, FILE *f)
{
	fprintf(f, "paths: %zu (%zu complete), hops: %zu\nrules:", p->npaths, p->ncomplete,
		p->nhops);
	for (size_t i = 0; pk_trace_rule_name(i); i++)
		fprintf(f, " %s %" PRIu64, pk_trace_rule_name(i), p->rule_count[i]);
	fputc('\n', f);
}

/* The HTML report (report.h) of every path, the limit slowest drawn (0: its default). */
static int write_html(const struct pk_trace_paths *p, size_t limit, FILE *f, char *err,
		      size_t errlen)
{
	struct pk_trace_report_opts o = { .max_paths = limit };
	struct pk_strbuf out = { 0 };
	cJSON *root = paths_json(p, 0);
	int rc = root ? pk_trace_report_html(root, &o, &out, err, errlen)
		      : pk_errbuf_set(-ENOMEM, err, errlen, "writing the report: out of memory");

	cJSON_Delete(root);
	if (!rc && (fputs(pk_strbuf_str(&out), f) == EOF || fflush(f) != 0 || ferror(f)))
		rc = pk_errbuf_set(-EIO, err, errlen, "writing the report: %s", strerror(errno));
	pk_strbuf_release(&out);
	return rc;
}

int pk_trace_paths_write(const struct pk_trace_paths *p, enum pk_trace_fmt fmt, size_t limit,
			 FILE *f, char *err, size_t errlen)
{
	cJSON *root = NULL;

	switch (fmt) {
	case PK_TRACE_FMT_TEXT:
		text_paths(p, limit, f);
		text_tail(p, f);
		break;
	case PK_TRACE_FMT_SUMMARY:
		text_summary(p, f);
		text_tail(p, f);
		break;
	case PK_TRACE_FMT_JSON:
		root = paths_json(p, limit);
		break;
	case PK_TRACE_FMT_CHROME:
		root = chrome_json(p, limit);
		break;
	case PK_TRACE_FMT_OTLP:
		root = otlp_json(p, limit);
		break;
	case PK_TRACE_FMT_SUMMARY_JSON:
		root = summary_json(p);
		break;
	case PK_TRACE_FMT_HTML:
		return write_html(p, limit, f, err, errlen);
	}
	if (fmt != PK_TRACE_FMT_TEXT && fmt != PK_TRACE_FMT_SUMMARY) {
		char *s = root ? cJSON_PrintUnformatted(root) : NULL;

		cJSON_Delete(root);
		if (!s)
			return pk_errbuf_set(-ENOMEM, err, errlen,
					     "writing the paths: out of memory");
		fputs(s, f);
		fputc('\n', f);
		free(s);
	}
	if (fflush(f) != 0 || ferror(f))
		return pk_errbuf_set(-EIO, err, errlen, "writing the paths: %s", strerror(errno));
	return 0;
}
