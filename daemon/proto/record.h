/* SPDX-License-Identifier: MIT */
/*
 * Records on a reliable stream (the peer's TLS connection now; the control channel and relay
 * later): a 6-byte header, type then body length, both big-endian, then the body.
 *
 *   +-------------+---------------------+-------------+
 *   | type (u16)  | length (u32)        | body        |
 *   +-------------+---------------------+-------------+
 *
 * Each type has a maximum body length checked before the body is read; unknown types are
 * skipped (by length), not fatal, so the protocol can grow.
 *
 * HELLO (peer sessions): sent by both sides right after the TLS handshake.
 *   version u8 (1) | flags u8 (0) | reserved u16 (0) | receiver index u32 (non-zero)
 *   | own IPv4 overlay address (4) | own IPv6 overlay address (16)          = 28 bytes
 * FRAME: the body is one data frame (frame.h), for paths where UDP does not get through.
 * CLOSE: empty; the sender is going away (shutdown), so the peer drops the session at once.
 * CIPHERS: bits u8 = 1 byte, sent before HELLO by a side that opens more than ChaCha20-Poly1305
 *   frames: CIPHERS_AES256GCM, it opens FRAME_DATA_AES frames too (session/session.h). Other
 *   bits are ignored (a later cipher the receiver does not know). A peer that sends none opens
 *   ChaCha20-Poly1305 only; one that does not know the type skips it, as any unknown type.
 */
#ifndef VERTEX_RECORD_H
#define VERTEX_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum record_type {
	RECORD_HELLO = 1,
	RECORD_FRAME = 2,
	RECORD_CLOSE = 3,
	RECORD_CIPHERS = 4,
};

enum {
	RECORD_HDR_LEN = 6,
	RECORD_BODY_MAX = 65536, /* no type may exceed this; stricter limits per type */
	HELLO_LEN = 28,
	HELLO_VERSION = 1,
	CIPHERS_LEN = 1,
	CIPHERS_AES256GCM = 0x01,
};

struct record_hdr {
	uint16_t type;
	uint32_t len;
};

struct hello {
	uint8_t version;
	uint32_t receiver;
	uint8_t addr4[4];
	uint8_t addr6[16];
};

void record_hdr_encode(uint8_t out[RECORD_HDR_LEN], const struct record_hdr *h);
/* False if the header is short or len exceeds the limit of its (known) type or RECORD_BODY_MAX. */
bool record_hdr_decode(const uint8_t *buf, size_t len, struct record_hdr *h);
/* Maximum body length of a type; RECORD_BODY_MAX for unknown types (they are skipped). */
uint32_t record_body_max(uint16_t type);

/* Writes a HELLO body (HELLO_LEN bytes). */
void hello_encode(uint8_t out[HELLO_LEN], const struct hello *h);
/* False unless len == HELLO_LEN, version known, reserved zero, receiver non-zero. */
bool hello_decode(const uint8_t *buf, size_t len, struct hello *h);
/* A CIPHERS body's bits (CIPHERS_*, others kept for the caller to ignore); false unless
 * len == CIPHERS_LEN. */
bool ciphers_decode(const uint8_t *buf, size_t len, uint8_t *bits);

#endif
