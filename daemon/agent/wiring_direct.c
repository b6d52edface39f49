// SPDX-License-Identifier: MIT
/*
 * Direct paths, wired (wiring.h): reflection datagrams share the data socket, offers go through
 * the home server to approved peers only, probes are sealed by the data plane under the
 * session's keys. What decides is direct/ (candidates, rounds) and path/ (which path works).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/dial.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "direct/direct.h"
#include "kernel-iface/addrwatch.h"
#include "kernel-iface/tun.h"
#include "link/link.h"
#include "proto/ctlmsg.h"
#include "proto/hairpin.h"
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
		dataplane_send_check(a->dp, p, to);
}

static bool
wiring_direct_works(void *arg, const char *peer)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, peer);

	/* Both ways: a peer heard over UDP may not hear us (a firewall that drops what comes in).
	 */
	return !p || path_set_udp_is_alive(&p->paths, ev_now_ms(a->loop), peer_dead_after_ms(p));
}

static void
wiring_direct_reoffer(struct peer *p, void *arg)
{
	struct agent *a = arg;

	if (a->direct && p->paths.relay && p->state == PEER_UP)
		direct_offer(a->direct, p->identity);
}

/*
 * Our candidates changed: every relayed peer with a session hears of them, even one with a UDP
 * path that works (it may be about to die: our address went).
 */
static void
wiring_direct_on_reflexive(void *arg)
{
	struct agent *a = arg;

	peer_foreach(a->peers, wiring_direct_reoffer, a);
}

/*
 * No UDP with peer: a direct TCP link to its candidate, unless there is one already or UDP works
 * after all (0: nothing to do); -1: not now (no session up yet, a dial runs); 1: dialed.
 */
static int
wiring_direct_dial_tcp(void *arg, const char *peer, const struct sockaddr_storage *to)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, peer);

	if (!p || (p->paths.stream && !p->paths.stream_relayed) ||
	    path_set_udp_is_alive(&p->paths, ev_now_ms(a->loop), peer_dead_after_ms(p)))
		return 0;
	if (!p->paths.relay || p->state != PEER_UP)
		return -1;
	if (!peer_dial_direct(p, to)) {
		log_debug(LOG_PATH, "direct: a dial to %s runs already", peer);
		return -1;
	}
	return 1;
}

/*
 * A TCP simultaneous open with peer (direct/direct.h direct_simopen_plan): from our peer port,
 * beside its listener, to the peer's NAT's mapping of its own; the same answers as above.
 */
static int
wiring_direct_dial_simopen(void *arg, const char *peer, const struct sockaddr_storage *to,
			   bool tls_client)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, peer);
	int fd, err;

	if (!p || (p->paths.stream && !p->paths.stream_relayed) ||
	    path_set_udp_is_alive(&p->paths, ev_now_ms(a->loop), peer_dead_after_ms(p)))
		return 0;
	if (!p->paths.relay || p->state != PEER_UP || !peer_dial_direct_own(p))
		return -1;
	fd = dial_socket_from(a->underlay_family, a->cfg.port);
	err = fd < 0 ? fd : link_dial_simopen(a->links, p, fd, to, tls_client);
	if (err) {
		log_warnx("direct: cannot open TCP from port %u to %s: %s", a->cfg.port, peer,
			  strerror(-err));
		peer_on_dial_failed(p);
		return 0; /* counted as nothing to do: tried again DIRECT_SIMOPEN_NEXT_MS later */
	}
	return 1;
}

static bool
wiring_direct_linked(void *arg, const char *peer)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, peer);

	return p && p->paths.stream && !p->paths.stream_relayed;
}

/* The birthday technique's extra sockets: the UDP path's (path/udp.h). */
static int
wiring_direct_aux_open(void *arg, const struct sockaddr_storage *to)
{
	static const uint8_t opener[1];
	struct agent *a = arg;

	/* An empty datagram: it only opens our NAT's mapping; a peer that gets it ignores it. */
	return a->udp ? path_udp_aux_open(a->udp, to, opener, 0) : -ENOTCONN;
}

static void
wiring_direct_aux_close(void *arg, int id)
{
	struct agent *a = arg;

	if (a->udp)
		path_udp_aux_close(a->udp, id);
}

static int
wiring_direct_aux_pinned(void *arg, const struct sockaddr_storage *to)
{
	struct agent *a = arg;

	return a->udp ? path_udp_aux_pinned(a->udp, to) : -1;
}

/* The hairpin test's probe, from an extra socket of the UDP path (path/udp.h). */
static int
wiring_direct_hairpin_open(void *arg, const struct sockaddr_storage *to, const uint8_t *buf,
			   size_t len)
{
	struct agent *a = arg;

	return a->udp ? path_udp_aux_open(a->udp, to, buf, len) : -ENOTCONN;
}

const struct direct_ops wiring_direct_ops = {
	.send_datagram = wiring_direct_send_datagram,
	.send_offer = wiring_direct_send_offer,
	.probe = wiring_direct_probe,
	.direct_works = wiring_direct_works,
	.on_reflexive = wiring_direct_on_reflexive,
	.dial_tcp = wiring_direct_dial_tcp,
	.dial_simopen = wiring_direct_dial_simopen,
	.linked = wiring_direct_linked,
	.aux_open = wiring_direct_aux_open,
	.aux_close = wiring_direct_aux_close,
	.aux_pinned = wiring_direct_aux_pinned,
	.hairpin_open = wiring_direct_hairpin_open,
};

bool
wiring_direct_datagram(struct agent *a, struct pkt *p, const struct sockaddr_storage *from)
{
	if (!p->len) {
		/* A peer's birthday opener (direct/birthday.h) that its NAT let through: counted.
		 */
		if (a->direct)
			direct_on_opener(a->direct);
		pkt_put(a->pkts, p);
		return true;
	}
	if (!reflect_is_reflect(pkt_data(p), p->len) && !hairpin_is_probe(pkt_data(p), p->len))
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
wiring_direct_on_path_change(struct agent *a, struct peer *p, const char *was, const char *now)
{
	if (!a->direct || !p->paths.relay || strcmp(was, "udp") || !strcmp(now, "udp"))
		return;
	/* What blocks the direct path may block our datagrams to the server too. */
	if (a->relay)
		relay_udp_recheck(a->relay);
	log_info("direct: the direct path to %s stopped answering: asking our server where we are "
		 "and offering our candidates again",
		 p->identity);
	direct_reflect_now(a->direct);
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
	else if (!up) {
		direct_home_down(a->direct);
		direct_on_observed(a->direct, NULL);
	}
}

/* Where our home server sees our connection come from (direct/direct.h direct_on_observed). */
static void
wiring_on_home_observed(void *arg, const struct ctlmsg *m)
{
	struct agent *a = arg;
	struct sockaddr_storage ss = { 0 };

	if (m->u.observed.family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, m->u.observed.addr, 4);
		s4->sin_port = htons(m->u.observed.port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, m->u.observed.addr, 16);
		s6->sin6_port = htons(m->u.observed.port);
	}
	direct_on_observed(a->direct, &ss);
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
	int err = home_handle(a->home, CTL_OFFER, wiring_on_home_offer, a);

	return err ? err : home_handle(a->home, CTL_OBSERVED, wiring_on_home_observed, a);
}

static void
wiring_direct_on_host_change(void *arg)
{
	struct agent *a = arg;

	if (a->direct)
		direct_host_changed(a->direct);
}

int
wiring_direct_watch(struct agent *a)
{
	return a->direct ? addrwatch_open(&a->addrwatch, a->loop, a->tun ? tun_ifindex(a->tun) : 0,
					  wiring_direct_on_host_change, a)
			 : 0;
}

void
wiring_direct_unwatch(struct agent *a)
{
	addrwatch_close(a->addrwatch);
	a->addrwatch = NULL;
}
