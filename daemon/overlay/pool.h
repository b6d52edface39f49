/* SPDX-License-Identifier: MIT */
/*
 * Overlay address pools (DESIGN §5). Every address the agent hands out is base + index in both
 * pools: index 1 is the agent itself, peers get 2, 3, ... (stored per identity, so stable across
 * restarts, see store_peer_index()). The same index names a peer in IPv4 and IPv6, and the packet
 * path turns a destination address back into that index with arithmetic, not a search.
 */
#ifndef VERTEX_POOL_H
#define VERTEX_POOL_H

#include <stdbool.h>
#include <stdint.h>

enum { POOL_SELF_INDEX = 1, POOL_FIRST_PEER_INDEX = 2 };

struct pool {
	uint8_t base4[4];
	unsigned len4;
	uint8_t base6[16];
	unsigned len6;
	uint32_t max_index; /* largest index valid in both pools */
};

/* len4 in 8..30, len6 in 16..96 (host part at least 32 bits); base host bits must be zero. */
int pool_init(struct pool *p, const uint8_t base4[4], unsigned len4, const uint8_t base6[16],
	      unsigned len6);
void pool_addr4(const struct pool *p, uint32_t index, uint8_t out[4]);
void pool_addr6(const struct pool *p, uint32_t index, uint8_t out[16]);
/* The index of an address inside the pool, or 0 if it is outside or not a valid index. */
uint32_t pool_index4(const struct pool *p, const uint8_t addr[4]);
uint32_t pool_index6(const struct pool *p, const uint8_t addr[16]);

#endif
