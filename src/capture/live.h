/* live.h — a live capture into a pcap file (libpcap): the TCP traffic of one port on one
 * interface of the calling thread's network namespace, written as it comes (immediate mode,
 * flushed after every batch), until asked to stop.  `snapshot` records a clone's duplicated
 * input with it, inside the clone's namespace. */
#ifndef PK_CAPTURE_LIVE_H
#define PK_CAPTURE_LIVE_H

#include <signal.h>
#include <stdint.h>

struct pk_live_stats {
	uint64_t packets; /* written to the file */
	uint64_t dropped; /* the kernel's and the interface's drops (pcap_stats) */
};

/* Captures TCP packets to or from port on interface ifname into the pcap file path (made anew)
 * until *stop becomes non-zero (checked at least every 100 ms), then closes the file.
 * Fills st.  0 or -errno with a reason in err (no such interface, no permission, the file). */
int pk_live_capture(const char *ifname, uint16_t port, const char *path,
		    volatile sig_atomic_t *stop, struct pk_live_stats *st, char *err,
		    size_t errlen);

#endif
