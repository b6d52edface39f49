// SPDX-License-Identifier: MIT
/*
 * PCP and NAT-PMP codecs and the gateway from /proc/net/route (direct/portmap_wire.h): requests
 * byte for byte as RFC 6887 and RFC 6886 lay them out, responses decoded, and every malformed
 * response (short, long, wrong version, a request, bad options) refused.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "direct/portmap_wire.h"

static const uint8_t NONCE[PCP_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static void
test_portmap_pcp_map_encode_layout(void **state)
{
	static const uint8_t want[PCP_MAP_LEN] = {
		2,  1, 0, 0, 0,    0,    0x1c, 0x20, /* version, MAP, lifetime 7200 */
		0,  0, 0, 0, 0,    0,    0,    0,    0, 0,  0xff, 0xff, 198, 19, 2, 2,
		1,  2, 3, 4, 5,    6,    7,    8,    9, 10, 11,   12, /* nonce */
		17, 0, 0, 0, 0x12, 0xc0, 0x12, 0xc0,                  /* UDP, 4800 -> 4800 */
		0,  0, 0, 0, 0,    0,    0,    0,    0, 0,  0xff, 0xff, 0,   0,  0, 0,
	};
	uint8_t out[PCP_MAP_LEN + 8];
	struct in_addr client;

	(void)state;
	inet_pton(AF_INET, "198.19.2.2", &client);
	assert_int_equal(
	    portmap_pcp_map_encode(out, sizeof(out), &client, NONCE, 17, 4800, 4800, 7200),
	    PCP_MAP_LEN);
	assert_memory_equal(out, want, PCP_MAP_LEN);
	assert_int_equal(portmap_pcp_map_encode(out, PCP_MAP_LEN - 1, &client, NONCE, 17, 1, 1, 1),
			 0);
	/* TCP: protocol 6 in the payload, nothing else changes; no other protocol is encoded. */
	assert_int_equal(
	    portmap_pcp_map_encode(out, sizeof(out), &client, NONCE, 6, 4800, 4800, 7200),
	    PCP_MAP_LEN);
	assert_int_equal(out[36], 6);
	assert_memory_equal(out, want, 36);
	assert_memory_equal(out + 37, want + 37, PCP_MAP_LEN - 37);
	assert_int_equal(portmap_pcp_map_encode(out, sizeof(out), &client, NONCE, 58, 1, 1, 1), 0);
}

static void
test_portmap_natpmp_encode_layout(void **state)
{
	static const uint8_t map[NATPMP_MAP_REQUEST_LEN] = { 0,    1,    0, 0, 0x12, 0xc0,
							     0x12, 0xc0, 0, 0, 0x1c, 0x20 };
	uint8_t out[16];

	(void)state;
	assert_int_equal(portmap_natpmp_address_encode(out, sizeof(out)), 2);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0);
	assert_int_equal(portmap_natpmp_map_encode(out, sizeof(out), 17, 4800, 4800, 7200), 12);
	assert_memory_equal(out, map, sizeof(map));
	assert_int_equal(portmap_natpmp_map_encode(out, 11, 17, 4800, 4800, 7200), 0);
	/* TCP: opcode 2, the rest the same; any other protocol: nothing. */
	assert_int_equal(portmap_natpmp_map_encode(out, sizeof(out), 6, 4800, 4800, 7200), 12);
	assert_int_equal(out[1], NATPMP_OP_MAP_TCP);
	assert_memory_equal(out + 2, map + 2, sizeof(map) - 2);
	assert_int_equal(portmap_natpmp_map_encode(out, sizeof(out), 1, 4800, 4800, 7200), 0);
	assert_int_equal(portmap_natpmp_map_opcode(17), NATPMP_OP_MAP_UDP);
	assert_int_equal(portmap_natpmp_map_opcode(6), NATPMP_OP_MAP_TCP);
	assert_int_equal(portmap_natpmp_map_opcode(0), 0);
	assert_int_equal(portmap_natpmp_address_encode(out, 1), 0);
}

/* A PCP MAP response: success, 198.18.0.202:4800 for 7200 s, epoch 99. */
static size_t
pcp_map_response(uint8_t *b, uint8_t result)
{
	memset(b, 0, PCP_MAP_LEN);
	b[0] = 2;
	b[1] = 0x81;
	b[3] = result;
	b[6] = 0x1c;
	b[7] = 0x20;
	b[11] = 99;
	memcpy(b + 24, NONCE, PCP_NONCE_LEN);
	b[36] = 17;
	b[40] = 0x12;
	b[41] = 0xc0;
	b[42] = 0x12;
	b[43] = 0xc0;
	b[54] = 0xff;
	b[55] = 0xff;
	b[56] = 198;
	b[57] = 18;
	b[58] = 0;
	b[59] = 202;
	return PCP_MAP_LEN;
}

static void
test_portmap_reply_decode_pcp_map(void **state)
{
	uint8_t b[PCP_MAP_LEN + 8];
	struct portmap_reply r;
	char addr[INET_ADDRSTRLEN];

	(void)state;
	assert_true(portmap_reply_decode(b, pcp_map_response(b, 0), &r));
	assert_int_equal(r.version, PCP_VERSION);
	assert_int_equal(r.opcode, PCP_OP_MAP);
	assert_int_equal(r.result, 0);
	assert_int_equal(r.lifetime, 7200);
	assert_int_equal(r.epoch, 99);
	assert_memory_equal(r.nonce, NONCE, PCP_NONCE_LEN);
	assert_int_equal(r.protocol, 17);
	assert_int_equal(r.internal_port, 4800);
	assert_int_equal(r.external_port, 4800);
	assert_true(r.has_external);
	assert_string_equal(inet_ntop(AF_INET, &r.external, addr, sizeof(addr)), "198.18.0.202");
	/* An error still decodes (the client must know), without an address to use. */
	assert_true(portmap_reply_decode(b, pcp_map_response(b, 8), &r));
	assert_int_equal(r.result, 8);
	assert_false(r.has_external);
	assert_string_equal(portmap_result_name(PCP_VERSION, 8), "no resources");
	/* An option after the payload: taken (and ignored) when it fits exactly. */
	pcp_map_response(b, 0);
	memcpy(b + PCP_MAP_LEN, "\x01\x00\x00\x04\xaa\xbb\xcc\xdd", 8);
	assert_true(portmap_reply_decode(b, PCP_MAP_LEN + 8, &r));
	b[PCP_MAP_LEN + 3] = 8; /* longer than what is left */
	assert_false(portmap_reply_decode(b, PCP_MAP_LEN + 8, &r));
}

static void
test_portmap_reply_decode_pcp_bad(void **state)
{
	uint8_t b[PCP_MAP_LEN + 4];
	struct portmap_reply r;

	(void)state;
	pcp_map_response(b, 0);
	for (size_t n = 0; n < PCP_MAP_LEN; n++)
		assert_false(portmap_reply_decode(b, n, &r)); /* every truncation */
	b[1] = 0x01;                                          /* a request, not a response */
	assert_false(portmap_reply_decode(b, PCP_MAP_LEN, &r));
	pcp_map_response(b, 0);
	b[0] = 3; /* an unknown version */
	assert_false(portmap_reply_decode(b, PCP_MAP_LEN, &r));
	pcp_map_response(b, 0);
	b[1] = 0x82; /* success for an opcode we never send */
	assert_false(portmap_reply_decode(b, PCP_MAP_LEN, &r));
	pcp_map_response(b, 0);
	b[PCP_MAP_LEN] = 0;
	assert_false(portmap_reply_decode(b, PCP_MAP_LEN + 1, &r)); /* not a multiple of 4 */
	pcp_map_response(b, 0);
	b[54] = 0; /* an IPv6 external address: decodes, no IPv4 to use */
	assert_true(portmap_reply_decode(b, PCP_MAP_LEN, &r));
	assert_false(r.has_external);
}

static void
test_portmap_reply_decode_natpmp(void **state)
{
	static const uint8_t addr[] = { 0, 128, 0, 0, 0, 0, 0, 7, 198, 18, 0, 202 };
	static const uint8_t map[] = { 0,    129,  0,    0,    0, 0, 0,    7,
				       0x12, 0xc0, 0x13, 0x00, 0, 0, 0x0e, 0x10 };
	static const uint8_t refused[] = { 0, 129, 0, 1, 0, 0, 0, 7 }; /* unsupported version */
	uint8_t b[32];
	struct portmap_reply r;

	(void)state;
	assert_true(portmap_reply_decode(addr, sizeof(addr), &r));
	assert_int_equal(r.version, NATPMP_VERSION);
	assert_int_equal(r.opcode, NATPMP_OP_ADDRESS);
	assert_int_equal(r.epoch, 7);
	assert_true(r.has_external);
	assert_int_equal(ntohl(r.external.s_addr), 0xc61200ca);
	assert_true(portmap_reply_decode(map, sizeof(map), &r));
	assert_int_equal(r.opcode, NATPMP_OP_MAP_UDP);
	assert_int_equal(r.internal_port, 4800);
	assert_int_equal(r.external_port, 4864);
	assert_int_equal(r.lifetime, 3600);
	assert_true(portmap_reply_decode(refused, sizeof(refused), &r));
	assert_int_equal(r.result, PORTMAP_RESULT_UNSUPP_VERSION);
	assert_string_equal(portmap_result_name(NATPMP_VERSION, 1), "unsupported version");
	/* Wrong lengths, a request. */
	assert_false(portmap_reply_decode(addr, sizeof(addr) - 1, &r));
	memcpy(b, addr, sizeof(addr));
	b[12] = 0;
	assert_false(portmap_reply_decode(b, sizeof(addr) + 1, &r));
	assert_false(portmap_reply_decode(map, sizeof(map) - 1, &r));
	memcpy(b, map, sizeof(map));
	b[1] = 1;
	assert_false(portmap_reply_decode(b, sizeof(map), &r));
	/* A TCP mapping's answer (opcode 2 + 128): said as such; 3 + 128 is no opcode. */
	b[1] = 130;
	assert_true(portmap_reply_decode(b, sizeof(map), &r));
	assert_int_equal(r.opcode, NATPMP_OP_MAP_TCP);
	assert_int_equal(r.protocol, PORTMAP_IPPROTO_TCP);
	assert_int_equal(r.external_port, 4864);
	b[1] = 131;
	assert_false(portmap_reply_decode(b, sizeof(map), &r));
	assert_true(portmap_reply_decode(map, sizeof(map), &r));
	assert_int_equal(r.protocol, PORTMAP_IPPROTO_UDP);
	assert_false(portmap_reply_decode(refused, 7, &r));
	assert_false(portmap_reply_decode(b, 0, &r));
}

static void
test_portmap_gateway_parse_default_route(void **state)
{
	static const char table[] =
	    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	    "eth0\t00000000\t010213C6\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
	    "eth0\t000213C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	    "wlan0\t00000000\t010113C6\t0003\t0\t0\t50\t00000000\t0\t0\t0\n"
	    "tun0\t00000000\t010013C6\t0001\t0\t0\t1\t00000000\t0\t0\t0\n";
	struct in_addr gw;
	char addr[INET_ADDRSTRLEN];

	(void)state;
	/* The lowest metric with a gateway (tun0 has none: not flagged RTF_GATEWAY). */
	assert_true(portmap_gateway_parse(table, strlen(table), &gw));
	inet_ntop(AF_INET, &gw, addr, sizeof(addr));
	if (htonl(1) == 1)
		assert_string_equal(addr, "1.1.19.198"); /* printed in host order: big-endian */
	else
		assert_string_equal(addr, "198.19.1.1");
	assert_false(portmap_gateway_parse(table, 90, &gw)); /* the header and half a line */
	assert_false(portmap_gateway_parse("", 0, &gw));
	assert_false(portmap_gateway_parse("eth0 00000000 zz 3 0 0 1 0\n", 27, &gw));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_portmap_pcp_map_encode_layout),
		cmocka_unit_test(test_portmap_natpmp_encode_layout),
		cmocka_unit_test(test_portmap_reply_decode_pcp_map),
		cmocka_unit_test(test_portmap_reply_decode_pcp_bad),
		cmocka_unit_test(test_portmap_reply_decode_natpmp),
		cmocka_unit_test(test_portmap_gateway_parse_default_route),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
