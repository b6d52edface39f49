// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the data frame header decoder: whatever it accepts must re-encode to the
 * very header bytes it was decoded from (the header is the AEAD's associated data, so two
 * spellings of one header would be a bug).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_hdr h;
	uint8_t out[FRAME_HDR_LEN];

	if (!frame_hdr_decode(data, size, &h))
		return 0;
	if (size < FRAME_OVERHEAD || size > FRAME_MAX_LEN || h.receiver == 0)
		abort();
	frame_hdr_encode(out, &h);
	if (memcmp(out, data, FRAME_HDR_LEN) != 0)
		abort();
	return 0;
}
