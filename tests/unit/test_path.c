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
	/* Heard, but not known to hear us (no answer yet): not working. */
	assert_true(path_set_udp_heard(&s, 5000, DEAD_MS));
	assert_false(path_set_udp_is_alive(&s, 5000, DEAD_MS));
	path_set_on_validated(&s, 5000);
	assert_true(path_set_udp_is_alive(&s, 5000, DEAD_MS));
	assert_true(path_set_udp_is_alive(&s, 5000 + DEAD_MS, DEAD_MS));
	assert_false(path_set_udp_is_alive(&s, 5000 + DEAD_MS + 1, DEAD_MS));
	/* Heard again, the answer old: one way, maybe; not working. */
	path_set_on_udp_rx(&s, &e, 5000 + DEAD_MS + 10, "bob@b.example.com");
	assert_false(path_set_udp_is_alive(&s, 5000 + DEAD_MS + 10, DEAD_MS));
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
	/* UDP heard from: still the link until a probe is answered (both ways); then UDP; silent
	 * for longer than the dead interval: the link again. */
	path_set_on_udp_rx(&s, &e, 2000, "bob@b.example.com");
	assert_int_equal(path_choose(&s, 2000, DEAD_MS), PATH_STREAM);
	path_set_on_validated(&s, 2000);
	assert_int_equal(path_choose(&s, 2000 + DEAD_MS, DEAD_MS), PATH_UDP);
	assert_int_equal(path_choose(&s, 2001 + DEAD_MS, DEAD_MS), PATH_STREAM);
	/* The link gone: UDP, working or not. */
	path_set_on_stream_gone(&s, LINK(0));
	assert_int_equal(path_choose(&s, 2001 + DEAD_MS, DEAD_MS), PATH_UDP);
	assert_string_equal(path_kind_name(PATH_UDP), "udp");
	assert_string_equal(path_kind_name(PATH_STREAM), "tcp");
	assert_string_equal(path_kind_name(PATH_NONE), "none");
}

/* Traffic flows at t (a data frame), then the data plane's question. */
static bool
busy(struct path_set *s, uint64_t t)
{
	path_set_on_data(s, t);
	return path_set_upkeep(s, t, DEAD_MS, "bob");
}

/*
 * The probes' state machine on injected time (path.h): a path that goes quiet under traffic is
 * probed; two probes unanswered and frames take the relay; while failed a probe a second, and
 * UDP is taken again after two answers in a row; answers give the RTT.
 */
static void
test_path_probes_fail_over_and_recover(void **state)
{
	struct sockaddr_storage e = ep("198.18.1.1:4800");
	struct path_set s;
	uint32_t seq;

	(void)state;
	path_set_init(&s, &e, 1);
	path_set_relay(&s, true);
	assert_false(busy(&s, 900)); /* UDP never worked */
	path_set_on_udp_rx(&s, &e, 1000, "bob");
	assert_false(busy(&s, 1200));
	assert_true(busy(&s, 1500)); /* quiet for 500 ms */
	seq = path_set_probe_sent(&s, 1500);
	assert_false(busy(&s, 1600)); /* one at a time */
	path_set_on_udp_rx(&s, &e, 1510, "bob");
	assert_true(path_set_on_probe_answer(&s, seq, 1510, "bob"));
	assert_int_equal(s.rtt_ms, 10);
	assert_int_equal(s.srtt_ms, 10);
	assert_false(path_set_on_probe_answer(&s, seq, 1520, "bob")); /* answered already */

	/* The path dies at 1510. */
	assert_false(busy(&s, 1800));
	assert_true(busy(&s, 2010));
	path_set_probe_sent(&s, 2010);
	assert_false(busy(&s, 2400)); /* timeout 500 + 2 x 10 */
	assert_true(busy(&s, 2530));  /* one miss: once more */
	path_set_probe_sent(&s, 2530);
	assert_int_equal(path_choose(&s, 2540, DEAD_MS), PATH_UDP);
	assert_true(busy(&s, 3051)); /* two: failed */
	assert_int_equal(path_choose(&s, 3051, DEAD_MS), PATH_RELAY);
	assert_false(path_set_udp_is_alive(&s, 3051, DEAD_MS));
	assert_int_equal(s.failovers, 1);
	path_set_probe_sent(&s, 3051);

	/* Failed: a probe a second; two answers in a row bring UDP back. */
	assert_false(busy(&s, 3500));
	assert_true(busy(&s, 4051));
	seq = path_set_probe_sent(&s, 4051);
	path_set_on_udp_rx(&s, &e, 4060, "bob");
	assert_true(path_set_on_probe_answer(&s, seq, 4060, "bob"));
	assert_int_equal(path_choose(&s, 4060, DEAD_MS), PATH_RELAY); /* one is not enough */
	assert_false(busy(&s, 4500));
	assert_true(busy(&s, 5060));
	seq = path_set_probe_sent(&s, 5060);
	path_set_on_udp_rx(&s, &e, 5065, "bob");
	assert_true(path_set_on_probe_answer(&s, seq, 5065, "bob"));
	assert_int_equal(path_choose(&s, 5065, DEAD_MS), PATH_UDP);
	assert_int_equal(s.probes_sent, 6);
	assert_int_equal(s.probes_answered, 3);
}

/*
 * A steady flow over UDP (never quiet) for longer than the dead-peer interval: the validation
 * is renewed by a probe at half the interval, so UDP stays chosen (it lapsed before, and a
 * long transfer left a working UDP path for the link).
 */
static void
test_path_probes_renew_validation_under_steady_flow(void **state)
{
	struct sockaddr_storage e = ep("198.18.1.1:4800");
	struct path_set s;
	uint64_t t;
	uint32_t seq = 0;
	unsigned probes = 0;

	(void)state;
	path_set_init(&s, &e, 1);
	path_set_on_stream_up(&s, LINK(0), true, &e, true);
	path_set_on_udp_rx(&s, &e, 1000, "bob");
	path_set_on_validated(&s, 1000);
	for (t = 1000; t <= 1000 + 3 * DEAD_MS; t += 10) {
		path_set_on_udp_rx(&s, &e, t, "bob"); /* frames arrive every 10 ms */
		if (busy(&s, t)) {
			probes++;
			seq = path_set_probe_sent(&s, t);
		} else if (s.probe_sent_ms && t - s.probe_sent_ms == 20) {
			assert_true(path_set_on_probe_answer(&s, seq, t, "bob"));
		}
		assert_int_equal(path_choose(&s, t, DEAD_MS), PATH_UDP);
	}
	/* About one probe per half interval, not one per turn. */
	assert_true(probes >= 5 && probes <= 7);
}

/* Near the margin: answers and losses taking turns never bring a failed path back. */
static void
test_path_probes_no_flapping(void **state)
{
	struct sockaddr_storage e = ep("198.18.1.1:4800");
	struct path_set s;
	uint64_t t = 1000;

	(void)state;
	path_set_init(&s, &e, 1);
	path_set_relay(&s, true);
	path_set_on_udp_rx(&s, &e, t, "bob");
	for (int i = 0; i < 2; i++) { /* two probes lost: failed */
		t += 600;
		assert_true(busy(&s, t));
		path_set_probe_sent(&s, t);
	}
	t += 600;
	assert_true(busy(&s, t));
	assert_true(s.failed_ms != 0);
	path_set_probe_sent(&s, t);
	for (int i = 0; i < 20; i++) {
		uint32_t seq;

		t += 1000;
		assert_true(busy(&s, t));
		seq = path_set_probe_sent(&s, t);
		if (i % 2) { /* every other one answered */
			path_set_on_udp_rx(&s, &e, t + 5, "bob");
			assert_true(path_set_on_probe_answer(&s, seq, t + 5, "bob"));
		}
		assert_int_equal(path_choose(&s, t + 6, DEAD_MS), PATH_RELAY);
	}
	assert_int_equal(s.failovers, 1);
}

/* One probe lost at random moves nothing; a move to a new endpoint forgets a failure. */
static void
test_path_probes_one_loss_and_roaming(void **state)
{
	struct sockaddr_storage e = ep("198.18.1.1:4800"), moved = ep("198.18.7.9:31000");
	struct path_set s;
	uint32_t seq;

	(void)state;
	path_set_init(&s, &e, 1);
	path_set_relay(&s, true);
	path_set_on_udp_rx(&s, &e, 1000, "bob");
	/* No data yet: idle, keepalives watch it, no probes. */
	assert_false(path_set_upkeep(&s, 1500, DEAD_MS, "bob"));
	assert_true(busy(&s, 1500));
	path_set_probe_sent(&s, 1500); /* lost */
	assert_true(busy(&s, 2001));
	seq = path_set_probe_sent(&s, 2001);
	path_set_on_udp_rx(&s, &e, 2003, "bob");
	assert_true(path_set_on_probe_answer(&s, seq, 2003, "bob"));
	assert_int_equal(path_choose(&s, 2003, DEAD_MS), PATH_UDP);
	assert_int_equal(s.failovers, 0);
	assert_int_equal(s.misses, 0);

	/* Failed, then the peer shows up elsewhere: a new path, taken at once. */
	for (uint64_t t = 2600; t <= 3800; t += 600) {
		assert_true(busy(&s, t));
		path_set_probe_sent(&s, t);
	}
	assert_true(s.failed_ms != 0); /* quiet, one miss, two misses */
	assert_int_equal(path_choose(&s, 4400, DEAD_MS), PATH_RELAY);
	path_set_on_udp_rx(&s, &moved, 4500, "bob");
	assert_int_equal(path_choose(&s, 4500, DEAD_MS), PATH_RELAY); /* not known to hear us */
	path_set_on_validated(&s, 4501); /* the answer to the check its news asked for */
	assert_int_equal(path_choose(&s, 4501, DEAD_MS), PATH_UDP);
	assert_true(sockaddr_equal(&s.endpoint, &moved));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_dial_round_robin),
		cmocka_unit_test(test_path_dial_bounded),
		cmocka_unit_test(test_path_udp_liveness),
		cmocka_unit_test(test_path_roaming),
		cmocka_unit_test(test_path_probes_fail_over_and_recover),
		cmocka_unit_test(test_path_probes_renew_validation_under_steady_flow),
		cmocka_unit_test(test_path_probes_no_flapping),
		cmocka_unit_test(test_path_probes_one_loss_and_roaming),
		cmocka_unit_test(test_path_stream_up_sets_endpoint),
		cmocka_unit_test(test_path_stream_gone),
		cmocka_unit_test(test_path_choice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
