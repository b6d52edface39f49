// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the path probe codec (proto/probe.c): any payload. One the decoder takes
 * re-encodes to exactly the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[PROBE_LEN], type;
	uint32_t seq;

	if (probe_decode(data, size, &type, &seq)) {
		probe_encode(out, type, seq);
		if (size != PROBE_LEN || memcmp(out, data, size))
			abort();
	}
	return 0;
}
