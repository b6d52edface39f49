// SPDX-License-Identifier: MIT
/*
 * Exponential backoff. See backoff.h.
 */
#include "core/backoff.h"

unsigned
backoff_next(unsigned *cur_ms, unsigned min_ms, unsigned max_ms)
{
	unsigned next = *cur_ms ? *cur_ms * 2 : min_ms;

	if (next > max_ms || (*cur_ms && next < *cur_ms)) /* capped, and never wrapped */
		next = max_ms;
	*cur_ms = next;
	return next;
}

uint64_t
backoff_jitter(unsigned wait_ms, uint32_t random)
{
	return (uint64_t)wait_ms + random % (wait_ms / 2 + 1);
}
