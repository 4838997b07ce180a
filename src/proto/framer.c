/* framer.c — request framing for resync (see proto.h): msg.c's request-side message framers,
 * watched for where each message starts. */
#include "proto/proto.h"

#include <string.h>

int pk_proto_parse(const char *name, enum pk_proto *out)
{
	return pk_msg_proto_parse(name, out);
}

void pk_framer_init(struct pk_framer *f, enum pk_proto proto)
{
	memset(f, 0, sizeof(*f));
	f->proto = proto;
	pk_msgr_init(&f->m, proto, false);
}

ssize_t pk_framer_feed(struct pk_framer *f, const char *buf, size_t n)
{
	uint64_t base = f->m.consumed;
	ssize_t first = -1;
	size_t off = 0;

	if (f->proto == PK_PROTO_NONE)
		f->lost = true;
	if (f->lost)
		return -1;
	while (off < n) {
		uint64_t started = f->m.started;
		enum pk_msg_event ev;
		size_t k = pk_msgr_feed(&f->m, buf + off, n - off, &ev);

		if (ev == PK_MSG_LOST) {
			f->lost = true;
			return -1;
		}
		/* at most one message starts per call: each call ends at an event */
		if (first < 0 && f->m.started != started && f->m.start_at >= base)
			first = (ssize_t)(f->m.start_at - base);
		if (k == 0) /* only a response's framer stops before a byte: not here */
			break;
		off += k;
	}
	return first;
}
