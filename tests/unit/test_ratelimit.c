// SPDX-License-Identifier: MIT
/*
 * Token buckets: burst then refusal, exact refill over injected time, wait_ms, LRU eviction when
 * the table is full, and thousands of seeded random operations against a naive reference (an
 * array of keys with last-use stamps, searched linearly); the lone bucket against the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ratelimit.h"

static void
test_ratelimit_new_rejects_bad_parameters(void **state)
{
	struct ratelimit *rl = NULL;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 0, 1, 1), -EINVAL);
	assert_int_equal(ratelimit_new(&rl, 4, 0, 1), -EINVAL);
	assert_int_equal(ratelimit_new(&rl, 4, -1, 1), -EINVAL);
	assert_int_equal(ratelimit_new(&rl, 4, 1, 0.5), -EINVAL);
	assert_null(rl);
	ratelimit_free(NULL);
}

static void
test_ratelimit_allow_burst_then_refusal(void **state)
{
	struct ratelimit *rl;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 8, 0.5, 5), 0);
	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_allow(rl, "alice", 1000));
	assert_false(ratelimit_allow(rl, "alice", 1000));
	assert_false(ratelimit_allow(rl, "alice", 1000));
	/* Another key has its own bucket. */
	assert_true(ratelimit_allow(rl, "bob", 1000));
	assert_int_equal(ratelimit_size(rl), 2);
	ratelimit_free(rl);
}

/* rate 2/s: one token per 500 ms, fractions kept across calls. */
static void
test_ratelimit_allow_refill_exact(void **state)
{
	struct ratelimit *rl;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 8, 2, 3), 0);
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_allow(rl, "k", 0));
	assert_false(ratelimit_allow(rl, "k", 0));
	assert_false(ratelimit_allow(rl, "k", 499));
	assert_true(ratelimit_allow(rl, "k", 500));
	assert_false(ratelimit_allow(rl, "k", 500));
	/* 250 + 250 ms earn exactly one token, as one 500 ms step would. */
	assert_false(ratelimit_allow(rl, "k", 750));
	assert_true(ratelimit_allow(rl, "k", 1000));
	/* A long idle time refills to burst and no further. */
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_allow(rl, "k", 1000000000000ull));
	assert_false(ratelimit_allow(rl, "k", 1000000000000ull));
	/* Time going backwards earns nothing and breaks nothing. */
	assert_false(ratelimit_allow(rl, "k", 5));
	ratelimit_free(rl);
}

/* A rate that is not a whole number of tokens per second: 0.1/s is one token per 10 s. */
static void
test_ratelimit_allow_slow_rate_exact(void **state)
{
	struct ratelimit *rl;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 2, 0.1, 1), 0);
	assert_true(ratelimit_allow(rl, "k", 0));
	for (uint64_t t = 1000; t < 10000; t += 1000)
		assert_false(ratelimit_allow(rl, "k", t));
	assert_false(ratelimit_allow(rl, "k", 9999));
	assert_true(ratelimit_allow(rl, "k", 10000));
	ratelimit_free(rl);
}

static void
test_ratelimit_wait_ms_counts_down(void **state)
{
	struct ratelimit *rl;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 8, 0.2, 2), 0); /* one token per 5 s */
	assert_int_equal(ratelimit_wait_ms(rl, "never-seen", 0), 0);
	assert_true(ratelimit_allow(rl, "k", 100));
	assert_int_equal(ratelimit_wait_ms(rl, "k", 100), 0);
	assert_true(ratelimit_allow(rl, "k", 100));
	assert_int_equal(ratelimit_wait_ms(rl, "k", 100), 5000);
	assert_int_equal(ratelimit_wait_ms(rl, "k", 1100), 4000);
	assert_int_equal(ratelimit_wait_ms(rl, "k", 5099), 1);
	assert_int_equal(ratelimit_wait_ms(rl, "k", 5100), 0);
	/* wait_ms only looks: the key is still empty when checked again at 100. */
	assert_false(ratelimit_allow(rl, "k", 100));
	assert_true(ratelimit_allow(rl, "k", 5100));
	ratelimit_free(rl);
}

static void
test_ratelimit_allow_evicts_least_recently_used(void **state)
{
	struct ratelimit *rl;

	(void)state;
	assert_int_equal(ratelimit_new(&rl, 3, 0.001, 1), 0);
	assert_true(ratelimit_allow(rl, "a", 0));
	assert_true(ratelimit_allow(rl, "b", 0));
	assert_true(ratelimit_allow(rl, "c", 0));
	/* A refused attempt still counts as use: a is now the most recent, b the least. */
	assert_false(ratelimit_allow(rl, "a", 1));
	assert_int_equal(ratelimit_size(rl), 3);
	assert_true(ratelimit_allow(rl, "d", 2)); /* evicts b */
	assert_int_equal(ratelimit_size(rl), 3);
	assert_int_equal(ratelimit_wait_ms(rl, "b", 2), 0); /* forgotten: full bucket */
	assert_true(ratelimit_wait_ms(rl, "a", 2) > 0);
	assert_true(ratelimit_wait_ms(rl, "c", 2) > 0);
	assert_true(ratelimit_allow(rl, "b", 3)); /* evicts c */
	assert_int_equal(ratelimit_wait_ms(rl, "c", 3), 0);
	assert_false(ratelimit_allow(rl, "a", 3));
	assert_false(ratelimit_allow(rl, "d", 3));
	ratelimit_free(rl);
}

static void
test_ratelimit_allow_cuts_long_keys(void **state)
{
	struct ratelimit *rl;
	char k1[200], k2[200];

	(void)state;
	memset(k1, 'x', sizeof(k1) - 1);
	k1[sizeof(k1) - 1] = '\0';
	memcpy(k2, k1, sizeof(k2));
	k2[150] = 'y'; /* differs only after RATELIMIT_KEY_MAX */
	assert_int_equal(ratelimit_new(&rl, 4, 1, 1), 0);
	assert_true(ratelimit_allow(rl, k1, 0));
	assert_false(ratelimit_allow(rl, k2, 0));
	assert_int_equal(ratelimit_size(rl), 1);
	ratelimit_free(rl);
}

/* The reference: a linear array, the same integer units (nano-tokens, per ms), 128-bit math. */
struct ref_entry {
	char key[RATELIMIT_KEY_MAX + 1];
	uint64_t tokens, last_ms, used_seq;
};

struct ref {
	struct ref_entry e[64];
	size_t n, max;
	uint64_t rate, burst, seq;
};

static uint64_t
ref_tokens(const struct ref *r, const struct ref_entry *e, uint64_t now)
{
	unsigned __int128 t = e->tokens;

	if (now > e->last_ms)
		t += (unsigned __int128)(now - e->last_ms) * r->rate;
	return t > r->burst ? r->burst : (uint64_t)t;
}

static struct ref_entry *
ref_find(struct ref *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (strncmp(r->e[i].key, key, RATELIMIT_KEY_MAX) == 0)
			return &r->e[i];
	return NULL;
}

static bool
ref_allow(struct ref *r, const char *key, uint64_t now)
{
	struct ref_entry *e = ref_find(r, key);

	if (!e) {
		if (r->n < r->max) {
			e = &r->e[r->n++];
		} else {
			e = &r->e[0];
			for (size_t i = 1; i < r->n; i++)
				if (r->e[i].used_seq < e->used_seq)
					e = &r->e[i];
		}
		snprintf(e->key, sizeof(e->key), "%.*s", RATELIMIT_KEY_MAX, key);
		e->tokens = r->burst;
		e->last_ms = now;
	}
	e->used_seq = ++r->seq;
	e->tokens = ref_tokens(r, e, now);
	if (now > e->last_ms)
		e->last_ms = now;
	if (e->tokens < 1000000000ull)
		return false;
	e->tokens -= 1000000000ull;
	return true;
}

static uint64_t
ref_wait(struct ref *r, const char *key, uint64_t now)
{
	struct ref_entry *e = ref_find(r, key);
	uint64_t t, ms = 0;

	if (!e)
		return 0;
	t = ref_tokens(r, e, now);
	/* Naive on purpose: count milliseconds until the bucket holds a token. */
	while (t + ms * r->rate < 1000000000ull)
		ms++;
	return ms;
}

static void
run_reference(unsigned seed, size_t max_keys, double rate, double burst)
{
	struct ratelimit *rl;
	struct ref r = { .max = max_keys };
	char keys[40][RATELIMIT_KEY_MAX + 20];
	uint64_t now = 1000;

	srandom(seed);
	r.rate = (uint64_t)(rate * 1e6 + 0.5);
	r.burst = (uint64_t)(burst * 1e9 + 0.5);
	for (int i = 0; i < 40; i++) {
		if (i % 8 == 7) /* long keys: distinct only past the cut, so they collide */
			snprintf(keys[i], sizeof(keys[i]), "%0*d-%d", RATELIMIT_KEY_MAX, 0, i);
		else
			snprintf(keys[i], sizeof(keys[i]), "198.18.%d.%d", i / 10, i);
	}
	assert_int_equal(ratelimit_new(&rl, max_keys, rate, burst), 0);
	for (int op = 0; op < 20000; op++) {
		const char *k = keys[random() % 40];

		if (random() % 4 == 0)
			now += (uint64_t)(random() % 1500);
		if (random() % 5 == 0)
			assert_int_equal(ratelimit_wait_ms(rl, k, now), ref_wait(&r, k, now));
		else
			assert_int_equal(ratelimit_allow(rl, k, now), ref_allow(&r, k, now));
		assert_int_equal(ratelimit_size(rl), r.n);
	}
	ratelimit_free(rl);
}

static void
test_ratelimit_allow_matches_reference(void **state)
{
	(void)state;
	run_reference(1, 16, 2, 3);
	run_reference(2, 1, 1, 1);
	run_reference(3, 39, 0.3, 4.5);
	run_reference(4, 64, 5, 10);
	run_reference(5, 7, 1.0 / 3, 2);
}

static void
test_ratelimit_bucket_burst_refill_and_bad_parameters(void **state)
{
	struct ratelimit_bucket b;

	(void)state;
	assert_int_equal(ratelimit_bucket_init(&b, 0, 1, 0), -EINVAL);
	assert_int_equal(ratelimit_bucket_init(&b, 1, 0.5, 0), -EINVAL);
	assert_int_equal(ratelimit_bucket_init(&b, 2, 3, 1000), 0);
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_bucket_take(&b, 1000));
	assert_false(ratelimit_bucket_take(&b, 1000));
	assert_false(ratelimit_bucket_take(&b, 1499)); /* 2/s: a token every 500 ms */
	assert_true(ratelimit_bucket_take(&b, 1500));
	assert_false(ratelimit_bucket_take(&b, 1500));
	assert_false(ratelimit_bucket_take(&b, 900));    /* the clock went back: nothing earned */
	assert_true(ratelimit_bucket_take(&b, 1000000)); /* a long idle time refills to the burst */
	assert_true(ratelimit_bucket_take(&b, 1000000));
	assert_true(ratelimit_bucket_take(&b, 1000000));
	assert_false(ratelimit_bucket_take(&b, 1000000));
}

/* A lone bucket and a table's bucket for one key are the same arithmetic. */
static void
test_ratelimit_bucket_matches_table(void **state)
{
	struct ratelimit_bucket b;
	struct ratelimit *rl;
	uint64_t now = 5000;

	(void)state;
	srandom(7);
	assert_int_equal(ratelimit_new(&rl, 1, 0.7, 4), 0);
	assert_int_equal(ratelimit_bucket_init(&b, 0.7, 4, now), 0);
	assert_true(ratelimit_allow(rl, "k", now)); /* the key starts its bucket here */
	assert_true(ratelimit_bucket_take(&b, now));
	for (int op = 0; op < 5000; op++) {
		if (random() % 3 == 0)
			now += (uint64_t)(random() % 2500);
		assert_int_equal(ratelimit_bucket_take(&b, now), ratelimit_allow(rl, "k", now));
	}
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelimit_new_rejects_bad_parameters),
		cmocka_unit_test(test_ratelimit_allow_burst_then_refusal),
		cmocka_unit_test(test_ratelimit_allow_refill_exact),
		cmocka_unit_test(test_ratelimit_allow_slow_rate_exact),
		cmocka_unit_test(test_ratelimit_wait_ms_counts_down),
		cmocka_unit_test(test_ratelimit_allow_evicts_least_recently_used),
		cmocka_unit_test(test_ratelimit_allow_cuts_long_keys),
		cmocka_unit_test(test_ratelimit_allow_matches_reference),
		cmocka_unit_test(test_ratelimit_bucket_burst_refill_and_bad_parameters),
		cmocka_unit_test(test_ratelimit_bucket_matches_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
