// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the relay's datagrams (proto/relayudp.c): any datagram. A control message
 * the decoder takes must re-encode to exactly the same bytes but the MAC (one encoding each; the
 * MAC is the callers', crypto/aead.h); a header it takes must be of one of our types.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/relayudp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[RUDP_PAIR_MAX_LEN];
	struct rudp_hdr h;
	struct rudp_ctl m;

	if (rudp_hdr_decode(data, size, &h) && !rudp_is_rudp(data, size))
		abort();
	if (rudp_ctl_decode(data, size, &m)) {
		size_t len = rudp_ctl_encode(out, sizeof(out), &m);

		if (len != size || memcmp(out, data, size - RUDP_MAC_LEN))
			abort();
	}
	return 0;
}
