// SPDX-License-Identifier: MIT
/*
 * The relay's datagrams (proto/relayudp.h): round trips of every control message, the MAC
 * (another key, any flipped byte, one type passed for another), the header's checks (reserved
 * bytes, handles, lengths per type) and the first byte that tells them from frames and
 * reflection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/frame.h"
#include "proto/reflect.h"
#include "crypto/aead.h"
#include "proto/relayudp.h"

/* A control datagram with its MAC (as the agent and the server seal them); 0 if m is bad. */
static size_t
relay_udp_seal(uint8_t *out, size_t cap, const struct rudp_ctl *m, const uint8_t key[RUDP_KEY_LEN])
{
	size_t len = rudp_ctl_encode(out, cap, m);

	if (len)
		crypto_mac(out + len - RUDP_MAC_LEN, key, out, len - RUDP_MAC_LEN);
	return len;
}

/* A control datagram's fields, once its layout and its MAC under key are right. */
static bool
relay_udp_open(const uint8_t *buf, size_t len, const uint8_t key[RUDP_KEY_LEN], struct rudp_ctl *m)
{
	return rudp_ctl_decode(buf, len, m) &&
	       crypto_mac_ok(buf + len - RUDP_MAC_LEN, key, buf, len - RUDP_MAC_LEN);
}

static const uint8_t key[RUDP_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t other_key[RUDP_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 11 };

static void
test_rudp_ctl_round_trip(void **state)
{
	static const uint8_t types[] = { RUDP_BIND, RUDP_BIND_OK, RUDP_PAIR, RUDP_PAIR_OK };
	uint8_t buf[RUDP_PAIR_MAX_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		bool paired = types[i] == RUDP_PAIR || types[i] == RUDP_PAIR_OK;
		struct rudp_ctl m = { .h = { .type = types[i],
					     .handle = paired ? 7 : 0,
					     .ticket = 0x0102030405060708ull },
				      .seq = 42 + i },
				out;
		size_t len;

		if (types[i] == RUDP_PAIR) {
			strcpy(m.to, "bob@b.example.com");
			if (i == 2)
				strcpy(m.from, "alice@a.example.com");
		}
		len = relay_udp_seal(buf, sizeof(buf), &m, key);
		assert_int_equal(len,
				 types[i] == RUDP_PAIR ? RUDP_CTL_LEN + 2 + 19 + 17 : RUDP_CTL_LEN);
		assert_int_equal(buf[0], types[i]);
		assert_true(rudp_is_rudp(buf, len));
		assert_false(reflect_is_reflect(buf, len));
		assert_true(relay_udp_open(buf, len, key, &out));
		assert_int_equal(out.h.type, types[i]);
		assert_int_equal(out.h.handle, m.h.handle);
		assert_true(out.h.ticket == m.h.ticket);
		assert_true(out.seq == m.seq);
		assert_string_equal(out.from, m.from);
		assert_string_equal(out.to, m.to);
		assert_false(relay_udp_open(buf, len, other_key, &out));
		for (size_t b = 0; b < len; b++) {
			buf[b] ^= 0x40;
			assert_false(relay_udp_open(buf, len, key, &out));
			buf[b] ^= 0x40;
		}
		assert_false(relay_udp_open(buf, len - 1, key, &out));
	}
}

/* The vector of docs/protocol.md: computed independently (BLAKE2b-128, keyed), the corpus' bind. */
static void
test_rudp_bind_vector(void **state)
{
	static const uint8_t k[RUDP_KEY_LEN] = { 7 };
	static const uint8_t want[RUDP_CTL_LEN] = {
		0x12, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x16, 0xc7, 0xc4, 0x76,
		0x5b, 0xc5, 0x1b, 0x24, 0x23, 0x2f, 0x38, 0xe4, 0x4b, 0x76, 0xd1, 0x9a,
	};
	struct rudp_ctl m = { .h = { .type = RUDP_BIND, .ticket = 0x0102030405060708ull },
			      .seq = 1 };
	uint8_t buf[RUDP_CTL_LEN];

	(void)state;
	assert_int_equal(relay_udp_seal(buf, sizeof(buf), &m, k), RUDP_CTL_LEN);
	assert_memory_equal(buf, want, RUDP_CTL_LEN);
}

static void
test_rudp_ctl_type_is_covered(void **state)
{
	struct rudp_ctl m = { .h = { .type = RUDP_BIND, .ticket = 9 }, .seq = 3 }, out;
	uint8_t buf[RUDP_CTL_LEN];

	(void)state;
	assert_int_equal(relay_udp_seal(buf, sizeof(buf), &m, key), RUDP_CTL_LEN);
	buf[0] = RUDP_BIND_OK; /* a BIND reflected back as its answer */
	assert_false(relay_udp_open(buf, sizeof(buf), key, &out));
}

static void
test_rudp_ctl_encode_refuses(void **state)
{
	struct rudp_ctl m = { .h = { .type = RUDP_PAIR, .handle = 1 } };
	uint8_t buf[RUDP_PAIR_MAX_LEN];

	(void)state;
	assert_int_equal(relay_udp_seal(buf, sizeof(buf), &m, key), 0); /* no `to` */
	strcpy(m.to, "bob@b.example.com");
	m.h.handle = 0;
	assert_int_equal(relay_udp_seal(buf, sizeof(buf), &m, key), 0);
	m.h.handle = 1;
	assert_int_equal(relay_udp_seal(buf, RUDP_CTL_LEN, &m, key), 0); /* no room */
	m.h.type = RUDP_BIND;                                            /* a BIND has no handle */
	assert_int_equal(relay_udp_seal(buf, sizeof(buf), &m, key), 0);
	m.h.type = RUDP_DATA;
	assert_int_equal(relay_udp_seal(buf, sizeof(buf), &m, key), 0);
}

static void
test_rudp_hdr_checks(void **state)
{
	uint8_t buf[RUDP_DATA_MAX_LEN + 1] = { 0 };
	struct rudp_hdr h;

	(void)state;
	rudp_data_hdr_encode(buf, 5, 0xa1a2a3a4a5a6a7a8ull);
	assert_true(rudp_hdr_decode(buf, RUDP_DATA_MIN_LEN, &h));
	assert_int_equal(h.type, RUDP_DATA);
	assert_int_equal(h.handle, 5);
	assert_true(h.ticket == 0xa1a2a3a4a5a6a7a8ull);
	assert_true(rudp_hdr_decode(buf, RUDP_DATA_MAX_LEN, &h));
	assert_false(rudp_hdr_decode(buf, RUDP_DATA_MIN_LEN - 1, &h)); /* shorter than a frame */
	assert_false(rudp_hdr_decode(buf, RUDP_DATA_MAX_LEN + 1, &h));
	buf[1] = 1; /* reserved */
	assert_false(rudp_hdr_decode(buf, RUDP_DATA_MIN_LEN, &h));
	buf[1] = 0;
	rudp_data_hdr_encode(buf, 0, 1);
	assert_false(rudp_hdr_decode(buf, RUDP_DATA_MIN_LEN, &h)); /* handle 0 */
	rudp_data_hdr_encode(buf, 65535, 1); /* any other handle: its receiver bounds them */
	assert_true(rudp_hdr_decode(buf, RUDP_DATA_MIN_LEN, &h));
	buf[0] = RUDP_BIND; /* a BIND must be exactly RUDP_CTL_LEN */
	buf[2] = buf[3] = 0;
	assert_false(rudp_hdr_decode(buf, RUDP_CTL_LEN + 1, &h));
	assert_true(rudp_hdr_decode(buf, RUDP_CTL_LEN, &h));
	assert_false(rudp_hdr_decode(buf, 3, &h));
	assert_false(rudp_is_rudp(buf, 0));
}

static void
test_rudp_first_byte(void **state)
{
	uint8_t b[1];

	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		b[0] = (uint8_t)v;
		assert_int_equal(rudp_is_rudp(b, 1), v >= RUDP_BIND && v <= RUDP_DATA);
		if (rudp_is_rudp(b, 1))
			assert_true(v != FRAME_DATA && v != REFLECT_REQUEST &&
				    v != REFLECT_RESPONSE);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rudp_ctl_round_trip),
		cmocka_unit_test(test_rudp_bind_vector),
		cmocka_unit_test(test_rudp_ctl_type_is_covered),
		cmocka_unit_test(test_rudp_ctl_encode_refuses),
		cmocka_unit_test(test_rudp_hdr_checks),
		cmocka_unit_test(test_rudp_first_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
