// SPDX-License-Identifier: MIT
/*
 * Socket addresses (core/sockaddr.h): the text form parsed strictly and printed back exactly,
 * v4-mapped addresses shown and compared as the IPv4 addresses they are, and mapped for a
 * dual-stack socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "core/sockaddr.h"

static void
test_sockaddr_parse_cases(void **state)
{
	static const struct {
		const char *in, *out; /* out NULL: rejected */
	} cases[] = {
		{ "198.18.0.2:4800", "198.18.0.2:4800" },
		{ "0.0.0.0:1", "0.0.0.0:1" },
		{ "255.255.255.255:65535", "255.255.255.255:65535" },
		{ "[fd00::2]:4800", "[fd00::2]:4800" },
		{ "[FD00:0:0::0002]:4800", "[fd00::2]:4800" },
		{ "[::ffff:198.18.0.1]:9", "[::ffff:198.18.0.1]:9" },
		{ "198.18.0.2:04800", "198.18.0.2:4800" },
		{ "198.18.0.2", NULL },
		{ "198.18.0.2:", NULL },
		{ "198.18.0.2:0", NULL },
		{ "198.18.0.2:65536", NULL },
		{ "198.18.0.2:+80", NULL },
		{ "198.18.0.2:80x", NULL },
		{ "198.18.0.256:80", NULL },
		{ "198.18.2:80", NULL },
		{ "fd00::2:4800", NULL },
		{ "[fd00::2]4800", NULL },
		{ "[fd00::2]:", NULL },
		{ "[fe80::1%eth0]:80", NULL },
		{ "[198.18.0.2]:80", NULL },
		{ "localhost:80", NULL },
		{ ":80", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		char buf[64];
		int r = sockaddr_parse(cases[i].in, &ss);

		if (!cases[i].out) {
			if (r != -EINVAL)
				fail_msg("accepted '%s'", cases[i].in);
			continue;
		}
		if (r != 0)
			fail_msg("rejected '%s'", cases[i].in);
		sockaddr_format(&ss, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
	}
}

static void
test_sockaddr_show_and_same_unmap(void **state)
{
	struct sockaddr_storage v4, mapped, v6, out;
	char buf[SOCKADDR_STR_MAX];

	(void)state;
	assert_int_equal(sockaddr_parse("198.18.0.1:9", &v4), 0);
	assert_int_equal(sockaddr_parse("[::ffff:198.18.0.1]:9", &mapped), 0);
	assert_int_equal(sockaddr_parse("[fd00::1]:9", &v6), 0);
	sockaddr_show(&mapped, buf, sizeof(buf));
	assert_string_equal(buf, "198.18.0.1:9");
	sockaddr_format(&mapped, buf, sizeof(buf));
	assert_string_equal(buf, "[::ffff:198.18.0.1]:9");
	assert_false(sockaddr_equal(&v4, &mapped));
	assert_true(sockaddr_same(&v4, &mapped));
	assert_false(sockaddr_same(&v6, &mapped));
	memset(&out, 0, sizeof(out));
	sockaddr_show(&out, buf, sizeof(buf));
	assert_string_equal(buf, "(none)");
	/* for a dual-stack socket, IPv4 is mapped; for an IPv4 socket it stays */
	assert_int_equal(sockaddr_for_family(AF_INET6, &v4, &out), sizeof(struct sockaddr_in6));
	assert_true(sockaddr_equal(&out, &mapped));
	assert_int_equal(sockaddr_for_family(AF_INET, &v4, &out), sizeof(struct sockaddr_in));
	assert_true(sockaddr_equal(&out, &v4));
	assert_int_equal(sockaddr_for_family(AF_INET6, &v6, &out), sizeof(struct sockaddr_in6));
	assert_true(sockaddr_equal(&out, &v6));
	/* a port change is another address */
	assert_int_equal(sockaddr_parse("198.18.0.1:10", &out), 0);
	assert_false(sockaddr_same(&v4, &out));
	assert_false(sockaddr_same(&mapped, &out));
	/* every pairing of the forms, both ways; an address change is another address */
	assert_true(sockaddr_same(&mapped, &v4));
	assert_true(sockaddr_same(&mapped, &mapped));
	assert_true(sockaddr_same(&v6, &v6));
	assert_false(sockaddr_same(&v4, &v6));
	assert_false(sockaddr_same(&v6, &v4));
	assert_int_equal(sockaddr_parse("198.18.0.2:9", &out), 0);
	assert_false(sockaddr_same(&mapped, &out));
	assert_false(sockaddr_same(&out, &v4));
	assert_int_equal(sockaddr_parse("[fd00::2]:9", &out), 0);
	assert_false(sockaddr_same(&v6, &out));
	/* nothing is the same as an IPv4 address but an IPv4 one: not an empty address */
	memset(&out, 0, sizeof(out));
	assert_false(sockaddr_same(&v4, &out));
	assert_false(sockaddr_same(&out, &mapped));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sockaddr_parse_cases),
		cmocka_unit_test(test_sockaddr_show_and_same_unmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
