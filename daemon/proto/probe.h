/* SPDX-License-Identifier: MIT */
/*
 * Path probes: the payload of a data frame (sealed like any other, so nobody can forge or
 * replay one) that asks the far end to answer over the same UDP path at once, and the answer.
 * The path module times them: the path's round-trip time, and whether it still answers while
 * traffic flows (path/path.h).
 *
 *   byte 0    type: 1 request, 2 answer
 *   bytes 1-4 sequence number, big-endian (the answer repeats the request's)
 *
 * Five bytes exactly; a frame's payload is otherwise an IP packet (at least 20 bytes, its first
 * nibble 4 or 6) or empty (a keepalive), so the three never look alike.
 */
#ifndef VERTEX_PROTO_PROBE_H
#define VERTEX_PROTO_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PROBE_LEN = 5,
	PROBE_REQUEST = 1,
	PROBE_ANSWER = 2,
};

void probe_encode(uint8_t out[PROBE_LEN], uint8_t type, uint32_t seq);
/* A payload of len bytes: a probe (its type and sequence), or false. */
bool probe_decode(const uint8_t *payload, size_t len, uint8_t *type, uint32_t *seq);

#endif
