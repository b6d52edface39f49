// SPDX-License-Identifier: MIT
/*
 * Unit tests for stream records and HELLO (proto/record.c): known-answer vectors that
 * docs/protocol.md also shows, the per-type length limits, and every HELLO rejection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ctlmsg.h"
#include "proto/frame.h"
#include "proto/record.h"

/*
 * docs/protocol.md, "HELLO": a complete HELLO record, receiver 0x0a0b0c0d, overlay addresses
 * 100.64.0.1 and fd00:1234:5678::1.
 */
static const uint8_t hello_record_kat[RECORD_HDR_LEN + HELLO_LEN] = {
	0x00, 0x01, 0x00, 0x00, 0x00, 0x1c,             /* type 1, length 28 */
	0x01, 0x00, 0x00, 0x00,                         /* version, flags, reserved */
	0x0a, 0x0b, 0x0c, 0x0d,                         /* receiver index */
	0x64, 0x40, 0x00, 0x01,                         /* 100.64.0.1 */
	0xfd, 0x00, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, /* fd00:1234:5678::1 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
};

static const struct hello hello_kat = {
	.version = HELLO_VERSION,
	.receiver = 0x0a0b0c0d,
	.addr4 = { 100, 64, 0, 1 },
	.addr6 = { 0xfd, 0x00, 0x12, 0x34, 0x56, 0x78, [15] = 0x01 },
};

static void
test_record_hdr_encode_known_answer(void **state)
{
	struct record_hdr h = { .type = RECORD_HELLO, .len = HELLO_LEN };
	uint8_t out[RECORD_HDR_LEN];

	record_hdr_encode(out, &h);
	assert_memory_equal(out, hello_record_kat, RECORD_HDR_LEN);

	/* docs/protocol.md: a FRAME record of 32 bytes and a CLOSE record */
	h = (struct record_hdr){ .type = RECORD_FRAME, .len = 32 };
	record_hdr_encode(out, &h);
	assert_memory_equal(out, ((uint8_t[]){ 0x00, 0x02, 0x00, 0x00, 0x00, 0x20 }), 6);
	h = (struct record_hdr){ .type = RECORD_CLOSE, .len = 0 };
	record_hdr_encode(out, &h);
	assert_memory_equal(out, ((uint8_t[]){ 0x00, 0x03, 0x00, 0x00, 0x00, 0x00 }), 6);
}

static void
test_hello_encode_known_answer(void **state)
{
	uint8_t out[HELLO_LEN];

	hello_encode(out, &hello_kat);
	assert_memory_equal(out, hello_record_kat + RECORD_HDR_LEN, HELLO_LEN);
}

static void
test_hello_decode_known_answer(void **state)
{
	struct record_hdr rh;
	struct hello h;

	assert_true(record_hdr_decode(hello_record_kat, sizeof(hello_record_kat), &rh));
	assert_int_equal(rh.type, RECORD_HELLO);
	assert_int_equal(rh.len, HELLO_LEN);
	assert_true(hello_decode(hello_record_kat + RECORD_HDR_LEN, rh.len, &h));
	assert_int_equal(h.version, HELLO_VERSION);
	assert_int_equal(h.receiver, 0x0a0b0c0d);
	assert_memory_equal(h.addr4, hello_kat.addr4, 4);
	assert_memory_equal(h.addr6, hello_kat.addr6, 16);
}

static void
test_hello_decode_round_trip_random(void **state)
{
	srandom(28);
	for (int i = 0; i < 5000; i++) {
		struct hello in = { .version = HELLO_VERSION }, out;
		uint8_t buf[HELLO_LEN];

		in.receiver = (uint32_t)random() | 1;
		for (int j = 0; j < 4; j++)
			in.addr4[j] = (uint8_t)random();
		for (int j = 0; j < 16; j++)
			in.addr6[j] = (uint8_t)random();
		hello_encode(buf, &in);
		assert_true(hello_decode(buf, sizeof(buf), &out));
		assert_int_equal(out.receiver, in.receiver);
		assert_memory_equal(out.addr4, in.addr4, 4);
		assert_memory_equal(out.addr6, in.addr6, 16);
	}
}

static void
test_hello_decode_rejects(void **state)
{
	uint8_t buf[HELLO_LEN + 1];
	struct hello h;

	memcpy(buf, hello_record_kat + RECORD_HDR_LEN, HELLO_LEN);
	buf[HELLO_LEN] = 0;
	assert_true(hello_decode(buf, HELLO_LEN, &h));
	/* wrong length, either way */
	assert_false(hello_decode(buf, HELLO_LEN - 1, &h));
	assert_false(hello_decode(buf, HELLO_LEN + 1, &h));
	assert_false(hello_decode(buf, 0, &h));
	/* unknown version */
	buf[0] = 0;
	assert_false(hello_decode(buf, HELLO_LEN, &h));
	buf[0] = 2;
	assert_false(hello_decode(buf, HELLO_LEN, &h));
	buf[0] = HELLO_VERSION;
	/* flags and reserved must be zero */
	for (int off = 1; off < 4; off++) {
		buf[off] = 0x80;
		assert_false(hello_decode(buf, HELLO_LEN, &h));
		buf[off] = 0;
	}
	/* zero receiver */
	memset(buf + 4, 0, 4);
	assert_false(hello_decode(buf, HELLO_LEN, &h));
}

/* CIPHERS: exactly one byte, every bit kept for the caller (unknown ones it ignores). */
static void
test_ciphers_decode(void **state)
{
	uint8_t buf[2] = { 0 }, bits = 0xee;

	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		buf[0] = (uint8_t)v;
		assert_true(ciphers_decode(buf, CIPHERS_LEN, &bits));
		assert_int_equal(bits, v);
	}
	bits = 0xee;
	assert_false(ciphers_decode(buf, 0, &bits));
	assert_false(ciphers_decode(buf, 2, &bits));
	assert_int_equal(bits, 0xee);
}

static void
test_record_body_max_types(void **state)
{
	assert_int_equal(record_body_max(RECORD_HELLO), HELLO_LEN);
	assert_int_equal(record_body_max(RECORD_FRAME), FRAME_MAX_LEN);
	assert_int_equal(record_body_max(RECORD_CLOSE), 0);
	assert_int_equal(record_body_max(CTL_CERT), 2 + CTL_BLOB_MAX + 2 + CTL_BLOB_MAX);
	assert_int_equal(record_body_max(0), RECORD_BODY_MAX);
	assert_int_equal(record_body_max(RECORD_CIPHERS), CIPHERS_LEN);
	assert_int_equal(record_body_max(5), RECORD_BODY_MAX);
	assert_int_equal(record_body_max(0xffff), RECORD_BODY_MAX);
}

/* Decodes a header built from type and len. */
static bool
record_try(uint16_t type, uint32_t len)
{
	struct record_hdr in = { .type = type, .len = len }, out;
	uint8_t buf[RECORD_HDR_LEN];
	bool ok;

	record_hdr_encode(buf, &in);
	ok = record_hdr_decode(buf, sizeof(buf), &out);
	if (ok) {
		assert_int_equal(out.type, type);
		assert_int_equal(out.len, len);
	}
	return ok;
}

static void
test_record_hdr_decode_limits(void **state)
{
	assert_true(record_try(RECORD_HELLO, HELLO_LEN));
	assert_false(record_try(RECORD_HELLO, HELLO_LEN - 1));
	assert_false(record_try(RECORD_HELLO, HELLO_LEN + 1));
	assert_false(record_try(RECORD_HELLO, 0));
	assert_true(record_try(RECORD_FRAME, 0)); /* the frame decoder rejects it, not us */
	assert_true(record_try(RECORD_FRAME, FRAME_MAX_LEN));
	assert_false(record_try(RECORD_FRAME, FRAME_MAX_LEN + 1));
	assert_true(record_try(RECORD_CLOSE, 0));
	assert_false(record_try(RECORD_CLOSE, 1));
	assert_true(record_try(RECORD_CIPHERS, CIPHERS_LEN));
	assert_false(record_try(RECORD_CIPHERS, 0));
	assert_false(record_try(RECORD_CIPHERS, CIPHERS_LEN + 1));
	assert_true(record_try(77, 0));
	assert_true(record_try(77, RECORD_BODY_MAX));
	assert_false(record_try(77, RECORD_BODY_MAX + 1));
	assert_false(record_try(0xffff, UINT32_MAX));
}

static void
test_record_hdr_decode_short(void **state)
{
	struct record_hdr h;

	for (size_t len = 0; len < RECORD_HDR_LEN; len++)
		assert_false(record_hdr_decode(hello_record_kat, len, &h));
	/* bytes after the header belong to the body and do not matter here */
	assert_true(record_hdr_decode(hello_record_kat, RECORD_HDR_LEN, &h));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_hdr_encode_known_answer),
		cmocka_unit_test(test_hello_encode_known_answer),
		cmocka_unit_test(test_hello_decode_known_answer),
		cmocka_unit_test(test_hello_decode_round_trip_random),
		cmocka_unit_test(test_hello_decode_rejects),
		cmocka_unit_test(test_ciphers_decode),
		cmocka_unit_test(test_record_body_max_types),
		cmocka_unit_test(test_record_hdr_decode_limits),
		cmocka_unit_test(test_record_hdr_decode_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
