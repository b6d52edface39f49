/* SPDX-License-Identifier: MIT */
/*
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624). All values are 16-bit
 * words in network order read as integers: the checksum field bytes {0x12, 0x34} are 0x1234.
 *
 * csum_partial/csum_fold compute a checksum from scratch: for tests and for code that builds
 * packets. The packet path uses csum_delta/csum_adjust instead, which cost a few additions per
 * rewritten field whatever the packet size, and which keep a corrupt checksum corrupt (a full
 * recomputation would bless a packet damaged in transit).
 */
#ifndef VERTEX_CSUM_H
#define VERTEX_CSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Add buf's 16-bit big-endian words to sum; an odd last byte is padded with zero. The result is
 * folded to 16 bits (but not complemented) and can be passed back in as sum, so a pseudo-header
 * and a payload can be summed in two calls; every chunk but the last must have even length.
 */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);

/* Fold a sum to 16 bits and complement it: the value to store in a checksum field. */
uint16_t csum_fold(uint32_t sum);

/*
 * Accumulate into delta the change of len bytes (even, at an even offset of the checksummed data)
 * from old_bytes to new_bytes: sum(~m) + sum(m') of RFC 1624 eqn. 3. The result stays folded to
 * 16 bits, so deltas can be chained and added.
 */
uint32_t csum_delta(const void *old_bytes, const void *new_bytes, size_t len, uint32_t delta);

/* Apply a delta to the checksum field at field[0..1]: HC' = ~(~HC + delta) (RFC 1624 eqn. 3). */
void csum_adjust(uint8_t *field, uint32_t delta);

#endif
