/* SPDX-License-Identifier: MIT */
/*
 * Edge translation (DESIGN §5). Overlay addresses are local views: every agent numbers its peers
 * from its own pools. The sender sends a packet as it was read from its TUN device; the receiver
 * rewrites, in place:
 *
 *   source       peer's own address (as the peer announced in HELLO)  ->  our view of the peer
 *   destination  anything                                             ->  our own address
 *
 * and inside ICMP / ICMPv6 error messages the quoted packet (which the peer's kernel saw *after*
 * its own translation) the reverse way, so the quoted packet matches what our kernel sent:
 *
 *   quoted source       ->  our own address
 *   quoted destination  ->  our view of the peer
 *
 * Checksums are fixed incrementally (RFC 1624): IPv4 header; TCP, UDP (a zero IPv4 UDP checksum
 * stays zero) and ICMPv6 pseudo-headers; in ICMP errors the quoted IPv4 header checksum, the
 * quoted TCP/UDP checksum when the quote includes it, and the ICMP checksum over all of that.
 *
 * A packet whose source is not the peer's own address is refused (XLATE_BAD_SOURCE): the address
 * on vtx0 is what proves which authenticated peer sent it, which per-peer firewall rules rely on.
 */
#ifndef VERTEX_XLATE_H
#define VERTEX_XLATE_H

#include <stddef.h>
#include <stdint.h>

/* The checksum helpers once declared here live in csum.h; kept visible for old callers. */
#include "overlay/csum.h"

struct xlate_map {
	uint8_t peer_self4[4]; /* the peer's own address, from its HELLO */
	uint8_t peer_view4[4]; /* our address for the peer */
	uint8_t own4[4];       /* our own address */
	uint8_t peer_self6[16];
	uint8_t peer_view6[16];
	uint8_t own6[16];
};

enum xlate_result {
	XLATE_OK = 0,
	XLATE_MALFORMED,   /* too short, bad version, header length or total length */
	XLATE_BAD_SOURCE,  /* source is not the peer's own address */
	XLATE_UNSUPPORTED, /* e.g. IPv4 fragments of an ICMP error we cannot fix; dropped */
	XLATE_RESULT_COUNT,
};

enum xlate_result xlate_inbound(uint8_t *pkt, size_t len, const struct xlate_map *m);
const char *xlate_result_name(enum xlate_result r);

#endif
