/* fuzz_prom.c — libFuzzer target: any bytes, read as Prometheus text (what a proxy's /metrics
 * answers, as the tests read it) by pk_prom_parse() and pk_prom_label().
 *
 * Besides the sanitizers' checks, it asserts what the reader promises: the count it returns is
 * the number of samples it called back for (or -EINVAL); a sample's name is not empty and holds
 * no brace or space; a label is read into the buffer given, terminated, or reported absent
 * (empty) or too long.  Built with clang by `make fuzz`, and with gcc+ASan into
 * test_fuzz_corpus.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/prom.h"

#define FUZZ_TARGET "fuzz_prom"
#include "fuzz.h"

#define FUZZ_MAX_TEXT 65536

/* Reads label key into buffers of a few sizes; each answer is checked. */
static void check_label(const char *labels, const char *key)
{
	static const size_t sizes[] = { 1, 2, 8, 64, 4096 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char out[4096 + 1];
		int rc;

		memset(out, 'x', sizeof(out));
		rc = pk_prom_label(labels, key, out, sizes[i]);
		require(rc == 0 || rc == -ENOENT || rc == -ENOSPC, "label: 0, -ENOENT or -ENOSPC");
		require(memchr(out, '\0', sizes[i]) != NULL, "label: terminated within the buffer");
		require(rc != -ENOENT || out[0] == '\0', "label: absent is empty");
		require(out[sizes[i]] == 'x', "label: nothing written past the buffer");
	}
}

static void sample(const char *name, const char *labels, double value, void *data)
{
	int *n = data;

	require(name[0] != '\0' && !strpbrk(name, "{ "), "a sample name without brace or space");
	check_label(labels, "target");
	check_label(labels, "direction");
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	int n = 0, rc;

	text = fuzz_text(data, size, FUZZ_MAX_TEXT);
	if (!text)
		return 0;
	rc = pk_prom_parse(text, sample, &n);
	require(rc == -EINVAL || rc == n, "the count of samples called back, or -EINVAL");
	free(text);
	return 0;
}
