/* docker.c — the Docker Engine API client (see docker.h): HTTP/1.0 GETs on dockerd's Unix
 * socket through pk_http_get (answers read by docker_json.c), and the mapping of an inspected
 * container onto the generic struct pk_ctr, with the OCI config found in the bundle dir of the
 * container's containerd shim.
 */
#include "container/docker.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "common/http.h"
#include "common/proc.h"
#include "common/sock.h"
#include "common/text.h"
#include "container/container_int.h"

#define DOCKER_API "/v1.41"

const char *pk_docker_socket(char *buf, size_t len)
{
	const char *host = getenv(PK_DOCKER_HOST_ENV);
	const char *p = PK_DOCKER_SOCKET;

	if (host && strncmp(host, "unix://", 7) == 0 && host[7] == '/')
		p = host + 7;
	if (strlen(p) >= len)
		return NULL;
	memcpy(buf, p, strlen(p) + 1);
	return buf;
}

/* GETs path from dockerd at sock into body: the HTTP status, or -errno with err set. */
static int docker_get(const char *sock, const char *path, struct pk_strbuf *body, char *err,
		      size_t errlen)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct pk_addr a = { .len = sizeof(un) };
	int rc;

	if (!sock || !sock[0] || strlen(sock) >= sizeof(un.sun_path))
		return pk_errbuf_set(-EINVAL, err, errlen, "dockerd's socket path '%s' is %s",
				     sock ? sock : "", sock && sock[0] ? "too long" : "empty");
	memcpy(un.sun_path, sock, strlen(sock) + 1);
	memcpy(&a.ss, &un, sizeof(un));
	rc = pk_http_get(&a, path, PK_DOCKER_TIMEOUT_MS, body);
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		return pk_errbuf_set(-ECONNREFUSED, err, errlen,
				     "cannot reach dockerd at %s: %s (is it running?)", sock,
				     strerror(-rc));
	if (rc == -ETIMEDOUT)
		return pk_errbuf_set(rc, err, errlen, "dockerd at %s did not answer within %d s",
				     sock, PK_DOCKER_TIMEOUT_MS / 1000);
	if (rc == -EPROTO)
		return pk_errbuf_set(rc, err, errlen, "dockerd at %s sent a malformed HTTP answer",
				     sock);
	if (rc < 0)
		return pk_errbuf_set(rc, err, errlen, "cannot reach dockerd at %s: %s", sock,
				     strerror(-rc));
	return rc;
}

/* Says what an unexpected HTTP status means, with Docker's "message" when the body has one
 * (made printable); returns -EPROTO. */
static int status_error(int status, const struct pk_strbuf *body, char *err, size_t errlen)
{
	cJSON *root = body->len ? cJSON_ParseWithLength(body->s, body->len) : NULL;
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "message"));
	char text[256] = "";

	if (msg)
		pk_text_printable(text, sizeof(text), msg, strlen(msg), 0);
	cJSON_Delete(root);
	return pk_errbuf_set(-EPROTO, err, errlen, "dockerd answered HTTP %d%s%s", status,
			     text[0] ? ": " : "", text);
}

int pk_docker_inspect(const char *sock, const char *name, struct pk_docker_ctr *d, char *err,
		      size_t errlen)
{
	struct pk_strbuf body = { 0 };
	char path[PK_DOCKER_NAME_MAX + 64];
	int rc;

	memset(d, 0, sizeof(*d));
	if (!pk_docker_name_valid(name))
		return pk_errbuf_set(-EINVAL, err, errlen, PK_DOCKER_NOT_A_NAME);
	snprintf(path, sizeof(path), DOCKER_API "/containers/%s/json", name);
	rc = docker_get(sock, path, &body, err, errlen);
	if (rc == 404)
		rc = pk_errbuf_set(-ENOENT, err, errlen, "no Docker container '%s'", name);
	else if (rc == 200)
		rc = pk_docker_inspect_parse(body.s, body.len, d, err, errlen);
	else if (rc > 0)
		rc = status_error(rc, &body, err, errlen);
	pk_strbuf_release(&body);
	return rc;
}

int pk_docker_list(const char *sock, struct pk_docker_brief **out, size_t *n, char *err,
		   size_t errlen)
{
	struct pk_strbuf body = { 0 };
	int rc = docker_get(sock, DOCKER_API "/containers/json", &body, err, errlen);

	*out = NULL;
	*n = 0;
	if (rc == 200)
		rc = pk_docker_list_parse(body.s, body.len, out, n, err, errlen);
	else if (rc > 0)
		rc = status_error(rc, &body, err, errlen);
	pk_strbuf_release(&body);
	return rc;
}

/* The message for a container that has no IPv4 address of its own, by its network mode. */
static const char *no_ipv4_why(const char *mode)
{
	if (strcmp(mode, "host") == 0)
		return "uses the host's network (--network host)";
	if (strcmp(mode, "none") == 0)
		return "has no network (--network none)";
	if (strncmp(mode, "container:", 10) == 0)
		return "shares another container's network (--network container:...)";
	return "has no IPv4 address on any of its networks";
}

int pk_docker_ctr_map(const struct pk_docker_ctr *d, const char *name, struct pk_ctr *c, char *err,
		      size_t errlen)
{
	const struct pk_docker_net *net = NULL;

	memset(c, 0, sizeof(*c));
	if (!pk_docker_name_valid(name))
		return pk_errbuf_set(-EINVAL, err, errlen, PK_DOCKER_NOT_A_NAME);
	if (!d->running || strcmp(d->status, "running") != 0)
		return pk_errbuf_set(-ESRCH, err, errlen,
				     "Docker container '%s' is not running (it is %s)", name,
				     d->status[0] ? d->status : "in no state");
	if (strcmp(d->driver, "overlay2") != 0)
		return pk_errbuf_set(-ENOTSUP, err, errlen,
				     "Docker container '%s': storage driver %s: only overlay2 can "
				     "be cloned",
				     name, d->driver[0] ? d->driver : "(none)");
	for (int i = 0; i < d->nnets && !net; i++)
		if (d->nets[i].ip[0])
			net = &d->nets[i];
	if (!net)
		return pk_errbuf_set(-ENOTSUP, err, errlen,
				     "Docker container '%s' %s: only a container with an IPv4 "
				     "address of its own (a bridge or user-defined network) can be "
				     "cloned",
				     name, no_ipv4_why(d->network_mode));
	snprintf(c->ref, sizeof(c->ref), "docker:%s", name);
	snprintf(c->name, sizeof(c->name), "%s", d->name);
	snprintf(c->id, sizeof(c->id), "%s", d->id);
	c->pid = d->pid;
	snprintf(c->ip, sizeof(c->ip), "%s", net->ip);
	c->prefix = net->prefix;
	snprintf(c->root, sizeof(c->root), "%s", d->merged);
	snprintf(c->lower, sizeof(c->lower), "%s", d->lower);
	snprintf(c->upper, sizeof(c->upper), "%s", d->upper);
	for (int i = 0; i < d->nmounts; i++) {
		const char *src = d->mounts[i].source;

		/* Docker's own small files are made again for a clone, never shared */
		if (src[0] &&
		    (strcmp(src, d->resolv_conf) == 0 || strcmp(src, d->hostname_path) == 0 ||
		     strcmp(src, d->hosts_path) == 0))
			continue;
		c->mounts[c->nmounts++] = d->mounts[i];
	}
	return 0;
}

int pk_docker_bundle_config(pid_t pid, char *path, size_t len, char *err, size_t errlen)
{
	char cwd[48], bundle[PK_CTR_PATH_MAX], *text = NULL;
	unsigned long long ppid = 0;
	cJSON *spec = NULL;
	ssize_t n;
	int rc;

	if (len)
		path[0] = '\0';
	rc = pid > 0 ? pk_proc_status_field(pid, "PPid:", 10, &ppid) : -ESRCH;
	if (!rc && ppid == 0)
		rc = -ESRCH;
	if (rc)
		return pk_errbuf_set(-ENOENT, err, errlen,
				     "cannot find the parent of the container's init %d: %s",
				     (int)pid, strerror(-rc));
	snprintf(cwd, sizeof(cwd), "/proc/%d/cwd", (int)ppid);
	n = readlink(cwd, bundle, sizeof(bundle));
	if (n < 0 || (size_t)n >= sizeof(bundle))
		return pk_errbuf_set(
			-ENOENT, err, errlen,
			"cannot read the bundle dir of the container's runtime (%s): %s", cwd,
			n < 0 ? strerror(errno) : "too long");
	bundle[n] = '\0';
	if ((size_t)snprintf(path, len, "%s/config.json", bundle) >= len) {
		rc = pk_errbuf_set(-ENOENT, err, errlen, "%s/config.json: path too long", bundle);
		goto out;
	}
	text = pk_read_file(path);
	rc = text ? 0 : -errno;
	if (rc) {
		rc = pk_errbuf_set(-ENOENT, err, errlen,
				   "no OCI config in the bundle dir of the container's runtime "
				   "(the cwd of %d, parent of %d): %s: %s",
				   (int)ppid, (int)pid, path, strerror(-rc));
		goto out;
	}
	spec = cJSON_Parse(text);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(spec, "root")) ||
	    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(spec, "process")))
		rc = pk_errbuf_set(-ENOENT, err, errlen,
				   "%s is not an OCI config (a JSON object with \"root\" and "
				   "\"process\")",
				   path);
out:
	if (rc && len)
		path[0] = '\0';
	cJSON_Delete(spec);
	free(text);
	return rc;
}

int pk_docker_resolve(const char *state_dir, const char *name, struct pk_ctr *c, char *err,
		      size_t errlen)
{
	struct pk_docker_ctr *d = malloc(sizeof(*d));
	char sock[PK_DOCKER_SOCK_MAX];
	int rc;

	memset(c, 0, sizeof(*c));
	if (!d)
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	if (!pk_docker_socket(sock, sizeof(sock)))
		rc = pk_errbuf_set(-ENAMETOOLONG, err, errlen,
				   "$" PK_DOCKER_HOST_ENV
				   ": the socket path is longer than %d bytes",
				   PK_DOCKER_SOCK_MAX - 1);
	else
		rc = pk_docker_inspect(sock, name, d, err, errlen);
	if (!rc)
		rc = pk_docker_ctr_map(d, name, c, err, errlen);
	if (!rc &&
	    (rc = pk_docker_bundle_config(c->pid, c->config, sizeof(c->config), err, errlen))) {
		char why[PK_ERR_MAX];

		snprintf(why, sizeof(why), "%s", err && errlen ? err : "");
		pk_errbuf_set(rc, err, errlen, "Docker container '%s': %s", name, why);
	}
	free(d);
	if (rc)
		memset(c, 0, sizeof(*c));
	return rc;
}

int pk_docker_list_refs(struct pk_ctr_brief **out, size_t *n)
{
	struct pk_docker_brief *d = NULL;
	char sock[PK_DOCKER_SOCK_MAX], err[PK_ERR_MAX];
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!pk_docker_socket(sock, sizeof(sock)))
		return -ENAMETOOLONG;
	rc = pk_docker_list(sock, &d, &k, err, sizeof(err));
	if (rc)
		return rc;
	*out = k ? calloc(k, sizeof(**out)) : NULL;
	if (k && !*out) {
		free(d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < k; i++) {
		snprintf((*out)[i].ref, sizeof((*out)[i].ref), "docker:%s", d[i].name);
		snprintf((*out)[i].image, sizeof((*out)[i].image), "%s", d[i].image);
		snprintf((*out)[i].status, sizeof((*out)[i].status), "%s", d[i].state);
		snprintf((*out)[i].ip, sizeof((*out)[i].ip), "%s", d[i].ip);
	}
	*n = k;
	free(d);
	return 0;
}
