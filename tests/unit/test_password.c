// SPDX-License-Identifier: MIT
/*
 * Tests for daemon/crypto/password.c: scrypt hashes (with ln = 10 so the suite stays fast),
 * strict parsing of the encoding, invite codes and secret digests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/password.h"

enum { TEST_LN = 10 };

static void
test_password_hash_verify(void **state)
{
	char h[PASSWORD_HASH_MAX];

	(void)state;
	assert_int_equal(password_hash("correct horse", TEST_LN, h), 0);
	assert_int_equal(strncmp(h, "$scrypt$ln=10,r=8,p=1$", 22), 0);
	assert_int_equal(strlen(h), 22 + 22 + 1 + 43);
	assert_true(password_verify("correct horse", h));
	assert_false(password_verify("correct horsf", h));
	assert_false(password_verify("correct horse ", h));
	assert_false(password_verify("", h));
	/* The empty password hashes and verifies like any other. */
	assert_int_equal(password_hash("", TEST_LN, h), 0);
	assert_true(password_verify("", h));
	assert_false(password_verify("x", h));
}

static void
test_password_hash_salted(void **state)
{
	char h1[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];

	(void)state;
	assert_int_equal(password_hash("hunter2", TEST_LN, h1), 0);
	assert_int_equal(password_hash("hunter2", TEST_LN, h2), 0);
	assert_string_not_equal(h1, h2);
	/* Salts differ, not just the hash part. */
	assert_memory_not_equal(h1 + 22, h2 + 22, 22);
	assert_true(password_verify("hunter2", h1));
	assert_true(password_verify("hunter2", h2));
	assert_null(strstr(h1, "hunter2"));
}

static void
test_password_hash_bad_cost(void **state)
{
	char h[PASSWORD_HASH_MAX];

	(void)state;
	assert_int_equal(password_hash("x", 9, h), -EINVAL);
	assert_int_equal(password_hash("x", 21, h), -EINVAL);
}

/* A valid hash with one field changed at a time: every variant is refused. */
static void
test_password_verify_malformed(void **state)
{
	char h[PASSWORD_HASH_MAX], bad[PASSWORD_HASH_MAX + 8];
	const char *salt, *hash;

	(void)state;
	assert_int_equal(password_hash("pw", TEST_LN, h), 0);
	salt = h + 22;
	hash = salt + 23;
	static const char *const prefixes[] = {
		"$scrypt$ln=9,r=8,p=1$",   "$scrypt$ln=21,r=8,p=1$", "$scrypt$ln=010,r=8,p=1$",
		"$scrypt$ln=10,r=16,p=1$", "$scrypt$ln=10,r=8,p=2$", "$scrypt$ln=10,r=8$",
		"$scrypt$ln=10,p=1,r=8$",  "$SCRYPT$ln=10,r=8,p=1$", "scrypt$ln=10,r=8,p=1$",
		"$scrypt$ln=+10,r=8,p=1$", "$scrypt$ln=1a,r=8,p=1$", "$argon2$ln=10,r=8,p=1$",
	};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		snprintf(bad, sizeof(bad), "%s%s", prefixes[i], salt);
		assert_false(password_verify("pw", bad));
	}
	/* Salt one character short / long, hash one short / long, padding, bad characters. */
	snprintf(bad, sizeof(bad), "$scrypt$ln=10,r=8,p=1$%.21s$%s", salt, hash);
	assert_false(password_verify("pw", bad));
	snprintf(bad, sizeof(bad), "$scrypt$ln=10,r=8,p=1$%.22sA$%s", salt, hash);
	assert_false(password_verify("pw", bad));
	snprintf(bad, sizeof(bad), "$scrypt$ln=10,r=8,p=1$%.22s$%.42s", salt, hash);
	assert_false(password_verify("pw", bad));
	snprintf(bad, sizeof(bad), "%sA", h);
	assert_false(password_verify("pw", bad));
	snprintf(bad, sizeof(bad), "%s=", h);
	assert_false(password_verify("pw", bad));
	snprintf(bad, sizeof(bad), "%s", h);
	bad[30] = '*';
	assert_false(password_verify("pw", bad));
	/* Non-zero unused bits in the last base64 digit: another spelling of the same bytes. */
	snprintf(bad, sizeof(bad), "%s", h);
	bad[strlen(bad) - 1] ^= 1;
	assert_false(password_verify("pw", bad));
	assert_false(password_verify("pw", ""));
	assert_false(password_verify("pw", "$scrypt$"));
	assert_false(password_verify("pw", NULL));
	/* The original still verifies. */
	assert_true(password_verify("pw", h));
}

static bool
is_crockford(char c)
{
	return strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", c) != NULL && c != '\0';
}

static int
cmp_codes(const void *a, const void *b)
{
	return strcmp(a, b);
}

static const uint8_t fpr_a[32] = { 0xaa, 1, 2, 3 }, fpr_b[32] = { 0xbb, 1, 2, 3 };

static void
test_invite_code_new_format_unique(void **state)
{
	static char codes[1000][INVITE_CODE_LEN + 1];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		char *c = codes[i];

		assert_int_equal(invite_code_new(fpr_a, c), 0);
		assert_int_equal(strlen(c), INVITE_CODE_LEN);
		for (int k = 0; k < INVITE_CODE_LEN; k++) {
			if (k % 5 == 4)
				assert_int_equal(c[k], '-');
			else
				assert_true(is_crockford(c[k]));
		}
	}
	qsort(codes, 1000, sizeof(codes[0]), cmp_codes);
	for (int i = 1; i < 1000; i++)
		assert_string_not_equal(codes[i - 1], codes[i]);
}

static void
test_secret_digest_normalises(void **state)
{
	uint8_t a[SECRET_DIGEST_LEN], b[SECRET_DIGEST_LEN], c[SECRET_DIGEST_LEN];
	/* SHA-256("ABCDEFGH") */
	static const uint8_t want[SECRET_DIGEST_LEN] = {
		0x9a, 0xc2, 0x19, 0x7d, 0x92, 0x58, 0x25, 0x7b, 0x1a, 0xe8, 0x46,
		0x3e, 0x42, 0x14, 0xe4, 0xcd, 0x0a, 0x57, 0x8b, 0xc1, 0x51, 0x7f,
		0x24, 0x15, 0x92, 0x8b, 0x91, 0xbe, 0x42, 0x83, 0xfc, 0x48,
	};
	char code[INVITE_CODE_LEN + 1], lower[INVITE_CODE_LEN + 1], *longer;

	(void)state;
	assert_int_equal(secret_digest("abcd-efgh", a), 0);
	assert_int_equal(secret_digest("ABCDEFGH", b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_equal(a, want, sizeof(a));
	assert_int_equal(secret_digest("ABCDEFGI", c), 0);
	assert_memory_not_equal(a, c, sizeof(a));
	/* A code typed in lower case, without dashes, matches the code as issued. */
	assert_int_equal(invite_code_new(fpr_a, code), 0);
	for (size_t i = 0, o = 0; i <= strlen(code); i++)
		if (code[i] != '-')
			lower[o++] =
			    (char)(code[i] >= 'A' && code[i] <= 'Z' ? code[i] + 32 : code[i]);
	assert_int_equal(secret_digest(code, a), 0);
	assert_int_equal(secret_digest(lower, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* Long input crosses the internal chunking the same way as short. */
	longer = malloc(1001);
	assert_non_null(longer);
	memset(longer, 'a', 1000);
	longer[1000] = '\0';
	longer[500] = '-';
	assert_int_equal(secret_digest(longer, a), 0);
	memmove(longer + 500, longer + 501, 500);
	for (int i = 0; i < 999; i++)
		longer[i] = 'A';
	assert_int_equal(secret_digest(longer, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	free(longer);
}

/* Codes commit to their CA: the right one matches, any other does not, old codes are told. */
static void
test_invite_code_check_ca(void **state)
{
	static const uint8_t seq[32] = { 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
					 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
					 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };
	char code[INVITE_CODE_LEN + 1];
	uint8_t other[32];

	(void)state;
	/* The known answer of docs/protocol.md ("Enrolment"). */
	assert_int_equal(invite_code_check_ca("0123-4567-89AB-CD49-N9KG", seq), INVITE_CA_MATCH);
	assert_int_equal(invite_code_check_ca("0123456789abcd49n9kg", seq), INVITE_CA_MATCH);
	assert_int_equal(invite_code_check_ca("0123-4567-89AB-CD49-N9KH", seq), INVITE_CA_MISMATCH);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(invite_code_new(fpr_a, code), 0);
		assert_int_equal(invite_code_check_ca(code, fpr_a), INVITE_CA_MATCH);
		assert_int_equal(invite_code_check_ca(code, fpr_b), INVITE_CA_MISMATCH);
		/* one bit of the fingerprint is enough to tell */
		memcpy(other, fpr_a, 32);
		other[i % 32] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(invite_code_check_ca(code, other), INVITE_CA_MISMATCH);
	}
	assert_int_equal(invite_code_check_ca("ABCD-EFGH-JKMN-PQRS", fpr_a), INVITE_CA_NONE);
	assert_int_equal(invite_code_check_ca("", fpr_a), INVITE_CA_MALFORMED);
	assert_int_equal(invite_code_check_ca("ABCD-EFGH-JKMN-PQR", fpr_a), INVITE_CA_MALFORMED);
	assert_int_equal(invite_code_check_ca("ABCD-EFGH-JKMN-PQRS-TVWX-Y", fpr_a),
			 INVITE_CA_MALFORMED);
	assert_int_equal(invite_code_check_ca("ABCD-EFGH-JKMN-PQRS-TVWI", fpr_a),
			 INVITE_CA_MALFORMED); /* I is not a digit */
	assert_int_equal(invite_code_check_ca("ABCD EFGH-JKMN-PQRS-TVWX", fpr_a),
			 INVITE_CA_MALFORMED);
}

static void
test_password_rule_check(void **state)
{
	char pw[PASSWORD_LEN_MAX + 2];

	(void)state;
	assert_null(password_rule_check("correct horse battery staple"));
	assert_null(password_rule_check(" ~!"));
	memset(pw, 'a', PASSWORD_LEN_MAX);
	pw[PASSWORD_LEN_MAX] = '\0';
	assert_null(password_rule_check(pw));
	pw[PASSWORD_LEN_MAX] = 'a';
	pw[PASSWORD_LEN_MAX + 1] = '\0';
	assert_non_null(password_rule_check(pw));
	assert_non_null(password_rule_check(""));
	assert_non_null(password_rule_check(NULL));
	assert_non_null(password_rule_check("caf\xc3\xa9"));
	assert_non_null(password_rule_check("tab\there"));
	assert_non_null(password_rule_check("del\x7f"));
}

/* The known answer of docs/protocol.md, and what the proof is bound to. */
static void
test_password_proof_known_answer_and_binding(void **state)
{
	static const uint8_t csr[] = { 0x30, 0x02, 0x05, 0x00 },
			     csr2[] = { 0x30, 0x02, 0x05, 0x01 };
	static const uint8_t want[PASSWORD_PROOF_LEN] = {
		0x79, 0x16, 0xfe, 0x79, 0x8f, 0xae, 0x78, 0x17, 0xd1, 0x19, 0xd4,
		0x5b, 0xc4, 0x4d, 0xa1, 0xf5, 0x89, 0x97, 0x78, 0xea, 0x68, 0xa1,
		0xc1, 0x8d, 0xc1, 0xe7, 0xb7, 0x0e, 0x5b, 0xc7, 0x62, 0xd8,
	};
	uint8_t key[32], exporter[32], p[32], q[32];

	(void)state;
	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)i;
		exporter[i] = (uint8_t)(0x20 + i);
	}
	assert_int_equal(password_proof(key, exporter, "bob@b.example.com", csr, 4, p), 0);
	assert_memory_equal(p, want, sizeof(p));
	exporter[31] ^= 1; /* another TLS connection */
	assert_int_equal(password_proof(key, exporter, "bob@b.example.com", csr, 4, q), 0);
	assert_memory_not_equal(p, q, sizeof(p));
	exporter[31] ^= 1;
	assert_int_equal(password_proof(key, exporter, "bob@b.example.co", csr, 4, q), 0);
	assert_memory_not_equal(p, q, sizeof(p));
	assert_int_equal(password_proof(key, exporter, "bob@b.example.com", csr2, 4, q), 0);
	assert_memory_not_equal(p, q, sizeof(p));
	key[0] ^= 1;
	assert_int_equal(password_proof(key, exporter, "bob@b.example.com", csr, 4, q), 0);
	assert_memory_not_equal(p, q, sizeof(p));
}

/* What the client derives from the password is exactly the key the server stored. */
static void
test_password_derive_key_matches_stored(void **state)
{
	char h[PASSWORD_HASH_MAX];
	uint8_t salt[PASSWORD_SALT_LEN], stored[32], derived[32];
	unsigned ln;

	(void)state;
	assert_int_equal(password_hash("hunter2", TEST_LN, h), 0);
	assert_true(password_hash_parse(h, &ln, salt, stored));
	assert_int_equal(ln, TEST_LN);
	assert_int_equal(password_derive_key("hunter2", salt, ln, derived), 0);
	assert_memory_equal(stored, derived, 32);
	assert_int_equal(password_derive_key("hunter3", salt, ln, derived), 0);
	assert_memory_not_equal(stored, derived, 32);
	assert_int_equal(password_derive_key("hunter2", salt, 21, derived), -EINVAL);
	assert_false(password_hash_parse("$scrypt$", &ln, salt, stored));
}

/* A user without a password gets the same dummy salt every time, and each user another. */
static void
test_password_dummy_stable(void **state)
{
	static const uint8_t s1[32] = { 1 }, s2[32] = { 2 };
	uint8_t a[16], b[16], ka[32], kb[32];

	(void)state;
	assert_int_equal(password_dummy(s1, "nobody", a, ka), 0);
	assert_int_equal(password_dummy(s1, "nobody", b, kb), 0);
	assert_memory_equal(a, b, 16);
	assert_memory_equal(ka, kb, 32);
	assert_memory_not_equal(a, ka, 16);
	assert_int_equal(password_dummy(s1, "nobody2", b, kb), 0);
	assert_memory_not_equal(a, b, 16);
	assert_int_equal(password_dummy(s2, "nobody", b, kb), 0);
	assert_memory_not_equal(a, b, 16);
	assert_memory_not_equal(ka, kb, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_hash_verify),
		cmocka_unit_test(test_password_hash_salted),
		cmocka_unit_test(test_password_hash_bad_cost),
		cmocka_unit_test(test_password_verify_malformed),
		cmocka_unit_test(test_invite_code_new_format_unique),
		cmocka_unit_test(test_invite_code_check_ca),
		cmocka_unit_test(test_password_rule_check),
		cmocka_unit_test(test_password_proof_known_answer_and_binding),
		cmocka_unit_test(test_password_derive_key_matches_stored),
		cmocka_unit_test(test_password_dummy_stable),
		cmocka_unit_test(test_secret_digest_normalises),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
