/* perf.c — the counters users name, checked against one table, and a group of them on the
 * calling thread through the same raw path libiprobe uses (perf_raw.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/errbuf.h"
#include "probe/perf.h"

static const struct {
	const char *name;
	uint32_t type;
	uint64_t config;
} events[] = {
#define PK_PERF_ROW(name, type, config) { name, type, config },
	PK_PERF_EVENTS(PK_PERF_ROW)
#undef PK_PERF_ROW
};

#define NEVENTS (sizeof(events) / sizeof(events[0]))

const char *pk_perf_names(void)
{
	/* ", cycles, instructions, ...": the table's names, joined at compile time */
#define PK_PERF_JOIN(name, type, config) ", " name
	static const char names[] = PK_PERF_EVENTS(PK_PERF_JOIN);
#undef PK_PERF_JOIN

	return names + 2;
}

const char *pk_perf_name(uint32_t type, uint64_t config)
{
	for (size_t i = 0; i < NEVENTS; i++)
		if (events[i].type == type && events[i].config == config)
			return events[i].name;
	return NULL;
}

int pk_perf_parse(const char *list, struct pk_perf_event *ev, size_t max, char *err, size_t errlen)
{
	size_t n = 0;
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < NEVENTS; i++)
			if (strlen(events[i].name) == len && !strncmp(events[i].name, p, len))
				break;
		if (i == NEVENTS)
			return pk_errbuf_set(-EINVAL, err, errlen, "'%.*s': not a counter (%s)",
					     (int)(len > 64 ? 64 : len), p, pk_perf_names());
		for (size_t j = 0; j < n; j++)
			if (ev[j].type == events[i].type && ev[j].config == events[i].config)
				return pk_errbuf_set(-EINVAL, err, errlen, "'%s' given twice",
						     events[i].name);
		if (n == max)
			return pk_errbuf_set(-E2BIG, err, errlen, "more than %zu counters", max);
		ev[n++] = (struct pk_perf_event){ events[i].type, events[i].config };
		p += len;
		if (*p == ',' && *++p == 0)
			break;
	}
	if (!n)
		return pk_errbuf_set(-EINVAL, err, errlen, "no counter named (%s)",
				     pk_perf_names());
	return (int)n;
}

bool pk_perf_any_hardware(const struct pk_perf_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].type != PERF_TYPE_SOFTWARE)
			return true;
	return false;
}

bool pk_perf_hardware_available(void)
{
	int fd = pk_perf_raw_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, -1, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

uint32_t pk_perf_open(struct pk_perf_raw_group *g, const struct pk_perf_event *ev, size_t n)
{
	uint32_t types[PK_PERF_MAX];
	uint64_t configs[PK_PERF_MAX];

	if (n > PK_PERF_MAX)
		n = PK_PERF_MAX;
	for (size_t i = 0; i < n; i++) {
		types[i] = ev[i].type;
		configs[i] = ev[i].config;
	}
	return pk_perf_raw_group_open(g, (uint32_t)n, types, configs, 0);
}

uint32_t pk_perf_read(const struct pk_perf_raw_group *g, uint64_t *val, bool *rdpmc)
{
	return pk_perf_raw_read(g, val, rdpmc);
}

void pk_perf_close(struct pk_perf_raw_group *g)
{
	pk_perf_raw_close(g);
}
