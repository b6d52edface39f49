// SPDX-License-Identifier: MIT
/*
 * cert_fpr_parse: every fingerprint cert_fpr_format prints parses back to the same bytes
 * (thousands of seeded random ones plus the all-zero and all-ones edges), and each way a typed
 * fingerprint can be wrong is refused without touching the output.
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

#include "crypto/cert.h"

enum { FPR_STR_MAX = 64, ROUNDS = 5000 };

static void
check_round_trip(const uint8_t fpr[CERT_FPR_LEN])
{
	char s[FPR_STR_MAX];
	uint8_t back[CERT_FPR_LEN];

	cert_fpr_format(fpr, s, sizeof(s));
	assert_int_equal(strlen(s), 7 + 43);
	assert_int_equal(cert_fpr_parse(s, back), 0);
	assert_memory_equal(back, fpr, CERT_FPR_LEN);
}

static void
test_cert_fpr_parse_round_trip(void **state)
{
	uint8_t fpr[CERT_FPR_LEN];

	(void)state;
	memset(fpr, 0, sizeof(fpr));
	check_round_trip(fpr);
	memset(fpr, 0xff, sizeof(fpr));
	check_round_trip(fpr);
	srand(20240611);
	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < CERT_FPR_LEN; i++)
			fpr[i] = (uint8_t)(rand() & 0xff);
		check_round_trip(fpr);
	}
}

/* A known value: SHA-256 of the empty string, as `ssh-keygen -l` would print it. */
static void
test_cert_fpr_parse_known(void **state)
{
	static const uint8_t want[CERT_FPR_LEN] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
		0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
		0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};
	uint8_t got[CERT_FPR_LEN];

	(void)state;
	assert_int_equal(cert_fpr_parse("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", got),
			 0);
	assert_memory_equal(got, want, CERT_FPR_LEN);
}

static void
expect_refused(const char *s)
{
	uint8_t fpr[CERT_FPR_LEN], untouched[CERT_FPR_LEN];

	memset(fpr, 0xa5, sizeof(fpr));
	memcpy(untouched, fpr, sizeof(fpr));
	if (cert_fpr_parse(s, fpr) != -EINVAL)
		fail_msg("accepted '%s'", s ? s : "(null)");
	assert_memory_equal(fpr, untouched, CERT_FPR_LEN);
}

static void
test_cert_fpr_parse_wrong_prefix(void **state)
{
	(void)state;
	expect_refused("sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
	expect_refused("SHA1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
	expect_refused("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
	expect_refused(" SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
	expect_refused("SHA256");
	expect_refused("");
	expect_refused(NULL);
}

static void
test_cert_fpr_parse_wrong_length(void **state)
{
	(void)state;
	expect_refused("SHA256:");
	expect_refused("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF");
	expect_refused("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA");
	/* Padded, as base64 with '=' would be: one spelling only. */
	expect_refused("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	expect_refused("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n");
}

static void
test_cert_fpr_parse_bad_characters(void **state)
{
	static const char bad[] = " -_.=:*\t\n\x7f\x80\xff";
	char s[FPR_STR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) - 1; i++) {
		/* Every position, so the check is not only at the start or the end. */
		for (size_t pos = 7; pos < 7 + 43; pos += 7) {
			strcpy(s, "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
			s[pos] = bad[i];
			expect_refused(s);
		}
	}
	/* URL-safe base64 is another alphabet: refused, not translated. */
	expect_refused("SHA256:47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
}

/* The last character carries 2 unused bits: 'U' (20) has them zero, 'V' (21) and 'X' do not. */
static void
test_cert_fpr_parse_nonzero_unused_bits(void **state)
{
	uint8_t fpr[CERT_FPR_LEN];

	(void)state;
	expect_refused("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV");
	expect_refused("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFW");
	expect_refused("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFX");
	assert_int_equal(cert_fpr_parse("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFY", fpr),
			 0);
	/* Every last character: exactly those with the low 2 bits zero are accepted. */
	for (int v = 0; v < 64; v++) {
		static const char b64[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		char s[FPR_STR_MAX] = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

		s[7 + 42] = b64[v];
		assert_int_equal(cert_fpr_parse(s, fpr), (v & 3) ? -EINVAL : 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_fpr_parse_round_trip),
		cmocka_unit_test(test_cert_fpr_parse_known),
		cmocka_unit_test(test_cert_fpr_parse_wrong_prefix),
		cmocka_unit_test(test_cert_fpr_parse_wrong_length),
		cmocka_unit_test(test_cert_fpr_parse_bad_characters),
		cmocka_unit_test(test_cert_fpr_parse_nonzero_unused_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
