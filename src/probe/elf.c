/* elf.c — reading what iProbe needs of an x86-64 ELF file through libelf (gelf): the checks
 * that it is one, sections by name, function symbols (one per address), dynamic relocations,
 * and the bytes (and file offset) at a link-time address.  Nothing is written; see
 * probe_int.h for the contracts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/errbuf.h"
#include "probe/probe_int.h"

int pk_elf_open(struct pk_elf *e, int fd, const char *name, char *err, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	e->name = name;
	e->fd = fd;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return pk_errbuf_set(-ENOSYS, err, errlen, "libelf: %s", elf_errmsg(-1));
	e->elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!e->elf)
		return pk_errbuf_set(-ENOEXEC, err, errlen, "%s: cannot read as ELF: %s", name,
				     elf_errmsg(-1));
	if (elf_kind(e->elf) != ELF_K_ELF) {
		pk_elf_close(e);
		return pk_errbuf_set(-ENOEXEC, err, errlen, "%s: not an ELF file", name);
	}
	if (gelf_getclass(e->elf) != ELFCLASS64 || !gelf_getehdr(e->elf, &e->eh) ||
	    e->eh.e_machine != EM_X86_64 || e->eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		pk_elf_close(e);
		return pk_errbuf_set(-ENOEXEC, err, errlen,
				     "%s: not a 64-bit x86-64 ELF file (iProbe is x86-64 only)",
				     name);
	}
	if (e->eh.e_type != ET_EXEC && e->eh.e_type != ET_DYN) {
		pk_elf_close(e);
		return pk_errbuf_set(-ENOEXEC, err, errlen,
				     "%s: not an executable or shared library (ELF type %u)", name,
				     (unsigned)e->eh.e_type);
	}
	if (elf_getshdrstrndx(e->elf, &e->shstrndx) != 0) {
		pk_elf_close(e);
		return pk_errbuf_set(-ENOEXEC, err, errlen, "%s: bad section headers: %s", name,
				     elf_errmsg(-1));
	}
	return 0;
}

void pk_elf_close(struct pk_elf *e)
{
	if (e->elf)
		elf_end(e->elf);
	e->elf = NULL;
}

Elf_Scn *pk_elf_section(const struct pk_elf *e, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(e->elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(e->elf, e->shstrndx, sh->sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

Elf_Scn *pk_elf_section_type(const struct pk_elf *e, uint32_t type, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(e->elf, scn)))
		if (gelf_getshdr(scn, sh) && sh->sh_type == type)
			return scn;
	return NULL;
}

/* Rank of a binding: the name kept when symbols share an address has the lowest. */
static int bind_rank(int bind)
{
	return bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
}

static int func_cmp(const void *a, const void *b)
{
	const struct pk_elf_func *x = a, *y = b;
	int c;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (bind_rank(x->bind) != bind_rank(y->bind))
		return bind_rank(x->bind) - bind_rank(y->bind);
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1; /* the larger range first */
	c = strcmp(x->name, y->name);
	return c;
}

/* True when section index shndx is an executable section with contents. */
static bool exec_section(const struct pk_elf *e, size_t shndx)
{
	Elf_Scn *scn;
	GElf_Shdr sh;

	if (shndx == SHN_UNDEF || shndx >= SHN_LORESERVE)
		return false;
	scn = elf_getscn(e->elf, shndx);
	return scn && gelf_getshdr(scn, &sh) && sh.sh_type == SHT_PROGBITS &&
	       (sh.sh_flags & SHF_EXECINSTR) && (sh.sh_flags & SHF_ALLOC);
}

int pk_elf_funcs(const struct pk_elf *e, Elf_Scn *scn, struct pk_elf_func **out, size_t *n)
{
	struct pk_elf_func *f = NULL;
	size_t nsyms, k = 0, cap = 0;
	Elf_Data *d = elf_getdata(scn, NULL);
	GElf_Shdr sh;

	*out = NULL;
	*n = 0;
	if (!d || !gelf_getshdr(scn, &sh) || sh.sh_entsize == 0)
		return 0;
	nsyms = sh.sh_size / sh.sh_entsize;
	for (size_t i = 1; i < nsyms; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_size == 0 || !exec_section(e, sym.st_shndx))
			continue;
		name = elf_strptr(e->elf, sh.sh_link, sym.st_name);
		if (!name || !name[0] || sym.st_value + sym.st_size < sym.st_value)
			continue;
		if (k == cap) {
			struct pk_elf_func *g;

			if (cap >= PK_ELF_MAX_FUNCS) {
				free(f);
				return -E2BIG;
			}
			cap = cap ? cap * 2 : 64;
			g = realloc(f, cap * sizeof(*f));
			if (!g) {
				free(f);
				return -ENOMEM;
			}
			f = g;
		}
		f[k++] = (struct pk_elf_func){ sym.st_value, sym.st_size, name,
					       GELF_ST_BIND(sym.st_info) };
	}
	if (k)
		qsort(f, k, sizeof(*f), func_cmp);
	/* one per address: the first after sorting is the preferred name */
	*n = 0;
	for (size_t i = 0; i < k; i++)
		if (*n == 0 || f[*n - 1].addr != f[i].addr)
			f[(*n)++] = f[i];
	*out = f;
	return 0;
}

uint64_t pk_elf_symbol_addr(const struct pk_elf *e, Elf_Scn *scn, const char *name)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	GElf_Shdr sh;
	size_t nsyms;

	if (!d || !gelf_getshdr(scn, &sh) || sh.sh_entsize == 0)
		return 0;
	nsyms = sh.sh_size / sh.sh_entsize;
	for (size_t i = 1; i < nsyms; i++) {
		GElf_Sym sym;
		const char *n;

		if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
			continue;
		n = elf_strptr(e->elf, sh.sh_link, sym.st_name);
		if (n && strcmp(n, name) == 0)
			return sym.st_value;
	}
	return 0;
}

static int reloc_cmp(const void *a, const void *b)
{
	const struct pk_elf_reloc *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The name of symbol `idx` of the symbol table at section index link ("" when none). */
static const char *reloc_sym_name(const struct pk_elf *e, size_t link, size_t idx)
{
	Elf_Scn *scn = elf_getscn(e->elf, link);
	Elf_Data *d;
	GElf_Shdr sh;
	GElf_Sym sym;
	const char *n;

	if (idx == 0 || !scn || !gelf_getshdr(scn, &sh) || !(d = elf_getdata(scn, NULL)) ||
	    !gelf_getsym(d, (int)idx, &sym))
		return "";
	n = elf_strptr(e->elf, sh.sh_link, sym.st_name);
	return n ? n : "";
}

int pk_elf_relocs(const struct pk_elf *e, uint32_t type, struct pk_elf_reloc **out, size_t *n)
{
	struct pk_elf_reloc *r = NULL;
	size_t k = 0, cap = 0;
	Elf_Scn *scn = NULL;

	*out = NULL;
	*n = 0;
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t nrel;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || sh.sh_entsize == 0 ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		nrel = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < nrel; i++) {
			GElf_Rela rela;

			if (!gelf_getrela(d, (int)i, &rela) || GELF_R_TYPE(rela.r_info) != type)
				continue;
			if (k == cap) {
				struct pk_elf_reloc *g;

				if (cap >= PK_ELF_MAX_RELOCS) {
					free(r);
					return -E2BIG;
				}
				cap = cap ? cap * 2 : 64;
				g = realloc(r, cap * sizeof(*r));
				if (!g) {
					free(r);
					return -ENOMEM;
				}
				r = g;
			}
			r[k++] = (struct pk_elf_reloc){ rela.r_offset, rela.r_addend,
							reloc_sym_name(e, sh.sh_link,
								       GELF_R_SYM(rela.r_info)) };
		}
	}
	if (k)
		qsort(r, k, sizeof(*r), reloc_cmp);
	*out = r;
	*n = k;
	return 0;
}

const struct pk_elf_reloc *pk_elf_reloc_find(const struct pk_elf_reloc *r, size_t n,
					     uint64_t offset)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && r[lo].offset == offset ? &r[lo] : NULL;
}

const uint8_t *pk_elf_bytes(const struct pk_elf *e, uint64_t vaddr, uint64_t len, uint64_t *off)
{
	Elf_Scn *scn = NULL;

	if (vaddr + len < vaddr)
		return NULL;
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		uint64_t at;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    sh.sh_type == SHT_NOBITS || vaddr < sh.sh_addr ||
		    vaddr + len > sh.sh_addr + sh.sh_size)
			continue;
		d = elf_getdata(scn, NULL);
		at = vaddr - sh.sh_addr;
		if (!d || !d->d_buf || at + len > d->d_size)
			return NULL;
		if (off)
			*off = sh.sh_offset + at;
		return (const uint8_t *)d->d_buf + at;
	}
	return NULL;
}
