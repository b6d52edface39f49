// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the control-channel message decoder (proto/ctlmsg.c). The first two
 * input bytes (big-endian) pick the record type, the rest is the body. A body the decoder takes
 * must re-encode to exactly the same bytes (the encoding is canonical, see ctlmsg.c) and must fit
 * the limit the record reader enforces for its type; a body it refuses must not crash it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctlmsg.h"
#include "proto/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[RECORD_BODY_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctlmsg m;
	uint16_t type;
	int len;

	if (size < 2)
		return 0;
	type = (uint16_t)(data[0] << 8 | data[1]);
	data += 2;
	size -= 2;
	if (!ctlmsg_decode(type, data, size, &m))
		return 0;
	if (!ctlmsg_is_known(type) || m.type != type || size > record_body_max(type))
		abort();
	len = ctlmsg_encode(&m, out, sizeof(out));
	if (len < 0 || (size_t)len != size || memcmp(out, data, size) != 0)
		abort();
	/* exactly the room it needs is enough, one byte less is not */
	if (ctlmsg_encode(&m, out, size) != len)
		abort();
	if (size > 0 && ctlmsg_encode(&m, out, size - 1) >= 0)
		abort();
	return 0;
}
