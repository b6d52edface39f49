/* SPDX-License-Identifier: MIT */
/*
 * Token buckets keyed by a short string (an account name, a source address): each key earns
 * `rate` tokens per second up to `burst`, and an attempt costs one. The table is bounded: when
 * full, the least recently used key is evicted (an evicted key starts again with a full bucket,
 * so max_keys must be large enough that an attacker cannot cycle keys to reset a victim's).
 * Time is passed in, so tests need no sleeps.
 *
 * A caller that already has one object per key (a peer, say) embeds a single struct
 * ratelimit_bucket instead of keeping a table; both share the same exact arithmetic.
 */
#ifndef VERTEX_RATELIMIT_H
#define VERTEX_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { RATELIMIT_KEY_MAX = 96 };

struct ratelimit;

int ratelimit_new(struct ratelimit **out, size_t max_keys, double rate_per_sec, double burst);
void ratelimit_free(struct ratelimit *rl);
/* True (and one token spent) if key may try now. Keys longer than RATELIMIT_KEY_MAX are cut. */
bool ratelimit_allow(struct ratelimit *rl, const char *key, uint64_t now_ms);
/* Milliseconds until key has a token again (0 if it has one now); for "try again in N s". */
uint64_t ratelimit_wait_ms(const struct ratelimit *rl, const char *key, uint64_t now_ms);
size_t ratelimit_size(const struct ratelimit *rl);

/* One bucket; the fields are private. Starts full. */
struct ratelimit_bucket {
	uint64_t tokens;  /* nano-tokens */
	uint64_t last_ms; /* when tokens was last brought up to date */
	uint64_t rate;    /* nano-tokens per ms */
	uint64_t burst;   /* nano-tokens */
};

/* Same bounds as ratelimit_new; -EINVAL otherwise. */
int ratelimit_bucket_init(struct ratelimit_bucket *b, double rate_per_sec, double burst,
			  uint64_t now_ms);
/* True (and one token spent) if a try is allowed now. */
bool ratelimit_bucket_take(struct ratelimit_bucket *b, uint64_t now_ms);

#endif
