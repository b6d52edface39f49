/* SPDX-License-Identifier: MIT */
/*
 * The hairpin probe (direct/hairpin.h): a datagram the agent sends from its data socket to its
 * own server-reflexive address and port. If the NAT hairpins (translates a datagram from its
 * inside to its own public address back to the inside host the mapping belongs to), it comes
 * back to the same socket; otherwise it is lost.
 *
 *   probe     type u8 (0x17) | reserved 3 bytes (0) | nonce u64      (HAIRPIN_LEN, 12 bytes)
 *
 * The first byte is neither a data frame's type (1, proto/frame.h), nor reflection's (0x10,
 * 0x11, proto/reflect.h), nor the relay datagrams' (0x12..0x16, proto/relayudp.h), so one socket
 * carries them all and a datagram is told apart by its first byte alone. The nonce is random per
 * test: only a datagram with the nonce of the test running counts, so nobody off the path can
 * make the agent believe its NAT hairpins (and the belief is only a diagnostic: no path is ever
 * taken on its word).
 */
#ifndef VERTEX_PROTO_HAIRPIN_H
#define VERTEX_PROTO_HAIRPIN_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	HAIRPIN_PROBE = 0x17,
	HAIRPIN_OFF_TYPE = 0,
	HAIRPIN_OFF_RESERVED = 1,
	HAIRPIN_OFF_NONCE = 4,
	HAIRPIN_LEN = 12,
};
static_assert(HAIRPIN_OFF_NONCE + 8 == HAIRPIN_LEN, "hairpin probe layout");

void hairpin_probe_encode(uint8_t out[HAIRPIN_LEN], uint64_t nonce);
/* False unless exactly a probe (length, type, reserved bytes zero) with a non-zero nonce. */
bool hairpin_probe_decode(const uint8_t *buf, size_t len, uint64_t *nonce);
/* Is this datagram (its first byte) a hairpin probe, well formed or not? */
bool hairpin_is_probe(const uint8_t *buf, size_t len);

#endif
