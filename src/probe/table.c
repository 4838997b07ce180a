/* table.c — the probe table: its section format (written by the cold patch, read back from any
 * file), its strict parser (the bytes come from a file: everything is checked, nothing is
 * trusted), and the loader, which reads PK_TABLE_SECTION or else builds the table from the
 * file's __patchable_function_entries.
 *
 * The section, little-endian, every record 8-byte aligned:
 *
 *   0   +--------+---------+-------+--------+--------+---------+----------+
 *       | magic  | version | flags | nfuncs | nsites | strsize | reserved |
 *       | "PKIT" | u16 = 1 | u16   | u32    | u32    | u32     | u32 = 0  |
 *   24  +--------+---------+-------+--------+--------+---------+----------+
 *       | func record x nfuncs, 24 bytes each, sorted by addr:            |
 *       |   u64 addr | u64 size | u32 name (offset in strtab) | u32 = 0   |
 *       +-----------------------------------------------------------------+
 *       | site record x nsites, 24 bytes each, sorted by addr:            |
 *       |   u64 addr | u32 func | u8 kind | u8 how | u8 len | u8 span     |
 *       |   u8 nop[8] (the site's bytes when off; 0 past span)            |
 *       +-----------------------------------------------------------------+
 *       | string table, strsize bytes: the functions' NUL-terminated      |
 *       | names in their order, nothing else (one encoding per table)     |
 *       +-----------------------------------------------------------------+
 *   length = 24 + 24 × (nfuncs + nsites) + strsize, exactly
 *
 * flags: bit 0 pie (ET_DYN: add the load bias), bit 1 entry_only; the other bits are 0.
 * A site lies inside its function, sites do not overlap, len is 5, span 5 or 6, and nop[] is
 * one of the encodings table.h names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "probe/probe_int.h"

#define TABLE_MAGIC "PKIT"
#define TABLE_VERSION 1
#define TABLE_FLAG_PIE 1u
#define TABLE_FLAG_ENTRY_ONLY 2u
#define TABLE_HEADER 24
#define TABLE_FUNC 24
#define TABLE_SITE 24
#define TABLE_MAX_BYTES (1u << 30)

static const char no_memory[] = "out of memory";

const uint8_t pk_probe_nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
const uint8_t pk_probe_ret5[5] = { 0xc3, 0x0f, 0x1f, 0x40, 0x00 };
const uint8_t pk_probe_ret6[6] = { 0xc3, 0x0f, 0x1f, 0x44, 0x00, 0x00 };
static const uint8_t nop_run5[5] = { 0x90, 0x90, 0x90, 0x90, 0x90 };
static const uint8_t endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

void pk_probe_table_release(struct pk_probe_table *t)
{
	for (size_t i = 0; i < t->nfuncs; i++)
		free(t->funcs[i].name);
	free(t->funcs);
	free(t->sites);
	memset(t, 0, sizeof(*t));
}

/* True when a site's bytes are what table.h allows for its kind of site. */
static bool site_nop_valid(const struct pk_site *s)
{
	for (size_t i = s->span; i < sizeof(s->nop); i++)
		if (s->nop[i] != 0)
			return false;
	if (s->how == PK_SITE_PATCHABLE)
		return s->span == 5 &&
		       (memcmp(s->nop, pk_probe_nop5, 5) == 0 || memcmp(s->nop, nop_run5, 5) == 0);
	if (s->how == PK_SITE_TAIL)
		return s->span == 5 ? memcmp(s->nop, pk_probe_ret5, 5) == 0
				    : memcmp(s->nop, pk_probe_ret6, 6) == 0;
	return memcmp(s->nop, pk_probe_nop5, 5) == 0 && (s->span == 5 || s->nop[5] == 0x90);
}

/* Checks one decoded site against the table so far; NULL or what is wrong. */
static const char *site_check(const struct pk_probe_table *t, size_t i)
{
	const struct pk_site *s = &t->sites[i];
	const struct pk_func *f;

	if (s->func >= t->nfuncs)
		return "a site's function index is out of range";
	if (s->kind != PK_SITE_ENTRY && s->kind != PK_SITE_EXIT)
		return "a site's kind is not entry or exit";
	if (s->how != PK_SITE_CALL && s->how != PK_SITE_PATCHABLE && s->how != PK_SITE_TAIL)
		return "a site's how is not call, patchable or tail";
	if (s->how == PK_SITE_TAIL && s->kind != PK_SITE_EXIT)
		return "a tail site is not an exit";
	if (s->len != 5 || (s->span != 5 && s->span != 6))
		return "a site's len/span is not 5/5 or 5/6";
	if (s->how == PK_SITE_PATCHABLE && s->kind != PK_SITE_ENTRY)
		return "a patchable site is not an entry";
	if (t->entry_only && s->kind != PK_SITE_ENTRY)
		return "an exit site in an entry-only table";
	if (!site_nop_valid(s))
		return "a site's bytes are not a known NOP";
	f = &t->funcs[s->func];
	if (s->addr < f->addr || s->addr + s->span > f->addr + f->size ||
	    s->addr + s->span < s->addr)
		return "a site lies outside its function";
	if (i > 0 && t->sites[i - 1].addr + t->sites[i - 1].span > s->addr)
		return "sites are not sorted or overlap";
	return NULL;
}

/* Decodes the function records; NULL or what is wrong. */
static const char *parse_funcs(const uint8_t *p, const char *strtab, uint32_t strsize,
			       struct pk_probe_table *t)
{
	uint32_t next = 0; /* where the next name must start */

	for (size_t i = 0; i < t->nfuncs; i++, p += TABLE_FUNC) {
		struct pk_func *f = &t->funcs[i];
		uint32_t name = get32(p + 16);
		const char *end;

		f->addr = get64(p);
		f->size = get64(p + 8);
		if (get32(p + 20) != 0)
			return "a function record's reserved field is not 0";
		if (f->size == 0 || f->addr + f->size < f->addr)
			return "a function's size is 0 or its range overflows";
		if (i > 0 && t->funcs[i - 1].addr >= f->addr)
			return "functions are not sorted by address";
		if (name >= strsize)
			return "a function's name offset is outside the string table";
		end = memchr(strtab + name, '\0', strsize - name);
		if (!end)
			return "a function's name is not NUL-terminated";
		if (end == strtab + name)
			return "a function's name is empty";
		if (name != next)
			return "the string table is not the names in function order";
		next = (uint32_t)(end - strtab) + 1;
		f->name = strdup(strtab + name);
		if (!f->name)
			return no_memory;
	}
	if (next != strsize)
		return "the string table holds more than the names";
	return NULL;
}

int pk_probe_table_parse(const void *data, size_t len, struct pk_probe_table *t, char *err,
			 size_t errlen)
{
	const uint8_t *p = data;
	uint32_t nfuncs, nsites, strsize;
	uint16_t flags;
	const char *why = NULL;
	uint64_t need;

	memset(t, 0, sizeof(*t));
	if (len < TABLE_HEADER)
		return pk_errbuf_set(-EINVAL, err, errlen, "shorter than its header (%zu bytes)",
				     len);
	if (len > TABLE_MAX_BYTES)
		return pk_errbuf_set(-EINVAL, err, errlen, "larger than %u bytes", TABLE_MAX_BYTES);
	if (memcmp(p, TABLE_MAGIC, 4) != 0)
		return pk_errbuf_set(-EINVAL, err, errlen, "not a probe table (bad magic)");
	if (get16(p + 4) != TABLE_VERSION)
		return pk_errbuf_set(-EINVAL, err, errlen, "version %u (this build reads %u)",
				     get16(p + 4), TABLE_VERSION);
	flags = get16(p + 6);
	nfuncs = get32(p + 8);
	nsites = get32(p + 12);
	strsize = get32(p + 16);
	if (flags & ~(TABLE_FLAG_PIE | TABLE_FLAG_ENTRY_ONLY) || get32(p + 20) != 0)
		return pk_errbuf_set(-EINVAL, err, errlen, "unknown flags or reserved bits set");
	/* at most 2^32 × 48 + 2^32 + 24: no overflow in 64 bits */
	need = TABLE_HEADER + (uint64_t)nfuncs * TABLE_FUNC + (uint64_t)nsites * TABLE_SITE +
	       strsize;
	if (need != len)
		return pk_errbuf_set(-EINVAL, err, errlen,
				     "%u functions, %u sites and %u string bytes need %llu bytes, "
				     "not %zu",
				     nfuncs, nsites, strsize, (unsigned long long)need, len);
	t->pie = flags & TABLE_FLAG_PIE;
	t->entry_only = flags & TABLE_FLAG_ENTRY_ONLY;
	t->funcs = calloc(nfuncs ? nfuncs : 1, sizeof(*t->funcs));
	t->sites = calloc(nsites ? nsites : 1, sizeof(*t->sites));
	if (!t->funcs || !t->sites) {
		pk_probe_table_release(t);
		return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
	}
	t->nfuncs = nfuncs;
	why = parse_funcs(p + TABLE_HEADER,
			  (const char *)p + TABLE_HEADER +
				  (size_t)(nfuncs + (uint64_t)nsites) * TABLE_SITE,
			  strsize, t);
	p += TABLE_HEADER + (size_t)nfuncs * TABLE_FUNC;
	for (size_t i = 0; !why && i < nsites; i++, p += TABLE_SITE) {
		struct pk_site *s = &t->sites[i];

		s->addr = get64(p);
		s->func = get32(p + 8);
		s->kind = p[12];
		s->how = p[13];
		s->len = p[14];
		s->span = p[15];
		memcpy(s->nop, p + 16, sizeof(s->nop));
		t->nsites = i + 1;
		why = site_check(t, i);
	}
	if (why) {
		int code = why == no_memory ? -ENOMEM : -EINVAL;

		pk_probe_table_release(t);
		return pk_errbuf_set(code, err, errlen, "%s", why);
	}
	return 0;
}

int pk_probe_table_encode(const struct pk_probe_table *t, uint8_t **out, size_t *len)
{
	uint64_t strsize = 0, total;
	uint8_t *buf, *p;
	char *str;

	for (size_t i = 0; i < t->nfuncs; i++)
		strsize += strlen(t->funcs[i].name) + 1;
	total = TABLE_HEADER + (uint64_t)(t->nfuncs + t->nsites) * TABLE_SITE + strsize;
	if (t->nfuncs > UINT32_MAX || t->nsites > UINT32_MAX || total > TABLE_MAX_BYTES)
		return -E2BIG;
	buf = calloc(1, total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, TABLE_MAGIC, 4);
	put16(buf + 4, TABLE_VERSION);
	put16(buf + 6, (uint16_t)((t->pie ? TABLE_FLAG_PIE : 0) |
				  (t->entry_only ? TABLE_FLAG_ENTRY_ONLY : 0)));
	put32(buf + 8, (uint32_t)t->nfuncs);
	put32(buf + 12, (uint32_t)t->nsites);
	put32(buf + 16, (uint32_t)strsize);
	p = buf + TABLE_HEADER;
	str = (char *)p + (t->nfuncs + t->nsites) * TABLE_SITE;
	for (size_t i = 0; i < t->nfuncs; i++, p += TABLE_FUNC) {
		size_t n = strlen(t->funcs[i].name) + 1;

		put64(p, t->funcs[i].addr);
		put64(p + 8, t->funcs[i].size);
		put32(p + 16, (uint32_t)(str - ((char *)buf + total - strsize)));
		memcpy(str, t->funcs[i].name, n);
		str += n;
	}
	for (size_t i = 0; i < t->nsites; i++, p += TABLE_SITE) {
		const struct pk_site *s = &t->sites[i];

		put64(p, s->addr);
		put32(p + 8, s->func);
		p[12] = s->kind;
		p[13] = s->how;
		p[14] = s->len;
		p[15] = s->span;
		memcpy(p + 16, s->nop, sizeof(s->nop));
	}
	*out = buf;
	*len = total;
	return 0;
}

static int site_cmp(const void *a, const void *b)
{
	const struct pk_site *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int pk_probe_table_build(struct pk_probe_table *t, const struct pk_elf_func *funcs,
			 struct pk_site *sites, size_t nsites)
{
	size_t n = 0, nf = 0;
	uint32_t *map;
	uint32_t maxf = 0;

	if (nsites)
		qsort(sites, nsites, sizeof(*sites), site_cmp);
	for (size_t i = 0; i < nsites; i++) {
		if (n && sites[n - 1].addr == sites[i].addr)
			continue; /* the same call seen from two overlapping symbols */
		sites[n++] = sites[i];
		if (sites[i].func + 1 > maxf)
			maxf = sites[i].func + 1;
	}
	map = calloc(maxf ? maxf : 1, sizeof(*map));
	t->sites = calloc(n ? n : 1, sizeof(*t->sites));
	t->funcs = calloc(maxf ? maxf : 1, sizeof(*t->funcs));
	if (!map || !t->sites || !t->funcs)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		map[sites[i].func] = 1;
	for (uint32_t i = 0; i < maxf; i++) {
		if (!map[i])
			continue;
		t->funcs[nf].addr = funcs[i].addr;
		t->funcs[nf].size = funcs[i].size;
		t->funcs[nf].name = strdup(funcs[i].name);
		if (!t->funcs[nf++].name)
			goto nomem;
		map[i] = (uint32_t)nf; /* index + 1 */
	}
	t->nfuncs = nf;
	for (size_t i = 0; i < n; i++) {
		t->sites[i] = sites[i];
		t->sites[i].func = map[sites[i].func] - 1;
	}
	t->nsites = n;
	free(map);
	return 0;
nomem:
	t->nfuncs = nf;
	free(map);
	pk_probe_table_release(t);
	return -ENOMEM;
}

/* The function of sorted funcs[] starting at addr, or NULL. */
static const struct pk_elf_func *func_at(const struct pk_elf_func *f, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && f[lo].addr == addr ? &f[lo] : NULL;
}

/* Appends the patchable entry at `site` to sites[] when it is a function's entry (or right
 * after its endbr64) and its 5 bytes are NOPs. */
static void patchable_site(const struct pk_elf *e, const struct pk_elf_func *funcs, size_t nfuncs,
			   uint64_t site, struct pk_site *sites, size_t *n)
{
	const struct pk_elf_func *f = func_at(funcs, nfuncs, site);
	const uint8_t *b;

	if (!f && site >= 4 && (f = func_at(funcs, nfuncs, site - 4))) {
		b = pk_elf_bytes(e, f->addr, 4, NULL);
		if (!b || memcmp(b, endbr64, 4) != 0)
			f = NULL;
	}
	if (!f || site + 5 > f->addr + f->size)
		return; /* NOPs before the entry (M > 0), or not a function we know */
	b = pk_elf_bytes(e, site, 5, NULL);
	if (!b || (memcmp(b, nop_run5, 5) != 0 && memcmp(b, pk_probe_nop5, 5) != 0))
		return;
	sites[*n] = (struct pk_site){ .addr = site,
				      .func = (uint32_t)(f - funcs),
				      .kind = PK_SITE_ENTRY,
				      .how = PK_SITE_PATCHABLE,
				      .len = 5,
				      .span = 5 };
	memcpy(sites[*n].nop, b, 5);
	(*n)++;
}

/* Builds *t from the file's __patchable_function_entries; 0, -ENOENT (none) or -errno. */
static int load_patchable(const struct pk_elf *e, struct pk_probe_table *t, char *err,
			  size_t errlen)
{
	struct pk_elf_func *funcs = NULL;
	struct pk_elf_reloc *rel = NULL;
	struct pk_site *sites = NULL;
	size_t nfuncs = 0, nrel = 0, nslots, n = 0;
	const uint8_t *slots;
	Elf_Scn *scn, *symtab;
	GElf_Shdr sh, symsh;
	int rc;

	scn = pk_elf_section(e, PK_PATCHABLE_SECTION, &sh);
	if (!scn || sh.sh_type != SHT_PROGBITS || sh.sh_size < 8)
		return -ENOENT;
	nslots = sh.sh_size / 8;
	slots = pk_elf_bytes(e, sh.sh_addr, nslots * 8, NULL);
	symtab = pk_elf_section_type(e, SHT_SYMTAB, &symsh);
	if (!symtab)
		symtab = pk_elf_section_type(e, SHT_DYNSYM, &symsh);
	if (!slots || !symtab)
		return -ENOENT;
	if ((rc = pk_elf_funcs(e, symtab, &funcs, &nfuncs)) < 0 ||
	    (rc = pk_elf_relocs(e, R_X86_64_RELATIVE, &rel, &nrel)) < 0)
		goto out;
	sites = calloc(nslots, sizeof(*sites));
	if (!sites) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nslots; i++) {
		const struct pk_elf_reloc *r = pk_elf_reloc_find(rel, nrel, sh.sh_addr + 8 * i);
		uint64_t site = r ? (uint64_t)r->addend : get64(slots + 8 * i);

		patchable_site(e, funcs, nfuncs, site, sites, &n);
	}
	rc = n ? pk_probe_table_build(t, funcs, sites, n) : -ENOENT;
	if (rc == 0) {
		t->pie = e->eh.e_type == ET_DYN;
		t->entry_only = true;
	}
out:
	if (rc < 0 && rc != -ENOENT)
		pk_errbuf_set(rc, err, errlen, "%s: reading its patchable entries: %s", e->name,
			      strerror(-rc));
	free(sites);
	free(rel);
	free(funcs);
	return rc;
}

int pk_probe_table_load_fd(int fd, const char *name, struct pk_probe_table *t, char *err,
			   size_t errlen)
{
	char why[256];
	struct pk_elf e;
	Elf_Scn *scn;
	GElf_Shdr sh;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = pk_elf_open(&e, fd, name, err, errlen)) < 0)
		return rc;
	scn = pk_elf_section(&e, PK_TABLE_SECTION, &sh);
	if (scn) {
		Elf_Data *d = elf_getdata(scn, NULL);

		if (!d || sh.sh_type != SHT_PROGBITS || !d->d_buf) {
			rc = pk_errbuf_set(-EINVAL, err, errlen, "%s: cannot read section %s", name,
					   PK_TABLE_SECTION);
		} else if ((rc = pk_probe_table_parse(d->d_buf, d->d_size, t, why, sizeof(why))) <
			   0) {
			pk_errbuf_set(rc, err, errlen, "%s: bad probe table: %s", name, why);
		} else if (t->pie != (e.eh.e_type == ET_DYN)) {
			pk_probe_table_release(t);
			rc = pk_errbuf_set(
				-EINVAL, err, errlen,
				"%s: bad probe table: its PIE flag does not match the file", name);
		}
	} else {
		rc = load_patchable(&e, t, err, errlen);
	}
	if (rc == 0 && t->nsites == 0) {
		pk_probe_table_release(t);
		rc = -ENOENT;
	}
	if (rc == -ENOENT)
		pk_errbuf_set(rc, err, errlen,
			      "%s has no probe sites: build it with -finstrument-functions and run "
			      "`parikshan coldpatch`, or with -fpatchable-function-entry=5",
			      name);
	pk_elf_close(&e);
	return rc;
}

int pk_probe_table_load(const char *path, struct pk_probe_table *t, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	memset(t, 0, sizeof(*t));
	if (fd < 0) {
		rc = -errno;
		return pk_errbuf_set(rc, err, errlen, "%s: %s", path, strerror(-rc));
	}
	rc = pk_probe_table_load_fd(fd, path, t, err, errlen);
	close(fd);
	return rc;
}
