// SPDX-License-Identifier: MIT
/*
 * The hairpin probe codec (hairpin.h): one fixed 12-byte datagram, its reserved bytes zero so
 * it has one encoding.
 */
#include "proto/hairpin.h"

#include <string.h>

#include "core/rbuf.h"
#include "core/wbuf.h"

void
hairpin_probe_encode(uint8_t out[HAIRPIN_LEN], uint64_t nonce)
{
	struct wbuf w;

	memset(out, 0, HAIRPIN_LEN);
	wbuf_init(&w, out, HAIRPIN_LEN);
	wbuf_put_u8(&w, HAIRPIN_PROBE);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, 0);
	wbuf_put_u64(&w, nonce);
}

bool
hairpin_probe_decode(const uint8_t *buf, size_t len, uint64_t *nonce)
{
	struct rbuf r;
	uint8_t type, reserved[3];

	if (len != HAIRPIN_LEN)
		return false;
	rbuf_init(&r, buf, len);
	if (!rbuf_get_u8(&r, &type) || type != HAIRPIN_PROBE ||
	    !rbuf_get_bytes(&r, reserved, sizeof(reserved)) ||
	    (reserved[0] | reserved[1] | reserved[2]) || !rbuf_get_u64(&r, nonce))
		return false;
	return *nonce != 0;
}

bool
hairpin_is_probe(const uint8_t *buf, size_t len)
{
	return len >= 1 && buf[0] == HAIRPIN_PROBE;
}
