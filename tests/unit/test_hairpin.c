// SPDX-License-Identifier: MIT
/*
 * The hairpin probe (proto/hairpin.h) and the hairpin test (direct/hairpin.h) on an injected
 * clock: the probe's one encoding (every reserved byte, the length, a zero nonce refused), its
 * first byte apart from frames', reflection's and the relay's; the test's schedule (HAIRPIN_TRIES
 * probes HAIRPIN_RETRY_MS apart, `no` at HAIRPIN_WAIT_MS), `yes` on the probe come back,
 * everything else of the type counted and dropped (another nonce, malformed, late, a second
 * copy), `no NAT` sending nothing, and a new test for a new address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/sockaddr.h"
#include "direct/hairpin.h"
#include "proto/frame.h"
#include "proto/hairpin.h"
#include "proto/reflect.h"
#include "proto/relayudp.h"

static void
test_hairpin_probe_codec(void **state)
{
	static const uint8_t want[HAIRPIN_LEN] = { 0x17, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t buf[HAIRPIN_LEN + 1] = { 0 };
	uint64_t nonce = 0;

	(void)state;
	hairpin_probe_encode(buf, 0x0102030405060708ull);
	assert_memory_equal(buf, want, HAIRPIN_LEN);
	assert_true(hairpin_is_probe(buf, HAIRPIN_LEN));
	assert_true(hairpin_probe_decode(buf, HAIRPIN_LEN, &nonce));
	assert_true(nonce == 0x0102030405060708ull);
	/* The length exactly. */
	assert_false(hairpin_probe_decode(buf, HAIRPIN_LEN - 1, &nonce));
	assert_false(hairpin_probe_decode(buf, HAIRPIN_LEN + 1, &nonce));
	assert_false(hairpin_probe_decode(buf, 0, &nonce));
	/* Every reserved byte zero. */
	for (int i = HAIRPIN_OFF_RESERVED; i < HAIRPIN_OFF_NONCE; i++) {
		buf[i] = 0x80;
		assert_false(hairpin_probe_decode(buf, HAIRPIN_LEN, &nonce));
		assert_true(hairpin_is_probe(buf, HAIRPIN_LEN)); /* still ours: counted */
		buf[i] = 0;
	}
	/* No zero nonce (it means "no test running"). */
	hairpin_probe_encode(buf, 0);
	assert_false(hairpin_probe_decode(buf, HAIRPIN_LEN, &nonce));
	/* Its first byte is nobody else's on the data socket, and theirs are not its. */
	buf[0] = FRAME_DATA;
	assert_false(hairpin_is_probe(buf, HAIRPIN_LEN));
	assert_false(hairpin_probe_decode(buf, HAIRPIN_LEN, &nonce));
	for (uint8_t t = REFLECT_REQUEST; t <= RUDP_DATA; t++) {
		buf[0] = t;
		assert_false(hairpin_is_probe(buf, HAIRPIN_LEN));
	}
	buf[0] = HAIRPIN_PROBE;
	assert_false(reflect_is_reflect(buf, HAIRPIN_LEN));
	assert_false(rudp_is_rudp(buf, HAIRPIN_LEN));
	assert_false(hairpin_is_probe(buf, 0));
}

struct fx {
	struct hairpin h;
	struct sockaddr_storage target;
	uint64_t now;
	uint8_t sent[HAIRPIN_TRIES + 1][HAIRPIN_LEN];
	unsigned nsent;
};

/* ms of ticks every 50 ms, like direct.c's timer; what is sent kept. */
static void
advance(struct fx *f, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 50) {
		uint8_t buf[HAIRPIN_LEN];

		f->now += 50;
		if (hairpin_tick(&f->h, f->now, buf)) {
			assert_true(f->nsent <= HAIRPIN_TRIES);
			memcpy(f->sent[f->nsent++], buf, HAIRPIN_LEN);
		}
	}
}

static void
start(struct fx *f, const char *addr, bool no_nat, uint64_t nonce)
{
	uint8_t buf[HAIRPIN_LEN];

	assert_int_equal(sockaddr_parse(addr, &f->target), 0);
	hairpin_start(&f->h, &f->target, no_nat, nonce, f->now);
	f->nsent = 0;
	/* The first probe at once (direct.c ticks right after starting). */
	if (hairpin_tick(&f->h, f->now, buf))
		memcpy(f->sent[f->nsent++], buf, HAIRPIN_LEN);
}

static void
test_hairpin_yes(void **state)
{
	struct fx f = { .now = 5000000 };
	uint8_t forged[HAIRPIN_LEN];

	(void)state;
	hairpin_init(&f.h);
	assert_int_equal(f.h.result, HAIRPIN_UNTESTED);
	assert_string_equal(hairpin_result_name(f.h.result), "untested");
	start(&f, "198.18.0.201:4800", false, 0x1234);
	assert_int_equal(f.h.result, HAIRPIN_TESTING);
	assert_string_equal(hairpin_result_name(f.h.result), "testing");
	assert_int_equal(f.nsent, 1);
	assert_true(sockaddr_equal(&f.h.target, &f.target));
	/* Another nonce, a malformed one: counted, dropped, the test goes on. */
	hairpin_probe_encode(forged, 0x9999);
	assert_false(hairpin_on_datagram(&f.h, forged, sizeof(forged), f.now));
	assert_false(hairpin_on_datagram(&f.h, f.sent[0], HAIRPIN_LEN - 1, f.now));
	assert_int_equal(f.h.bad, 2);
	assert_int_equal(f.h.result, HAIRPIN_TESTING);
	/* The second try 1 s later, then it comes back 7 ms after. */
	advance(&f, HAIRPIN_RETRY_MS - 50);
	assert_int_equal(f.nsent, 1);
	advance(&f, 50);
	assert_int_equal(f.nsent, 2);
	assert_memory_equal(f.sent[0], f.sent[1], HAIRPIN_LEN); /* one nonce per test */
	f.now += 7;
	assert_true(hairpin_on_datagram(&f.h, f.sent[1], HAIRPIN_LEN, f.now));
	assert_int_equal(f.h.result, HAIRPIN_YES);
	assert_string_equal(hairpin_result_name(f.h.result), "yes");
	assert_int_equal(f.h.rtt_ms, 7);
	assert_int_equal(f.h.back, 1);
	/* Done: nothing more sent, a second copy is counted, the result stays. */
	advance(&f, HAIRPIN_WAIT_MS * 2);
	assert_int_equal(f.nsent, 2);
	assert_false(hairpin_on_datagram(&f.h, f.sent[0], HAIRPIN_LEN, f.now));
	assert_int_equal(f.h.bad, 3);
	assert_int_equal(f.h.result, HAIRPIN_YES);
	assert_int_equal(f.h.sent, 2);
}

static void
test_hairpin_no(void **state)
{
	struct fx f = { .now = 1000 };

	(void)state;
	hairpin_init(&f.h);
	start(&f, "198.18.0.202:4800", false, 0x100);
	/* HAIRPIN_TRIES probes, HAIRPIN_RETRY_MS apart, then `no` at HAIRPIN_WAIT_MS. */
	advance(&f, HAIRPIN_WAIT_MS - 50);
	assert_int_equal(f.nsent, HAIRPIN_TRIES);
	assert_int_equal(f.h.result, HAIRPIN_TESTING);
	advance(&f, 50);
	assert_int_equal(f.h.result, HAIRPIN_NO);
	assert_string_equal(hairpin_result_name(f.h.result), "no");
	/* Late: proves nothing (the bound is the bound), counted. */
	assert_false(hairpin_on_datagram(&f.h, f.sent[0], HAIRPIN_LEN, f.now));
	assert_int_equal(f.h.result, HAIRPIN_NO);
	assert_int_equal(f.h.bad, 1);
	advance(&f, 10000);
	assert_int_equal(f.nsent, HAIRPIN_TRIES);
	/* A new address, a new test: a new nonce, the old one's probes not taken. */
	start(&f, "198.18.0.202:1024", false, 0x200);
	assert_int_equal(f.h.result, HAIRPIN_TESTING);
	assert_int_equal(f.nsent, 1);
	{
		uint8_t old[HAIRPIN_LEN];

		hairpin_probe_encode(old, 0x100 | 1);
		assert_false(hairpin_on_datagram(&f.h, old, sizeof(old), f.now));
	}
	assert_true(hairpin_on_datagram(&f.h, f.sent[0], HAIRPIN_LEN, f.now + 1));
	assert_int_equal(f.h.result, HAIRPIN_YES);
	assert_int_equal(f.h.sent, HAIRPIN_TRIES + 1);
	assert_int_equal(f.h.bad, 2);
}

static void
test_hairpin_no_nat(void **state)
{
	struct fx f = { .now = 1000 };

	(void)state;
	hairpin_init(&f.h);
	start(&f, "198.18.0.30:4800", true, 7);
	assert_int_equal(f.h.result, HAIRPIN_NO_NAT);
	assert_string_equal(hairpin_result_name(f.h.result), "no NAT");
	advance(&f, HAIRPIN_WAIT_MS * 2);
	assert_int_equal(f.nsent, 0);
	assert_int_equal(f.h.result, HAIRPIN_NO_NAT);
	/* Nothing is running: any probe is dropped. */
	{
		uint8_t p[HAIRPIN_LEN];

		hairpin_probe_encode(p, 7 | 1);
		assert_false(hairpin_on_datagram(&f.h, p, sizeof(p), f.now));
	}
	assert_int_equal(f.h.bad, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hairpin_probe_codec),
		cmocka_unit_test(test_hairpin_yes),
		cmocka_unit_test(test_hairpin_no),
		cmocka_unit_test(test_hairpin_no_nat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
