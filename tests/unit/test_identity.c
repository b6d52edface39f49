// SPDX-License-Identifier: MIT
/*
 * Unit tests for the identity grammar (trust/identity.c): a table of valid inputs with their
 * normalised form, a table of invalid inputs with the reason each must give, the purpose flags,
 * and format/parse round trips.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "trust/identity.h"

struct valid_case {
	const char *in;
	const char *norm;
};

struct invalid_case {
	const char *in;
	const char *why; /* substring of the reason */
};

static const struct valid_case valid_cases[] = {
	{ "alice@a.example.com", "alice@a.example.com" },
	{ "Alice@A.Example.COM", "alice@a.example.com" },
	{ "bob@b.example.com/ssh", "bob@b.example.com/ssh" },
	{ "BOB@B.EXAMPLE.COM/SSH", "bob@b.example.com/ssh" },
	{ "a@b.c", "a@b.c" },
	{ "first.last_x-y@ex.org", "first.last_x-y@ex.org" },
	{ ".@ex.org", ".@ex.org" },
	{ "-_.@ex.org", "-_.@ex.org" },
	{ "u@xn--bcher-kva.example", "u@xn--bcher-kva.example" },
	{ "u@a-b.c-d.e", "u@a-b.c-d.e" },
	{ "u@0.1", "u@0.1" },
	{ "u@ex.org/web-2", "u@ex.org/web-2" },
	{ "u@ex.org/-", "u@ex.org/-" },
	/* exactly at the limits */
	{ "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu@ex.org",
	  "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu@ex.org" },
	{ "u@lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll.org",
	  "u@lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll.org" },
	{ "u@ex.org/pppppppppppppppppppppppppppppppp",
	  "u@ex.org/pppppppppppppppppppppppppppppppp" },
};

static const struct invalid_case invalid_cases[] = {
	{ "", "empty" },
	{ "alice", "missing '@'" },
	{ "alice@bob@ex.org", "more than one '@'" },
	{ "@ex.org", "user part is empty" },
	{ "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu@ex.org",
	  "user part longer than 64 characters" },
	{ "al+ce@ex.org", "user part contains a character" },
	{ "al/ce@ex.org", "user part contains a character" },
	{ "alice@", "domain part is empty" },
	{ "alice@/ssh", "domain part is empty" },
	{ "alice@localhost", "domain has only one label" },
	{ "alice@ex.org.", "domain ends with '.'" },
	{ "alice@.ex.org", "empty label" },
	{ "alice@ex..org", "empty label" },
	{ "alice@-ex.org", "label starts with '-'" },
	{ "alice@ex-.org", "label ends with '-'" },
	{ "alice@ex.org-", "label ends with '-'" },
	{ "alice@ex_ample.org", "domain contains a character" },
	{ "alice@llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll.org",
	  "label longer than 63 characters" },
	{ "alice@ex.org/", "purpose is empty" },
	{ "alice@ex.org/ss_h", "purpose contains a character" },
	{ "alice@ex.org/ssh/x", "purpose contains a character" },
	{ "alice@ex.org/ppppppppppppppppppppppppppppppppp", "purpose longer than 32 characters" },
	{ "alice @ex.org", "whitespace" },
	{ " alice@ex.org", "whitespace" },
	{ "alice@ex.org\n", "whitespace" },
	{ "alice@ex.org\t", "whitespace" },
	{ "alice@ex.o\x01rg", "control character" },
	{ "al\x7f"
	  "ce@ex.org",
	  "control character" },
	{ "al\xc3\xa9"
	  "ce@ex.org",
	  "non-ASCII" },
	{ "alice@\xe4"
	  "x.org",
	  "non-ASCII" },
};

static void
test_identity_parse_valid_table(void **state)
{
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		struct identity id;
		const char *why = NULL;
		char buf[IDENTITY_STR_MAX];

		if (identity_parse(valid_cases[i].in, 0, &id, &why) != 0)
			fail_msg("'%s' rejected: %s", valid_cases[i].in, why);
		assert_int_equal(identity_format(&id, buf, sizeof(buf)), 0);
		assert_string_equal(buf, valid_cases[i].norm);
	}
}

static void
test_identity_parse_invalid_table(void **state)
{
	for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
		struct identity id;
		const char *why = NULL;

		if (identity_parse(invalid_cases[i].in, 0, &id, &why) != -EINVAL)
			fail_msg("'%s' accepted", invalid_cases[i].in);
		assert_non_null(why);
		if (!strstr(why, invalid_cases[i].why))
			fail_msg("'%s': reason '%s' lacks '%s'", invalid_cases[i].in, why,
				 invalid_cases[i].why);
	}
}

static void
test_identity_parse_null_why(void **state)
{
	struct identity id;

	assert_int_equal(identity_parse("nope", 0, &id, NULL), -EINVAL);
	assert_int_equal(identity_parse(NULL, 0, &id, NULL), -EINVAL);
}

static void
test_identity_parse_domain_total_length(void **state)
{
	/* 4 labels of 63 + 3 dots = 255 > 253; 3 of 63 + one of 61 = 253 exactly */
	char s[400], label[64];
	struct identity id;
	const char *why;

	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(s, sizeof(s), "u@%s.%s.%s.%s", label, label, label, label);
	assert_int_equal(identity_parse(s, 0, &id, &why), -EINVAL);
	assert_non_null(strstr(why, "domain longer than 253 characters"));
	snprintf(s, sizeof(s), "u@%s.%s.%s.%.61s", label, label, label, label);
	assert_int_equal(identity_parse(s, 0, &id, &why), 0);
	assert_int_equal(strlen(id.domain), 253);
}

static void
test_identity_parse_flags(void **state)
{
	struct identity id;
	const char *why;

	assert_int_equal(identity_parse("a@ex.org", IDENTITY_PURPOSE_FORBIDDEN, &id, &why), 0);
	assert_string_equal(id.purpose, "");
	assert_int_equal(identity_parse("a@ex.org/ssh", IDENTITY_PURPOSE_FORBIDDEN, &id, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "purpose is not allowed"));
	assert_int_equal(identity_parse("a@ex.org/ssh", IDENTITY_PURPOSE_REQUIRED, &id, &why), 0);
	assert_string_equal(id.purpose, "ssh");
	assert_int_equal(identity_parse("a@ex.org", IDENTITY_PURPOSE_REQUIRED, &id, &why), -EINVAL);
	assert_non_null(strstr(why, "purpose is required"));
	/* a grammar error wins over a flag error: it is the more useful message */
	assert_int_equal(identity_parse("a@ex.org/", IDENTITY_PURPOSE_FORBIDDEN, &id, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "purpose is empty"));
}

static void
test_identity_domain_is_valid_cases(void **state)
{
	const char *why;

	assert_true(identity_domain_is_valid("a.example.com", &why));
	assert_true(identity_domain_is_valid("A.Example.Com", &why));
	assert_false(identity_domain_is_valid("example", &why));
	assert_non_null(strstr(why, "only one label"));
	assert_false(identity_domain_is_valid("", &why));
	assert_non_null(strstr(why, "empty"));
	assert_false(identity_domain_is_valid("a@b.com", &why));
	assert_false(identity_domain_is_valid("a.b.com/x", &why));
	assert_false(identity_domain_is_valid("a .com", &why));
	assert_non_null(strstr(why, "whitespace"));
	assert_false(identity_domain_is_valid(NULL, NULL));
}

static void
test_identity_domain_canon_cases(void **state)
{
	char out[IDENTITY_DOMAIN_MAX + 1], long_name[IDENTITY_DOMAIN_MAX + 8];
	const char *why = NULL;

	(void)state;
	assert_true(identity_domain_canon("B.Example.COM", out, &why));
	assert_string_equal(out, "b.example.com");
	assert_false(identity_domain_canon("bad_domain.example.com", out, &why));
	assert_non_null(why);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	long_name[100] = '.';
	why = NULL;
	assert_false(identity_domain_canon(long_name, out, &why));
	assert_non_null(strstr(why, "longer than 253"));
}

static void
test_identity_format_round_trip(void **state)
{
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		struct identity a, b;
		char buf[IDENTITY_STR_MAX];

		assert_int_equal(identity_parse(valid_cases[i].in, 0, &a, NULL), 0);
		assert_int_equal(identity_format(&a, buf, sizeof(buf)), 0);
		assert_int_equal(identity_parse(buf, 0, &b, NULL), 0);
		assert_true(identity_equal(&a, &b));
	}
}

static void
test_identity_format_nospace(void **state)
{
	struct identity id;
	char buf[32];

	assert_int_equal(identity_parse("bob@b.example.com/ssh", 0, &id, NULL), 0);
	/* 21 characters need 22 bytes */
	assert_int_equal(identity_format(&id, buf, 21), -ENOSPC);
	assert_int_equal(identity_format(&id, buf, 22), 0);
	assert_string_equal(buf, "bob@b.example.com/ssh");
}

static void
test_identity_format_max_length(void **state)
{
	struct identity id;
	char buf[IDENTITY_STR_MAX];

	memset(&id, 0, sizeof(id));
	memset(id.user, 'u', IDENTITY_USER_MAX);
	memset(id.domain, 'd', IDENTITY_DOMAIN_MAX);
	memset(id.purpose, 'p', IDENTITY_PURPOSE_MAX);
	assert_int_equal(identity_format(&id, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), IDENTITY_STR_MAX - 1);
}

static void
test_identity_equal_cases(void **state)
{
	struct identity a, b;

	assert_int_equal(identity_parse("A@Ex.org/SSH", 0, &a, NULL), 0);
	assert_int_equal(identity_parse("a@ex.org/ssh", 0, &b, NULL), 0);
	assert_true(identity_equal(&a, &b));
	assert_int_equal(identity_parse("a@ex.org", 0, &b, NULL), 0);
	assert_false(identity_equal(&a, &b));
	assert_int_equal(identity_parse("b@ex.org/ssh", 0, &b, NULL), 0);
	assert_false(identity_equal(&a, &b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_parse_valid_table),
		cmocka_unit_test(test_identity_parse_invalid_table),
		cmocka_unit_test(test_identity_parse_null_why),
		cmocka_unit_test(test_identity_parse_domain_total_length),
		cmocka_unit_test(test_identity_parse_flags),
		cmocka_unit_test(test_identity_domain_is_valid_cases),
		cmocka_unit_test(test_identity_domain_canon_cases),
		cmocka_unit_test(test_identity_format_round_trip),
		cmocka_unit_test(test_identity_format_nospace),
		cmocka_unit_test(test_identity_format_max_length),
		cmocka_unit_test(test_identity_equal_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
