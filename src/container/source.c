/* source.c — where containers come from: one table of sources, each resolving a name to the
 * running container the clone algorithm sees (container.h, struct pk_ctr).  Ours are the
 * containers of the state directory; Docker's come from its daemon (docker.c). */
#include "container/container_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container/docker.h"

int pk_ctr_from_meta(const char *dir, const struct pk_meta *m, int pid, struct pk_ctr *c)
{
	snprintf(c->name, sizeof(c->name), "%s", m->name);
	snprintf(c->id, sizeof(c->id), "%s", m->name);
	snprintf(c->ref, sizeof(c->ref), "%s", m->name);
	c->pid = pid;
	snprintf(c->ip, sizeof(c->ip), "%s", m->ip);
	c->prefix = m->prefix;
	snprintf(c->lower, sizeof(c->lower), "%s", m->lower);
	snprintf(c->trace_sock, sizeof(c->trace_sock), "%s", m->trace_sock);
	if (pk_path(c->root, sizeof(c->root), "%s/rootfs", dir) ||
	    pk_path(c->upper, sizeof(c->upper), "%s/upper", dir) ||
	    pk_path(c->config, sizeof(c->config), "%s/config.json", dir))
		return -ENAMETOOLONG;
	return 0;
}

/* Fills c for our container name of state_dir (running under runc). */
static int ours_resolve(const char *state_dir, const char *name, struct pk_ctr *c, char *err,
			size_t errlen)
{
	char dir[PK_PATH_MAX], status[32];
	struct pk_meta m;
	int pid = 0, rc;

	if (!pk_name_valid(name) || !pk_state_path(state_dir, name, NULL, dir, sizeof(dir))) {
		snprintf(err, errlen, "'%s' is not a valid name", name);
		return -EINVAL;
	}
	if (pk_meta_load(dir, &m) < 0) {
		snprintf(err, errlen, "no container '%s' under %s", name, state_dir);
		return -ENOENT;
	}
	if (pk_runc_state(name, status, sizeof(status), &pid) < 0 ||
	    strcmp(status, "running") != 0 || pid <= 0) {
		snprintf(err, errlen, "production '%s' is not running", name);
		return -ESRCH;
	}
	rc = pk_ctr_from_meta(dir, &m, pid, c);
	if (rc)
		snprintf(err, errlen, "state directory %s: path too long", dir);
	return rc;
}

static const struct pk_ctr_source sources[] = {
	{ .prefix = "", .label = "parikshan", .resolve = ours_resolve },
	{ .prefix = "docker",
	  .label = "docker",
	  .resolve = pk_docker_resolve,
	  .list = pk_docker_list_refs },
};

/* The source of ref and, in *name, where its name starts; NULL for an unknown prefix. */
static const struct pk_ctr_source *source_of(const char *ref, const char **name)
{
	const char *colon = strchr(ref, ':');
	size_t plen = colon ? (size_t)(colon - ref) : 0;

	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strlen(sources[i].prefix) == plen && !strncmp(sources[i].prefix, ref, plen)) {
			*name = colon ? colon + 1 : ref;
			return &sources[i];
		}
	return NULL;
}

void pk_ctr_list_foreign(struct pk_ctr_brief **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		struct pk_ctr_brief *b, *all;
		size_t k;

		if (!sources[i].list || sources[i].list(&b, &k) < 0)
			continue;
		all = k ? realloc(*out, (*n + k) * sizeof(**out)) : *out;
		if (all) {
			memcpy(all + *n, b, k * sizeof(*b));
			*out = all;
			*n += k;
		}
		free(b);
	}
}

bool pk_ctr_ref_foreign(const char *ref)
{
	return strchr(ref, ':') != NULL;
}

int pk_ctr_resolve(const char *state_dir, const char *ref, struct pk_ctr *c, char *err,
		   size_t errlen)
{
	const char *name = ref;
	const struct pk_ctr_source *s = source_of(ref, &name);
	int rc;

	memset(c, 0, sizeof(*c));
	if (!s) {
		snprintf(err, errlen, "'%.*s': unknown container source (known: docker:NAME, NAME)",
			 (int)strcspn(ref, ":"), ref);
		return -EINVAL;
	}
	if (strlen(ref) >= sizeof(c->ref)) {
		snprintf(err, errlen, "'%.40s...': name too long", ref);
		return -ENAMETOOLONG;
	}
	rc = s->resolve(state_dir, name, c, err, errlen);
	if (rc)
		return rc;
	c->source = s;
	snprintf(c->ref, sizeof(c->ref), "%s", ref);
	return 0;
}
