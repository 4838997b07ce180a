/* remote.c — external clones: `parikshan clone PROD NAME --to HOST:PORT`.
 *
 * The data moves with the existing engines: the upper dir and the non-page part of the image
 * with rsync (to the agent's rsync daemon), memory pages with CRIU's page server (the dump
 * streams them to the agent's).  The agent authenticates us and restores the clone.
 */
#include "clone/clone_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/sock.h"

#define REMOTE_CONNECT_MS 5000
#define REMOTE_STEP_MS 120000

struct remote {
	int fd;
	char host[256];
	char pwfile[PK_PATH_MAX];
	char work[PK_PATH_MAX]; /* local image and CRIU work dirs */
};

static int connect_agent(struct remote *r, const struct pk_remote_opts *o, char *err, size_t errlen)
{
	char why[256];
	struct pk_addr a;
	int rc = pk_addr_resolve(o->host, o->port, &a, why, sizeof(why));

	if (rc) {
		snprintf(err, errlen, "resolve agent %s: %s", o->host, why);
		return rc;
	}
	r->fd = pk_sock_connect_by(&a, pk_now_ms() + REMOTE_CONNECT_MS);
	if (r->fd < 0) {
		snprintf(err, errlen, "connect to agent %s:%u: %s", o->host, o->port,
			 strerror(-r->fd));
		return r->fd;
	}
	return 0;
}

/* Sends msg (consumed) and waits for the agent's {"ok":...}; returns the reply or NULL. */
static cJSON *call(struct remote *r, cJSON *msg, char *err, size_t errlen)
{
	cJSON *reply;
	int rc = pk_wire_send(r->fd, msg);
	const cJSON *ok;

	cJSON_Delete(msg);
	reply = rc ? NULL : pk_wire_recv(r->fd, REMOTE_STEP_MS, &rc);
	if (!reply) {
		snprintf(err, errlen, "agent: %s",
			 rc == -ECONNRESET ? "closed the connection (transfer broken)"
					   : strerror(-rc));
		return NULL;
	}
	ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
	if (!cJSON_IsTrue(ok)) {
		snprintf(err, errlen, "agent: %s", pk_wire_str(reply, "error") ?: "refused");
		cJSON_Delete(reply);
		return NULL;
	}
	return reply;
}

/* Reads the hello, checks that the other host can restore our image, answers the challenge. */
static int handshake(struct remote *r, const char *token, char *err, size_t errlen)
{
	char mac[80], criu[32] = "?";
	struct utsname u;
	int rc;
	cJSON *hello = pk_wire_recv(r->fd, REMOTE_CONNECT_MS, &rc), *auth, *reply;
	const char *nonce = hello ? pk_wire_str(hello, "nonce") : NULL;
	const char *kernel = hello ? pk_wire_str(hello, "kernel") : NULL;
	const char *acriu = hello ? pk_wire_str(hello, "criu") : NULL;

	if (!nonce || !kernel || !acriu) {
		snprintf(err, errlen, "agent: no parikshan agent greeting (%s)",
			 rc ? strerror(-rc) : "malformed");
		cJSON_Delete(hello);
		return rc ? rc : -EPROTO;
	}
	uname(&u);
	pk_criu_version(criu, sizeof(criu));
	if (strcmp(kernel, u.release) != 0 || strcmp(acriu, criu) != 0) {
		snprintf(err, errlen,
			 "incompatible host: the agent has kernel %s and CRIU %s, this host kernel "
			 "%s and "
			 "CRIU %s",
			 kernel, acriu, u.release, criu);
		cJSON_Delete(hello);
		return -ENOTSUP;
	}
	rc = pk_wire_mac(token, nonce, mac, sizeof(mac));
	cJSON_Delete(hello);
	if (rc)
		return rc;
	auth = cJSON_CreateObject();
	cJSON_AddStringToObject(auth, "op", "auth");
	cJSON_AddStringToObject(auth, "mac", mac);
	reply = call(r, auth, err, errlen);
	cJSON_Delete(reply);
	return reply ? 0 : -EACCES;
}

/* Reads the agent's answer to "prepare": its rsync and page server ports and the clone's
 * management address.  Returns 0, or -EPROTO (err says which field) for an incomplete answer. */
static int prepare_reply(const cJSON *reply, int *rport, int *pport, char *mgmt, size_t mgmtlen,
			 char *err, size_t errlen)
{
	const char *m = pk_wire_str(reply, "mgmt");
	const char *bad = NULL;

	*rport = pk_wire_port(reply, "rsync_port");
	*pport = pk_wire_port(reply, "page_server_port");
	if (*rport < 0)
		bad = "rsync_port";
	else if (*pport < 0)
		bad = "page_server_port";
	else if (!m || !*m || strlen(m) >= mgmtlen)
		bad = "mgmt";
	if (bad) {
		snprintf(err, errlen, "agent: incomplete answer to prepare: no valid '%s'", bad);
		return -EPROTO;
	}
	snprintf(mgmt, mgmtlen, "%s", m);
	return 0;
}

int pk_clone_remote(const struct pk_clone_opts *o, const struct pk_remote_opts *ro,
		    struct pk_clone_report *rep, char *err, size_t errlen)
{
	struct remote r = { .fd = -1 };
	char token[PK_TOKEN_MAX], url[PK_PATH_MAX], img[PK_PATH_MAX], dumpwork[PK_PATH_MAX];
	struct pk_ctr *prod = NULL;
	struct pk_cg_limits lim;
	uint64_t t0 = pk_now_ns(), t;
	double post_dump_ms = 0;
	cJSON *msg, *reply = NULL;
	char *config = NULL;
	int rc, rport, pport;
	long long used;
	FILE *f;

	memset(rep, 0, sizeof(*rep));
	if (pk_ctr_ref_foreign(o->prod)) {
		snprintf(err, errlen, "%s: clones onto another host are of our own containers only",
			 o->prod);
		return -ENOTSUP;
	}
	rc = pk_token_load(ro->token_file, token, sizeof(token), err, errlen);
	if (rc)
		return rc;
	prod = calloc(1, sizeof(*prod));
	rc = prod ? pk_clone_checks(o, prod, false, err, errlen) : -ENOMEM;
	if (rc) {
		if (!prod)
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	pk_clone_limits(o, prod->pid, &lim, rep);
	rc = connect_agent(&r, ro, err, errlen);
	if (!rc)
		rc = handshake(&r, token, err, errlen);
	if (rc)
		goto out;
	rep->checks_ms = pk_ms_since(t0);

	/* Local scratch: the password file for rsync, the image's non-page part, CRIU's logs. */
	snprintf(r.work, sizeof(r.work), "/tmp/parikshan-remote.XXXXXX");
	if (!mkdtemp(r.work)) {
		rc = -errno;
		snprintf(err, errlen, "mkdtemp: %s", strerror(-rc));
		goto out;
	}
	pk_path(r.pwfile, sizeof(r.pwfile), "%s/rsync.pw", r.work);
	pk_path(img, sizeof(img), "%s/img", r.work);
	pk_path(dumpwork, sizeof(dumpwork), "%s/work", r.work);
	f = fopen(r.pwfile, "we");
	if (!f || fchmod(fileno(f), 0600) < 0 || fprintf(f, "%s\n", token) < 0 || fclose(f) ||
	    mkdir(img, 0700) < 0 || mkdir(dumpwork, 0700) < 0) {
		rc = -EIO;
		snprintf(err, errlen, "prepare %s", r.work);
		goto out;
	}

	t = pk_now_ns();
	config = pk_read_file(prod->config);
	msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "op", "prepare");
	cJSON_AddStringToObject(msg, "name", o->name);
	cJSON_AddStringToObject(msg, "parent", o->prod);
	cJSON_AddStringToObject(msg, "ip", prod->ip);
	cJSON_AddStringToObject(msg, "lower", prod->lower);
	cJSON_AddStringToObject(msg, "config", config ? config : "");
	cJSON_AddItemToObject(msg, "limits", pk_cgroup_limits_json(&lim));
	reply = call(&r, msg, err, errlen);
	if (!reply) {
		rc = -EIO;
		goto out;
	}
	rc = prepare_reply(reply, &rport, &pport, rep->mgmt_ip, sizeof(rep->mgmt_ip), err, errlen);
	if (rc)
		goto out;
	snprintf(rep->service_ip, sizeof(rep->service_ip), "%s", prod->ip);
	rep->netns_ms = pk_ms_since(t);

	/* First copy of the upper dir, while production runs. */
	t = pk_now_ns();
	snprintf(url, sizeof(url), "rsync://pk@%s:%d/clone/upper", ro->host, rport);
	rc = pk_fs_rsync(prod->upper, url, r.pwfile, true, err, errlen);
	if (rc)
		goto out;
	rep->sync1_ms = pk_ms_since(t);

	/* Dump: pages stream to the agent's page server; the upper dir is re-synced frozen. */
	t = pk_now_ns();
	rc = pk_criu_dump(prod, img, dumpwork,
			  &(struct pk_dump_target){ .rsync_upper = url,
						    .rsync_pwfile = r.pwfile,
						    .page_server = ro->host,
						    .page_server_port = pport,
						    .post_dump_ms = &post_dump_ms },
			  err, errlen);
	if (rc)
		goto out;
	rep->checkpoint_ms = pk_ms_since(t);
	pk_criu_dump_report(dumpwork, post_dump_ms, rep);
	snprintf(url, sizeof(url), "rsync://pk@%s:%d/clone/img", ro->host, rport);
	t = pk_now_ns();
	/* no --delete: the agent's page server already wrote the pagemap and pages there */
	rc = pk_fs_rsync(img, url, r.pwfile, false, err, errlen);
	if (rc)
		goto out;
	used = pk_fs_usage(img);
	rep->image_bytes = (uint64_t)(used > 0 ? used : 0) + rep->pages_written * 4096;

	msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "op", "restore");
	cJSON_Delete(reply);
	reply = call(&r, msg, err, errlen);
	rc = reply ? 0 : -EIO;
	rep->restore_ms = pk_ms_since(t);
	rep->total_ms = pk_ms_since(t0);
out:
	cJSON_Delete(reply);
	free(config);
	free(prod);
	if (r.fd >= 0)
		close(r.fd);
	if (r.work[0])
		pk_rm_tree(r.work);
	return rc;
}
