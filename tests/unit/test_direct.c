// SPDX-License-Identifier: MIT
/*
 * Direct paths (direct/direct.h) on an injected clock with fake ops: reflection (asked at
 * home-up, retried, an answer taken only from the server and with the nonce outstanding, the
 * address becoming a candidate), offers (our candidates, the reflexive one once), probing
 * rounds (every candidate of a known kind probed on schedule, fast then slow, ended when a
 * direct path works, at the round's end, or when the peer is forgotten; unknown kinds and
 * other protocols ignored), the birthday technique as direct.c runs it (our NAT's
 * classification in the offer; extra sockets when ours maps per destination and the peer
 * filters, released after the hold time or all but the hit one once it works; the spray at
 * the peer's ports when its NAT maps per destination, bounded per tick and in all; nothing
 * when the peer offers a router mapping), and the hairpin test (started by a new reflexive
 * address, its probe come back taken, a forged one counted).
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
#include "direct/birthday.h"
#include "direct/direct.h"
#include "direct/hairpin.h"
#include "proto/hairpin.h"
#include "proto/reflect.h"

#define ALICE "alice@a.example.com"
#define BOB   "bob@b.example.com"
/* direct.c's DIRECT_BD_BATCH: sockets or probes per tick at most */
#define DIRECT_BD_TEST_BATCH 128

struct fx {
	uint64_t now;
	struct ev_loop *loop;
	struct direct *d;
	uint8_t dgram[64][REFLECT_LEN];
	struct sockaddr_storage dgram_to[64];
	size_t ndgrams;
	uint8_t hairpin[8][HAIRPIN_LEN]; /* hairpin probes sent */
	struct sockaddr_storage hairpin_to[8];
	size_t nhairpin;
	struct ctlmsg offer;
	size_t noffers;
	struct sockaddr_storage probed[64];
	size_t nprobes;
	bool works;
	struct sockaddr_storage dialed[8]; /* dial_tcp */
	size_t ndialed;
	struct sockaddr_storage so_dialed[8]; /* dial_simopen */
	bool so_client[8];
	size_t nso;
	int so_answer;     /* what dial_simopen answers: 1 dialed, 0 a link is up, -1 not now */
	unsigned reoffers; /* on_reflexive */
	bool linked;       /* a direct TCP link is up (ops.linked) */
	bool dial_busy;
	unsigned dial_refused;
	/* The birthday technique's extra sockets (fakes: ids 0..). */
	unsigned aux_opened, aux_closed;
	bool aux_open[512];
	int pinned;
	uint8_t spray_ports[65536]; /* probes to 198.18.0.202 at a port other than 4800 */
	size_t nspray;
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

	if (hairpin_is_probe(buf, len)) { /* the hairpin test's: kept apart */
		assert_int_equal(len, HAIRPIN_LEN);
		assert_true(f->nhairpin < 8);
		memcpy(f->hairpin[f->nhairpin], buf, len);
		f->hairpin_to[f->nhairpin++] = *to;
		return true;
	}
	assert_int_equal(len, REFLECT_LEN);
	assert_true(f->ndgrams < 64);
	memcpy(f->dgram[f->ndgrams], buf, len);
	f->dgram_to[f->ndgrams] = *to;
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
	if (to->ss_family == AF_INET &&
	    ((const struct sockaddr_in *)to)->sin_addr.s_addr == htonl(0xc61200ca) &&
	    ntohs(((const struct sockaddr_in *)to)->sin_port) != 4800) {
		uint16_t port = ntohs(((const struct sockaddr_in *)to)->sin_port);

		assert_int_equal(f->spray_ports[port], 0); /* each port once */
		f->spray_ports[port] = 1;
		f->nspray++;
	}
}

static int
fx_aux_open(void *arg, const struct sockaddr_storage *to)
{
	struct fx *f = arg;
	struct sockaddr_storage want;

	assert_int_equal(sockaddr_parse("198.18.0.202:4800", &want), 0);
	assert_true(sockaddr_same(to, &want)); /* toward the peer's server-reflexive endpoint */
	assert_true(f->aux_opened < 512);
	f->aux_open[f->aux_opened] = true;
	return (int)f->aux_opened++;
}

static void
fx_aux_close(void *arg, int id)
{
	struct fx *f = arg;

	assert_true(id >= 0 && (unsigned)id < f->aux_opened && f->aux_open[id]);
	f->aux_open[id] = false;
	f->aux_closed++;
	if (f->pinned == id)
		f->pinned = -1;
}

static int
fx_aux_pinned(void *arg, const struct sockaddr_storage *to)
{
	(void)to;
	return ((struct fx *)arg)->pinned;
}

static bool
fx_works(void *arg, const char *peer)
{
	(void)peer;
	return ((struct fx *)arg)->works;
}

static int
fx_dial_tcp(void *arg, const char *peer, const struct sockaddr_storage *to)
{
	struct fx *f = arg;

	assert_string_equal(peer, BOB);
	if (f->dial_busy) { /* "not now": the same candidate is asked again later */
		f->dial_refused++;
		return -1;
	}
	assert_true(f->ndialed < 8);
	f->dialed[f->ndialed++] = *to;
	return 1;
}

static int
fx_dial_simopen(void *arg, const char *peer, const struct sockaddr_storage *to, bool tls_client)
{
	struct fx *f = arg;

	assert_string_equal(peer, BOB);
	if (f->so_answer <= 0)
		return f->so_answer;
	assert_true(f->nso < 8);
	f->so_client[f->nso] = tls_client;
	f->so_dialed[f->nso++] = *to;
	return 1;
}

static bool
fx_linked(void *arg, const char *peer)
{
	(void)peer;
	return ((struct fx *)arg)->linked;
}

static void
fx_on_reflexive(void *arg)
{
	((struct fx *)arg)->reoffers++;
}

static const struct direct_ops fx_ops = {
	.on_reflexive = fx_on_reflexive,
	.dial_simopen = fx_dial_simopen,
	.linked = fx_linked,
	.send_datagram = fx_send_datagram,
	.send_offer = fx_send_offer,
	.probe = fx_probe,
	.direct_works = fx_works,
	.dial_tcp = fx_dial_tcp,
	.aux_open = fx_aux_open,
	.aux_close = fx_aux_close,
	.aux_pinned = fx_aux_pinned,
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
	f->pinned = -1;
	f->so_answer = 1;
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

/* Answers datagram k (sent by the agent) as the server would: from `from`, seeing `addr`. */
static void
answer(struct fx *f, size_t k, const char *from, const char *addr, bool right_nonce)
{
	struct sockaddr_storage src, mapped;
	uint8_t buf[REFLECT_LEN], flags;
	uint64_t nonce;

	assert_true(reflect_request_decode(f->dgram[k], REFLECT_LEN, &nonce, &flags));
	assert_int_equal(sockaddr_parse(from, &src), 0);
	assert_int_equal(sockaddr_parse(addr, &mapped), 0);
	assert_true(reflect_response_encode(buf, right_nonce ? nonce : nonce + 2, &mapped, NULL));
	direct_on_datagram(f->d, buf, sizeof(buf), &src);
}

/* The same, from a server that names its other address alt. */
static void
answer_alt(struct fx *f, size_t k, const char *from, const char *addr, const char *alt)
{
	struct sockaddr_storage src, mapped, other;
	uint8_t buf[REFLECT_LEN], flags;
	uint64_t nonce;

	assert_true(reflect_request_decode(f->dgram[k], REFLECT_LEN, &nonce, &flags));
	assert_int_equal(sockaddr_parse(from, &src), 0);
	assert_int_equal(sockaddr_parse(addr, &mapped), 0);
	assert_int_equal(sockaddr_parse(alt, &other), 0);
	assert_true(reflect_response_encode(buf, nonce, &mapped, &other));
	direct_on_datagram(f->d, buf, sizeof(buf), &src);
}

static uint8_t
flags_of(struct fx *f, size_t k)
{
	uint8_t flags;
	uint64_t nonce;

	assert_true(reflect_request_decode(f->dgram[k], REFLECT_LEN, &nonce, &flags));
	return flags;
}

static void
test_reflection(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage server, other, want;
	struct direct_nat nat;

	assert_int_equal(sockaddr_parse("198.18.0.10:4801", &server), 0);
	assert_int_equal(sockaddr_parse("198.18.0.10:4802", &other), 0);
	direct_home_up(f->d, &server);
	/* The port, and the port asking for the other's answer; the other port only once that
	 * is settled (what we send there would let its answer in). */
	assert_int_equal(f->ndgrams, 2);
	assert_true(sockaddr_equal(&f->dgram_to[0], &server));
	assert_true(sockaddr_equal(&f->dgram_to[1], &server));
	assert_int_equal(flags_of(f, 0), 0);
	assert_int_equal(flags_of(f, 1), REFLECT_OTHER_PORT);
	/* No answer from the other port: asked twice more, DIRECT_FILTER_RETRY_MS apart, and
	 * DIRECT_FILTER_RETRY_MS after the last, filtered: then the other port is asked. Nothing
	 * is concluded while the port itself has not answered. */
	advance(f, DIRECT_FILTER_RETRY_MS * DIRECT_FILTER_TRIES + 250);
	assert_int_equal(f->ndgrams, 2 + DIRECT_FILTER_TRIES);
	assert_int_equal(flags_of(f, 2), REFLECT_OTHER_PORT);
	assert_int_equal(flags_of(f, 3), REFLECT_OTHER_PORT);
	assert_true(sockaddr_equal(&f->dgram_to[4], &other));
	direct_nat(f->d, &nat);
	assert_int_equal(nat.filtering, DIRECT_FILTERING_UNKNOWN);
	/* The round's tick: the port and the other port asked again (new nonces). */
	advance(f, DIRECT_REFLECT_RETRY_MS - DIRECT_FILTER_RETRY_MS * DIRECT_FILTER_TRIES);
	assert_int_equal(f->ndgrams, 7);
	assert_true(sockaddr_equal(&f->dgram_to[5], &server));
	assert_int_equal(flags_of(f, 5), 0);
	assert_true(sockaddr_equal(&f->dgram_to[6], &other));
	/* Answers from elsewhere, or with another nonce, are not taken. */
	answer(f, 5, "198.18.0.66:4801", "198.18.0.201:1111", true);
	answer(f, 5, "198.18.0.10:4801", "198.18.0.201:2222", false);
	assert_int_equal(direct_reflexive(f->d)->ss_family, 0);
	assert_int_equal(direct_stats(f->d)->reflect_bad, 2);
	/* The first datagram's nonce was replaced by the resend's: too late. */
	answer(f, 0, "198.18.0.10:4801", "198.18.0.201:2222", true);
	assert_int_equal(direct_stats(f->d)->reflect_bad, 3);
	answer(f, 5, "[::ffff:198.18.0.10]:4801", "198.18.0.201:4800", true);
	assert_int_equal(sockaddr_parse("198.18.0.201:4800", &want), 0);
	assert_true(sockaddr_equal(direct_reflexive(f->d), &want));
	direct_nat(f->d, &nat);
	assert_int_equal(nat.filtering, DIRECT_FILTERING_PORT);
	assert_int_equal(nat.mapping, DIRECT_MAPPING_UNKNOWN); /* the other port's pending */
	/* The same answer twice: the second finds no request outstanding. */
	answer(f, 5, "198.18.0.10:4801", "198.18.0.201:4800", true);
	assert_int_equal(direct_stats(f->d)->reflect_bad, 4);
	/* An answer from the other port after the other port was asked proves nothing. */
	answer(f, 3, "198.18.0.10:4802", "198.18.0.201:4800", true);
	assert_int_equal(direct_stats(f->d)->reflect_bad, 5);
	/* The other port sees another mapping (a "symmetric" NAT). */
	answer(f, 6, "198.18.0.10:4802", "198.18.0.201:4999", true);
	direct_nat(f->d, &nat);
	assert_true(nat.answered);
	assert_int_equal(nat.mapping, DIRECT_MAPPING_DEPENDENT);
	assert_int_equal(nat.filtering, DIRECT_FILTERING_PORT);
	advance(f, DIRECT_REFLECT_RETRY_MS * DIRECT_REFLECT_TRIES);
	/* Then asked again only after a while: the next round, everything again. */
	size_t n = f->ndgrams;
	advance(f, DIRECT_REFLECT_RETRY_MS * 2);
	assert_int_equal(f->ndgrams, n);
	for (int i = 0; i < (DIRECT_REFLECT_EVERY_MS + 1000) / 50 && f->ndgrams == n; i++)
		advance(f, 50);
	assert_int_equal(f->ndgrams, n + 2);
	/* This round the answer from the other port gets in, then the other port is asked at
	 * once and sees the same mapping: one mapping for all, and open. */
	answer(f, n, "198.18.0.10:4801", "198.18.0.201:4800", true);
	answer(f, n + 1, "198.18.0.10:4802", "198.18.0.201:4800", true);
	for (int i = 0; i < 100 && f->ndgrams == n + 2; i++)
		advance(f, 50);
	assert_int_equal(f->ndgrams, n + 3);
	assert_true(sockaddr_equal(&f->dgram_to[n + 2], &other));
	answer(f, n + 2, "198.18.0.10:4802", "198.18.0.201:4800", true);
	direct_nat(f->d, &nat);
	assert_int_equal(nat.mapping, DIRECT_MAPPING_INDEPENDENT);
	/* one address: another port gets in, whether another address would is not known */
	assert_int_equal(nat.filtering, DIRECT_FILTERING_NOT_PORT);
	advance(f, DIRECT_REFLECT_RETRY_MS * 3);
	assert_int_equal(f->ndgrams, n + 3); /* nothing left to ask until the next round */

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

/* Our reflection answered: we have a server-reflexive UDP candidate (our UDP works). */
static void
fx_reflexive(struct fx *f, const char *addr)
{
	struct sockaddr_storage server;

	assert_int_equal(sockaddr_parse("198.18.0.10:4801", &server), 0);
	direct_home_up(f->d, &server);
	answer(f, 0, "198.18.0.10:4801", addr, true);
	assert_int_not_equal(direct_reflexive(f->d)->ss_family, 0);
}

static void
test_probing_rounds(void **state)
{
	struct fx *f = *state;
	struct ctlmsg m = offer_from_bob();
	struct sockaddr_storage want;
	size_t fast;

	/* Both sides' UDP reaches their servers (a srflx candidate each): TCP waits for UDP. */
	fx_reflexive(f, "198.18.0.201:4800");
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
	assert_int_equal(f->ndialed, 0); /* TCP waits for UDP's fast phase */
	/* Then slow; and as UDP found no way, the TCP candidate is dialed: at once, as our
	 * identity (alice) sorts before bob's. */
	advance(f, 2 * DIRECT_SLOW_PROBE_MS);
	assert_in_range(f->nprobes - fast, 2, 6);
	assert_int_equal(f->ndialed, 1);
	assert_int_equal(sockaddr_parse("198.18.0.98:4800", &want), 0);
	assert_true(sockaddr_equal(&f->dialed[0], &want));
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
	{
		struct direct_cand c[CTL_CANDIDATES_MAX];
		bool probing;

		assert_int_equal(direct_candidates(f->d, BOB, c, CTL_CANDIDATES_MAX, &probing), 3);
		assert_true(probing);
		assert_int_equal(c[2].proto, 6);
		assert_false(c[2].dialed);
		assert_int_equal(c[0].kind, CTL_CAND_HOST);
		assert_int_equal(c[1].kind, CTL_CAND_SRFLX);
		assert_int_equal(sockaddr_parse("198.18.0.202:4800", &want), 0);
		assert_true(sockaddr_equal(&c[1].addr, &want));
		advance(f, DIRECT_ROUND_MS + 1000);
		/* Over, but still known (vertex peers shows them); the TCP one was dialed once. */
		assert_int_equal(direct_candidates(f->d, BOB, c, CTL_CANDIDATES_MAX, &probing), 3);
		assert_true(c[2].dialed);
		assert_false(probing);
		assert_int_equal(direct_candidates(f->d, "nobody@x.example", c, 2, &probing), 0);
	}
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

static struct ctl_candidate
cand4(uint8_t kind, uint8_t proto, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	return (struct ctl_candidate){
		.kind = kind, .proto = proto, .family = 4, .addr = { a, b, c, d }, .port = port
	};
}

/*
 * Who dials over TCP (direct_tcp_plan): the side whose TCP candidates rank lower, so that the
 * one with a mapped, forwarded or public port is the one dialed; equal ranks: identity order.
 * Early (no waiting for UDP's fast phase) when either side's UDP is blocked.
 */
static void
test_tcp_plan(void **state)
{
	/* NATed, UDP works: host TCP on a private address only (rank 1). */
	const struct ctl_candidate natted[] = {
		cand4(CTL_CAND_HOST, 17, 198, 19, 1, 2, 4800),
		cand4(CTL_CAND_SRFLX, 17, 198, 18, 0, 201, 4800),
		cand4(CTL_CAND_HOST, 6, 198, 19, 1, 2, 4800),
	};
	/* NATed, UDP blocked (no srflx): rank 1, and blocked. */
	const struct ctl_candidate blocked[] = {
		cand4(CTL_CAND_HOST, 17, 198, 19, 1, 2, 4800),
		cand4(CTL_CAND_HOST, 6, 198, 19, 1, 2, 4800),
	};
	/* Behind a router that maps TCP (and UDP, which its firewall drops): rank 2. */
	const struct ctl_candidate mapped[] = {
		cand4(CTL_CAND_HOST, 17, 198, 19, 2, 2, 4800),
		cand4(CTL_CAND_MAPPED, 17, 198, 18, 0, 202, 4800),
		cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800),
		cand4(CTL_CAND_MAPPED, 6, 198, 18, 0, 202, 4800),
	};
	/* A forwarded TCP port (public-tcp) on the srflx address: rank 2. */
	const struct ctl_candidate forwarded[] = {
		cand4(CTL_CAND_HOST, 17, 198, 19, 2, 2, 4800),
		cand4(CTL_CAND_SRFLX, 17, 198, 18, 0, 202, 4800),
		cand4(CTL_CAND_SRFLX, 6, 198, 18, 0, 202, 4900),
		cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800),
	};
	/* No NAT: the host address is the srflx one: rank 2. */
	const struct ctl_candidate public[] = {
		cand4(CTL_CAND_HOST, 17, 198, 18, 0, 30, 4800),
		cand4(CTL_CAND_SRFLX, 17, 198, 18, 0, 30, 4800),
		cand4(CTL_CAND_HOST, 6, 198, 18, 0, 30, 4800),
	};
	/* The same host as its offer really says it: the srflx one repeats the host one, so
	 * only the NAT class (kind 4) names the reflexive address. */
	const struct ctl_candidate public_offered[] = {
		cand4(CTL_CAND_HOST, 17, 198, 18, 0, 30, 4800),
		cand4(CTL_CAND_HOST, 6, 198, 18, 0, 30, 4800),
		{ .kind = CTL_CAND_NAT,
		  .proto = 17,
		  .family = 4,
		  .addr = { 198, 18, 0, 30 },
		  .priority = DIRECT_FILTERING_OPEN << 8 },
	};
	const struct ctl_candidate udp_only[] = {
		cand4(CTL_CAND_SRFLX, 17, 198, 18, 0, 30, 4800),
		cand4(77, 6, 198, 18, 0, 31, 4800), /* a kind we do not know: not counted */
	};
	struct direct_tcp_plan p;

	(void)state;
	assert_int_equal(direct_tcp_rank(natted, 3), 1);
	assert_int_equal(direct_tcp_rank(blocked, 2), 1);
	assert_int_equal(direct_tcp_rank(mapped, 4), 2);
	assert_int_equal(direct_tcp_rank(forwarded, 4), 2);
	assert_int_equal(direct_tcp_rank(public, 3), 2);
	assert_int_equal(direct_tcp_rank(udp_only, 2), 0);
	/* Dial order: mapped, srflx, a host one on the srflx address, other host ones. */
	assert_int_equal(direct_tcp_order(&mapped[3], mapped, 4), 0);
	assert_int_equal(direct_tcp_order(&forwarded[2], forwarded, 4), 1);
	assert_int_equal(direct_tcp_order(&public[2], public, 3), 2);
	assert_int_equal(direct_tcp_order(&mapped[2], mapped, 4), 3);

	/* Only bob has a reachable port: alice dials, whatever the identities say; bob (whose
	 * identity sorts after alice's) does not dial first. Alice's UDP is blocked: early. */
	direct_tcp_plan(ALICE, blocked, 2, BOB, mapped, 4, &p);
	assert_true(p.dial_first);
	assert_true(p.early);
	direct_tcp_plan(BOB, mapped, 4, ALICE, blocked, 2, &p);
	assert_false(p.dial_first);
	assert_true(p.early);
	/* The same with the names the other way round: the rank decides, not the name. */
	direct_tcp_plan(BOB, blocked, 2, ALICE, forwarded, 4, &p);
	assert_true(p.dial_first);
	direct_tcp_plan(ALICE, forwarded, 4, BOB, blocked, 2, &p);
	assert_false(p.dial_first);
	/* Equal ranks: identity order, exactly one side first. */
	direct_tcp_plan(ALICE, natted, 3, BOB, natted, 3, &p);
	assert_true(p.dial_first);
	assert_false(p.early); /* both UDP fine: TCP after the fast phase */
	direct_tcp_plan(BOB, natted, 3, ALICE, natted, 3, &p);
	assert_false(p.dial_first);
	direct_tcp_plan(BOB, mapped, 4, ALICE, public, 3, &p);
	assert_false(p.dial_first);
	assert_false(p.early); /* a UDP mapping counts as UDP that works */
	direct_tcp_plan(ALICE, public, 3, BOB, mapped, 4, &p);
	assert_true(p.dial_first);
	/* A public host's real offer (nat_pairs_public.sh's public / udp-blocked): it ranks 2
	 * by its NAT class, its UDP is not blocked; the blocked side dials it, whatever the
	 * names (here bob, who sorts after alice), at once. */
	assert_int_equal(direct_tcp_rank(public_offered, 3), 2);
	assert_int_equal(direct_tcp_order(&public_offered[1], public_offered, 3), 2);
	direct_tcp_plan(BOB, blocked, 2, ALICE, public_offered, 3, &p);
	assert_true(p.dial_first);
	assert_true(p.early);
	direct_tcp_plan(ALICE, public_offered, 3, BOB, blocked, 2, &p);
	assert_false(p.dial_first);
	assert_true(p.early);
	direct_tcp_plan(ALICE, public_offered, 3, BOB, natted, 3, &p);
	assert_false(p.early);
}

/*
 * The round with only bob reachable over TCP (his router maps it) and our UDP blocked (no
 * reflection answered): his mapped candidate is dialed at once, before his host one (offered
 * first), which comes DIRECT_TCP_NEXT_MS later; a "not now" from the dialer asks again for the
 * same candidate, soon.
 */
static void
test_tcp_mapped_dialed_first(void **state)
{
	struct fx *f = *state;
	struct ctlmsg m = { .type = CTL_OFFER };
	struct sockaddr_storage want;

	strcpy(m.u.offer.from, BOB);
	strcpy(m.u.offer.to, ALICE);
	m.u.offer.count = 4;
	m.u.offer.cand[0] = cand4(CTL_CAND_HOST, 17, 198, 19, 2, 2, 4800);
	m.u.offer.cand[1] = cand4(CTL_CAND_MAPPED, 17, 198, 18, 0, 202, 4800);
	m.u.offer.cand[2] = cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800);
	m.u.offer.cand[3] = cand4(CTL_CAND_MAPPED, 6, 198, 18, 0, 202, 4800);
	f->dial_busy = true;
	direct_on_offer(f->d, &m);
	advance(f, 300);
	assert_int_equal(f->ndialed, 0);
	assert_true(f->dial_refused >= 1);
	f->dial_busy = false;
	advance(f, DIRECT_PROBE_MS + 300);
	assert_int_equal(f->ndialed, 1);
	assert_int_equal(sockaddr_parse("198.18.0.202:4800", &want), 0);
	assert_true(sockaddr_equal(&f->dialed[0], &want));
	/* A second offer (a rekey's) does not dial again at once, nor skip ahead. */
	direct_on_offer(f->d, &m);
	advance(f, 1000);
	assert_int_equal(f->ndialed, 1);
	advance(f, DIRECT_TCP_NEXT_MS);
	assert_int_equal(f->ndialed, 2);
	assert_int_equal(sockaddr_parse("198.19.2.2:4800", &want), 0);
	assert_true(sockaddr_equal(&f->dialed[1], &want));
	{
		struct direct_cand c[CTL_CANDIDATES_MAX];
		bool probing;

		assert_int_equal(direct_candidates(f->d, BOB, c, CTL_CANDIDATES_MAX, &probing), 4);
		assert_int_equal(c[2].kind, CTL_CAND_MAPPED);
		assert_int_equal(c[2].proto, 6);
		assert_true(c[2].dialed && c[3].dialed);
	}
}

/*
 * A direct link up when the next dial is due: the next offer (a rekey over the relay moved the
 * session off the link) dials the peer's candidates over, the mapped one first again, instead
 * of finding them all dialed.
 */
static void
test_tcp_redialed_after_a_link(void **state)
{
	struct fx *f = *state;
	struct ctlmsg m = { .type = CTL_OFFER };
	struct sockaddr_storage want;

	strcpy(m.u.offer.from, BOB);
	strcpy(m.u.offer.to, ALICE);
	m.u.offer.count = 3;
	m.u.offer.cand[0] = cand4(CTL_CAND_HOST, 17, 198, 19, 2, 2, 4800);
	m.u.offer.cand[1] = cand4(CTL_CAND_MAPPED, 17, 198, 18, 0, 202, 4800);
	m.u.offer.cand[2] = cand4(CTL_CAND_MAPPED, 6, 198, 18, 0, 202, 4800);
	direct_on_offer(f->d, &m);
	advance(f, DIRECT_PROBE_MS);
	assert_int_equal(f->ndialed, 1);
	/* A re-offer while the link comes up: the candidate stays dialed. */
	direct_on_offer(f->d, &m);
	advance(f, DIRECT_PROBE_MS);
	assert_int_equal(f->ndialed, 1);
	f->linked = true;
	advance(f, DIRECT_TCP_NEXT_MS);
	assert_int_equal(f->ndialed, 1);
	/* The rekey's session is on the relay: its offer dials the mapped candidate again. */
	f->linked = false;
	direct_on_offer(f->d, &m);
	advance(f, DIRECT_PROBE_MS);
	assert_int_equal(f->ndialed, 2);
	assert_int_equal(sockaddr_parse("198.18.0.202:4800", &want), 0);
	assert_true(sockaddr_equal(&f->dialed[1], &want));
}

/* We are the reachable one (a forwarded port on our reflexive address): bob dials, we only
 * after DIRECT_TCP_DEFER_MS (his host candidate, unreachable, as a last resort). */
static void
test_tcp_reachable_side_waits(void **state)
{
	struct fx *f = *state;
	struct direct_params p = { .self = ALICE,
				   .port = 4800,
				   .family = AF_INET6,
				   .overlay = "vtx0",
				   .public_tcp = 4900 };
	struct ctl_candidate ours[CTL_CANDIDATES_MAX];
	struct ctlmsg m = { .type = CTL_OFFER };
	bool found = false;
	size_t n;

	direct_free(f->d);
	assert_int_equal(direct_new(&f->d, f->loop, &p, &fx_ops, f), 0);
	f->ndgrams = 0;
	/* Not before our address is known: nothing to put the port on. */
	n = direct_gather(f->d, ours, CTL_CANDIDATES_MAX);
	for (size_t i = 0; i < n; i++)
		assert_false(ours[i].proto == 6 && ours[i].kind == CTL_CAND_SRFLX);
	fx_reflexive(f, "198.18.0.201:4800");
	n = direct_gather(f->d, ours, CTL_CANDIDATES_MAX);
	for (size_t i = 0; i < n; i++)
		if (ours[i].proto == 6 && ours[i].kind == CTL_CAND_SRFLX) {
			assert_int_equal(ours[i].port, 4900);
			assert_memory_equal(ours[i].addr, "\xc6\x12\x00\xc9", 4);
			found = true;
		}
	assert_true(found);
	strcpy(m.u.offer.from, BOB);
	strcpy(m.u.offer.to, ALICE);
	m.u.offer.count = 2;
	m.u.offer.cand[0] = cand4(CTL_CAND_HOST, 17, 198, 19, 2, 2, 4800); /* UDP blocked */
	m.u.offer.cand[1] = cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800);
	direct_on_offer(f->d, &m);
	advance(f, DIRECT_TCP_DEFER_MS - 500);
	assert_int_equal(f->ndialed, 0);
	advance(f, 1000);
	assert_int_equal(f->ndialed, 1);
}

/*
 * Simultaneous open (direct_simopen_plan): only when both sides offer their NAT's mapping of
 * the peer port and neither can be dialed plainly; the two sides agree on the TLS roles (the
 * identity that sorts first is the client) and each aims at the other's candidate.
 */
static void
test_simopen_plan(void **state)
{
	/* Behind a NAT that keeps ports, UDP blocked: host TCP (rank 1) and simopen. */
	const struct ctl_candidate a_blocked[] = {
		cand4(CTL_CAND_HOST, 17, 198, 19, 1, 2, 4800),
		cand4(CTL_CAND_HOST, 6, 198, 19, 1, 2, 4800),
		cand4(CTL_CAND_SIMOPEN, 6, 198, 18, 0, 201, 4800),
	};
	const struct ctl_candidate b_blocked[] = {
		cand4(CTL_CAND_HOST, 17, 198, 19, 2, 2, 4800),
		cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800),
		cand4(CTL_CAND_SIMOPEN, 6, 198, 18, 0, 202, 4800),
	};
	/* A NAT that picks ports (symmetric): no simopen candidate. */
	const struct ctl_candidate b_symmetric[] = {
		cand4(CTL_CAND_HOST, 17, 198, 19, 2, 2, 4800),
		cand4(CTL_CAND_SRFLX, 17, 198, 18, 0, 202, 31337),
		cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800),
	};
	/* Reachable: a router's TCP mapping (rank 2), a simopen candidate beside it. */
	const struct ctl_candidate b_mapped[] = {
		cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800),
		cand4(CTL_CAND_MAPPED, 6, 198, 18, 0, 202, 4900),
		cand4(CTL_CAND_SIMOPEN, 6, 198, 18, 0, 202, 4800),
	};
	/* Its mapping on an IPv6 address, for an agent whose sockets are IPv4 only. */
	struct ctl_candidate b_v6[] = {
		cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800),
		{ .kind = CTL_CAND_SIMOPEN,
		  .proto = 6,
		  .family = 6,
		  .addr = { 0xfd },
		  .port = 4800 },
	};
	struct direct_simopen_plan pa, pb;
	struct sockaddr_storage want;

	(void)state;
	direct_simopen_plan(ALICE, a_blocked, 3, BOB, b_blocked, 3, AF_INET6, &pa);
	direct_simopen_plan(BOB, b_blocked, 3, ALICE, a_blocked, 3, AF_INET6, &pb);
	assert_true(pa.on && pb.on);
	assert_true(pa.tls_client);  /* alice@ sorts before bob@ */
	assert_false(pb.tls_client); /* so bob answers as the TLS server: one of each */
	assert_int_equal(sockaddr_parse("198.18.0.202:4800", &want), 0);
	assert_true(sockaddr_equal(&pa.to, &want));
	assert_int_equal(sockaddr_parse("198.18.0.201:4800", &want), 0);
	assert_true(sockaddr_equal(&pb.to, &want));
	/* The roles follow the identities, not who computes them first. */
	direct_simopen_plan("zed@a.example.com", a_blocked, 3, BOB, b_blocked, 3, AF_INET, &pa);
	direct_simopen_plan(BOB, b_blocked, 3, "zed@a.example.com", a_blocked, 3, AF_INET, &pb);
	assert_true(pa.on && pb.on && !pa.tls_client && pb.tls_client);
	/* Either side without one: no simultaneous open. */
	direct_simopen_plan(ALICE, a_blocked, 3, BOB, b_symmetric, 3, AF_INET6, &pa);
	direct_simopen_plan(BOB, b_symmetric, 3, ALICE, a_blocked, 3, AF_INET6, &pb);
	assert_false(pa.on || pb.on);
	/* Either side reachable: the plain dial (direct_tcp_plan) does it. */
	direct_simopen_plan(ALICE, a_blocked, 3, BOB, b_mapped, 3, AF_INET6, &pa);
	direct_simopen_plan(BOB, b_mapped, 3, ALICE, a_blocked, 3, AF_INET6, &pb);
	assert_false(pa.on || pb.on);
	/* An IPv6 target is fine for a dual-stack agent, not for an IPv4-only one. */
	direct_simopen_plan(ALICE, a_blocked, 3, BOB, b_v6, 2, AF_INET6, &pa);
	assert_true(pa.on);
	direct_simopen_plan(ALICE, a_blocked, 3, BOB, b_v6, 2, AF_INET, &pa);
	assert_false(pa.on);
	/* A public host whose UDP is blocked: its server saw its own address, so its host TCP
	 * candidate there ranks 2 (reachable): the plain dial, as for tcp_direct.sh's carol. */
	{
		const struct ctl_candidate public_blocked[] = {
			cand4(CTL_CAND_HOST, 17, 198, 18, 0, 30, 4800),
			cand4(CTL_CAND_HOST, 6, 198, 18, 0, 30, 4800),
			cand4(CTL_CAND_SIMOPEN, 6, 198, 18, 0, 30, 4800),
		};

		assert_int_equal(direct_tcp_rank(public_blocked, 3), 2);
		direct_simopen_plan(ALICE, a_blocked, 3, "carol@b.example.com", public_blocked, 3,
				    AF_INET6, &pa);
		assert_false(pa.on);
	}
	/* An address no peer can have (this host) is never aimed at. */
	b_v6[1] = cand4(CTL_CAND_SIMOPEN, 6, 127, 0, 0, 1, 4800);
	direct_simopen_plan(ALICE, a_blocked, 3, BOB, b_v6, 2, AF_INET6, &pa);
	assert_false(pa.on);
}

/* Our simopen candidate: offered only when the server saw our peer port (the NAT kept it). */
static void
test_simopen_candidate(void **state)
{
	struct fx *f = *state;
	struct ctl_candidate c[CTL_CANDIDATES_MAX];
	struct sockaddr_storage seen;
	size_t n, found;

	assert_int_equal(direct_observed(f->d)->ss_family, 0);
	assert_int_equal(sockaddr_parse("198.18.0.201:31337", &seen), 0);
	direct_on_observed(f->d, &seen);
	assert_int_equal(f->reoffers, 1);
	assert_true(sockaddr_equal(direct_observed(f->d), &seen));
	n = direct_gather(f->d, c, CTL_CANDIDATES_MAX);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(c[i].kind, CTL_CAND_SIMOPEN);
	assert_int_equal(sockaddr_parse("198.18.0.201:4800", &seen), 0);
	direct_on_observed(f->d, &seen);
	direct_on_observed(f->d, &seen); /* the same again: no news */
	assert_int_equal(f->reoffers, 2);
	n = direct_gather(f->d, c, CTL_CANDIDATES_MAX);
	found = 0;
	for (size_t i = 0; i < n; i++)
		if (c[i].kind == CTL_CAND_SIMOPEN) {
			assert_int_equal(c[i].proto, 6);
			assert_int_equal(c[i].family, 4);
			assert_int_equal(c[i].port, 4800);
			assert_memory_equal(c[i].addr, ((uint8_t[16]){ 198, 18, 0, 201 }), 16);
			found++;
		}
	assert_int_equal(found, 1);
	/* The home connection gone: nothing said until the next one says it again. */
	direct_on_observed(f->d, NULL);
	assert_int_equal(direct_observed(f->d)->ss_family, 0);
	assert_int_equal(f->reoffers, 2);
	n = direct_gather(f->d, c, CTL_CANDIDATES_MAX);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(c[i].kind, CTL_CAND_SIMOPEN);
}

/*
 * Both udp-blocked behind NATs that keep ports: bob's offer starts the simultaneous open at
 * once (we, alice, the TLS client); "not now" is asked again soon, uncounted; a re-offer keeps
 * the count; DIRECT_SIMOPEN_TRIES tries DIRECT_SIMOPEN_NEXT_MS apart, plain dials of bob's host
 * candidate only after the last has had its time; a link found up starts the count again.
 */
static void
test_simopen_dialed(void **state)
{
	struct fx *f = *state;
	struct ctlmsg m = { .type = CTL_OFFER };
	struct sockaddr_storage seen, want;

	assert_int_equal(sockaddr_parse("198.18.0.201:4800", &seen), 0);
	direct_on_observed(f->d, &seen);
	strcpy(m.u.offer.from, BOB);
	strcpy(m.u.offer.to, ALICE);
	m.u.offer.count = 3;
	m.u.offer.cand[0] = cand4(CTL_CAND_HOST, 17, 198, 19, 2, 2, 4800);
	m.u.offer.cand[1] = cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800);
	m.u.offer.cand[2] = cand4(CTL_CAND_SIMOPEN, 6, 198, 18, 0, 202, 4800);
	f->so_answer = -1; /* a dial runs */
	direct_on_offer(f->d, &m);
	advance(f, 300);
	assert_int_equal(f->nso, 0);
	f->so_answer = 1;
	advance(f, DIRECT_PROBE_MS);
	assert_int_equal(f->nso, 1);
	assert_int_equal(sockaddr_parse("198.18.0.202:4800", &want), 0);
	assert_true(sockaddr_equal(&f->so_dialed[0], &want));
	assert_true(f->so_client[0]);
	assert_int_equal(f->ndialed, 0); /* the plain dial waits */
	{
		struct direct_cand c[CTL_CANDIDATES_MAX];
		bool probing, seen_so = false;
		size_t n = direct_candidates(f->d, BOB, c, CTL_CANDIDATES_MAX, &probing);

		for (size_t i = 0; i < n; i++)
			if (c[i].kind == CTL_CAND_SIMOPEN) {
				assert_true(c[i].dialed && c[i].proto == 6);
				assert_true(sockaddr_equal(&c[i].addr, &want));
				seen_so = true;
			}
		assert_true(seen_so);
	}
	/* A re-offer (a rekey's) neither dials again at once nor forgets the try. */
	direct_on_offer(f->d, &m);
	advance(f, 1000);
	assert_int_equal(f->nso, 1);
	advance(f, DIRECT_SIMOPEN_NEXT_MS - 1000);
	assert_int_equal(f->nso, 2);
	advance(f, DIRECT_SIMOPEN_NEXT_MS);
	assert_int_equal(f->nso, DIRECT_SIMOPEN_TRIES);
	/* The last try has its time before anything else is dialed. */
	advance(f, DIRECT_SIMOPEN_NEXT_MS - 1000);
	assert_int_equal(f->ndialed, 0);
	/* The tries over: the plain dial of bob's host candidate, and no more simultaneous opens.
	 */
	advance(f, 1000);
	assert_int_equal(f->nso, DIRECT_SIMOPEN_TRIES);
	assert_int_equal(f->ndialed, 1);
	assert_int_equal(sockaddr_parse("198.19.2.2:4800", &want), 0);
	assert_true(sockaddr_equal(&f->dialed[0], &want));
	/* A link is up (the last try worked) when the next would be due: the count starts again,
	 * and the next session's offer (a rekey moved it to the relay) tries at once. */
	f->linked = true;
	advance(f, DIRECT_SIMOPEN_NEXT_MS);
	assert_int_equal(f->nso, DIRECT_SIMOPEN_TRIES);
	f->linked = false;
	direct_on_offer(f->d, &m);
	advance(f, DIRECT_PROBE_MS);
	assert_int_equal(f->nso, DIRECT_SIMOPEN_TRIES + 1);
}

/* Without our own candidate (our NAT picked the port), bob's is never dialed. */
static void
test_simopen_needs_both(void **state)
{
	struct fx *f = *state;
	struct ctlmsg m = { .type = CTL_OFFER };

	strcpy(m.u.offer.from, BOB);
	strcpy(m.u.offer.to, ALICE);
	m.u.offer.count = 3;
	m.u.offer.cand[0] = cand4(CTL_CAND_HOST, 17, 198, 19, 2, 2, 4800);
	m.u.offer.cand[1] = cand4(CTL_CAND_HOST, 6, 198, 19, 2, 2, 4800);
	m.u.offer.cand[2] = cand4(CTL_CAND_SIMOPEN, 6, 198, 18, 0, 202, 4800);
	direct_on_offer(f->d, &m);
	advance(f, 3 * DIRECT_SIMOPEN_NEXT_MS);
	assert_int_equal(f->nso, 0);
	assert_int_equal(f->ndialed, 1); /* the plain plan as before: its host candidate */
}

/*
 * Reflection settles our NAT: the server's port sees us at 198.18.0.201:1111, its other port at
 * :2222 (dependent) or :1111 (independent); an answer from the other port never comes in
 * (port-dependent filtering).
 */
static void
classify(struct fx *f, bool dependent)
{
	struct sockaddr_storage server;
	struct direct_nat nat;
	size_t done = 0;

	assert_int_equal(sockaddr_parse("198.18.0.10:4801", &server), 0);
	direct_home_up(f->d, &server);
	for (int step = 0; step < 6; step++) {
		for (; done < f->ndgrams; done++) {
			bool other =
			    ntohs(((struct sockaddr_in *)&f->dgram_to[done])->sin_port) == 4802;

			if (other)
				answer(f, done, "198.18.0.10:4802",
				       dependent ? "198.18.0.201:2222" : "198.18.0.201:1111", true);
			else if (flags_of(f, done) == 0)
				answer(f, done, "198.18.0.10:4801", "198.18.0.201:1111", true);
		}
		advance(f, DIRECT_REFLECT_RETRY_MS);
	}
	direct_nat(f->d, &nat);
	assert_int_equal(nat.mapping,
			 dependent ? DIRECT_MAPPING_DEPENDENT : DIRECT_MAPPING_INDEPENDENT);
	assert_int_equal(nat.filtering, DIRECT_FILTERING_PORT);
}

/*
 * A server with a second address (198.18.0.11): its first answer names it, and the questions
 * by address follow at once -- the answer from the other address (filtering), and, once that
 * one is settled, a request to it (mapping). Answers from the wrong address are not taken.
 */
static void
test_reflection_two_addresses(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage server, other_port, alt;
	struct direct_nat nat;
	const char *alt_s = "198.18.0.11:4801";
	size_t bad;

	assert_int_equal(sockaddr_parse("198.18.0.10:4801", &server), 0);
	assert_int_equal(sockaddr_parse("198.18.0.10:4802", &other_port), 0);
	assert_int_equal(sockaddr_parse(alt_s, &alt), 0);
	direct_home_up(f->d, &server);
	assert_int_equal(f->ndgrams, 2); /* the address is not known yet */
	answer_alt(f, 0, "198.18.0.10:4801", "198.18.0.201:4800", alt_s);
	assert_int_equal(f->ndgrams, 3);
	assert_true(sockaddr_equal(&f->dgram_to[2], &server));
	assert_int_equal(flags_of(f, 2), REFLECT_OTHER_ADDRESS);
	direct_nat(f->d, &nat);
	assert_int_equal(nat.server_alt.ss_family, AF_INET);
	assert_int_equal(nat.filtering, DIRECT_FILTERING_UNKNOWN); /* the address is pending */
	/* "From the other address" must come from there; and nothing else does. */
	bad = direct_stats(f->d)->reflect_bad;
	answer_alt(f, 2, "198.18.0.10:4801", "198.18.0.201:4800", alt_s);
	answer_alt(f, 1, alt_s, "198.18.0.201:4800", alt_s);
	assert_int_equal(direct_stats(f->d)->reflect_bad, bad + 2);
	/* The answer from the other port gets in: the other port is asked at once. */
	answer_alt(f, 1, "198.18.0.10:4802", "198.18.0.201:4800", alt_s);
	assert_int_equal(f->ndgrams, 4);
	assert_true(sockaddr_equal(&f->dgram_to[3], &other_port));
	/* Not the one from the other address, ever: address-dependent, after the third try; then
	 * the other address is asked. */
	for (int i = 0; i < 200 && nat.filtering == DIRECT_FILTERING_UNKNOWN; i++) {
		advance(f, 50);
		direct_nat(f->d, &nat);
	}
	assert_int_equal(nat.filtering, DIRECT_FILTERING_ADDRESS);
	answer_alt(f, 3, "198.18.0.10:4802", "198.18.0.201:4800", alt_s);
	direct_nat(f->d, &nat);
	assert_int_equal(nat.mapping, DIRECT_MAPPING_UNKNOWN); /* the address's mapping pending */
	size_t k = 0;

	for (int i = 0; i < 200 && !k; i++) {
		advance(f, 50);
		for (size_t j = 0; j < f->ndgrams; j++)
			if (sockaddr_equal(&f->dgram_to[j], &alt))
				k = j;
	}
	assert_true(k > 0);
	assert_int_equal(flags_of(f, k), 0);
	/* It sees another mapping: endpoint-dependent (by address; the ports alone said
	 * independent). */
	answer_alt(f, k, alt_s, "198.18.0.201:5555", alt_s);
	direct_nat(f->d, &nat);
	assert_int_equal(nat.mapping, DIRECT_MAPPING_DEPENDENT);
	assert_int_equal(nat.filtering, DIRECT_FILTERING_ADDRESS);
	assert_int_equal(((struct sockaddr_in *)&nat.reflexive_alt)->sin_port, htons(5555));
}

/* An offer from bob: his router's address, port kept, and what his NAT does (0: not said). */
static void
bob_offers(struct fx *f, int mapping, int filtering, bool mapped)
{
	struct ctlmsg m = { .type = CTL_OFFER };

	strcpy(m.u.offer.from, BOB);
	strcpy(m.u.offer.to, ALICE);
	m.u.offer.cand[m.u.offer.count++] = (struct ctl_candidate){ .kind = CTL_CAND_SRFLX,
								    .proto = 17,
								    .family = 4,
								    .addr = { 198, 18, 0, 202 },
								    .port = 4800 };
	if (mapped)
		m.u.offer.cand[m.u.offer.count++] =
		    (struct ctl_candidate){ .kind = CTL_CAND_MAPPED,
					    .proto = 17,
					    .family = 4,
					    .addr = { 198, 18, 0, 203 },
					    .port = 4800 };
	if (mapping || filtering)
		m.u.offer.cand[m.u.offer.count++] =
		    (struct ctl_candidate){ .kind = CTL_CAND_NAT,
					    .proto = 17,
					    .family = 4,
					    .addr = { 198, 18, 0, 202 },
					    .port = 4800,
					    .priority = (uint32_t)mapping | (uint32_t)filtering
										<< 8 };
	direct_on_offer(f->d, &m);
}

static void
test_birthday_offer_says_our_nat(void **state)
{
	struct fx *f = *state;
	const struct ctl_candidate *nat = NULL;

	classify(f, true);
	direct_offer(f->d, BOB);
	for (size_t i = 0; i < f->offer.u.offer.count; i++)
		if (f->offer.u.offer.cand[i].kind == CTL_CAND_NAT)
			nat = &f->offer.u.offer.cand[i];
	assert_non_null(nat);
	assert_int_equal(nat->priority, DIRECT_MAPPING_DEPENDENT | DIRECT_FILTERING_PORT << 8);
	assert_int_equal(nat->port, 2222); /* the other port's mapping */
	assert_int_equal(nat->addr[3], 201);
}

static void
test_birthday_sockets_then_released(void **state)
{
	struct fx *f = *state;

	classify(f, true);
	bob_offers(f, DIRECT_MAPPING_INDEPENDENT, DIRECT_FILTERING_PORT, false);
	advance(f, 250);
	/* at the rate, in batches: not all at once */
	assert_true(f->aux_opened > 0 && f->aux_opened <= DIRECT_BD_TEST_BATCH);
	advance(f, 1000);
	assert_int_equal(f->aux_opened, BIRTHDAY_SOCKETS);
	assert_int_equal(f->nspray, 0); /* bob's NAT keeps ports: nothing to spray at */
	/* nothing hit: all closed after the hold time, none opened again */
	advance(f, BIRTHDAY_HOLD_MS);
	assert_int_equal(f->aux_closed, BIRTHDAY_SOCKETS);
	advance(f, 5000);
	assert_int_equal(f->aux_opened, BIRTHDAY_SOCKETS);
	/* a new offer soon after (a rekey) does not start it again ... */
	bob_offers(f, DIRECT_MAPPING_INDEPENDENT, DIRECT_FILTERING_PORT, false);
	advance(f, 2000);
	assert_int_equal(f->aux_opened, BIRTHDAY_SOCKETS);
	/* ... one after the retry time does */
	advance(f, BIRTHDAY_RETRY_MS);
	bob_offers(f, DIRECT_MAPPING_INDEPENDENT, DIRECT_FILTERING_PORT, false);
	advance(f, 2000);
	assert_int_equal(f->aux_opened, 2 * BIRTHDAY_SOCKETS);
}

static void
test_birthday_keeps_the_hit(void **state)
{
	struct fx *f = *state;

	classify(f, true);
	bob_offers(f, DIRECT_MAPPING_INDEPENDENT, DIRECT_FILTERING_PORT, false);
	advance(f, 1500);
	assert_int_equal(f->aux_opened, BIRTHDAY_SOCKETS);
	f->pinned = 77; /* bob's probe landed on socket 77 */
	f->works = true;
	advance(f, 250);
	assert_int_equal(f->aux_closed, BIRTHDAY_SOCKETS - 1);
	assert_true(f->aux_open[77]);
	assert_int_equal(direct_stats(f->d)->bd_hits, 1);
	/* a new offer (a rekey, say) leaves the socket that carries the path alone */
	bob_offers(f, DIRECT_MAPPING_INDEPENDENT, DIRECT_FILTERING_PORT, false);
	advance(f, 20000);
	assert_true(f->aux_open[77]);
	assert_int_equal(f->aux_opened, BIRTHDAY_SOCKETS);
	direct_forget(f->d, BOB); /* the peer gone: closed too */
	assert_int_equal(f->aux_closed, BIRTHDAY_SOCKETS);
}

static void
test_birthday_spray(void **state)
{
	struct fx *f = *state;
	size_t before;

	classify(f, false);
	bob_offers(f, DIRECT_MAPPING_DEPENDENT, DIRECT_FILTERING_PORT, false);
	assert_int_equal(f->nspray, 0);
	advance(f, BIRTHDAY_SPRAY_DELAY_MS - 50); /* not before the delay */
	assert_int_equal(f->nspray, 0);
	advance(f, 300);
	assert_true(f->nspray > 0 && f->nspray <= DIRECT_BD_TEST_BATCH);
	assert_int_equal(f->aux_opened, 0); /* our NAT keeps ports: no sockets */
	before = f->nspray;
	advance(f, 1000); /* at most the rate */
	assert_true(f->nspray - before <= BIRTHDAY_RATE_PER_SEC + DIRECT_BD_TEST_BATCH);
	advance(f, 10000);
	assert_int_equal(f->nspray, BIRTHDAY_PROBES); /* all of them, each port once, no more */
	advance(f, 10000);
	assert_int_equal(f->nspray, BIRTHDAY_PROBES);
	assert_int_equal(direct_stats(f->d)->bd_probes, BIRTHDAY_PROBES);
}

static void
test_birthday_spray_stops_when_direct(void **state)
{
	struct fx *f = *state;
	size_t at;

	classify(f, false);
	bob_offers(f, DIRECT_MAPPING_DEPENDENT, DIRECT_FILTERING_PORT, false);
	advance(f, 1000);
	f->works = true;
	advance(f, 250);
	at = f->nspray;
	advance(f, 10000);
	assert_int_equal(f->nspray, at);
	assert_true(at < BIRTHDAY_PROBES);
}

static void
test_birthday_not_needed(void **state)
{
	struct fx *f = *state;

	classify(f, true);
	/* bob's router forwards a port: our probes get in there */
	bob_offers(f, DIRECT_MAPPING_INDEPENDENT, DIRECT_FILTERING_PORT, true);
	advance(f, 2000);
	/* bob lets in what comes from any port of ours: plain probing works */
	bob_offers(f, DIRECT_MAPPING_INDEPENDENT, DIRECT_FILTERING_OPEN, false);
	advance(f, 2000);
	/* bob said nothing of his NAT */
	bob_offers(f, 0, 0, false);
	advance(f, 2000);
	assert_int_equal(f->aux_opened, 0);
	assert_int_equal(f->nspray, 0);
}

/*
 * The hairpin test as direct.c runs it: started when reflection tells our address, its probe
 * sent there from the data socket, the probe come back taken through direct_on_datagram (yes),
 * a forged one counted; a new address, a new test, `no` when nothing comes back.
 */
static void
test_hairpin_after_reflection(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage server, want, from;
	uint8_t forged[HAIRPIN_LEN];

	assert_int_equal(sockaddr_parse("198.18.0.10:4801", &server), 0);
	assert_int_equal(direct_hairpin(f->d)->result, HAIRPIN_UNTESTED);
	direct_home_up(f->d, &server);
	assert_int_equal(f->nhairpin, 0); /* nothing before our address is known */
	answer(f, 0, "198.18.0.10:4801", "198.18.0.201:4800", true);
	assert_int_equal(f->nhairpin, 1);
	assert_int_equal(sockaddr_parse("198.18.0.201:4800", &want), 0);
	assert_true(sockaddr_equal(&f->hairpin_to[0], &want));
	assert_int_equal(direct_hairpin(f->d)->result, HAIRPIN_TESTING);
	/* Forged (another nonce): counted, not taken. From anywhere: the NAT may not rewrite the
	 * source, or rewrite it to its public address. */
	assert_int_equal(sockaddr_parse("198.18.0.201:4800", &from), 0);
	hairpin_probe_encode(forged, 0x5555);
	direct_on_datagram(f->d, forged, sizeof(forged), &from);
	assert_int_equal(direct_hairpin(f->d)->bad, 1);
	assert_int_equal(direct_stats(f->d)->reflect_bad, 0); /* not reflection's */
	advance(f, 100);
	direct_on_datagram(f->d, f->hairpin[0], HAIRPIN_LEN, &from);
	assert_int_equal(direct_hairpin(f->d)->result, HAIRPIN_YES);
	assert_int_equal(direct_hairpin(f->d)->rtt_ms, 100);
	/* The same address again at the next round: no new test. */
	advance(f, DIRECT_REFLECT_EVERY_MS + DIRECT_REFLECT_RETRY_MS * DIRECT_REFLECT_TRIES);
	assert_int_equal(f->nhairpin, 1);
	/* A new mapping: a new test; this NAT forgot how to hairpin. */
	for (size_t k = f->ndgrams; k-- > 0;) /* the new round's request to the server's port */
		if (flags_of(f, k) == 0 && sockaddr_equal(&f->dgram_to[k], &server)) {
			answer(f, k, "198.18.0.10:4801", "198.18.0.201:5000", true);
			break;
		}
	assert_int_equal(f->nhairpin, 1 + 1);
	assert_int_equal(sockaddr_parse("198.18.0.201:5000", &want), 0);
	assert_true(sockaddr_equal(&f->hairpin_to[1], &want));
	advance(f, HAIRPIN_WAIT_MS + 250);
	assert_int_equal(f->nhairpin, 1 + HAIRPIN_TRIES);
	assert_int_equal(direct_hairpin(f->d)->result, HAIRPIN_NO);
	assert_int_equal(direct_hairpin(f->d)->sent, 1 + HAIRPIN_TRIES);
}

static int
fx_hairpin_open(void *arg, const struct sockaddr_storage *to, const uint8_t *buf, size_t len)
{
	struct fx *f = arg;

	assert_true(hairpin_is_probe(buf, len));
	assert_true(f->nhairpin < 8 && f->aux_opened < 512);
	memcpy(f->hairpin[f->nhairpin], buf, len);
	f->hairpin_to[f->nhairpin++] = *to;
	f->aux_open[f->aux_opened] = true;
	return (int)f->aux_opened++;
}

/* With extra sockets: each probe from a new one, closed at once; none from the data socket. */
static void
test_hairpin_from_extra_sockets(void **state)
{
	struct fx *f = *state;
	struct direct_ops ops = fx_ops;
	struct direct_params p = {
		.self = ALICE, .port = 4800, .family = AF_INET6, .overlay = "vtx0"
	};
	struct sockaddr_storage server;
	size_t reflect_before;

	ops.hairpin_open = fx_hairpin_open;
	direct_free(f->d);
	assert_int_equal(direct_new(&f->d, f->loop, &p, &ops, f), 0);
	assert_int_equal(sockaddr_parse("198.18.0.10:4801", &server), 0);
	direct_home_up(f->d, &server);
	answer(f, 0, "198.18.0.10:4801", "198.18.0.201:4800", true);
	assert_int_equal(f->nhairpin, 1);
	assert_int_equal(f->aux_opened, 1);
	assert_int_equal(f->aux_closed, 1);
	reflect_before = f->ndgrams;
	advance(f, HAIRPIN_WAIT_MS + 250);
	assert_int_equal(f->nhairpin, HAIRPIN_TRIES);
	assert_int_equal(f->aux_opened, HAIRPIN_TRIES);
	assert_int_equal(f->aux_closed, HAIRPIN_TRIES);
	for (size_t k = reflect_before; k < f->ndgrams; k++)
		assert_false(hairpin_is_probe(f->dgram[k], REFLECT_LEN));
	assert_int_equal(direct_hairpin(f->d)->result, HAIRPIN_NO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reflection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reflection_two_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probing_rounds, setup, teardown),
		cmocka_unit_test(test_tcp_plan),
		cmocka_unit_test_setup_teardown(test_tcp_mapped_dialed_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_reachable_side_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_redialed_after_a_link, setup, teardown),
		cmocka_unit_test(test_simopen_plan),
		cmocka_unit_test_setup_teardown(test_simopen_candidate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simopen_dialed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simopen_needs_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_birthday_offer_says_our_nat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_birthday_sockets_then_released, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_birthday_keeps_the_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_birthday_spray, setup, teardown),
		cmocka_unit_test_setup_teardown(test_birthday_spray_stops_when_direct, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_birthday_not_needed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hairpin_after_reflection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hairpin_from_extra_sockets, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
