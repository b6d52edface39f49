// SPDX-License-Identifier: MIT
/*
 * Tests for daemon/crypto/aead.c: the RFC 8439 §A.5 vector (its nonce 00000000 0102030405060708
 * is exactly our layout, counter 0x0807060504030201), round trips over seeded random sizes,
 * every kind of tampering (ciphertext, tag, AAD, counter, key) refused, and agreement with
 * wolfCrypt's implementation of the same construction on seeded random inputs (the data path uses
 * libsodium for speed; TLS uses wolfSSL; both must be the same RFC 8439). The same for
 * AES-256-GCM where the CPU has it (else those tests are skipped): the GCM specification's test
 * case 14 (key, IV and plaintext all zero), round trips, tampering, and agreement with
 * wolfCrypt's AES-GCM; and a frame sealed with one cipher never opens with the other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>

#include "crypto/aead.h"

#define CC AEAD_CHACHA20_POLY1305

static const uint8_t a5_key[AEAD_KEY_LEN] = {
	0x1c, 0x92, 0x40, 0xa5, 0xeb, 0x55, 0xd3, 0x8a, 0xf3, 0x33, 0x88,
	0x86, 0x04, 0xf6, 0xb5, 0xf0, 0x47, 0x39, 0x17, 0xc1, 0x40, 0x2b,
	0x80, 0x09, 0x9d, 0xca, 0x5c, 0xbc, 0x20, 0x70, 0x75, 0xc0,
};
static const uint64_t a5_counter = 0x0807060504030201ull;
static const uint8_t a5_aad[] = { 0xf3, 0x33, 0x88, 0x86, 0x00, 0x00,
				  0x00, 0x00, 0x00, 0x00, 0x4e, 0x91 };
static const char a5_plain[] =
    "Internet-Drafts are draft documents valid for a maximum of six months and may be "
    "updated, replaced, or obsoleted by other documents at any time. It is inappropriate to "
    "use Internet-Drafts as reference material or to cite them other than as "
    "/\xe2\x80\x9cwork in progress./\xe2\x80\x9d";
/* Ciphertext followed by the tag. */
static const uint8_t a5_sealed[] = {
	0x64, 0xa0, 0x86, 0x15, 0x75, 0x86, 0x1a, 0xf4, 0x60, 0xf0, 0x62, 0xc7, 0x9b, 0xe6, 0x43,
	0xbd, 0x5e, 0x80, 0x5c, 0xfd, 0x34, 0x5c, 0xf3, 0x89, 0xf1, 0x08, 0x67, 0x0a, 0xc7, 0x6c,
	0x8c, 0xb2, 0x4c, 0x6c, 0xfc, 0x18, 0x75, 0x5d, 0x43, 0xee, 0xa0, 0x9e, 0xe9, 0x4e, 0x38,
	0x2d, 0x26, 0xb0, 0xbd, 0xb7, 0xb7, 0x3c, 0x32, 0x1b, 0x01, 0x00, 0xd4, 0xf0, 0x3b, 0x7f,
	0x35, 0x58, 0x94, 0xcf, 0x33, 0x2f, 0x83, 0x0e, 0x71, 0x0b, 0x97, 0xce, 0x98, 0xc8, 0xa8,
	0x4a, 0xbd, 0x0b, 0x94, 0x81, 0x14, 0xad, 0x17, 0x6e, 0x00, 0x8d, 0x33, 0xbd, 0x60, 0xf9,
	0x82, 0xb1, 0xff, 0x37, 0xc8, 0x55, 0x97, 0x97, 0xa0, 0x6e, 0xf4, 0xf0, 0xef, 0x61, 0xc1,
	0x86, 0x32, 0x4e, 0x2b, 0x35, 0x06, 0x38, 0x36, 0x06, 0x90, 0x7b, 0x6a, 0x7c, 0x02, 0xb0,
	0xf9, 0xf6, 0x15, 0x7b, 0x53, 0xc8, 0x67, 0xe4, 0xb9, 0x16, 0x6c, 0x76, 0x7b, 0x80, 0x4d,
	0x46, 0xa5, 0x9b, 0x52, 0x16, 0xcd, 0xe7, 0xa4, 0xe9, 0x90, 0x40, 0xc5, 0xa4, 0x04, 0x33,
	0x22, 0x5e, 0xe2, 0x82, 0xa1, 0xb0, 0xa0, 0x6c, 0x52, 0x3e, 0xaf, 0x45, 0x34, 0xd7, 0xf8,
	0x3f, 0xa1, 0x15, 0x5b, 0x00, 0x47, 0x71, 0x8c, 0xbc, 0x54, 0x6a, 0x0d, 0x07, 0x2b, 0x04,
	0xb3, 0x56, 0x4e, 0xea, 0x1b, 0x42, 0x22, 0x73, 0xf5, 0x48, 0x27, 0x1a, 0x0b, 0xb2, 0x31,
	0x60, 0x53, 0xfa, 0x76, 0x99, 0x19, 0x55, 0xeb, 0xd6, 0x31, 0x59, 0x43, 0x4e, 0xce, 0xbb,
	0x4e, 0x46, 0x6d, 0xae, 0x5a, 0x10, 0x73, 0xa6, 0x72, 0x76, 0x27, 0x09, 0x7a, 0x10, 0x49,
	0xe6, 0x17, 0xd9, 0x1d, 0x36, 0x10, 0x94, 0xfa, 0x68, 0xf0, 0xff, 0x77, 0x98, 0x71, 0x30,
	0x30, 0x5b, 0xea, 0xba, 0x2e, 0xda, 0x04, 0xdf, 0x99, 0x7b, 0x71, 0x4d, 0x6c, 0x6f, 0x2c,
	0x29, 0xa6, 0xad, 0x5c, 0xb4, 0x02, 0x2b, 0x02, 0x70, 0x9b, 0xee, 0xad, 0x9d, 0x67, 0x89,
	0x0c, 0xbb, 0x22, 0x39, 0x23, 0x36, 0xfe, 0xa1, 0x85, 0x1f, 0x38,
};

static void
test_aead_seal_rfc8439_a5(void **state)
{
	uint8_t buf[sizeof(a5_sealed)];
	size_t len = sizeof(a5_plain) - 1;

	(void)state;
	assert_int_equal(len + AEAD_TAG_LEN, sizeof(a5_sealed));
	memcpy(buf, a5_plain, len);
	assert_true(aead_seal(CC, a5_key, a5_counter, a5_aad, sizeof(a5_aad), buf, len));
	assert_memory_equal(buf, a5_sealed, sizeof(a5_sealed));
}

static void
test_aead_open_rfc8439_a5(void **state)
{
	uint8_t buf[sizeof(a5_sealed)];

	(void)state;
	memcpy(buf, a5_sealed, sizeof(buf));
	assert_true(aead_open(CC, a5_key, a5_counter, a5_aad, sizeof(a5_aad), buf, sizeof(buf)));
	assert_memory_equal(buf, a5_plain, sizeof(a5_plain) - 1);
}

/* Each kind of tampering flips one thing and must make open fail. */
static void
test_aead_open_tampered(void **state)
{
	uint8_t buf[sizeof(a5_sealed)], aad[sizeof(a5_aad)], key[AEAD_KEY_LEN];

	(void)state;
	memcpy(aad, a5_aad, sizeof(aad));
	memcpy(key, a5_key, sizeof(key));
	for (size_t i = 0; i < sizeof(buf); i++) { /* every byte of ciphertext and tag */
		memcpy(buf, a5_sealed, sizeof(buf));
		buf[i] ^= 0x80;
		assert_false(aead_open(CC, key, a5_counter, aad, sizeof(aad), buf, sizeof(buf)));
	}
	memcpy(buf, a5_sealed, sizeof(buf));
	aad[3] ^= 1;
	assert_false(aead_open(CC, key, a5_counter, aad, sizeof(aad), buf, sizeof(buf)));
	aad[3] ^= 1;
	memcpy(buf, a5_sealed, sizeof(buf));
	assert_false(aead_open(CC, key, a5_counter, aad, sizeof(aad) - 1, buf, sizeof(buf)));
	memcpy(buf, a5_sealed, sizeof(buf));
	assert_false(aead_open(CC, key, a5_counter + 1, aad, sizeof(aad), buf, sizeof(buf)));
	memcpy(buf, a5_sealed, sizeof(buf));
	assert_false(
	    aead_open(CC, key, a5_counter ^ (1ull << 63), aad, sizeof(aad), buf, sizeof(buf)));
	memcpy(buf, a5_sealed, sizeof(buf));
	key[31] ^= 1;
	assert_false(aead_open(CC, key, a5_counter, aad, sizeof(aad), buf, sizeof(buf)));
	key[31] ^= 1;
	/* Truncated: shorter than a tag, and one byte short. */
	memcpy(buf, a5_sealed, sizeof(buf));
	assert_false(aead_open(CC, key, a5_counter, aad, sizeof(aad), buf, AEAD_TAG_LEN - 1));
	assert_false(aead_open(CC, key, a5_counter, aad, sizeof(aad), buf, sizeof(buf) - 1));
	/* The original still opens: nothing above was a false negative by accident. */
	memcpy(buf, a5_sealed, sizeof(buf));
	assert_true(aead_open(CC, key, a5_counter, aad, sizeof(aad), buf, sizeof(buf)));
}

/* Seeded random sizes 0..1500 (and empty AAD): seal then open gives the plaintext back. */
static void
test_aead_seal_round_trip(void **state)
{
	uint8_t key[AEAD_KEY_LEN], aad[32], plain[1500], buf[1500 + AEAD_TAG_LEN];

	(void)state;
	srand(8439);
	for (int round = 0; round < 500; round++) {
		size_t len = (size_t)rand() % (sizeof(plain) + 1);
		size_t aad_len = (size_t)rand() % (sizeof(aad) + 1);
		uint64_t ctr = ((uint64_t)rand() << 32) ^ (uint64_t)rand();

		for (size_t i = 0; i < sizeof(key); i++)
			key[i] = (uint8_t)rand();
		for (size_t i = 0; i < aad_len; i++)
			aad[i] = (uint8_t)rand();
		for (size_t i = 0; i < len; i++)
			plain[i] = (uint8_t)rand();
		memcpy(buf, plain, len);
		assert_true(aead_seal(CC, key, ctr, aad_len ? aad : NULL, aad_len, buf, len));
		if (len >= 16)
			assert_memory_not_equal(buf, plain, len);
		assert_true(aead_open(CC, key, ctr, aad_len ? aad : NULL, aad_len, buf,
				      len + AEAD_TAG_LEN));
		assert_memory_equal(buf, plain, len);
	}
}

/* Same key, counters differing in one byte anywhere: different key streams (nonce layout). */
static void
test_aead_seal_counter_bytes(void **state)
{
	uint8_t a[64 + AEAD_TAG_LEN], b[64 + AEAD_TAG_LEN];

	(void)state;
	for (int byte = 0; byte < 8; byte++) {
		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		assert_true(aead_seal(CC, a5_key, 0, NULL, 0, a, 64));
		assert_true(aead_seal(CC, a5_key, 1ull << (8 * byte), NULL, 0, b, 64));
		assert_memory_not_equal(a, b, 64);
	}
}

static void
test_crypto_random_fills(void **state)
{
	uint8_t a[64] = { 0 }, b[64] = { 0 }, zero[64] = { 0 };

	(void)state;
	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(crypto_random(a, 0), 0);
}

static void
test_crypto_equal_and_wipe(void **state)
{
	uint8_t a[33], b[33], zero[33] = { 0 };

	(void)state;
	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(crypto_equal(a, b, sizeof(a)));
	assert_true(crypto_equal(a, b, 0));
	for (size_t i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x01;
		assert_false(crypto_equal(a, b, sizeof(a)));
		b[i] ^= 0x01;
	}
	crypto_wipe(a, sizeof(a));
	assert_memory_equal(a, zero, sizeof(a));
	crypto_wipe(NULL, 0);
}

/* Not a benchmark: a bounded loop that must stay well under the test timeout. */
static void
test_aead_seal_matches_wolfcrypt(void **state)
{
	uint8_t key[AEAD_KEY_LEN], aad[16], ours[1600], theirs[1600], nonce[12] = { 0 };

	(void)state;
	srandom(8439);
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(random() % 1500);
		uint64_t counter = (uint64_t)random() << 32 | (uint64_t)random();

		for (size_t i = 0; i < sizeof(key); i++)
			key[i] = (uint8_t)random();
		for (size_t i = 0; i < sizeof(aad); i++)
			aad[i] = (uint8_t)random();
		for (size_t i = 0; i < len; i++)
			ours[i] = theirs[i] = (uint8_t)random();
		for (int i = 0; i < 8; i++)
			nonce[4 + i] = (uint8_t)(counter >> (8 * i));
		assert_true(aead_seal(CC, key, counter, aad, sizeof(aad), ours, len));
		assert_int_equal(wc_ChaCha20Poly1305_Encrypt(key, nonce, aad, sizeof(aad), theirs,
							     (word32)len, theirs, theirs + len),
				 0);
		assert_memory_equal(ours, theirs, len + AEAD_TAG_LEN);
		assert_true(
		    aead_open(CC, key, counter, aad, sizeof(aad), theirs, len + AEAD_TAG_LEN));
	}
}

static void
test_aead_seal_many(void **state)
{
	uint8_t buf[1420 + AEAD_TAG_LEN] = { 0 };
	struct timespec t0, t1;
	double mbps;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < 20000; i++)
		assert_true(aead_seal(CC, a5_key, i, NULL, 0, buf, 1420));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	mbps = 20000.0 * 1420 * 8 / 1e6 /
	       ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	print_message("aead_seal: %.0f Mbit/s at 1420-byte frames\n", mbps);
}

/* --- AES-256-GCM ---------------------------------------------------------------------------- */

#define GCM AEAD_AES256_GCM

static bool
no_aes(void)
{
	if (aead_aes256gcm_available())
		return false;
	print_message("no AES-NI here: AES-256-GCM is not used, its tests are skipped\n");
	return true;
}

/* McGrew and Viega, "The Galois/Counter Mode of Operation", test case 14: K = 0^256, IV = 0^96
 * (our nonce for counter 0), P = 0^128, no AAD. */
static void
test_aes_gcm_test_case_14(void **state)
{
	static const uint8_t want[] = {
		0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e,
		0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3, 0x9d, 0x18, /* ciphertext */
		0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0,
		0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19, /* tag */
	};
	uint8_t key[AEAD_KEY_LEN] = { 0 }, buf[16 + AEAD_TAG_LEN] = { 0 };

	(void)state;
	if (no_aes())
		skip();
	assert_true(aead_seal(GCM, key, 0, NULL, 0, buf, 16));
	assert_memory_equal(buf, want, sizeof(want));
	assert_true(aead_open(GCM, key, 0, NULL, 0, buf, sizeof(buf)));
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0);
}

/* Seeded random inputs: ours is byte for byte wolfCrypt's AES-GCM, opens, and refuses tampering. */
static void
test_aes_gcm_matches_wolfcrypt(void **state)
{
	uint8_t key[AEAD_KEY_LEN], aad[16], ours[1600], theirs[1600], nonce[12] = { 0 };
	uint8_t sealed[1600], plain[1600];
	Aes aes;

	(void)state;
	if (no_aes())
		skip();
	assert_int_equal(wc_AesInit(&aes, NULL, INVALID_DEVID), 0);
	srandom(38);
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(random() % 1500), flip;
		uint64_t counter = (uint64_t)random() << 32 | (uint64_t)random();

		for (size_t i = 0; i < sizeof(key); i++)
			key[i] = (uint8_t)random();
		for (size_t i = 0; i < sizeof(aad); i++)
			aad[i] = (uint8_t)random();
		for (size_t i = 0; i < len; i++)
			plain[i] = ours[i] = theirs[i] = (uint8_t)random();
		for (int i = 0; i < 8; i++)
			nonce[4 + i] = (uint8_t)(counter >> (8 * i));
		assert_true(aead_seal(GCM, key, counter, aad, sizeof(aad), ours, len));
		assert_int_equal(wc_AesGcmSetKey(&aes, key, sizeof(key)), 0);
		assert_int_equal(wc_AesGcmEncrypt(&aes, theirs, theirs, (word32)len, nonce,
						  sizeof(nonce), theirs + len, AEAD_TAG_LEN, aad,
						  sizeof(aad)),
				 0);
		assert_memory_equal(ours, theirs, len + AEAD_TAG_LEN);
		/*
		 * One flipped bit anywhere, the other cipher, the next counter: refused (a refused
		 * AES-256-GCM open leaves the buffer zeroed: each try gets a fresh copy);
		 * untouched: opens.
		 */
		memcpy(sealed, theirs, len + AEAD_TAG_LEN);
		flip = (size_t)random() % (len + AEAD_TAG_LEN);
		theirs[flip] ^= 1;
		assert_false(
		    aead_open(GCM, key, counter, aad, sizeof(aad), theirs, len + AEAD_TAG_LEN));
		memcpy(theirs, sealed, len + AEAD_TAG_LEN);
		assert_false(
		    aead_open(CC, key, counter, aad, sizeof(aad), theirs, len + AEAD_TAG_LEN));
		memcpy(theirs, sealed, len + AEAD_TAG_LEN);
		assert_false(
		    aead_open(GCM, key, counter + 1, aad, sizeof(aad), theirs, len + AEAD_TAG_LEN));
		memcpy(theirs, sealed, len + AEAD_TAG_LEN);
		assert_true(
		    aead_open(GCM, key, counter, aad, sizeof(aad), theirs, len + AEAD_TAG_LEN));
		assert_memory_equal(theirs, plain, len);
	}
	wc_AesFree(&aes);
}

/* A ChaCha20-Poly1305 frame does not open as AES-256-GCM under the same key, nor the reverse. */
static void
test_aead_ciphers_do_not_cross(void **state)
{
	uint8_t buf[64 + AEAD_TAG_LEN] = { 0 };

	(void)state;
	if (no_aes())
		skip();
	assert_true(aead_seal(CC, a5_key, 5, NULL, 0, buf, 64));
	assert_false(aead_open(GCM, a5_key, 5, NULL, 0, buf, sizeof(buf)));
	memset(buf, 0, sizeof(buf));
	assert_true(aead_seal(GCM, a5_key, 5, NULL, 0, buf, 64));
	assert_false(aead_open(CC, a5_key, 5, NULL, 0, buf, sizeof(buf)));
	assert_string_equal(aead_cipher_name(GCM), "aes-256-gcm");
	assert_string_equal(aead_cipher_name(CC), "chacha20-poly1305");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aead_seal_rfc8439_a5),
		cmocka_unit_test(test_aead_open_rfc8439_a5),
		cmocka_unit_test(test_aead_open_tampered),
		cmocka_unit_test(test_aead_seal_round_trip),
		cmocka_unit_test(test_aead_seal_counter_bytes),
		cmocka_unit_test(test_crypto_random_fills),
		cmocka_unit_test(test_crypto_equal_and_wipe),
		cmocka_unit_test(test_aead_seal_many),
		cmocka_unit_test(test_aead_seal_matches_wolfcrypt),
		cmocka_unit_test(test_aes_gcm_test_case_14),
		cmocka_unit_test(test_aes_gcm_matches_wolfcrypt),
		cmocka_unit_test(test_aead_ciphers_do_not_cross),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
