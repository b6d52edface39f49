// SPDX-License-Identifier: MIT
/*
 * Rendezvous and the relay, wired (wiring.h): an approval either way makes the other side a peer
 * (at its stable overlay address) that the relay may carry; the last approval gone ends it. The
 * relay's channels become links, its frames go to the data plane, and both go through the home
 * server.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/log.h"
#include "core/pkt.h"
#include "crypto/aead.h"
#include "link/link.h"
#include "proto/ctlmsg.h"
#include "proto/relayudp.h"
#include "store/store.h"
#include "trust/identity.h"

static bool
wiring_is_configured(const struct agent *a, const char *identity)
{
	for (size_t i = 0; i < a->cfg.npeers; i++)
		if (!strcmp(a->cfg.peers[i].identity, identity))
			return true;
	return false;
}

/* The peer of an approval: added if it is new, the relay allowed to carry it. */
static struct peer *
wiring_rdv_peer(struct agent *a, const char *identity)
{
	struct peer *p = peer_find(a->peers, identity);
	int err;

	if (!p) {
		if ((err = agent_add_peer(a, identity, NULL, 0, &p))) {
			log_warnx("peer %s: cannot add it: %s", identity, strerror(-err));
			return NULL;
		}
		log_info("peer %s: added (approved by rendezvous), overlay index %u", identity,
			 p->index);
		if (domains_track(a->domains, identity_domain_of(identity)))
			log_warnx("peer %s: cannot track its domain: out of memory", identity);
	}
	path_set_relay(&p->paths, true);
	return p;
}

static bool
wiring_rdv_send(void *arg, const struct ctlmsg *m)
{
	struct agent *a = arg;

	return a->home && home_send_msg(a->home, m);
}

static void
wiring_rdv_on_approved(void *arg, const char *peer)
{
	struct agent *a = arg;
	struct peer *p = wiring_rdv_peer(a, peer);

	if (!p)
		return;
	wiring_policy_peer(a, p);
	if (p->state != PEER_UP)
		peer_need_session(p);
}

static void
wiring_rdv_on_revoked(void *arg, const char *peer, bool none_left)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, peer);

	if (!p)
		return;
	wiring_policy_peer(a, p); /* what it may still reach; nothing once none is left */
	if (!none_left)
		return;
	/* Nothing vouches for the peer any more: its session ends now, on every path. */
	path_set_relay(&p->paths, false);
	relay_close_peer(a->relay, peer);
	if (a->direct)
		direct_forget(a->direct, peer);
	link_close_peer(a->links, p);
	if (wiring_is_configured(a, peer)) {
		peer_on_close(p);
		return;
	}
	log_info("peer %s: removed (no approval left)", peer);
	wiring_policy_peer_gone(a, p);
	peer_del(p);
}

/* A request waits for a person: the contact-request hook may answer it (wiring_hooks.c). */
static void
wiring_rdv_on_request(void *arg, const struct rdv_incoming *e)
{
	wiring_hooks_on_request(arg, e);
}

const struct rdv_ops wiring_rdv_ops = {
	.send = wiring_rdv_send,
	.on_approved = wiring_rdv_on_approved,
	.on_revoked = wiring_rdv_on_revoked,
	.on_request = wiring_rdv_on_request,
};

/* --- the relay --- */

static size_t
wiring_relay_backlog(void *arg)
{
	struct agent *a = arg;

	return a->home ? home_pending_output(a->home) : 0;
}

static bool
wiring_relay_on_channel(void *arg, const char *from, int fd)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, from);

	if (!p || !p->paths.relay) {
		log_info("relay: %s opened a channel, but we have no approval with it: refused",
			 from);
		close(fd);
		return false;
	}
	link_accept_relayed(a->links, fd, p);
	return true;
}

/* Is `from` a peer we relay with? A frame relayed from anyone else is dropped, and counted. */
static bool
wiring_relayed_peer(struct agent *a, const char *from)
{
	struct peer *p = peer_find(a->peers, from);

	if (p && p->paths.relay)
		return true;
	dataplane_count_drop(a->dp, DATAPLANE_DROP_UNKNOWN_RECEIVER,
			     "a relayed frame from no approved peer");
	return false;
}

static void
wiring_relay_on_frame(void *arg, const char *from, const uint8_t *frame, size_t len)
{
	struct agent *a = arg;

	if (wiring_relayed_peer(a, from))
		dataplane_on_relay_frame(a->dp, frame, len);
}

/* The relay's datagrams leave from the data socket: the NAT mapping reflection saw. */
static bool
wiring_relay_send_udp(void *arg, const struct sockaddr_storage *to, const uint8_t *hdr, size_t hlen,
		      const uint8_t *body, size_t blen)
{
	struct agent *a = arg;
	struct pkt *p;

	if (!a->udp || hlen + blen > PKT_BUF_SIZE - PKT_HEADROOM || !(p = pkt_get(a->pkts)))
		return false;
	memcpy(pkt_data(p), hdr, hlen);
	if (blen)
		memcpy(pkt_data(p) + hlen, body, blen);
	p->len = hlen + blen;
	path_udp_queue(a->udp, to, p);
	return true;
}

const struct relay_ops wiring_relay_ops = {
	.send = wiring_rdv_send,
	.backlog = wiring_relay_backlog,
	.on_channel = wiring_relay_on_channel,
	.on_frame = wiring_relay_on_frame,
	.send_udp = wiring_relay_send_udp,
};

bool
wiring_relay_datagram(struct agent *a, struct pkt *p, const struct sockaddr_storage *from)
{
	const char *peer;

	if (!rudp_is_rudp(pkt_data(p), p->len))
		return false;
	/* A relayed frame is received in its own buffer: the relay's header pulled off. */
	if (a->relay &&
	    relay_on_datagram(a->relay, pkt_data(p), p->len, from, &peer) == RELAY_DGRAM_FRAME &&
	    wiring_relayed_peer(a, peer) && pkt_pull(p, RUDP_HDR_LEN)) {
		dataplane_on_relay_pkt(a->dp, p);
		return true;
	}
	pkt_put(a->pkts, p);
	return true;
}

/* The home connection is up: the relay's frames may go over UDP, keyed by this connection. */
static void
wiring_relay_udp_up(struct agent *a)
{
	uint8_t exported[RUDP_EXPORT_LEN];
	struct sockaddr_storage server;

	if (!home_server_addr(a->home, &server) ||
	    home_export(a->home, RUDP_EXPORT_LABEL, exported, sizeof(exported)))
		return;
	relay_udp_up(a->relay, &server, exported);
	crypto_wipe(exported, sizeof(exported));
}

int
wiring_relay_dial(struct agent *a, struct peer *p)
{
	int fd, err;

	if (!a->relay || !a->home || !home_is_up(a->home))
		return -ENOTCONN;
	if ((err = relay_dial(a->relay, p->identity, &fd)))
		return err;
	return link_dial_fd(a->links, p, fd, &path_relay_addr);
}

/* As a datagram in pkt itself where the relay's UDP works (no copy), else over TLS. */
bool
wiring_send_relay(void *arg, struct peer *p, struct pkt *pkt)
{
	struct agent *a = arg;
	struct sockaddr_storage to;
	bool ok;

	if (a->relay && a->udp && relay_udp_frame(a->relay, p->identity, pkt, &to)) {
		path_udp_queue(a->udp, &to, pkt);
		return true;
	}
	ok = a->relay && relay_send_frame(a->relay, p->identity, pkt_data(pkt), pkt->len);
	pkt_put(a->pkts, pkt);
	return ok;
}

static void
wiring_rdv_retry(struct peer *p, void *arg)
{
	(void)arg;
	if (p->paths.relay && p->state != PEER_UP)
		peer_need_session(p);
}

void
wiring_rdv_home_state(struct agent *a, bool up)
{
	if (!a->rdv)
		return;
	if (!up) {
		relay_home_down(a->relay);
		return;
	}
	rdv_on_home_up(a->rdv);
	wiring_relay_udp_up(a);
	peer_foreach(a->peers, wiring_rdv_retry, NULL); /* the relay is back: no backoff wait */
}

/* --- the home channel's messages --- */

static void
wiring_on_home_rdv(void *arg, const struct ctlmsg *m)
{
	struct agent *a = arg;

	rdv_on_msg(a->rdv, m);
}

static void
wiring_on_home_relay(void *arg, const struct ctlmsg *m)
{
	struct agent *a = arg;

	relay_on_msg(a->relay, m);
}

int
wiring_handle_rdv(struct agent *a)
{
	int err;

	if ((err = home_handle(a->home, CTL_CONTACT, wiring_on_home_rdv, a)) ||
	    (err = home_handle(a->home, CTL_ANSWER, wiring_on_home_rdv, a)) ||
	    (err = home_handle(a->home, CTL_RELAY, wiring_on_home_relay, a)) ||
	    (err = home_handle(a->home, CTL_RELAY_FRAME, wiring_on_home_relay, a)))
		return err;
	return 0;
}

static int
wiring_restore_one(const struct store_approval *ap, void *arg)
{
	struct agent *a = arg;

	wiring_rdv_peer(a, ap->peer);
	return 0;
}

int
wiring_rdv_restore(struct agent *a)
{
	return store_approval_each(a->store, NULL, wiring_restore_one, a);
}
