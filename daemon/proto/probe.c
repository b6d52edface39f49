// SPDX-License-Identifier: MIT
/*
 * Path probes (probe.h).
 */
#include "proto/probe.h"

void
probe_encode(uint8_t out[PROBE_LEN], uint8_t type, uint32_t seq)
{
	out[0] = type;
	out[1] = (uint8_t)(seq >> 24);
	out[2] = (uint8_t)(seq >> 16);
	out[3] = (uint8_t)(seq >> 8);
	out[4] = (uint8_t)seq;
}

bool
probe_decode(const uint8_t *payload, size_t len, uint8_t *type, uint32_t *seq)
{
	if (len != PROBE_LEN || (payload[0] != PROBE_REQUEST && payload[0] != PROBE_ANSWER))
		return false;
	*type = payload[0];
	*seq = (uint32_t)payload[1] << 24 | (uint32_t)payload[2] << 16 | (uint32_t)payload[3] << 8 |
	       payload[4];
	return true;
}
