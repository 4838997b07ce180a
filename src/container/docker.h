/* docker.h — a client of the Docker Engine API (v1.41, Docker 20.10): what dockerd knows of a
 * container, asked over its Unix socket with HTTP, so that a container Docker runs can be cloned
 * like one of ours (the "docker:NAME" source of container.h).
 *
 * The answers are bytes from another process: they are read by pure functions
 * (pk_docker_inspect_parse, pk_docker_list_parse; no I/O) that take only what fits their
 * bounded fields, refuse the rest with -EPROTO, and are fuzzed (tests/fuzz/fuzz_docker.c).
 * Functions return 0 or -errno with a one-line reason in err; nothing is printed.  The docker
 * CLI is never run.
 */
#ifndef PK_CONTAINER_DOCKER_H
#define PK_CONTAINER_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "container/container.h"

#define PK_DOCKER_SOCKET "/var/run/docker.sock"
#define PK_DOCKER_HOST_ENV "DOCKER_HOST" /* "unix:///path" overrides the socket */
#define PK_DOCKER_SOCK_MAX 108		 /* sun_path, with its NUL */
#define PK_DOCKER_TIMEOUT_MS 10000
/* A name is [A-Za-z0-9_.-]{1,152}: "docker:" and it fit a pk_ctr's ref. */
#define PK_DOCKER_NAME_MAX (PK_CTR_REF_MAX - sizeof("docker:"))
#define PK_DOCKER_NOT_A_NAME "not a Docker container name (1 to 152 of A-Z a-z 0-9 _ . -)"
#define PK_DOCKER_ID_LEN 64 /* hex digits */
#define PK_DOCKER_IMAGE_MAX 512
#define PK_DOCKER_NETS_MAX 8
#define PK_DOCKER_PORTS_MAX 32
#define PK_DOCKER_LIST_MAX 10000 /* containers in a list answer */

/* One network a container is attached to (NetworkSettings.Networks). */
struct pk_docker_net {
	char name[128];	  /* "bridge", a user-defined network */
	char ip[16];	  /* IPv4; "" when it has none there */
	int prefix;	  /* 0..32 */
	char gateway[16]; /* IPv4 or "" */
};

/* One published port (NetworkSettings.Ports): the container's port/proto bound on the host. */
struct pk_docker_port {
	int port;	  /* in the container, 1..65535 */
	char proto[8];	  /* "tcp", "udp", "sctp" */
	char host_ip[46]; /* "0.0.0.0", "::", an address; "" */
	int host_port;	  /* 1..65535 */
};

/* What Docker's inspect answer (GET /containers/{name}/json) says of a container.  Every
 * string is NUL-terminated within its array. */
struct pk_docker_ctr {
	char id[PK_DOCKER_ID_LEN + 1];
	char name[PK_DOCKER_NAME_MAX + 1]; /* without Docker's leading '/' */
	char image[PK_DOCKER_IMAGE_MAX];   /* "sha256:..." */
	char status[16];		   /* State.Status: "running", "exited", ... */
	bool running;
	int pid;	 /* State.Pid: its init in the host's pid namespace; > 0 when running */
	char driver[32]; /* GraphDriver.Name: "overlay2", ...; for overlay2 the four dirs are set */
	char lower[PK_CTR_PATH_MAX]; /* ':'-separated, upper-most first */
	char upper[PK_CTR_PATH_MAX];
	char merged[PK_CTR_PATH_MAX];
	char work[PK_CTR_PATH_MAX];
	char network_mode[256]; /* HostConfig.NetworkMode: "default", "host", "none", ...; "" */
	struct pk_docker_net nets[PK_DOCKER_NETS_MAX]; /* in the answer's order */
	int nnets;
	bool nets_more; /* it is on more networks than kept */
	struct pk_ctr_mount mounts[PK_CTR_MOUNTS_MAX];
	int nmounts;
	struct pk_docker_port ports[PK_DOCKER_PORTS_MAX];
	int nports;
	bool ports_more;		   /* more ports are published than kept */
	char resolv_conf[PK_CTR_PATH_MAX]; /* ResolvConfPath, HostnamePath, HostsPath; "" */
	char hostname_path[PK_CTR_PATH_MAX];
	char hosts_path[PK_CTR_PATH_MAX];
};

/* One running container of Docker's list (GET /containers/json). */
struct pk_docker_brief {
	char id[PK_DOCKER_ID_LEN + 1];
	char name[PK_DOCKER_NAME_MAX + 1]; /* its first plain name, without '/' */
	char image[PK_DOCKER_IMAGE_MAX];   /* as it was named: "redis:7" */
	char state[16];			   /* "running" */
	char ip[16];			   /* IPv4 on its first network; "" */
};

/* Writes dockerd's socket path into buf[len]: the path of $DOCKER_HOST when it is
 * "unix:///path", else PK_DOCKER_SOCKET.  Returns buf, or NULL when the path does not fit. */
const char *pk_docker_socket(char *buf, size_t len);

/* Tells whether name can name a Docker container here: 1..PK_DOCKER_NAME_MAX characters of
 * [A-Za-z0-9_.-] (a name or an id, safe in a URL path). */
bool pk_docker_name_valid(const char *name);

/* Reads json[0..len) (need not be NUL-terminated), the body of Docker's answer to
 * GET /containers/{name}/json, into d, without I/O.  Returns 0, or -EPROTO (d zeroed) when it
 * is not one JSON object, a required field (Id, Name, Image, State, GraphDriver,
 * NetworkSettings; the overlay2 dirs) is missing or of the wrong type, a string does not fit,
 * or there are more than PK_CTR_MOUNTS_MAX mounts; err says which field. */
int pk_docker_inspect_parse(const char *json, size_t len, struct pk_docker_ctr *d, char *err,
			    size_t errlen);

/* Asks dockerd at socket sock about container name (a name or an id) and fills d.  Returns 0,
 * -EINVAL (not a valid name), -ENOENT (no such container), -ECONNREFUSED (no dockerd at sock),
 * -ETIMEDOUT (no answer in PK_DOCKER_TIMEOUT_MS), -EPROTO (another HTTP status, with Docker's
 * message, or a malformed answer), or another -errno; err says why. */
int pk_docker_inspect(const char *sock, const char *name, struct pk_docker_ctr *d, char *err,
		      size_t errlen);

/* Maps d, the inspection of the Docker container the user named name, onto the generic c,
 * without I/O: every field but c->config ("") and c->source (NULL).  Returns 0, -EINVAL (name
 * not valid), -ESRCH (not running), -ENOTSUP (not overlay2, no IPv4 address: host or no
 * networking); err says why. */
int pk_docker_ctr_map(const struct pk_docker_ctr *d, const char *name, struct pk_ctr *c, char *err,
		      size_t errlen);

/* Finds the OCI config.json runc runs the container whose init is pid with: the bundle dir is
 * the cwd of pid's parent (containerd's shim).  Writes its path into path[len] once it is read
 * as a JSON object with "root" and "process".  Returns 0 or -ENOENT; err says why. */
int pk_docker_bundle_config(pid_t pid, char *path, size_t len, char *err, size_t errlen);

/* A pk_ctr_source's resolve for Docker (state_dir unused): inspects name at
 * pk_docker_socket(), maps it (pk_docker_ctr_map) and finds its config.  Returns 0 or what
 * those return (-ENAMETOOLONG for a $DOCKER_HOST path that does not fit); c->source is left
 * NULL for the caller to set; on failure c is zeroed. */
int pk_docker_resolve(const char *state_dir, const char *name, struct pk_ctr *c, char *err,
		      size_t errlen);

/* Reads json[0..len), the body of Docker's answer to GET /containers/json, without I/O.
 * Returns 0 with *out (malloc'ed, the caller frees it; NULL when *n is 0) and *n set, or
 * -EPROTO (err says why) or -ENOMEM with *out NULL and *n 0. */
int pk_docker_list_parse(const char *json, size_t len, struct pk_docker_brief **out, size_t *n,
			 char *err, size_t errlen);

/* Lists the running containers of dockerd at sock into *out (malloc'ed, the caller frees it)
 * and *n.  Returns 0 or -errno as pk_docker_inspect() does (no -ENOENT); err says why. */
int pk_docker_list(const char *sock, struct pk_docker_brief **out, size_t *n, char *err,
		   size_t errlen);

/* The running containers of the daemon pk_docker_socket() names, as `container ls` shows
 * them ("docker:NAME"), into *out (malloc'ed, the caller frees it) and *n: struct
 * pk_ctr_source's list.  0 or -errno (daemon unreachable). */
int pk_docker_list_refs(struct pk_ctr_brief **out, size_t *n);

#endif
