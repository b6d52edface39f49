// SPDX-License-Identifier: MIT
/*
 * Counts per source network: IPv4 per address, IPv6 per /64, IPv4-mapped as IPv4; a full table
 * refuses; the text key of a network (addrcount_net); and tens of thousands of seeded random
 * increments and decrements over colliding keys against a plain array, so that deletion (backward
 * shift) never loses or misplaces a count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addrcount.h"

static struct sockaddr_storage
addr(const char *s)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, s, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
	}
	return ss;
}

static void
test_addrcount_new_rejects_zero(void **state)
{
	struct addrcount *t = NULL;

	(void)state;
	assert_int_equal(addrcount_new(&t, 0), -EINVAL);
	assert_null(t);
	addrcount_free(NULL);
}

static void
test_addrcount_networks(void **state)
{
	struct sockaddr_storage a = addr("198.18.0.1"), b = addr("198.18.0.2");
	struct sockaddr_storage mapped = addr("::ffff:198.18.0.1");
	struct sockaddr_storage p1 = addr("fd00:1:2:3::1"), p2 = addr("fd00:1:2:3:ffff::9");
	struct sockaddr_storage other = addr("fd00:1:2:4::1"), unix_addr = { .ss_family = AF_UNIX };
	struct addrcount *t;

	(void)state;
	assert_int_equal(addrcount_new(&t, 8), 0);
	assert_int_equal(addrcount_inc(t, &a), 1);
	assert_int_equal(addrcount_inc(t, &mapped), 2); /* the same IPv4 address */
	assert_int_equal(addrcount_inc(t, &b), 1);
	assert_int_equal(addrcount_inc(t, &p1), 1);
	assert_int_equal(addrcount_inc(t, &p2), 2); /* the same /64 */
	assert_int_equal(addrcount_inc(t, &other), 1);
	assert_int_equal(addrcount_inc(t, &unix_addr), 0);
	assert_int_equal(addrcount_size(t), 4);
	addrcount_dec(t, &a);
	assert_int_equal(addrcount_get(t, &mapped), 1);
	addrcount_dec(t, &mapped);
	assert_int_equal(addrcount_get(t, &a), 0);
	addrcount_dec(t, &a); /* nothing left to take: ignored */
	assert_int_equal(addrcount_get(t, &a), 0);
	assert_int_equal(addrcount_size(t), 3);
	addrcount_free(t);
}

static void
test_addrcount_full_table_refuses(void **state)
{
	struct sockaddr_storage ss;
	struct addrcount *t;
	char s[32];

	(void)state;
	assert_int_equal(addrcount_new(&t, 4), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(s, sizeof(s), "198.18.1.%d", i);
		ss = addr(s);
		assert_int_equal(addrcount_inc(t, &ss), 1);
	}
	ss = addr("198.18.2.1");
	assert_int_equal(addrcount_inc(t, &ss), 0); /* a fifth network: no room */
	ss = addr("198.18.1.3");
	assert_int_equal(addrcount_inc(t, &ss), 2); /* a known one still counts */
	addrcount_dec(t, &ss);
	addrcount_dec(t, &ss);
	ss = addr("198.18.2.1");
	assert_int_equal(addrcount_inc(t, &ss), 1); /* room again */
	addrcount_free(t);
}

/* Random churn over 300 addresses in a table of 64 networks, against plain counters. */
static void
test_addrcount_matches_reference(void **state)
{
	enum { NADDR = 300, MAX_KEYS = 64 };
	static struct sockaddr_storage keys[NADDR];
	uint32_t ref[NADDR] = { 0 };
	size_t ref_used = 0;
	struct addrcount *t;
	char s[32];

	(void)state;
	srandom(11);
	for (int i = 0; i < NADDR; i++) {
		snprintf(s, sizeof(s), "198.18.%d.%d", i / 200, i % 200);
		keys[i] = addr(s);
	}
	assert_int_equal(addrcount_new(&t, MAX_KEYS), 0);
	for (int op = 0; op < 60000; op++) {
		int k = (int)(random() % NADDR);

		if (random() % 2) {
			uint32_t got = addrcount_inc(t, &keys[k]);

			if (!ref[k] && ref_used == MAX_KEYS) {
				assert_int_equal(got, 0);
			} else {
				ref_used += ref[k] == 0;
				assert_int_equal(got, ++ref[k]);
			}
		} else {
			addrcount_dec(t, &keys[k]);
			if (ref[k] && --ref[k] == 0)
				ref_used--;
		}
		assert_int_equal(addrcount_size(t), ref_used);
		if (op % 97 == 0)
			for (int i = 0; i < NADDR; i++)
				assert_int_equal(addrcount_get(t, &keys[i]), ref[i]);
	}
	addrcount_free(t);
}

/* The text key of a source is its network, the same one the counts use. */
static void
test_addrcount_net_keys(void **state)
{
	static const struct {
		const char *addr, *want;
	} cases[] = {
		{ "198.18.0.5", "198.18.0.5" },
		{ "::ffff:198.18.0.5", "198.18.0.5" },
		{ "2001:db8:1:2::1", "2001:db8:1:2::/64" },
		{ "2001:db8:1:2:ffff:eeee:dddd:cccc", "2001:db8:1:2::/64" },
		{ "fd00::1", "fd00::/64" },
	};
	struct sockaddr_storage unix_addr = { .ss_family = AF_UNIX };
	char buf[ADDRCOUNT_NET_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = addr(cases[i].addr);

		addrcount_net(&ss, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
	addrcount_net(&unix_addr, buf, sizeof(buf));
	assert_string_equal(buf, "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addrcount_new_rejects_zero),
		cmocka_unit_test(test_addrcount_networks),
		cmocka_unit_test(test_addrcount_net_keys),
		cmocka_unit_test(test_addrcount_full_table_refuses),
		cmocka_unit_test(test_addrcount_matches_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
