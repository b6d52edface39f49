// SPDX-License-Identifier: MIT
/*
 * Exponential backoff (daemon/core/backoff.c): doubling from the first wait to the cap, never
 * past it (nor wrapping), starting over from 0, and the jitter's bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/backoff.h"

static void
test_backoff_doubles_to_cap(void **state)
{
	unsigned cur = 0;

	(void)state;
	assert_int_equal(backoff_next(&cur, 500, 30000), 500);
	assert_int_equal(backoff_next(&cur, 500, 30000), 1000);
	assert_int_equal(backoff_next(&cur, 500, 30000), 2000);
	for (int i = 0; i < 5; i++)
		backoff_next(&cur, 500, 30000);
	assert_int_equal(cur, 30000); /* 64000 capped */
	assert_int_equal(backoff_next(&cur, 500, 30000), 30000);
	/* A success: the caller sets the state back to 0, and it starts over. */
	cur = 0;
	assert_int_equal(backoff_next(&cur, 500, 30000), 500);
}

static void
test_backoff_never_wraps(void **state)
{
	unsigned cur = 0x90000000u;

	(void)state;
	assert_int_equal(backoff_next(&cur, 1, 0xffffffffu), 0xffffffffu);
	assert_int_equal(backoff_next(&cur, 1, 0xffffffffu), 0xffffffffu);
}

static void
test_backoff_jitter_bounds(void **state)
{
	(void)state;
	assert_int_equal(backoff_jitter(1000, 0), 1000);
	assert_int_equal(backoff_jitter(1000, 500), 1500);
	assert_int_equal(backoff_jitter(1000, 501), 1000); /* random % 501 */
	for (uint32_t r = 0; r < 100000; r += 7) {
		uint64_t w = backoff_jitter(60000, r * 2654435761u);

		assert_true(w >= 60000 && w <= 90000);
	}
	assert_int_equal(backoff_jitter(0, 12345), 0);
	assert_int_equal(backoff_jitter(0xffffffffu, 0xffffffffu) >= 0xffffffffu, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_to_cap),
		cmocka_unit_test(test_backoff_never_wraps),
		cmocka_unit_test(test_backoff_jitter_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
