/* SPDX-License-Identifier: MIT */
/*
 * Tests for the Internet checksum helpers (daemon/overlay/csum.c): RFC 1071/1624 vectors, and
 * thousands of seeded random buffers and word replacements checked against a naive byte-by-byte
 * reference and against recomputation from scratch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "overlay/csum.h"

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint16_t
ref_checksum(const uint8_t *p, size_t n)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc += (i % 2 == 0) ? (uint64_t)p[i] << 8 : p[i];
	while (acc > 0xffff)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void
test_csum_partial_rfc1071(void **state)
{
	/* RFC 1071 §3: these words sum to 0xddf2. */
	static const uint8_t words[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	assert_int_equal(csum_partial(words, sizeof(words), 0), 0xddf2);
	assert_int_equal(csum_fold(csum_partial(words, sizeof(words), 0)), 0x220d);
}

static void
test_csum_partial_random(void **state)
{
	uint32_t r = 0xc5c5c5c5;
	uint8_t buf[2048];

	for (int i = 0; i < 3000; i++) {
		size_t n = rnd(&r) % sizeof(buf), split = (rnd(&r) % (n + 1)) & ~(size_t)1;

		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)rnd(&r);
		assert_int_equal(csum_fold(csum_partial(buf, n, 0)), ref_checksum(buf, n));
		/* Chained over an even-length first chunk. */
		assert_int_equal(
		    csum_fold(csum_partial(buf + split, n - split, csum_partial(buf, split, 0))),
		    ref_checksum(buf, n));
	}
}

static void
test_csum_adjust_rfc1624(void **state)
{
	/* RFC 1624 §4: HC 0xdd2f, m 0x5555 -> m' 0x3285 gives 0x0000 by eqn. 3. */
	uint8_t field[2] = { 0xdd, 0x2f };
	static const uint8_t m_old[2] = { 0x55, 0x55 }, m_new[2] = { 0x32, 0x85 };

	csum_adjust(field, csum_delta(m_old, m_new, 2, 0));
	assert_int_equal(field[0], 0x00);
	assert_int_equal(field[1], 0x00);
}

static void
test_csum_adjust_random(void **state)
{
	uint32_t r = 0x12345678;
	uint8_t buf[256], repl[32];

	for (int i = 0; i < 5000; i++) {
		size_t n = 4 + 2 * (rnd(&r) % 100), at, rl;
		uint16_t c;

		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)rnd(&r);
		buf[0] |= 1; /* a non-zero word, as every real header has */
		buf[2] = buf[3] = 0;
		c = ref_checksum(buf, n);
		buf[2] = (uint8_t)(c >> 8);
		buf[3] = (uint8_t)c;
		rl = 2 * (1 + rnd(&r) % 16);
		at = 4 + 2 * (rnd(&r) % ((n - 4) / 2 + 1));
		if (at + rl > n)
			rl = (n - at) & ~(size_t)1;
		for (size_t j = 0; j < rl; j++)
			repl[j] = (uint8_t)rnd(&r);
		csum_adjust(buf + 2, csum_delta(buf + at, repl, rl, 0));
		memcpy(buf + at, repl, rl);
		c = (uint16_t)(buf[2] << 8 | buf[3]);
		buf[2] = buf[3] = 0;
		/* Incremental equals from scratch exactly while the data sum is non-zero. */
		assert_int_equal(c, ref_checksum(buf, n));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_partial_rfc1071),
		cmocka_unit_test(test_csum_partial_random),
		cmocka_unit_test(test_csum_adjust_rfc1624),
		cmocka_unit_test(test_csum_adjust_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
