/* patch.c — libiprobe's text patcher: switches one site between its NOP and a call to a stub,
 * inside the running process, without stopping its threads.
 *
 * Every site gets its own stub, within ±2 GiB of it (a call rel32 must reach), in a region
 * mapped next to the site's module.  A stub never changes once written and is never freed, so a
 * thread inside it when its site is switched off finishes normally.
 *
 *   call site (off: 0f 1f 44 00 00)      stub of a call site (32 bytes)
 *   e8 <rel32 to stub>  ─────────────▶   be <probe:4>           mov  esi, probe
 *                                        ff 25 00 00 00 00      jmp  [rip]
 *                                        <pk_iprobe_call_hit:8>
 *
 * The 5 bytes are switched with one store when an 8-byte window that holds them lies within a
 * cache line (x86 makes such a store atomic: a thread fetches either the old or the new
 * instruction, both whole).  Otherwise XRay's order: a 2-byte `jmp +3` first (threads now skip
 * the site), then the tail bytes (unreachable), then the first 2 bytes in one store.  A site
 * whose first 2 bytes straddle a cache line, and a patchable entry being switched on (five
 * 1-byte NOPs: a thread may have stopped between two of them), cannot be switched this way:
 * pk_lib_patch leaves them at -EAGAIN with the stub ready, and pk_lib_patch_deferred switches
 * them at the end of the batch, no thread stopped: an entry's NOPs are made one instruction
 * (66 66 66 66 90) and every running thread moves itself past them in a signal handler (the
 * sweep, trap.c), then the site is switched as above; a site straddling a cache line gets an
 * int3 first (trap.c's SIGTRAP handler moves a thread that reaches it).  When that cannot be
 * done (a running thread blocks the sweep's signal, or PK_IPROBE_PTRACE_ONLY=1), they stay
 * -EAGAIN and the tool writes them through ptrace (poke.c: an int3 first, then each thread's
 * PC checked, one thread stopped at a time).  Switched off, an entry is one call instruction again:
 * written here like a call site.  After a batch, membarrier(SYNC_CORE) makes every core see the new
 * bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "probe/lib/lib_int.h"

#define STUB_SIZE 64
#define REGION_SIZE (1u << 20)
#define MAX_REGIONS 64
#define REACH (1ll << 31)
#define LINE 64
#define SWEEP_TIMEOUT_NS 2000000000ull /* for every thread to handle the sweep's signal */

struct region {
	uint8_t *base;
	size_t used;
};

/* Where each site's stub is: open addressing on the site address. */
struct stub_slot {
	uint64_t site;
	uint64_t stub;
	uint32_t probe;
	uint8_t how;
	uint8_t nop[5]; /* the site's bytes when off */
};

static struct region regions[MAX_REGIONS];
static size_t nregions;
static struct stub_slot *slots;
static size_t nslots, cap_slots;

static bool reaches(uint64_t from_next, uint64_t to)
{
	int64_t d = (int64_t)(to - from_next);

	return d > -REACH + LINE && d < REACH - LINE;
}

/* Maps a new stub region within reach of site: tries hints below and above it. */
static struct region *region_new(uint64_t site)
{
	if (nregions == MAX_REGIONS)
		return NULL;
	for (int64_t step = 1; step < 1024; step++) {
		for (int dir = -1; dir <= 1; dir += 2) {
			uint64_t hint = (site & ~(uint64_t)(REGION_SIZE - 1)) +
					(uint64_t)(dir * step * (int64_t)(REGION_SIZE * 4));
			void *p = mmap((void *)hint, REGION_SIZE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

			if (p == MAP_FAILED)
				continue;
			if (!reaches(site + 5, (uint64_t)p) ||
			    !reaches(site + 5, (uint64_t)p + REGION_SIZE)) {
				munmap(p, REGION_SIZE);
				continue;
			}
			regions[nregions] = (struct region){ .base = p, .used = 0 };
			return &regions[nregions++];
		}
	}
	return NULL;
}

/* A free stub slot within reach of site; NULL with errno set. */
static uint8_t *stub_alloc(uint64_t site)
{
	struct region *g = NULL;

	for (size_t i = 0; i < nregions && !g; i++)
		if (regions[i].used + STUB_SIZE <= REGION_SIZE &&
		    reaches(site + 5, (uint64_t)regions[i].base) &&
		    reaches(site + 5, (uint64_t)regions[i].base + REGION_SIZE))
			g = &regions[i];
	if (!g)
		g = region_new(site);
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	g->used += STUB_SIZE;
	return g->base + g->used - STUB_SIZE;
}

/* Writes the stub's code for (probe, how) at p (in a region: writable only meanwhile). */
static int stub_write(uint8_t *p, uint32_t probe, uint8_t how)
{
	static const uint8_t entry_pre[] = {
		0x57, 0x56, 0x52, 0x51, 0x50,	    /* push rdi, rsi, rdx, rcx, rax */
		0x41, 0x50, 0x41, 0x51, 0x41, 0x52, /* push r8, r9, r10 */
		0x41, 0x53, 0x48, 0x83, 0xec, 0x08, /* push r11; sub rsp, 8 */
	};
	static const uint8_t entry_post[] = {
		0x48, 0x83, 0xc4, 0x08, 0x41, 0x5b, /* add rsp, 8; pop r11 */
		0x41, 0x5a, 0x41, 0x59, 0x41, 0x58, /* pop r10, r9, r8 */
		0x58, 0x59, 0x5a, 0x5e, 0x5f, 0xc3, /* pop rax, rcx, rdx, rsi, rdi; ret */
	};
	uint8_t code[STUB_SIZE];
	size_t n = 0;
	uint64_t target;
	uint8_t *base = (uint8_t *)((uintptr_t)p & ~(uintptr_t)(getpagesize() - 1));

	memset(code, 0xcc, sizeof(code));
	if (how == PK_IPROBE_HOW_CALL || how == PK_IPROBE_HOW_TAIL) {
		target = (uint64_t)(uintptr_t)&pk_iprobe_call_hit;
		code[n++] = 0xbe; /* mov esi, imm32 */
		memcpy(code + n, &probe, 4);
		n += 4;
		code[n++] = 0xff; /* jmp [rip+0] */
		code[n++] = 0x25;
		memset(code + n, 0, 4);
		n += 4;
		memcpy(code + n, &target, 8);
	} else if (how == PK_IPROBE_HOW_ENTRY) {
		int32_t disp;

		target = (uint64_t)(uintptr_t)&pk_iprobe_entry_hit;
		memcpy(code, entry_pre, sizeof(entry_pre));
		n = sizeof(entry_pre);
		code[n++] = 0xbf; /* mov edi, imm32 */
		memcpy(code + n, &probe, 4);
		n += 4;
		code[n++] = 0xff; /* call [rip+disp] -> the address at offset 56 */
		code[n++] = 0x15;
		disp = (int32_t)(56 - (n + 4));
		memcpy(code + n, &disp, 4);
		n += 4;
		memcpy(code + n, entry_post, sizeof(entry_post));
		n += sizeof(entry_post);
		if (n > 56)
			return -EOVERFLOW;
		memcpy(code + 56, &target, 8);
	} else {
		return -EINVAL;
	}
	/* the page keeps PROT_EXEC meanwhile: other stubs on it may be running */
	if (mprotect(base, (size_t)getpagesize(), PROT_READ | PROT_WRITE | PROT_EXEC))
		return -errno;
	memcpy(p, code, sizeof(code));
	if (mprotect(base, (size_t)getpagesize(), PROT_READ | PROT_EXEC))
		return -errno;
	return 0;
}

static struct stub_slot *slot_find(uint64_t site)
{
	if (!cap_slots)
		return NULL;
	for (size_t i = (site * 0x9e3779b97f4a7c15ull) & (cap_slots - 1);;
	     i = (i + 1) & (cap_slots - 1)) {
		if (slots[i].site == site)
			return &slots[i];
		if (!slots[i].site)
			return NULL;
	}
}

static int slot_add(const struct stub_slot *add)
{
	if ((nslots + 1) * 2 > cap_slots) {
		size_t ncap = cap_slots ? cap_slots * 2 : 1024;
		struct stub_slot *old = slots, *nw = calloc(ncap, sizeof(*nw));
		size_t oldcap = cap_slots;

		if (!nw)
			return -ENOMEM;
		slots = nw;
		cap_slots = ncap;
		nslots = 0;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].site)
				slot_add(&old[i]);
		free(old);
	}
	for (size_t i = (add->site * 0x9e3779b97f4a7c15ull) & (cap_slots - 1);;
	     i = (i + 1) & (cap_slots - 1)) {
		if (!slots[i].site || slots[i].site == add->site) {
			nslots += !slots[i].site;
			slots[i] = *add;
			return 0;
		}
	}
}

/* The stub of the request's site for its probe (made if needed); 0 with errno set on failure. */
static uint64_t stub_get(const struct pk_iprobe_req *req)
{
	struct stub_slot *sl = slot_find(req->site), add;
	uint8_t *p;
	int rc;

	if (sl && sl->probe == req->probe)
		return sl->stub;
	p = stub_alloc(req->site);
	if (!p)
		return 0;
	add = (struct stub_slot){ .site = req->site,
				  .stub = (uint64_t)(uintptr_t)p,
				  .probe = req->probe,
				  .how = req->how };
	memcpy(add.nop, req->nop, sizeof(add.nop));
	rc = stub_write(p, req->probe, req->how);
	if (!rc)
		rc = slot_add(&add);
	if (rc) {
		errno = -rc;
		return 0;
	}
	return (uint64_t)(uintptr_t)p;
}

/* The executable mappings of the process, read from /proc/self/maps once per batch (reading
 * the file for each site made switching 10,000 sites take seconds).  Ascending, as the file
 * lists them. */
struct xrange {
	uint64_t lo, hi;
	int prot;
};

static struct xrange *xr;
static size_t nxr, cap_xr;
static bool xr_valid;

void pk_lib_patch_begin(void)
{
	xr_valid = false;
}

/* Reads the executable mappings into xr; 0 or -errno. */
static int xr_load(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -errno;
	nxr = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perm[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) != 3 || perm[2] != 'x')
			continue;
		if (nxr == cap_xr) {
			size_t ncap = cap_xr ? cap_xr * 2 : 64;
			struct xrange *nw = realloc(xr, ncap * sizeof(*nw));

			if (!nw) {
				fclose(f);
				return -ENOMEM;
			}
			xr = nw;
			cap_xr = ncap;
		}
		xr[nxr++] = (struct xrange){ lo, hi, (perm[0] == 'r' ? PROT_READ : 0) | PROT_EXEC };
	}
	fclose(f);
	xr_valid = true;
	return 0;
}

/* The protection of the page holding addr: PROT_* or -errno (-EFAULT when it is not mapped
 * executable). */
static int page_prot(uint64_t addr)
{
	size_t lo = 0, hi;
	int rc;

	if (!xr_valid && (rc = xr_load()) < 0)
		return rc;
	hi = nxr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < xr[mid].lo)
			hi = mid;
		else if (addr >= xr[mid].hi)
			lo = mid + 1;
		else
			return xr[mid].prot;
	}
	return -EFAULT;
}

/* x86 stores within one cache line are atomic: 8 bytes at p (any alignment inside the line). */
static void store8(uint8_t *p, uint64_t v)
{
	__asm__ volatile("movq %1, %0" : "=m"(*(uint64_t *)p) : "r"(v) : "memory");
}

static void store2(uint8_t *p, uint16_t v)
{
	__asm__ volatile("movw %1, %0" : "=m"(*(uint16_t *)p) : "r"(v) : "memory");
}

static bool same_line(uint64_t a, size_t n)
{
	return a / LINE == (a + n - 1) / LINE;
}

/* Makes the page(s) holding the 5 bytes at a writable, keeping prot's other bits (PROT_EXEC:
 * other threads may be running there); *page and *plen are for text_close.  0 or -errno
 * (-EFAULT: the 5 bytes span two pages of different protections). */
static int text_open(uint64_t a, int prot, uint8_t **page, size_t *plen)
{
	size_t pg = (size_t)getpagesize();

	*page = (uint8_t *)(uintptr_t)(a & ~(uint64_t)(pg - 1));
	*plen = a + 5 - (uint64_t)(uintptr_t)*page > pg ? 2 * pg : pg;
	if (*plen > pg && page_prot(a + 5 - 1) != prot)
		return -EFAULT;
	return mprotect(*page, *plen, prot | PROT_WRITE) ? -errno : 0;
}

/* Gives the page(s) of text_open their protection prot back; rc, or -errno when that fails. */
static int text_close(uint8_t *page, size_t plen, int prot, int rc)
{
	if (mprotect(page, plen, prot))
		rc = rc ? rc : -errno;
	return rc;
}

/* Replaces the 5 bytes at site with new5 so that no thread ever fetches a mix; -EAGAIN when
 * that cannot be done with stores alone (pk_lib_patch_deferred then does it).  The page is
 * writable meanwhile. */
static int text_write5(uint8_t *site, const uint8_t new5[5], int prot)
{
	uint64_t a = (uint64_t)(uintptr_t)site, w = 0;
	uint8_t *page;
	size_t plen;
	bool one = false;
	int rc;

	/* an 8-byte window [w, w+8) holding the site, inside one cache line */
	for (uint64_t cand = a + 5 >= 8 ? a - 3 : 0; cand <= a; cand++)
		if (same_line(cand, 8)) {
			w = cand;
			one = true;
			break;
		}
	if (!one && !same_line(a, 2))
		return -EAGAIN;
	if ((rc = text_open(a, prot, &page, &plen)))
		return rc;
	if (one) {
		uint8_t buf[8];

		memcpy(buf, (void *)(uintptr_t)w, 8);
		memcpy(buf + (a - w), new5, 5);
		store8((uint8_t *)(uintptr_t)w, *(uint64_t *)buf);
	} else {
		uint8_t jmp[2] = { 0xeb, 0x03 };

		store2(site, *(uint16_t *)jmp);
		rc = pk_lib_sync_cores();
		memcpy(site + 2, new5 + 2, 3);
		if (!rc)
			rc = pk_lib_sync_cores();
		store2(site, *(const uint16_t *)new5);
	}
	return text_close(page, plen, prot, rc);
}

/* The call rel32 (a tail site: jmp rel32) from site to stub. */
static void call_bytes(uint8_t out[5], uint64_t site, uint64_t stub, uint8_t how)
{
	int32_t rel = (int32_t)(int64_t)(stub - (site + 5));

	out[0] = how == PK_IPROBE_HOW_TAIL ? 0xe9 : 0xe8;
	memcpy(out + 1, &rel, 4);
}

/* Switches a tail site: its first byte is a ret while off, so the other 4 are never reached
 * while it is: on, they are written first and the jmp's opcode last; off, the ret first.  One
 * byte stores: no thread ever fetches a mix, and no thread needs to be stopped. */
static int tail_write5(uint8_t *site, const uint8_t new5[5], int prot)
{
	volatile uint8_t *op = site;
	uint8_t *page;
	size_t plen;
	int rc;

	if ((rc = text_open((uint64_t)(uintptr_t)site, prot, &page, &plen)))
		return rc;
	if (new5[0] == 0xc3) {
		*op = 0xc3;
		rc = pk_lib_sync_cores();
		memcpy(site + 1, new5 + 1, 4);
	} else {
		memcpy(site + 1, new5 + 1, 4);
		rc = pk_lib_sync_cores();
		*op = new5[0];
	}
	return text_close(page, plen, prot, rc);
}

/* Writes the 5 bytes of a site of kind how (text_write5 or tail_write5). */
static int site_write(uint8_t *site, const uint8_t new5[5], int prot, uint8_t how)
{
	return how == PK_IPROBE_HOW_TAIL ? tail_write5(site, new5, prot)
					 : text_write5(site, new5, prot);
}

/* The stub that the call at site leads to, when site holds a call into one of our regions;
 * 0 otherwise. */
static uint64_t called_stub(const uint8_t *site)
{
	int32_t rel;
	uint64_t to;

	if (site[0] != 0xe8 && site[0] != 0xe9)
		return 0;
	memcpy(&rel, site + 1, 4);
	to = (uint64_t)(uintptr_t)site + 5 + (uint64_t)(int64_t)rel;
	for (size_t i = 0; i < nregions; i++)
		if (to >= (uint64_t)(uintptr_t)regions[i].base &&
		    to < (uint64_t)(uintptr_t)regions[i].base + regions[i].used)
			return to;
	return 0;
}

int pk_lib_patch(struct pk_iprobe_req *req)
{
	uint8_t *site = (uint8_t *)(uintptr_t)req->site;
	uint8_t want[5];
	uint64_t stub;
	int prot;

	if (req->len != 5 || (req->how != PK_IPROBE_HOW_CALL && req->how != PK_IPROBE_HOW_ENTRY &&
			      req->how != PK_IPROBE_HOW_TAIL))
		return -EINVAL;
	prot = page_prot(req->site);
	if (prot < 0)
		return prot;
	if (req->op == PK_IPROBE_OP_ENABLE) {
		stub = stub_get(req);
		if (!stub)
			return -errno;
		req->stub = stub;
		call_bytes(want, req->site, stub, req->how);
		if (!memcmp(site, want, 5))
			return PK_IPROBE_ALREADY;
		if (memcmp(site, req->nop, 5))
			return -EILSEQ;
	} else if (req->op == PK_IPROBE_OP_DISABLE) {
		memcpy(want, req->nop, 5);
		if (!memcmp(site, want, 5))
			return PK_IPROBE_ALREADY;
		req->stub = called_stub(site);
		if (!req->stub)
			return -EILSEQ;
	} else {
		return -EINVAL;
	}
	/* switching a patchable entry on: a thread may stand between two of its NOPs; off, the
	 * bytes are one call, and no thread stands inside an instruction */
	if (req->how == PK_IPROBE_HOW_ENTRY && req->op == PK_IPROBE_OP_ENABLE)
		return -EAGAIN;
	return site_write(site, want, prot, req->how);
}

/* Writes len bytes at site + off, one at a time (the caller knows that no thread can fetch a
 * harmful mix: an int3 of ours stands before them, they are one byte, or every mix is NOPs);
 * 0 or -errno. */
static int text_put(uint64_t site, int prot, size_t off, const uint8_t *b, size_t len)
{
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(site + off);
	uint8_t *page;
	size_t plen;
	int rc = text_open(site, prot, &page, &plen);

	if (rc)
		return rc;
	for (size_t i = 0; i < len; i++)
		p[i] = b[i];
	return text_close(page, plen, prot, 0);
}

static const uint8_t nop_run[5] = { 0x90, 0x90, 0x90, 0x90, 0x90 };

/* Makes a patchable entry's five 1-byte NOPs at site one 5-byte NOP (66 66 66 66 90: prefixes
 * added to the last), or back (merge false): a byte at a time, since every mix of 66 and 90
 * before the last 90, read from any of its bytes, is NOPs that end at the site's end.  0 or
 * -errno. */
static int entry_merge(uint64_t site, int prot, bool merge)
{
	static const uint8_t prefixes[4] = { 0x66, 0x66, 0x66, 0x66 };

	return text_put(site, prot, 0, merge ? prefixes : nop_run, 4);
}

/* One site of pk_lib_patch_deferred. */
struct deferred {
	struct pk_iprobe_req *req;
	int prot;
	bool merged;	 /* an entry made one NOP: swept before it is switched */
	uint8_t want[5]; /* its bytes after */
};

/* The int3 bracket for the n sites of d whose first 2 bytes straddle a cache line (the 5 bytes
 * are one instruction: no thread is inside): an int3 first, the other 4 bytes, the first. */
static void int3_bracket(struct deferred *d, size_t n)
{
	const uint8_t cc = 0xcc;
	uint64_t *sites = calloc(n ? n : 1, sizeof(*sites));
	size_t m = 0;

	for (size_t k = 0; sites && k < n; k++)
		if (d[k].req && d[k].req->result == -EAGAIN)
			sites[m++] = d[k].req->site;
	if (!m || pk_lib_trap_ready() || pk_lib_trap_add(sites, m)) {
		free(sites);
		return;
	}
	free(sites);
	for (size_t k = 0; k < n; k++)
		if (d[k].req && d[k].req->result == -EAGAIN &&
		    text_put(d[k].req->site, d[k].prot, 0, &cc, 1))
			d[k].req->result = -EFAULT;
	pk_lib_sync_cores();
	for (size_t k = 0; k < n; k++)
		if (d[k].req && d[k].req->result == -EAGAIN)
			text_put(d[k].req->site, d[k].prot, 1, d[k].want + 1, 4);
	pk_lib_sync_cores();
	for (size_t k = 0; k < n; k++)
		if (d[k].req && d[k].req->result == -EAGAIN)
			d[k].req->result = text_put(d[k].req->site, d[k].prot, 0, d[k].want, 1)
						   ?: PK_IPROBE_DEFERRED;
}

void pk_lib_patch_deferred(struct pk_iprobe_req *req, uint32_t n)
{
	static int off = -1;
	struct deferred *d = NULL;
	uint64_t *entries = NULL;
	size_t m = 0, ne = 0, k;
	uint32_t i = 0;

	while (i < n && req[i].result != -EAGAIN)
		i++;
	if (i == n) /* the common batch: nothing deferred */
		return;
	if (off < 0) /* PK_IPROBE_PTRACE_ONLY=1: always the tool's ptrace fallback (tests) */
		off = getenv("PK_IPROBE_PTRACE_ONLY") &&
		      !strcmp(getenv("PK_IPROBE_PTRACE_ONLY"), "1");
	d = calloc(n, sizeof(*d));
	entries = calloc(n, sizeof(*entries));
	if (!d || !entries || off)
		goto out;
	for (; i < n; i++) {
		struct pk_iprobe_req *r = &req[i];

		if (r->result != -EAGAIN || (d[m].prot = page_prot(r->site)) < 0)
			continue;
		d[m].req = r;
		if (r->op == PK_IPROBE_OP_ENABLE)
			call_bytes(d[m].want, r->site, r->stub, r->how);
		else
			memcpy(d[m].want, r->nop, 5);
		/* 1. an entry's NOPs made one instruction */
		if (r->how == PK_IPROBE_HOW_ENTRY && r->op == PK_IPROBE_OP_ENABLE) {
			if (memcmp(r->nop, nop_run, 5) || entry_merge(r->site, d[m].prot, true))
				continue; /* left to the tool */
			d[m].merged = true;
			entries[ne++] = r->site;
		}
		m++;
	}
	/* 2. the merges seen by every core, then no thread left inside a merged entry; else the
	 * entries back as they were */
	if (ne) {
		pk_lib_sync_cores();
		if (pk_lib_sweep(entries, ne, SWEEP_TIMEOUT_NS)) {
			for (k = 0; k < m; k++)
				if (d[k].merged) {
					entry_merge(d[k].req->site, d[k].prot, false);
					d[k].req = NULL;
				}
			pk_lib_sync_cores();
		}
	}
	/* 3. every site is one instruction now: switched with stores, or an int3 first */
	for (k = 0; k < m; k++)
		if (d[k].req) {
			int rc = text_write5((uint8_t *)(uintptr_t)d[k].req->site, d[k].want,
					     d[k].prot);

			if (rc != -EAGAIN)
				d[k].req->result = rc ?: PK_IPROBE_DEFERRED;
		}
	int3_bracket(d, m);
out:
	free(d);
	free(entries);
}

int pk_lib_autooff(uint32_t id)
{
	struct pk_iprobe_shm *s = pk_lib_shm;
	struct pk_iprobe_probe *p = (struct pk_iprobe_probe *)((char *)s + s->probes_off) + id;
	int first = 0;

	pk_lib_patch_begin();
	__atomic_or_fetch(&p->flags, PK_IPROBE_F_AUTOOFF, __ATOMIC_RELEASE);
	for (size_t i = 0; i < cap_slots; i++) {
		struct stub_slot *sl = &slots[i];
		uint8_t *site = (uint8_t *)(uintptr_t)sl->site;
		int prot, rc;

		if (!sl->site || sl->probe >> 1 != id || called_stub(site) != sl->stub)
			continue;
		prot = page_prot(sl->site);
		rc = prot < 0 ? prot : site_write(site, sl->nop, prot, sl->how);
		if (rc && !first)
			first = rc; /* -EAGAIN: a site straddling a cache line stays on */
	}
	__atomic_and_fetch(&p->flags, ~(uint32_t)PK_IPROBE_F_ON, __ATOMIC_RELEASE);
	return first;
}

int pk_lib_sync_init(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0))
		return -errno;
	return 0;
}

int pk_lib_sync_cores(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0))
		return -errno;
	return 0;
}
