/* hook.c — attach mode: the library was loaded by dlopen into a live process (`parikshan trace
 * attach`, pk_inject_library), not preloaded, so the dynamic linker binds nobody's calls to its
 * wrappers.  The constructor binds them itself: in every loaded object it rewrites the GOT slots
 * of the wrapped symbols to point at the wrappers, and it hooks dlopen so that objects loaded
 * later get the same treatment.
 *
 *   object (dl_iterate_phdr)     PT_DYNAMIC -> DT_JMPREL/DT_PLTRELSZ  (R_*_JUMP_SLOT)
 *     skipped: this library,                 DT_RELA/DT_RELASZ      (R_*_GLOB_DAT)
 *     ld.so, libc, the vDSO                  DT_SYMTAB/DT_STRTAB    (the symbol's name)
 *   slot = base + r_offset  ->  &wrapper     (a page under PT_GNU_RELRO is made writable for
 *                                             the write and read-only again after)
 *
 * The wrappers' real functions come from the global scope (dlsym(RTLD_DEFAULT)): this library
 * is not in it, so the answer is libc's (or libssl's) function, never ours; RTLD_NEXT from a
 * dlopened RTLD_LOCAL object does not mean "the next one after us".
 *
 * Limits: calls that do not go through a GOT (a static binary, libc's internal calls, function
 * pointers taken before the attach, e.g. a table filled at start) are not seen; dlopen called
 * through the hook runs with this library as its caller, so a caller's DT_RUNPATH does not
 * apply to names without a '/'.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <spawn.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "lib_int.h"

#if defined(__x86_64__)
#define PK_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define PK_R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define PK_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define PK_R_GLOB_DAT R_AARCH64_GLOB_DAT
#else
#error "attach mode: unknown relocation types for this architecture"
#endif

ssize_t __read_chk(int fd, void *b, size_t n, size_t bl);
ssize_t __recv_chk(int fd, void *b, size_t n, size_t bl, int fl);
ssize_t __recvfrom_chk(int fd, void *b, size_t n, size_t bl, int fl, struct sockaddr *sa,
		       socklen_t *sl);
int fcntl64(int fd, int cmd, ...);
int close_range(unsigned first, unsigned last, int fl);
void closefrom(int low);
int execvpe(const char *file, char *const argv[], char *const envp[]);
int SSL_set_fd(void *ssl, int fd);
int SSL_read(void *ssl, void *buf, int num);
int SSL_write(void *ssl, const void *buf, int num);
int SSL_read_ex(void *ssl, void *buf, size_t num, size_t *done);
int SSL_write_ex(void *ssl, const void *buf, size_t num, size_t *done);
int SSL_do_handshake(void *ssl);
int SSL_connect(void *ssl);
int SSL_accept(void *ssl);

static void *hook_dlopen(const char *file, int mode);

/* Every symbol bound to a wrapper (the library is linked -Bsymbolic-functions: an address
 * taken here is this library's function, not the one the global scope would give). */
#define PK_HOOK(name)                                                                              \
	{                                                                                          \
#name, (void *)name                                                                \
	}
static const struct {
	const char *name;
	void *fn;
} hooks[] = {
	PK_HOOK(accept),
	PK_HOOK(accept4),
	PK_HOOK(connect),
	PK_HOOK(read),
	PK_HOOK(recv),
	PK_HOOK(recvfrom),
	PK_HOOK(recvmsg),
	PK_HOOK(readv),
	PK_HOOK(__read_chk),
	PK_HOOK(__recv_chk),
	PK_HOOK(__recvfrom_chk),
	PK_HOOK(write),
	PK_HOOK(send),
	PK_HOOK(sendto),
	PK_HOOK(sendmsg),
	PK_HOOK(writev),
	PK_HOOK(sendfile),
	PK_HOOK(sendfile64),
	PK_HOOK(socket),
	PK_HOOK(close),
	PK_HOOK(close_range),
	PK_HOOK(closefrom),
	PK_HOOK(shutdown),
	PK_HOOK(dup),
	PK_HOOK(dup2),
	PK_HOOK(dup3),
	PK_HOOK(fcntl),
	PK_HOOK(fcntl64),
	PK_HOOK(fork),
	PK_HOOK(vfork),
	PK_HOOK(execve),
	PK_HOOK(execv),
	PK_HOOK(execvp),
	PK_HOOK(execvpe),
	PK_HOOK(execl),
	PK_HOOK(execlp),
	PK_HOOK(execle),
	PK_HOOK(posix_spawn),
	PK_HOOK(posix_spawnp),
	PK_HOOK(SSL_set_fd),
	PK_HOOK(SSL_read),
	PK_HOOK(SSL_write),
	PK_HOOK(SSL_read_ex),
	PK_HOOK(SSL_write_ex),
	PK_HOOK(SSL_do_handshake),
	PK_HOOK(SSL_connect),
	PK_HOOK(SSL_accept),
	PK_HOOK(sendmmsg),
	PK_HOOK(recvmmsg),
	{ "dlopen", (void *)hook_dlopen },
};
#define PK_NHOOKS (sizeof(hooks) / sizeof(hooks[0]))

static bool g_attached;
static ElfW(Addr) g_self_base; /* this library's load bias */
static void *g_self_lo, *g_self_hi;
static _Atomic int g_patch_lock;
static ElfW(Addr) g_page = 4096; /* the page size (pk_hook_detect) */

bool pk_hook_attached(void)
{
	return g_attached;
}

/* P lies inside this library's mappings. */
static bool is_self(const void *p)
{
	return p >= g_self_lo && p < g_self_hi;
}

void *pk_hook_real(const char *name)
{
	void *p = dlsym(RTLD_DEFAULT, name);

	/* not in the global scope: the lookup went on into our own local scope */
	return p && !is_self(p) ? p : NULL;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Objects whose slots stay as they are: the dynamic linker, libc (its calls of its own
 * functions are internal anyway), the vDSO, and this library. */
static bool skip_object(const struct dl_phdr_info *info)
{
	const char *b = base_name(info->dlpi_name ? info->dlpi_name : "");

	return info->dlpi_addr == g_self_base || strncmp(b, "ld-linux", 8) == 0 ||
	       strncmp(b, "ld64.so", 7) == 0 || strncmp(b, "libc.so", 7) == 0 ||
	       strncmp(b, "linux-vdso", 10) == 0 || strncmp(b, "linux-gate", 10) == 0;
}

static void *hook_for(const char *name)
{
	for (size_t i = 0; i < PK_NHOOKS; i++)
		if (strcmp(hooks[i].name, name) == 0)
			return hooks[i].fn;
	return NULL;
}

/* A dynamic entry's address: glibc relocates them in place, except where the section is
 * read-only (then they are still offsets from the base). */
static ElfW(Addr) dyn_addr(ElfW(Addr) base, ElfW(Addr) v)
{
	return v < base ? v + base : v;
}

struct pk_obj {
	ElfW(Addr) base;
	ElfW(Addr) relro_lo, relro_hi;
	const ElfW(Sym) * symtab;
	const char *strtab;
};

/* Points the slot of relocation R at its wrapper (when R names a wrapped symbol). */
static void patch_rel(const struct pk_obj *o, const ElfW(Rela) * r)
{
	unsigned long type = ELF64_R_TYPE(r->r_info), sym = ELF64_R_SYM(r->r_info);
	ElfW(Addr) slot = o->base + r->r_offset;
	void *fn, *pg;
	bool ro;

	/* only what the object takes from elsewhere: a function of the same name that it defines
	 * itself (a program's own `send`) is not libc's and stays as it is */
	if ((type != PK_R_JUMP_SLOT && type != PK_R_GLOB_DAT) || !sym ||
	    o->symtab[sym].st_shndx != SHN_UNDEF)
		return;
	fn = hook_for(o->strtab + o->symtab[sym].st_name);
	if (!fn || *(void *volatile *)slot == fn)
		return;
	ro = slot >= o->relro_lo && slot < o->relro_hi;
	pg = (void *)(slot & ~(g_page - 1));
	if (ro && mprotect(pg, g_page, PROT_READ | PROT_WRITE) != 0)
		return;
	__atomic_store_n((void **)slot, fn, __ATOMIC_RELEASE);
	if (ro)
		mprotect(pg, g_page, PROT_READ);
}

static int patch_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	const ElfW(Dyn) *dyn = NULL;
	const ElfW(Rela) *jmprel = NULL, *rela = NULL;
	size_t pltsz = 0, relasz = 0;
	struct pk_obj o = { .base = info->dlpi_addr };

	(void)size;
	(void)arg;
	if (skip_object(info))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(o.base + ph->p_vaddr);
		else if (ph->p_type == PT_GNU_RELRO) {
			/* ld.so protects the whole pages only: a last partial page stays
			 * writable, and must stay so */
			o.relro_lo = (o.base + ph->p_vaddr) & ~(g_page - 1);
			o.relro_hi = (o.base + ph->p_vaddr + ph->p_memsz) & ~(g_page - 1);
		}
	}
	if (!dyn)
		return 0;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_JMPREL:
			jmprel = (const ElfW(Rela) *)dyn_addr(o.base, dyn->d_un.d_ptr);
			break;
		case DT_PLTRELSZ:
			pltsz = dyn->d_un.d_val;
			break;
		case DT_RELA:
			rela = (const ElfW(Rela) *)dyn_addr(o.base, dyn->d_un.d_ptr);
			break;
		case DT_RELASZ:
			relasz = dyn->d_un.d_val;
			break;
		case DT_SYMTAB:
			o.symtab = (const ElfW(Sym) *)dyn_addr(o.base, dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			o.strtab = (const char *)dyn_addr(o.base, dyn->d_un.d_ptr);
			break;
		default:
			break;
		}
	}
	if (!o.symtab || !o.strtab)
		return 0;
	for (size_t i = 0; jmprel && i < pltsz / sizeof(*jmprel); i++)
		patch_rel(&o, &jmprel[i]);
	for (size_t i = 0; rela && i < relasz / sizeof(*rela); i++)
		patch_rel(&o, &rela[i]);
	return 0;
}

/* Binds every loaded object's slots to the wrappers (once at a time: dlopen may race). */
static void patch_all(void)
{
	int zero = 0;

	while (!atomic_compare_exchange_weak(&g_patch_lock, &zero, 1))
		zero = 0;
	dl_iterate_phdr(patch_object, NULL);
	atomic_store(&g_patch_lock, 0);
}

static void *hook_dlopen(const char *file, int mode)
{
	static void *(*real_fn)(const char *, int);
	void *h;

	if (!real_fn)
		real_fn = (void *(*)(const char *, int))pk_hook_real("dlopen");
	if (!real_fn)
		return NULL;
	h = real_fn(file, mode);
	if (h && g_attached) {
		pk_tl_enter();
		patch_all();
		pk_tl_leave();
	}
	return h;
}

bool pk_hook_detect(void)
{
	Dl_info info;
	struct link_map *lm = NULL;
	void *p;

	if (!dladdr1((void *)pk_hook_detect, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return false;
	if (sysconf(_SC_PAGESIZE) > 0)
		g_page = (ElfW(Addr))sysconf(_SC_PAGESIZE);
	g_self_base = lm->l_addr;
	g_self_lo = info.dli_fbase;
	g_self_hi = (char *)info.dli_fbase;
	{
		/* the end of our mappings: the highest PT_LOAD */
		const ElfW(Ehdr) *eh = info.dli_fbase;
		const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);

		for (int i = 0; i < eh->e_phnum; i++)
			if (ph[i].p_type == PT_LOAD && (char *)(lm->l_addr + ph[i].p_vaddr +
								ph[i].p_memsz) > (char *)g_self_hi)
				g_self_hi = (char *)(lm->l_addr + ph[i].p_vaddr + ph[i].p_memsz);
	}
	/* preloaded: the global scope's connect is ours */
	p = dlsym(RTLD_DEFAULT, "connect");
	g_attached = p && !is_self(p);
	return g_attached;
}

void pk_hook_install(void)
{
	if (g_attached)
		patch_all();
}
