// SPDX-License-Identifier: MIT
/*
 * What the modules report, routed to whoever acts on it (wiring.h). Nothing here decides
 * anything a module could decide itself: each function is one hop.
 */
#include "agent/wiring.h"

#include <string.h>

#include "agent/agent.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "dataplane/tundev.h"
#include "link/link.h"
#include "proto/ctlmsg.h"
#include "proto/record.h"
#include "trust/identity.h"

/* --- the peers ask for a handshake, a keepalive, their links closed --- */

static int
wiring_dial(void *arg, struct peer *p, const struct sockaddr_storage *to)
{
	struct agent *a = arg;

	if (path_dial_is_relay(to))
		return wiring_relay_dial(a, p);
	return link_dial(a->links, p, to);
}

static void
wiring_send_keepalive(void *arg, struct peer *p)
{
	struct agent *a = arg;

	dataplane_send_keepalive(a->dp, p);
}

static void
wiring_close_links(void *arg, struct peer *p)
{
	struct agent *a = arg;

	link_close_peer(a->links, p);
}

static void
wiring_on_session(void *arg, struct peer *p)
{
	wiring_direct_on_session(arg, p);
	wiring_hooks_on_session(arg, p);
}

static void
wiring_on_session_down(void *arg, struct peer *p)
{
	wiring_hooks_on_session_down(arg, p);
}

const struct peer_ops wiring_peer_ops = {
	.dial = wiring_dial,
	.send_keepalive = wiring_send_keepalive,
	.close_links = wiring_close_links,
	.on_session = wiring_on_session,
	.on_session_down = wiring_on_session_down,
};

/* --- the UDP path's datagrams go to the data plane --- */

static void
wiring_on_udp_frame(void *arg, struct pkt *p, const struct sockaddr_storage *from)
{
	struct agent *a = arg;

	if (!wiring_relay_datagram(a, p, from) && !wiring_direct_datagram(a, p, from))
		dataplane_on_udp(a->dp, p, from);
}

static void
wiring_on_udp_drop(void *arg, enum path_udp_drop why, const char *detail)
{
	struct agent *a = arg;

	dataplane_count_drop(a->dp,
			     why == PATH_UDP_DROP_NO_BUFFER ? DATAPLANE_DROP_NO_BUFFER
							    : DATAPLANE_DROP_MALFORMED,
			     detail);
}

const struct path_udp_ops wiring_udp_ops = {
	.on_frame = wiring_on_udp_frame,
	.on_drop = wiring_on_udp_drop,
};

/* --- the data plane sends frames over a link; links deliver FRAME records to it --- */

static bool
wiring_send_stream(void *arg, struct link *l, const uint8_t *frame, size_t len)
{
	(void)arg;
	return link_send_record(l, RECORD_FRAME, frame, len);
}

const struct dataplane_ops wiring_dataplane_ops = {
	.send_stream = wiring_send_stream,
	.send_relay = wiring_send_relay,
};

static bool
wiring_on_frame_record(void *arg, struct link *l, uint16_t type, const uint8_t *body, size_t len)
{
	struct agent *a = arg;

	(void)l;
	(void)type;
	dataplane_on_stream_frame(a->dp, body, len);
	return true;
}

/* --- the peer port's listener hands connections to the links --- */

static void
wiring_on_accept(void *arg, int fd, const struct sockaddr_storage *from)
{
	struct agent *a = arg;

	link_accept(a->links, fd, from);
}

const struct listener_ops wiring_listener_ops = {
	.on_accept = wiring_on_accept,
};

void
wiring_before_sleep(void *arg)
{
	struct agent *a = arg;

	dataplane_flush(a->dp); /* first: what waits for a worker goes to one */
	path_udp_flush(a->udp);
	tundev_flush(a->tundev);
}

/* --- trust changes reach the peers; notary questions go to the home server and peers --- */

static void
wiring_on_trusted(void *arg, const char *domain)
{
	struct agent *a = arg;

	peer_on_trust(a->peers, domain);
}

static void
wiring_on_distrusted(void *arg, const char *domain, const char *why)
{
	struct agent *a = arg;

	peer_on_distrust(a->peers, domain, why);
}

static void
wiring_on_revoked(void *arg, const struct crl *list)
{
	struct agent *a = arg;

	if (a->peers) /* none yet while the kept lists are restored at start */
		peer_on_revocation(a->peers, list);
}

static bool
wiring_ask_home(void *arg, const char *domain)
{
	struct agent *a = arg;

	return a->home && home_ask_notary(a->home, domain);
}

struct wiring_each {
	void (*fn)(void *ctx, const char *identity);
	void *ctx;
};

static void
wiring_each_session_peer(struct peer *p, void *arg)
{
	struct wiring_each *e = arg;

	if (p->paths.stream && link_is_up(p->paths.stream))
		e->fn(e->ctx, p->identity);
}

static void
wiring_foreach_session_peer(void *arg, void (*fn)(void *ctx, const char *identity), void *ctx)
{
	struct agent *a = arg;
	struct wiring_each e = { fn, ctx };

	peer_foreach(a->peers, wiring_each_session_peer, &e);
}

/* A control message on a peer link (NOTARY_REQ and NOTARY are small: 512 bytes hold them). */
static bool
wiring_send_ctlmsg(struct link *l, const struct ctlmsg *m)
{
	uint8_t body[512];
	int n = ctlmsg_encode(m, body, sizeof(body));

	return n >= 0 && link_send_record(l, m->type, body, (size_t)n);
}

static bool
wiring_ask_peer(void *arg, const char *identity, const struct ctlmsg *req)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, identity);

	return p && p->paths.stream && wiring_send_ctlmsg(p->paths.stream, req);
}

const struct domains_ops wiring_domains_ops = {
	.on_trusted = wiring_on_trusted,
	.on_distrusted = wiring_on_distrusted,
	.on_revoked = wiring_on_revoked,
	.ask_home = wiring_ask_home,
	.foreach_session_peer = wiring_foreach_session_peer,
	.ask_peer = wiring_ask_peer,
};

/*
 * A peer asks what we see for a domain, or answers our question: answers go to the round,
 * questions are answered from what we trust, at the peer's rate (DOMAINS_PEER_QUESTION_*).
 */
static bool
wiring_on_peer_notary(void *arg, struct link *l, uint16_t type, const uint8_t *body, size_t len)
{
	struct agent *a = arg;
	struct peer *p = link_peer(l);
	struct ctlmsg m, answer;

	if (!ctlmsg_decode(type, body, len, &m)) {
		peer_count_drop(p, PEER_DROP_MALFORMED, "malformed notary message on the link");
		return true;
	}
	if (type == CTL_NOTARY) {
		domains_on_notary_answer(a->domains, p->identity, &m);
		return true;
	}
	if (!ratelimit_bucket_take(&p->notary_rl, ev_now_ms(a->loop))) {
		peer_count_drop(p, PEER_DROP_RATE_LIMITED, "notary question over the rate");
		return true;
	}
	domains_notary_view(a->domains, m.u.req.domain, &answer);
	log_debug(LOG_HANDSHAKE, "peer %s asks what we see for %s: %s", p->identity, m.u.req.domain,
		  answer.u.notary.status == CTL_NOTARY_KNOWN ? "known" : "unknown");
	wiring_send_ctlmsg(l, &answer);
	return true;
}

int
wiring_handle_links(struct agent *a)
{
	int err;

	if ((err = link_handle(a->links, RECORD_FRAME, wiring_on_frame_record, a)) ||
	    (err = link_handle(a->links, CTL_NOTARY_REQ, wiring_on_peer_notary, a)) ||
	    (err = link_handle(a->links, CTL_NOTARY, wiring_on_peer_notary, a)))
		return err;
	return 0;
}

/* --- the home channel: the domain's list to the domains, notary answers to their round --- */

static void
wiring_on_home_crl(void *arg, const char *domain, const uint8_t *der, size_t len, const char *from)
{
	struct agent *a = arg;

	domains_apply_crl(a->domains, domain, der, len, from);
}

static void
wiring_on_home_state(void *arg, bool up)
{
	wiring_rdv_home_state(arg, up);
	wiring_direct_home_state(arg, up);
}

const struct home_ops wiring_home_ops = {
	.on_crl = wiring_on_home_crl,
	.on_state = wiring_on_home_state,
};

static void
wiring_on_home_notary(void *arg, const struct ctlmsg *m)
{
	struct agent *a = arg;

	domains_on_notary_answer(a->domains, identity_domain_of(a->cfg.identity), m);
}

int
wiring_handle_home(struct agent *a)
{
	return home_handle(a->home, CTL_NOTARY, wiring_on_home_notary, a);
}
