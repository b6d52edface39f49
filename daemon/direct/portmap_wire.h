/* SPDX-License-Identifier: MIT */
/*
 * The wire formats of the two router port-mapping protocols spoken over UDP to the default
 * gateway's port 5351 (portmap.h): PCP (RFC 6887, version 2: the MAP opcode) and its
 * predecessor NAT-PMP (RFC 6886, version 0: the external-address and UDP-mapping opcodes),
 * and the one file they need from the host, the kernel's routing table (/proc/net/route), for
 * the gateway. Encoders write into a caller's buffer; decoders read untrusted bytes through a
 * bounded cursor and say false for anything that is not exactly a well-formed response.
 *
 *   PCP request   version 2 | R=0, opcode | reserved 2 | lifetime u32 | client address 16
 *                 MAP: nonce 12 | protocol u8 | reserved 3 | internal port u16
 *                      | suggested external port u16 | suggested external address 16
 *   PCP response  version 2 | R=1, opcode | reserved u8 | result u8 | lifetime u32 | epoch u32
 *                 | reserved 12, then (MAP) the same 36-byte payload with the assigned port and
 *                 address; options may follow (code u8, reserved u8, length u16, data padded
 *                 to 4): checked for shape, ignored. At most 1100 bytes, a multiple of 4.
 *   NAT-PMP       request address: 0 | 0; map UDP (TCP): 0 | 1 (2) | reserved 2 | internal
 *                 port u16 | suggested external port u16 | lifetime u32.
 *                 response: 0 | 128 + opcode | result u16 | epoch u32, then the external
 *                 address (4), or internal port u16 | external port u16 | lifetime u32.
 *
 * A mapping is of one protocol, UDP (17) or TCP (6): PCP names it in the MAP payload, NAT-PMP
 * by the opcode (1 UDP, 2 TCP); a decoded NAT-PMP map answer says which in `protocol` too.
 *
 * Addresses in PCP are 16 bytes, IPv4 as ::ffff:a.b.c.d. A NAT-PMP server answers a PCP
 * request with a NAT-PMP "unsupported version": that is how a client learns PCP is not there.
 */
#ifndef VERTEX_PORTMAP_WIRE_H
#define VERTEX_PORTMAP_WIRE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PORTMAP_SERVER_PORT = 5351,
	PCP_VERSION = 2,
	NATPMP_VERSION = 0,
	PCP_HEADER_LEN = 24,
	PCP_MAP_PAYLOAD_LEN = 36,
	PCP_MAP_LEN = PCP_HEADER_LEN + PCP_MAP_PAYLOAD_LEN,
	PCP_NONCE_LEN = 12,
	PCP_MAX_LEN = 1100,
	PCP_OP_ANNOUNCE = 0,
	PCP_OP_MAP = 1,
	NATPMP_OP_ADDRESS = 0,
	NATPMP_OP_MAP_UDP = 1,
	NATPMP_OP_MAP_TCP = 2,
	PORTMAP_IPPROTO_TCP = 6,
	PORTMAP_IPPROTO_UDP = 17,
	NATPMP_ADDRESS_REQUEST_LEN = 2,
	NATPMP_MAP_REQUEST_LEN = 12,
	NATPMP_ADDRESS_RESPONSE_LEN = 12,
	NATPMP_MAP_RESPONSE_LEN = 16,
	NATPMP_ERROR_MIN_LEN = 8, /* version, opcode, result, epoch */
	PORTMAP_RESULT_SUCCESS = 0,
	PORTMAP_RESULT_UNSUPP_VERSION = 1, /* the same code in both protocols */
};

/* A decoded response of either protocol (only the fields its opcode carries are set). */
struct portmap_reply {
	uint8_t version; /* PCP_VERSION or NATPMP_VERSION */
	uint8_t opcode;  /* without the response bit */
	uint16_t result;
	uint32_t lifetime, epoch;
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t protocol;
	uint16_t internal_port, external_port;
	struct in_addr external;
	bool has_external; /* an IPv4 external address came with it */
};

/*
 * Each returns the length written, or 0 if cap is too small (or protocol is neither
 * PORTMAP_IPPROTO_UDP nor PORTMAP_IPPROTO_TCP).
 */
size_t portmap_pcp_map_encode(uint8_t *out, size_t cap, const struct in_addr *client,
			      const uint8_t nonce[PCP_NONCE_LEN], uint8_t protocol,
			      uint16_t internal_port, uint16_t suggested_port, uint32_t lifetime);
size_t portmap_natpmp_address_encode(uint8_t *out, size_t cap);
size_t portmap_natpmp_map_encode(uint8_t *out, size_t cap, uint8_t protocol, uint16_t internal_port,
				 uint16_t suggested_port, uint32_t lifetime);
/* The NAT-PMP map opcode of a protocol (NATPMP_OP_MAP_UDP or _TCP), 0 for any other. */
uint8_t portmap_natpmp_map_opcode(uint8_t protocol);
/* A response of either protocol (told apart by its first byte); false if malformed. */
bool portmap_reply_decode(const uint8_t *buf, size_t len, struct portmap_reply *out);
/*
 * The default IPv4 gateway in the text of /proc/net/route (the lowest metric of the routes
 * to 0.0.0.0/0 that are up and have a gateway); false if none.
 */
bool portmap_gateway_parse(const char *text, size_t len, struct in_addr *gw);
/* Protocol and result names for logs. */
const char *portmap_result_name(uint8_t version, uint16_t result);

#endif
