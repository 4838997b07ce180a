/* probe_fperf.c — `parikshan probe fperf`: chooses the counters (the default hardware pair,
 * or the software fallback when the kernel offers no hardware counter, said in one line),
 * writes them into the target's segment, flags the functions and switches their entry and
 * exit probes on; then drains the rings into one table until the duration ends or a signal
 * comes (every 100 ms, sooner while the calls come fast enough to fill an eighth of a ring
 * between two drains, down to every millisecond), switches the probes off
 * (the exact bytes back), clears the flags and prints the table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/probe_drain.h"
#include "cli/probe_fperf.h"
#include "common/args.h"
#include "common/json.h"
#include "common/strbuf.h"
#include "probe/dump.h"

static uint64_t total_calls(const struct pk_dump_table *tb)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < tb->nfuncs; i++)
		n += tb->funcs[i].calls;
	return n;
}

static double per_call(uint64_t v, uint64_t calls)
{
	return calls ? (double)v / (double)calls : 0;
}

static void print_text(FILE *f, const struct pk_dump_table *tb, const struct pk_dump_stats *st)
{
	fprintf(f, "%-32s %10s", "function", "calls");
	for (uint32_t c = 0; c < tb->nctr; c++)
		fprintf(f, " %18s %14s %14s", tb->ctr_names[c], "/call", "excl/call");
	fputc('\n', f);
	for (uint32_t i = 0; i < tb->nfuncs; i++) {
		const struct pk_dump_func *fn = &tb->funcs[i];

		if (!fn->calls)
			continue;
		fprintf(f, "%-32s %10llu", fn->name, (unsigned long long)fn->calls);
		for (uint32_t c = 0; c < tb->nctr; c++)
			fprintf(f, " %18llu %14.1f %14.1f", (unsigned long long)fn->ctr_incl[c],
				per_call(fn->ctr_incl[c], fn->ctr_calls[c]),
				per_call(fn->ctr_excl[c], fn->ctr_calls[c]));
		fputc('\n', f);
	}
	fprintf(f,
		"inclusive totals; /call over the calls measured at entry and exit; "
		"dropped %llu (rings full) + %llu (no ring)\n",
		(unsigned long long)st->drops, (unsigned long long)st->no_ring);
}

static int print_json(FILE *f, const struct pk_probe_target *t, const struct pk_dump_table *tb,
		      const struct pk_dump_stats *st, double secs)
{
	cJSON *root = cJSON_CreateObject(), *ctrs, *funcs;
	struct pk_strbuf sb = { 0 };
	int rc = -ENOMEM;

	if (!root || !cJSON_AddNumberToObject(root, "pid", t->pid) ||
	    !cJSON_AddNumberToObject(root, "seconds", secs) ||
	    !(ctrs = cJSON_AddArrayToObject(root, "counters")) ||
	    !(funcs = cJSON_AddArrayToObject(root, "functions")) ||
	    !cJSON_AddNumberToObject(root, "dropped", (double)st->drops) ||
	    !cJSON_AddNumberToObject(root, "no_ring", (double)st->no_ring))
		goto out;
	for (uint32_t c = 0; c < tb->nctr; c++)
		if (!cJSON_AddItemToArray(ctrs, cJSON_CreateString(tb->ctr_names[c])))
			goto out;
	for (uint32_t i = 0; i < tb->nfuncs; i++) {
		const struct pk_dump_func *fn = &tb->funcs[i];
		cJSON *o, *cs;

		if (!fn->calls)
			continue;
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(funcs, o) ||
		    !cJSON_AddStringToObject(o, "function", fn->name) ||
		    !cJSON_AddNumberToObject(o, "calls", (double)fn->calls) ||
		    !(cs = cJSON_AddObjectToObject(o, "counters")))
			goto out;
		for (uint32_t c = 0; c < tb->nctr; c++) {
			cJSON *v = cJSON_AddObjectToObject(cs, tb->ctr_names[c]);

			if (!v || !cJSON_AddNumberToObject(v, "calls", (double)fn->ctr_calls[c]) ||
			    !cJSON_AddNumberToObject(v, "total", (double)fn->ctr_incl[c]) ||
			    !cJSON_AddNumberToObject(v, "per_call",
						     per_call(fn->ctr_incl[c], fn->ctr_calls[c])) ||
			    !cJSON_AddNumberToObject(v, "excl_total", (double)fn->ctr_excl[c]) ||
			    !cJSON_AddNumberToObject(v, "excl_per_call",
						     per_call(fn->ctr_excl[c], fn->ctr_calls[c])))
				goto out;
		}
	}
	rc = pk_json_print(root, &sb);
	if (!rc)
		fwrite(sb.s, 1, sb.len, f);
out:
	pk_strbuf_release(&sb);
	cJSON_Delete(root);
	return rc;
}

/* What choose() decided about hardware counters, said once counting starts. */
enum hw_note { HW_OK, HW_FELL_BACK, HW_MISSING };

/* The counters to count: o's, else the default pair, else (no hardware counter here) the
 * software fallback.  Returns how many (0: none). */
static int choose(const struct pk_fperf_opts *o, struct pk_perf_event *ev, enum hw_note *note)
{
	char err[512];
	bool hw = pk_perf_hardware_available();
	int n;

	*note = HW_OK;
	if (o->nev) {
		memcpy(ev, o->ev, (size_t)o->nev * sizeof(*ev));
		if (!hw && pk_perf_any_hardware(ev, (size_t)o->nev))
			*note = HW_MISSING;
		return o->nev;
	}
	n = pk_perf_parse(hw ? PK_PERF_DEFAULT : PK_PERF_FALLBACK, ev, PK_PERF_MAX, err,
			  sizeof(err));
	if (!hw)
		*note = HW_FELL_BACK;
	return n > 0 ? n : 0;
}

static void say_note(enum hw_note note)
{
	if (note == HW_FELL_BACK)
		fprintf(stderr,
			"parikshan: probe fperf: no hardware counters here (perf_event_open "
			"refuses cycles): counting " PK_PERF_FALLBACK " instead\n");
	else if (note == HW_MISSING)
		fprintf(stderr,
			"parikshan: probe fperf: no hardware counters here (perf_event_open "
			"refuses cycles): those asked for read nothing (try "
			"--events " PK_PERF_FALLBACK ")\n");
}

/* What one drain of the counting (pk_cli_probe_drain) adds to: the table of target t. */
struct fperf_drain {
	struct pk_probe_target *t;
	struct pk_dump_table *tb;
};

static int fperf_drain(void *arg, struct pk_dump_stats *st, char *err, size_t errlen)
{
	struct fperf_drain *f = arg;

	return pk_probe_dump_table(f->t, f->tb, st, err, errlen);
}

static void fperf_progress(void *arg, double secs)
{
	struct fperf_drain *f = arg;

	fprintf(stderr, "parikshan: probe fperf: %.0f s, %llu calls so far\n", secs,
		(unsigned long long)total_calls(f->tb));
}

int pk_cli_probe_fperf(struct pk_probe_target *t, const struct pk_fperf_opts *o,
		       const char *const *globs, size_t nglobs)
{
	struct pk_perf_event ev[PK_PERF_MAX];
	uint32_t types[PK_PERF_MAX];
	uint64_t configs[PK_PERF_MAX];
	struct pk_probe_switch_stats sw;
	struct pk_dump_table tb = { 0 };
	struct pk_dump_stats sum = { 0 }, st;
	enum hw_note note;
	char err[512], err2[512];
	size_t funcs;
	double secs = 0;
	FILE *out = stdout;
	int n, rc, rc2, status = PK_EXIT_OK;

	n = choose(o, ev, &note);
	if (n <= 0)
		return pk_cli_fail(PK_EXIT_RUNTIME, "probe fperf", "no counter to count");
	for (int i = 0; i < n; i++) {
		types[i] = ev[i].type;
		configs[i] = ev[i].config;
	}
	if (o->out) {
		out = fopen(o->out, "we");
		if (!out)
			return pk_cli_fail(PK_EXIT_RUNTIME, "probe fperf", "open %s: %s", o->out,
					   strerror(errno));
	}
	/* what the rings hold from earlier probes is not this run's */
	rc = pk_probe_dump_table(t, &tb, &st, err, sizeof(err));
	pk_dump_table_release(&tb);
	if (!rc)
		rc = pk_probe_fperf_set(t, types, configs, (uint32_t)n, err, sizeof(err));
	if (!rc)
		rc = pk_probe_set_flag(t, globs, nglobs, PK_IPROBE_F_FPERF, true, &funcs, err,
				       sizeof(err));
	if (rc) {
		status = pk_cli_fail(PK_EXIT_RUNTIME, "probe fperf", "%s", err);
		goto close_out;
	}
	rc = pk_probe_switch(t, globs, nglobs, true, PK_PROBE_BOTH, &sw, err, sizeof(err));
	if (rc) {
		status = pk_cli_fail(PK_EXIT_RUNTIME, "probe fperf", "%s", err);
		/* what was switched on goes off again */
		pk_probe_switch(t, globs, nglobs, false, PK_PROBE_BOTH, &sw, err2, sizeof(err2));
		goto unflag;
	}
	say_note(note);
	if (o->duration_ns)
		fprintf(stderr,
			"parikshan: probe fperf: counting in %zu functions of %d for %.1f s\n",
			funcs, (int)t->pid, (double)o->duration_ns / 1e9);
	else
		fprintf(stderr,
			"parikshan: probe fperf: counting in %zu functions of %d until Ctrl-C\n",
			funcs, (int)t->pid);
	rc = pk_cli_probe_drain(t, o->duration_ns, fperf_drain, fperf_progress,
				&(struct fperf_drain){ .t = t, .tb = &tb }, &sum, &secs, err,
				sizeof(err));
	if (rc) {
		status = pk_cli_fail(PK_EXIT_RUNTIME, "probe fperf", "%s", err);
		if (rc == -ESRCH)
			goto print; /* nothing left to switch off */
	}
	rc2 = pk_probe_switch(t, globs, nglobs, false, PK_PROBE_BOTH, &sw, err2, sizeof(err2));
	if (rc2)
		status = pk_cli_fail(PK_EXIT_RUNTIME, "probe fperf", "switch the probes off: %s",
				     err2);
	/* the last events: written before the sites were switched off */
	if (!pk_probe_dump_table(t, &tb, &st, err2, sizeof(err2)))
		pk_cli_dump_stats_add(&sum, &st);
unflag:
	if (!(rc == -ESRCH) && pk_probe_set_flag(t, globs, nglobs, PK_IPROBE_F_FPERF, false, &funcs,
						 err2, sizeof(err2)))
		status = pk_cli_fail(PK_EXIT_RUNTIME, "probe fperf", "clear the flags: %s", err2);
	if (status != PK_EXIT_OK && rc != -ESRCH && !tb.nfuncs)
		goto close_out;
print:
	if (o->json)
		rc2 = print_json(out, t, &tb, &sum, secs);
	else
		rc2 = (print_text(out, &tb, &sum), 0);
	if (rc2 && status == PK_EXIT_OK)
		status = pk_cli_fail(PK_EXIT_RUNTIME, "probe fperf", "%s", strerror(-rc2));
	fprintf(stderr,
		"parikshan: probe fperf: %.1f s, %llu events, %llu counter reads, %llu dropped%s\n",
		secs, (unsigned long long)sum.events, (unsigned long long)sum.counters,
		(unsigned long long)(sum.drops + sum.no_ring),
		sum.drops + sum.no_ring ? " (rings full or no ring free)" : "");
close_out:
	if (out != stdout && fclose(out) && status == PK_EXIT_OK)
		status = pk_cli_fail(PK_EXIT_RUNTIME, "probe fperf", "write %s: %s", o->out,
				     strerror(errno));
	pk_dump_table_release(&tb);
	return status;
}
