// SPDX-License-Identifier: MIT
/*
 * One inbound packet against a peer's policy (inbound.h). Reads only within len; every length
 * field is checked against it before use.
 */
#include <stdint.h>

#include "policy/inbound.h"
#include "policy/policy.h"

enum {
	IP4_HDR_MIN = 20,
	IP6_HDR = 40,
	PROTO_ICMP = 1,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	PROTO_FRAG6 = 44,
	PROTO_ICMP6 = 58,
	ICMP_ECHO_REQUEST = 8,
	ICMP6_ECHO_REQUEST = 128,
	TCP_SYN = 0x02,
	TCP_ACK = 0x10,
};

bool
policy_peer_allows(const struct policy_peer *pp, uint8_t proto, uint16_t port)
{
	if (pp->all)
		return true;
	if (pp->outbound_only)
		return false;
	for (size_t i = 0; i < pp->nports; i++)
		if (pp->ports[i].proto == proto && pp->ports[i].lo <= port &&
		    port <= pp->ports[i].hi)
			return true;
	return false;
}

/* The verdict on the layer-4 header l4[0..len) of protocol proto. */
static enum policy_verdict
policy_l4(const struct policy_peer *pp, uint8_t proto, const uint8_t *l4, size_t len)
{
	uint16_t dport;

	switch (proto) {
	case PROTO_TCP:
		if (len < 20)
			return POLICY_DROP_MALFORMED;
		if ((l4[13] & (TCP_SYN | TCP_ACK)) != TCP_SYN)
			return POLICY_ACCEPT; /* opens nothing: the stack judges it */
		break;
	case PROTO_UDP:
		if (len < 8)
			return POLICY_DROP_MALFORMED;
		break;
	case PROTO_ICMP:
	case PROTO_ICMP6:
		if (len < 4)
			return POLICY_DROP_MALFORMED;
		if (l4[0] != (proto == PROTO_ICMP ? ICMP_ECHO_REQUEST : ICMP6_ECHO_REQUEST) ||
		    pp->all)
			return POLICY_ACCEPT;
		if (pp->outbound_only)
			return POLICY_DROP_OUTBOUND_ONLY;
		return pp->icmp_echo ? POLICY_ACCEPT : POLICY_DROP_ECHO;
	default:
		return POLICY_DROP_PROTO;
	}
	dport = (uint16_t)(l4[2] << 8 | l4[3]);
	if (policy_peer_allows(pp, proto, dport))
		return POLICY_ACCEPT;
	return pp->outbound_only ? POLICY_DROP_OUTBOUND_ONLY : POLICY_DROP_PORT;
}

enum policy_verdict
policy_inbound(const struct policy_peer *pp, const uint8_t *pkt, size_t len)
{
	size_t hl, total;

	if (len < 1)
		return POLICY_DROP_MALFORMED;
	if (pkt[0] >> 4 == 4) {
		if (len < IP4_HDR_MIN)
			return POLICY_DROP_MALFORMED;
		hl = (size_t)(pkt[0] & 0x0f) * 4;
		total = (size_t)pkt[2] << 8 | pkt[3];
		if (hl < IP4_HDR_MIN || total < hl || total > len)
			return POLICY_DROP_MALFORMED;
		if ((pkt[6] & 0x20) || ((pkt[6] & 0x1f) << 8 | pkt[7]))
			return POLICY_DROP_FRAGMENT; /* more fragments, or an offset */
		return policy_l4(pp, pkt[9], pkt + hl, total - hl);
	}
	if (pkt[0] >> 4 == 6) {
		if (len < IP6_HDR)
			return POLICY_DROP_MALFORMED;
		total = IP6_HDR + ((size_t)pkt[4] << 8 | pkt[5]);
		if (total > len)
			return POLICY_DROP_MALFORMED;
		if (pkt[6] == PROTO_FRAG6)
			return POLICY_DROP_FRAGMENT;
		return policy_l4(pp, pkt[6], pkt + IP6_HDR, total - IP6_HDR);
	}
	return POLICY_DROP_MALFORMED;
}

const char *
policy_verdict_name(enum policy_verdict v)
{
	switch (v) {
	case POLICY_ACCEPT:
		return "accept";
	case POLICY_DROP_MALFORMED:
		return "malformed";
	case POLICY_DROP_FRAGMENT:
		return "fragment";
	case POLICY_DROP_PORT:
		return "port-not-allowed";
	case POLICY_DROP_ECHO:
		return "echo-not-allowed";
	case POLICY_DROP_OUTBOUND_ONLY:
		return "outbound-only";
	case POLICY_DROP_PROTO:
		return "protocol";
	case POLICY_VERDICT_COUNT:
		break;
	}
	return "?";
}
