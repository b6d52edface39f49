// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the relay's datagrams (proto/relayudp.c): any datagram, decoded with a
 * fixed key. A control message the decoder takes must re-encode to exactly the same bytes
 * (one encoding each, the MAC included); a header it takes must be of one of our types.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/relayudp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[RUDP_KEY_LEN] = { 7 };
	uint8_t out[RUDP_PAIR_MAX_LEN];
	struct rudp_hdr h;
	struct rudp_ctl m;

	if (rudp_hdr_decode(data, size, &h) && !rudp_is_rudp(data, size))
		abort();
	if (rudp_ctl_decode(data, size, key, &m)) {
		size_t len = rudp_ctl_encode(out, sizeof(out), &m, key);

		if (len != size || memcmp(out, data, size))
			abort();
	}
	return 0;
}
