// SPDX-License-Identifier: MIT
/*
 * The replay window (replay.h), RFC 6479 style.
 *
 * Semantics, which the unit test's naive reference implements literally: with H the highest
 * accepted counter, a counter c is accepted iff it was never accepted before and either nothing
 * was accepted yet, c > H, or H - c <= REPLAY_WINDOW. UINT64_MAX is never accepted, so that
 * top = H + 1 cannot wrap (a sender rekeys long before; see rekey-after-packets).
 *
 * Bit c lives in word (c / 64) mod REPLAY_WORDS. The ring always holds the word of H and the
 * REPLAY_WORDS - 1 words below it, which covers at least REPLAY_WINDOW counters below H whatever
 * H's position in its word. Moving H forward zeroes the words it enters (all of them after a jump
 * of more than the ring), so a slot never holds bits of an older lap.
 */
#include "replay.h"

#include <assert.h>
#include <string.h>

static_assert((REPLAY_WORDS & (REPLAY_WORDS - 1)) == 0, "ring size is a power of two");

enum { REPLAY_WORD_MASK = REPLAY_WORDS - 1 };

static size_t
replay_slot(uint64_t counter)
{
	return (size_t)((counter >> 6) & REPLAY_WORD_MASK);
}

static uint64_t
replay_bit(uint64_t counter)
{
	return 1ull << (counter & 63);
}

void
replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof(*w));
}

bool
replay_check(const struct replay_window *w, uint64_t counter)
{
	if (counter == UINT64_MAX)
		return false;
	if (counter >= w->top)
		return true;
	if (w->top - 1 - counter > REPLAY_WINDOW)
		return false;
	return !(w->ring[replay_slot(counter)] & replay_bit(counter));
}

/* Moves H up to counter, zeroing the words between the old H's word and the new one. */
static void
replay_advance(struct replay_window *w, uint64_t counter)
{
	uint64_t cur, next = counter >> 6;

	if (w->top == 0) {
		memset(w->ring, 0, sizeof(w->ring));
		return;
	}
	cur = (w->top - 1) >> 6;
	if (next - cur >= REPLAY_WORDS) {
		memset(w->ring, 0, sizeof(w->ring));
		return;
	}
	while (cur < next)
		w->ring[replay_slot(++cur << 6)] = 0;
}

bool
replay_accept(struct replay_window *w, uint64_t counter)
{
	if (!replay_check(w, counter))
		return false;
	if (counter >= w->top) {
		replay_advance(w, counter);
		w->top = counter + 1;
	}
	w->ring[replay_slot(counter)] |= replay_bit(counter);
	return true;
}
