/* SPDX-License-Identifier: MIT */
/*
 * Sliding replay window in the style of RFC 6479: a ring of 64-bit words, so advancing the
 * window clears whole words instead of shifting a bitmap. Counters up to REPLAY_WINDOW below the
 * highest seen are tracked; older ones are rejected.
 *
 * Two steps, because only an authenticated frame may move the window: replay_check() before
 * decryption (cheap, rejects duplicates and too-old counters), replay_accept() after the AEAD
 * tag verified.
 */
#ifndef VERTEX_REPLAY_H
#define VERTEX_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

enum {
	REPLAY_WORDS = 64, /* ring size; a power of two */
	REPLAY_BITS = REPLAY_WORDS * 64,
	REPLAY_WINDOW = REPLAY_BITS - 64, /* usable window, in counters: 4032 */
};

struct replay_window {
	uint64_t top; /* highest accepted counter + 1; 0 means nothing accepted yet */
	uint64_t ring[REPLAY_WORDS];
};

void replay_init(struct replay_window *w);
/* True if counter is new and inside the window. Does not change w. */
bool replay_check(const struct replay_window *w, uint64_t counter);
/* Marks counter as seen; returns false (no change) if replay_check() would have. */
bool replay_accept(struct replay_window *w, uint64_t counter);

#endif
