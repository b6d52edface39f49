/* SPDX-License-Identifier: MIT */
/*
 * Exponential backoff, the one rule for every retry (a peer's dial, the home server, another
 * domain's server): the first wait is min_ms, each failure after it doubles the wait up to
 * max_ms, and a success starts over (the caller sets its state back to 0). A jitter of up to
 * half the wait again, from a random value the caller draws (core/ uses no crypto), spreads
 * the retries of many clients that failed at the same moment.
 */
#ifndef VERTEX_BACKOFF_H
#define VERTEX_BACKOFF_H

#include <stdint.h>

/* The wait after one more failure; *cur_ms is the state (0: none yet), updated. */
unsigned backoff_next(unsigned *cur_ms, unsigned min_ms, unsigned max_ms);
/* wait_ms plus random % (wait_ms / 2 + 1): between wait_ms and 1.5 times it. */
uint64_t backoff_jitter(unsigned wait_ms, uint32_t random);

#endif
