/* delayq.c — packet fates and the queue of held packets (see delayq.h). */
#include "debug/delayq.h"

#include <errno.h>
#include <stdlib.h>

#define DELAYQ_MIN_CAP 256

/* splitmix64: a fast generator, good enough for coin flips on packets. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z;

	if (*s == 0)
		*s = 0x9e3779b97f4a7c15ull;
	z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A uniform draw in [0, 1). */
static double unit_rand(uint64_t *s)
{
	return (double)(next_rand(s) >> 11) * 0x1.0p-53;
}

enum pk_delay_fate pk_delayq_decide(const struct pk_fault_net *n, uint64_t *rng, uint64_t now_ns,
				    uint64_t *due_ns)
{
	double d;

	if (n->loss_pct > 0 && unit_rand(rng) * 100 < n->loss_pct)
		return PK_DELAY_DROP;
	if (!n->delay_us || (n->reorder_pct > 0 && unit_rand(rng) * 100 < n->reorder_pct))
		return PK_DELAY_NOW;
	d = (double)n->delay_us;
	if (n->jitter_us)
		d += (2 * unit_rand(rng) - 1) * (double)n->jitter_us;
	*due_ns = now_ns + (d > 0 ? (uint64_t)(d * 1e3) : 0);
	return PK_DELAY_HOLD;
}

static bool before(const struct pk_delayq_item *a, const struct pk_delayq_item *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void swap(struct pk_delayq_item *a, struct pk_delayq_item *b)
{
	struct pk_delayq_item t = *a;

	*a = *b;
	*b = t;
}

int pk_delayq_push(struct pk_delayq *q, uint32_t id, uint64_t due_ns)
{
	size_t i;

	if (q->max && q->n >= q->max)
		return -ENOBUFS;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : DELAYQ_MIN_CAP;
		struct pk_delayq_item *h = reallocarray(q->heap, cap, sizeof(*h));

		if (!h)
			return -ENOMEM;
		q->heap = h;
		q->cap = cap;
	}
	i = q->n++;
	q->heap[i] = (struct pk_delayq_item){ .due_ns = due_ns, .seq = q->seq++, .id = id };
	while (i > 0 && before(&q->heap[i], &q->heap[(i - 1) / 2])) {
		swap(&q->heap[i], &q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	return 0;
}

bool pk_delayq_pop_due(struct pk_delayq *q, uint64_t now_ns, uint32_t *id)
{
	size_t i = 0;

	if (q->n == 0 || q->heap[0].due_ns > now_ns)
		return false;
	*id = q->heap[0].id;
	q->heap[0] = q->heap[--q->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->n && before(&q->heap[l], &q->heap[m]))
			m = l;
		if (r < q->n && before(&q->heap[r], &q->heap[m]))
			m = r;
		if (m == i)
			break;
		swap(&q->heap[i], &q->heap[m]);
		i = m;
	}
	return true;
}

uint64_t pk_delayq_next_due(const struct pk_delayq *q)
{
	return q->n ? q->heap[0].due_ns : 0;
}

void pk_delayq_release(struct pk_delayq *q)
{
	free(q->heap);
	*q = (struct pk_delayq){ 0 };
}
