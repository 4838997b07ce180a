/* bug.h — PK_BUG_ON(cond): an assertion for documented invariants and preconditions.
 *
 * In debug and asan builds (PK_DEBUG, set by the Makefile for MODE=debug, MODE=asan and the fuzz
 * targets) a true cond writes "parikshan: BUG at file:line: cond" to stderr and aborts, so tests
 * stop at the broken invariant rather than somewhere downstream.  In release builds it is compiled
 * out: cond is type-checked but never evaluated (no side effects in cond, then).  Like HAProxy's
 * BUG_ON: for "cannot happen", never for input checking (bad input gets an error return).
 */
#ifndef PK_COMMON_BUG_H
#define PK_COMMON_BUG_H

#ifdef PK_DEBUG
/* Reports the failed invariant text at file:line and aborts; used by PK_BUG_ON(). */
void pk_bug(const char *file, int line, const char *cond) __attribute__((noreturn, cold));

#define PK_BUG_ON(cond)                                                                            \
	do {                                                                                       \
		if (__builtin_expect(!!(cond), 0))                                                 \
			pk_bug(__FILE__, __LINE__, #cond);                                         \
	} while (0)
#else
#define PK_BUG_ON(cond) ((void)sizeof(!(cond)))
#endif

#endif
