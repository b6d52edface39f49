/* SPDX-License-Identifier: MIT */
/*
 * The firewall's policy applied to one inbound packet, in the daemon (userspace mode,
 * docs/userspace.md): what nftables does for vtx0 in TUN mode, for a stack (lwIP) that has no
 * firewall of its own. Pure: no state, no conntrack.
 *
 * Without conntrack, "a reply to what we opened" is judged from the packet itself, and the
 * stack does the rest: a TCP segment that opens nothing (no SYN, or SYN with ACK) is passed,
 * since the stack takes it only for a connection that exists (ours, or one a policy check let
 * open) and answers anything else with a reset; a SYN alone opens a connection and needs an
 * allowed port. UDP needs an allowed port (the stack has no UDP socket a reply could be for).
 * ICMP echo requests need icmp_echo; other ICMP (echo replies, errors about our own packets)
 * is passed. Fragments are dropped: the stack would reassemble them into a packet this check
 * never saw (the overlay's MTU is the same on both sides, so peers do not fragment).
 */
#ifndef VERTEX_POLICY_INBOUND_H
#define VERTEX_POLICY_INBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy_peer;

enum policy_verdict {
	POLICY_ACCEPT = 0,
	POLICY_DROP_MALFORMED,     /* not an IP packet of a sane length, or a short L4 header */
	POLICY_DROP_FRAGMENT,      /* an IPv4 fragment, an IPv6 fragment header */
	POLICY_DROP_PORT,          /* a TCP SYN or UDP datagram to a port it may not reach */
	POLICY_DROP_ECHO,          /* an echo request, and icmp-echo is off for this peer */
	POLICY_DROP_OUTBOUND_ONLY, /* the peer may open nothing here */
	POLICY_DROP_PROTO,         /* another protocol (or an IPv6 extension header) */
	POLICY_VERDICT_COUNT
};

/* Does pp allow proto (PURPOSE_TCP, PURPOSE_UDP) port? (all: yes; outbound-only: no.) */
bool policy_peer_allows(const struct policy_peer *pp, uint8_t proto, uint16_t port);

/* The verdict on one inner packet from pp's peer (pkt[0..len), its IP header first). */
enum policy_verdict policy_inbound(const struct policy_peer *pp, const uint8_t *pkt, size_t len);

/* "accept", "port-not-allowed", ...: one word each */
const char *policy_verdict_name(enum policy_verdict v);

#endif
