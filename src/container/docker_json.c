/* docker_json.c — Docker Engine API answers read with cJSON into bounded structs (docker.h):
 * a container's inspect answer and the container list.  No I/O: what dockerd sends is bytes
 * from another process, so every field is checked and bounded, and a message names the field,
 * never quotes the answer. */
#include "container/docker.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "common/http.h"
#include "common/sock.h"
#include "common/text.h"

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
#define WORD_CHARS "abcdefghijklmnopqrstuvwxyz"
_Static_assert(PK_DOCKER_NAME_MAX == 152, "PK_DOCKER_NOT_A_NAME says 152");

enum { REQ = false, OPT = true };

typedef cJSON_bool (*json_is)(const cJSON *item);

/* A document being read: its name and the object being read (for messages), and the caller's
 * error buffer.  No text of the answer goes into a message (fields are named by their keys and
 * indexes), so that it stays one printable line. */
struct jctx {
	const char *doc; /* "inspect answer", "container list" */
	char at[64];	 /* "State", "Mounts[2]"; "" for the top */
	char *err;
	size_t errlen;
};

static void __attribute__((format(printf, 2, 3))) at(struct jctx *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->at, sizeof(j->at), fmt, ap);
	va_end(ap);
}

/* Says that field key of the current object is wrong; returns -EPROTO. */
static int bad(const struct jctx *j, const char *key, const char *why)
{
	return pk_errbuf_set(-EPROTO, j->err, j->errlen, "Docker's %s: '%s%s%s' %s", j->doc, j->at,
			     j->at[0] && key[0] ? "." : "", key, why);
}

/* Points *out at member key of o when is says it is of its kind; absent or null is fine when
 * opt (*out NULL), -EPROTO otherwise. */
static int member(const struct jctx *j, const cJSON *o, const char *key, json_is is,
		  const char *not_is, bool opt, const cJSON **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (!v || cJSON_IsNull(v))
		return opt ? 0 : bad(j, key, "is missing");
	if (!is(v))
		return bad(j, key, not_is);
	*out = v;
	return 0;
}

static int object(const struct jctx *j, const cJSON *o, const char *key, bool opt,
		  const cJSON **out)
{
	return member(j, o, key, cJSON_IsObject, "is not an object", opt, out);
}

/* Copies string member key of o into dst[len] ("" when opt and absent); -EPROTO when it is
 * not a string or does not fit. */
static int str(const struct jctx *j, const cJSON *o, const char *key, bool opt, char *dst,
	       size_t len)
{
	const cJSON *v;
	int rc = member(j, o, key, cJSON_IsString, "is not a string", opt, &v);
	size_t n;

	dst[0] = '\0';
	if (rc || !v)
		return rc;
	n = strlen(v->valuestring);
	if (n >= len) {
		char why[48];

		snprintf(why, sizeof(why), "is longer than %zu bytes", len - 1);
		return bad(j, key, why);
	}
	memcpy(dst, v->valuestring, n + 1);
	return 0;
}

/* Like str(), for a path: absolute when set, and set (not "") unless opt. */
static int abs_path(const struct jctx *j, const cJSON *o, const char *key, bool opt, char *dst,
		    size_t len)
{
	int rc = str(j, o, key, opt, dst, len);

	if (!rc && !opt && !dst[0])
		return bad(j, key, "is empty");
	if (!rc && dst[0] && dst[0] != '/')
		return bad(j, key, "is not an absolute path");
	return rc;
}

/* Like str(), for a word made of the characters of set (a status, a driver's name). */
static int word(const struct jctx *j, const cJSON *o, const char *key, const char *set, char *dst,
		size_t len)
{
	int rc = str(j, o, key, REQ, dst, len);

	if (!rc && (!dst[0] || dst[strspn(dst, set)]))
		return bad(j, key, "is not a word");
	return rc;
}

/* Like str(), for an IPv4 address or "". */
static int ipv4(const struct jctx *j, const cJSON *o, const char *key, char dst[16])
{
	struct in_addr a;
	int rc = str(j, o, key, REQ, dst, 16);

	if (!rc && dst[0] && inet_pton(AF_INET, dst, &a) != 1)
		return bad(j, key, "is not an IPv4 address");
	return rc;
}

/* Reads integer member key of o, min..max, into *out. */
static int integer(const struct jctx *j, const cJSON *o, const char *key, int min, int max,
		   int *out)
{
	const cJSON *v;
	int rc = member(j, o, key, cJSON_IsNumber, "is not a number", REQ, &v);
	double d = v ? v->valuedouble : 0;

	if (rc)
		return rc;
	if (!(d >= min && d <= max) || d != (double)(int)d) /* the range first: no UB in the cast */
		return bad(j, key, "is not a whole number in range");
	*out = (int)d;
	return 0;
}

static int boolean(const struct jctx *j, const cJSON *o, const char *key, bool *out)
{
	const cJSON *v;
	int rc = member(j, o, key, cJSON_IsBool, "is not a boolean", REQ, &v);

	*out = !rc && cJSON_IsTrue(v);
	return rc;
}

bool pk_docker_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n && n <= PK_DOCKER_NAME_MAX && name[strspn(name, NAME_CHARS)] == '\0';
}

static bool id_valid(const char *id)
{
	return strlen(id) == PK_DOCKER_ID_LEN && strspn(id, "0123456789abcdef") == PK_DOCKER_ID_LEN;
}

/* Whether a string of the JSON text s[0..len) holds the escape \u0000, where cJSON's C
 * strings would end: such a string would be silently cut. */
static bool nul_escaped(const char *s, size_t len)
{
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"') {
			in_string = !in_string;
		} else if (in_string && s[i] == '\\') {
			if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
				return true;
			i++; /* the escaped character: maybe a quote */
		}
	}
	return false;
}

/* Parses text[0..len) as one JSON value of the kind is says and nothing else but blanks;
 * *out (the caller deletes it) or -EPROTO. */
static int parse_doc(const struct jctx *j, const char *text, size_t len, json_is is,
		     const char *not_is, cJSON **out)
{
	const char *end = NULL, *why = NULL;
	cJSON *root = NULL;

	if (!text || !len)
		why = "is empty";
	else if (memchr(text, '\0', len))
		why = "holds a NUL byte";
	else if (nul_escaped(text, len))
		why = "holds a string with an escaped NUL";
	else if (!(root = cJSON_ParseWithLengthOpts(text, len, &end, false)))
		why = "is not JSON";
	while (root && end < text + len && strchr(" \t\r\n", *end)) /* *end: not a NUL */
		end++;
	if (root && end != text + len)
		why = "has text after its JSON";
	else if (root && !is(root))
		why = not_is;
	if (why) {
		cJSON_Delete(root);
		return pk_errbuf_set(-EPROTO, j->err, j->errlen, "Docker's %s %s", j->doc, why);
	}
	*out = root;
	return 0;
}

static int parse_nets(struct jctx *j, const cJSON *settings, struct pk_docker_ctr *d)
{
	const cJSON *nets, *n;
	int rc = object(j, settings, "Networks", OPT, &nets), i = 0;

	cJSON_ArrayForEach(n, nets)
	{
		struct pk_docker_net *e = &d->nets[d->nnets];

		if (d->nnets == PK_DOCKER_NETS_MAX) {
			d->nets_more = true;
			break;
		}
		at(j, "NetworkSettings.Networks[%d]", i++);
		if (!n->string[0] || strlen(n->string) >= sizeof(e->name))
			return bad(j, "", "has an empty or too long name");
		if (!cJSON_IsObject(n))
			return bad(j, "", "is not an object");
		snprintf(e->name, sizeof(e->name), "%s", n->string);
		if ((rc = ipv4(j, n, "IPAddress", e->ip)) ||
		    (rc = integer(j, n, "IPPrefixLen", 0, 32, &e->prefix)) ||
		    (rc = ipv4(j, n, "Gateway", e->gateway)))
			break;
		d->nnets++;
	}
	return rc;
}

/* Reads the port number (1..65535, digits only) at s; *end after it.  -1 when there is none. */
static int port_num(const char *s, char **end)
{
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, end, 10); /* ULONG_MAX on overflow: out of range too */
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* Reads a key of Ports, "6379/tcp", into p. */
static bool port_key(const char *key, struct pk_docker_port *p)
{
	char *end;

	p->port = port_num(key, &end);
	if (p->port < 0 || *end != '/' ||
	    (strcmp(end + 1, "tcp") && strcmp(end + 1, "udp") && strcmp(end + 1, "sctp")))
		return false;
	snprintf(p->proto, sizeof(p->proto), "%s", end + 1);
	return true;
}

/* Reads the bindings of the published ports: {"80/tcp": [{"HostIp": .., "HostPort": ..}]}. */
static int parse_ports(struct jctx *j, const cJSON *settings, struct pk_docker_ctr *d)
{
	const cJSON *ports, *bindings, *b;
	int rc = object(j, settings, "Ports", OPT, &ports), i = 0;

	cJSON_ArrayForEach(bindings, ports)
	{
		struct pk_docker_port key;
		int k = 0;

		at(j, "NetworkSettings.Ports[%d]", i++);
		if (!port_key(bindings->string, &key))
			return bad(j, "", "is not named PORT/tcp, udp or sctp");
		if (cJSON_IsNull(bindings)) /* exposed, not published */
			continue;
		if (!cJSON_IsArray(bindings))
			return bad(j, "", "is not an array");
		cJSON_ArrayForEach(b, bindings)
		{
			struct pk_docker_port *p = &d->ports[d->nports];
			struct in6_addr a;
			char hp[8], *end;

			if (d->nports == PK_DOCKER_PORTS_MAX) {
				d->ports_more = true;
				return 0;
			}
			at(j, "NetworkSettings.Ports[%d][%d]", i - 1, k++);
			*p = key;
			if (!cJSON_IsObject(b))
				return bad(j, "", "is not an object");
			if ((rc = str(j, b, "HostIp", REQ, p->host_ip, sizeof(p->host_ip))) ||
			    (rc = str(j, b, "HostPort", REQ, hp, sizeof(hp))))
				return rc;
			if (p->host_ip[0] && inet_pton(AF_INET, p->host_ip, &a) != 1 &&
			    inet_pton(AF_INET6, p->host_ip, &a) != 1)
				return bad(j, "HostIp", "is not an IP address");
			p->host_port = port_num(hp, &end);
			if (p->host_port < 0 || *end)
				return bad(j, "HostPort", "is not a port");
			d->nports++;
		}
	}
	return rc;
}

static int parse_mounts(struct jctx *j, const cJSON *root, struct pk_docker_ctr *d)
{
	const cJSON *mounts, *m;
	int rc = member(j, root, "Mounts", cJSON_IsArray, "is not an array", OPT, &mounts);

	cJSON_ArrayForEach(m, mounts)
	{
		struct pk_ctr_mount *e = &d->mounts[d->nmounts];
		bool tmpfs;

		if (d->nmounts == PK_CTR_MOUNTS_MAX)
			return pk_errbuf_set(-EPROTO, j->err, j->errlen,
					     "Docker's %s: more than %d mounts", j->doc,
					     PK_CTR_MOUNTS_MAX);
		at(j, "Mounts[%d]", d->nmounts);
		if (!cJSON_IsObject(m))
			return bad(j, "", "is not an object");
		if ((rc = str(j, m, "Type", REQ, e->kind, sizeof(e->kind))))
			return rc;
		if (strcmp(e->kind, "volume") && strcmp(e->kind, "bind") &&
		    strcmp(e->kind, "tmpfs"))
			return bad(j, "Type", "is not volume, bind or tmpfs");
		tmpfs = strcmp(e->kind, "tmpfs") == 0; /* the only one without a source */
		if ((rc = str(j, m, "Name", OPT, e->name, sizeof(e->name))) ||
		    (rc = abs_path(j, m, "Source", tmpfs, e->source, sizeof(e->source))) ||
		    (rc = abs_path(j, m, "Destination", REQ, e->dest, sizeof(e->dest))) ||
		    (rc = boolean(j, m, "RW", &e->rw)))
			return rc;
		d->nmounts++;
	}
	return rc;
}

static int inspect_fields(struct jctx *j, const cJSON *r, struct pk_docker_ctr *d)
{
	const cJSON *state, *gd, *data, *hc, *ns;
	char name[PK_DOCKER_NAME_MAX + 2];
	bool overlay;
	int rc;

	if ((rc = str(j, r, "Id", REQ, d->id, sizeof(d->id))))
		return rc;
	if (!id_valid(d->id))
		return bad(j, "Id", "is not 64 hex digits");
	if ((rc = str(j, r, "Name", REQ, name, sizeof(name))))
		return rc;
	if (!pk_docker_name_valid(name + (name[0] == '/')))
		return bad(j, "Name", "is not a valid container name");
	snprintf(d->name, sizeof(d->name), "%s", name + (name[0] == '/'));
	if ((rc = str(j, r, "Image", REQ, d->image, sizeof(d->image))) ||
	    (rc = abs_path(j, r, "ResolvConfPath", OPT, d->resolv_conf, sizeof(d->resolv_conf))) ||
	    (rc = abs_path(j, r, "HostnamePath", OPT, d->hostname_path,
			   sizeof(d->hostname_path))) ||
	    (rc = abs_path(j, r, "HostsPath", OPT, d->hosts_path, sizeof(d->hosts_path))) ||
	    (rc = object(j, r, "State", REQ, &state)) ||
	    (rc = object(j, r, "GraphDriver", REQ, &gd)) ||
	    (rc = object(j, r, "HostConfig", OPT, &hc)) ||
	    (rc = object(j, r, "NetworkSettings", REQ, &ns)))
		return rc;
	at(j, "State");
	if ((rc = word(j, state, "Status", WORD_CHARS, d->status, sizeof(d->status))) ||
	    (rc = boolean(j, state, "Running", &d->running)) ||
	    (rc = integer(j, state, "Pid", 0, INT_MAX, &d->pid)))
		return rc;
	if (d->running && d->pid == 0)
		return bad(j, "Pid", "is 0 for a running container");
	at(j, "GraphDriver");
	if ((rc = word(j, gd, "Name", NAME_CHARS, d->driver, sizeof(d->driver))))
		return rc;
	overlay = strcmp(d->driver, "overlay2") == 0; /* then its dirs are required */
	if ((rc = object(j, gd, "Data", !overlay, &data)))
		return rc;
	at(j, "GraphDriver.Data");
	if ((rc = abs_path(j, data, "LowerDir", !overlay, d->lower, sizeof(d->lower))) ||
	    (rc = abs_path(j, data, "UpperDir", !overlay, d->upper, sizeof(d->upper))) ||
	    (rc = abs_path(j, data, "MergedDir", !overlay, d->merged, sizeof(d->merged))) ||
	    (rc = abs_path(j, data, "WorkDir", !overlay, d->work, sizeof(d->work))))
		return rc;
	at(j, "HostConfig");
	if ((rc = str(j, hc, "NetworkMode", OPT, d->network_mode, sizeof(d->network_mode))))
		return rc;
	at(j, "NetworkSettings");
	if ((rc = parse_nets(j, ns, d)))
		return rc;
	at(j, "NetworkSettings");
	if ((rc = parse_ports(j, ns, d)))
		return rc;
	j->at[0] = '\0';
	return parse_mounts(j, r, d);
}

int pk_docker_inspect_parse(const char *json, size_t len, struct pk_docker_ctr *d, char *err,
			    size_t errlen)
{
	struct jctx j = { .doc = "inspect answer", .err = err, .errlen = errlen };
	cJSON *root;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = parse_doc(&j, json, len, cJSON_IsObject, "is not a JSON object", &root);
	if (rc)
		return rc;
	rc = inspect_fields(&j, root, d);
	cJSON_Delete(root);
	if (rc)
		memset(d, 0, sizeof(*d));
	return rc;
}

/* Reads one container of the list answer, the index-th. */
static int list_entry(struct jctx *j, const cJSON *e, int index, struct pk_docker_brief *b)
{
	const cJSON *names, *n, *ns, *nets;
	int rc;

	at(j, "[%d]", index);
	if (!cJSON_IsObject(e))
		return bad(j, "", "is not an object");
	if ((rc = str(j, e, "Id", REQ, b->id, sizeof(b->id))))
		return rc;
	if (!id_valid(b->id))
		return bad(j, "Id", "is not 64 hex digits");
	if ((rc = member(j, e, "Names", cJSON_IsArray, "is not an array", REQ, &names)))
		return rc;
	cJSON_ArrayForEach(n, names)
	{
		const char *s = cJSON_GetStringValue(n);

		if (!s)
			return bad(j, "Names", "holds a non-string");
		s += s[0] == '/';
		if (!b->name[0] && !strchr(s, '/')) { /* "/web", not a link's "/app/web" */
			if (!pk_docker_name_valid(s))
				return bad(j, "Names", "holds an invalid name");
			snprintf(b->name, sizeof(b->name), "%s", s);
		}
	}
	if (!b->name[0])
		return bad(j, "Names", "holds no plain name");
	if ((rc = str(j, e, "Image", REQ, b->image, sizeof(b->image))) ||
	    (rc = word(j, e, "State", WORD_CHARS, b->state, sizeof(b->state))) ||
	    (rc = object(j, e, "NetworkSettings", OPT, &ns)))
		return rc;
	at(j, "[%d].NetworkSettings", index);
	if ((rc = object(j, ns, "Networks", OPT, &nets)) || !nets || !nets->child)
		return rc;
	at(j, "[%d].NetworkSettings.Networks[0]", index); /* its first network */
	if (!cJSON_IsObject(nets->child))
		return bad(j, "", "is not an object");
	return ipv4(j, nets->child, "IPAddress", b->ip);
}

int pk_docker_list_parse(const char *json, size_t len, struct pk_docker_brief **out, size_t *n,
			 char *err, size_t errlen)
{
	struct jctx j = { .doc = "container list", .err = err, .errlen = errlen };
	struct pk_docker_brief *v;
	const cJSON *e;
	cJSON *root;
	int rc, count, i = 0;

	*out = NULL;
	*n = 0;
	rc = parse_doc(&j, json, len, cJSON_IsArray, "is not a JSON array", &root);
	if (rc)
		return rc;
	count = cJSON_GetArraySize(root);
	if (count > PK_DOCKER_LIST_MAX) {
		cJSON_Delete(root);
		return pk_errbuf_set(-EPROTO, err, errlen, "Docker's container list: more than %d",
				     PK_DOCKER_LIST_MAX);
	}
	v = count ? calloc((size_t)count, sizeof(*v)) : NULL;
	if (count && !v)
		rc = pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	cJSON_ArrayForEach(e, root)
	{
		if (rc || (rc = list_entry(&j, e, i, &v[i])))
			break;
		i++;
	}
	cJSON_Delete(root);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = (size_t)count;
	return 0;
}
