// SPDX-License-Identifier: MIT
/*
 * Each peer's session state machine (states in peer.h; timers in timers.c).
 *
 * Events come from the links (a session set up, a dial failed, a link gone, CLOSE), from the
 * data plane (a frame in, a frame out) and from trust (revocation, a changed or new pin). The
 * machine decides what the peer's keys are and when a handshake is wanted; it asks the layers
 * above for what it cannot do itself through the table's callbacks (peer_ops).
 *
 * Start-up race: both agents may want to dial. The one whose identity sorts first dials at once;
 * the other waits PEER_DEFER_MS and dials only if no session appeared. If both dial anyway, both
 * handshakes complete; each side keeps the newest keys as current and the previous for
 * receiving, so either choice works.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sockaddr.h"
#include "crypto/crl.h"
#include "peer/peer_int.h"
#include "session/session.h"

static const char *const peer_state_names[] = { "down", "connecting", "up" };
static const char *const peer_drop_names[PEER_DROP_COUNT] = {
	"replay", "auth", "bad_source", "malformed", "no_session", "rate_limited",
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

void
peer_count_drop(struct peer *p, enum peer_drop d, const char *detail)
{
	struct peer_table *t = p->table;

	p->stats.drops[d]++;
	if (log_ratelimit_ok(&t->drop_rl, ev_now_ms(t->loop)))
		log_warnx("peer %s: dropped (%s)%s%s", p->identity, peer_drop_names[d],
			  detail ? ": " : "", detail ? detail : "");
}

uint64_t
peer_dead_after_ms(const struct peer *p)
{
	return (3ull * p->table->params.keepalive_sec + 2) * 1000;
}

static void
peer_drop_keypair(struct peer *p, struct keypair **slot)
{
	if (!*slot)
		return;
	session_index_del(p->table->index, *slot);
	session_keypair_wipe(*slot);
	free(*slot);
	*slot = NULL;
}

/* Every change of p->state goes here: leaving UP is reported (peer_ops.on_session_down). */
void
peer_set_state(struct peer *p, enum peer_state s)
{
	bool was_up = p->state == PEER_UP;

	p->state = s;
	if (was_up && s != PEER_UP && p->table->ops.on_session_down)
		p->table->ops.on_session_down(p->table->arg, p);
}

void
peer_drop_keys(struct peer *p)
{
	peer_drop_keypair(p, &p->previous);
	peer_drop_keypair(p, &p->current);
}

void
peer_drop_previous_keys(struct peer *p)
{
	log_debug(LOG_HANDSHAKE, "peer %s: previous keys expired", p->identity);
	peer_drop_keypair(p, &p->previous);
}

void
peer_need_session(struct peer *p)
{
	bool we_first = strcmp(p->table->params.self, p->identity) < 0;

	if (p->state == PEER_DOWN)
		peer_set_state(p, PEER_CONNECTING);
	peer_timers_connect(p, we_first ? 0 : PEER_DEFER_MS);
}

void
peer_on_dial_failed(struct peer *p)
{
	p->dialing = false;
	if (p->dialing_extra) {
		p->dialing_extra = false;
		log_info("peer %s: no direct link: the session stays where it is", p->identity);
		return;
	}
	peer_timers_dial_failed(p);
}

bool
peer_dial_direct(struct peer *p, const struct sockaddr_storage *to)
{
	if (p->dialing)
		return false;
	path_set_dial_once(&p->paths, to);
	p->dialing_extra = true;
	peer_timers_connect(p, 0);
	return true;
}

bool
peer_dial_direct_own(struct peer *p)
{
	if (p->dialing)
		return false;
	p->dialing = p->dialing_extra = true;
	return true;
}

void
peer_on_link_gone(struct peer *p, struct link *l, bool was_client)
{
	path_set_on_stream_gone(&p->paths, l);
	if (was_client)
		p->dialing = false;
}

struct link *
peer_on_session(struct peer *p, struct link *l, struct keypair *kp, bool we_dialed,
		const struct sockaddr_storage *remote, const uint8_t cert_fpr[32],
		const uint8_t addr4[4], const uint8_t addr6[16])
{
	struct link *old = p->paths.stream != l ? p->paths.stream : NULL;
	char addr[SOCKADDR_STR_MAX];

	memcpy(p->map.peer_self4, addr4, 4);
	memcpy(p->map.peer_self6, addr6, 16);
	peer_drop_keypair(p, &p->previous);
	p->previous = p->current;
	p->current = kp;
	memcpy(p->cert_fpr, cert_fpr, sizeof(p->cert_fpr));
	path_set_on_stream_up(&p->paths, l, we_dialed, remote, p->last_rx_ms != 0);
	if (we_dialed)
		p->dialing = p->dialing_extra = false;
	p->backoff_ms = 0;
	p->handshakes++;
	p->last_handshake = time(NULL);
	peer_set_state(p, PEER_UP);
	if (!p->last_rx_ms)
		p->last_rx_ms = ev_now_ms(p->table->loop);

	path_addr_show(remote, addr, sizeof(addr));
	log_info("peer %s (%s): session up, handshake #%llu, %s, %s", p->identity, addr,
		 (unsigned long long)p->handshakes, we_dialed ? "we dialed" : "they dialed",
		 aead_cipher_name(session_send_cipher(kp)));
	peer_timers_session_up(p, kp);
	/* Tells a peer that was dialed where our UDP frames come from. */
	p->table->ops.send_keepalive(p->table->arg, p);
	if (p->table->ops.on_session)
		p->table->ops.on_session(p->table->arg, p);
	return old;
}

void
peer_on_close(struct peer *p)
{
	peer_drop_keys(p);
	peer_set_state(p, PEER_DOWN);
	p->last_rx_ms = 0;
	peer_timers_session_down(p);
	/* It will probably be back: let it dial us, or try again after a short while. */
	peer_timers_connect(p, PEER_CONNECT_BACKOFF_MIN_MS + PEER_DEFER_MS);
}

/*
 * Ends p's session at once because what vouched for it no longer does (a revocation, a changed
 * pin): keys dropped, links closed. New handshakes are refused by the same trust; keep trying
 * slowly in case that changes (a new certificate, a re-pin).
 */
static void
peer_close_untrusted(struct peer *p)
{
	peer_drop_keys(p);
	peer_set_state(p, PEER_DOWN);
	peer_timers_session_down(p);
	p->table->ops.close_links(p->table->arg, p);
	/* A dial that close_links ended armed the first backoff step: this replaces it. */
	peer_timers_retry_slowly(p, PEER_CONNECT_BACKOFF_MAX_MS / 2);
}

void
peer_on_revocation(struct peer_table *t, const struct crl *list)
{
	for (size_t i = 0; i < t->n; i++) {
		struct peer *p = t->order[i];

		if (!p->current || !crl_is_revoked(list, p->cert_fpr))
			continue;
		log_warnx("peer %s: certificate revoked by %s (list #%llu); session closed",
			  p->identity, list->domain, (unsigned long long)list->number);
		peer_close_untrusted(p);
	}
}

void
peer_on_distrust(struct peer_table *t, const char *domain, const char *why)
{
	for (size_t i = 0; i < t->n; i++) {
		struct peer *p = t->order[i];

		if (strcmp(identity_domain_of(p->identity), domain))
			continue;
		if (p->current || p->paths.stream)
			log_warnx("peer %s: %s; session closed", p->identity, why);
		peer_close_untrusted(p);
	}
}

void
peer_on_trust(struct peer_table *t, const char *domain)
{
	for (size_t i = 0; i < t->n; i++) {
		struct peer *p = t->order[i];

		if (!strcmp(identity_domain_of(p->identity), domain) && !p->current) {
			p->backoff_ms = 0;
			peer_need_session(p);
		}
	}
}

bool
peer_on_rx(struct peer *p, const struct sockaddr_storage *from, bool probe)
{
	uint64_t now = ev_now_ms(p->table->loop), dead = peer_dead_after_ms(p);
	bool news;

	p->last_rx_ms = now;
	if (!from)
		return false;
	/*
	 * From elsewhere while the endpoint works: a probe, or a frame over another endpoint that
	 * answers our probes (the peer sends the way it chose, we the way we chose), moves nothing;
	 * the address is remembered, to be probed and maybe chosen by its RTT (path/path.h).
	 */
	if (!sockaddr_same(from, &p->paths.endpoint) &&
	    path_set_udp_is_alive(&p->paths, now, dead) &&
	    (probe || path_set_alt_alive(&p->paths, from, now, dead))) {
		path_set_learn(&p->paths, from, now);
		return false;
	}
	news =
	    !path_set_udp_heard(&p->paths, now, dead) || !sockaddr_same(from, &p->paths.endpoint);
	path_set_on_udp_rx(&p->paths, from, now, p->identity);
	return news;
}

void
peer_on_tx(struct peer *p, struct keypair *kp)
{
	const struct peer_params *c = &p->table->params;

	p->last_tx_ms = ev_now_ms(p->table->loop);
	/*
	 * >=, not ==: keepalives also advance the counter and may step over the threshold. Once
	 * per keypair: if that dial fails, the rekey timer retries with backoff.
	 */
	if (kp->is_initiator && !kp->rekey_requested &&
	    kp->send_counter >= c->rekey_after_packets) {
		kp->rekey_requested = true;
		log_debug(LOG_HANDSHAKE, "peer %s: %llu frames sent, rekeying", p->identity,
			  (unsigned long long)kp->send_counter);
		peer_timers_connect(p, 0);
	}
}

void
peer_on_keys_expired(struct peer *p)
{
	log_warnx("peer %s: keys expired without a rekey; session down", p->identity);
	peer_drop_keys(p);
	peer_set_state(p, PEER_DOWN);
	peer_timers_session_down(p);
	peer_need_session(p);
}

void
peer_on_silence(struct peer *p, uint64_t silent_ms)
{
	log_warnx("peer %s: nothing received for %llu s; starting a new handshake", p->identity,
		  (unsigned long long)silent_ms / 1000);
	peer_set_state(p, PEER_CONNECTING);
	peer_need_session(p);
}
