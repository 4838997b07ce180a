/* dump.c — reads the rings of a target, a chunk at a time, and writes the events in one of the
 * formats of PK_DUMP_FORMATS.  Each ring is one thread's stream, in order; threads follow one
 * another.  Calls are counted at entry (so entry-only probes have calls too).  A per-thread
 * call stack pairs entries with exits: a completed call adds its
 * inclusive time to its function and its exclusive time (inclusive minus its callees') to its
 * function and to its stack path — so the folded stacks of a function sum to its exclusive time
 * in the table, by construction.  A drop marker empties the stack (what happened in the gap is
 * unknown) and shows in every format.  A sampling marker (PK_IPROBE_MARK_SAMPLE) sets the
 * thread's global rate from there on: each recorded call then stands for 2^max(that rate, its
 * probe's own) calls in est_calls (a stream's events before its first marker count at the rate
 * of the segment when the dump began).
 *
 * Perfetto's slices follow that stack exactly: a slice begins when a frame is pushed and ends
 * when it is popped (an exit closing callees whose exits were lost ends their slices too) or
 * when a drop marker empties the stack; an exit with no entry on the stack is not written.
 * So a thread's track always nests properly, where a stray end would close the wrong slice.
 *
 * fperf counter events (PK_IPROBE_MARK_COUNTER) follow their entry's event and precede their
 * exit's: an entry's values are kept in its frame, an exit's wait for the exit event; a call
 * whose frame and exit both have counter i adds the difference to its function's inclusive
 * total of i and, minus its callees', to the exclusive one (pk_probe_dump_table).  text and json
 * show every counter event; chrome, perfetto and folded leave them out (they carry no time).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errbuf.h"
#include "probe/dump.h"
#include "probe/perf.h"
#include "probe/perfetto.h"
#include "probe/shm.h"

#define CHUNK 4096
#define MAX_DEPTH 512

static const char *const format_names[] = {
#define PK_DUMP_NAME(e, name, help) name,
	PK_DUMP_FORMATS(PK_DUMP_NAME)
#undef PK_DUMP_NAME
};

int pk_dump_format_parse(const char *name)
{
	for (int i = 0; i < PK_DUMP_NFORMATS; i++)
		if (!strcmp(name, format_names[i]))
			return i;
	return -EINVAL;
}

const char *pk_dump_format_name(enum pk_dump_format f)
{
	return (unsigned)f < PK_DUMP_NFORMATS ? format_names[f] : "?";
}

#define NCTR PK_IPROBE_FPERF_MAX

struct frame {
	uint32_t id;
	uint32_t cmask;	       /* counters read at the entry (bit i: c0[i]) */
	uint64_t t0;	       /* ns */
	uint64_t child;	       /* ns spent in completed callees */
	uint64_t c0[NCTR];     /* counters at the entry */
	uint64_t cchild[NCTR]; /* counted in completed callees */
};

/* Folded stacks: path string -> exclusive ns, open addressing. */
struct fold {
	char *key;
	uint64_t ns;
};

struct dump {
	struct pk_probe_target *t;
	enum pk_dump_format fmt;
	FILE *out;
	struct pk_dump_stats *st;
	uint64_t tsc0, tsc_hz;
	uint32_t nprobes;
	char (*names)[sizeof(((struct pk_iprobe_probe *)0)->name)];
	struct pk_dump_func *acc;
	struct frame stack[MAX_DEPTH];
	unsigned depth;
	uint32_t nctr; /* counters the segment names (fperf) */
	const char *ctr_names[NCTR];
	bool fresh;	     /* the top frame was just pushed: entry counters are its */
	uint32_t pmask;	     /* counters read just before the next exit (bit i: pend[i]) */
	uint64_t pend[NCTR]; /* their values */
	uint32_t tid;
	uint32_t gsample;  /* the thread's global sampling log2, as its markers told */
	uint32_t gnow;	   /* the segment's global sampling log2 when the dump began */
	uint32_t *psample; /* per probe: its own sampling log2, from the registry */
	bool first;	   /* no event written yet (JSON commas) */
	struct fold *folds;
	size_t nfolds, cap_folds;
	struct pk_perfetto *pf; /* the Perfetto writer (that format only) */
	int err;		/* the first error of a writer or of folding: -errno */
};

/* Keeps the first error of the dump. */
static void set_err(struct dump *d, int rc)
{
	if (rc && !d->err)
		d->err = rc;
}

static uint64_t to_ns(const struct dump *d, uint64_t tsc)
{
	long double ns;

	if (tsc < d->tsc0)
		return 0;
	ns = (long double)(tsc - d->tsc0) * 1e9L / (long double)d->tsc_hz;
	return ns < 1.8e19L ? (uint64_t)ns : UINT64_MAX; /* a bogus rate from the target */
}

/* Writes s as a JSON string (quotes included). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void sep(struct dump *d)
{
	if (!d->first)
		fputs(",\n", d->out);
	d->first = false;
}

static uint64_t fold_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int fold_add(struct dump *d, const char *key, uint64_t ns)
{
	size_t i;

	if ((d->nfolds + 1) * 2 > d->cap_folds) {
		size_t ncap = d->cap_folds ? d->cap_folds * 2 : 256;
		struct fold *nf = calloc(ncap, sizeof(*nf)), *old = d->folds;
		size_t oldcap = d->cap_folds;

		if (!nf)
			return -ENOMEM;
		d->folds = nf;
		d->cap_folds = ncap;
		for (size_t j = 0; j < oldcap; j++) {
			if (!old[j].key)
				continue;
			for (i = fold_hash(old[j].key) & (ncap - 1); nf[i].key;
			     i = (i + 1) & (ncap - 1))
				;
			nf[i] = old[j];
		}
		free(old);
	}
	for (i = fold_hash(key) & (d->cap_folds - 1); d->folds[i].key;
	     i = (i + 1) & (d->cap_folds - 1))
		if (!strcmp(d->folds[i].key, key)) {
			d->folds[i].ns += ns;
			return 0;
		}
	d->folds[i].key = strdup(key);
	if (!d->folds[i].key)
		return -ENOMEM;
	d->folds[i].ns = ns;
	d->nfolds++;
	return 0;
}

/* The folded path of the stack's frames 0..depth-1 (the thread first). */
static int fold_stack(struct dump *d, uint64_t excl)
{
	char buf[8192];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "tid %u", d->tid);

	for (unsigned i = 0; i < d->depth && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ";%s", d->names[d->stack[i].id]);
	if (n >= sizeof(buf))
		return 0; /* a path this deep is cut from the folded output, not from the table */
	return fold_add(d, buf, excl);
}

/* A completed call of the top frame, ending at ns; with_ctr: the exit's counters (d->pend)
 * are this call's. */
static void call_done(struct dump *d, uint64_t ns, bool with_ctr)
{
	struct frame *f = &d->stack[d->depth - 1];
	uint64_t incl = ns > f->t0 ? ns - f->t0 : 0;
	uint64_t excl = incl > f->child ? incl - f->child : 0;
	struct pk_dump_func *a = &d->acc[f->id];
	uint64_t cincl[NCTR] = { 0 };

	a->incl_ns += incl;
	a->excl_ns += excl;
	for (uint32_t i = 0; with_ctr && i < d->nctr; i++) {
		if (!(f->cmask & d->pmask & 1u << i) || d->pend[i] < f->c0[i])
			continue;
		cincl[i] = d->pend[i] - f->c0[i];
		a->ctr_calls[i]++;
		a->ctr_incl[i] += cincl[i];
		a->ctr_excl[i] += cincl[i] > f->cchild[i] ? cincl[i] - f->cchild[i] : 0;
	}
	if (d->fmt == PK_DUMP_FOLDED)
		set_err(d, fold_stack(d, excl));
	else if (d->fmt == PK_DUMP_PERFETTO)
		set_err(d, pk_perfetto_slice_end(d->pf, ns));
	d->depth--;
	if (d->depth) {
		d->stack[d->depth - 1].child += incl;
		for (uint32_t i = 0; i < d->nctr; i++)
			d->stack[d->depth - 1].cchild[i] += cincl[i];
	}
}

/* A counter event (aux: index | PK_IPROBE_CTR_EXIT; value). */
static void counter(struct dump *d, uint32_t aux, uint64_t value)
{
	uint32_t i = aux & 0xff;
	bool exit = aux & PK_IPROBE_CTR_EXIT;

	if (i >= d->nctr) {
		d->st->bad++;
		return;
	}
	d->st->counters++;
	if (exit) {
		d->pend[i] = value;
		d->pmask |= 1u << i;
	} else if (d->fresh && d->depth) {
		d->stack[d->depth - 1].c0[i] = value;
		d->stack[d->depth - 1].cmask |= 1u << i;
	}
	switch (d->fmt) {
	case PK_DUMP_TEXT:
		fprintf(d->out, "%14s     tid %-7u  %*s   %s %s %llu\n", "", d->tid,
			(int)(2 * (d->depth < 40 ? d->depth : 40)), "", exit ? "exit" : "entry",
			d->ctr_names[i], (unsigned long long)value);
		break;
	case PK_DUMP_JSON:
		sep(d);
		fprintf(d->out, "{\"tid\":%u,\"ev\":\"counter\",\"at\":\"%s\",\"counter\":", d->tid,
			exit ? "exit" : "entry");
		json_str(d->out, d->ctr_names[i]);
		fprintf(d->out, ",\"value\":%llu}", (unsigned long long)value);
		break;
	default:
		break; /* chrome, perfetto, folded: no time to place a counter at */
	}
}

/* A marker: events dropped (aux: how many), a probe the budget switched off (aux: its id), or
 * a new global sampling rate (aux: its log2, checked). */
static void emit_mark(struct dump *d, uint64_t ns, uint32_t kind, uint32_t aux)
{
	bool drops = kind == PK_IPROBE_MARK_DROPS, sample = kind == PK_IPROBE_MARK_SAMPLE;
	const char *what = drops ? "dropped" : sample ? "sample" : "auto-disabled";
	const char *why = drops ? " events (ring full)" : sample ? "" : " (over the budget)";
	char label[160];

	if (drops)
		snprintf(label, sizeof(label), "dropped %u", aux);
	else if (sample)
		snprintf(label, sizeof(label), "sample 1/%u", 1u << aux);
	else if (aux < d->nprobes && d->names[aux][0])
		snprintf(label, sizeof(label), "auto-disabled %s", d->names[aux]);
	else
		snprintf(label, sizeof(label), "auto-disabled probe %u", aux);
	switch (d->fmt) {
	case PK_DUMP_TEXT:
		fprintf(d->out, "%14.3f us  tid %-7u  !! %s%s\n", (double)ns / 1e3, d->tid, label,
			why);
		break;
	case PK_DUMP_JSON:
		sep(d);
		fprintf(d->out, "{\"t_ns\":%llu,\"tid\":%u,\"ev\":\"%s\",\"n\":%u,\"label\":",
			(unsigned long long)ns, d->tid, what, aux);
		json_str(d->out, label);
		fputc('}', d->out);
		break;
	case PK_DUMP_CHROME:
		sep(d);
		fputs("{\"name\":", d->out);
		json_str(d->out, label);
		fprintf(d->out, ",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":%d,\"tid\":%u}",
			(double)ns / 1e3, (int)d->t->pid, d->tid);
		break;
	case PK_DUMP_PERFETTO:
		set_err(d, pk_perfetto_instant(d->pf, ns, label));
		break;
	default:
		break;
	}
}

static void emit_probe(struct dump *d, uint64_t ns, uint32_t id, bool exit)
{
	const char *name = d->names[id];

	switch (d->fmt) {
	case PK_DUMP_TEXT:
		fprintf(d->out, "%14.3f us  tid %-7u  %*s%s %s\n", (double)ns / 1e3, d->tid,
			(int)(2 * (d->depth < 40 ? d->depth : 40)), "", exit ? "<-" : "->", name);
		break;
	case PK_DUMP_JSON:
		sep(d);
		fprintf(d->out,
			"{\"t_ns\":%llu,\"tid\":%u,\"ev\":\"%s\",\"func\":", (unsigned long long)ns,
			d->tid, exit ? "exit" : "entry");
		json_str(d->out, name);
		fputc('}', d->out);
		break;
	case PK_DUMP_CHROME:
		sep(d);
		fputs("{\"name\":", d->out);
		json_str(d->out, name);
		fprintf(d->out, ",\"ph\":\"%c\",\"ts\":%.3f,\"pid\":%d,\"tid\":%u}",
			exit ? 'E' : 'B', (double)ns / 1e3, (int)d->t->pid, d->tid);
		break;
	default:
		break;
	}
}

/* One event of the current thread. */
static void event(struct dump *d, const struct pk_iprobe_event *ev)
{
	uint64_t ns = to_ns(d, ev->tsc);
	uint32_t id = ev->probe >> 1;
	bool exit = ev->probe & PK_IPROBE_EXIT;

	if (PK_IPROBE_IS_MARK(ev->probe)) {
		uint32_t kind = ev->probe & 0xff;

		if (kind == PK_IPROBE_MARK_COUNTER) {
			counter(d, ev->aux, ev->tsc);
			return;
		}
		if (kind == PK_IPROBE_MARK_SAMPLE) {
			if (ev->aux > PK_IPROBE_SAMPLE_MAX) {
				d->st->bad++;
				return;
			}
			d->gsample = ev->aux;
			d->st->samples++;
			emit_mark(d, ns, kind, ev->aux);
			return;
		}
		d->fresh = false;
		d->pmask = 0;
		if (kind == PK_IPROBE_MARK_DROPS) {
			d->st->drops += ev->aux;
			for (unsigned i = 0; d->fmt == PK_DUMP_PERFETTO && i < d->depth; i++)
				set_err(d, pk_perfetto_slice_end(d->pf, ns));
			d->depth = 0;
		}
		emit_mark(d, ns, kind, ev->aux);
		return;
	}
	d->fresh = false;
	if (id >= d->nprobes || !d->names[id][0]) {
		d->st->bad++;
		d->pmask = 0;
		return;
	}
	d->st->events++;
	if (exit) {
		/* close up to the matching entry; an exit without one (probe switched on inside
		 * the call) is shown but not timed */
		unsigned i = d->depth;

		while (i && d->stack[i - 1].id != id)
			i--;
		if (i) {
			while (d->depth > i)
				call_done(d, ns, false);
			d->depth--;
			emit_probe(d, ns, id, true);
			d->depth++;
			call_done(d, ns, true);
		} else {
			emit_probe(d, ns, id, true);
		}
		d->pmask = 0;
		return;
	}
	d->pmask = 0;
	emit_probe(d, ns, id, false);
	d->acc[id].calls++; /* counted at entry: entry-only probes have calls too */
	d->acc[id].est_calls += 1ull << (d->gsample > d->psample[id] ? d->gsample : d->psample[id]);
	if (d->depth == MAX_DEPTH)
		return; /* deeper calls are shown, not timed */
	d->stack[d->depth++] = (struct frame){ .id = id, .t0 = ns };
	d->fresh = true;
	if (d->fmt == PK_DUMP_PERFETTO)
		set_err(d, pk_perfetto_slice_begin(d->pf, ns, id, d->names[id]));
}

/* A thread's open calls between two drains of pk_probe_dump_table (one per ring). */
struct pk_dump_saved {
	uint32_t tid;
	unsigned depth;
	bool fresh;
	uint32_t pmask;
	uint64_t pend[NCTR];
	struct frame *frames; /* depth of them */
};

/* Drains ring r; sv (or NULL): the thread's open calls at the end of the last drain, restored
 * first (when it is the same thread's) and saved again at the end. */
static void dump_ring(struct dump *d, struct pk_iprobe_ring *r, struct pk_iprobe_event *buf,
		      struct pk_dump_saved *sv)
{
	size_t n;

	d->tid = __atomic_load_n(&r->tid, __ATOMIC_ACQUIRE);
	d->gsample = d->gnow; /* until a marker says otherwise */
	d->depth = 0;
	d->fresh = false;
	d->pmask = 0;
	if (sv && sv->depth && sv->tid == d->tid && sv->depth <= MAX_DEPTH) {
		memcpy(d->stack, sv->frames, sv->depth * sizeof(*sv->frames));
		d->depth = sv->depth;
		d->fresh = sv->fresh;
		d->pmask = sv->pmask;
		memcpy(d->pend, sv->pend, sizeof(d->pend));
	}
	while ((n = pk_shm_ring_read(d->t->shm, r, buf, CHUNK)) > 0) {
		for (size_t i = 0; i < n; i++)
			event(d, &buf[i]);
		pk_shm_ring_consume(r, n);
		if ((d->out && ferror(d->out)) || d->err)
			return;
	}
	if (!sv)
		return;
	if (d->depth) {
		struct frame *f = realloc(sv->frames, d->depth * sizeof(*f));

		if (!f) {
			set_err(d, -ENOMEM);
			return;
		}
		memcpy(f, d->stack, d->depth * sizeof(*f));
		sv->frames = f;
	}
	sv->tid = d->tid;
	sv->depth = d->depth;
	sv->fresh = d->fresh;
	sv->pmask = d->pmask;
	memcpy(sv->pend, d->pend, sizeof(sv->pend));
}

static int cmp_fold(const void *a, const void *b)
{
	const struct fold *x = a, *y = b;

	if (!x->key || !y->key)
		return !x->key - !y->key;
	return strcmp(x->key, y->key);
}

static void print_table(struct dump *d)
{
	fprintf(d->out, "%-40s %10s %7s %12s %14s %14s %12s\n", "function", "calls", "sample",
		"est_calls", "incl_us", "excl_us", "avg_us");
	for (uint32_t i = 0; i < d->nprobes; i++) {
		const struct pk_dump_func *a = &d->acc[i];

		if (!a->calls)
			continue;
		uint32_t sm = d->gnow > d->psample[i] ? d->gnow : d->psample[i];
		char rate[16];

		snprintf(rate, sizeof(rate), "1/%u", 1u << sm);
		fprintf(d->out, "%-40s %10llu %7s %12llu %14.3f %14.3f %12.3f\n", d->names[i],
			(unsigned long long)a->calls, rate, (unsigned long long)a->est_calls,
			(double)a->incl_ns / 1e3, (double)a->excl_ns / 1e3,
			(double)a->incl_ns / 1e3 / (double)a->calls);
	}
}

/* The target's command name (its /proc comm) in buf, or NULL when it cannot be read. */
static const char *read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return NULL;
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/* Waits (up to 1 s) for libiprobe's first TSC measurement, 100 ms after its load. */
static uint64_t wait_tsc_hz(const struct pk_iprobe_shm *s)
{
	for (int i = 0; i < 100; i++) {
		uint64_t hz = __atomic_load_n(&s->tsc_hz, __ATOMIC_ACQUIRE);
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (hz)
			return hz;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* Adds the rows of a drain to tb (its rows grow with the registry). */
static int table_add(struct pk_dump_table *tb, const struct dump *d, char *err, size_t errlen)
{
	if (tb->nfuncs < d->nprobes) {
		struct pk_dump_func *f = realloc(tb->funcs, d->nprobes * sizeof(*f));

		if (!f)
			return pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
		memset(f + tb->nfuncs, 0, (d->nprobes - tb->nfuncs) * sizeof(*f));
		tb->funcs = f;
		tb->nfuncs = d->nprobes;
	}
	for (uint32_t i = 0; i < d->nprobes; i++) {
		struct pk_dump_func *f = &tb->funcs[i];
		const struct pk_dump_func *a = &d->acc[i];

		memcpy(f->name, d->names[i], sizeof(f->name));
		f->calls += a->calls;
		f->est_calls += a->est_calls;
		f->incl_ns += a->incl_ns;
		f->excl_ns += a->excl_ns;
		for (uint32_t c = 0; c < NCTR; c++) {
			f->ctr_calls[c] += a->ctr_calls[c];
			f->ctr_incl[c] += a->ctr_incl[c];
			f->ctr_excl[c] += a->ctr_excl[c];
		}
	}
	tb->nctr = d->nctr;
	memcpy(tb->ctr_names, d->ctr_names, sizeof(tb->ctr_names));
	return 0;
}

/* The body of pk_probe_dump, pk_probe_dump_text_next and pk_probe_dump_table: with tb, each
 * thread's open calls are kept in tb from one drain to the next and the table's rows are
 * added to it (for TABLE, nothing is written: out is NULL). */
static int dump_run(struct pk_probe_target *t, enum pk_dump_format fmt, FILE *out,
		    struct pk_dump_stats *st, struct pk_dump_table *tb, char *err, size_t errlen)
{
	struct pk_iprobe_shm *s = t->shm;
	struct pk_iprobe_event *buf = NULL;
	struct dump d = { .t = t, .fmt = fmt, .out = out, .st = st, .first = true };
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (!s)
		return pk_errbuf_set(-ENOENT, err, errlen,
				     "process %d has no probe events (libiprobe is not loaded: "
				     "enable a probe first)",
				     (int)t->pid);
	d.tsc0 = s->tsc0;
	d.tsc_hz = wait_tsc_hz(s);
	if (!d.tsc_hz)
		return pk_errbuf_set(-EAGAIN, err, errlen,
				     "libiprobe in %d has not measured its "
				     "clock yet",
				     (int)t->pid);
	d.nctr = __atomic_load_n(&s->fperf_n, __ATOMIC_ACQUIRE);
	if (d.nctr > NCTR)
		d.nctr = 0; /* not a list libiprobe reads either */
	for (uint32_t i = 0; i < d.nctr; i++) {
		d.ctr_names[i] = pk_perf_name(s->fperf[i].type, s->fperf[i].config);
		if (!d.ctr_names[i])
			d.ctr_names[i] = "unknown";
	}
	d.nprobes = __atomic_load_n(&s->nprobes, __ATOMIC_ACQUIRE);
	if (d.nprobes > s->max_probes)
		d.nprobes = s->max_probes;
	if (tb && !tb->saved) {
		tb->saved = calloc(s->max_threads, sizeof(*tb->saved));
		tb->nsaved = tb->saved ? s->max_threads : 0;
	}
	d.gnow = __atomic_load_n(&s->sample, __ATOMIC_ACQUIRE);
	if (d.gnow > PK_IPROBE_SAMPLE_MAX)
		d.gnow = PK_IPROBE_SAMPLE_MAX; /* what libiprobe applies */
	d.names = calloc(d.nprobes + 1, sizeof(*d.names));
	d.psample = calloc(d.nprobes + 1, sizeof(*d.psample));
	d.acc = calloc(d.nprobes + 1, sizeof(*d.acc));
	buf = malloc(CHUNK * sizeof(*buf));
	if (!d.names || !d.acc || !d.psample || !buf) {
		rc = pk_errbuf_set(-ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	/* the registry lives in the target: copy each name once, bounded */
	for (uint32_t i = 0; i < d.nprobes; i++) {
		const struct pk_iprobe_probe *p = pk_shm_probe(s, i);

		if (__atomic_load_n(&p->flags, __ATOMIC_ACQUIRE) & PK_IPROBE_F_USED) {
			d.psample[i] = __atomic_load_n(&p->sample, __ATOMIC_RELAXED);
			if (d.psample[i] > PK_IPROBE_SAMPLE_MAX)
				d.psample[i] = PK_IPROBE_SAMPLE_MAX;
			memcpy(d.names[i], p->name, sizeof(d.names[i]) - 1);
			if (!d.names[i][0])
				snprintf(d.names[i], sizeof(d.names[i]), "0x%llx",
					 (unsigned long long)p->addr);
		}
	}
	if (fmt == PK_DUMP_JSON)
		fprintf(out, "{\"pid\":%d,\"tsc_hz\":%llu,\"events\":[\n", (int)t->pid,
			(unsigned long long)d.tsc_hz);
	else if (fmt == PK_DUMP_CHROME)
		fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", out);
	else if (fmt == PK_DUMP_PERFETTO) {
		char comm[64];

		d.pf = pk_perfetto_new(out, t->pid, read_comm(t->pid, comm, sizeof(comm)));
		if (!d.pf) {
			rc = pk_errbuf_set(-errno, err, errlen, "start the perfetto trace: %s",
					   strerror(errno));
			goto out;
		}
	}
	for (uint32_t i = 0; i < s->max_threads && !(out && ferror(out)) && !d.err; i++) {
		struct pk_iprobe_ring *r = pk_shm_ring(s, i);
		uint64_t before = st->events + st->bad;

		if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == PK_IPROBE_RING_FREE)
			continue;
		if (fmt == PK_DUMP_CHROME) {
			sep(&d);
			fprintf(out,
				"{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%u,"
				"\"args\":{\"name\":\"tid %u\"}}",
				(int)t->pid, r->tid, r->tid);
		} else if (fmt == PK_DUMP_PERFETTO) {
			set_err(&d, pk_perfetto_thread(d.pf, r->tid));
		}
		dump_ring(&d, r, buf, tb && tb->saved ? &tb->saved[i] : NULL);
		/* drops after the last marker: not yet told by one */
		uint64_t untold = __atomic_load_n(&r->drops, __ATOMIC_RELAXED) - r->drops_told;
		if (untold && untold < UINT32_MAX) {
			st->drops += untold;
			emit_mark(&d, 0, PK_IPROBE_MARK_DROPS, (uint32_t)untold);
		}
		if (st->events + st->bad > before)
			st->threads++;
	}
	st->no_ring = __atomic_load_n(&s->no_ring, __ATOMIC_RELAXED);
	switch (fmt) {
	case PK_DUMP_JSON:
		fprintf(out, "\n],\"drops\":%llu,\"no_ring\":%llu}\n",
			(unsigned long long)st->drops, (unsigned long long)st->no_ring);
		break;
	case PK_DUMP_CHROME:
		fputs("\n]}\n", out);
		break;
	case PK_DUMP_FOLDED:
		if (d.folds)
			qsort(d.folds, d.cap_folds, sizeof(*d.folds), cmp_fold);
		for (size_t i = 0; i < d.cap_folds && d.folds[i].key; i++)
			fprintf(out, "%s %llu\n", d.folds[i].key,
				(unsigned long long)d.folds[i].ns);
		break;
	case PK_DUMP_TABLE:
		if (tb)
			break;
		print_table(&d);
		fprintf(out,
			"events %llu  threads %llu  dropped %llu (rings full) + %llu (no ring)\n",
			(unsigned long long)st->events, (unsigned long long)st->threads,
			(unsigned long long)st->drops, (unsigned long long)st->no_ring);
		break;
	default:
		break;
	}
	if (d.err)
		rc = pk_errbuf_set(d.err, err, errlen, "%s dump: %s", pk_dump_format_name(fmt),
				   strerror(-d.err));
	else if (out && (fflush(out) || ferror(out)))
		rc = pk_errbuf_set(-EIO, err, errlen, "write the dump: %s", strerror(errno));
	if (!rc && tb)
		rc = table_add(tb, &d, err, errlen);
out:
	pk_perfetto_free(d.pf);
	for (size_t i = 0; i < d.cap_folds; i++)
		free(d.folds[i].key);
	free(d.folds);
	free(d.names);
	free(d.psample);
	free(d.acc);
	free(buf);
	return rc;
}

int pk_probe_dump(struct pk_probe_target *t, enum pk_dump_format fmt, FILE *out,
		  struct pk_dump_stats *st, char *err, size_t errlen)
{
	return dump_run(t, fmt, out, st, NULL, err, errlen);
}

int pk_probe_dump_text_next(struct pk_probe_target *t, FILE *out, struct pk_dump_stats *st,
			    struct pk_dump_table *state, char *err, size_t errlen)
{
	return dump_run(t, PK_DUMP_TEXT, out, st, state, err, errlen);
}

int pk_probe_dump_table(struct pk_probe_target *t, struct pk_dump_table *tb,
			struct pk_dump_stats *st, char *err, size_t errlen)
{
	return dump_run(t, PK_DUMP_TABLE, NULL, st, tb, err, errlen);
}

void pk_dump_table_release(struct pk_dump_table *tb)
{
	for (uint32_t i = 0; i < tb->nsaved; i++)
		free(tb->saved[i].frames);
	free(tb->saved);
	free(tb->funcs);
	memset(tb, 0, sizeof(*tb));
}
