// SPDX-License-Identifier: MIT
/*
 * Direct paths (direct/direct.h) on an injected clock with fake ops: reflection (asked at
 * home-up, retried, an answer taken only from the server and with the nonce outstanding, the
 * address becoming a candidate), offers (our candidates, the reflexive one once), probing
 * rounds (every candidate of a known kind probed on schedule, fast then slow, ended when a
 * direct path works, at the round's end, or when the peer is forgotten; unknown kinds and
 * other protocols ignored).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ev.h"
#include "core/sockaddr.h"
#include "direct/direct.h"
#include "proto/reflect.h"

#define ALICE "alice@a.example.com"
#define BOB   "bob@b.example.com"

struct fx {
	uint64_t now;
	struct ev_loop *loop;
	struct direct *d;
	uint8_t dgram[REFLECT_LEN];
	struct sockaddr_storage dgram_to;
	size_t ndgrams;
	struct ctlmsg offer;
	size_t noffers;
	struct sockaddr_storage probed[64];
	size_t nprobes;
	bool works;
};

static uint64_t
fx_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static bool
fx_send_datagram(void *arg, const struct sockaddr_storage *to, const uint8_t *buf, size_t len)
{
	struct fx *f = arg;

	assert_int_equal(len, REFLECT_LEN);
	memcpy(f->dgram, buf, len);
	f->dgram_to = *to;
	f->ndgrams++;
	return true;
}

static bool
fx_send_offer(void *arg, const struct ctlmsg *m)
{
	struct fx *f = arg;

	f->offer = *m;
	f->noffers++;
	return true;
}

static void
fx_probe(void *arg, const char *peer, const struct sockaddr_storage *to)
{
	struct fx *f = arg;

	assert_string_equal(peer, BOB);
	if (f->nprobes < 64)
		f->probed[f->nprobes] = *to;
	f->nprobes++;
}

static bool
fx_works(void *arg, const char *peer)
{
	(void)peer;
	return ((struct fx *)arg)->works;
}

static const struct direct_ops fx_ops = {
	.send_datagram = fx_send_datagram,
	.send_offer = fx_send_offer,
	.probe = fx_probe,
	.direct_works = fx_works,
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct direct_params p = {
		.self = ALICE, .port = 4800, .family = AF_INET6, .overlay = "vtx0"
	};

	assert_non_null(f);
	assert_int_equal(ev_loop_new(&f->loop), 0);
	f->now = 1000000;
	ev_loop_set_clock(f->loop, fx_clock, f);
	assert_int_equal(direct_new(&f->d, f->loop, &p, &fx_ops, f), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	direct_free(f->d);
	ev_loop_free(f->loop);
	free(f);
	return 0;
}

static void
advance(struct fx *f, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 50) {
		f->now += 50;
		assert_int_equal(ev_run_once(f->loop, 0), 0);
	}
}

static void
answer(struct fx *f, const char *from, const char *addr, bool right_nonce)
{
	struct sockaddr_storage src, mapped;
	uint8_t buf[REFLECT_LEN];
	uint64_t nonce;

	assert_true(reflect_request_decode(f->dgram, REFLECT_LEN, &nonce));
	assert_int_equal(sockaddr_parse(from, &src), 0);
	assert_int_equal(sockaddr_parse(addr, &mapped), 0);
	assert_true(reflect_response_encode(buf, right_nonce ? nonce : nonce + 2, &mapped));
	direct_on_datagram(f->d, buf, sizeof(buf), &src);
}

static void
test_reflection(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage server, want;

	assert_int_equal(sockaddr_parse("198.18.0.10:4801", &server), 0);
	direct_home_up(f->d, &server);
	assert_int_equal(f->ndgrams, 1);
	assert_true(sockaddr_equal(&f->dgram_to, &server));
	/* No answer: asked again. */
	advance(f, DIRECT_REFLECT_RETRY_MS + 250);
	assert_int_equal(f->ndgrams, 2);
	/* Answers from elsewhere, or with another nonce, are not taken. */
	answer(f, "198.18.0.66:4801", "198.18.0.201:1111", true);
	answer(f, "198.18.0.10:4801", "198.18.0.201:2222", false);
	assert_int_equal(direct_reflexive(f->d)->ss_family, 0);
	assert_int_equal(direct_stats(f->d)->reflect_bad, 2);
	answer(f, "[::ffff:198.18.0.10]:4801", "198.18.0.201:4800", true);
	assert_int_equal(sockaddr_parse("198.18.0.201:4800", &want), 0);
	assert_true(sockaddr_equal(direct_reflexive(f->d), &want));
	/* The same answer twice: the second finds no request outstanding. */
	answer(f, "198.18.0.10:4801", "198.18.0.201:4800", true);
	assert_int_equal(direct_stats(f->d)->reflect_bad, 3);
	/* Then asked again only after a while. */
	advance(f, DIRECT_REFLECT_RETRY_MS * 2);
	assert_int_equal(f->ndgrams, 2);
	advance(f, DIRECT_REFLECT_EVERY_MS - DIRECT_REFLECT_RETRY_MS * 2 + 300);
	assert_int_equal(f->ndgrams, 3); /* a NAT's new mapping would be noticed */

	/* The reflexive address is offered once, with the host's own. */
	direct_offer(f->d, BOB);
	assert_int_equal(f->noffers, 1);
	assert_string_equal(f->offer.u.offer.from, ALICE);
	assert_string_equal(f->offer.u.offer.to, BOB);
	{
		size_t srflx = 0;

		for (size_t i = 0; i < f->offer.u.offer.count; i++)
			if (f->offer.u.offer.cand[i].kind == CTL_CAND_SRFLX) {
				srflx++;
				assert_int_equal(f->offer.u.offer.cand[i].port, 4800);
				assert_int_equal(f->offer.u.offer.cand[i].family, 4);
				assert_memory_equal(f->offer.u.offer.cand[i].addr,
						    ((uint8_t[]){ 198, 18, 0, 201 }), 4);
			}
		assert_int_equal(srflx, 1);
	}
}

static struct ctlmsg
offer_from_bob(void)
{
	struct ctlmsg m = { .type = CTL_OFFER };

	strcpy(m.u.offer.from, BOB);
	strcpy(m.u.offer.to, ALICE);
	m.u.offer.count = 4;
	m.u.offer.cand[0] = (struct ctl_candidate){ .kind = CTL_CAND_HOST,
						    .proto = 17,
						    .family = 4,
						    .addr = { 198, 19, 2, 2 },
						    .port = 4800 };
	m.u.offer.cand[1] = (struct ctl_candidate){ .kind = CTL_CAND_SRFLX,
						    .proto = 17,
						    .family = 4,
						    .addr = { 198, 18, 0, 202 },
						    .port = 4800 };
	m.u.offer.cand[2] = (struct ctl_candidate){
		.kind = 99, .proto = 17, .family = 4, .addr = { 198, 18, 0, 99 }, .port = 1
	};
	m.u.offer.cand[3] = (struct ctl_candidate){ .kind = CTL_CAND_HOST,
						    .proto = 6,
						    .family = 4,
						    .addr = { 198, 18, 0, 98 },
						    .port = 4800 };
	return m;
}

static void
test_probing_rounds(void **state)
{
	struct fx *f = *state;
	struct ctlmsg m = offer_from_bob();
	struct sockaddr_storage want;
	size_t fast;

	direct_on_offer(f->d, &m);
	/* Answered with ours at once (both sides then probe in the same window), once. */
	assert_int_equal(f->noffers, 1);
	assert_string_equal(f->offer.u.offer.to, BOB);
	direct_on_offer(f->d, &m);
	assert_int_equal(f->noffers, 1);
	advance(f, 300);
	/* The two UDP candidates of known kinds, and nothing else. */
	assert_int_equal(f->nprobes, 2);
	assert_int_equal(sockaddr_parse("198.19.2.2:4800", &want), 0);
	assert_true(sockaddr_equal(&f->probed[0], &want));
	assert_int_equal(sockaddr_parse("198.18.0.202:4800", &want), 0);
	assert_true(sockaddr_equal(&f->probed[1], &want));
	/* Fast for DIRECT_FAST_MS: one pair every DIRECT_PROBE_MS. */
	advance(f, DIRECT_FAST_MS - 300);
	fast = f->nprobes;
	assert_in_range(fast, 2 * (DIRECT_FAST_MS / DIRECT_PROBE_MS) - 2,
			2 * (DIRECT_FAST_MS / DIRECT_PROBE_MS) + 2);
	/* Then slow. */
	advance(f, 2 * DIRECT_SLOW_PROBE_MS);
	assert_in_range(f->nprobes - fast, 2, 6);
	/* A direct path works: the round ends. */
	f->works = true;
	advance(f, 300);
	fast = f->nprobes;
	f->works = false;
	advance(f, 2 * DIRECT_SLOW_PROBE_MS);
	assert_int_equal(f->nprobes, fast);
	/* A new offer starts a new round; forgetting the peer ends it; so does the round's end. */
	direct_on_offer(f->d, &m);
	advance(f, 300);
	assert_int_equal(f->nprobes, fast + 2);
	direct_forget(f->d, BOB);
	advance(f, 2000);
	assert_int_equal(f->nprobes, fast + 2);
	direct_on_offer(f->d, &m);
	advance(f, DIRECT_ROUND_MS + 1000);
	fast = f->nprobes;
	advance(f, 2 * DIRECT_SLOW_PROBE_MS);
	assert_int_equal(f->nprobes, fast);
	/* An offer with nothing usable starts nothing: unknown kinds, and addresses where no peer
	 * can be (this host, nowhere, multicast, broadcast). */
	m.u.offer.count = 5;
	m.u.offer.cand[0].kind = 77;
	m.u.offer.cand[1].addr[0] = 127;
	m.u.offer.cand[2] = m.u.offer.cand[1];
	m.u.offer.cand[2].kind = CTL_CAND_SRFLX;
	m.u.offer.cand[2].addr[0] = 239;
	m.u.offer.cand[3] = m.u.offer.cand[2];
	memset(m.u.offer.cand[3].addr, 255, 4);
	m.u.offer.cand[4] = m.u.offer.cand[2];
	m.u.offer.cand[4].family = 6;
	memset(m.u.offer.cand[4].addr, 0, 16);
	m.u.offer.cand[4].addr[0] = 0xff;
	direct_on_offer(f->d, &m);
	advance(f, 1000);
	assert_int_equal(f->nprobes, fast);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reflection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probing_rounds, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
