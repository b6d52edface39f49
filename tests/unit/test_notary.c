// SPDX-License-Identifier: MIT
/*
 * Notary answers from the wire to the trust decision's terms (control/notary.h), and how they
 * read in logs (pin_answer_format): every status, an answer about another domain, a message of
 * another type, and no message at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "control/notary.h"
#include "crypto/cert.h"
#include "proto/ctlmsg.h"

static struct ctlmsg
notary_msg(const char *domain, uint8_t status, uint8_t fill)
{
	struct ctlmsg m = { .type = CTL_NOTARY };

	snprintf(m.u.notary.domain, sizeof(m.u.notary.domain), "%s", domain);
	m.u.notary.status = status;
	memset(m.u.notary.fpr, fill, CTL_FPR_LEN);
	return m;
}

static void
test_notary_answer_statuses(void **state)
{
	static const struct {
		uint8_t wire;
		enum pin_notary_status status;
	} map[] = {
		{ CTL_NOTARY_KNOWN, PIN_NOTARY_KNOWN },
		{ CTL_NOTARY_UNKNOWN, PIN_NOTARY_UNKNOWN },
		{ CTL_NOTARY_UNREACHABLE, PIN_NOTARY_UNREACHABLE },
		{ CTL_NOTARY_DISPUTED, PIN_NOTARY_DISPUTED },
	};
	struct pin_notary_answer a;

	(void)state;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		struct ctlmsg m = notary_msg("c.example.com", map[i].wire, 0x5a);

		notary_answer_from_msg(&m, "b.example.com", "c.example.com", &a);
		assert_int_equal(a.status, map[i].status);
		assert_string_equal(a.notary, "b.example.com");
		if (map[i].status == PIN_NOTARY_KNOWN || map[i].status == PIN_NOTARY_DISPUTED)
			assert_int_equal(a.fpr[0], 0x5a);
	}
}

/* Anything that is not an answer about the domain asked vouches for nothing. */
static void
test_notary_answer_not_vouching(void **state)
{
	struct ctlmsg other = notary_msg("d.example.com", CTL_NOTARY_KNOWN, 0x5a);
	struct ctlmsg error = { .type = CTL_ERROR };
	struct pin_notary_answer a;

	(void)state;
	notary_answer_from_msg(&other, "b.example.com", "c.example.com", &a);
	assert_int_equal(a.status, PIN_NOTARY_UNREACHABLE);
	assert_int_equal(a.fpr[0], 0);
	notary_answer_from_msg(&error, "b.example.com", "c.example.com", &a);
	assert_int_equal(a.status, PIN_NOTARY_UNREACHABLE);
	notary_answer_from_msg(NULL, "bob@b.example.com", "c.example.com", &a);
	assert_int_equal(a.status, PIN_NOTARY_UNREACHABLE);
	assert_string_equal(a.notary, "bob@b.example.com");
}

static void
test_pin_answer_format(void **state)
{
	struct pin_notary_answer a = { .status = PIN_NOTARY_KNOWN };
	char fpr[64], want[128], got[128];

	(void)state;
	memset(a.fpr, 0x11, sizeof(a.fpr));
	cert_fpr_format(a.fpr, fpr, sizeof(fpr));
	pin_answer_format(&a, got, sizeof(got));
	snprintf(want, sizeof(want), "sees CA %s", fpr);
	assert_string_equal(got, want);
	a.status = PIN_NOTARY_DISPUTED;
	pin_answer_format(&a, got, sizeof(got));
	snprintf(want, sizeof(want), "reports the domain disputed (shown CA %s)", fpr);
	assert_string_equal(got, want);
	a.status = PIN_NOTARY_UNKNOWN;
	pin_answer_format(&a, got, sizeof(got));
	assert_string_equal(got, "does not know the domain");
	a.status = PIN_NOTARY_UNREACHABLE;
	pin_answer_format(&a, got, sizeof(got));
	assert_string_equal(got, "did not answer");
	pin_answer_format(&a, got, 5);
	assert_string_equal(got, "did ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notary_answer_statuses),
		cmocka_unit_test(test_notary_answer_not_vouching),
		cmocka_unit_test(test_pin_answer_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
