/* test_fuzz_corpus.c — every file of each fuzz corpus (tests/fuzz/corpus/<target>/) through its
 * fuzz target, in this build (ASan+UBSan under `make check`): the seeds, and what `make fuzz`
 * found, stay checked without clang or libFuzzer.  The Makefile renames each target's
 * LLVMFuzzerTestOneInput to pk_fuzz_<target>. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define CORPUS_MAX_FILE (1u << 20)

/* target name, the fewest inputs its corpus may hold (its seeds) */
#define FUZZ_TARGETS                                                                               \
	X(divlog, 10)                                                                              \
	X(docker, 10)                                                                              \
	X(framer, 10)                                                                              \
	X(http, 10)                                                                                \
	X(msg, 10)                                                                                 \
	X(pcap_read, 20)                                                                           \
	X(probe_shm, 5)                                                                            \
	X(probe_table, 10)                                                                         \
	X(prom, 10)                                                                                \
	X(reqcmp, 10)                                                                              \
	X(sim_trace, 10)                                                                           \
	X(status, 20)                                                                              \
	X(trace_analyze, 10)                                                                       \
	X(trace_wire, 15)                                                                          \
	X(wire, 10)

#define X(name, min) int pk_fuzz_##name(const uint8_t *data, size_t size);
FUZZ_TARGETS
#undef X

static const struct fuzz_target {
	const char *name;
	int (*fn)(const uint8_t *data, size_t size);
	size_t min_inputs;
} targets[] = {
#define X(name, min) { #name, pk_fuzz_##name, min },
	FUZZ_TARGETS
#undef X
};

static const char *corpus_root(char *buf, size_t len)
{
	const char *root = getenv("PK_ROOT");

	snprintf(buf, len, "%s/tests/fuzz/corpus", root ? root : ".");
	return buf;
}

/* Reads a whole small file into a new buffer; NULL when it cannot. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf;

	if (!f)
		return NULL;
	buf = malloc(CORPUS_MAX_FILE);
	*len = buf ? fread(buf, 1, CORPUS_MAX_FILE, f) : 0;
	if (buf && (ferror(f) || !feof(f))) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Runs every file of the target's corpus through it; the count of inputs, -1 without a corpus. */
static long run_corpus(const struct fuzz_target *t)
{
	char root[4096], dir[4200], path[4500];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", corpus_root(root, sizeof(root)), t->name);
	d = opendir(dir);
	if (!d) {
		printf("  %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		size_t len;
		uint8_t *buf;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		buf = slurp(path, &len);
		if (!buf) {
			printf("  %s: cannot read (or larger than %u bytes)\n", path,
			       CORPUS_MAX_FILE);
			closedir(d);
			return -1;
		}
		t->fn(buf, len); /* aborts, or the sanitizers report, on a bug */
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

static void test_every_corpus(void)
{
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		long n = run_corpus(&targets[i]);

		printf("  %s: %ld corpus inputs\n", targets[i].name, n);
		CHECK(n >= (long)targets[i].min_inputs);
	}
}

/* Every corpus directory belongs to a target listed here (none forgotten in the table). */
static void test_every_corpus_has_a_target(void)
{
	char root[4096];
	DIR *d = opendir(corpus_root(root, sizeof(root)));
	struct dirent *e;
	size_t dirs = 0;

	CHECK(d != NULL);
	if (!d)
		return;
	while ((e = readdir(d))) {
		bool known = false;

		if (e->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
			known |= strcmp(targets[i].name, e->d_name) == 0;
		if (!known)
			printf("  corpus %s has no target in test_fuzz_corpus.c\n", e->d_name);
		CHECK(known);
		dirs++;
	}
	closedir(d);
	CHECK_EQ_INT(dirs, sizeof(targets) / sizeof(targets[0]));
}

int main(void)
{
	UNIT_RUN(test_every_corpus);
	UNIT_RUN(test_every_corpus_has_a_target);
	return unit_done();
}
