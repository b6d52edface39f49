// SPDX-License-Identifier: MIT
/*
 * Index <-> address arithmetic for the overlay pools.
 */
#include "overlay/pool.h"

#include <errno.h>
#include <string.h>

static uint32_t
pool_be32(const uint8_t *a)
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

static void
pool_put_be32(uint8_t *a, uint32_t v)
{
	a[0] = (uint8_t)(v >> 24);
	a[1] = (uint8_t)(v >> 16);
	a[2] = (uint8_t)(v >> 8);
	a[3] = (uint8_t)v;
}

int
pool_init(struct pool *p, const uint8_t base4[4], unsigned len4, const uint8_t base6[16],
	  unsigned len6)
{
	uint32_t host4;

	if (len4 < 8 || len4 > 30 || len6 < 16 || len6 > 96)
		return -EINVAL;
	host4 = (uint32_t)((1ull << (32 - len4)) - 1);
	if (pool_be32(base4) & host4)
		return -EINVAL;
	for (unsigned bit = len6; bit < 128; bit++)
		if (base6[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	memcpy(p->base4, base4, 4);
	memcpy(p->base6, base6, 16);
	p->len4 = len4;
	p->len6 = len6;
	/* The last IPv4 address is the broadcast of the prefix: never hand it out. */
	p->max_index = host4 - 1;
	return 0;
}

void
pool_addr4(const struct pool *p, uint32_t index, uint8_t out[4])
{
	pool_put_be32(out, pool_be32(p->base4) + index);
}

void
pool_addr6(const struct pool *p, uint32_t index, uint8_t out[16])
{
	memcpy(out, p->base6, 16);
	pool_put_be32(out + 12, index);
}

uint32_t
pool_index4(const struct pool *p, const uint8_t addr[4])
{
	uint32_t a = pool_be32(addr), base = pool_be32(p->base4);
	uint32_t mask = ~(uint32_t)((1ull << (32 - p->len4)) - 1);
	uint32_t index = a - base;

	if ((a & mask) != base || index == 0 || index > p->max_index)
		return 0;
	return index;
}

uint32_t
pool_index6(const struct pool *p, const uint8_t addr[16])
{
	uint32_t index;

	/* Everything above the low 32 bits must match the base (prefix and zero padding). */
	if (memcmp(addr, p->base6, 12))
		return 0;
	index = pool_be32(addr + 12);
	if (index == 0 || index > p->max_index)
		return 0;
	return index;
}
