/* SPDX-License-Identifier: MIT */
/*
 * The Internet checksum and its incremental update (see csum.h). Sums are kept in 32 bits and
 * folded when a caller gets them back, so no caller has to think about end-around carries.
 */
#include "overlay/csum.h"

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

uint32_t
csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t acc = sum;
	size_t i;

	/* A 64-bit accumulator cannot overflow for any buffer that fits in memory. */
	for (i = 0; i + 1 < len; i += 2)
		acc += csum_load16(p + i);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	return csum_fold16(acc);
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
