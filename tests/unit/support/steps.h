/* SPDX-License-Identifier: MIT */
/*
 * Stepping an event loop in a unit test whose clock stands still (ev_loop_set_clock): real I/O
 * (a socketpair between two ends the test drives) runs until a condition holds, bounded so a
 * stall fails the test instead of hanging it.
 */
#ifndef VERTEX_TEST_STEPS_H
#define VERTEX_TEST_STEPS_H

#include "core/ev.h"

/* Steps loop, each turn waiting at most 5 ms for I/O, until cond holds (2000 turns at most). */
#define RUN_UNTIL(loop, cond)                                                                      \
	do {                                                                                       \
		for (int i_ = 0; i_ < 2000 && !(cond); i_++)                                       \
			assert_int_equal(ev_run_once((loop), 5), 0);                               \
		assert_true(cond);                                                                 \
	} while (0)

#endif
