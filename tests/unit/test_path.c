// SPDX-License-Identifier: MIT
/*
 * A peer's paths (daemon/path/path.c): where handshakes are dialed, where UDP frames go and
 * when UDP counts as working, roaming, the session link as a path, and the choice between
 * them. Time is passed in, so no clock is needed. (The UDP socket, path/udp.c, is exercised by
 * the network-namespace scenarios.)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/sockaddr.h"
#include "path/path.h"

enum { DEAD_MS = 32000 };

static struct sockaddr_storage
ep(const char *s)
{
	struct sockaddr_storage ss;

	assert_int_equal(sockaddr_parse(s, &ss), 0);
	return ss;
}

/* Opaque link handles: the path set only stores and compares them. */
static char links[2];
#define LINK(i) ((struct link *)&links[i])

static void
test_path_dial_round_robin(void **state)
{
	struct sockaddr_storage eps[2] = { ep("198.18.1.1:4800"), ep("[fd00::1]:4800") };
	struct path_set s;

	(void)state;
	path_set_init(&s, eps, 2);
	/* The first static endpoint is also where UDP goes until a frame says otherwise. */
	assert_true(sockaddr_equal(&s.endpoint, &eps[0]));
	assert_true(sockaddr_equal(path_set_next_dial(&s), &eps[0]));
	assert_true(sockaddr_equal(path_set_next_dial(&s), &eps[1]));
	assert_true(sockaddr_equal(path_set_next_dial(&s), &eps[0]));
	/* No endpoints: nothing to dial, nowhere to send. */
	path_set_init(&s, NULL, 0);
	assert_null(path_set_next_dial(&s));
	assert_int_equal(s.endpoint.ss_family, 0);
	assert_int_equal(path_choose(&s, 1000, DEAD_MS), PATH_NONE);
}

static void
test_path_dial_bounded(void **state)
{
	struct sockaddr_storage eps[PATH_DIAL_MAX + 3];
	struct path_set s;
	char buf[32];

	(void)state;
	for (size_t i = 0; i < PATH_DIAL_MAX + 3; i++) {
		snprintf(buf, sizeof(buf), "198.18.1.%zu:4800", i + 1);
		eps[i] = ep(buf);
	}
	path_set_init(&s, eps, PATH_DIAL_MAX + 3);
	assert_int_equal(s.ndial, PATH_DIAL_MAX);
	for (size_t i = 0; i < PATH_DIAL_MAX; i++)
		path_set_next_dial(&s);
	assert_true(sockaddr_equal(path_set_next_dial(&s), &eps[0])); /* wrapped, none past 8 */
}

static void
test_path_udp_liveness(void **state)
{
	struct sockaddr_storage e = ep("198.18.1.1:4800");
	struct path_set s;

	(void)state;
	path_set_init(&s, &e, 1);
	assert_false(path_set_udp_is_alive(&s, 5000, DEAD_MS)); /* never heard over UDP */
	path_set_on_udp_rx(&s, &e, 5000, "bob@b.example.com");
	assert_true(path_set_udp_is_alive(&s, 5000, DEAD_MS));
	assert_true(path_set_udp_is_alive(&s, 5000 + DEAD_MS, DEAD_MS));
	assert_false(path_set_udp_is_alive(&s, 5000 + DEAD_MS + 1, DEAD_MS));
}

static void
test_path_roaming(void **state)
{
	struct sockaddr_storage e = ep("198.18.1.1:4800"), moved = ep("198.18.7.9:31000");
	struct sockaddr_storage mapped = { 0 };
	struct sockaddr_in6 *m6 = (struct sockaddr_in6 *)&mapped;
	struct path_set s;

	(void)state;
	path_set_init(&s, &e, 1);
	/* An authentic frame from elsewhere: the endpoint follows the peer. */
	path_set_on_udp_rx(&s, &moved, 1000, "bob@b.example.com");
	assert_true(sockaddr_equal(&s.endpoint, &moved));
	/* The same address seen v4-mapped on a dual-stack socket is no move. */
	m6->sin6_family = AF_INET6;
	m6->sin6_port = htons(31000);
	assert_int_equal(inet_pton(AF_INET6, "::ffff:198.18.7.9", &m6->sin6_addr), 1);
	path_set_on_udp_rx(&s, &mapped, 2000, "bob@b.example.com");
	assert_true(sockaddr_equal(&s.endpoint, &moved));
	assert_int_equal(s.last_udp_rx_ms, 2000);
}

static void
test_path_stream_up_sets_endpoint(void **state)
{
	struct sockaddr_storage e = ep("198.18.1.1:4800"), remote = ep("198.18.2.2:4800");
	struct path_set s;

	(void)state;
	/* No static endpoint: the link we dialed says where the peer listens. */
	path_set_init(&s, NULL, 0);
	path_set_on_stream_up(&s, LINK(0), true, &remote, false);
	assert_ptr_equal(s.stream, LINK(0));
	assert_true(sockaddr_equal(&s.endpoint, &remote));
	/* An accepted link's remote end is an ephemeral port: never an endpoint. */
	path_set_init(&s, NULL, 0);
	path_set_on_stream_up(&s, LINK(0), false, &remote, false);
	assert_int_equal(s.endpoint.ss_family, 0);
	/* A dialed link replaces a static endpoint the peer was never heard from... */
	path_set_init(&s, &e, 1);
	path_set_on_stream_up(&s, LINK(0), true, &remote, false);
	assert_true(sockaddr_equal(&s.endpoint, &remote));
	/* ...but not one it was heard from (roaming keeps what frames taught). */
	path_set_init(&s, &e, 1);
	path_set_on_stream_up(&s, LINK(0), true, &remote, true);
	assert_true(sockaddr_equal(&s.endpoint, &e));
}

static void
test_path_stream_gone(void **state)
{
	struct path_set s;
	struct sockaddr_storage remote = ep("198.18.2.2:4800");

	(void)state;
	path_set_init(&s, NULL, 0);
	path_set_on_stream_up(&s, LINK(0), false, &remote, false);
	path_set_on_stream_gone(&s, LINK(1)); /* another link of the peer: the stream stays */
	assert_ptr_equal(s.stream, LINK(0));
	path_set_on_stream_gone(&s, LINK(0));
	assert_null(s.stream);
}

static void
test_path_choice(void **state)
{
	struct sockaddr_storage e = ep("198.18.1.1:4800");
	struct path_set s;

	(void)state;
	path_set_init(&s, &e, 1);
	/* An endpoint and no link: UDP, the only way. */
	assert_int_equal(path_choose(&s, 1000, DEAD_MS), PATH_UDP);
	/* With a link and UDP unproven: the link (UDP may be blocked). */
	path_set_on_stream_up(&s, LINK(0), true, &e, true);
	assert_int_equal(path_choose(&s, 1000, DEAD_MS), PATH_STREAM);
	/* UDP heard from: UDP; silent for longer than the dead interval: the link again. */
	path_set_on_udp_rx(&s, &e, 2000, "bob@b.example.com");
	assert_int_equal(path_choose(&s, 2000 + DEAD_MS, DEAD_MS), PATH_UDP);
	assert_int_equal(path_choose(&s, 2001 + DEAD_MS, DEAD_MS), PATH_STREAM);
	/* The link gone: UDP, working or not. */
	path_set_on_stream_gone(&s, LINK(0));
	assert_int_equal(path_choose(&s, 2001 + DEAD_MS, DEAD_MS), PATH_UDP);
	assert_string_equal(path_kind_name(PATH_UDP), "udp");
	assert_string_equal(path_kind_name(PATH_STREAM), "tcp");
	assert_string_equal(path_kind_name(PATH_NONE), "none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_dial_round_robin),
		cmocka_unit_test(test_path_dial_bounded),
		cmocka_unit_test(test_path_udp_liveness),
		cmocka_unit_test(test_path_roaming),
		cmocka_unit_test(test_path_stream_up_sets_endpoint),
		cmocka_unit_test(test_path_stream_gone),
		cmocka_unit_test(test_path_choice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
