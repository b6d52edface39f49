// SPDX-License-Identifier: MIT
/*
 * Unit tests for the replay window (session/replay.c): edge cases at the window's boundary and
 * around jumps, and a comparison against a naive reference on thousands of seeded random
 * sequences.
 *
 * The reference spells out the documented semantics literally: remember every accepted counter
 * in a set and H, the highest; accept c iff c != UINT64_MAX, c was never accepted, and either
 * nothing was accepted yet, c > H, or H - c <= REPLAY_WINDOW.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session/replay.h"

enum { REF_SLOTS = 1 << 16, SEQ_LEN = 3000, SEQ_COUNT = 2000 };

struct ref_window {
	uint64_t keys[REF_SLOTS];
	bool used[REF_SLOTS];
	bool any;
	uint64_t highest;
};

static size_t
ref_slot(const struct ref_window *r, uint64_t c)
{
	size_t i = (size_t)((c * 0x9e3779b97f4a7c15ull) >> 48) & (REF_SLOTS - 1);

	while (r->used[i] && r->keys[i] != c)
		i = (i + 1) & (REF_SLOTS - 1);
	return i;
}

static bool
ref_accept(struct ref_window *r, uint64_t c)
{
	size_t i;

	if (c == UINT64_MAX)
		return false;
	if (r->any && c < r->highest && r->highest - c > REPLAY_WINDOW)
		return false;
	i = ref_slot(r, c);
	if (r->used[i])
		return false;
	r->used[i] = true;
	r->keys[i] = c;
	if (!r->any || c > r->highest)
		r->highest = c;
	r->any = true;
	return true;
}

/* check() must not change the window, and accept() must agree with it. */
static bool
both(struct replay_window *w, uint64_t c)
{
	struct replay_window before = *w;
	bool ok = replay_check(w, c);

	assert_memory_equal(&before, w, sizeof(before));
	assert_int_equal(replay_accept(w, c), ok);
	if (!ok)
		assert_memory_equal(&before, w, sizeof(before));
	return ok;
}

static void
test_replay_accept_zero_first(void **state)
{
	struct replay_window w;

	replay_init(&w);
	assert_true(replay_check(&w, 0));
	assert_true(both(&w, 0));
	assert_false(both(&w, 0));
	assert_true(both(&w, 1));
	assert_false(both(&w, 1));
	assert_false(both(&w, 0));
}

static void
test_replay_accept_first_packet_high(void **state)
{
	struct replay_window w;
	const uint64_t h = 1000000;

	replay_init(&w);
	assert_true(both(&w, h));
	assert_false(both(&w, h));
	assert_false(both(&w, 0));
	assert_false(both(&w, h - REPLAY_WINDOW - 1));
	assert_true(both(&w, h - REPLAY_WINDOW));
	assert_true(both(&w, h - 1));
}

static void
test_replay_accept_window_boundary(void **state)
{
	/* H at every position within its 64-bit word */
	for (uint64_t h = 10000; h < 10000 + 130; h++) {
		struct replay_window w;

		replay_init(&w);
		assert_true(both(&w, h));
		assert_true(replay_check(&w, h - REPLAY_WINDOW));
		assert_false(replay_check(&w, h - REPLAY_WINDOW - 1));
		/* every counter in the window is accepted exactly once */
		for (uint64_t c = h - REPLAY_WINDOW; c < h; c++)
			assert_true(both(&w, c));
		for (uint64_t c = h - REPLAY_WINDOW - 64; c <= h; c++)
			assert_false(replay_check(&w, c));
		/* moving H by one pushes the oldest counter out */
		assert_true(both(&w, h + 1));
		assert_false(replay_check(&w, h - REPLAY_WINDOW));
		assert_false(replay_check(&w, h + 1 - REPLAY_WINDOW));
	}
}

static void
test_replay_accept_far_jump_clears_ring(void **state)
{
	static const uint64_t jumps[] = { REPLAY_WINDOW, REPLAY_WINDOW + 1, REPLAY_BITS - 64,
					  REPLAY_BITS,   REPLAY_BITS + 1,   3 * REPLAY_BITS + 17,
					  1ull << 40 };

	for (size_t j = 0; j < sizeof(jumps) / sizeof(jumps[0]); j++) {
		struct replay_window w;
		uint64_t h = 200 + jumps[j];

		replay_init(&w);
		for (uint64_t c = 0; c <= 200; c++)
			assert_true(both(&w, c));
		assert_true(both(&w, h));
		/* nothing of the old lap may survive in the ring */
		for (uint64_t c = h - REPLAY_WINDOW; c < h; c++)
			assert_int_equal(replay_check(&w, c), c > 200);
	}
}

static void
test_replay_accept_duplicates_and_old(void **state)
{
	struct replay_window w;

	replay_init(&w);
	for (uint64_t c = 0; c < 20000; c += 2)
		assert_true(both(&w, c));
	for (uint64_t c = 20000 - 2 - REPLAY_WINDOW; c < 20000; c++)
		assert_int_equal(both(&w, c), c % 2 == 1);
	assert_false(both(&w, 0));
	assert_false(both(&w, 1));
	assert_false(both(&w, 20000 - 3 - REPLAY_WINDOW));
}

static void
test_replay_accept_counter_max(void **state)
{
	struct replay_window w;

	replay_init(&w);
	assert_false(both(&w, UINT64_MAX));
	assert_true(both(&w, UINT64_MAX - 1));
	assert_false(both(&w, UINT64_MAX - 1));
	assert_false(both(&w, UINT64_MAX));
	assert_true(both(&w, UINT64_MAX - 1 - REPLAY_WINDOW));
	assert_false(both(&w, UINT64_MAX - 2 - REPLAY_WINDOW));
	assert_true(both(&w, UINT64_MAX - 2));
}

static uint64_t
rnd64(void)
{
	return (uint64_t)random() << 62 ^ (uint64_t)random() << 31 ^ (uint64_t)random();
}

/* Mostly increasing, with reordering, duplicates, old counters and occasional big jumps. */
static uint64_t
next_counter(uint64_t *next, const uint64_t *hist, size_t nhist)
{
	long r = random() % 1000;
	uint64_t back;

	if (r < 650 || nhist == 0)
		return (*next)++;
	if (r < 850) {
		back = (uint64_t)(random() % (REPLAY_WINDOW + 300));
		return *next > back ? *next - back : 0;
	}
	if (r < 930)
		return hist[(size_t)random() % nhist];
	if (r < 970)
		return *next += (uint64_t)(random() % 200);
	if (r < 995)
		return *next += (uint64_t)(random() % (4 * REPLAY_BITS));
	if (*next < UINT64_MAX - (1ull << 41))
		return *next += (uint64_t)(random() % (1 << 30)) << 10;
	return (*next)++;
}

static void
test_replay_accept_random_vs_reference(void **state)
{
	struct ref_window *ref = malloc(sizeof(*ref));
	uint64_t *hist = malloc(SEQ_LEN * sizeof(*hist));

	assert_non_null(ref);
	assert_non_null(hist);
	srandom(6479);
	for (int s = 0; s < SEQ_COUNT; s++) {
		struct replay_window w;
		uint64_t next;

		/* some sequences start near the end of the counter space */
		next = s % 10 == 0 ? UINT64_MAX - (uint64_t)(random() % 5000) : rnd64() % 100000;
		if (s % 3 == 0)
			next = 0;
		memset(ref, 0, sizeof(*ref));
		replay_init(&w);
		for (size_t i = 0; i < SEQ_LEN; i++) {
			uint64_t c = next_counter(&next, hist, i);
			bool want = ref_accept(ref, c);

			hist[i] = c;
			if (both(&w, c) != want)
				fail_msg("seq %d step %zu counter %llu: want %d", s, i,
					 (unsigned long long)c, want);
			if (next == UINT64_MAX)
				next = UINT64_MAX - 1;
		}
	}
	free(hist);
	free(ref);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_accept_zero_first),
		cmocka_unit_test(test_replay_accept_first_packet_high),
		cmocka_unit_test(test_replay_accept_window_boundary),
		cmocka_unit_test(test_replay_accept_far_jump_clears_ring),
		cmocka_unit_test(test_replay_accept_duplicates_and_old),
		cmocka_unit_test(test_replay_accept_counter_max),
		cmocka_unit_test(test_replay_accept_random_vs_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
