/* SPDX-License-Identifier: MIT */
/*
 * Finding a domain's Vertex server (DESIGN §3, like mail's MX): the DNS SRV records
 * _vertex._tcp.DOMAIN, ordered by priority and weight (RFC 2782), each target resolved to its
 * addresses; if there is no SRV record, DOMAIN's own A/AAAA on VERTEX_SERVER_PORT. A static
 * override in the configuration skips all of this.
 *
 * Resolution is blocking and bounded (2 s per query, one attempt). The daemons call it through
 * resolve.h, on a thread of its own, so their event loops never wait for DNS; `vertex register`
 * and the test probes call it directly.
 */
#ifndef VERTEX_DISCOVER_H
#define VERTEX_DISCOVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { VERTEX_SERVER_PORT = 4801, DISCOVER_MAX = 16, DISCOVER_HOST_MAX = 256 };

struct discover_result {
	struct sockaddr_storage addr; /* address and port */
	char host[DISCOVER_HOST_MAX]; /* the SRV target or the domain, for logs */
	uint16_t priority, weight;
	uint16_t port; /* host order; also set by discover_parse_srv, whose addr is AF_UNSPEC */
};

/* Fills up to max results in the order to try them. Returns how many (>= 1), or -errno with a
 * reason in why ("no SRV record and no address for b.example.com", ...). */
int discover_server(const char *domain, struct discover_result *out, size_t max, char *why,
		    size_t whylen);
/* Parses an SRV answer (for the fuzz target and tests): fills out (host, port, priority, weight;
 * addr left AF_UNSPEC) in the order to try them, returns the count or -EINVAL. */
int discover_parse_srv(const uint8_t *answer, size_t len, struct discover_result *out, size_t max);

#endif
