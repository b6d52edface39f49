// SPDX-License-Identifier: MIT
/*
 * Every per-peer timer, embedded in struct peer (after WireGuard's timers.c):
 *
 *   connect_timer    armed by peer_need_session(): at once if our identity sorts first (so the
 *                    two sides do not both dial on start-up), after PEER_DEFER_MS otherwise; after
 *                    a failed dial, with exponential backoff (PEER_CONNECT_BACKOFF_*) and jitter;
 *                    never while a dial runs; after trust ended the session (revocation,
 *                    distrust), PEER_CONNECT_BACKOFF_MAX_MS / 2, replacing a sooner retry.
 *                    Fires: dial the next static endpoint (round robin).
 *   rekey_timer      armed when a keypair is installed: rekey-after-seconds if we were the TLS
 *                    client (the initiator rekeys), that plus PEER_REKEY_GRACE_SEC otherwise (in
 *                    case the initiator cannot); after a failed dial while keys exist, the
 *                    backoff. Fires: dial for a fresh handshake. The old keys keep working, and
 *                    stay as `previous` for receiving, so traffic never stops. A send counter
 *                    past rekey-after-packets triggers the same early (peer_on_tx).
 *   keepalive_timer  every keepalive-seconds while keys exist. Fires: send an empty frame if we
 *                    sent nothing for that long (keeps NAT mappings and proves liveness); if
 *                    nothing arrived for 3 keepalives + 2 s, start a new handshake; if the keys are
 *                    older than PEER_REJECT_AFTER_FACTOR rekey periods, drop them (state DOWN).
 *                    The previous keys age on their own: past that age they go too, even when
 *                    the current ones are young (a rekey that came late).
 */
#include <string.h>

#include "core/backoff.h"
#include "core/sockaddr.h"
#include "crypto/aead.h"
#include "peer/peer_int.h"
#include "session/session.h"

static void
timers_on_connect(struct ev_timer *t)
{
	struct peer *p = container_of(t, struct peer, connect_timer);
	struct peer_table *tb = p->table;
	const struct sockaddr_storage *to;
	char addr[SOCKADDR_STR_MAX];
	int err;

	if (p->dialing || !(to = path_set_next_dial(&p->paths)))
		return;
	path_addr_show(to, addr, sizeof(addr));
	log_debug(LOG_PEER, "peer %s: dialing %s", p->identity, addr);
	p->dialing = true;
	err = tb->ops.dial(tb->arg, p, to);
	if (err) {
		log_warnx("peer %s: cannot dial %s: %s", p->identity, addr, strerror(-err));
		peer_on_dial_failed(p);
	}
}

void
peer_timers_connect(struct peer *p, uint64_t delay_ms)
{
	struct ev_loop *loop = p->table->loop;

	if (!path_set_can_dial(&p->paths) || p->dialing)
		return;
	if (ev_timer_is_armed(&p->connect_timer) &&
	    p->connect_timer.when_ms <= ev_now_ms(loop) + delay_ms)
		return;
	ev_timer_start(loop, &p->connect_timer, delay_ms, timers_on_connect);
}

static void
timers_on_rekey(struct ev_timer *t)
{
	struct peer *p = container_of(t, struct peer, rekey_timer);

	log_debug(LOG_HANDSHAKE, "peer %s: rekeying", p->identity);
	peer_timers_connect(p, 0);
}

static void
timers_on_keepalive(struct ev_timer *t)
{
	struct peer *p = container_of(t, struct peer, keepalive_timer);
	struct peer_table *tb = p->table;
	uint64_t now = ev_now_ms(tb->loop), period = (uint64_t)tb->params.keepalive_sec * 1000;
	uint64_t reject_ms = (uint64_t)tb->params.rekey_after_sec * 1000 * PEER_REJECT_AFTER_FACTOR;

	if (p->previous && now - p->previous->created_ms > reject_ms)
		peer_drop_previous_keys(p);
	if (p->current && now - p->current->created_ms > reject_ms) {
		peer_on_keys_expired(p);
		return;
	}
	if (!p->current)
		return;
	if (now - p->last_tx_ms + 100 >= period)
		tb->ops.send_keepalive(tb->arg, p);
	if (p->state == PEER_UP && now - p->last_rx_ms > peer_dead_after_ms(p))
		peer_on_silence(p, now - p->last_rx_ms);
	ev_timer_start(tb->loop, t, period, timers_on_keepalive);
}

void
peer_timers_session_up(struct peer *p, const struct keypair *kp)
{
	struct peer_table *tb = p->table;
	uint64_t rekey_s =
	    tb->params.rekey_after_sec + (kp->is_initiator ? 0 : PEER_REKEY_GRACE_SEC);

	ev_timer_stop(tb->loop, &p->connect_timer);
	ev_timer_start(tb->loop, &p->rekey_timer, rekey_s * 1000, timers_on_rekey);
	ev_timer_start(tb->loop, &p->keepalive_timer, (uint64_t)tb->params.keepalive_sec * 1000,
		       timers_on_keepalive);
}

void
peer_timers_session_down(struct peer *p)
{
	ev_timer_stop(p->table->loop, &p->rekey_timer);
	ev_timer_stop(p->table->loop, &p->keepalive_timer);
}

void
peer_timers_dial_failed(struct peer *p)
{
	unsigned wait =
	    backoff_next(&p->backoff_ms, PEER_CONNECT_BACKOFF_MIN_MS, PEER_CONNECT_BACKOFF_MAX_MS);
	uint32_t jitter = 0;

	crypto_random(&jitter, sizeof(jitter));
	/* Retry while we have no keys; with keys, the rekey or keepalive timer asks again. */
	if (!p->current)
		peer_timers_connect(p, backoff_jitter(wait, jitter));
	else
		ev_timer_start(p->table->loop, &p->rekey_timer, wait, timers_on_rekey);
}

void
peer_timers_retry_slowly(struct peer *p, unsigned delay_ms)
{
	p->backoff_ms = delay_ms;
	ev_timer_stop(p->table->loop, &p->connect_timer);
	peer_timers_connect(p, delay_ms);
}

void
peer_timers_stop(struct peer *p)
{
	struct ev_loop *loop = p->table->loop;

	ev_timer_stop(loop, &p->connect_timer);
	ev_timer_stop(loop, &p->rekey_timer);
	ev_timer_stop(loop, &p->keepalive_timer);
}
