/* live.c — a live capture into a pcap file (see live.h). */
#include "capture/live.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "common/errbuf.h"

#define LIVE_SNAPLEN 262144
#define LIVE_TIMEOUT_MS 100

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	pcap_dump(user, h, bytes);
}

int pk_live_capture(const char *ifname, uint16_t port, const char *path,
		    volatile sig_atomic_t *stop, struct pk_live_stats *st, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "", filter[64];
	struct bpf_program prog;
	pcap_dumper_t *dump = NULL;
	struct pcap_stat ps;
	pcap_t *p;
	int rc = 0, n;

	memset(st, 0, sizeof(*st));
	p = pcap_create(ifname, perr);
	if (!p)
		return pk_errbuf_set(-ENODEV, err, errlen, "capture on %s: %s", ifname, perr);
	pcap_set_snaplen(p, LIVE_SNAPLEN);
	pcap_set_immediate_mode(p, 1);
	pcap_set_timeout(p, LIVE_TIMEOUT_MS);
	pcap_set_buffer_size(p, 32 << 20);
	if ((n = pcap_activate(p)) < 0) {
		rc = pk_errbuf_set(n == PCAP_ERROR_PERM_DENIED ? -EPERM : -ENODEV, err, errlen,
				   "capture on %s: %s", ifname, pcap_geterr(p));
		goto out;
	}
	snprintf(filter, sizeof(filter), "tcp port %u", port);
	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
	    pcap_setfilter(p, &prog) < 0) {
		rc = pk_errbuf_set(-EINVAL, err, errlen, "capture filter '%s': %s", filter,
				   pcap_geterr(p));
		goto out;
	}
	pcap_freecode(&prog);
	dump = pcap_dump_open(p, path);
	if (!dump) {
		rc = pk_errbuf_set(-EIO, err, errlen, "%s: %s", path, pcap_geterr(p));
		goto out;
	}
	while (!*stop) {
		n = pcap_dispatch(p, -1, on_packet, (u_char *)dump);
		if (n < 0) {
			rc = pk_errbuf_set(-EIO, err, errlen, "capture on %s: %s", ifname,
					   pcap_geterr(p));
			break;
		}
		st->packets += (uint64_t)n;
		if (n > 0 && pcap_dump_flush(dump) < 0) {
			rc = pk_errbuf_set(-EIO, err, errlen, "write %s: %s", path,
					   strerror(errno));
			break;
		}
	}
	if (pcap_stats(p, &ps) == 0)
		st->dropped = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
out:
	if (dump && pcap_dump_flush(dump) < 0 && !rc)
		rc = pk_errbuf_set(-EIO, err, errlen, "write %s: %s", path, strerror(errno));
	if (dump)
		pcap_dump_close(dump);
	pcap_close(p);
	return rc;
}
