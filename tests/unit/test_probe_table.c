/* test_probe_table.c — the cold patch and the probe table on real binaries, compiled here with
 * `cc` into a temporary directory: -finstrument-functions as PIE, non-PIE, -fno-plt, with CET
 * (.plt.sec), as a shared library, with the program's own hooks; -fpatchable-function-entry
 * (at the entry, and before it); stripped, plain and non-ELF files.  Each cold-patched program
 * must keep no call to the hooks, hold the recorded NOPs at every site, load back the same
 * table, and still run with the same output.  Then the parser's rejections. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe/probe_int.h"
#include "probe/table.h"
#include "unit.h"

static char dir[] = "/tmp/pk-test-probe-XXXXXX";

/* Four instrumented functions, one entry and one exit call each; deterministic output. */
static const char prog_src[] = "#include <stdio.h>\n"
			       "#define KEEP __attribute__((noinline, noclone))\n"
			       "KEEP static int sq(int x) { return x * x; }\n"
			       "KEEP int add(int a, int b) { return a + b; }\n"
			       "KEEP int mix(int a) { return add(a, sq(a)) ^ 5; }\n"
			       "#ifndef NO_MAIN\n"
			       "#ifdef OWN_HOOKS\n"
			       "static volatile int hooks;\n"
			       "__attribute__((no_instrument_function, noinline)) void "
			       "__cyg_profile_func_enter(void *f, void *c)\n"
			       "{ (void)f; (void)c; hooks++; }\n"
			       "__attribute__((no_instrument_function, noinline)) void "
			       "__cyg_profile_func_exit(void *f, void *c)\n"
			       "{ (void)f; (void)c; hooks++; }\n"
			       "#define HOOKS hooks\n"
			       "#else\n"
			       "#define HOOKS 0\n"
			       "#endif\n"
			       "int main(void)\n"
			       "{\n"
			       "	int s = 0;\n"
			       "	for (int i = 0; i < 10; i++)\n"
			       "		s = add(s, mix(i));\n"
			       "	printf(\"sum %d hooks %d\\n\", s, HOOKS);\n"
			       "	return s & 0x7f;\n"
			       "}\n"
			       "#endif\n";

static const char app_src[] =
	"#include <stdio.h>\n"
	"int mix(int a);\n"
	"int main(void) { printf(\"%d\\n\", mix(7)); return mix(3) & 0x7f; }\n";

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static int write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	path_of(path, sizeof(path), name);
	f = fopen(path, "we");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Runs a shell command line in dir; its exit status (-1 when it did not exit). */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	snprintf(cmd, sizeof(cmd), "cd %s && ", dir);
	va_start(ap, fmt);
	vsnprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Builds prog.c (or lib.c) with flags into name; 0 on success. */
static int build(const char *flags, const char *name)
{
	return run("cc -O1 -w %s -o %s prog.c 2>/dev/null", flags, name);
}

/* Runs program name; its output into out, its exit status returned. */
static int execute(const char *name, char *out, size_t len)
{
	char cmd[512];
	size_t n;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/%s", dir, name);
	p = popen(cmd, "re");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The lines of `objdump -d` of name that call a __cyg_profile_func_ hook. */
static int hook_calls(const char *name)
{
	char cmd[512], line[512];
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "objdump -d %s/%s", dir, name);
	p = popen(cmd, "re");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (strstr(line, "call") && strstr(line, "__cyg_profile_func_"))
			n++;
	return pclose(p) == 0 ? n : -1;
}

/* The index of function name in t, or -1. */
static long func_index(const struct pk_probe_table *t, const char *name)
{
	for (size_t i = 0; i < t->nfuncs; i++)
		if (strcmp(t->funcs[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Checks that t has one entry and one exit site in each of the functions named (and no
 * other), all of `how` and `span`. */
static void check_sites(const struct pk_probe_table *t, const char *const *names, size_t n, int how,
			int span, bool exits)
{
	CHECK_EQ_INT(t->nfuncs, n);
	CHECK_EQ_INT(t->nsites, exits ? 2 * n : n);
	for (size_t i = 0; i < n; i++) {
		long f = func_index(t, names[i]);
		int entries = 0, ex = 0;

		if (f < 0)
			printf("  no function %s in the table\n", names[i]);
		CHECK(f >= 0);
		for (size_t k = 0; k < t->nsites; k++)
			if ((long)t->sites[k].func == f)
				t->sites[k].kind == PK_SITE_ENTRY ? entries++ : ex++;
		CHECK_EQ_INT(entries, 1);
		CHECK_EQ_INT(ex, exits ? 1 : 0);
	}
	for (size_t k = 0; k < t->nsites; k++) {
		CHECK_EQ_INT(t->sites[k].how, how);
		CHECK_EQ_INT(t->sites[k].span, span);
		CHECK_EQ_INT(t->sites[k].len, 5);
	}
}

/* Checks that the bytes of file name at each site are want(site): the original call or the
 * recorded NOP. */
static void check_bytes(const char *name, const struct pk_probe_table *t, bool original)
{
	char path[256];
	struct pk_elf e;
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_INT(pk_elf_open(&e, fd, path, NULL, 0), 0);
	for (size_t i = 0; i < t->nsites; i++) {
		const struct pk_site *s = &t->sites[i];
		const uint8_t *b = pk_elf_bytes(&e, s->addr, s->span, NULL);

		CHECK(b != NULL);
		if (!b)
			continue;
		if (!original)
			CHECK(memcmp(b, s->nop, s->span) == 0);
		else if (s->span == 5)
			CHECK_EQ_INT(b[0], 0xe8); /* call rel32 */
		else
			CHECK(b[0] == 0xff && b[1] == 0x15); /* call qword ptr [rip+X] */
	}
	pk_elf_close(&e);
	close(fd);
}

/* Encodes t, parses it back, and checks that both are the same. */
static void check_round_trip(const struct pk_probe_table *t)
{
	struct pk_probe_table u;
	uint8_t *buf = NULL;
	size_t len = 0;

	CHECK_EQ_INT(pk_probe_table_encode(t, &buf, &len), 0);
	CHECK_EQ_INT(pk_probe_table_parse(buf, len, &u, NULL, 0), 0);
	CHECK_EQ_INT(u.nfuncs, t->nfuncs);
	CHECK_EQ_INT(u.nsites, t->nsites);
	CHECK(u.pie == t->pie && u.entry_only == t->entry_only);
	for (size_t i = 0; i < u.nfuncs && i < t->nfuncs; i++)
		CHECK(u.funcs[i].addr == t->funcs[i].addr && u.funcs[i].size == t->funcs[i].size &&
		      strcmp(u.funcs[i].name, t->funcs[i].name) == 0);
	for (size_t i = 0; i < u.nsites && i < t->nsites; i++)
		CHECK(memcmp(&u.sites[i], &t->sites[i], sizeof(u.sites[i])) == 0);
	pk_probe_table_release(&u);
	free(buf);
}

static const char *const prog_funcs[] = { "sq", "add", "mix", "main" };

/* Builds with flags, cold-patches, and checks everything a cold patch promises. */
static void coldpatch_case(const char *flags, int span, bool pie)
{
	char in[256], out[256], before[256], after[256], err[512];
	struct pk_coldpatch_stats st;
	struct pk_probe_table t;
	struct stat sb;
	int code_before, code_after;

	CHECK_EQ_INT(build(flags, "prog"), 0);
	path_of(in, sizeof(in), "prog");
	path_of(out, sizeof(out), "prog.cold");
	CHECK_EQ_INT(hook_calls("prog"), 8);
	CHECK_EQ_INT(pk_coldpatch(in, out, &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.funcs, 4);
	CHECK_EQ_INT(st.entries, 4);
	CHECK_EQ_INT(st.exits, 4);
	CHECK_EQ_INT(st.skipped, 0);
	CHECK_EQ_INT(hook_calls("prog.cold"), 0);
	CHECK(stat(out, &sb) == 0 && (sb.st_mode & 0777) == 0755);
	CHECK_EQ_INT(pk_probe_table_load(out, &t, err, sizeof(err)), 0);
	check_sites(&t, prog_funcs, 4, PK_SITE_CALL, span, true);
	CHECK(t.pie == pie && !t.entry_only);
	check_bytes("prog", &t, true);
	check_bytes("prog.cold", &t, false);
	check_round_trip(&t);
	pk_probe_table_release(&t);
	code_before = execute("prog", before, sizeof(before));
	code_after = execute("prog.cold", after, sizeof(after));
	CHECK_STR(after, before);
	CHECK_EQ_INT(code_after, code_before);
	CHECK(strncmp(before, "sum ", 4) == 0);
	/* a second cold patch is refused */
	CHECK_EQ_INT(pk_coldpatch(out, in, &st, err, sizeof(err)), -EEXIST);
	CHECK(strstr(err, "already cold-patched") && strstr(err, out));
}

static void test_pie(void)
{
	coldpatch_case("-fpie -pie -finstrument-functions", 5, true);
}

static void test_no_pie(void)
{
	coldpatch_case("-fno-pie -no-pie -finstrument-functions", 5, false);
}

static void test_no_plt(void)
{
	coldpatch_case("-fno-plt -finstrument-functions", 6, true);
}

/* CET: endbr64 in every function, calls through .plt.sec stubs. */
static void test_cet_plt_sec(void)
{
	coldpatch_case("-fcf-protection=full -Wl,-z,ibtplt -finstrument-functions", 5, true);
}

/* Statically linked: glibc's hooks are one function under both names. */
static void test_static(void)
{
	coldpatch_case("-static -finstrument-functions", 5, false);
}

/* The program defines the hooks itself: direct calls to local symbols; once cold-patched, the
 * hooks never run. */
static void test_own_hooks(void)
{
	char in[256], out[256], text[256], err[512];
	struct pk_coldpatch_stats st;

	CHECK_EQ_INT(build("-DOWN_HOOKS -finstrument-functions", "own"), 0);
	path_of(in, sizeof(in), "own");
	path_of(out, sizeof(out), "own.cold");
	CHECK_EQ_INT(pk_coldpatch(in, out, &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.funcs, 4);
	CHECK_EQ_INT(st.entries + st.exits, 8);
	execute("own", text, sizeof(text));
	CHECK(strncmp(text, "sum ", 4) == 0 && !strstr(text, " hooks 0\n"));
	execute("own.cold", text, sizeof(text));
	CHECK(strstr(text, " hooks 0\n") != NULL);
	CHECK_EQ_INT(hook_calls("own.cold"), 0);
}

/* A shared library, cold-patched in place (OUT = IN); a program linked to it runs the same. */
static void test_shared_library(void)
{
	static const char *const lib_funcs[] = { "sq", "add", "mix" };
	char lib[256], before[64], after[64], err[512];
	struct pk_coldpatch_stats st;
	struct pk_probe_table t;
	int code_before;

	CHECK_EQ_INT(write_file("app.c", app_src), 0);
	CHECK_EQ_INT(build("-DNO_MAIN -shared -fPIC -finstrument-functions", "libpkt.so"), 0);
	CHECK_EQ_INT(run("cc -O1 -w -o app app.c -L. -lpkt -Wl,-rpath,'$ORIGIN'"), 0);
	path_of(lib, sizeof(lib), "libpkt.so");
	code_before = execute("app", before, sizeof(before));
	CHECK_EQ_INT(pk_coldpatch(lib, lib, &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.funcs, 3);
	CHECK_EQ_INT(hook_calls("libpkt.so"), 0);
	CHECK_EQ_INT(pk_probe_table_load(lib, &t, err, sizeof(err)), 0);
	check_sites(&t, lib_funcs, 3, PK_SITE_CALL, 5, true);
	CHECK(t.pie);
	check_bytes("libpkt.so", &t, false);
	pk_probe_table_release(&t);
	CHECK_EQ_INT(execute("app", after, sizeof(after)), code_before);
	CHECK_STR(after, before);
}

/* -fpatchable-function-entry=5: entry sites from the section (in a PIE, through RELATIVE
 * relocations; in a non-PIE, the file's values); coldpatch says it is not needed. */
static void patchable_case(const char *flags, bool pie)
{
	char in[256], out[256], err[512];
	struct pk_coldpatch_stats st;
	struct pk_probe_table t;

	CHECK_EQ_INT(build(flags, "patch"), 0);
	path_of(in, sizeof(in), "patch");
	path_of(out, sizeof(out), "patch.cold");
	CHECK_EQ_INT(pk_probe_table_load(in, &t, err, sizeof(err)), 0);
	check_sites(&t, prog_funcs, 4, PK_SITE_PATCHABLE, 5, false);
	CHECK(t.entry_only && t.pie == pie);
	for (size_t i = 0; i < t.nsites; i++)
		CHECK_EQ_INT(t.sites[i].addr, t.funcs[t.sites[i].func].addr);
	check_bytes("patch", &t, false);
	check_round_trip(&t);
	pk_probe_table_release(&t);
	CHECK_EQ_INT(pk_coldpatch(in, out, &st, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "needs no cold patch") && strstr(err, in));
	CHECK(access(out, F_OK) != 0);
}

static void test_patchable_pie(void)
{
	patchable_case("-fpie -pie -fpatchable-function-entry=5", true);
}

static void test_patchable_no_pie(void)
{
	patchable_case("-fno-pie -no-pie -fpatchable-function-entry=5", false);
}

/* NOPs before the entry (N,M with M > 0) are not entry sites. */
static void test_patchable_before_entry(void)
{
	char in[256], err[512];
	struct pk_probe_table t;

	CHECK_EQ_INT(build("-fpatchable-function-entry=5,2", "patch52"), 0);
	path_of(in, sizeof(in), "patch52");
	CHECK_EQ_INT(pk_probe_table_load(in, &t, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "no probe sites") && strstr(err, in));
}

static void test_errors(void)
{
	char in[256], out[256], err[512];
	struct pk_coldpatch_stats st;
	struct pk_probe_table t;

	/* stripped */
	CHECK_EQ_INT(build("-finstrument-functions", "stripped"), 0);
	CHECK_EQ_INT(run("strip -s stripped"), 0);
	path_of(in, sizeof(in), "stripped");
	path_of(out, sizeof(out), "stripped.cold");
	CHECK_EQ_INT(pk_coldpatch(in, out, &st, err, sizeof(err)), -ENOEXEC);
	CHECK(strstr(err, "no symbol table (stripped?)") && strstr(err, in));
	CHECK(access(out, F_OK) != 0);
	/* not instrumented */
	CHECK_EQ_INT(build("", "plain"), 0);
	path_of(in, sizeof(in), "plain");
	CHECK_EQ_INT(pk_coldpatch(in, out, &st, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "-finstrument-functions") && strstr(err, in));
	CHECK_EQ_INT(pk_probe_table_load(in, &t, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "no probe sites") && strstr(err, in));
	/* instrumented but not cold-patched: no table yet */
	path_of(in, sizeof(in), "stripped");
	CHECK_EQ_INT(pk_probe_table_load(in, &t, err, sizeof(err)), -ENOENT);
	/* not ELF */
	CHECK_EQ_INT(write_file("text", "#!/bin/sh\necho not an ELF file at all\n"), 0);
	path_of(in, sizeof(in), "text");
	CHECK_EQ_INT(pk_coldpatch(in, out, &st, err, sizeof(err)), -ENOEXEC);
	CHECK(strstr(err, "not an ELF file") && strstr(err, in));
	CHECK_EQ_INT(pk_probe_table_load(in, &t, err, sizeof(err)), -ENOEXEC);
	CHECK(strstr(err, in) != NULL);
	/* nonexistent */
	path_of(in, sizeof(in), "no-such-file");
	CHECK_EQ_INT(pk_coldpatch(in, out, &st, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, in) != NULL);
	CHECK_EQ_INT(pk_probe_table_load(in, &t, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, in) != NULL);
	/* a directory beside which nothing can be written */
	path_of(in, sizeof(in), "prog");
	CHECK(pk_coldpatch(in, "/nonexistent-dir/x", &st, err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent-dir/x") != NULL);
}

/* A small valid table, encoded: two functions, three sites. */
static uint8_t *valid_table(size_t *len)
{
	struct pk_func funcs[] = { { 0x1000, 0x40, "f" }, { 0x1040, 0x20, "gee" } };
	struct pk_site sites[] = {
		{ 0x1004, 0, PK_SITE_ENTRY, PK_SITE_CALL, 5, 5, { 0x0f, 0x1f, 0x44, 0, 0 } },
		{ 0x1010, 0, PK_SITE_EXIT, PK_SITE_CALL, 5, 6, { 0x0f, 0x1f, 0x44, 0, 0, 0x90 } },
		{ 0x1044, 1, PK_SITE_ENTRY, PK_SITE_CALL, 5, 5, { 0x0f, 0x1f, 0x44, 0, 0 } },
	};
	struct pk_probe_table t = { funcs, 2, sites, 3, true, false };
	uint8_t *buf = NULL;

	CHECK_EQ_INT(pk_probe_table_encode(&t, &buf, len), 0);
	return buf;
}

/* Parses a modified copy of the valid table; the result code. */
static int parse_modified(const uint8_t *buf, size_t len, size_t at, uint8_t val, size_t cut)
{
	uint8_t *copy = malloc(len);
	struct pk_probe_table t;
	char err[256];
	int rc;

	memcpy(copy, buf, len);
	if (at < len)
		copy[at] = val;
	rc = pk_probe_table_parse(copy, len - cut, &t, err, sizeof(err));
	if (rc == 0)
		pk_probe_table_release(&t);
	else
		CHECK(err[0] != '\0');
	free(copy);
	return rc;
}

static void test_parse_rejects(void)
{
	size_t len = 0;
	uint8_t *buf = valid_table(&len);
	struct pk_probe_table t;
	const size_t sites = 24 + 2 * 24, strtab = sites + 3 * 24;

	if (!buf)
		return;
	CHECK_EQ_INT(len, strtab + 6); /* "f\0gee\0" */
	CHECK_EQ_INT(pk_probe_table_parse(buf, len, &t, NULL, 0), 0);
	CHECK_EQ_INT(t.nsites, 3);
	CHECK_STR(t.funcs[1].name, "gee");
	pk_probe_table_release(&t);
	CHECK_EQ_INT(parse_modified(buf, len, len, 0, len), -EINVAL);	   /* empty */
	CHECK_EQ_INT(parse_modified(buf, len, len, 0, len - 10), -EINVAL); /* half a header */
	for (size_t cut = 1; cut < len; cut += 7)
		CHECK_EQ_INT(parse_modified(buf, len, len, 0, cut), -EINVAL); /* truncated */
	CHECK_EQ_INT(parse_modified(buf, len, 0, 'X', 0), -EINVAL);	      /* magic */
	CHECK_EQ_INT(parse_modified(buf, len, 4, 2, 0), -EINVAL);	      /* version */
	CHECK_EQ_INT(parse_modified(buf, len, 6, 4, 0), -EINVAL);	      /* unknown flag */
	CHECK_EQ_INT(parse_modified(buf, len, 8, 3, 0), -EINVAL);	      /* nfuncs */
	CHECK_EQ_INT(parse_modified(buf, len, 11, 0x80, 0), -EINVAL);	      /* nfuncs huge */
	CHECK_EQ_INT(parse_modified(buf, len, 12, 2, 0), -EINVAL);	      /* nsites */
	CHECK_EQ_INT(parse_modified(buf, len, 19, 0xff, 0), -EINVAL);	      /* strsize */
	CHECK_EQ_INT(parse_modified(buf, len, 24 + 16, 6, 0), -EINVAL);	      /* name past strtab */
	CHECK_EQ_INT(parse_modified(buf, len, 24 + 16, 1, 0), -EINVAL);	      /* empty name */
	CHECK_EQ_INT(parse_modified(buf, len, len - 1, 'x', 0), -EINVAL);     /* no NUL */
	CHECK_EQ_INT(parse_modified(buf, len, 24 + 8, 0, 0), -EINVAL);	      /* size 0 */
	CHECK_EQ_INT(parse_modified(buf, len, 24 + 24 + 1, 0x0f, 0), -EINVAL); /* unsorted */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 8, 2, 0), -EINVAL);      /* func index */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 12, 2, 0), -EINVAL);     /* kind */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 13, 3, 0), -EINVAL);     /* how */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 14, 6, 0), -EINVAL);     /* len */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 15, 7, 0), -EINVAL);     /* span */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 16, 0xcc, 0), -EINVAL);  /* not a NOP */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 21, 0x90, 0), -EINVAL);  /* byte past span */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 24, 0x04, 0), -EINVAL);  /* overlap */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 48, 0x00, 0), -EINVAL);  /* outside func */
	CHECK_EQ_INT(parse_modified(buf, len, 6, 3, 0), -EINVAL);    /* entry-only with an exit */
	CHECK_EQ_INT(parse_modified(buf, len, sites + 13, 2, 0), 0); /* patchable entry: valid */
	free(buf);
}

int main(void)
{
	if (!mkdtemp(dir) || write_file("prog.c", prog_src) != 0) {
		perror("test_probe_table: temporary directory");
		return 1;
	}
	UNIT_RUN(test_pie);
	UNIT_RUN(test_no_pie);
	UNIT_RUN(test_no_plt);
	UNIT_RUN(test_cet_plt_sec);
	UNIT_RUN(test_static);
	UNIT_RUN(test_own_hooks);
	UNIT_RUN(test_shared_library);
	UNIT_RUN(test_patchable_pie);
	UNIT_RUN(test_patchable_no_pie);
	UNIT_RUN(test_patchable_before_entry);
	UNIT_RUN(test_errors);
	UNIT_RUN(test_parse_rejects);
	run("rm -rf -- %s", dir);
	return unit_done();
}
