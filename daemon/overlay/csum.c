/* SPDX-License-Identifier: MIT */
/*
 * The Internet checksum and its incremental update (see csum.h). Sums are kept in 32 bits and
 * folded when a caller gets them back, so no caller has to think about end-around carries.
 */
#include "overlay/csum.h"

#include <string.h>

static uint32_t
csum_fold16(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint32_t)sum;
}

static uint16_t
csum_load16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/*
 * One's-complement addition does not care about byte order (RFC 1071 §2(B)): the buffer is
 * summed in the host's order, eight bytes per load, and the folded result swapped once at the
 * end. This is the packet path's only full pass over payloads (TUN segmentation and
 * coalescing), so it runs at memory speed rather than two bytes per step.
 */
uint32_t
csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t acc = 0, a[4] = { 0 };
	uint32_t folded;

	/* Four independent sums, so the additions of one 32-byte step can run side by side. */
	for (; len >= 32; p += 32, len -= 32) {
		for (int i = 0; i < 4; i++) {
			uint64_t w;

			memcpy(&w, p + 8 * i, sizeof(w));
			a[i] += (w & 0xffffffffu) + (w >> 32);
		}
	}
	acc = a[0] + a[1] + a[2] + a[3];
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, p, sizeof(w));
		acc += (w & 0xffffffffu) + (w >> 32);
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, p, sizeof(w));
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, sizeof(w));
		acc += w;
		p += 2;
		len -= 2;
	}
	/* The odd last byte is the high half of a big-endian word: where it sits in memory. */
	if (len) {
		uint16_t w = 0;

		memcpy(&w, p, 1);
		acc += w;
	}
	folded = csum_fold16(acc);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	folded = (uint32_t)__builtin_bswap16((uint16_t)folded);
#endif
	return csum_fold16((uint64_t)folded + sum);
}

uint16_t
csum_fold(uint32_t sum)
{
	return (uint16_t)~csum_fold16(sum);
}

uint32_t
csum_delta(const void *old_bytes, const void *new_bytes, size_t len, uint32_t delta)
{
	const uint8_t *o = old_bytes, *n = new_bytes;
	uint64_t acc = delta;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += (uint16_t)~csum_load16(o + i) + (uint64_t)csum_load16(n + i);
	return csum_fold16(acc);
}

void
csum_adjust(uint8_t *field, uint32_t delta)
{
	uint16_t hc = (uint16_t)~csum_load16(field);
	uint16_t res = (uint16_t)~csum_fold16((uint64_t)hc + delta);

	field[0] = (uint8_t)(res >> 8);
	field[1] = (uint8_t)res;
}
