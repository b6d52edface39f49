// SPDX-License-Identifier: MIT
/*
 * The policy on inbound packets (policy/inbound.h), as userspace mode applies it before lwIP:
 * SYNs and UDP only to allowed ports, replies passed, echo by icmp_echo, outbound-only peers
 * open nothing, fragments and other protocols dropped, and every length field checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/inbound.h"
#include "policy/policy.h"

enum { TCP = 6, UDP = 17, ICMP = 1, ICMP6 = 58 };

/* A peer allowed tcp/22 and udp/5000-5010, echo on. */
static void
peer_ssh(struct policy_peer *pp)
{
	memset(pp, 0, sizeof(*pp));
	pp->ports[0] = (struct policy_port){ .proto = TCP, .lo = 22, .hi = 22 };
	pp->ports[1] = (struct policy_port){ .proto = UDP, .lo = 5000, .hi = 5010 };
	pp->nports = 2;
	pp->icmp_echo = true;
}

/* An IPv4 packet of proto with an L4 header: ports/type in the first bytes, TCP flags. */
static size_t
ip4(uint8_t *b, uint8_t proto, uint16_t dport, uint8_t flags_or_type)
{
	size_t l4 = proto == TCP ? 20 : 8, n = 20 + l4;

	memset(b, 0, n);
	b[0] = 0x45;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	b[8] = 64;
	b[9] = proto;
	if (proto == ICMP) {
		b[20] = flags_or_type;
		return n;
	}
	b[20] = 0x9c;
	b[21] = 0x40;
	b[22] = (uint8_t)(dport >> 8);
	b[23] = (uint8_t)dport;
	if (proto == TCP) {
		b[32] = 5 << 4;
		b[33] = flags_or_type;
	}
	return n;
}

static size_t
ip6(uint8_t *b, uint8_t next, uint16_t dport, uint8_t flags_or_type)
{
	size_t l4 = next == TCP ? 20 : 8, n = 40 + l4;

	memset(b, 0, n);
	b[0] = 0x60;
	b[4] = (uint8_t)(l4 >> 8);
	b[5] = (uint8_t)l4;
	b[6] = next;
	b[7] = 64;
	if (next == ICMP6) {
		b[40] = flags_or_type;
		return n;
	}
	b[42] = (uint8_t)(dport >> 8);
	b[43] = (uint8_t)dport;
	if (next == TCP) {
		b[52] = 5 << 4;
		b[53] = flags_or_type;
	}
	return n;
}

static void
test_tcp_syn_needs_an_allowed_port(void **state)
{
	struct policy_peer pp;
	uint8_t b[128] = { 0 };

	(void)state;
	peer_ssh(&pp);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, TCP, 22, 0x02)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, TCP, 80, 0x02)), POLICY_DROP_PORT);
	assert_int_equal(policy_inbound(&pp, b, ip6(b, TCP, 22, 0x02)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip6(b, TCP, 23, 0x02)), POLICY_DROP_PORT);
	/* SYN with other flags (PSH, ECE) is still an opening SYN. */
	assert_int_equal(policy_inbound(&pp, b, ip4(b, TCP, 80, 0x02 | 0x08 | 0x40)),
			 POLICY_DROP_PORT);
}

static void
test_tcp_replies_pass(void **state)
{
	struct policy_peer pp;
	uint8_t b[128] = { 0 };

	(void)state;
	peer_ssh(&pp);
	/* SYN-ACK (to our dial), ACK, RST, FIN to any port: the stack judges them. */
	assert_int_equal(policy_inbound(&pp, b, ip4(b, TCP, 40000, 0x12)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, TCP, 80, 0x10)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip6(b, TCP, 80, 0x04)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip6(b, TCP, 80, 0x11)), POLICY_ACCEPT);
}

static void
test_udp_ports(void **state)
{
	struct policy_peer pp;
	uint8_t b[128] = { 0 };

	(void)state;
	peer_ssh(&pp);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, UDP, 5000, 0)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, UDP, 5010, 0)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, UDP, 5011, 0)), POLICY_DROP_PORT);
	assert_int_equal(policy_inbound(&pp, b, ip6(b, UDP, 22, 0)), POLICY_DROP_PORT);
}

static void
test_echo(void **state)
{
	struct policy_peer pp;
	uint8_t b[128] = { 0 };

	(void)state;
	peer_ssh(&pp);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, ICMP, 0, 8)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip6(b, ICMP6, 0, 128)), POLICY_ACCEPT);
	pp.icmp_echo = false;
	assert_int_equal(policy_inbound(&pp, b, ip4(b, ICMP, 0, 8)), POLICY_DROP_ECHO);
	assert_int_equal(policy_inbound(&pp, b, ip6(b, ICMP6, 0, 128)), POLICY_DROP_ECHO);
	/* Echo replies and errors pass: they answer what we sent. */
	assert_int_equal(policy_inbound(&pp, b, ip4(b, ICMP, 0, 0)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, ICMP, 0, 3)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip6(b, ICMP6, 0, 129)), POLICY_ACCEPT);
}

static void
test_all_and_outbound_only(void **state)
{
	struct policy_peer pp;
	uint8_t b[128] = { 0 };

	(void)state;
	memset(&pp, 0, sizeof(pp));
	pp.all = true;
	assert_int_equal(policy_inbound(&pp, b, ip4(b, TCP, 8080, 0x02)), POLICY_ACCEPT);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, ICMP, 0, 8)), POLICY_ACCEPT);
	assert_true(policy_peer_allows(&pp, UDP, 1));
	memset(&pp, 0, sizeof(pp));
	pp.outbound_only = true;
	assert_int_equal(policy_inbound(&pp, b, ip4(b, TCP, 22, 0x02)), POLICY_DROP_OUTBOUND_ONLY);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, UDP, 22, 0)), POLICY_DROP_OUTBOUND_ONLY);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, ICMP, 0, 8)), POLICY_DROP_OUTBOUND_ONLY);
	assert_int_equal(policy_inbound(&pp, b, ip4(b, TCP, 22, 0x12)), POLICY_ACCEPT);
	assert_false(policy_peer_allows(&pp, TCP, 22));
}

static void
test_fragments_and_protocols(void **state)
{
	struct policy_peer pp;
	uint8_t b[128] = { 0 };
	size_t n;

	(void)state;
	peer_ssh(&pp);
	n = ip4(b, TCP, 22, 0x02);
	b[6] = 0x20; /* more fragments */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_FRAGMENT);
	b[6] = 0;
	b[7] = 1; /* offset 8 */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_FRAGMENT);
	b[7] = 0;
	b[6] = 0x40; /* DF alone is fine */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_ACCEPT);
	n = ip6(b, TCP, 22, 0x02);
	b[6] = 44;
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_FRAGMENT);
	b[6] = 0; /* hop-by-hop options */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_PROTO);
	n = ip4(b, UDP, 22, 0);
	b[9] = 2; /* IGMP */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_PROTO);
}

static void
test_lengths_lie(void **state)
{
	struct policy_peer pp;
	uint8_t b[128] = { 0 };
	size_t n;

	(void)state;
	peer_ssh(&pp);
	assert_int_equal(policy_inbound(&pp, b, 0), POLICY_DROP_MALFORMED);
	n = ip4(b, TCP, 22, 0x02);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_not_equal(policy_inbound(&pp, b, cut), POLICY_ACCEPT);
	b[3] = (uint8_t)(n + 1); /* total length beyond what arrived */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_MALFORMED);
	n = ip4(b, TCP, 22, 0x02);
	b[0] = 0x44; /* header length 16 */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_MALFORMED);
	b[0] = 0x4f; /* 60: the TCP header would start past the total length's SYN */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_MALFORMED);
	n = ip4(b, TCP, 22, 0x02);
	b[3] = 30; /* a TCP header cut short by the total length */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_MALFORMED);
	n = ip6(b, UDP, 5000, 0);
	b[5] = 200; /* payload length beyond what arrived */
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_MALFORMED);
	b[0] = 0x50;
	assert_int_equal(policy_inbound(&pp, b, n), POLICY_DROP_MALFORMED);
	assert_string_equal(policy_verdict_name(POLICY_DROP_PORT), "port-not-allowed");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_syn_needs_an_allowed_port),
		cmocka_unit_test(test_tcp_replies_pass),
		cmocka_unit_test(test_udp_ports),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_all_and_outbound_only),
		cmocka_unit_test(test_fragments_and_protocols),
		cmocka_unit_test(test_lengths_lie),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
