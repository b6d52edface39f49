// SPDX-License-Identifier: MIT
/*
 * The data frame header codec (frame.h): 16 big-endian bytes that are also the AEAD's associated
 * data. Decoding is the first, cheapest filter on the packet path, so it rejects everything that
 * cannot be a frame of ours before any lookup or crypto: wrong size, unknown type, non-zero
 * reserved bytes (kept zero so they can carry meaning later), and receiver index 0 (never
 * assigned, so it can mean "none" in the session table).
 */
#include "frame.h"

#include "core/rbuf.h"
#include "core/wbuf.h"

void
frame_hdr_encode(uint8_t out[FRAME_HDR_LEN], const struct frame_hdr *h)
{
	struct wbuf w;

	wbuf_init(&w, out, FRAME_HDR_LEN);
	wbuf_put_u8(&w, h->type);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, 0);
	wbuf_put_u32(&w, h->receiver);
	wbuf_put_u64(&w, h->counter);
}

bool
frame_hdr_decode(const uint8_t *buf, size_t len, struct frame_hdr *h)
{
	struct rbuf r;
	uint8_t type, res8;
	uint16_t res16;
	uint32_t receiver;
	uint64_t counter;

	if (len < FRAME_OVERHEAD || len > FRAME_MAX_LEN)
		return false;
	rbuf_init(&r, buf, len);
	rbuf_get_u8(&r, &type);
	rbuf_get_u8(&r, &res8);
	rbuf_get_u16(&r, &res16);
	rbuf_get_u32(&r, &receiver);
	if (!rbuf_get_u64(&r, &counter))
		return false;
	if ((type != FRAME_DATA && type != FRAME_DATA_AES) || res8 != 0 || res16 != 0 ||
	    receiver == 0)
		return false;
	h->type = type;
	h->receiver = receiver;
	h->counter = counter;
	return true;
}
