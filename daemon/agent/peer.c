// SPDX-License-Identifier: MIT
/*
 * The peer table and each peer's session state machine.
 *
 * States (enum peer_state):
 *   DOWN        no usable keys, nothing in progress
 *   CONNECTING  we want a session: dialing, or waiting for the peer to dial us
 *   UP          a keypair is installed; frames flow
 *
 * Timers, all embedded in struct peer:
 *   connect_timer    armed by peer_need_session(): at once if our identity sorts first (so the
 *                    two sides do not both dial on start-up), after PEER_DEFER_MS otherwise; after
 *                    a failed dial, with exponential backoff (PEER_CONNECT_BACKOFF_*) and jitter.
 *                    Fires: dial the next configured endpoint (round robin).
 *   rekey_timer      armed when a keypair is installed: rekey-after-seconds if we were the TLS
 *                    client (the initiator rekeys), that plus PEER_REKEY_GRACE_SEC otherwise (in
 *                    case the initiator cannot). Fires: dial for a fresh handshake. The old keys
 *                    keep working, and stay as `previous` for receiving, so traffic never stops.
 *                    A send counter past rekey-after-packets triggers the same early.
 *   keepalive_timer  every keepalive-seconds while keys exist. Fires: send an empty frame if we
 *                    sent nothing for that long (keeps NAT mappings and proves liveness); if
 *                    nothing arrived for 3 keepalives + 2 s, start a new handshake; if the keys are
 *                    older than PEER_REJECT_AFTER_FACTOR rekey periods, drop them (state DOWN).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/notaries.h"
#include "control/stream.h"
#include "crypto/aead.h"
#include "crypto/crl.h"
#include "crypto/tls.h"
#include "store/store.h"

static const char *const peer_state_names[] = { "down", "connecting", "up" };
static const char *const peer_drop_names[PEER_DROP_COUNT] = {
	"replay", "auth", "bad_source", "malformed", "no_session", "rate_limited",
};
static const char *const agent_drop_names[AGENT_DROP_COUNT] = {
	"unknown_receiver", "malformed", "no_buffer", "no_route", "link_refused",
};

const char *
peer_state_name(enum peer_state s)
{
	return peer_state_names[s];
}

const char *
peer_drop_name(enum peer_drop d)
{
	return peer_drop_names[d];
}

const char *
agent_drop_name(enum agent_drop d)
{
	return agent_drop_names[d];
}

void
peer_count_drop(struct peer *p, enum peer_drop d, const char *detail)
{
	struct agent *a = p->agent;

	p->stats.drops[d]++;
	if (log_ratelimit_ok(&a->drop_rl, ev_now_ms(a->loop)))
		log_warnx("peer %s: dropped (%s)%s%s", p->cfg->identity, peer_drop_names[d],
			  detail ? ": " : "", detail ? detail : "");
}

void
agent_count_drop(struct agent *a, enum agent_drop d, const char *detail)
{
	a->drops[d]++;
	if (log_ratelimit_ok(&a->drop_rl, ev_now_ms(a->loop)))
		log_debug(LOG_DATA, "dropped a packet (%s)%s%s", agent_drop_names[d],
			  detail ? ": " : "", detail ? detail : "");
}

static uint64_t
peer_dead_after_ms(const struct peer *p)
{
	return (3ull * p->agent->cfg.keepalive_sec + 2) * 1000;
}

static void
peer_drop_keypair(struct peer *p, struct keypair **slot)
{
	if (!*slot)
		return;
	session_index_del(p->agent->index, *slot);
	session_keypair_wipe(*slot);
	free(*slot);
	*slot = NULL;
}

static void
peer_on_connect_timer(struct ev_timer *t)
{
	struct peer *p = container_of(t, struct peer, connect_timer);
	const struct sockaddr_storage *to;
	char addr[64];
	int err;

	if (!p->cfg->nendpoints || p->dialing)
		return;
	to = &p->cfg->endpoints[p->next_endpoint++ % p->cfg->nendpoints];
	sockaddr_show(to, addr, sizeof(addr));
	log_debug(LOG_PEER, "peer %s: dialing %s", p->cfg->identity, addr);
	err = link_dial(p->agent, p, to);
	if (err) {
		log_warnx("peer %s: cannot dial %s: %s", p->cfg->identity, addr, strerror(-err));
		peer_on_link_failed(p, NULL);
		return;
	}
	p->dialing = true;
}

static void
peer_schedule_connect(struct peer *p, uint64_t delay_ms)
{
	if (!p->cfg->nendpoints || p->dialing)
		return;
	if (ev_timer_is_armed(&p->connect_timer) &&
	    p->connect_timer.when_ms <= ev_now_ms(p->agent->loop) + delay_ms)
		return;
	ev_timer_start(p->agent->loop, &p->connect_timer, delay_ms, peer_on_connect_timer);
}

void
peer_need_session(struct peer *p)
{
	struct agent *a = p->agent;
	bool we_first = strcmp(a->cfg.identity, p->cfg->identity) < 0;

	if (p->state == PEER_DOWN)
		p->state = PEER_CONNECTING;
	peer_schedule_connect(p, we_first ? 0 : PEER_DEFER_MS);
}

void
peer_on_link_failed(struct peer *p, struct link *l)
{
	uint32_t jitter = 0;

	(void)l;
	p->dialing = false;
	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : PEER_CONNECT_BACKOFF_MIN_MS;
	if (p->backoff_ms > PEER_CONNECT_BACKOFF_MAX_MS)
		p->backoff_ms = PEER_CONNECT_BACKOFF_MAX_MS;
	crypto_random(&jitter, sizeof(jitter));
	/* Retry while we have no keys; with keys, the rekey or keepalive timer asks again. */
	if (!p->current)
		peer_schedule_connect(p, p->backoff_ms + jitter % (p->backoff_ms / 2 + 1));
	else
		ev_timer_start(p->agent->loop, &p->rekey_timer, p->backoff_ms,
			       p->rekey_timer.on_fire);
}

void
peer_on_link_closed(struct peer *p, struct link *l)
{
	if (p->link == l)
		p->link = NULL;
	if (l->is_client)
		p->dialing = false;
}

static void peer_on_keepalive_timer(struct ev_timer *t);

static void
peer_on_rekey_timer(struct ev_timer *t)
{
	struct peer *p = container_of(t, struct peer, rekey_timer);

	log_debug(LOG_HANDSHAKE, "peer %s: rekeying", p->cfg->identity);
	peer_schedule_connect(p, 0);
}

int
peer_on_hello(struct peer *p, struct link *l, struct keypair *kp, const struct hello *h)
{
	struct agent *a = p->agent;
	const struct config *c = &a->cfg;
	char addr[64];

	memcpy(p->map.peer_self4, h->addr4, 4);
	memcpy(p->map.peer_self6, h->addr6, 16);
	kp->remote_index = h->receiver;

	peer_drop_keypair(p, &p->previous);
	p->previous = p->current;
	p->current = kp;
	memcpy(p->cert_fpr, tls_conn_peer(stream_tls(l->s))->fpr, sizeof(p->cert_fpr));
	if (p->link && p->link != l)
		link_close(p->link);
	p->link = l;
	if (l->is_client) {
		p->dialing = false;
		if (!p->endpoint.ss_family || !p->last_rx_ms)
			p->endpoint = l->remote;
	}
	p->backoff_ms = 0;
	p->handshakes++;
	p->last_handshake = time(NULL);
	p->state = PEER_UP;
	if (!p->last_rx_ms)
		p->last_rx_ms = ev_now_ms(a->loop);

	sockaddr_show(&l->remote, addr, sizeof(addr));
	log_info("peer %s (%s): session up, handshake #%llu, %s", p->cfg->identity, addr,
		 (unsigned long long)p->handshakes, l->is_client ? "we dialed" : "they dialed");

	ev_timer_stop(a->loop, &p->connect_timer);
	ev_timer_start(
	    a->loop, &p->rekey_timer,
	    (uint64_t)(c->rekey_after_sec + (kp->is_initiator ? 0 : PEER_REKEY_GRACE_SEC)) * 1000,
	    peer_on_rekey_timer);
	ev_timer_start(a->loop, &p->keepalive_timer, (uint64_t)c->keepalive_sec * 1000,
		       peer_on_keepalive_timer);
	/* Tells a peer that was dialed where our UDP frames come from. */
	dataplane_send_keepalive(p);
	return 0;
}

void
peer_on_close_record(struct peer *p)
{
	struct agent *a = p->agent;

	peer_drop_keypair(p, &p->previous);
	peer_drop_keypair(p, &p->current);
	p->state = PEER_DOWN;
	p->last_rx_ms = 0;
	ev_timer_stop(a->loop, &p->rekey_timer);
	ev_timer_stop(a->loop, &p->keepalive_timer);
	/* It will probably be back: let it dial us, or try again after a short while. */
	peer_schedule_connect(p, PEER_CONNECT_BACKOFF_MIN_MS + PEER_DEFER_MS);
}

/*
 * Ends p's session at once because what vouched for it no longer does (a revocation, a changed
 * pin): keys dropped, link closed. New handshakes are refused by the same trust; keep trying
 * slowly in case that changes (a new certificate, a re-pin).
 */
static void
peer_close_untrusted(struct peer *p)
{
	struct agent *a = p->agent;

	peer_drop_keypair(p, &p->previous);
	peer_drop_keypair(p, &p->current);
	p->state = PEER_DOWN;
	ev_timer_stop(a->loop, &p->rekey_timer);
	ev_timer_stop(a->loop, &p->keepalive_timer);
	if (p->link)
		link_close(p->link);
	p->backoff_ms = PEER_CONNECT_BACKOFF_MAX_MS / 2;
	peer_schedule_connect(p, p->backoff_ms);
}

void
peer_on_revocation(struct agent *a, const struct crl *list)
{
	for (size_t i = 0; i < a->npeers; i++) {
		struct peer *p = &a->peers[i];

		if (!p->current || !crl_is_revoked(list, p->cert_fpr))
			continue;
		log_warnx("peer %s: certificate revoked by %s (list #%llu); session closed",
			  p->cfg->identity, list->domain, (unsigned long long)list->number);
		peer_close_untrusted(p);
	}
}

void
peer_on_distrust(struct agent *a, const char *domain, const char *why)
{
	for (size_t i = 0; i < a->npeers; i++) {
		struct peer *p = &a->peers[i];

		if (strcmp(identity_domain_of(p->cfg->identity), domain))
			continue;
		if (p->current || p->link)
			log_warnx("peer %s: %s; session closed", p->cfg->identity, why);
		peer_close_untrusted(p);
	}
	/* And the links still handshaking with them, which may have been verified already. */
	for (struct link *l = a->links, *next; l; l = next) {
		next = l->next;
		if (l->peer && !strcmp(identity_domain_of(l->peer->cfg->identity), domain)) {
			link_close(l);
			next = a->links; /* closing may have changed the list: start over */
		}
	}
}

void
peer_on_rx(struct peer *p, const struct sockaddr_storage *from)
{
	uint64_t now = ev_now_ms(p->agent->loop);

	p->last_rx_ms = now;
	if (!from)
		return;
	p->last_udp_rx_ms = now;
	if (!sockaddr_same(from, &p->endpoint)) {
		char was[64], is[64];

		sockaddr_show(&p->endpoint, was, sizeof(was));
		sockaddr_show(from, is, sizeof(is));
		log_info("peer %s: endpoint %s -> %s", p->cfg->identity, was, is);
		p->endpoint = *from;
	}
}

void
peer_on_tx(struct peer *p, struct keypair *kp)
{
	const struct config *c = &p->agent->cfg;

	p->last_tx_ms = ev_now_ms(p->agent->loop);
	/*
	 * >=, not ==: keepalives also advance the counter and may step over the threshold. Once
	 * per keypair: if that dial fails, the rekey timer retries with backoff.
	 */
	if (kp->is_initiator && !kp->rekey_requested &&
	    kp->send_counter >= c->rekey_after_packets) {
		kp->rekey_requested = true;
		log_debug(LOG_HANDSHAKE, "peer %s: %llu frames sent, rekeying", p->cfg->identity,
			  (unsigned long long)kp->send_counter);
		peer_schedule_connect(p, 0);
	}
}

static void
peer_on_keepalive_timer(struct ev_timer *t)
{
	struct peer *p = container_of(t, struct peer, keepalive_timer);
	struct agent *a = p->agent;
	uint64_t now = ev_now_ms(a->loop), period = (uint64_t)a->cfg.keepalive_sec * 1000;
	uint64_t reject_ms = (uint64_t)a->cfg.rekey_after_sec * 1000 * PEER_REJECT_AFTER_FACTOR;

	if (p->current && now - p->current->created_ms > reject_ms) {
		log_warnx("peer %s: keys expired without a rekey; session down", p->cfg->identity);
		peer_drop_keypair(p, &p->previous);
		peer_drop_keypair(p, &p->current);
		p->state = PEER_DOWN;
		peer_need_session(p);
		return;
	}
	if (!p->current)
		return;
	if (now - p->last_tx_ms + 100 >= period)
		dataplane_send_keepalive(p);
	if (p->state == PEER_UP && now - p->last_rx_ms > peer_dead_after_ms(p)) {
		log_warnx("peer %s: nothing received for %llu s; starting a new handshake",
			  p->cfg->identity, (unsigned long long)(now - p->last_rx_ms) / 1000);
		p->state = PEER_CONNECTING;
		peer_need_session(p);
	}
	ev_timer_start(a->loop, t, period, peer_on_keepalive_timer);
}

bool
peer_udp_is_alive(const struct peer *p)
{
	return p->last_udp_rx_ms &&
	       ev_now_ms(p->agent->loop) - p->last_udp_rx_ms <= peer_dead_after_ms(p);
}

static int
peer_init_one(struct agent *a, struct peer *p, const struct config_peer *cp)
{
	uint32_t index;
	int err = store_peer_index(a->store, cp->identity, POOL_FIRST_PEER_INDEX, &index);

	if (err)
		return err;
	if (index > a->pool.max_index) {
		log_warnx("peer %s: overlay pool is full (index %u)", cp->identity, index);
		return -ENOSPC;
	}
	p->agent = a;
	p->cfg = cp;
	p->index = index;
	pool_addr4(&a->pool, index, p->map.peer_view4);
	pool_addr6(&a->pool, index, p->map.peer_view6);
	memcpy(p->map.own4, a->own4, 4);
	memcpy(p->map.own6, a->own6, 16);
	if (cp->nendpoints)
		p->endpoint = cp->endpoints[0];
	return ratelimit_bucket_init(&p->notary_rl, NOTARIES_PEER_RATE, NOTARIES_PEER_BURST,
				     ev_now_ms(a->loop));
}

int
peer_table_init(struct agent *a)
{
	size_t max_index = POOL_SELF_INDEX;

	a->npeers = a->cfg.npeers;
	a->peers = calloc(a->npeers ? a->npeers : 1, sizeof(*a->peers));
	if (!a->peers)
		return -ENOMEM;
	for (size_t i = 0; i < a->npeers; i++) {
		int err = peer_init_one(a, &a->peers[i], &a->cfg.peers[i]);

		if (err)
			return err;
		if (a->peers[i].index > max_index)
			max_index = a->peers[i].index;
	}
	a->peer_by_index_len = max_index + 1;
	a->peer_by_index = calloc(a->peer_by_index_len, sizeof(*a->peer_by_index));
	if (!a->peer_by_index)
		return -ENOMEM;
	for (size_t i = 0; i < a->npeers; i++)
		a->peer_by_index[a->peers[i].index] = &a->peers[i];
	return 0;
}

void
peer_table_free(struct agent *a)
{
	for (size_t i = 0; i < a->npeers; i++) {
		struct peer *p = &a->peers[i];

		ev_timer_stop(a->loop, &p->connect_timer);
		ev_timer_stop(a->loop, &p->rekey_timer);
		ev_timer_stop(a->loop, &p->keepalive_timer);
		peer_drop_keypair(p, &p->previous);
		peer_drop_keypair(p, &p->current);
	}
	free(a->peers);
	free(a->peer_by_index);
	a->peers = NULL;
	a->peer_by_index = NULL;
}

struct peer *
peer_by_identity(struct agent *a, const char *identity)
{
	for (size_t i = 0; i < a->npeers; i++)
		if (!strcmp(a->peers[i].cfg->identity, identity))
			return &a->peers[i];
	return NULL;
}

struct peer *
peer_by_dst(struct agent *a, const uint8_t *pkt, size_t len)
{
	uint32_t index = 0;

	if (len >= 20 && pkt[0] >> 4 == 4)
		index = pool_index4(&a->pool, pkt + 16);
	else if (len >= 40 && pkt[0] >> 4 == 6)
		index = pool_index6(&a->pool, pkt + 24);
	if (!index || index >= a->peer_by_index_len)
		return NULL;
	return a->peer_by_index[index];
}
