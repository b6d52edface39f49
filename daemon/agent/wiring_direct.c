// SPDX-License-Identifier: MIT
/*
 * Direct paths, wired (wiring.h): reflection datagrams share the data socket, offers go through
 * the home server to approved peers only, probes are sealed by the data plane under the
 * session's keys. What decides is direct/ (candidates, rounds) and path/ (which path works).
 */
#include <string.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "direct/direct.h"
#include "proto/ctlmsg.h"
#include "proto/reflect.h"

static bool
wiring_direct_send_datagram(void *arg, const struct sockaddr_storage *to, const uint8_t *buf,
			    size_t len)
{
	struct agent *a = arg;
	struct pkt *p = pkt_get(a->pkts);

	if (!p)
		return false;
	memcpy(pkt_data(p), buf, len);
	p->len = len;
	path_udp_queue(a->udp, to, p);
	return true;
}

static bool
wiring_direct_send_offer(void *arg, const struct ctlmsg *m)
{
	struct agent *a = arg;

	return a->home && home_send_msg(a->home, m);
}

static void
wiring_direct_probe(void *arg, const char *peer, const struct sockaddr_storage *to)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, peer);

	if (p && p->paths.relay)
		dataplane_send_probe(a->dp, p, to);
}

static bool
wiring_direct_works(void *arg, const char *peer)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, peer);

	return !p || path_set_udp_is_alive(&p->paths, ev_now_ms(a->loop), peer_dead_after_ms(p));
}

static void
wiring_direct_reoffer(struct peer *p, void *arg)
{
	wiring_direct_on_session(arg, p);
}

/* Our public address is new: every relayed peer with a session hears of it. */
static void
wiring_direct_on_reflexive(void *arg)
{
	struct agent *a = arg;

	peer_foreach(a->peers, wiring_direct_reoffer, a);
}

const struct direct_ops wiring_direct_ops = {
	.send_datagram = wiring_direct_send_datagram,
	.send_offer = wiring_direct_send_offer,
	.probe = wiring_direct_probe,
	.direct_works = wiring_direct_works,
	.on_reflexive = wiring_direct_on_reflexive,
};

bool
wiring_direct_datagram(struct agent *a, struct pkt *p, const struct sockaddr_storage *from)
{
	if (!reflect_is_reflect(pkt_data(p), p->len))
		return false;
	if (a->direct)
		direct_on_datagram(a->direct, pkt_data(p), p->len, from);
	pkt_put(a->pkts, p);
	return true;
}

void
wiring_direct_on_session(struct agent *a, struct peer *p)
{
	if (a->direct && p->paths.relay && p->state == PEER_UP &&
	    !path_set_udp_is_alive(&p->paths, ev_now_ms(a->loop), peer_dead_after_ms(p)))
		direct_offer(a->direct, p->identity);
}

void
wiring_direct_home_state(struct agent *a, bool up)
{
	struct sockaddr_storage server;

	if (!a->direct)
		return;
	if (up && home_server_addr(a->home, &server))
		direct_home_up(a->direct, &server);
	else if (!up)
		direct_home_down(a->direct);
}

static void
wiring_on_home_offer(void *arg, const struct ctlmsg *m)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, m->u.offer.from);

	if (!p || !p->paths.relay || strcmp(m->u.offer.to, a->cfg.identity)) {
		log_debug(LOG_PATH, "direct: an offer from %s, which is no approved peer: ignored",
			  m->u.offer.from);
		return;
	}
	direct_on_offer(a->direct, m);
}

int
wiring_handle_direct(struct agent *a)
{
	return home_handle(a->home, CTL_OFFER, wiring_on_home_offer, a);
}
