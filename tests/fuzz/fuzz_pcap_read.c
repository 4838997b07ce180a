/* fuzz_pcap_read.c — libFuzzer target: any bytes, read as a capture file by pk_pcap_read_stream().
 *
 * Besides the sanitizers' checks, it asserts what the reader promises: an error has a negative
 * code and a message; a capture's connections are numbered 1..n, their chunks tile the client
 * stream exactly, and the server positions recorded before the chunks never go back.  Each
 * input that reads is read a second time with its first connection's server port as the filter.
 * Built with clang by `make fuzz`, and with gcc+ASan into test_fuzz_corpus for every corpus file.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "capture/pcap_read.h"

#define FUZZ_TARGET "fuzz_pcap_read"
#include "fuzz.h"

#define FUZZ_MAX_BYTES (64u << 20)

static uint16_t port_of(const struct pk_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	require(a->ss.ss_family == AF_INET6, "addresses are IPv4 or IPv6");
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

static void check_capture(const struct pk_pcap *p, uint16_t server_port)
{
	require(p->mem_bytes <= FUZZ_MAX_BYTES, "memory held within the cap");
	for (size_t i = 0; i < p->nconns; i++) {
		const struct pk_pcap_conn *c = p->conns[i];
		uint64_t off = 0, before = 0;

		require(c->id == i + 1, "connections numbered 1..n");
		port_of(&c->client);
		require(!server_port || port_of(&c->server) == server_port,
			"only connections to the server port asked for");
		for (size_t k = 0; k < c->nchunks; k++) {
			require(c->chunks[k].off == off && c->chunks[k].len > 0, "chunks tile c2s");
			require(c->chunks[k].s2c_before >= before, "s2c_before never goes back");
			require(c->chunks[k].s2c_before <= c->s2c.len + c->s2c.missing,
				"s2c_before within the server stream");
			off += c->chunks[k].len;
			before = c->chunks[k].s2c_before;
		}
		require(off == c->c2s.len, "chunks cover c2s");
		require((c->c2s.len == 0 || c->c2s.data) && (c->s2c.len == 0 || c->s2c.data),
			"stream data present");
	}
}

/* Reads the input once; returns the first connection's server port (0 if none). */
static uint16_t read_once(const uint8_t *data, size_t size, uint16_t server_port)
{
	struct pk_pcap_opts o = { .server_port = server_port, .max_bytes = FUZZ_MAX_BYTES };
	char err[256] = "";
	struct pk_pcap *p = NULL;
	uint16_t port = 0;
	FILE *f = fmemopen((void *)data, size, "rb");
	int rc;

	if (!f)
		return 0;
	rc = pk_pcap_read_stream(f, &o, &p, err, sizeof(err));
	if (rc < 0) {
		require(p == NULL && err[0] != '\0', "an error has a message and no capture");
		return 0;
	}
	require(rc == 0 && p != NULL, "success gives a capture");
	check_capture(p, server_port);
	if (p->nconns > 0)
		port = port_of(&p->conns[0]->server);
	pk_pcap_free(p);
	return port;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t port = read_once(data, size, 0);

	if (port)
		read_once(data, size, port);
	return 0;
}
