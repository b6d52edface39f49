// SPDX-License-Identifier: MIT
/*
 * The birthday technique's decisions (direct/birthday.h) on injected time and a seeded random
 * source: port prediction (sequential, a constant step, random: none), the spray's schedule
 * (its rate, its total, distinct ports in range, predicted ports first), and the extra
 * sockets' lifetimes (opened at the rate, released after the hold time, all but the hit one
 * once it works, a hit that never validates, a kept one whose path died, on request).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "direct/birthday.h"

/* xorshift32: the same sequence every run. */
static uint32_t
seeded(void *arg)
{
	uint32_t *x = arg;

	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void
test_birthday_predict_sequential(void **state)
{
	uint16_t ports[] = { 40000, 40001 }, next = 0;
	int delta = 0;

	(void)state;
	assert_true(birthday_predict(ports, 2, &next, &delta));
	assert_int_equal(next, 40002);
	assert_int_equal(delta, 1);
}

static void
test_birthday_predict_constant_delta(void **state)
{
	uint16_t up[] = { 2000, 2004, 2008, 2012 }, down[] = { 5000, 4993 }, next = 0;
	int delta = 0;

	(void)state;
	assert_true(birthday_predict(up, 4, &next, &delta));
	assert_int_equal(next, 2016);
	assert_int_equal(delta, 4);
	assert_true(birthday_predict(down, 2, &next, &delta));
	assert_int_equal(next, 4986);
	assert_int_equal(delta, -7);
}

static void
test_birthday_predict_random_none(void **state)
{
	uint16_t random2[] = { 40123, 17777 }, uneven[] = { 3000, 3001, 3003 },
		 same[] = { 4800, 4800 }, edge[] = { 65533, 65535 }, big[] = { 3000, 3017 };
	uint16_t next = 7;
	int delta = 7;

	(void)state;
	assert_false(birthday_predict(random2, 2, &next, &delta));
	assert_false(birthday_predict(uneven, 3, &next, &delta)); /* steps 1 then 2 */
	assert_false(birthday_predict(same, 2, &next, &delta));   /* no step: not a mapping each */
	assert_false(birthday_predict(edge, 2, &next, &delta));   /* the next is off the range */
	assert_false(birthday_predict(big, 2, &next, &delta));    /* 17 > the largest step */
	assert_false(birthday_predict(random2, 1, &next, &delta));
	assert_int_equal(next, 7); /* untouched when false */
	assert_int_equal(delta, 7);
}

/* Over the whole spray: never faster than the rate, never more than total, ports distinct. */
static void
test_birthday_spray_bounds(void **state)
{
	static struct birthday_spray s;
	static uint8_t seen[65536];
	uint32_t seed = 12345;
	uint16_t out[200];
	unsigned sent = 0;

	(void)state;
	memset(seen, 0, sizeof(seen));
	birthday_spray_init(&s, 1000, BIRTHDAY_PROBES, false, 0, 0);
	assert_int_equal(birthday_spray_due(&s, 999, out, 200, seeded, &seed), 0); /* not yet */
	for (uint64_t now = 1000; now <= 1000 + 10000; now += 50) {
		size_t n = birthday_spray_due(&s, now, out, 200, seeded, &seed);

		sent += (unsigned)n;
		/* the rate: one at the start, then BIRTHDAY_RATE_PER_SEC */
		assert_true(sent <= (now - 1000) * BIRTHDAY_RATE_PER_SEC / 1000 + 1);
		for (size_t i = 0; i < n; i++) {
			assert_true(out[i] >= BIRTHDAY_PORT_MIN);
			assert_int_equal(seen[out[i]], 0);
			seen[out[i]] = 1;
		}
	}
	assert_int_equal(sent, BIRTHDAY_PROBES);
	assert_true(birthday_spray_is_done(&s));
	assert_int_equal(birthday_spray_due(&s, 100000, out, 200, seeded, &seed), 0);
}

/* The per-call bound holds even when much is due (a loop turn that came late). */
static void
test_birthday_spray_batch_bound(void **state)
{
	static struct birthday_spray s;
	uint32_t seed = 1;
	uint16_t out[16];

	(void)state;
	birthday_spray_init(&s, 0, BIRTHDAY_PROBES, false, 0, 0);
	assert_int_equal(birthday_spray_due(&s, 60000, out, 16, seeded, &seed), 16);
	assert_int_equal(s.sent, 16);
}

/* Every port once: a total of all ports leaves none out and repeats none. */
static void
test_birthday_spray_all_ports(void **state)
{
	static struct birthday_spray s;
	static uint16_t out[BIRTHDAY_PORTS];
	static uint8_t seen[65536];
	uint32_t seed = 99;

	(void)state;
	memset(seen, 0, sizeof(seen));
	birthday_spray_init(&s, 0, 100000, false, 0, 0); /* clamped to BIRTHDAY_PORTS */
	assert_int_equal(birthday_spray_due(&s, 1000000, out, BIRTHDAY_PORTS, seeded, &seed),
			 BIRTHDAY_PORTS);
	for (size_t i = 0; i < BIRTHDAY_PORTS; i++) {
		assert_int_equal(seen[out[i]], 0);
		seen[out[i]] = 1;
	}
}

static void
test_birthday_spray_predicted_first(void **state)
{
	static struct birthday_spray s;
	uint32_t seed = 7;
	uint16_t out[BIRTHDAY_PREDICT_WINDOW + 10];
	size_t n;

	(void)state;
	birthday_spray_init(&s, 0, BIRTHDAY_PROBES, true, 30002, 2);
	n = birthday_spray_due(&s, 100000, out, BIRTHDAY_PREDICT_WINDOW + 10, seeded, &seed);
	assert_int_equal(n, BIRTHDAY_PREDICT_WINDOW + 10);
	for (int k = 0; k < BIRTHDAY_PREDICT_WINDOW; k++)
		assert_int_equal(out[k], 30002 + 2 * k);
	/* then random ones, none of the predicted again */
	for (size_t i = BIRTHDAY_PREDICT_WINDOW; i < n; i++)
		assert_false(out[i] >= 30002 && out[i] < 30002 + 2 * BIRTHDAY_PREDICT_WINDOW &&
			     out[i] % 2 == 0);
	/* a window that runs off the top of the range stops there */
	birthday_spray_init(&s, 0, 10, true, 65530, 4);
	n = birthday_spray_due(&s, 100000, out, 10, seeded, &seed);
	assert_int_equal(n, 10);
	assert_int_equal(out[0], 65530);
	assert_int_equal(out[1], 65534);
}

static void
open_all(struct birthday_socks *s, uint64_t now, int first_id)
{
	unsigned due = birthday_socks_due(s, now, BIRTHDAY_SOCKETS);

	for (unsigned i = 0; i < due; i++)
		birthday_socks_opened(s, first_id + (int)(s->n));
}

static void
test_birthday_socks_rate(void **state)
{
	static struct birthday_socks s;

	(void)state;
	birthday_socks_init(&s, 1000, BIRTHDAY_SOCKETS);
	assert_int_equal(birthday_socks_due(&s, 500, 1000), 0);
	assert_int_equal(birthday_socks_due(&s, 1000, 1000), 1);
	open_all(&s, 1000, 0);
	assert_int_equal(birthday_socks_due(&s, 1100, 1000), BIRTHDAY_RATE_PER_SEC / 10);
	assert_int_equal(birthday_socks_due(&s, 1100, 8), 8); /* the per-tick bound */
	open_all(&s, 100000, 0);
	assert_int_equal(birthday_socks_held(&s), BIRTHDAY_SOCKETS);
	assert_int_equal(birthday_socks_due(&s, 200000, 1000), 0); /* never more than target */
	/* a failed open (the host is out of sockets) ends the opening */
	birthday_socks_init(&s, 0, BIRTHDAY_SOCKETS);
	birthday_socks_opened(&s, 0);
	birthday_socks_opened(&s, -24);
	assert_int_equal(birthday_socks_due(&s, 100000, 1000), 0);
	assert_int_equal(birthday_socks_held(&s), 1);
}

static void
test_birthday_socks_release_after_hold(void **state)
{
	static struct birthday_socks s;
	int out[BIRTHDAY_SOCKETS];

	(void)state;
	birthday_socks_init(&s, 0, BIRTHDAY_SOCKETS);
	open_all(&s, 10000, 100);
	assert_int_equal(birthday_socks_release(&s, BIRTHDAY_HOLD_MS - 1, -1, false, out), 0);
	assert_int_equal(birthday_socks_release(&s, BIRTHDAY_HOLD_MS, -1, false, out),
			 BIRTHDAY_SOCKETS);
	assert_int_equal(out[0], 100);
	assert_int_equal(out[BIRTHDAY_SOCKETS - 1], 100 + BIRTHDAY_SOCKETS - 1);
	assert_true(birthday_socks_is_over(&s));
	assert_int_equal(birthday_socks_release(&s, BIRTHDAY_HOLD_MS + 1, -1, false, out), 0);
}

static void
test_birthday_socks_keep_the_hit(void **state)
{
	static struct birthday_socks s;
	int out[BIRTHDAY_SOCKETS];

	(void)state;
	birthday_socks_init(&s, 0, 4);
	open_all(&s, 10000, 10);                                               /* ids 10..13 */
	assert_int_equal(birthday_socks_release(&s, 2000, 12, false, out), 0); /* pinned, not yet */
	assert_int_equal(birthday_socks_release(&s, 2100, 12, true, out), 3);
	assert_int_equal(out[0], 10);
	assert_int_equal(out[1], 11);
	assert_int_equal(out[2], 13);
	assert_int_equal(s.kept, 12);
	assert_int_equal(birthday_socks_held(&s), 1);
	/* kept past the hold time while it works, and through a short outage */
	assert_int_equal(birthday_socks_release(&s, 60000, 12, true, out), 0);
	assert_int_equal(birthday_socks_release(&s, 60000 + BIRTHDAY_HOLD_MS - 1, 12, false, out),
			 0);
	/* dead for the hold time: released too */
	assert_int_equal(birthday_socks_release(&s, 60000 + BIRTHDAY_HOLD_MS, 12, false, out), 1);
	assert_int_equal(out[0], 12);
	assert_true(birthday_socks_is_over(&s));
}

static void
test_birthday_socks_dud_hit(void **state)
{
	static struct birthday_socks s;
	int out[BIRTHDAY_SOCKETS];

	(void)state;
	birthday_socks_init(&s, 0, 4);
	open_all(&s, 10000, 0);
	/* pinned by a datagram that never turned into a working path (forged?) */
	assert_int_equal(birthday_socks_release(&s, 1000, 2, false, out), 0);
	assert_int_equal(birthday_socks_release(&s, 1000 + BIRTHDAY_VALIDATE_MS - 1, 2, false, out),
			 0);
	assert_int_equal(birthday_socks_release(&s, 1000 + BIRTHDAY_VALIDATE_MS, 2, false, out), 1);
	assert_int_equal(out[0], 2);
	assert_int_equal(birthday_socks_held(&s), 3); /* the others may still be hit */
	/* a pin on a socket that is not ours (another peer's) weighs nothing */
	assert_int_equal(birthday_socks_release(&s, 7000, 99, true, out), 3);
	assert_true(birthday_socks_is_over(&s));
}

static void
test_birthday_socks_direct_without_us(void **state)
{
	static struct birthday_socks s;
	int out[BIRTHDAY_SOCKETS];

	(void)state;
	birthday_socks_init(&s, 0, 8);
	open_all(&s, 10000, 0);
	/* the data socket got through (a looser NAT than thought): none needed */
	assert_int_equal(birthday_socks_release(&s, 500, -1, true, out), 8);
	assert_true(birthday_socks_is_over(&s));
	birthday_socks_init(&s, 0, 8);
	open_all(&s, 10000, 0);
	assert_int_equal(birthday_socks_release_all(&s, out), 8);
	assert_true(birthday_socks_is_over(&s));
	assert_int_equal(birthday_socks_release_all(&s, out), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_birthday_predict_sequential),
		cmocka_unit_test(test_birthday_predict_constant_delta),
		cmocka_unit_test(test_birthday_predict_random_none),
		cmocka_unit_test(test_birthday_spray_bounds),
		cmocka_unit_test(test_birthday_spray_batch_bound),
		cmocka_unit_test(test_birthday_spray_all_ports),
		cmocka_unit_test(test_birthday_spray_predicted_first),
		cmocka_unit_test(test_birthday_socks_rate),
		cmocka_unit_test(test_birthday_socks_release_after_hold),
		cmocka_unit_test(test_birthday_socks_keep_the_hit),
		cmocka_unit_test(test_birthday_socks_dud_hit),
		cmocka_unit_test(test_birthday_socks_direct_without_us),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
