// SPDX-License-Identifier: MIT
/*
 * The peers (daemon/peer/): each peer's session state machine and its timers with time injected
 * (the loop runs on the test's clock, ev_loop_set_clock, and is stepped with ev_run_once, so
 * minutes of protocol time pass in microseconds), real keypairs in a real receiver-index table,
 * and fake peer_ops that record what the peer asked for (dial, keepalive, close links). Then the
 * table against a naive reference on seeded random adds and deletes.
 *
 * Our identity is bob@b.example.com: alice sorts before it (she dials first, we wait), carol,
 * dave and erin after it (we dial at once).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "crypto/aead.h"
#include "crypto/crl.h"
#include "peer/peer.h"
#include "session/session.h"

#define SELF  "bob@b.example.com"
#define ALICE "alice@a.example.com" /* sorts before SELF */
#define CAROL "carol@c.example.com" /* sorts after SELF */
#define DAVE  "dave@d.example.com"
#define ERIN  "erin@c.example.com"

enum {
	KEEPALIVE_SEC = 10,
	REKEY_SEC = 120,
	REKEY_PACKETS = 50,
	DEAD_MS = (3 * KEEPALIVE_SEC + 2) * 1000,
	REJECT_MS = REKEY_SEC * 1000 * PEER_REJECT_AFTER_FACTOR,
	MAX_CALLS = 256,
	T0 = 1000000, /* the fake clock's start: not 0, which peer.c reads as "never" */
};

struct call {
	struct peer *p;
	uint64_t at;
	struct sockaddr_storage to;
};

struct fx {
	struct ev_loop *loop;
	struct session_index *index;
	struct peer_table *t;
	struct pkt_pool *pool;
	uint64_t now;
	int dial_err;     /* what the fake dial returns */
	bool peer_echoes; /* each keepalive we send is answered (the peer is alive) */
	struct call dials[MAX_CALLS], keepalives[MAX_CALLS], closes[MAX_CALLS];
	size_t ndials, nkeepalives, ncloses;
	struct call downs[MAX_CALLS];
	size_t ndowns;
};

/* Opaque link handles: the peer module only stores and compares them. */
static char links[4];
#define LINK(i) ((struct link *)&links[i])

static uint64_t
fx_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static void
fx_record(struct call *calls, size_t *n, struct fx *f, struct peer *p)
{
	assert_true(*n < MAX_CALLS);
	calls[*n] = (struct call){ .p = p, .at = f->now };
	(*n)++;
}

static int
fx_dial(void *arg, struct peer *p, const struct sockaddr_storage *to)
{
	struct fx *f = arg;

	assert_true(p->dialing);
	fx_record(f->dials, &f->ndials, f, p);
	f->dials[f->ndials - 1].to = *to;
	return f->dial_err;
}

/* Like the data plane: a keepalive goes out only with keys, and counts as sent. */
static void
fx_send_keepalive(void *arg, struct peer *p)
{
	struct fx *f = arg;

	assert_non_null(p->current);
	fx_record(f->keepalives, &f->nkeepalives, f, p);
	p->last_tx_ms = ev_now_ms(f->loop);
	if (f->peer_echoes)
		peer_on_rx(p, NULL, false);
}

/* Like link_close_peer: a dial in flight fails (link_detach), the session's link goes. */
static void
fx_close_links(void *arg, struct peer *p)
{
	struct fx *f = arg;

	fx_record(f->closes, &f->ncloses, f, p);
	if (p->dialing)
		peer_on_dial_failed(p);
	if (p->paths.stream)
		peer_on_link_gone(p, p->paths.stream, false);
}

static void
fx_session_down(void *arg, struct peer *p)
{
	struct fx *f = arg;

	assert_int_not_equal(p->state, PEER_UP);
	fx_record(f->downs, &f->ndowns, f, p);
}

static const struct peer_ops fx_ops = {
	.dial = fx_dial,
	.send_keepalive = fx_send_keepalive,
	.close_links = fx_close_links,
	.on_session_down = fx_session_down,
};

static int
setup(void **state)
{
	struct peer_params params = {
		.self = SELF,
		.keepalive_sec = KEEPALIVE_SEC,
		.rekey_after_sec = REKEY_SEC,
		.rekey_after_packets = REKEY_PACKETS,
		.notary_rate = 1,
		.notary_burst = 5,
	};
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = T0;
	assert_int_equal(ev_loop_new(&f->loop), 0);
	ev_loop_set_clock(f->loop, fx_clock, f);
	assert_int_equal(session_index_new(&f->index), 0);
	assert_int_equal(pkt_pool_new(&f->pool, 4), 0);
	assert_int_equal(peer_table_new(&f->t, f->loop, f->index, &params, &fx_ops, f), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	peer_table_free(f->t);
	session_index_free(f->index);
	pkt_pool_free(f->pool);
	ev_loop_free(f->loop);
	free(f);
	return 0;
}

/* A few turns at the current time: a timer armed for 0 ms by another fires on the next turn. */
static void
fx_turns(struct fx *f)
{
	for (int i = 0; i < 3; i++)
		assert_int_equal(ev_run_once(f->loop, 0), 0);
}

static void
fx_earliest(struct peer *p, void *arg)
{
	uint64_t *next = arg;
	const struct ev_timer *timers[] = { &p->connect_timer, &p->rekey_timer,
					    &p->keepalive_timer };

	for (size_t i = 0; i < 3; i++)
		if (ev_timer_is_armed(timers[i]) && timers[i]->when_ms < *next)
			*next = timers[i]->when_ms;
}

/* Moves the clock to `until`, stopping at every peer timer on the way so each fires on time. */
static void
fx_advance_to(struct fx *f, uint64_t until)
{
	for (int guard = 0;; guard++) {
		uint64_t next = UINT64_MAX;

		peer_foreach(f->t, fx_earliest, &next);
		if (next > until)
			break;
		assert_true(guard < 100000); /* a timer that never stops firing */
		if (next > f->now)
			f->now = next;
		fx_turns(f);
	}
	f->now = until;
	fx_turns(f);
}

static void
fx_advance(struct fx *f, uint64_t ms)
{
	fx_advance_to(f, f->now + ms);
}

/* Moves the clock to `until` in steps of every_ms, the peer sending (tx) or answering (rx). */
static void
fx_traffic_to(struct fx *f, struct peer *p, uint64_t until, uint64_t every_ms, bool tx, bool rx)
{
	while (f->now < until) {
		fx_advance_to(f, f->now + every_ms < until ? f->now + every_ms : until);
		if (tx && p->current)
			peer_on_tx(p, p->current);
		if (rx)
			peer_on_rx(p, NULL, false);
	}
}

static struct sockaddr_storage
fx_endpoint(uint8_t host)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	sin->sin_family = AF_INET;
	sin->sin_port = htons(4500);
	sin->sin_addr.s_addr = htonl(0xc6120000u | host); /* 198.18.0.host */
	return ss;
}

static struct peer *
fx_add(struct fx *f, const char *identity, uint32_t index)
{
	struct sockaddr_storage ep[2] = { fx_endpoint((uint8_t)index), fx_endpoint(200) };
	struct xlate_map map = { .peer_view4 = { 100, 64, 0, (uint8_t)index } };
	struct peer *p = NULL;

	assert_int_equal(peer_add(f->t, identity, index, &map, ep, 2, &p), 0);
	assert_non_null(p);
	return p;
}

/* A keypair as a link makes one: exporter bytes, a fresh receiver index, owned by p. */
static struct keypair *
fx_keypair(struct fx *f, struct peer *p, bool initiator)
{
	uint8_t exported[SESSION_EXPORT_LEN];
	struct keypair *kp = calloc(1, sizeof(*kp));

	assert_non_null(kp);
	assert_int_equal(crypto_random(exported, sizeof(exported)), 0);
	session_keypair_init(kp, exported, initiator, ev_now_ms(f->loop));
	crypto_wipe(exported, sizeof(exported));
	kp->owner = p;
	assert_int_equal(session_index_add(f->index, kp), 0);
	kp->remote_index = 0x5eed0000u | p->index;
	return kp;
}

/* A session on link l (the certificate's fingerprint is fpr_byte repeated); *kp_out its keys. */
static struct link *
fx_session_fpr(struct fx *f, struct peer *p, struct link *l, bool we_dialed, uint8_t fpr_byte,
	       struct keypair **kp_out)
{
	static const uint8_t addr4[4] = { 100, 64, 0, 1 };
	static const uint8_t addr6[16] = { 0xfd, 0x12, [15] = 1 };
	struct sockaddr_storage remote = fx_endpoint((uint8_t)p->index);
	struct keypair *kp = fx_keypair(f, p, we_dialed);
	uint8_t fpr[32];

	memset(fpr, fpr_byte, sizeof(fpr));
	if (kp_out)
		*kp_out = kp;
	return peer_on_session(p, l, kp, we_dialed, &remote, fpr, addr4, addr6);
}

static struct link *
fx_session(struct fx *f, struct peer *p, struct link *l, bool we_dialed, struct keypair **kp_out)
{
	return fx_session_fpr(f, p, l, we_dialed, 0xaa, kp_out);
}

/* Seals one empty frame with kp, as the data plane does, and reports it sent. */
static void
fx_send_frame(struct fx *f, struct peer *p, struct keypair *kp)
{
	struct pkt *pk = pkt_get(f->pool);

	assert_non_null(pk);
	pk->len = 0;
	assert_true(session_seal(kp, pk));
	pkt_put(f->pool, pk);
	peer_on_tx(p, kp);
}

/* The last octet of the address dial k went to. */
static unsigned
fx_dial_host(const struct fx *f, size_t k)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&f->dials[k].to;

	return ntohl(sin->sin_addr.s_addr) & 0xff;
}

static bool
fx_indexed(const struct fx *f, uint32_t local_index, const struct keypair *kp)
{
	return session_index_find(f->index, local_index) == kp;
}

/* --- up ---------------------------------------------------------------------------------- */

static void
test_peer_need_session_dials_at_once_when_we_sort_first(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	struct sockaddr_storage ep = fx_endpoint(2);

	assert_int_equal(p->state, PEER_DOWN);
	peer_need_session(p);
	assert_int_equal(p->state, PEER_CONNECTING);
	fx_turns(f);
	assert_int_equal(f->ndials, 1);
	assert_ptr_equal(f->dials[0].p, p);
	assert_true(f->dials[0].at == T0);
	assert_memory_equal(&f->dials[0].to, &ep, sizeof(ep));
	assert_true(p->dialing);
	/* Asked again while dialing: no second dial. */
	peer_need_session(p);
	fx_advance(f, 60000);
	assert_int_equal(f->ndials, 1);
}

static void
test_peer_need_session_defers_when_we_sort_second(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, ALICE, 2);

	peer_need_session(p);
	assert_int_equal(p->state, PEER_CONNECTING);
	fx_advance(f, PEER_DEFER_MS - 1);
	assert_int_equal(f->ndials, 0);
	fx_advance(f, 1);
	assert_int_equal(f->ndials, 1);
	assert_true(f->dials[0].at == T0 + PEER_DEFER_MS);
}

/* She dialed us within the deferral: we never dial. */
static void
test_peer_need_session_deferred_dial_cancelled_by_session(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, ALICE, 2);

	peer_need_session(p);
	fx_advance(f, PEER_DEFER_MS / 2);
	assert_null(fx_session(f, p, LINK(0), false, NULL));
	assert_int_equal(p->state, PEER_UP);
	assert_false(ev_timer_is_armed(&p->connect_timer));
	f->peer_echoes = true;
	fx_advance(f, 10 * PEER_DEFER_MS);
	assert_int_equal(f->ndials, 0);
}

static void
test_peer_on_session_installs_keys_and_arms_timers(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	struct keypair *kp1, *kp2;
	uint8_t fpr[32];
	uint32_t idx1;

	peer_need_session(p);
	fx_advance(f, 300);
	assert_int_equal(f->ndials, 1);

	assert_null(fx_session(f, p, LINK(0), true, &kp1));
	assert_int_equal(p->state, PEER_UP);
	assert_ptr_equal(p->current, kp1);
	assert_null(p->previous);
	assert_true(fx_indexed(f, kp1->local_index, kp1));
	assert_false(p->dialing);
	assert_true(p->handshakes == 1);
	assert_true(p->last_rx_ms == T0 + 300); /* the handshake counts as heard from */
	assert_ptr_equal(p->paths.stream, LINK(0));
	assert_int_equal(p->map.peer_self4[0], 100);
	assert_int_equal(p->map.peer_self6[0], 0xfd);
	memset(fpr, 0xaa, sizeof(fpr));
	assert_memory_equal(p->cert_fpr, fpr, sizeof(fpr));
	/* A keepalive at once tells the peer where our frames come from. */
	assert_int_equal(f->nkeepalives, 1);
	assert_true(f->keepalives[0].at == T0 + 300);
	/* We dialed, so we are the initiator: rekey after rekey-after-seconds. */
	assert_false(ev_timer_is_armed(&p->connect_timer));
	assert_true(ev_timer_is_armed(&p->rekey_timer));
	assert_true(p->rekey_timer.when_ms == T0 + 300 + REKEY_SEC * 1000);
	assert_true(ev_timer_is_armed(&p->keepalive_timer));
	assert_true(p->keepalive_timer.when_ms == T0 + 300 + KEEPALIVE_SEC * 1000);

	/* She dialed too: her session replaces ours, ours stays for receiving, its link returned.
	 */
	fx_advance(f, 1000);
	assert_ptr_equal(fx_session(f, p, LINK(1), false, &kp2), LINK(0));
	assert_ptr_equal(p->current, kp2);
	assert_ptr_equal(p->previous, kp1);
	assert_true(fx_indexed(f, kp1->local_index, kp1));
	assert_true(fx_indexed(f, kp2->local_index, kp2));
	assert_ptr_equal(p->paths.stream, LINK(1));
	assert_true(p->handshakes == 2);
	/* As responder it waits the grace period longer before rekeying itself. */
	assert_true(p->rekey_timer.when_ms ==
		    T0 + 1300 + (REKEY_SEC + PEER_REKEY_GRACE_SEC) * 1000ull);
	/* Keys again on the same link: nothing to close; the oldest keys go. */
	idx1 = kp1->local_index;
	assert_null(fx_session(f, p, LINK(1), false, NULL));
	assert_ptr_equal(p->previous, kp2);
	assert_null(session_index_find(f->index, idx1));
}

/* --- dial failure -------------------------------------------------------------------------- */

/* Each failed dial doubles the wait, from MIN to MAX, plus up to half of it as jitter. */
static void
test_peer_dial_failed_backs_off_exponentially(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	unsigned want = PEER_CONNECT_BACKOFF_MIN_MS;
	bool jittered = false;

	f->dial_err = -ECONNREFUSED;
	peer_need_session(p);
	fx_turns(f);
	assert_int_equal(f->ndials, 1);
	for (int round = 0; round < 14; round++) {
		uint64_t when = p->connect_timer.when_ms, delay = when - f->now;
		size_t dials = f->ndials;

		assert_false(p->dialing);
		assert_int_equal(p->backoff_ms, want);
		assert_true(ev_timer_is_armed(&p->connect_timer));
		assert_true(delay >= want && delay <= want + want / 2);
		jittered |= delay != want;
		fx_advance_to(f, when - 1);
		assert_int_equal(f->ndials, dials);
		fx_advance_to(f, when);
		assert_int_equal(f->ndials, dials + 1);
		/* Round robin over the static endpoints. */
		assert_int_equal(fx_dial_host(f, dials), dials % 2 ? 200 : 2);
		want =
		    want * 2 > PEER_CONNECT_BACKOFF_MAX_MS ? PEER_CONNECT_BACKOFF_MAX_MS : want * 2;
	}
	assert_int_equal(want, PEER_CONNECT_BACKOFF_MAX_MS);
	assert_true(jittered);
	assert_int_equal(p->state, PEER_CONNECTING);
}

/* A dial that fails later (the connection refused) backs off the same; a session resets it. */
static void
test_peer_on_dial_failed_async_and_reset_by_session(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);

	peer_need_session(p);
	fx_turns(f);
	assert_true(p->dialing);
	fx_advance(f, 100);
	peer_on_dial_failed(p);
	assert_false(p->dialing);
	assert_int_equal(p->backoff_ms, PEER_CONNECT_BACKOFF_MIN_MS);
	fx_advance_to(f, p->connect_timer.when_ms);
	assert_int_equal(f->ndials, 2);
	peer_on_dial_failed(p);
	assert_int_equal(p->backoff_ms, 2 * PEER_CONNECT_BACKOFF_MIN_MS);
	fx_advance_to(f, p->connect_timer.when_ms);
	assert_int_equal(f->ndials, 3);
	fx_session(f, p, LINK(0), true, NULL);
	assert_int_equal(p->backoff_ms, 0);
	peer_on_close(p);
	fx_advance_to(f, p->connect_timer.when_ms);
	assert_int_equal(f->ndials, 4);
	peer_on_dial_failed(p);
	assert_int_equal(p->backoff_ms, PEER_CONNECT_BACKOFF_MIN_MS);
}

/* --- rekey --------------------------------------------------------------------------------- */

static void
test_peer_rekey_initiator_after_seconds(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	struct keypair *kp1, *kp2;
	uint64_t up;

	f->peer_echoes = true;
	peer_need_session(p);
	fx_turns(f);
	fx_session(f, p, LINK(0), true, &kp1);
	up = f->now;
	fx_advance_to(f, up + REKEY_SEC * 1000 - 1);
	assert_int_equal(f->ndials, 1);
	fx_advance_to(f, up + REKEY_SEC * 1000);
	assert_int_equal(f->ndials, 2);
	assert_true(f->dials[1].at == up + REKEY_SEC * 1000);
	assert_int_equal(p->state, PEER_UP); /* the old keys keep working meanwhile */

	/* That dial fails: with keys, the rekey timer retries after the backoff (no jitter). */
	peer_on_dial_failed(p);
	assert_false(ev_timer_is_armed(&p->connect_timer));
	assert_true(p->rekey_timer.when_ms == f->now + PEER_CONNECT_BACKOFF_MIN_MS);
	fx_advance(f, PEER_CONNECT_BACKOFF_MIN_MS);
	assert_int_equal(f->ndials, 3);

	/* This one completes: new keys current, the old ones kept for receiving. */
	assert_ptr_equal(fx_session(f, p, LINK(1), true, &kp2), LINK(0));
	assert_ptr_equal(p->current, kp2);
	assert_ptr_equal(p->previous, kp1);
	assert_true(fx_indexed(f, kp1->local_index, kp1));
	assert_true(p->rekey_timer.when_ms == f->now + REKEY_SEC * 1000);
}

static void
test_peer_rekey_initiator_after_packets(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	struct keypair *kp;

	peer_need_session(p);
	fx_turns(f);
	fx_session(f, p, LINK(0), true, &kp);
	kp->send_counter = 0; /* the keepalive at session start: count only what follows */
	for (int i = 0; i < REKEY_PACKETS - 1; i++)
		fx_send_frame(f, p, kp);
	fx_turns(f);
	assert_int_equal(f->ndials, 1);
	assert_false(kp->rekey_requested);
	fx_send_frame(f, p, kp);
	assert_true(kp->rekey_requested);
	fx_turns(f);
	assert_int_equal(f->ndials, 2);
	assert_true(f->dials[1].at == T0);

	/* Once per keypair: after a failed dial, more frames do not dial again at once. */
	peer_on_dial_failed(p);
	for (int i = 0; i < 10; i++)
		fx_send_frame(f, p, kp);
	fx_turns(f);
	assert_int_equal(f->ndials, 2);
	assert_true(ev_timer_is_armed(&p->rekey_timer));
	fx_advance_to(f, p->rekey_timer.when_ms);
	assert_int_equal(f->ndials, 3);
}

/* The responder never rekeys on packets, and on time only a grace period after the initiator. */
static void
test_peer_rekey_responder_waits_grace(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, ALICE, 2);
	struct keypair *kp;
	uint64_t up = f->now;

	f->peer_echoes = true;
	fx_session(f, p, LINK(0), false, &kp);
	for (int i = 0; i < 3 * REKEY_PACKETS; i++)
		fx_send_frame(f, p, kp);
	assert_false(kp->rekey_requested);
	fx_advance_to(f, up + REKEY_SEC * 1000);
	assert_int_equal(f->ndials, 0);
	fx_advance_to(f, up + (REKEY_SEC + PEER_REKEY_GRACE_SEC) * 1000 - 1);
	assert_int_equal(f->ndials, 0);
	fx_advance_to(f, up + (REKEY_SEC + PEER_REKEY_GRACE_SEC) * 1000);
	assert_int_equal(f->ndials, 1);
}

/* The previous keys last until the next rekey replaces them. */
static void
test_peer_rekey_previous_replaced_by_next(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	struct keypair *kp1, *kp2, *kp3;
	uint32_t idx1;

	f->peer_echoes = true;
	fx_session(f, p, LINK(0), true, &kp1);
	idx1 = kp1->local_index;
	fx_advance_to(f, p->rekey_timer.when_ms);
	fx_session(f, p, LINK(1), true, &kp2);
	assert_ptr_equal(p->previous, kp1);
	fx_advance_to(f, p->rekey_timer.when_ms);
	fx_session(f, p, LINK(2), true, &kp3);
	assert_ptr_equal(p->current, kp3);
	assert_ptr_equal(p->previous, kp2);
	assert_null(session_index_find(f->index, idx1));
	assert_int_equal(f->ndials, 2);
}

/* No rekey succeeds: once the keys are PEER_REJECT_AFTER_FACTOR periods old, they go. */
static void
test_peer_keys_expire_after_reject_periods(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	struct keypair *kp1, *kp2;
	uint32_t idx1, idx2;
	uint64_t up2;
	size_t first;

	f->peer_echoes = true;
	f->dial_err = -ECONNREFUSED;
	fx_session(f, p, LINK(0), true, &kp1);
	idx1 = kp1->local_index;
	fx_advance_to(f, p->rekey_timer.when_ms);
	f->dial_err = 0;
	fx_session(f, p, LINK(1), true, &kp2);
	idx2 = kp2->local_index;
	up2 = f->now;
	f->dial_err = -ECONNREFUSED; /* every rekey from now on fails */
	fx_advance_to(f, up2 + REJECT_MS);
	assert_ptr_equal(p->current, kp2);
	assert_int_equal(p->state, PEER_UP);
	assert_true(f->ndials > 10); /* the rekey kept being retried */
	fx_advance_to(f, up2 + REJECT_MS + KEEPALIVE_SEC * 1000);
	assert_null(p->current);
	assert_null(p->previous);
	assert_null(session_index_find(f->index, idx1));
	assert_null(session_index_find(f->index, idx2));
	assert_int_equal(p->state, PEER_CONNECTING);
	assert_false(ev_timer_is_armed(&p->keepalive_timer));
	/* No session timer is left: only the connect timer retries, at the backoff's pace. */
	assert_false(ev_timer_is_armed(&p->rekey_timer));
	assert_true(ev_timer_is_armed(&p->connect_timer));
	first = f->ndials;
	fx_advance(f, 4 * PEER_CONNECT_BACKOFF_MAX_MS);
	assert_true(f->ndials >= first + 2);
	for (size_t i = first; i < f->ndials; i++)
		assert_true(f->dials[i].at - f->dials[i - 1].at >= PEER_CONNECT_BACKOFF_MAX_MS);
}

/*
 * The rekey came late (every dial failed until 2.5 periods): the previous keys are then past
 * PEER_REJECT_AFTER_FACTOR periods well before the current ones, and go on their own.
 */
static void
test_peer_previous_keys_expire_on_their_own(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	struct keypair *kp1, *kp2;
	uint32_t idx1;

	f->peer_echoes = true;
	f->dial_err = -ECONNREFUSED;
	fx_session(f, p, LINK(0), true, &kp1);
	idx1 = kp1->local_index;
	fx_advance_to(f, T0 + REJECT_MS * 5 / 6);
	assert_ptr_equal(p->current, kp1);
	f->dial_err = 0;
	fx_session(f, p, LINK(1), true, &kp2);
	assert_ptr_equal(p->previous, kp1);
	fx_advance_to(f, T0 + REJECT_MS);
	assert_ptr_equal(p->previous, kp1);
	fx_advance_to(f, T0 + REJECT_MS + KEEPALIVE_SEC * 1000);
	assert_null(p->previous);
	assert_null(session_index_find(f->index, idx1));
	assert_ptr_equal(p->current, kp2);
	assert_true(fx_indexed(f, kp2->local_index, kp2));
	assert_int_equal(p->state, PEER_UP);
}

/* --- keepalive ----------------------------------------------------------------------------- */

static void
test_peer_keepalive_sent_when_idle_not_when_sending(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	uint64_t up = f->now;

	fx_session(f, p, LINK(0), true, NULL);
	assert_int_equal(f->nkeepalives, 1);
	/* Traffic both ways for a minute: no keepalive needed. */
	fx_traffic_to(f, p, up + 60000, 1000, true, true);
	assert_int_equal(f->nkeepalives, 1);
	/* Only receiving for a minute: one keepalive per period. */
	fx_traffic_to(f, p, up + 120000 - 1, 1000, false, true);
	assert_int_equal(f->nkeepalives, 1 + 5);
	for (size_t i = 1; i < f->nkeepalives; i++)
		assert_true(f->keepalives[i].at == up + (60 + 10 * i) * 1000);
	/* Down: no keys, no keepalives. */
	peer_on_close(p);
	f->dial_err = -ECONNREFUSED;
	fx_advance(f, 120000);
	assert_int_equal(f->nkeepalives, 6);
}

/*
 * peer_on_rx asks for an answer over UDP exactly when UDP news arrive: the first authentic frame
 * over it, one from a new endpoint (roaming), the first after UDP went silent; not for frames on
 * a UDP path that works, nor for frames over the link.
 */
static void
test_peer_on_rx_asks_an_answer_only_on_udp_news(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 3);
	struct sockaddr_storage here = fx_endpoint(7), there = fx_endpoint(8);

	assert_false(peer_on_rx(p, NULL, false));
	assert_true(peer_on_rx(p, &here, false));
	assert_false(peer_on_rx(p, &here, false));
	f->now += 1000;
	fx_turns(f);
	assert_false(peer_on_rx(p, &here, false));
	assert_false(peer_on_rx(p, NULL, false));
	assert_true(peer_on_rx(p, &there, false)); /* roamed */
	assert_memory_equal(&p->paths.endpoint, &there, sizeof(there));
	assert_false(peer_on_rx(p, &there, false));
	f->now += DEAD_MS + 1;
	fx_turns(f);
	assert_true(peer_on_rx(p, &there, false)); /* UDP had gone silent */
	assert_false(peer_on_rx(p, &there, false));
}

/*
 * A peer at two addresses (IPv4 and IPv6): while UDP works at one, a probe from the other is
 * answered but moves nothing, so the two sides do not chase each other from one address to the
 * other; data from the other moves the endpoint (roaming), and so does a probe once UDP at the
 * first has stopped working.
 */
static void
test_peer_on_rx_probe_from_a_second_address(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 3);
	struct sockaddr_storage v4 = fx_endpoint(7), v6 = fx_endpoint(8);

	assert_true(peer_on_rx(p, &v4, true));
	path_set_on_validated(&p->paths, f->now); /* its answer came */
	assert_false(peer_on_rx(p, &v6, true));
	assert_memory_equal(&p->paths.endpoint, &v4, sizeof(v4));
	assert_false(peer_on_rx(p, &v6, true)); /* and again: still nothing */
	assert_false(peer_on_rx(p, &v4, true));
	assert_true(peer_on_rx(p, &v6, false)); /* data: roamed */
	assert_memory_equal(&p->paths.endpoint, &v6, sizeof(v6));
	/* Not validated at v6 yet: a probe from v4 now moves it back (v4 may be the way). */
	assert_true(peer_on_rx(p, &v4, true));
	assert_memory_equal(&p->paths.endpoint, &v4, sizeof(v4));
}

/*
 * Each side chooses its own endpoint (path/path.h): data from another endpoint of the peer that
 * answers our probes does not move ours while ours works (it moved at once before, and a peer
 * sending over B while we chose A made us flap); once ours stops working, it does.
 */
static void
test_peer_on_rx_data_from_a_validated_alternate(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 3);
	struct sockaddr_storage a = fx_endpoint(7), b = fx_endpoint(8);

	assert_true(peer_on_rx(p, &a, false));
	path_set_on_validated(&p->paths, f->now);
	/* B answers one of our probes: a validated alternate. */
	assert_false(peer_on_rx(p, &b, true));
	path_set_on_answer(&p->paths, &b, 0, f->now, DEAD_MS, CAROL);
	assert_true(path_set_alt_alive(&p->paths, &b, f->now, DEAD_MS));
	for (int i = 0; i < 10; i++)
		assert_false(peer_on_rx(p, &b, false)); /* data over B */
	assert_memory_equal(&p->paths.endpoint, &a, sizeof(a));
	/* A lapses (nothing validated it for the dead-peer interval): data over B moves us. */
	f->now += DEAD_MS + 1;
	fx_turns(f);
	path_set_on_answer(&p->paths, &b, 0, f->now, DEAD_MS, CAROL);
	assert_true(peer_on_rx(p, &b, false));
	assert_memory_equal(&p->paths.endpoint, &b, sizeof(b));
	assert_true(path_set_udp_is_alive(&p->paths, f->now, DEAD_MS)); /* its proof came along */
}

/* --- loss ---------------------------------------------------------------------------------- */

static void
test_peer_silence_starts_new_handshake(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	struct keypair *kp;
	uint64_t up = f->now;

	assert_true(peer_dead_after_ms(p) == DEAD_MS);
	fx_session(f, p, LINK(0), true, &kp);
	/* Heard from until 50 s: alive. */
	fx_traffic_to(f, p, up + 50000, 5000, false, true);
	assert_int_equal(p->state, PEER_UP);
	assert_int_equal(f->ndials, 0);
	/* Then silence: found at the first keepalive tick past 32 s of it (90 s), not before. */
	fx_advance_to(f, up + 90000 - 1);
	assert_int_equal(p->state, PEER_UP);
	assert_int_equal(f->ndials, 0);
	fx_advance_to(f, up + 90000);
	assert_int_equal(p->state, PEER_CONNECTING);
	assert_int_equal(f->ndials, 1);
	assert_true(f->dials[0].at == up + 90000);
	/* The keys stay until a new session replaces them or they expire: frames may still come. */
	assert_ptr_equal(p->current, kp);
	assert_true(fx_indexed(f, kp->local_index, kp));
	/* That dial fails: retried with backoff; silence is not reported again every tick. */
	peer_on_dial_failed(p);
	fx_advance(f, 3 * KEEPALIVE_SEC * 1000);
	assert_true(f->ndials >= 2);
	assert_int_equal(p->state, PEER_CONNECTING);
	/* The peer is back: up again. */
	fx_session(f, p, LINK(1), true, NULL);
	assert_int_equal(p->state, PEER_UP);
}

/* --- close, revocation, distrust ---------------------------------------------------------- */

static void
test_peer_on_close_drops_keys_and_retries(void **state)
{
	struct fx *f = *state;
	struct peer *p = fx_add(f, CAROL, 2);
	struct keypair *kp1, *kp2;
	uint32_t idx1, idx2;

	f->peer_echoes = true;
	fx_session(f, p, LINK(0), true, &kp1);
	fx_advance(f, 1000);
	fx_session(f, p, LINK(1), false, &kp2);
	idx1 = kp1->local_index;
	idx2 = kp2->local_index;
	assert_int_equal(f->ndowns, 0); /* a rekey is no loss */
	peer_on_close(p);
	assert_int_equal(p->state, PEER_DOWN);
	assert_int_equal(f->ndowns, 1); /* leaving UP is reported, once */
	assert_ptr_equal(f->downs[0].p, p);
	peer_on_close(p);
	assert_int_equal(f->ndowns, 1);
	assert_null(p->current);
	assert_null(p->previous);
	assert_null(session_index_find(f->index, idx1));
	assert_null(session_index_find(f->index, idx2));
	assert_true(p->last_rx_ms == 0);
	assert_false(ev_timer_is_armed(&p->rekey_timer));
	assert_false(ev_timer_is_armed(&p->keepalive_timer));
	fx_advance(f, PEER_CONNECT_BACKOFF_MIN_MS + PEER_DEFER_MS - 1);
	assert_int_equal(f->ndials, 0);
	fx_advance(f, 1);
	assert_int_equal(f->ndials, 1);
	assert_int_equal(f->ncloses, 0);
}

static void
test_peer_on_revocation_closes_revoked_sessions(void **state)
{
	struct fx *f = *state;
	struct peer *carol = fx_add(f, CAROL, 2), *dave = fx_add(f, DAVE, 3);
	struct peer *erin = fx_add(f, ERIN, 4);
	uint8_t revoked[3][CERT_FPR_LEN];
	struct crl list = { .domain = "c.example.com", .number = 7, .count = 3 };

	f->peer_echoes = true;
	fx_session_fpr(f, carol, LINK(0), true, 0xc0, NULL);
	fx_session_fpr(f, dave, LINK(1), true, 0xd0, NULL);
	/* Erin's last session had a certificate now revoked, but she has none now. */
	fx_session_fpr(f, erin, LINK(2), true, 0xe0, NULL);
	peer_on_close(erin);
	memset(revoked[0], 0x01, CERT_FPR_LEN);
	memset(revoked[1], 0xc0, CERT_FPR_LEN);
	memset(revoked[2], 0xe0, CERT_FPR_LEN);
	list.revoked = revoked; /* sorted, as crl_decode_verify leaves it */
	f->ndials = 0;

	peer_on_revocation(f->t, &list);
	assert_int_equal(f->ncloses, 1);
	assert_ptr_equal(f->closes[0].p, carol);
	assert_int_equal(carol->state, PEER_DOWN);
	assert_null(carol->current);
	assert_null(carol->paths.stream);
	assert_false(ev_timer_is_armed(&carol->keepalive_timer));
	assert_int_equal(dave->state, PEER_UP);
	assert_non_null(dave->current);
	/* Carol is tried again slowly (half the longest backoff), in case she gets a new one. */
	assert_int_equal(carol->backoff_ms, PEER_CONNECT_BACKOFF_MAX_MS / 2);
	assert_true(carol->connect_timer.when_ms == f->now + PEER_CONNECT_BACKOFF_MAX_MS / 2);

	/* A list revoking nobody we talk to changes nothing. */
	list.count = 1;
	peer_on_revocation(f->t, &list);
	assert_int_equal(f->ncloses, 1);
	assert_int_equal(dave->state, PEER_UP);
}

/*
 * Revoked while a rekey dial runs, or distrusted while the first dial runs: closing that dial
 * must not bring the retry forward from the slow one to the first step of the backoff.
 */
static void
test_peer_close_untrusted_with_dial_in_flight_retries_slowly(void **state)
{
	struct fx *f = *state;
	struct peer *carol = fx_add(f, CAROL, 2), *erin = fx_add(f, ERIN, 4);
	uint8_t revoked[1][CERT_FPR_LEN];
	struct crl list = { .domain = "c.example.com", .number = 1, .count = 1 };
	size_t dials;

	f->peer_echoes = true;
	fx_session_fpr(f, carol, LINK(0), true, 0xc0, NULL);
	fx_advance_to(f, carol->rekey_timer.when_ms);
	assert_true(carol->dialing);
	memset(revoked[0], 0xc0, CERT_FPR_LEN);
	list.revoked = revoked;
	peer_on_revocation(f->t, &list);
	assert_false(carol->dialing);
	assert_int_equal(carol->backoff_ms, PEER_CONNECT_BACKOFF_MAX_MS / 2);
	assert_true(carol->connect_timer.when_ms == f->now + PEER_CONNECT_BACKOFF_MAX_MS / 2);

	peer_need_session(erin);
	fx_turns(f);
	assert_true(erin->dialing);
	dials = f->ndials;
	peer_on_distrust(f->t, "c.example.com", "pinned CA changed");
	assert_int_equal(erin->backoff_ms, PEER_CONNECT_BACKOFF_MAX_MS / 2);
	assert_true(erin->connect_timer.when_ms == f->now + PEER_CONNECT_BACKOFF_MAX_MS / 2);
	fx_advance(f, PEER_CONNECT_BACKOFF_MAX_MS / 2 - 1);
	assert_int_equal(f->ndials, dials);
	fx_advance(f, 1);
	assert_int_equal(f->ndials, dials + 2);
}

static void
test_peer_on_distrust_closes_domain_then_trust_retries(void **state)
{
	struct fx *f = *state;
	struct peer *carol = fx_add(f, CAROL, 2), *dave = fx_add(f, DAVE, 3);
	struct peer *erin = fx_add(f, ERIN, 4);
	size_t dials;

	f->peer_echoes = true;
	fx_session(f, carol, LINK(0), true, NULL);
	fx_session(f, dave, LINK(1), true, NULL);
	peer_on_distrust(f->t, "c.example.com", "pinned CA changed");
	assert_int_equal(f->ncloses, 2);
	assert_ptr_equal(f->closes[0].p, carol);
	assert_ptr_equal(f->closes[1].p, erin);
	assert_int_equal(carol->state, PEER_DOWN);
	assert_null(carol->current);
	assert_int_equal(erin->state, PEER_DOWN);
	assert_int_equal(dave->state, PEER_UP);
	assert_non_null(dave->current);
	fx_advance(f, 1000);
	dials = f->ndials;

	/* Trusted again: its peers without a session dial at once, not after the slow backoff. */
	peer_on_trust(f->t, "c.example.com");
	fx_turns(f);
	assert_int_equal(f->ndials, dials + 2);
	assert_true(f->dials[dials].p == carol || f->dials[dials + 1].p == carol);
	assert_true(f->dials[dials].p == erin || f->dials[dials + 1].p == erin);
	assert_int_equal(carol->backoff_ms, 0);
	assert_int_equal(carol->state, PEER_CONNECTING);
}

/* --- the table ----------------------------------------------------------------------------- */

static void
test_peer_add_refuses_taken_identity_or_index(void **state)
{
	struct fx *f = *state;
	struct peer *carol = fx_add(f, CAROL, 2), *p = NULL;
	struct sockaddr_storage none[1] = { { 0 } };
	struct xlate_map map = { 0 };

	assert_int_equal(peer_add(f->t, CAROL, 3, &map, none, 0, &p), -EEXIST);
	assert_int_equal(peer_add(f->t, DAVE, 2, &map, none, 0, &p), -EEXIST);
	assert_null(p);
	assert_int_equal(peer_count(f->t), 1);
	assert_ptr_equal(peer_find(f->t, CAROL), carol);
	assert_null(peer_find(f->t, DAVE));
	assert_ptr_equal(peer_by_index(f->t, 2), carol);
	assert_null(peer_by_index(f->t, 3));
	assert_null(peer_by_index(f->t, 1u << 30));
	assert_ptr_equal(peer_loop(carol), f->loop);
	assert_string_equal(peer_params(carol)->self, SELF);
	/* A peer without endpoints waits to be dialed. */
	assert_int_equal(peer_add(f->t, DAVE, 3, &map, none, 0, &p), 0);
	peer_need_session(p);
	fx_advance(f, 60000);
	assert_int_equal(f->ndials, 0);
}

/*
 * A name longer than an identity can be is refused: stored cut short, it would hash to another
 * bucket than the one it was filed in, and neither peer_find nor peer_del would find it.
 */
static void
test_peer_add_refuses_overlong_identity(void **state)
{
	struct fx *f = *state;
	struct sockaddr_storage none[1] = { { 0 } };
	struct xlate_map map = { 0 };
	char name[2 * IDENTITY_STR_MAX];
	struct peer *p = NULL;

	memset(name, 'u', sizeof(name));
	strcpy(name + sizeof(name) - 16, "@d.example.com");
	assert_int_equal(peer_add(f->t, name, 2, &map, none, 0, &p), -EINVAL);
	assert_null(p);
	assert_int_equal(peer_count(f->t), 0);
	assert_null(peer_by_index(f->t, 2));
	/* The longest that fits is fine, and found again. */
	name[IDENTITY_STR_MAX - 1] = '\0';
	assert_int_equal(peer_add(f->t, name, 2, &map, none, 0, &p), 0);
	assert_ptr_equal(peer_find(f->t, name), p);
	peer_del(p);
	assert_int_equal(peer_count(f->t), 0);
}

/* A deleted peer takes its keys and timers with it. */
static void
test_peer_del_releases_keys_and_timers(void **state)
{
	struct fx *f = *state;
	struct peer *carol = fx_add(f, CAROL, 2), *dave = fx_add(f, DAVE, 3);
	struct keypair *kp;
	uint32_t idx;

	fx_session(f, carol, LINK(0), true, &kp);
	idx = kp->local_index;
	peer_need_session(dave);
	f->dial_err = -ECONNREFUSED;
	fx_turns(f);
	peer_del(carol);
	assert_int_equal(f->ndowns, 1); /* carol was up: her session is lost */
	peer_del(dave);
	assert_int_equal(f->ndowns, 1); /* dave never was */
	assert_null(session_index_find(f->index, idx));
	assert_int_equal(peer_count(f->t), 0);
	assert_null(peer_find(f->t, CAROL));
	assert_null(peer_by_index(f->t, 2));
	f->ndials = f->nkeepalives = 0;
	for (int i = 0; i < 100; i++) {
		f->now += 10000;
		fx_turns(f);
	}
	assert_int_equal(f->ndials, 0);
	assert_int_equal(f->nkeepalives, 0);
}

enum { REF_IDS = 3000, REF_OPS = 12000, REF_MAX_INDEX = 6000 };

struct ref {
	uint32_t order[REF_IDS]; /* ids in the order added */
	size_t n;
	int index_of[REF_IDS]; /* -1: absent */
	int id_at[REF_MAX_INDEX];
};

static void
ref_name(char *buf, size_t len, uint32_t id)
{
	snprintf(buf, len, "user%u@d%u.example.com", id, id % 7);
}

struct walk {
	const struct ref *r;
	size_t i;
};

static void
check_order(struct peer *p, void *arg)
{
	struct walk *w = arg;
	char name[IDENTITY_STR_MAX];

	assert_true(w->i < w->r->n);
	ref_name(name, sizeof(name), w->r->order[w->i++]);
	assert_string_equal(p->identity, name);
}

static void
ref_check(const struct fx *f, const struct ref *r)
{
	struct walk w = { r, 0 };

	assert_int_equal(peer_count(f->t), r->n);
	peer_foreach(f->t, check_order, &w);
	assert_int_equal(w.i, r->n);
	for (uint32_t id = 0; id < REF_IDS; id += 37) {
		char name[IDENTITY_STR_MAX];
		struct peer *p;

		ref_name(name, sizeof(name), id);
		p = peer_find(f->t, name);
		if (r->index_of[id] < 0) {
			assert_null(p);
			continue;
		}
		assert_non_null(p);
		assert_int_equal(p->index, r->index_of[id]);
		assert_ptr_equal(peer_by_index(f->t, p->index), p);
	}
}

/* Thousands of seeded adds and deletes, far past the hash's bucket count, against a reference. */
static void
test_peer_table_matches_reference(void **state)
{
	struct fx *f = *state;
	static struct ref r;
	uint32_t seed = 0x9e3779b9u;
	size_t peak = 0;

	memset(r.index_of, -1, sizeof(r.index_of));
	memset(r.id_at, -1, sizeof(r.id_at));
	r.n = 0;
	for (int op = 0; op < REF_OPS; op++) {
		uint32_t id, index;
		char name[IDENTITY_STR_MAX];
		struct sockaddr_storage none[1] = { { 0 } };
		struct xlate_map map = { 0 };
		struct peer *p = NULL;
		int err;

		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		id = seed % REF_IDS;
		index = 2 + (seed >> 12) % (REF_MAX_INDEX - 2);
		ref_name(name, sizeof(name), id);
		/* Mostly adds for the first half (the table grows), mostly deletes after. */
		if ((seed >> 8) % 4 < (op < REF_OPS / 2 ? 3u : 1u)) {
			bool taken = r.index_of[id] >= 0 || r.id_at[index] >= 0;

			err = peer_add(f->t, name, index, &map, none, 0, &p);
			assert_int_equal(err, taken ? -EEXIST : 0);
			if (!taken) {
				r.index_of[id] = (int)index;
				r.id_at[index] = (int)id;
				r.order[r.n++] = id;
			}
		} else if (r.index_of[id] >= 0) {
			size_t i = 0;

			p = peer_find(f->t, name);
			assert_non_null(p);
			peer_del(p);
			while (r.order[i] != id)
				i++;
			memmove(&r.order[i], &r.order[i + 1], (r.n - i - 1) * sizeof(r.order[0]));
			r.n--;
			r.id_at[r.index_of[id]] = -1;
			r.index_of[id] = -1;
		} else {
			assert_null(peer_find(f->t, name));
		}
		if (r.n > peak)
			peak = r.n;
		if (op % 500 == 0)
			ref_check(f, &r);
	}
	ref_check(f, &r);
	for (uint32_t i = 0; i < REF_MAX_INDEX; i++)
		if (r.id_at[i] < 0)
			assert_null(peer_by_index(f->t, i));
	assert_true(peak > 1000); /* several per hash bucket, by_index grown many times */
}

/* Each test gets a fresh loop, index and table. */
#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_peer_need_session_dials_at_once_when_we_sort_first),
		T(test_peer_need_session_defers_when_we_sort_second),
		T(test_peer_need_session_deferred_dial_cancelled_by_session),
		T(test_peer_on_session_installs_keys_and_arms_timers),
		T(test_peer_dial_failed_backs_off_exponentially),
		T(test_peer_on_dial_failed_async_and_reset_by_session),
		T(test_peer_rekey_initiator_after_seconds),
		T(test_peer_rekey_initiator_after_packets),
		T(test_peer_rekey_responder_waits_grace),
		T(test_peer_rekey_previous_replaced_by_next),
		T(test_peer_keys_expire_after_reject_periods),
		T(test_peer_previous_keys_expire_on_their_own),
		T(test_peer_keepalive_sent_when_idle_not_when_sending),
		T(test_peer_on_rx_asks_an_answer_only_on_udp_news),
		T(test_peer_on_rx_probe_from_a_second_address),
		T(test_peer_on_rx_data_from_a_validated_alternate),
		T(test_peer_silence_starts_new_handshake),
		T(test_peer_on_close_drops_keys_and_retries),
		T(test_peer_on_revocation_closes_revoked_sessions),
		T(test_peer_close_untrusted_with_dial_in_flight_retries_slowly),
		T(test_peer_on_distrust_closes_domain_then_trust_retries),
		T(test_peer_add_refuses_taken_identity_or_index),
		T(test_peer_add_refuses_overlong_identity),
		T(test_peer_del_releases_keys_and_timers),
		T(test_peer_table_matches_reference),
	};

	log_set_quiet(true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
