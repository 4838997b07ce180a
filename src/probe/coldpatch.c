/* coldpatch.c — iProbe's cold patch: finds, with a real disassembler (capstone), every call
 * that -finstrument-functions put in an x86-64 ELF file, rewrites it into a NOP of the same
 * length, and stores where each one was (the probe table, table.c's format) in a section of
 * the output file.
 *
 * A call counts when its target is __cyg_profile_func_enter or _exit reached as
 *   (a) `call rel32` to a PLT stub of that symbol (.plt, .plt.sec, .plt.got: the stub's
 *       `jmp qword ptr [rip+X]` reads GOT slot X, which a JUMP_SLOT or GLOB_DAT relocation
 *       names),
 *   (b) `call rel32` to a definition of that name in the file (static link, own definition;
 *       when both names are one function, resolve_either tells entry from exit),
 *   (c) `call qword ptr [rip+X]` (-fno-plt) where X is such a GOT slot.
 * (a) and (b) are 5 bytes and become 0f 1f 44 00 00; (c) is 6 bytes and becomes the same and
 * 0x90.  Any other reference to those targets (a tail-call jmp, a load of the GOT slot for a
 * call through a register) is counted as skipped and left alone.
 *
 * The output is written beside `out` (a copy of `in`, patched in place at the sites' file
 * offsets), the table is added as a non-allocated section by objcopy (run without a shell),
 * and the result renamed over `out` with `in`'s mode.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "probe/probe_int.h"

#define CP_ENTER "__cyg_profile_func_enter"
#define CP_EXIT "__cyg_profile_func_exit"
#define CP_MAX_TARGETS 64  /* PLT stubs, GOT slots and definitions of the two names */
#define CP_OBJCOPY_ERR 200 /* bytes of objcopy's output kept for the reason */
#define CP_COPY_CHUNK 65536
#define CP_EITHER 2 /* both names at one address (static glibc's aliases): see resolve_either */

extern char **environ;

/* An address (call target or GOT slot) that means enter or exit. */
struct cp_addr {
	uint64_t addr;
	uint8_t kind; /* enum pk_site_kind */
};

struct cp_scan {
	const struct pk_elf *e;
	csh cs;
	cs_insn *insn;
	struct cp_addr targets[CP_MAX_TARGETS]; /* PLT stubs and definitions */
	size_t ntargets;
	struct cp_addr slots[CP_MAX_TARGETS]; /* GOT slots */
	size_t nslots;
	struct pk_site *sites;
	size_t nsites, cap;
	size_t skipped;
};

/* The kind of the name enter or exit, or -1. */
static int name_kind(const char *name)
{
	if (strcmp(name, CP_ENTER) == 0)
		return PK_SITE_ENTRY;
	if (strcmp(name, CP_EXIT) == 0)
		return PK_SITE_EXIT;
	return -1;
}

static void addr_add(struct cp_addr *set, size_t *n, uint64_t addr, int kind)
{
	for (size_t i = 0; i < *n; i++)
		if (set[i].addr == addr) {
			if (set[i].kind != kind)
				set[i].kind = CP_EITHER;
			return;
		}
	if (*n < CP_MAX_TARGETS)
		set[(*n)++] = (struct cp_addr){ addr, (uint8_t)kind };
}

/* The kind that addr means in set, or -1. */
static int addr_kind(const struct cp_addr *set, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (set[i].addr == addr)
			return set[i].kind;
	return -1;
}

/* The rip-relative memory operand's effective address of the current instruction, or 0. */
static uint64_t rip_target(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	for (uint8_t i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && x->operands[i].mem.base == X86_REG_RIP &&
		    x->operands[i].mem.index == X86_REG_INVALID)
			return insn->address + insn->size + (uint64_t)x->operands[i].mem.disp;
	return 0;
}

/* GOT slots: every JUMP_SLOT and GLOB_DAT relocation that names enter or exit. */
static int find_slots(struct cp_scan *s)
{
	static const uint32_t types[] = { R_X86_64_JUMP_SLOT, R_X86_64_GLOB_DAT };

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct pk_elf_reloc *r;
		size_t n;
		int rc = pk_elf_relocs(s->e, types[t], &r, &n);

		if (rc < 0)
			return rc;
		for (size_t i = 0; i < n; i++) {
			int kind = name_kind(r[i].name);

			if (kind >= 0)
				addr_add(s->slots, &s->nslots, r[i].offset, kind);
		}
		free(r);
	}
	return 0;
}

/* PLT stubs: in each PLT section, a `jmp qword ptr [rip+X]` through one of the slots; the stub
 * starts at the jmp, or at the endbr64 right before it (.plt.sec). */
static void find_stubs(struct cp_scan *s)
{
	static const char *const plts[] = { ".plt", ".plt.sec", ".plt.got" };

	for (size_t p = 0; p < sizeof(plts) / sizeof(plts[0]); p++) {
		uint64_t addr, prev_addr = 0;
		unsigned int prev_id = X86_INS_INVALID;
		const uint8_t *code;
		size_t size;
		GElf_Shdr sh;

		if (!pk_elf_section(s->e, plts[p], &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(code = pk_elf_bytes(s->e, sh.sh_addr, sh.sh_size, NULL)))
			continue;
		addr = sh.sh_addr;
		size = sh.sh_size;
		while (size) {
			int kind;

			if (!cs_disasm_iter(s->cs, &code, &size, &addr, s->insn)) {
				code++, size--, addr++;
				prev_id = X86_INS_INVALID;
				continue;
			}
			kind = s->insn->id == X86_INS_JMP
				       ? addr_kind(s->slots, s->nslots, rip_target(s->insn))
				       : -1;
			if (kind >= 0) {
				addr_add(s->targets, &s->ntargets, s->insn->address, kind);
				if (prev_id == X86_INS_ENDBR64 && prev_addr + 4 == s->insn->address)
					addr_add(s->targets, &s->ntargets, prev_addr, kind);
			}
			prev_id = s->insn->id;
			prev_addr = s->insn->address;
		}
	}
}

static int site_add(struct cp_scan *s, const cs_insn *insn, uint32_t func, int kind, bool tail)
{
	struct pk_site *site;

	if (s->nsites == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct pk_site *g = realloc(s->sites, cap * sizeof(*g));

		if (!g)
			return -ENOMEM;
		s->sites = g;
		s->cap = cap;
	}
	site = &s->sites[s->nsites++];
	*site = (struct pk_site){ .addr = insn->address,
				  .func = func,
				  .kind = (uint8_t)kind,
				  .how = tail ? PK_SITE_TAIL : PK_SITE_CALL,
				  .len = 5,
				  .span = insn->size };
	if (tail) {
		memcpy(site->nop, insn->size == 6 ? pk_probe_ret6 : pk_probe_ret5, insn->size);
		return 0;
	}
	memcpy(site->nop, pk_probe_nop5, 5);
	if (insn->size == 6)
		site->nop[5] = 0x90;
	return 0;
}

/* Looks at one instruction of function `func`: a site, a skipped reference, or nothing. */
static int scan_insn(struct cp_scan *s, const cs_insn *insn, uint32_t func)
{
	const cs_x86 *x = &insn->detail->x86;
	uint64_t slot = rip_target(insn);
	int kind = -1;
	bool site = false;
	/* a call, or the compiler's tail call of the exit hook: a jmp (never of the entry hook) */
	bool call = insn->id == X86_INS_CALL, tail = insn->id == X86_INS_JMP;

	for (uint8_t i = 0; i < x->op_count && kind < 0; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type == X86_OP_IMM) {
			kind = addr_kind(s->targets, s->ntargets, (uint64_t)op->imm);
			site = kind >= 0 && (call || tail) && insn->size == 5;
		} else if (op->type == X86_OP_MEM && slot) {
			kind = addr_kind(s->slots, s->nslots, slot);
			site = kind >= 0 && (call || tail) && insn->size == 6;
		} else if (op->type == X86_OP_MEM && op->mem.base == X86_REG_INVALID &&
			   op->mem.index == X86_REG_INVALID) {
			kind = addr_kind(s->slots, s->nslots, (uint64_t)op->mem.disp);
		}
	}
	if (kind < 0)
		return 0;
	if (site && tail && kind == PK_SITE_ENTRY)
		site = false;
	if (!site) {
		s->skipped++;
		return 0;
	}
	return site_add(s, insn, func, tail ? PK_SITE_EXIT : kind, tail);
}

/* When enter and exit are one function (static glibc defines both as aliases of one no-op),
 * the callee does not tell a site's kind: the enter call is the function's first, in its entry
 * block; every other call is an exit.  A compiler-split part ("f.cold") has no entry. */
static void resolve_either(struct pk_site *sites, size_t n, const char *func_name)
{
	for (size_t i = 0; i < n; i++)
		if (sites[i].kind == CP_EITHER)
			sites[i].kind =
				i == 0 && !strchr(func_name, '.') ? PK_SITE_ENTRY : PK_SITE_EXIT;
}

/* Disassembles every function; its sites into s->sites. */
static int scan_funcs(struct cp_scan *s, const struct pk_elf_func *funcs, size_t nfuncs)
{
	for (size_t i = 0; i < nfuncs; i++) {
		const uint8_t *code = pk_elf_bytes(s->e, funcs[i].addr, funcs[i].size, NULL);
		uint64_t addr = funcs[i].addr;
		size_t size = funcs[i].size, first = s->nsites;
		int rc;

		if (!code)
			continue;
		while (size) {
			if (!cs_disasm_iter(s->cs, &code, &size, &addr, s->insn)) {
				code++, size--, addr++; /* data or an unknown opcode: resync */
				continue;
			}
			if ((rc = scan_insn(s, s->insn, (uint32_t)i)) < 0)
				return rc;
		}
		resolve_either(s->sites + first, s->nsites - first, funcs[i].name);
	}
	return 0;
}

/* Finds the sites of e into *t (and the count of skipped calls); 0 or -errno with a reason. */
static int coldpatch_scan(const struct pk_elf *e, struct pk_probe_table *t, size_t *skipped,
			  char *err, size_t errlen)
{
	struct cp_scan s = { .e = e };
	struct pk_elf_func *funcs = NULL;
	size_t nfuncs = 0;
	Elf_Scn *symtab;
	GElf_Shdr sh;
	uint64_t def;
	int rc;

	if (pk_elf_section(e, PK_TABLE_SECTION, &sh))
		return pk_errbuf_set(-EEXIST, err, errlen,
				     "%s is already cold-patched (it has a %s section)", e->name,
				     PK_TABLE_SECTION);
	symtab = pk_elf_section_type(e, SHT_SYMTAB, &sh);
	if (!symtab)
		return pk_errbuf_set(-ENOEXEC, err, errlen,
				     "%s has no symbol table (stripped?): coldpatch needs function "
				     "symbols",
				     e->name);
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &s.cs) != CS_ERR_OK)
		return pk_errbuf_set(-ENOMEM, err, errlen, "capstone: cannot open a disassembler");
	cs_option(s.cs, CS_OPT_DETAIL, CS_OPT_ON);
	s.insn = cs_malloc(s.cs);
	rc = s.insn ? pk_elf_funcs(e, symtab, &funcs, &nfuncs) : -ENOMEM;
	if (rc == 0)
		rc = find_slots(&s);
	if (rc == 0) {
		find_stubs(&s);
		if ((def = pk_elf_symbol_addr(e, symtab, CP_ENTER)))
			addr_add(s.targets, &s.ntargets, def, PK_SITE_ENTRY);
		if ((def = pk_elf_symbol_addr(e, symtab, CP_EXIT)))
			addr_add(s.targets, &s.ntargets, def, PK_SITE_EXIT);
		rc = scan_funcs(&s, funcs, nfuncs);
	}
	if (rc == 0 && s.nsites)
		rc = pk_probe_table_build(t, funcs, s.sites, s.nsites);
	if (rc < 0)
		pk_errbuf_set(rc, err, errlen, "%s: %s", e->name, strerror(-rc));
	else if (s.nsites == 0 && s.skipped)
		rc = pk_errbuf_set(-ENOTSUP, err, errlen,
				   "%s calls " CP_ENTER "/exit only in ways coldpatch cannot "
				   "rewrite (%zu references)",
				   e->name, s.skipped);
	else if (s.nsites == 0 && pk_elf_section(e, PK_PATCHABLE_SECTION, &sh))
		rc = pk_errbuf_set(-ENOENT, err, errlen,
				   "%s needs no cold patch: it has " PK_PATCHABLE_SECTION
				   ", which `probe` uses directly",
				   e->name);
	else if (s.nsites == 0)
		rc = pk_errbuf_set(-ENOENT, err, errlen,
				   "%s has no calls to " CP_ENTER "/exit: build it with "
				   "-finstrument-functions",
				   e->name);
	t->pie = e->eh.e_type == ET_DYN;
	*skipped = s.skipped;
	free(s.sites);
	free(funcs);
	if (s.insn)
		cs_free(s.insn, 1);
	cs_close(&s.cs);
	return rc;
}

/* Writes len bytes at offset off of fd (all of them); 0 or -errno. */
static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n, len -= (size_t)n, off += n;
	}
	return 0;
}

/* Copies all of in_fd into out_fd; 0 or -errno. */
static int copy_file(int in_fd, int out_fd)
{
	uint8_t *buf = malloc(CP_COPY_CHUNK);
	off_t off = 0;
	int rc = buf ? 0 : -ENOMEM;

	while (rc == 0) {
		ssize_t n = pread(in_fd, buf, CP_COPY_CHUNK, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		rc = write_all(out_fd, buf, (size_t)n, off);
		off += n;
	}
	free(buf);
	return rc;
}

/* Runs objcopy to add the table file as section PK_TABLE_SECTION to bin (in place); 0 or
 * -errno with its first words of output in err. */
static int run_objcopy(const char *bin, const char *table, char *err, size_t errlen)
{
	char add[4200], flags[128], out[CP_OBJCOPY_ERR + 1];
	char *argv[] = { "objcopy", "--add-section", add, "--set-section-flags",
			 flags,	    (char *)bin,     NULL };
	posix_spawn_file_actions_t fa;
	size_t got = 0;
	int pipefd[2], status, rc;
	pid_t pid;

	if ((size_t)snprintf(add, sizeof(add), "%s=%s", PK_TABLE_SECTION, table) >= sizeof(add))
		return pk_errbuf_set(-ENAMETOOLONG, err, errlen, "%s: path too long", table);
	snprintf(flags, sizeof(flags), "%s=readonly", PK_TABLE_SECTION);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return pk_errbuf_set(-errno, err, errlen, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	rc = posix_spawnp(&pid, "objcopy", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		return pk_errbuf_set(-rc, err, errlen, "cannot run objcopy (binutils): %s",
				     strerror(rc));
	}
	for (;;) {
		char sink[512];
		ssize_t n = read(pipefd[0], got < CP_OBJCOPY_ERR ? out + got : sink,
				 got < CP_OBJCOPY_ERR ? CP_OBJCOPY_ERR - got : sizeof(sink));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < CP_OBJCOPY_ERR)
			got += (size_t)n;
	}
	close(pipefd[0]);
	out[got] = '\0';
	out[strcspn(out, "\n")] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return pk_errbuf_set(-errno, err, errlen, "objcopy: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return pk_errbuf_set(-EIO, err, errlen, "objcopy failed (status %d): %s",
				     WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				     got ? out : "no message");
	return 0;
}

/* Makes a temporary file "<out>.pk-XXXXXX" beside out; its fd or -errno, path in buf. */
static int temp_beside(const char *out, char *buf, size_t len)
{
	int fd;

	if ((size_t)snprintf(buf, len, "%s.pk-XXXXXX", out) >= len)
		return -ENAMETOOLONG;
	fd = mkostemp(buf, O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Writes the patched copy of in_fd (its sites turned into NOPs) with table t to out. */
static int coldpatch_write(const struct pk_elf *e, int in_fd, mode_t mode, const char *out,
			   const struct pk_probe_table *t, char *err, size_t errlen)
{
	char bin[4200], tab[4200];
	uint8_t *enc = NULL;
	size_t enclen;
	int bfd, tfd = -1, rc;

	bfd = temp_beside(out, bin, sizeof(bin));
	if (bfd < 0)
		return pk_errbuf_set(bfd, err, errlen, "%s: cannot create a file beside it: %s",
				     out, strerror(-bfd));
	rc = copy_file(in_fd, bfd);
	for (size_t i = 0; rc == 0 && i < t->nsites; i++) {
		uint64_t off;

		if (!pk_elf_bytes(e, t->sites[i].addr, t->sites[i].span, &off))
			rc = -EINVAL;
		else
			rc = write_all(bfd, t->sites[i].nop, t->sites[i].span, (off_t)off);
	}
	if (rc == 0)
		rc = pk_probe_table_encode(t, &enc, &enclen);
	if (rc == 0 && (tfd = temp_beside(out, tab, sizeof(tab))) < 0)
		rc = tfd;
	if (rc == 0)
		rc = write_all(tfd, enc, enclen, 0);
	if (close(bfd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		pk_errbuf_set(rc, err, errlen, "%s: writing %s: %s", e->name, out, strerror(-rc));
		goto undo_temps;
	}
	if ((rc = run_objcopy(bin, tab, err, errlen)) < 0)
		goto undo_temps;
	if (chmod(bin, mode) < 0 || rename(bin, out) < 0) {
		rc = pk_errbuf_set(-errno, err, errlen, "%s: %s", out, strerror(errno));
		goto undo_temps;
	}
	unlink(tab);
	close(tfd);
	free(enc);
	return 0;
undo_temps:
	unlink(bin);
	if (tfd >= 0) {
		unlink(tab);
		close(tfd);
	}
	free(enc);
	return rc;
}

int pk_coldpatch(const char *in, const char *out, struct pk_coldpatch_stats *st, char *err,
		 size_t errlen)
{
	struct pk_probe_table t = { 0 };
	struct pk_elf e;
	struct stat sb;
	size_t skipped = 0;
	int fd, rc;

	memset(st, 0, sizeof(*st));
	fd = open(in, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return pk_errbuf_set(rc, err, errlen, "%s: %s", in, strerror(-rc));
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return pk_errbuf_set(-EINVAL, err, errlen, "%s: not a regular file", in);
	}
	if ((rc = pk_elf_open(&e, fd, in, err, errlen)) < 0) {
		close(fd);
		return rc;
	}
	rc = coldpatch_scan(&e, &t, &skipped, err, errlen);
	if (rc == 0)
		rc = coldpatch_write(&e, fd, sb.st_mode & 07777, out, &t, err, errlen);
	if (rc == 0) {
		st->funcs = t.nfuncs;
		for (size_t i = 0; i < t.nsites; i++)
			t.sites[i].kind == PK_SITE_ENTRY ? st->entries++ : st->exits++;
		st->skipped = skipped;
	}
	pk_probe_table_release(&t);
	pk_elf_close(&e);
	close(fd);
	return rc;
}
