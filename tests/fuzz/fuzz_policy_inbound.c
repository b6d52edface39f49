// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the inbound packet policy (policy/inbound.c): any bytes, against a peer
 * allowed one TCP and one UDP port, a peer allowed everything and an outbound-only one. Nothing
 * may read out of bounds; an outbound-only peer never gets a SYN or a datagram accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/inbound.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy_peer some, all, none;
	uint8_t *copy = malloc(size ? size : 1);
	enum policy_verdict v;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memset(&some, 0, sizeof(some));
	some.ports[0] = (struct policy_port){ .proto = 6, .lo = 22, .hi = 22 };
	some.ports[1] = (struct policy_port){ .proto = 17, .lo = 53, .hi = 60 };
	some.nports = 2;
	some.icmp_echo = true;
	memset(&all, 0, sizeof(all));
	all.all = true;
	memset(&none, 0, sizeof(none));
	none.outbound_only = true;
	(void)policy_inbound(&some, copy, size);
	(void)policy_inbound(&all, copy, size);
	v = policy_inbound(&none, copy, size);
	if (v == POLICY_ACCEPT && size > 0 && copy[0] >> 4 == 4 && size >= 20) {
		size_t hl = (size_t)(copy[0] & 15) * 4;

		/* Accepted from an outbound-only peer: never UDP, never a bare SYN. */
		if (copy[9] == 17 || (copy[9] == 6 && (copy[hl + 13] & 0x12) == 0x02))
			abort();
	}
	free(copy);
	return 0;
}
