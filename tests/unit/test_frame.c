// SPDX-License-Identifier: MIT
/*
 * Unit tests for the data frame header codec (proto/frame.c): the known-answer vector that
 * docs/protocol.md also shows, seeded random round trips, and every rejection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/frame.h"

/* docs/protocol.md, "Data frames": type 1, receiver 0xdeadbeef, counter 0x0011223344556677 */
static const uint8_t frame_kat[FRAME_HDR_LEN] = {
	0x01, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef,
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
};

/* A frame of len bytes whose header is the test vector. */
static uint8_t *
frame_make(size_t len)
{
	uint8_t *buf = calloc(1, len ? len : 1);

	assert_non_null(buf);
	memcpy(buf, frame_kat, len < FRAME_HDR_LEN ? len : FRAME_HDR_LEN);
	return buf;
}

static void
test_frame_hdr_encode_known_answer(void **state)
{
	struct frame_hdr h = { .type = FRAME_DATA,
			       .receiver = 0xdeadbeef,
			       .counter = 0x0011223344556677ull };
	uint8_t out[FRAME_HDR_LEN];

	memset(out, 0xaa, sizeof(out));
	frame_hdr_encode(out, &h);
	assert_memory_equal(out, frame_kat, FRAME_HDR_LEN);
}

static void
test_frame_hdr_decode_known_answer(void **state)
{
	uint8_t *buf = frame_make(FRAME_OVERHEAD);
	struct frame_hdr h;

	assert_true(frame_hdr_decode(buf, FRAME_OVERHEAD, &h));
	assert_int_equal(h.type, FRAME_DATA);
	assert_int_equal(h.receiver, 0xdeadbeef);
	assert_true(h.counter == 0x0011223344556677ull);
	free(buf);
}

static void
test_frame_hdr_decode_round_trip_random(void **state)
{
	srandom(6479);
	for (int i = 0; i < 10000; i++) {
		struct frame_hdr in, out;
		uint8_t buf[FRAME_MAX_LEN];
		size_t len =
		    FRAME_OVERHEAD + (size_t)random() % (FRAME_MAX_LEN - FRAME_OVERHEAD + 1);

		in.type = FRAME_DATA;
		in.receiver = (uint32_t)random() | 1u << (random() % 32);
		in.counter =
		    (uint64_t)random() << 33 ^ (uint64_t)random() << 2 ^ (uint64_t)random();
		if (i == 0)
			in.counter = UINT64_MAX;
		memset(buf, (int)i, sizeof(buf));
		frame_hdr_encode(buf, &in);
		assert_true(frame_hdr_decode(buf, len, &out));
		assert_int_equal(out.type, in.type);
		assert_int_equal(out.receiver, in.receiver);
		assert_true(out.counter == in.counter);
	}
}

static void
test_frame_hdr_decode_length_bounds(void **state)
{
	uint8_t *buf = frame_make(FRAME_MAX_LEN + 1);
	struct frame_hdr h;

	/* the shortest frame is a keepalive: header and tag, no payload */
	for (size_t len = 0; len < FRAME_OVERHEAD; len++)
		assert_false(frame_hdr_decode(buf, len, &h));
	assert_true(frame_hdr_decode(buf, FRAME_OVERHEAD, &h));
	assert_true(frame_hdr_decode(buf, FRAME_MAX_LEN, &h));
	assert_false(frame_hdr_decode(buf, FRAME_MAX_LEN + 1, &h));
	free(buf);
}

static void
test_frame_hdr_decode_unknown_type(void **state)
{
	uint8_t *buf = frame_make(FRAME_OVERHEAD);
	struct frame_hdr h;

	for (unsigned t = 0; t < 256; t++) {
		buf[FRAME_OFF_TYPE] = (uint8_t)t;
		assert_int_equal(frame_hdr_decode(buf, FRAME_OVERHEAD, &h),
				 t == FRAME_DATA || t == FRAME_DATA_AES);
	}
	free(buf);
}

static void
test_frame_hdr_decode_reserved_nonzero(void **state)
{
	uint8_t *buf = frame_make(FRAME_OVERHEAD);
	struct frame_hdr h;

	for (int off = FRAME_OFF_RESERVED; off < FRAME_OFF_RECEIVER; off++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[off] = (uint8_t)(1u << bit);
			assert_false(frame_hdr_decode(buf, FRAME_OVERHEAD, &h));
			buf[off] = 0;
		}
	}
	assert_true(frame_hdr_decode(buf, FRAME_OVERHEAD, &h));
	free(buf);
}

static void
test_frame_hdr_decode_zero_receiver(void **state)
{
	uint8_t *buf = frame_make(FRAME_OVERHEAD);
	struct frame_hdr h;

	memset(buf + FRAME_OFF_RECEIVER, 0, 4);
	assert_false(frame_hdr_decode(buf, FRAME_OVERHEAD, &h));
	buf[FRAME_OFF_RECEIVER + 3] = 1;
	assert_true(frame_hdr_decode(buf, FRAME_OVERHEAD, &h));
	assert_int_equal(h.receiver, 1);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_hdr_encode_known_answer),
		cmocka_unit_test(test_frame_hdr_decode_known_answer),
		cmocka_unit_test(test_frame_hdr_decode_round_trip_random),
		cmocka_unit_test(test_frame_hdr_decode_length_bounds),
		cmocka_unit_test(test_frame_hdr_decode_unknown_type),
		cmocka_unit_test(test_frame_hdr_decode_reserved_nonzero),
		cmocka_unit_test(test_frame_hdr_decode_zero_receiver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
