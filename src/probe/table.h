/* table.h — iProbe's probe table of one ELF file (executable or shared library): every site
 * where a probe can be switched on, found at build time.
 *
 * Two kinds of targets:
 *  - built with -finstrument-functions: `pk_coldpatch` disassembles every function (libelf +
 *    capstone), rewrites each call to __cyg_profile_func_enter/_exit into NOPs and stores the
 *    table in a section named PK_TABLE_SECTION of the output file.  Such a site is a 5-byte
 *    `call rel32` (NOP: 0f 1f 44 00 00) or a 6-byte `call *rel32(%rip)` (NOP: the same 5
 *    bytes and 0x90, so that a thread returning from the 5-byte call written there later lands
 *    on an instruction boundary).  Entry and exit probes.
 *  - built with -fpatchable-function-entry=N,M (N >= 5): no rewrite; the table comes from the
 *    __patchable_function_entries section.  Entry probes only.
 * Addresses in the table are the file's link-time virtual addresses; add the load bias.
 */
#ifndef PK_PROBE_TABLE_H
#define PK_PROBE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PK_TABLE_SECTION ".parikshan.iprobe"

enum pk_site_kind { PK_SITE_ENTRY = 0, PK_SITE_EXIT = 1 };
/* = PK_IPROBE_HOW_*.  A tail site is a compiled `jmp` to __cyg_profile_func_exit (the
 * compiler's tail call in a function that returns nothing after it): off it is a `ret` (c3) and
 * 4 (or 5) bytes never reached, so it behaves like the call of an empty function in tail
 * position; on it is a jmp to the site's stub, whose handler returns to the function's caller. */
enum pk_site_how { PK_SITE_CALL = 1, PK_SITE_PATCHABLE = 2, PK_SITE_TAIL = 3 };

struct pk_site {
	uint64_t addr;	/* link-time address of the site's first byte */
	uint32_t func;	/* index into the table's funcs */
	uint8_t kind;	/* enum pk_site_kind */
	uint8_t how;	/* enum pk_site_how */
	uint8_t len;	/* bytes written when the site is switched (5) */
	uint8_t span;	/* bytes the site occupies (5 or 6) */
	uint8_t nop[8]; /* the site's exact bytes when off */
};

struct pk_func {
	uint64_t addr; /* link-time address of the function */
	uint64_t size;
	char *name; /* owned by the table */
};

struct pk_probe_table {
	struct pk_func *funcs; /* sorted by addr */
	size_t nfuncs;
	struct pk_site *sites; /* sorted by addr */
	size_t nsites;
	bool pie;	 /* ET_DYN: add the load bias */
	bool entry_only; /* only entry sites (patchable entries) */
};

struct pk_coldpatch_stats {
	size_t funcs;	/* functions with at least one site */
	size_t entries; /* entry sites rewritten */
	size_t exits;	/* exit sites rewritten */
	size_t skipped; /* calls found that could not be rewritten (reported, not fatal) */
};

/* Rewrites the -finstrument-functions calls of ELF file `in` into NOPs and writes the result,
 * with its probe table, to `out` (mode of `in`).  0 or -errno with a one-line reason in err
 * (no symbol table, no such calls, not x86-64 ELF, already cold-patched, ...). */
int pk_coldpatch(const char *in, const char *out, struct pk_coldpatch_stats *st, char *err,
		 size_t errlen);

/* Loads the probe table of ELF file `path` (its PK_TABLE_SECTION, else its patchable function
 * entries) into *t, which the caller releases.  0 or -errno with a reason in err (-ENOENT when
 * the file has no probe sites at all). */
int pk_probe_table_load(const char *path, struct pk_probe_table *t, char *err, size_t errlen);

/* Same, from an open file descriptor (not closed). */
int pk_probe_table_load_fd(int fd, const char *name, struct pk_probe_table *t, char *err,
			   size_t errlen);

/* Frees what *t owns and zeroes it. */
void pk_probe_table_release(struct pk_probe_table *t);

/* Parses a PK_TABLE_SECTION's bytes into *t (funcs and sites); 0 or -EINVAL with a reason.
 * Used by pk_probe_table_load and by the fuzz target: the bytes come from a file. */
int pk_probe_table_parse(const void *data, size_t len, struct pk_probe_table *t, char *err,
			 size_t errlen);

#endif
