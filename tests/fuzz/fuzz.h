/* fuzz.h — what every libFuzzer target shares (tests/fuzz/fuzz_<target>.c, included once by
 * each): the check of a promise, and the input as text.  A target defines FUZZ_TARGET (its
 * name, for the failure line) before including it.  Every target is also linked, entry point
 * renamed, into test_fuzz_corpus: hence static functions only. */
#ifndef PK_TESTS_FUZZ_FUZZ_H
#define PK_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_TARGET
#error "define FUZZ_TARGET before including fuzz.h"
#endif

/* Aborts (so that the fuzzer keeps the input) when a promise does not hold. */
static inline void require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, FUZZ_TARGET ": broken promise: %s\n", what);
		abort();
	}
}

/* The input as a NUL-terminated copy, as an HTTP client gives a body: the text stops at the
 * first NUL.  NULL (nothing to test) when it is longer than max bytes or memory ran out; the
 * caller frees it. */
static inline char *fuzz_text(const uint8_t *data, size_t size, size_t max)
{
	char *text = size <= max ? malloc(size + 1) : NULL;

	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
	}
	return text;
}

#endif
