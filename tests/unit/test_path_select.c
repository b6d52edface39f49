// SPDX-License-Identifier: MIT
/*
 * The choice between a peer's UDP endpoints (daemon/path/path.c, "Several endpoints" in
 * path.h), on injected time: a simulated network answers the probes the path set asks for,
 * each endpoint with its own RTT (fixed, jittered, or lost), and the tests count the switches:
 * a clearly better endpoint is taken after the sustained period, jitter around the switching
 * margin costs at most one switch over many minutes, a lost endpoint fails over to the next
 * one before the relay, and a recovered one is taken back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/sockaddr.h"
#include "path/path.h"

enum { DEAD_MS = 32000, STEP_MS = 1, NET_MAX = 4, PENDING_MAX = 64 };

/* The simulated network: per address, the RTT of its next answer (< 0: lost). */
struct net {
	struct sockaddr_storage addr[NET_MAX];
	size_t n;
	int (*rtt)(struct net *net, size_t i, uint64_t t);
	int fixed[NET_MAX];  /* for net_fixed: the RTT of each, -1: down */
	int centre[NET_MAX]; /* for net_jitter: each one's RTT is centre +- spread */
	int spread;
	uint64_t rng;
	struct {
		size_t i;
		uint32_t seq;
		uint64_t at;
	} pending[PENDING_MAX];
	size_t npending;
	unsigned moves; /* the endpoint changed (by choice, failover or roaming) */
};

static struct sockaddr_storage
ep(const char *s)
{
	struct sockaddr_storage ss;

	assert_int_equal(sockaddr_parse(s, &ss), 0);
	return ss;
}

static int
net_fixed(struct net *net, size_t i, uint64_t t)
{
	(void)t;
	return net->fixed[i];
}

static uint32_t
net_random(struct net *net)
{
	net->rng = net->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(net->rng >> 33);
}

static int
net_jitter(struct net *net, size_t i, uint64_t t)
{
	(void)t;
	return net->centre[i] - net->spread + (int)(net_random(net) % (2u * net->spread + 1));
}

static size_t
net_index(const struct net *net, const struct sockaddr_storage *a)
{
	for (size_t i = 0; i < net->n; i++)
		if (sockaddr_same(&net->addr[i], a))
			return i;
	fail_msg("a probe to an address the network does not know");
	return 0;
}

static void
net_send(struct net *net, const struct sockaddr_storage *to, uint32_t seq, uint64_t t)
{
	size_t i = net_index(net, to);
	int rtt = net->rtt(net, i, t);

	if (rtt < 0)
		return;
	assert_true(net->npending < PENDING_MAX);
	net->pending[net->npending].i = i;
	net->pending[net->npending].seq = seq;
	net->pending[net->npending].at = t + (uint64_t)rtt;
	net->npending++;
}

/*
 * An answer from address i arrives at t, as the peer and data plane handle it: a probe from
 * elsewhere while the endpoint works is remembered and moves nothing, otherwise the endpoint
 * follows (peer_on_rx); then the answer (dataplane_on_path_probe).
 */
static void
net_deliver(struct net *net, struct path_set *s, size_t i, uint32_t seq, uint64_t t)
{
	const struct sockaddr_storage *from = &net->addr[i];
	struct sockaddr_storage was = s->endpoint;

	if (!sockaddr_same(from, &s->endpoint) && path_set_udp_is_alive(s, t, DEAD_MS))
		path_set_learn(s, from, t);
	else
		path_set_on_udp_rx(s, from, t, "bob");
	path_set_on_answer(s, from, seq, t, DEAD_MS, "bob");
	if (!sockaddr_same(&was, &s->endpoint))
		net->moves++;
}

/* Traffic flows from t to end (a frame every STEP_MS), the probes answered as net says. */
static void
net_run(struct net *net, struct path_set *s, uint64_t t, uint64_t end)
{
	for (; t < end; t += STEP_MS) {
		const struct sockaddr_storage *to;
		struct sockaddr_storage was;
		uint32_t seq;

		for (size_t k = 0; k < net->npending;) {
			if (net->pending[k].at > t) {
				k++;
				continue;
			}
			net_deliver(net, s, net->pending[k].i, net->pending[k].seq, t);
			net->pending[k] = net->pending[--net->npending];
		}
		path_set_on_data(s, t);
		was = s->endpoint;
		if (path_set_upkeep(s, t, DEAD_MS, "bob"))
			net_send(net, &s->endpoint, path_set_probe_sent(s, t), t);
		if (!sockaddr_same(&was, &s->endpoint))
			net->moves++; /* failover inside upkeep */
		for (int n = 0; (to = path_set_alt_upkeep(s, t, DEAD_MS, &seq)); n++) {
			assert_true(n < PATH_ALT_MAX); /* bounded per turn */
			net_send(net, to, seq, t);
		}
	}
}

/* Two endpoints, A (the first static endpoint: current) and B, both heard from at t 1000. */
static void
net_two(struct net *net, struct path_set *s)
{
	memset(net, 0, sizeof(*net));
	net->addr[0] = ep("198.18.40.2:4800");
	net->addr[1] = ep("198.18.41.2:4800");
	net->n = 2;
	net->rtt = net_fixed;
	path_set_init(s, net->addr, 2);
	path_set_relay(s, true);
	path_set_on_udp_rx(s, &net->addr[0], 1000, "bob");
	path_set_on_validated(s, 1000);
	assert_true(sockaddr_same(&s->endpoint, &net->addr[0]));
	assert_non_null(s->alt[0].addr.ss_family ? &s->alt[0] : NULL);
}

static bool
at(const struct path_set *s, const struct net *net, size_t i)
{
	return sockaddr_same(&s->endpoint, &net->addr[i]);
}

/* B clearly better (5 ms against 30): taken once, after the sustained period, and kept. */
static void
test_select_takes_the_clearly_better_endpoint(void **state)
{
	struct net net;
	struct path_set s;
	uint64_t t;

	(void)state;
	net_two(&net, &s);
	net.fixed[0] = 30;
	net.fixed[1] = 5;
	/* Not before PATH_SWITCH_HOLD_MS of answers that beat A... */
	net_run(&net, &s, 1000, 1000 + PATH_SWITCH_HOLD_MS);
	assert_true(at(&s, &net, 0));
	/* ...but within a few seconds. */
	for (t = 1000 + PATH_SWITCH_HOLD_MS; t < 20000 && at(&s, &net, 0); t += 100)
		net_run(&net, &s, t, t + 100);
	assert_true(at(&s, &net, 1));
	assert_true(t - 1000 <= 8000);
	print_message("switched to the 5 ms endpoint %llu ms after traffic began\n",
		      (unsigned long long)(t - 1000));
	assert_int_equal(s.switches, 1);
	assert_int_equal(path_choose(&s, t, DEAD_MS), PATH_UDP);
	/* The old one is an alternate now, still probed, still answering, never better. */
	net_run(&net, &s, t, t + 120000);
	assert_true(at(&s, &net, 1));
	assert_int_equal(s.switches, 1);
	assert_int_equal(net.moves, 1);
	assert_int_equal(s.srtt_ms, 5);
	assert_true(sockaddr_same(&s.alt[0].addr, &net.addr[0]));
	assert_int_equal(s.alt[0].srtt8, 30 * 8);
	assert_int_equal(s.alt[0].loss_pm, 0);
	/* The alternate's probes are bounded: one a second (it was the current one for 4 s). */
	assert_true(s.alt[0].probes_sent >= 110 && s.alt[0].probes_sent <= 122);
}

/* Close RTTs never move the path: 1 ms against 0 is within the absolute margin. */
static void
test_select_keeps_the_current_within_the_margin(void **state)
{
	struct net net;
	struct path_set s;

	(void)state;
	net_two(&net, &s);
	net.fixed[0] = 1;
	net.fixed[1] = 0;
	net_run(&net, &s, 1000, 1000 + 300000);
	assert_true(at(&s, &net, 0));
	assert_int_equal(s.switches, 0);
	/* 11 against 10: 10 % lower, under the relative margin. */
	net_two(&net, &s);
	net.fixed[0] = 11;
	net.fixed[1] = 10;
	net_run(&net, &s, 1000, 1000 + 300000);
	assert_true(at(&s, &net, 0));
	assert_int_equal(s.switches, 0);
}

/*
 * Jitter straddling the switching point: A around 25 ms, B around 20 ms (the point: 80 % of 25),
 * each sample +- 6 ms at random, for 20 minutes of fake time; then both around 25 +- 10. At most
 * one switch each time, whatever the seed.
 */
static void
test_select_no_flapping_under_jitter(void **state)
{
	static const uint64_t seeds[] = { 1, 2, 3, 42, 12345 };
	unsigned total = 0;

	(void)state;
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		struct net net;
		struct path_set s;

		net_two(&net, &s);
		net.rtt = net_jitter;
		net.rng = seeds[k];
		net.centre[0] = 25;
		net.centre[1] = 20;
		net.spread = 6;
		net_run(&net, &s, 1000, 1000 + 20 * 60000);
		assert_true(net.moves <= 1);
		assert_true(s.switches <= 1);
		total += net.moves;

		net_two(&net, &s);
		net.rtt = net_jitter;
		net.rng = seeds[k];
		net.centre[0] = net.centre[1] = 25;
		net.spread = 10;
		net_run(&net, &s, 1000, 1000 + 20 * 60000);
		assert_true(net.moves <= 1);
		total += net.moves;
	}
	print_message("switches over 10 runs of 20 minutes of jitter: %u\n", total);
}

/*
 * Failover: A (5 ms, current) dies: B (10 ms) takes over within about a second and a half, UDP
 * all along; B dies too: the relay; B back: UDP at B; A back: the better one again, by choice.
 */
static void
test_select_fails_over_to_the_next_endpoint_first(void **state)
{
	struct net net;
	struct path_set s;
	uint64_t t = 1000, cut;

	(void)state;
	net_two(&net, &s);
	net.fixed[0] = 5;
	net.fixed[1] = 10;
	net_run(&net, &s, t, t + 10000);
	t += 10000;
	assert_true(at(&s, &net, 0));
	assert_true(path_set_alt_alive(&s, &net.addr[1], t, DEAD_MS));

	net.fixed[0] = -1; /* A dies */
	cut = t;
	while (at(&s, &net, 0) && t < cut + 5000) {
		net_run(&net, &s, t, t + STEP_MS);
		t += STEP_MS;
		assert_int_equal(path_choose(&s, t, DEAD_MS), PATH_UDP); /* never the relay */
	}
	assert_true(at(&s, &net, 1));
	assert_true(t - cut <= 2500);
	print_message("failover to the second endpoint %llu ms after the first died\n",
		      (unsigned long long)(t - cut));
	assert_int_equal(s.alt_failovers, 1);
	assert_int_equal(s.failovers, 0);
	net_run(&net, &s, t, t + 10000);
	t += 10000;
	assert_true(at(&s, &net, 1)); /* A does not answer: not taken back */
	assert_int_equal(path_choose(&s, t, DEAD_MS), PATH_UDP);

	net.fixed[1] = -1; /* B dies too: nothing answers, the relay */
	net_run(&net, &s, t, t + 3000);
	t += 3000;
	assert_int_equal(path_choose(&s, t, DEAD_MS), PATH_RELAY);
	assert_int_equal(s.failovers, 1);

	net.fixed[1] = 10; /* B back */
	net_run(&net, &s, t, t + 3000);
	t += 3000;
	assert_true(at(&s, &net, 1));
	assert_int_equal(path_choose(&s, t, DEAD_MS), PATH_UDP);

	net.fixed[0] = 5; /* A back (probed every 5 s while it does not answer), and better */
	for (cut = t; at(&s, &net, 1) && t < cut + 30000; t += 100)
		net_run(&net, &s, t, t + 100);
	assert_true(at(&s, &net, 0));
	print_message("back to the better endpoint %llu ms after it answered again\n",
		      (unsigned long long)(t - cut));
	assert_int_equal(s.switches, 1);
	assert_int_equal(path_choose(&s, t, DEAD_MS), PATH_UDP);
}

/* Loss is measured per endpoint; a lossy one is not taken for its RTT. */
static void
test_select_loss_estimate(void **state)
{
	struct net net;
	struct path_set s;
	uint64_t t = 1000;

	(void)state;
	net_two(&net, &s);
	net.fixed[0] = 30;
	net.fixed[1] = -1; /* B never answers: unproven, probed every 5 s */
	net_run(&net, &s, t, t + 60000);
	t += 60000;
	assert_true(at(&s, &net, 0));
	assert_false(path_set_alt_alive(&s, &net.addr[1], t, DEAD_MS));
	assert_true(s.alt[0].probes_sent >= 10 && s.alt[0].probes_answered == 0);
	assert_true(s.alt[0].loss_pm > 500);
	/* Unproven and idle-rate: 60 s at one probe per 5 s, and A's quiet probes. */
	assert_true(s.probes_sent <= 12 + 2 * 60 + 5);
	assert_int_equal(s.loss_pm, 0);
}

/* The table is bounded; what answers is not pushed out by what merely arrived. */
static void
test_select_table_bounded(void **state)
{
	struct sockaddr_storage e = ep("198.18.40.2:4800"), good = ep("198.18.41.2:4800");
	struct path_set s;
	char buf[32];
	size_t n = 0;

	(void)state;
	path_set_init(&s, &e, 1);
	path_set_on_udp_rx(&s, &e, 1000, "bob");
	path_set_on_validated(&s, 1000);
	path_set_on_answer(&s, &good, 0, 1100, DEAD_MS, "bob"); /* validated at once */
	assert_true(path_set_alt_alive(&s, &good, 1100, DEAD_MS));
	for (int i = 0; i < 20; i++) {
		snprintf(buf, sizeof(buf), "198.18.42.%d:4800", i + 1);
		struct sockaddr_storage x = ep(buf);

		path_set_learn(&s, &x, 1200 + (uint64_t)i);
	}
	for (size_t i = 0; i < PATH_ALT_MAX; i++)
		n += s.alt[i].addr.ss_family != 0;
	assert_int_equal(n, PATH_ALT_MAX);
	assert_true(path_set_alt_alive(&s, &good, 1300, DEAD_MS));
	path_set_learn(&s, &e, 1300); /* the current one is no alternate */
	for (size_t i = 0; i < PATH_ALT_MAX; i++)
		assert_false(sockaddr_same(&s.alt[i].addr, &e));
	/* An alternate's answer does not validate the current endpoint. */
	path_set_init(&s, &e, 1);
	path_set_on_udp_rx(&s, &e, 1000, "bob");
	path_set_on_answer(&s, &good, 0, 1000, DEAD_MS, "bob");
	assert_false(path_set_udp_is_alive(&s, 1000, DEAD_MS));
	path_set_on_answer(&s, &e, 0, 1000, DEAD_MS, "bob");
	assert_true(path_set_udp_is_alive(&s, 1000, DEAD_MS));
}

static void
test_select_rtt_show(void **state)
{
	char buf[16];

	(void)state;
	path_rtt_show(10, buf, sizeof(buf)); /* 1.25 ms */
	assert_string_equal(buf, "1.3");
	path_rtt_show(31 * 8, buf, sizeof(buf));
	assert_string_equal(buf, "31.0");
	path_rtt_show(0, buf, sizeof(buf));
	assert_string_equal(buf, "0.0");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_takes_the_clearly_better_endpoint),
		cmocka_unit_test(test_select_keeps_the_current_within_the_margin),
		cmocka_unit_test(test_select_no_flapping_under_jitter),
		cmocka_unit_test(test_select_fails_over_to_the_next_endpoint_first),
		cmocka_unit_test(test_select_loss_estimate),
		cmocka_unit_test(test_select_table_bounded),
		cmocka_unit_test(test_select_rtt_show),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
