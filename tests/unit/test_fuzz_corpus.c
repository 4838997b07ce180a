/* test_fuzz_corpus.c — every file of the fuzz corpus (tests/fuzz/corpus/pcap_read/) through the
 * fuzz target, in this build (ASan+UBSan under `make check`): the seeds, and what `make fuzz`
 * found, stay checked without clang or libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define CORPUS_MAX_FILE (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

static void test_pcap_read_corpus(void)
{
	const char *root = getenv("PK_ROOT");
	char dir[4096], path[4400];
	struct dirent *e;
	size_t n = 0, bad = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/pcap_read", root ? root : ".");
	d = opendir(dir);
	if (!d)
		printf("  %s: %s\n", dir, strerror(errno));
	CHECK(d != NULL);
	if (!d)
		return;
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
			bad++;
			continue;
		}
		LLVMFuzzerTestOneInput(buf, len); /* aborts, or the sanitizers report, on a bug */
		free(buf);
		n++;
	}
	closedir(d);
	printf("  %zu corpus inputs\n", n);
	CHECK(n >= 20); /* the seeds alone are 23 */
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	UNIT_RUN(test_pcap_read_corpus);
	return unit_done();
}
