/* agent.c — `parikshan agent`: the receiving end of an external clone.
 *
 * It authenticates the client (token, HMAC challenge), prepares the clone's namespace and
 * directories, and starts the two engines that carry the data: CRIU's page server (memory
 * pages, streamed during the dump) and an rsync daemon (the upper dir and the rest of the
 * image), restricted to the clone's directory and the same token.  Then it restores the clone
 * with runc.  One client at a time; whatever a failed or abandoned session made is undone.
 */
#include "clone/clone_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/sock.h"

#define AGENT_STEP_TIMEOUT_MS 120000
#define ENGINE_START_MS 5000

struct agent_session {
	const struct pk_agent_opts *o;
	const char *token;
	int fd;
	char dir[PK_PATH_MAX];
	struct pk_meta m;
	struct pk_cg_limits lim; /* the clone's cgroup limits, as the client sent them */
	bool made;		 /* the clone's state exists and must be undone on failure */
	pid_t rsyncd, pagesrv;
	int rsync_port, ps_port;
};

/* Picks a port that is free on addr now. */
static int free_port(const char *addr)
{
	struct pk_addr a;
	int fd, port;

	if (pk_addr_resolve(addr, 0, &a, NULL, 0) < 0)
		return -EINVAL;
	fd = pk_sock_listen(&a, 1);
	if (fd < 0)
		return fd;
	port = pk_sock_local_port(fd);
	close(fd);
	return port;
}

/* Tells whether something listens on addr:port (a bind there fails with EADDRINUSE), without
 * connecting: the page server serves the first connection it gets. */
static bool listening(const char *addr, int port)
{
	struct pk_addr a;
	int fd;

	if (pk_addr_resolve(addr, (uint16_t)port, &a, NULL, 0) < 0)
		return false;
	fd = pk_sock_listen(&a, 1);
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return fd == -EADDRINUSE;
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		FILE *f = fopen(log, "ae");

		if (f) {
			dup2(fileno(f), 1);
			dup2(fileno(f), 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void stop_engine(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/* Replies {"ok":false,"error":why}. */
static void reply_error(struct agent_session *s, const char *why)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddFalseToObject(r, "ok");
	cJSON_AddStringToObject(r, "error", why);
	pk_wire_send(s->fd, r);
	cJSON_Delete(r);
}

static int start_engines(struct agent_session *s, char *err, size_t errlen)
{
	const char *addr = s->o->listen_host;
	char conf[PK_PATH_MAX], secrets[PK_PATH_MAX], img[PK_PATH_MAX], log[PK_PATH_MAX];
	char rport[16], pport[16];
	FILE *f;

	pk_path(conf, sizeof(conf), "%s/rsyncd.conf", s->dir);
	pk_path(secrets, sizeof(secrets), "%s/rsyncd.secrets", s->dir);
	pk_path(img, sizeof(img), "%s/img", s->dir);
	pk_path(log, sizeof(log), "%s/engines.log", s->dir);
	if (mkdir(img, 0700) < 0 && errno != EEXIST)
		return -errno;
	f = fopen(secrets, "we");
	if (!f || fchmod(fileno(f), 0600) < 0 || fprintf(f, "pk:%s\n", s->token) < 0 || fclose(f)) {
		pk_path(err, errlen, "write %s", secrets);
		return -EIO;
	}
	f = fopen(conf, "we");
	if (!f)
		return -errno;
	fprintf(f,
		"use chroot = no\nuid = root\ngid = root\n[clone]\npath = %s\nread only = no\n"
		"auth users = pk\nsecrets file = %s\nstrict modes = yes\n",
		s->dir, secrets);
	fclose(f);
	s->rsync_port = free_port(addr);
	s->ps_port = free_port(addr);
	if (s->rsync_port <= 0 || s->ps_port <= 0 || s->rsync_port == s->ps_port) {
		snprintf(err, errlen, "no free ports on %s", addr);
		return -EADDRNOTAVAIL;
	}
	snprintf(rport, sizeof(rport), "%d", s->rsync_port);
	snprintf(pport, sizeof(pport), "%d", s->ps_port);
	s->rsyncd = spawn((char *[]){ "rsync", "--daemon", "--no-detach", "--address", (char *)addr,
				      "--port", rport, "--config", conf, NULL },
			  log);
	s->pagesrv = spawn((char *[]){ "criu", "page-server", "--images-dir", img, "--address",
				       (char *)addr, "--port", pport, NULL },
			   log);
	for (uint64_t end = pk_now_ms() + ENGINE_START_MS; pk_now_ms() < end; usleep(10000))
		if (listening(addr, s->rsync_port) && listening(addr, s->ps_port))
			return 0;
	pk_path(err, errlen, "rsync daemon or CRIU page server did not start (see %s)", log);
	return -EIO;
}

/* Handles a prepare request (read by pk_wire_request): state, network namespace, bundle,
 * engines. */
static int do_prepare(struct agent_session *s, const struct pk_wire_req *q, char *err,
		      size_t errlen)
{
	char path[PK_PATH_MAX];
	struct stat st;
	FILE *f;
	int rc;

	if (!pk_state_path(s->o->state_dir, q->name, NULL, path, sizeof(path)) ||
	    stat(path, &st) == 0) {
		snprintf(err, errlen, "'%s' exists already on the agent's host", q->name);
		return -EEXIST;
	}
	if (stat(q->lower, &st) < 0 || !S_ISDIR(st.st_mode)) {
		pk_path(err, errlen, "the root filesystem %s is missing on the agent's host",
			q->lower);
		return -ENOENT;
	}
	rc = pk_clone_state_new(s->o->state_dir, q->name, q->parent, q->ip, q->lower, &s->m, s->dir,
				sizeof(s->dir), err, errlen);
	if (rc)
		return rc;
	pk_cgroup_limits_from_json(q->limits, &s->lim);
	s->made = true;
	/* production's OCI config, as the source for the clone's bundle */
	pk_path(path, sizeof(path), "%s/prod-config.json", s->dir);
	f = fopen(path, "we");
	if (!f || fputs(q->config, f) < 0 || fclose(f)) {
		pk_path(err, errlen, "write %s", path);
		return -EIO;
	}
	rc = pk_net_create_clone(&s->m, NULL, 0, err, errlen);
	if (!rc)
		rc = start_engines(s, err, errlen);
	return rc;
}

/* Handles {"op":"restore"}: the image and upper dir have arrived; restore the clone. */
static int do_restore(struct agent_session *s, char *err, size_t errlen)
{
	char img[PK_PATH_MAX], config[PK_PATH_MAX];

	/* the page server ends by itself after the dump; the rsync daemon is no longer needed */
	waitpid(s->pagesrv, NULL, 0);
	s->pagesrv = 0;
	stop_engine(&s->rsyncd);
	pk_path(img, sizeof(img), "%s/img", s->dir);
	pk_path(config, sizeof(config), "%s/prod-config.json", s->dir);
	return pk_clone_restore(s->dir, &s->m, config, img, &s->lim, NULL, err, errlen);
}

static void session(struct agent_session *s)
{
	char nonce[64], err[PK_ERR_MAX] = "";
	struct utsname u;
	cJSON *hello = cJSON_CreateObject(), *msg = NULL, *r;
	int rc = 0;

	uname(&u);
	pk_wire_nonce(nonce, sizeof(nonce));
	cJSON_AddStringToObject(hello, "hello", "parikshan-agent");
	cJSON_AddNumberToObject(hello, "proto", 1);
	cJSON_AddStringToObject(hello, "nonce", nonce);
	cJSON_AddStringToObject(hello, "kernel", u.release);
	cJSON_AddStringToObject(hello, "criu", s->o->criu_version);
	pk_wire_send(s->fd, hello);
	cJSON_Delete(hello);

	msg = pk_wire_recv(s->fd, AGENT_STEP_TIMEOUT_MS, &rc);
	if (!msg || !pk_wire_authentic(msg, s->token, nonce)) {
		pk_log(PK_LOG_WARN, "agent: authentication failed");
		reply_error(s, "authentication failed: wrong token");
		cJSON_Delete(msg);
		return;
	}
	cJSON_Delete(msg);
	r = cJSON_CreateObject();
	cJSON_AddTrueToObject(r, "ok");
	pk_wire_send(s->fd, r);
	cJSON_Delete(r);

	while ((msg = pk_wire_recv(s->fd, AGENT_STEP_TIMEOUT_MS, &rc))) {
		struct pk_wire_req q;

		r = cJSON_CreateObject();
		rc = pk_wire_request(msg, s->made, &q, err, sizeof(err));
		if (!rc && q.op == PK_WIRE_PREPARE) {
			rc = do_prepare(s, &q, err, sizeof(err));
			if (!rc) {
				cJSON_AddNumberToObject(r, "rsync_port", s->rsync_port);
				cJSON_AddNumberToObject(r, "page_server_port", s->ps_port);
				cJSON_AddStringToObject(r, "mgmt", s->m.mgmt);
			}
		} else if (!rc) {
			rc = do_restore(s, err, sizeof(err));
		}
		cJSON_Delete(msg);
		if (rc) {
			cJSON_Delete(r);
			reply_error(s, err);
			break;
		}
		cJSON_AddTrueToObject(r, "ok");
		pk_wire_send(s->fd, r);
		cJSON_Delete(r);
		if (q.op == PK_WIRE_RESTORE) {
			pk_log(PK_LOG_INFO, "agent: clone %s restored at %s", s->m.name, s->m.mgmt);
			s->made = false; /* done: it stays */
			break;
		}
	}
	if (s->made) { /* failed or abandoned half-way: nothing stays */
		pk_log(PK_LOG_WARN, "agent: session for %s ended before the restore (%s); undoing",
		       s->m.name, err[0] ? err : strerror(-rc));
		stop_engine(&s->rsyncd);
		stop_engine(&s->pagesrv);
		pk_clone_rm(s->o->state_dir, s->m.name, err, sizeof(err));
	}
}

int pk_agent_run(const struct pk_agent_opts *o, char *err, size_t errlen)
{
	char token[PK_TOKEN_MAX], why[256];
	struct pk_addr a;
	int lfd, rc;

	rc = pk_token_load(o->token_file, token, sizeof(token), err, errlen);
	if (rc)
		return rc;
	if (mkdir(o->state_dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "state dir %s: %s", o->state_dir, strerror(-rc));
		return rc;
	}
	rc = pk_addr_resolve(o->listen_host, o->port, &a, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "resolve %s: %s", o->listen_host, why);
		return rc;
	}
	lfd = pk_sock_listen(&a, 8);
	if (lfd < 0) {
		snprintf(err, errlen, "listen %s:%u: %s", o->listen_host, o->port, strerror(-lfd));
		return lfd;
	}
	signal(SIGPIPE, SIG_IGN);
	pk_log(PK_LOG_INFO, "agent: listening on %s:%u, state in %s", o->listen_host, o->port,
	       o->state_dir);
	for (;;) {
		struct agent_session s = { .o = o, .token = token };
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		s.fd = pk_sock_accept(lfd, NULL);
		if (s.fd < 0)
			continue;
		fcntl(s.fd, F_SETFL, 0); /* blocking, with poll deadlines in pk_wire_recv */
		session(&s);
		close(s.fd);
	}
	close(lfd);
	return 0;
}
