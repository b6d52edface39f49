// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the port-mapping parsers (direct/portmap_wire.c): any datagram as a PCP
 * or NAT-PMP response (UDP and TCP mappings: the corpus has both), and any text as
 * /proc/net/route. A response the decoder takes must be
 * one of the shapes it promises: a known version, a length that fits it, an external address
 * only with success.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "direct/portmap_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct portmap_reply r;
	struct in_addr gw;

	if (portmap_reply_decode(data, size, &r)) {
		if (r.version == PCP_VERSION &&
		    (size < PCP_HEADER_LEN || size > PCP_MAX_LEN || size % 4 ||
		     (r.opcode == PCP_OP_MAP && size < PCP_MAP_LEN)))
			abort();
		if (r.version != PCP_VERSION && r.version != NATPMP_VERSION)
			abort();
		if (r.has_external && r.result != PORTMAP_RESULT_SUCCESS)
			abort();
		/* A NAT-PMP mapping's success names its protocol by the opcode: UDP or TCP. */
		if (r.version == NATPMP_VERSION && r.result == PORTMAP_RESULT_SUCCESS &&
		    r.opcode != NATPMP_OP_ADDRESS &&
		    portmap_natpmp_map_opcode(r.protocol) != r.opcode)
			abort();
		(void)portmap_result_name(r.version, r.result);
	}
	if (portmap_gateway_parse((const char *)data, size, &gw) && !gw.s_addr)
		abort();
	return 0;
}
