// SPDX-License-Identifier: MIT
/*
 * SipHash-2-4 (core/siphash.h): the reference vector of the paper (appendix A: key 00..0f,
 * message 00..0e), and every length from 0 to 63 bytes of the reference test set (key 00..0f,
 * message 00 01 .. len-1) against libsodium's crypto_shorthash, an independent implementation
 * of the same function; different keys give different hashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "core/siphash.h"

static void
reference_key(uint8_t k[SIPHASH_KEY_LEN])
{
	for (int i = 0; i < SIPHASH_KEY_LEN; i++)
		k[i] = (uint8_t)i;
}

static void
test_siphash24_paper_vector(void **state)
{
	uint8_t kb[SIPHASH_KEY_LEN], msg[15];
	struct siphash_key k;

	(void)state;
	reference_key(kb);
	k = siphash_key_from_bytes(kb);
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_true(siphash24(&k, msg, sizeof(msg)) == 0xa129ca6149be45e5ull);
}

static void
test_siphash24_reference_set(void **state)
{
	uint8_t kb[SIPHASH_KEY_LEN], msg[64];
	struct siphash_key k;

	(void)state;
	assert_true(sodium_init() >= 0);
	assert_int_equal(crypto_shorthash_KEYBYTES, SIPHASH_KEY_LEN);
	reference_key(kb);
	k = siphash_key_from_bytes(kb);
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t len = 0; len < 64; len++) {
		uint8_t out[crypto_shorthash_BYTES];
		uint64_t want = 0;

		crypto_shorthash(out, msg, len, kb);
		for (int i = 7; i >= 0; i--)
			want = (want << 8) | out[i];
		assert_true(siphash24(&k, msg, len) == want);
	}
}

static void
test_siphash_key_random_differs(void **state)
{
	struct siphash_key a = siphash_key_random(), b = siphash_key_random();

	(void)state;
	assert_false(a.k0 == b.k0 && a.k1 == b.k1);
	assert_true(siphash24(&a, "198.18.0.5", 10) != siphash24(&b, "198.18.0.5", 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash24_paper_vector),
		cmocka_unit_test(test_siphash24_reference_set),
		cmocka_unit_test(test_siphash_key_random_differs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
