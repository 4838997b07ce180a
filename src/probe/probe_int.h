/* probe_int.h — what the probe module's files share privately: reading an x86-64 ELF file
 * (elf.c: its sections, function symbols, dynamic relocations, bytes at a link-time address)
 * and building or writing a probe table (table.c), used by the cold patch (coldpatch.c) and by
 * the table loader; and reading a line of /proc/PID/maps (maps.c).
 */
#ifndef PK_PROBE_PROBE_INT_H
#define PK_PROBE_PROBE_INT_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/table.h"

#define PK_ELF_MAX_FUNCS (1u << 22) /* function symbols read from one file */
#define PK_ELF_MAX_RELOCS (1u << 24)
#define PK_PATCHABLE_SECTION "__patchable_function_entries"

/* One open ELF file, checked to be a 64-bit x86-64 executable or shared library. */
struct pk_elf {
	const char *name; /* as messages name the file */
	int fd;		  /* the caller's */
	Elf *elf;
	GElf_Ehdr eh;
	size_t shstrndx;
};

/* A function symbol: size > 0, in an executable section.  name points into libelf's data. */
struct pk_elf_func {
	uint64_t addr;
	uint64_t size;
	const char *name;
	int bind; /* STB_* */
};

/* A dynamic relocation (from a SHT_RELA section): where, its addend, its symbol's name ("" when
 * it has none). */
struct pk_elf_reloc {
	uint64_t offset;
	int64_t addend;
	const char *name;
};

/* Opens fd (not closed) as an ELF file named `name`; 0 or -errno with a reason in err
 * (-ENOEXEC: not ELF, not 64-bit x86-64, not an executable or shared library). */
int pk_elf_open(struct pk_elf *e, int fd, const char *name, char *err, size_t errlen);

/* Releases what pk_elf_open took (not the fd). */
void pk_elf_close(struct pk_elf *e);

/* The section named `name` (its header in *sh), or NULL. */
Elf_Scn *pk_elf_section(const struct pk_elf *e, const char *name, GElf_Shdr *sh);

/* The first section of type `type` (SHT_SYMTAB, SHT_DYNSYM), or NULL. */
Elf_Scn *pk_elf_section_type(const struct pk_elf *e, uint32_t type, GElf_Shdr *sh);

/* The function symbols of symbol table scn, sorted by address, one per address (a global name
 * before a weak one before a local one), in a new array the caller frees; 0 or -errno. */
int pk_elf_funcs(const struct pk_elf *e, Elf_Scn *scn, struct pk_elf_func **out, size_t *n);

/* The address of a defined symbol named `name` in symbol table scn (any type), or 0. */
uint64_t pk_elf_symbol_addr(const struct pk_elf *e, Elf_Scn *scn, const char *name);

/* Every relocation of type `type` in the file's SHT_RELA sections, sorted by offset, in a new
 * array the caller frees; 0 or -errno. */
int pk_elf_relocs(const struct pk_elf *e, uint32_t type, struct pk_elf_reloc **out, size_t *n);

/* The relocation of a sorted array at `offset`, or NULL. */
const struct pk_elf_reloc *pk_elf_reloc_find(const struct pk_elf_reloc *r, size_t n,
					     uint64_t offset);

/* The file's bytes at link-time address [vaddr, vaddr + len) (they must lie in one allocated
 * section that has file contents), and their file offset in *off; NULL when they do not. */
const uint8_t *pk_elf_bytes(const struct pk_elf *e, uint64_t vaddr, uint64_t len, uint64_t *off);

/* The load bias of the ELF file open as fd, mapped with its offset 0 at base (0 for an
 * ET_EXEC file); 0 or -ENOEXEC. */
int pk_elf_load_bias(int fd, uint64_t base, uint64_t *bias);

/* Fills *t from sites whose func indexes funcs[]: sorts and dedupes the sites, keeps the
 * functions that have a site (names copied) and renumbers; 0 or -ENOMEM. */
int pk_probe_table_build(struct pk_probe_table *t, const struct pk_elf_func *funcs,
			 struct pk_site *sites, size_t nsites);

/* Writes *t in the section format (see table.c) into a new buffer the caller frees; 0 or
 * -ENOMEM / -E2BIG. */
int pk_probe_table_encode(const struct pk_probe_table *t, uint8_t **out, size_t *len);

/* The canonical NOP bytes of a site rewritten from a call of `span` bytes (5 or 6). */
extern const uint8_t pk_probe_nop5[5];

/* A tail site's bytes when off: ret, then a 4-byte NOP never reached (a 6-byte site: 5). */
extern const uint8_t pk_probe_ret5[5];
extern const uint8_t pk_probe_ret6[6];

/* One line of /proc/PID/maps.  path points into the line ("" for an anonymous mapping). */
struct pk_maps_line {
	unsigned long lo, hi, off;
	char perms[8];
	char *path;
};

/* Splits one line of /proc/PID/maps into *m, cutting its newline off in place; false when it is
 * not such a line. */
bool pk_maps_parse(char *line, struct pk_maps_line *m);

#endif
