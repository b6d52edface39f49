// SPDX-License-Identifier: MIT
/*
 * The TOFU decision: a table of cases covering every verdict and every kind of notary answer,
 * then every combination of up to three answers checked against the rule stated in pins.h, and
 * the messages checked by substring (domain, notary, both fingerprints as cert_fpr_format
 * prints them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "crypto/cert.h"
#include "trust/pins.h"

enum fp { FP_NONE, FP_A, FP_B, FP_C };

struct ans {
	const char *notary;
	enum pin_notary_status status;
	enum fp fpr;
};

struct pin_case {
	const char *name;
	enum fp pinned; /* FP_NONE: no pin yet */
	struct ans answers[4];
	size_t n;
	enum pin_verdict verdict;
	const char *msg_has[4]; /* "%A" / "%B" / "%C" stand for the formatted fingerprints */
	const char *how;        /* exact, for PIN_NEW */
};

#define KNOWN(who, f)                                                                              \
	{                                                                                          \
		who, PIN_NOTARY_KNOWN, f                                                           \
	}
#define UNKNOWN(who)                                                                               \
	{                                                                                          \
		who, PIN_NOTARY_UNKNOWN, FP_NONE                                                   \
	}
#define UNREACH(who)                                                                               \
	{                                                                                          \
		who, PIN_NOTARY_UNREACHABLE, FP_NONE                                               \
	}
#define DISPUTED(who, f)                                                                           \
	{                                                                                          \
		who, PIN_NOTARY_DISPUTED, f                                                        \
	}

/* The presented fingerprint is always A. */
static const struct pin_case cases[] = {
	{ "no notaries",
	  FP_NONE,
	  {},
	  0,
	  PIN_NEW,
	  { "b.example.com", "%A" },
	  "first use; no notary asked" },
	{ "one agrees",
	  FP_NONE,
	  { KNOWN("a.example.com", FP_A) },
	  1,
	  PIN_NEW,
	  { "b.example.com: pinned CA %A" },
	  "first use; agreed: a.example.com" },
	{ "two agree",
	  FP_NONE,
	  { KNOWN("a.example.com", FP_A), KNOWN("carol@a.example.com", FP_A) },
	  2,
	  PIN_NEW,
	  { "%A" },
	  "first use; agreed: a.example.com, carol@a.example.com" },
	{ "one unknown",
	  FP_NONE,
	  { UNKNOWN("a.example.com") },
	  1,
	  PIN_NEW,
	  { "b.example.com" },
	  "first use; no notary knew b.example.com" },
	{ "one unreachable",
	  FP_NONE,
	  { UNREACH("a.example.com") },
	  1,
	  PIN_NEW,
	  { "%A" },
	  "first use; notaries unreachable: a.example.com" },
	{ "agree + unknown",
	  FP_NONE,
	  { KNOWN("a.example.com", FP_A), UNKNOWN("c.example.com") },
	  2,
	  PIN_NEW,
	  { "%A" },
	  "first use; agreed: a.example.com" },
	{ "agree + unreachable",
	  FP_NONE,
	  { KNOWN("a.example.com", FP_A), UNREACH("c.example.com"), UNREACH("d.example.com") },
	  3,
	  PIN_NEW,
	  { "%A" },
	  "first use; agreed: a.example.com; notaries unreachable: c.example.com, d.example.com" },
	{ "unknown + unreachable",
	  FP_NONE,
	  { UNKNOWN("a.example.com"), UNREACH("c.example.com") },
	  2,
	  PIN_NEW,
	  { "%A" },
	  "first use; no notary knew b.example.com; notaries unreachable: c.example.com" },
	{ "one disagrees",
	  FP_NONE,
	  { KNOWN("a.example.com", FP_B) },
	  1,
	  PIN_NOTARY_DISAGREE,
	  { "b.example.com", "notary a.example.com", "sees CA %B", "%A was presented" },
	  NULL },
	{ "agree + disagree",
	  FP_NONE,
	  { KNOWN("a.example.com", FP_A), KNOWN("carol@a.example.com", FP_C) },
	  2,
	  PIN_NOTARY_DISAGREE,
	  { "b.example.com", "carol@a.example.com", "%C", "%A" },
	  NULL },
	{ "disagree + unknown",
	  FP_NONE,
	  { UNKNOWN("a.example.com"), KNOWN("c.example.com", FP_B) },
	  2,
	  PIN_NOTARY_DISAGREE,
	  { "c.example.com", "%B", "%A" },
	  NULL },
	{ "disagree + unreachable",
	  FP_NONE,
	  { UNREACH("a.example.com"), KNOWN("c.example.com", FP_B) },
	  2,
	  PIN_NOTARY_DISAGREE,
	  { "c.example.com", "%B", "%A" },
	  NULL },
	{ "all kinds",
	  FP_NONE,
	  { KNOWN("a.example.com", FP_A), UNKNOWN("c.example.com"), UNREACH("d.example.com"),
	    KNOWN("e.example.com", FP_B) },
	  4,
	  PIN_NOTARY_DISAGREE,
	  { "e.example.com", "%B", "%A" },
	  NULL },
	/* A notary with a dispute of its own blocks, even if what it was shown matches ours. */
	{ "agree + disputed",
	  FP_NONE,
	  { KNOWN("a.example.com", FP_A), DISPUTED("c.example.com", FP_A) },
	  2,
	  PIN_NOTARY_DISAGREE,
	  { "b.example.com", "notary c.example.com reports the domain disputed", "shown CA %A",
	    "%A refused" },
	  NULL },
	/* A plain disagreement is the better explanation, so it is named first. */
	{ "disputed + disagree",
	  FP_NONE,
	  { DISPUTED("a.example.com", FP_C), KNOWN("c.example.com", FP_B) },
	  2,
	  PIN_NOTARY_DISAGREE,
	  { "notary c.example.com sees CA %B", "but %A was presented" },
	  NULL },
	{ "pinned, matches", FP_A, {}, 0, PIN_MATCH, { "b.example.com", "%A", "matches" }, NULL },
	/* With a pin, notaries are not consulted: a disagreeing one changes nothing. */
	{ "pinned, matches, notary differs",
	  FP_A,
	  { KNOWN("a.example.com", FP_B) },
	  1,
	  PIN_MATCH,
	  { "%A" },
	  NULL },
	{ "pinned, changed",
	  FP_B,
	  {},
	  0,
	  PIN_MISMATCH,
	  { "b.example.com", "presented %A", "pinned %B", "vertex trust" },
	  NULL },
	{ "pinned, changed, notaries agree with new",
	  FP_B,
	  { KNOWN("a.example.com", FP_A) },
	  1,
	  PIN_MISMATCH,
	  { "%A", "%B", "first use; agreed: x.example.com" },
	  NULL },
};

static void
fp_bytes(enum fp f, uint8_t out[PIN_FPR_LEN])
{
	memset(out, 0x11 * (int)f, PIN_FPR_LEN);
	out[0] = (uint8_t)f; /* not a repeated pattern, so a swapped byte would show */
}

/* Expands %A/%B/%C into formatted fingerprints. */
static void
expand(const char *pat, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = pat; *p && o + 1 < cap; p++) {
		if (p[0] == '%' && p[1] >= 'A' && p[1] <= 'C') {
			uint8_t f[PIN_FPR_LEN];

			fp_bytes((enum fp)(p[1] - 'A' + 1), f);
			cert_fpr_format(f, out + o, cap - o);
			o += strlen(out + o);
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void
make_answers(const struct ans *in, size_t n, struct pin_notary_answer *out)
{
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].notary, sizeof(out[i].notary), "%s", in[i].notary);
		out[i].status = in[i].status;
		if (in[i].fpr != FP_NONE)
			fp_bytes(in[i].fpr, out[i].fpr);
	}
}

static void
run_case(const struct pin_case *c)
{
	struct pin_notary_answer answers[4];
	struct pin existing = { .domain = "b.example.com",
				.first_seen = 1577836800,
				.how = "first use; agreed: x.example.com" };
	struct pin out;
	uint8_t fpr[PIN_FPR_LEN];
	char msg[1024], want[256];
	enum pin_verdict v;

	fp_bytes(FP_A, fpr);
	fp_bytes(c->pinned, existing.fpr);
	make_answers(c->answers, c->n, answers);
	memset(&out, 0xee, sizeof(out));
	v = pin_decide("b.example.com", fpr, c->pinned == FP_NONE ? NULL : &existing, answers, c->n,
		       1700000000, &out, msg, sizeof(msg));
	print_message("case '%s': %s: %s\n", c->name, pin_verdict_name(v), msg);
	assert_int_equal(v, c->verdict);
	for (size_t i = 0; i < 4 && c->msg_has[i]; i++) {
		expand(c->msg_has[i], want, sizeof(want));
		assert_non_null(strstr(msg, want));
	}
	if (v != PIN_NEW) {
		assert_int_equal(((uint8_t *)&out)[0], 0xee); /* untouched */
		return;
	}
	assert_string_equal(out.domain, "b.example.com");
	assert_memory_equal(out.fpr, fpr, PIN_FPR_LEN);
	assert_int_equal(out.first_seen, 1700000000);
	assert_string_equal(out.how, c->how);
	assert_non_null(strstr(msg, c->how));
}

static void
test_pin_decide_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* The fingerprint format is cert_fpr_format's: "SHA256:" and 43 characters of base64. */
static void
test_pin_decide_fingerprint_format(void **state)
{
	uint8_t zero[PIN_FPR_LEN] = { 0 }, other[PIN_FPR_LEN];
	struct pin existing = { .domain = "b.example.com", .how = "configured" };
	char msg[512];

	(void)state;
	memset(other, 0xff, sizeof(other));
	memcpy(existing.fpr, other, PIN_FPR_LEN);
	assert_int_equal(
	    pin_decide("b.example.com", zero, &existing, NULL, 0, 1, NULL, msg, sizeof(msg)),
	    PIN_MISMATCH);
	assert_non_null(
	    strstr(msg, "presented SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,"));
	assert_non_null(
	    strstr(msg, "pinned SHA256://////////////////////////////////////////8 (since "));
	assert_non_null(strstr(msg, "configured"));
}

/*
 * Every combination of 0..3 answers, each KNOWN same, KNOWN different, UNKNOWN, UNREACHABLE or
 * DISPUTED, against the rule: any KNOWN-different -> DISAGREE naming the first such notary; else
 * any DISPUTED -> DISAGREE naming the first of those; else NEW whose how names exactly the
 * agreeing notaries, or says no notary knew, and lists the unreachable.
 */
static void
check_combination(const int *kinds, size_t n)
{
	static const char *names[] = { "n0.example.com", "n1.example.com", "n2.example.com" };
	struct pin_notary_answer answers[3];
	struct ans in[3];
	struct pin out;
	uint8_t fpr[PIN_FPR_LEN];
	char msg[1024], want[128];
	int first_bad = -1, first_disputed = -1, agreed = 0, unknown = 0;

	fp_bytes(FP_A, fpr);
	memset(in, 0, sizeof(in));
	for (size_t i = 0; i < n; i++) {
		static const struct ans proto[] = { KNOWN(NULL, FP_A), KNOWN(NULL, FP_B),
						    UNKNOWN(NULL), UNREACH(NULL),
						    DISPUTED(NULL, FP_A) };

		in[i] = proto[kinds[i]];
		in[i].notary = names[i];
		if (kinds[i] == 1 && first_bad < 0)
			first_bad = (int)i;
		if (kinds[i] == 4 && first_disputed < 0)
			first_disputed = (int)i;
		agreed += kinds[i] == 0;
		unknown += kinds[i] == 2;
	}
	make_answers(in, n, answers);
	if (first_bad >= 0) {
		assert_int_equal(
		    pin_decide("b.example.com", fpr, NULL, answers, n, 5, &out, msg, sizeof(msg)),
		    PIN_NOTARY_DISAGREE);
		snprintf(want, sizeof(want), "notary %s sees", names[first_bad]);
		assert_non_null(strstr(msg, want));
		return;
	}
	if (first_disputed >= 0) {
		assert_int_equal(
		    pin_decide("b.example.com", fpr, NULL, answers, n, 5, &out, msg, sizeof(msg)),
		    PIN_NOTARY_DISAGREE);
		snprintf(want, sizeof(want), "notary %s reports", names[first_disputed]);
		assert_non_null(strstr(msg, want));
		return;
	}
	assert_int_equal(
	    pin_decide("b.example.com", fpr, NULL, answers, n, 5, &out, msg, sizeof(msg)), PIN_NEW);
	assert_true(strncmp(out.how, "first use", 9) == 0);
	assert_int_equal(strstr(out.how, "agreed: ") != NULL, agreed > 0);
	assert_int_equal(strstr(out.how, "no notary knew b.example.com") != NULL,
			 !agreed && unknown);
	for (size_t i = 0; i < n; i++) {
		const char *at = strstr(out.how, names[i]);
		const char *unreach = strstr(out.how, "unreachable: ");

		/* Named iff it agreed or was unreachable; unreachable ones after that label. */
		assert_int_equal(at != NULL, kinds[i] == 0 || kinds[i] == 3);
		if (kinds[i] == 3)
			assert_true(unreach && at > unreach);
		if (kinds[i] == 0)
			assert_true(!unreach || at < unreach);
	}
}

static void
test_pin_decide_every_combination(void **state)
{
	int kinds[3];

	(void)state;
	for (size_t n = 0; n <= 3; n++) {
		size_t total = 1;

		for (size_t i = 0; i < n; i++)
			total *= 5;
		for (size_t c = 0; c < total; c++) {
			size_t x = c;

			for (size_t i = 0; i < n; i++, x /= 5)
				kinds[i] = (int)(x % 5);
			check_combination(kinds, n);
		}
	}
}

/* Long notary lists are cut with "..." inside PIN_HOW_MAX; a small msg buffer stays terminated. */
static void
test_pin_decide_truncates(void **state)
{
	struct pin_notary_answer answers[8];
	struct pin out;
	uint8_t fpr[PIN_FPR_LEN];
	char msg[24];

	(void)state;
	fp_bytes(FP_A, fpr);
	for (int i = 0; i < 8; i++) {
		memset(&answers[i], 0, sizeof(answers[i]));
		snprintf(answers[i].notary, sizeof(answers[i].notary),
			 "notary-with-a-long-name-%d.example.com", i);
		answers[i].status = PIN_NOTARY_KNOWN;
		memcpy(answers[i].fpr, fpr, PIN_FPR_LEN);
	}
	assert_int_equal(
	    pin_decide("b.example.com", fpr, NULL, answers, 8, 5, &out, msg, sizeof(msg)), PIN_NEW);
	assert_int_equal(strlen(out.how), PIN_HOW_MAX - 1);
	assert_string_equal(out.how + PIN_HOW_MAX - 4, "...");
	assert_int_equal(strlen(msg), sizeof(msg) - 1);
	assert_int_equal(pin_decide("b.example.com", fpr, NULL, answers, 8, 5, NULL, NULL, 0),
			 PIN_NEW);
}

static void
test_pin_verdict_name_all(void **state)
{
	(void)state;
	assert_string_equal(pin_verdict_name(PIN_MATCH), "match");
	assert_string_equal(pin_verdict_name(PIN_NEW), "new");
	assert_string_equal(pin_verdict_name(PIN_MISMATCH), "mismatch");
	assert_string_equal(pin_verdict_name(PIN_NOTARY_DISAGREE), "notary-disagree");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin_decide_table),
		cmocka_unit_test(test_pin_decide_fingerprint_format),
		cmocka_unit_test(test_pin_decide_every_combination),
		cmocka_unit_test(test_pin_decide_truncates),
		cmocka_unit_test(test_pin_verdict_name_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
