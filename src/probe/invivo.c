/* invivo.c — the tools' side of in-vivo tests: checking a test library before it goes near
 * the target, loading it there and finding its test function, and reading the counters that
 * libiprobe keeps in the segment. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "parikshan/invivo.h"
#include "probe/inject.h"
#include "probe/probe.h"
#include "probe/probe_int.h"

/* The link-time value of the test symbol in the ELF file open as fd. */
static int test_symbol(int fd, const char *name, uint64_t *value, char *err, size_t errlen)
{
	struct pk_elf e;
	GElf_Shdr sh;
	Elf_Scn *scn;
	int rc = pk_elf_open(&e, fd, name, err, errlen);

	if (rc)
		return rc;
	if (e.eh.e_type != ET_DYN) {
		pk_elf_close(&e);
		return pk_errbuf_set(-ENOEXEC, err, errlen, "%s: not a shared library", name);
	}
	scn = pk_elf_section_type(&e, SHT_DYNSYM, &sh);
	*value = scn ? pk_elf_symbol_addr(&e, scn, PK_INVIVO_TEST_SYMBOL) : 0;
	pk_elf_close(&e);
	if (!*value)
		return pk_errbuf_set(-ENOENT, err, errlen, "%s: exports no " PK_INVIVO_TEST_SYMBOL,
				     name);
	return 0;
}

/* The start of the target's offset-0 mapping of a file whose base name is base (or a memfd
 * of that name); 0 or -ENOENT. */
static int mapping_of(pid_t pid, const char *base, uint64_t *lo, uint64_t *hi)
{
	char path[64], *line = NULL;
	size_t cap = 0, blen = strlen(base);
	struct pk_maps_line m;
	int rc = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (rc && getline(&line, &cap, f) > 0) {
		const char *b;

		if (!pk_maps_parse(line, &m) || m.off != 0 || !m.path[0])
			continue;
		b = !strncmp(m.path, "/memfd:", 7) ? m.path + 7 : strrchr(m.path, '/');
		b = b && *b == '/' ? b + 1 : b;
		if (b && !strncmp(b, base, blen) && (!b[blen] || !strcmp(b + blen, " (deleted)"))) {
			*lo = m.lo;
			*hi = m.hi;
			rc = 0;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

int pk_probe_invivo_load(struct pk_probe_target *t, const char *test_path, uint64_t *addr,
			 char *err, size_t errlen)
{
	const char *base = strrchr(test_path, '/') ? strrchr(test_path, '/') + 1 : test_path;
	uint64_t value, lo = 0, hi = 0, bias = 0;
	char mf[128];
	int fd, rc;

	fd = open(test_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pk_errbuf_set(-errno, err, errlen, "%s: %s", test_path, strerror(errno));
	rc = test_symbol(fd, test_path, &value, err, errlen);
	close(fd);
	if (rc)
		return rc;
	rc = pk_inject_library(t->pid, test_path, err, errlen);
	if (rc)
		return rc;
	if (mapping_of(t->pid, base, &lo, &hi))
		return pk_errbuf_set(-ENOENT, err, errlen, "%s is not mapped in %d after loading",
				     base, (int)t->pid);
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", (int)t->pid,
		 (unsigned long long)lo, (unsigned long long)hi);
	fd = open(mf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pk_errbuf_set(-errno, err, errlen, "open %s: %s", mf, strerror(errno));
	/* the file the target mapped (it may be an older one of the same name): its own symbol */
	rc = test_symbol(fd, base, &value, err, errlen);
	if (!rc && pk_elf_load_bias(fd, lo, &bias))
		rc = pk_errbuf_set(-ENOEXEC, err, errlen, "%s: no loadable segment", base);
	close(fd);
	if (rc)
		return rc;
	*addr = bias + value;
	return 0;
}

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

bool pk_probe_invivo_counts(const struct pk_iprobe_shm *s, struct pk_probe_invivo_counts *c)
{
	uint64_t *verdicts[] = { &c->passed, &c->failed, &c->timed_out, &c->crashed };
	uint64_t done = 0;
	bool ok = true;

	c->forked = load(&s->inv_forked);
	c->passed = load(&s->inv_passed);
	c->failed = load(&s->inv_failed);
	c->timed_out = load(&s->inv_timed_out);
	c->crashed = load(&s->inv_crashed);
	c->skipped_busy = load(&s->inv_skipped_busy);
	c->fork_failed = load(&s->inv_fork_failed);
	c->live = __atomic_load_n(&s->inv_live, __ATOMIC_RELAXED);
	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		if (*verdicts[i] > c->forked - done) {
			*verdicts[i] = c->forked - done;
			ok = false;
		}
		done += *verdicts[i];
	}
	if (c->live > PK_IPROBE_INVIVO_MAX_LIVE) {
		c->live = PK_IPROBE_INVIVO_MAX_LIVE;
		ok = false;
	}
	return ok;
}
