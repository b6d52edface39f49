// SPDX-License-Identifier: MIT
/*
 * The notary round's tally (trust/tally.h) and what pin_decide() makes of it: every notary
 * agrees, one disagrees, one reports the domain disputed, some never answer (the round's
 * timeout), answers that must not count (late, repeated, from someone not asked), and a full
 * tally.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "trust/tally.h"

static const uint8_t FPR[PIN_FPR_LEN] = { 1, 2, 3 };
static const uint8_t OTHER[PIN_FPR_LEN] = { 9, 9, 9 };

static struct pin_notary_answer
said(const char *who, enum pin_notary_status st, const uint8_t *fpr)
{
	struct pin_notary_answer a = { .status = st };

	strcpy(a.notary, who);
	if (fpr)
		memcpy(a.fpr, fpr, PIN_FPR_LEN);
	return a;
}

static enum pin_verdict
decide(const struct tally *t)
{
	struct pin fresh;
	char msg[512];

	return pin_decide("b.example.com", FPR, NULL, t->answers, t->n, 1000, &fresh, msg,
			  sizeof(msg));
}

static void
three(struct tally *t)
{
	tally_init(t);
	assert_int_equal(tally_add(t, "a.example.com"), 0);
	assert_int_equal(tally_add(t, "c.example.com"), 1);
	assert_int_equal(tally_add(t, "carol@c.example.com"), 2);
	assert_false(tally_is_complete(t));
}

static void
test_tally_record_agree(void **state)
{
	struct tally t;
	struct pin_notary_answer a;

	(void)state;
	three(&t);
	a = said("a.example.com", PIN_NOTARY_KNOWN, FPR);
	assert_true(tally_record(&t, &a));
	a = said("c.example.com", PIN_NOTARY_UNKNOWN, NULL);
	assert_true(tally_record(&t, &a));
	assert_false(tally_is_complete(&t));
	a = said("carol@c.example.com", PIN_NOTARY_KNOWN, FPR);
	assert_true(tally_record(&t, &a));
	assert_true(tally_is_complete(&t));
	assert_int_equal(decide(&t), PIN_NEW);
}

static void
test_tally_record_disagree(void **state)
{
	struct tally t;
	struct pin_notary_answer a;

	(void)state;
	three(&t);
	a = said("a.example.com", PIN_NOTARY_KNOWN, FPR);
	tally_record(&t, &a);
	a = said("c.example.com", PIN_NOTARY_KNOWN, OTHER);
	tally_record(&t, &a);
	a = said("carol@c.example.com", PIN_NOTARY_UNKNOWN, NULL);
	tally_record(&t, &a);
	assert_int_equal(decide(&t), PIN_NOTARY_DISAGREE);
	/* a disputed domain blocks a first use too */
	three(&t);
	a = said("c.example.com", PIN_NOTARY_DISPUTED, FPR);
	tally_record(&t, &a);
	assert_int_equal(decide(&t), PIN_NOTARY_DISAGREE);
}

/* The round's timer ends it with slots unanswered: they count as unreachable. */
static void
test_tally_timeout_counts_unreachable(void **state)
{
	struct tally t;
	struct pin_notary_answer a;

	(void)state;
	three(&t);
	a = said("a.example.com", PIN_NOTARY_KNOWN, FPR);
	tally_record(&t, &a);
	tally_skip(&t, 1); /* could not be asked */
	assert_false(tally_is_complete(&t));
	assert_int_equal(t.answers[2].status, PIN_NOTARY_UNREACHABLE);
	assert_int_equal(t.answers[1].status, PIN_NOTARY_UNREACHABLE);
	assert_int_equal(decide(&t), PIN_NEW);
	/* nobody answered at all: still a first use, from nothing but the fetch */
	three(&t);
	assert_int_equal(decide(&t), PIN_NEW);
}

static void
test_tally_record_ignores_what_must_not_count(void **state)
{
	struct tally t;
	struct pin_notary_answer a;

	(void)state;
	three(&t);
	/* someone not asked, even claiming disagreement */
	a = said("mallory@a.example.com", PIN_NOTARY_KNOWN, OTHER);
	assert_false(tally_record(&t, &a));
	/* the first answer counts; a second, different one from the same notary does not */
	a = said("c.example.com", PIN_NOTARY_KNOWN, FPR);
	assert_true(tally_record(&t, &a));
	a = said("c.example.com", PIN_NOTARY_KNOWN, OTHER);
	assert_false(tally_record(&t, &a));
	assert_memory_equal(t.answers[1].fpr, FPR, PIN_FPR_LEN);
	/* an answer after the notary was skipped is late */
	tally_skip(&t, 0);
	a = said("a.example.com", PIN_NOTARY_KNOWN, OTHER);
	assert_false(tally_record(&t, &a));
	assert_int_equal(t.nanswered, 2);
	assert_int_equal(decide(&t), PIN_NEW);
}

static void
test_tally_add_full(void **state)
{
	struct tally t;
	char name[32];

	(void)state;
	tally_init(&t);
	for (int i = 0; i < TALLY_MAX; i++) {
		snprintf(name, sizeof(name), "n%d.example.com", i);
		assert_int_equal(tally_add(&t, name), i);
	}
	assert_int_equal(tally_add(&t, "one-more.example.com"), -1);
	assert_int_equal(t.n, TALLY_MAX);
	tally_skip(&t, TALLY_MAX); /* out of range: nothing */
	assert_int_equal(t.nanswered, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tally_record_agree),
		cmocka_unit_test(test_tally_record_disagree),
		cmocka_unit_test(test_tally_timeout_counts_unreachable),
		cmocka_unit_test(test_tally_record_ignores_what_must_not_count),
		cmocka_unit_test(test_tally_add_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
