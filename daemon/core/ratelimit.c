// SPDX-License-Identifier: MIT
/*
 * Token buckets keyed by string, in a fixed table allocated once by ratelimit_new(): entries
 * live in one array, found through a chained hash (chains are entry indices, so no pointers to
 * fix up) and ordered by an intrusive doubly linked LRU list whose tail is evicted when the
 * table is full. Nothing is allocated after construction, so an attacker who sends many keys
 * costs us time bounded by the chain length, never memory.
 *
 * Token counts are integers in nano-tokens and rates in nano-tokens per millisecond, so refill
 * is exact (no floating-point drift between many small refills and one large one): the rate
 * given in tokens per second is rounded once, at construction, to a multiple of 1e-6 tokens/s.
 */
#include "core/ratelimit.h"

#include "core/siphash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { RL_NONE = -1 };

#define RL_ONE_TOKEN 1000000000ull /* nano-tokens */

struct rl_entry {
	char key[RATELIMIT_KEY_MAX + 1];
	uint64_t tokens;  /* nano-tokens, <= burst */
	uint64_t last_ms; /* when tokens was last brought up to date */
	int32_t hnext;    /* next entry in the same hash chain */
	int32_t prev;     /* LRU list: towards the most recently used */
	int32_t next;     /* LRU list: towards the least recently used */
};

struct ratelimit {
	struct rl_entry *entries;
	int32_t *heads;  /* hash chains, nbuckets entries */
	size_t nbuckets; /* power of two */
	size_t max_keys;
	size_t used;
	int32_t mru, lru;
	uint64_t rate;  /* nano-tokens per ms, >= 1 */
	uint64_t burst; /* nano-tokens, >= one token */
	struct siphash_key hash_key;
};

/* Bounds keep every product below 2^64: burst * 1e9 and rate * 1e6. */
static bool
rl_params(double rate_per_sec, double burst, uint64_t *rate, uint64_t *nburst)
{
	if (!(rate_per_sec > 0) || !(rate_per_sec <= 1e9) || !(burst >= 1) || !(burst <= 1e9))
		return false;
	*rate = (uint64_t)(rate_per_sec * 1e6 + 0.5);
	if (*rate == 0)
		*rate = 1;
	*nburst = (uint64_t)(burst * 1e9 + 0.5);
	return true;
}

/* Tokens at now_ms of a bucket that held tokens at last_ms. A clock that went backwards earns
 * nothing. */
static uint64_t
rl_tokens_at(uint64_t tokens, uint64_t last_ms, uint64_t rate, uint64_t burst, uint64_t now_ms)
{
	uint64_t elapsed = now_ms > last_ms ? now_ms - last_ms : 0;
	uint64_t missing = burst - tokens;

	/* Compare before multiplying, so a long idle time cannot overflow. */
	if (elapsed >= (missing + rate - 1) / rate)
		return burst;
	return tokens + elapsed * rate;
}

/* Brings a bucket up to date and spends a token if it has one. */
static bool
rl_take(uint64_t *tokens, uint64_t *last_ms, uint64_t rate, uint64_t burst, uint64_t now_ms)
{
	*tokens = rl_tokens_at(*tokens, *last_ms, rate, burst, now_ms);
	if (now_ms > *last_ms)
		*last_ms = now_ms;
	if (*tokens < RL_ONE_TOKEN)
		return false;
	*tokens -= RL_ONE_TOKEN;
	return true;
}

int
ratelimit_bucket_init(struct ratelimit_bucket *b, double rate_per_sec, double burst,
		      uint64_t now_ms)
{
	if (!rl_params(rate_per_sec, burst, &b->rate, &b->burst))
		return -EINVAL;
	b->tokens = b->burst;
	b->last_ms = now_ms;
	return 0;
}

bool
ratelimit_bucket_take(struct ratelimit_bucket *b, uint64_t now_ms)
{
	return rl_take(&b->tokens, &b->last_ms, b->rate, b->burst, now_ms);
}

int
ratelimit_new(struct ratelimit **out, size_t max_keys, double rate_per_sec, double burst)
{
	struct ratelimit *rl;
	uint64_t rate, nburst;
	size_t nb = 1;

	if (max_keys == 0 || max_keys > INT32_MAX / 2 ||
	    !rl_params(rate_per_sec, burst, &rate, &nburst))
		return -EINVAL;
	while (nb < max_keys * 2)
		nb <<= 1;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->entries = calloc(max_keys, sizeof(*rl->entries));
	rl->heads = malloc(nb * sizeof(*rl->heads));
	if (!rl->entries || !rl->heads) {
		ratelimit_free(rl);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nb; i++)
		rl->heads[i] = RL_NONE;
	rl->nbuckets = nb;
	rl->max_keys = max_keys;
	rl->mru = rl->lru = RL_NONE;
	rl->rate = rate;
	rl->burst = nburst;
	rl->hash_key = siphash_key_random();
	*out = rl;
	return 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->entries);
	free(rl->heads);
	free(rl);
}

size_t
ratelimit_size(const struct ratelimit *rl)
{
	return rl->used;
}

/*
 * SipHash-2-4 over the key as stored (cut to RATELIMIT_KEY_MAX), with the table's own random
 * key: the keys are attacker-chosen names and addresses, and an unkeyed hash would let anyone
 * compute names that share one chain and make every lookup walk it.
 */
static size_t
rl_bucket(const struct ratelimit *rl, const char *key)
{
	return (size_t)siphash24(&rl->hash_key, key, strnlen(key, RATELIMIT_KEY_MAX)) &
	       (rl->nbuckets - 1);
}

static int32_t
rl_find(const struct ratelimit *rl, const char *key, size_t bucket)
{
	for (int32_t i = rl->heads[bucket]; i != RL_NONE; i = rl->entries[i].hnext)
		if (strncmp(rl->entries[i].key, key, RATELIMIT_KEY_MAX) == 0)
			return i;
	return RL_NONE;
}

static void
rl_lru_unlink(struct ratelimit *rl, int32_t i)
{
	struct rl_entry *e = &rl->entries[i];

	if (e->prev != RL_NONE)
		rl->entries[e->prev].next = e->next;
	else
		rl->mru = e->next;
	if (e->next != RL_NONE)
		rl->entries[e->next].prev = e->prev;
	else
		rl->lru = e->prev;
}

static void
rl_lru_push_front(struct ratelimit *rl, int32_t i)
{
	struct rl_entry *e = &rl->entries[i];

	e->prev = RL_NONE;
	e->next = rl->mru;
	if (rl->mru != RL_NONE)
		rl->entries[rl->mru].prev = i;
	rl->mru = i;
	if (rl->lru == RL_NONE)
		rl->lru = i;
}

static void
rl_hash_unlink(struct ratelimit *rl, int32_t i)
{
	int32_t *p = &rl->heads[rl_bucket(rl, rl->entries[i].key)];

	while (*p != i)
		p = &rl->entries[*p].hnext;
	*p = rl->entries[i].hnext;
}

/* A slot for a new key: the next unused one, or the least recently used key's. */
static int32_t
rl_take_slot(struct ratelimit *rl)
{
	int32_t i;

	if (rl->used < rl->max_keys)
		return (int32_t)rl->used++;
	i = rl->lru;
	rl_lru_unlink(rl, i);
	rl_hash_unlink(rl, i);
	return i;
}

static int32_t
rl_insert(struct ratelimit *rl, const char *key, size_t bucket, uint64_t now_ms)
{
	int32_t i = rl_take_slot(rl);
	struct rl_entry *e = &rl->entries[i];
	/* The key is cut, not rejected: two keys sharing the first 96 bytes share a bucket. */
	size_t len = strnlen(key, RATELIMIT_KEY_MAX);

	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->tokens = rl->burst;
	e->last_ms = now_ms;
	e->hnext = rl->heads[bucket];
	rl->heads[bucket] = i;
	rl_lru_push_front(rl, i);
	return i;
}

bool
ratelimit_allow(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
	size_t bucket = rl_bucket(rl, key);
	int32_t i = rl_find(rl, key, bucket);
	struct rl_entry *e;

	if (i == RL_NONE) {
		i = rl_insert(rl, key, bucket, now_ms);
	} else {
		rl_lru_unlink(rl, i);
		rl_lru_push_front(rl, i);
	}
	e = &rl->entries[i];
	return rl_take(&e->tokens, &e->last_ms, rl->rate, rl->burst, now_ms);
}

uint64_t
ratelimit_wait_ms(const struct ratelimit *rl, const char *key, uint64_t now_ms)
{
	int32_t i = rl_find(rl, key, rl_bucket(rl, key));
	uint64_t t;

	if (i == RL_NONE)
		return 0; /* an unknown key starts with a full bucket */
	t = rl_tokens_at(rl->entries[i].tokens, rl->entries[i].last_ms, rl->rate, rl->burst,
			 now_ms);
	if (t >= RL_ONE_TOKEN)
		return 0;
	return (RL_ONE_TOKEN - t + rl->rate - 1) / rl->rate;
}
