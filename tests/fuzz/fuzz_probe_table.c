/* fuzz_probe_table.c — libFuzzer target: any bytes, read as a probe table section (what
 * `parikshan coldpatch` stores in a binary, read back from a file nobody vouches for) by
 * pk_probe_table_parse().
 *
 * Besides the sanitizers' checks, it asserts what the parser promises: 0 or -EINVAL (or
 * -ENOMEM); on 0 the functions are sorted with non-empty names, every site lies inside its
 * function, sites are sorted without overlap, each is 5 bytes written over a span of 5 or 6;
 * and the table written again is the input, byte for byte.  Built with clang by `make fuzz`,
 * and with gcc+ASan into test_fuzz_corpus.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_int.h"
#include "probe/table.h"

#define FUZZ_TARGET "fuzz_probe_table"
#include "fuzz.h"

static void check_table(const struct pk_probe_table *t)
{
	for (size_t i = 0; i < t->nfuncs; i++) {
		require(t->funcs[i].name && t->funcs[i].name[0], "a function has a name");
		require(i == 0 || t->funcs[i - 1].addr < t->funcs[i].addr, "functions sorted");
	}
	for (size_t i = 0; i < t->nsites; i++) {
		const struct pk_site *s = &t->sites[i];
		const struct pk_func *f;

		require(s->func < t->nfuncs, "a site's function exists");
		f = &t->funcs[s->func];
		require(s->addr >= f->addr && s->addr - f->addr + s->span <= f->size,
			"a site lies inside its function");
		require(i == 0 || t->sites[i - 1].addr + t->sites[i - 1].span <= s->addr,
			"sites sorted, without overlap");
		require(s->len == 5 && (s->span == 5 || s->span == 6), "len 5, span 5 or 6");
		require(!t->entry_only || s->kind == PK_SITE_ENTRY, "entry-only: entries only");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pk_probe_table t;
	char err[256];
	uint8_t *again = NULL;
	size_t len = 0;
	int rc;

	err[0] = '\0';
	rc = pk_probe_table_parse(data, size, &t, err, sizeof(err));
	require(rc == 0 || rc == -EINVAL || rc == -ENOMEM, "0, -EINVAL or -ENOMEM");
	if (rc < 0) {
		require(err[0] != '\0', "a reason for a rejection");
		return 0;
	}
	check_table(&t);
	if (pk_probe_table_encode(&t, &again, &len) == 0) {
		require(len == size && memcmp(again, data, size) == 0,
			"written again, the table is its input");
		free(again);
	}
	pk_probe_table_release(&t);
	return 0;
}
