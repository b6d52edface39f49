/* SPDX-License-Identifier: MIT */
/*
 * Data frames (DESIGN §4.3): the same bytes on every path (a UDP datagram, or the body of a
 * FRAME record on a stream path).
 *
 *   0       1               4               8                              16
 *   +-------+---------------+---------------+------------------------------+----------------+
 *   | type  | reserved (0)  | receiver idx  | counter (64-bit, big-endian) | ciphertext+tag |
 *   +-------+---------------+---------------+------------------------------+----------------+
 *
 * The 16-byte header is the AEAD's associated data. A data frame with an empty payload is a
 * keepalive. The type names the AEAD too: FRAME_DATA is sealed with ChaCha20-Poly1305,
 * FRAME_DATA_AES with AES-256-GCM under a key of its own (session/session.h says who may send
 * which); nothing else differs. The receiver index is chosen by the receiver (random, non-zero) and
 * names its session key; it is all the receiver needs to find the session without trying keys.
 */
#ifndef VERTEX_FRAME_H
#define VERTEX_FRAME_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum frame_type {
	FRAME_DATA = 1,     /* ChaCha20-Poly1305 */
	FRAME_DATA_AES = 2, /* AES-256-GCM */
};

enum {
	FRAME_OFF_TYPE = 0,
	FRAME_OFF_RESERVED = 1,
	FRAME_OFF_RECEIVER = 4,
	FRAME_OFF_COUNTER = 8,
	FRAME_HDR_LEN = 16,
	FRAME_TAG_LEN = 16,
	FRAME_OVERHEAD = FRAME_HDR_LEN + FRAME_TAG_LEN,
	/* Largest frame we accept: header + a PKT_DATA_MAX-sized inner packet + tag. */
	FRAME_MAX_LEN = 2048,
};
static_assert(FRAME_OFF_COUNTER + 8 == FRAME_HDR_LEN, "frame header layout");

struct frame_hdr {
	uint8_t type;
	uint32_t receiver;
	uint64_t counter;
};

void frame_hdr_encode(uint8_t out[FRAME_HDR_LEN], const struct frame_hdr *h);
/*
 * Decodes the header of a received frame of len bytes. False (a counted drop for the caller) if
 * it is shorter than FRAME_OVERHEAD, longer than FRAME_MAX_LEN, of an unknown type, has
 * non-zero reserved bytes, or a zero receiver index.
 */
bool frame_hdr_decode(const uint8_t *buf, size_t len, struct frame_hdr *h);

#endif
