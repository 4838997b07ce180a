/* prom.h — Prometheus text exposition format: writing it, and reading it back (tests check a
 * proxy's /metrics with it).
 *
 * Writer: pk_prom_family() once per metric name, then pk_prom_sample() per label set.
 * Reader: pk_prom_parse() calls back once per sample line; comments are skipped.
 */
#ifndef PK_COMMON_PROM_H
#define PK_COMMON_PROM_H

#include <stddef.h>

#include "common/strbuf.h"

/* Appends the "# HELP" and "# TYPE" lines of one metric family. */
void pk_prom_family(struct pk_strbuf *out, const char *name, const char *type, const char *help);

/* Appends one sample "name{key="value"} v"; key may be NULL for no label.  The value is
 * escaped as the format requires. */
void pk_prom_sample(struct pk_strbuf *out, const char *name, const char *key, const char *value,
		    double v);

/* Like pk_prom_sample() with a second label key2="value2" (after key, which must be given). */
void pk_prom_sample2(struct pk_strbuf *out, const char *name, const char *key, const char *value,
		     const char *key2, const char *value2, double v);

/* Returns v as a sample's text carries it (what a reader gets back from pk_prom_sample()):
 * integers below 1e15 exactly, other values to 9 significant digits. */
double pk_prom_value(double v);

typedef void (*pk_prom_fn)(const char *name, const char *labels, double value, void *data);

/* Parses exposition text, calling fn for each sample with its name, its raw label text
 * (between the braces, "" if none) and value.  Returns the number of samples, or -EINVAL
 * at the first malformed line. */
int pk_prom_parse(const char *text, pk_prom_fn fn, void *data);

/* Copies the unescaped value of label key from raw label text into out; returns 0 or
 * -ENOENT when absent, -ENOSPC when out is too small. */
int pk_prom_label(const char *labels, const char *key, char *out, size_t outlen);

#endif
