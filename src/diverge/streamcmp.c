/* streamcmp.c — incremental comparison of two byte streams with bounded memory. */
#include <string.h>

#include "diverge/streamcmp.h"

void pk_scmp_init(struct pk_scmp *c, size_t limit)
{
	memset(c, 0, sizeof(*c));
	pk_ring_init(&c->ahead, limit);
}

void pk_scmp_release(struct pk_scmp *c)
{
	pk_ring_release(&c->ahead);
}

static bool settled(const struct pk_scmp *c)
{
	return c->diverged || c->overflow;
}

/* Compares n bytes of the lagging side with the held bytes of the side ahead; returns how many
 * were consumed from buf (all of them matched, or up to the first difference). */
static size_t match(struct pk_scmp *c, const char *buf, size_t n)
{
	size_t done = 0;
	while (done < n && pk_ring_used(&c->ahead) > 0) {
		struct iovec iov[2];
		pk_ring_peek(&c->ahead, iov);
		size_t k = iov[0].iov_len < n - done ? iov[0].iov_len : n - done;
		const char *held = iov[0].iov_base;
		for (size_t i = 0; i < k; i++) {
			if (held[i] != buf[done + i]) {
				c->diverged = true;
				c->diverge_off = c->matched + i;
				pk_ring_release(&c->ahead);
				return done + i;
			}
		}
		pk_ring_consume(&c->ahead, k);
		c->matched += k;
		done += k;
	}
	return done;
}

void pk_scmp_feed(struct pk_scmp *c, enum pk_scmp_side side, const void *buf, size_t n)
{
	c->bytes[side] += n;
	if (settled(c) || n == 0)
		return;
	const char *p = buf;
	if (pk_ring_used(&c->ahead) > 0 && c->ahead_side != (int)side) {
		size_t k = match(c, p, n);
		if (c->diverged)
			return;
		p += k;
		n -= k;
		if (n == 0)
			return;
	}
	c->ahead_side = side;
	if (pk_ring_write(&c->ahead, p, n) < 0) {
		c->overflow = true;
		pk_ring_release(&c->ahead);
	}
}

enum pk_scmp_verdict pk_scmp_verdict(const struct pk_scmp *c, bool final)
{
	if (c->diverged)
		return PK_SCMP_DIFFERENT;
	if (c->overflow)
		return PK_SCMP_UNKNOWN;
	if (final && c->bytes[PK_SCMP_A] != c->bytes[PK_SCMP_B])
		return PK_SCMP_DIFFERENT;
	return PK_SCMP_SAME;
}

uint64_t pk_scmp_diverge_offset(const struct pk_scmp *c)
{
	if (c->diverged)
		return c->diverge_off;
	return c->bytes[PK_SCMP_A] < c->bytes[PK_SCMP_B] ? c->bytes[PK_SCMP_A]
							 : c->bytes[PK_SCMP_B];
}

const char *pk_scmp_verdict_name(enum pk_scmp_verdict v)
{
	switch (v) {
	case PK_SCMP_SAME:
		return "same";
	case PK_SCMP_DIFFERENT:
		return "different";
	default:
		return "unknown";
	}
}
