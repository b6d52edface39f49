// SPDX-License-Identifier: MIT
/*
 * A link is one TCP connection to a peer carrying a TLS 1.3 session (DESIGN §4.2): a record
 * stream (control/stream.c does the connect, the handshake, the buffers and the deadlines, as
 * for the control channel) and, on top, the session it sets up.
 *
 * States:
 *   OPENING  the stream connects and handshakes (bounded by its STREAM_HANDSHAKE_MS deadline)
 *   HELLO    handshake verified, data keys derived and our HELLO sent; waiting for theirs
 *            (bounded again, LINK_HANDSHAKE_TIMEOUT_MS: a slowloris peer cannot hold it)
 *   UP       keys installed in the peer; no deadline (peer.c keeps the session alive); the link
 *            stays open to carry FRAME records when UDP does not get through, to be told CLOSE
 *            when the peer shuts down, and for notary questions (domains/notaries.c)
 *
 * A link never decides about the peer's session itself: it reports to the peer's state machine
 * (peer/peer.h: peer_on_session, peer_on_dial_failed, peer_on_link_gone, peer_on_close).
 *
 * Lifetime: link_close() (or the stream closing by itself) detaches the link from the agent and
 * the peer at once; the memory goes when the stream is gone and none of the link's own stream
 * callbacks is running (busy), so code that closed a link, or had it closed under it by a failed
 * send, may still hold the pointer until it returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "control/stream.h"
#include "core/addrcount.h"
#include "crypto/aead.h"
#include "crypto/tls.h"
#include "dataplane/dataplane.h"
#include "peer/peer.h"
#include "proto/ctlmsg.h"
#include "session/session.h"

static const struct stream_ops link_ops;

const char *
link_who(const struct link *l)
{
	return l->peer ? l->peer->identity : "unknown peer";
}

/* Frees l once nothing holds it: its stream is gone and no callback of it runs. */
static void
link_release(struct link *l)
{
	if (l->closing && !l->s && !l->busy)
		free(l);
}

/* An accepted link that came up, or is gone, no longer counts against its network. */
static void
link_uncount(struct link *l)
{
	if (l->inbound_counted)
		addrcount_dec(l->agent->inbound, &l->remote);
	l->inbound_counted = false;
}

/* Takes l out of the agent and tells the peer; the stream may still be closing. */
static void
link_detach(struct link *l)
{
	struct agent *a = l->agent;
	bool failed_dial = l->is_client && l->state != LINK_UP;

	if (l->closing)
		return;
	l->closing = true;
	link_uncount(l);
	for (struct link **pp = &a->links; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			a->nlinks--;
			break;
		}
	}
	if (l->pending) {
		session_index_del(a->index, l->pending);
		session_keypair_wipe(l->pending);
		free(l->pending);
		l->pending = NULL;
	}
	if (l->peer) {
		if (failed_dial)
			peer_on_dial_failed(l->peer);
		else
			peer_on_link_gone(l->peer, l, l->is_client);
	}
}

static void
link_fail(struct link *l, const char *what, const char *why)
{
	char addr[64];

	sockaddr_show(&l->remote, addr, sizeof(addr));
	log_warnx("%s with %s (%s) failed: %s", what, link_who(l), addr, why);
	link_close(l);
}

/* Takes fd (closed on failure). */
static struct link *
link_new(struct agent *a, int fd, bool is_client, struct peer *p,
	 const struct sockaddr_storage *remote)
{
	struct link *l = calloc(1, sizeof(*l));

	if (!l) {
		close(fd);
		return NULL;
	}
	l->agent = a;
	l->peer = p;
	l->is_client = is_client;
	l->remote = *remote;
	l->state = LINK_OPENING;
	if (stream_new(&l->s, a->loop, a->tls, fd, is_client, is_client ? p->identity : NULL,
		       remote, &link_ops, l)) {
		free(l);
		return NULL;
	}
	stream_set_bulk(l->s);
	l->next = a->links;
	a->links = l;
	a->nlinks++;
	return l;
}

int
link_dial(struct agent *a, struct peer *p, const struct sockaddr_storage *to)
{
	struct sockaddr_storage sa;
	socklen_t sl = sockaddr_for_family(a->underlay_family, to, &sa);
	int fd = socket(a->underlay_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sl) < 0 && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return link_new(a, fd, true, p, to) ? 0 : -ENOMEM;
}

/* A connection refused at once: counted, and said (rate-limited). */
static void
link_refuse(struct agent *a, int fd, const char *why)
{
	close(fd);
	a->link_refused++;
	if (log_ratelimit_ok(&a->link_rl, ev_now_ms(a->loop)))
		log_debug(LOG_DATA, "dropped a packet (link_refused): %s", why);
}

void
link_accept(struct agent *a, int fd, const struct sockaddr_storage *from)
{
	struct link *l;
	uint32_t n;

	if (a->nlinks >= AGENT_MAX_LINKS) {
		/* Handshakes in progress are bounded: more wait for a slot in the kernel's queue,
		 * or are refused by it. */
		link_refuse(a, fd, "too many links in progress");
		return;
	}
	/*
	 * And one network cannot hold them all: a handshake takes milliseconds, so only a crowd
	 * of silent or slow connections reaches AGENT_INBOUND_PER_SOURCE.
	 */
	n = addrcount_inc(a->inbound, from);
	if (n == 0 || n > AGENT_INBOUND_PER_SOURCE) {
		if (n)
			addrcount_dec(a->inbound, from);
		link_refuse(a, fd, "too many links in progress from one network");
		return;
	}
	if ((l = link_new(a, fd, false, NULL, from)))
		l->inbound_counted = true;
	else
		addrcount_dec(a->inbound, from);
}

bool
link_send_record(struct link *l, uint16_t type, const void *body, size_t len)
{
	/* Beyond the stream's output bound, FRAME records are dropped, never queued. */
	return !l->closing && stream_send(l->s, type, body, len);
}

static void
link_on_established(struct stream *s)
{
	struct link *l = stream_arg(s);
	struct agent *a = l->agent;
	struct tls_conn *tls = stream_tls(s);
	const struct cert_info *ci = tls_conn_peer(tls);
	uint8_t exported[SESSION_EXPORT_LEN], body[HELLO_LEN];
	struct hello h = { .version = HELLO_VERSION };
	struct keypair *kp;

	if (!l->peer) {
		l->peer = peer_find(a->peers, ci->subject);
		if (!l->peer) {
			link_fail(l, "handshake",
				  "certificate is valid but names no configured peer");
			return;
		}
	}
	kp = calloc(1, sizeof(*kp));
	if (!kp || tls_conn_export(tls, SESSION_EXPORTER_LABEL, exported, sizeof(exported))) {
		free(kp);
		link_fail(l, "handshake", "cannot derive data keys");
		return;
	}
	session_keypair_init(kp, exported, l->is_client, ev_now_ms(a->loop));
	crypto_wipe(exported, sizeof(exported));
	kp->owner = l->peer;
	if (session_index_add(a->index, kp)) {
		session_keypair_wipe(kp);
		free(kp);
		link_fail(l, "handshake", "no free receiver index");
		return;
	}
	l->pending = kp;
	l->state = LINK_HELLO;
	stream_set_deadline(s, LINK_HANDSHAKE_TIMEOUT_MS);
	h.receiver = kp->local_index;
	memcpy(h.addr4, a->own4, 4);
	memcpy(h.addr6, a->own6, 16);
	hello_encode(body, &h);
	if (log_debug_enabled(LOG_HANDSHAKE)) {
		char params[96];

		tls_conn_describe(tls, params, sizeof(params));
		log_debug(LOG_HANDSHAKE, "handshake with %s done (%s), sending HELLO (index %08x)",
			  link_who(l), params, kp->local_index);
	}
	link_send_record(l, RECORD_HELLO, body, sizeof(body));
}

/* Handles one complete record; false if the link was closed. */
/* The peer's HELLO: the session is up; the peer takes the keys. */
static bool
link_on_hello(struct link *l, const uint8_t *body, size_t len)
{
	struct keypair *kp = l->pending;
	struct link *old;
	struct hello hello;

	if (l->state != LINK_HELLO || !hello_decode(body, len, &hello)) {
		link_fail(l, "session", "unexpected or malformed HELLO");
		return false;
	}
	kp->remote_index = hello.receiver;
	l->pending = NULL; /* the peer owns the keypair now */
	l->state = LINK_UP;
	link_uncount(l);
	stream_set_deadline(l->s, 0);
	old = peer_on_session(l->peer, l, kp, l->is_client, &l->remote,
			      tls_conn_peer(stream_tls(l->s))->fpr, hello.addr4, hello.addr6);
	if (old)
		link_close(old);
	return !l->closing;
}

static bool
link_on_record(struct link *l, uint16_t type, const uint8_t *body, size_t len)
{
	switch (type) {
	case RECORD_HELLO:
		return link_on_hello(l, body, len);
	case RECORD_FRAME:
		if (l->state == LINK_UP)
			dataplane_on_stream_frame(l->agent->dp, body, len);
		return true;
	case RECORD_CLOSE:
		log_info("peer %s closed the session (shutting down)", link_who(l));
		if (l->state == LINK_UP)
			peer_on_close(l->peer);
		link_close(l);
		return false;
	case CTL_NOTARY_REQ:
	case CTL_NOTARY:
		if (l->state == LINK_UP)
			agent_on_peer_notary(l, type, body, len);
		return true;
	default:
		return true; /* unknown types are skipped: the protocol can grow */
	}
}

/* The stream's callbacks, each holding the link (busy) while it runs. */
static void
link_cb_established(struct stream *s)
{
	struct link *l = stream_arg(s);

	l->busy++;
	link_on_established(s);
	l->busy--;
	link_release(l);
}

static bool
link_cb_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct link *l = stream_arg(s);
	bool alive;

	l->busy++;
	alive = link_on_record(l, type, body, len) && !l->closing;
	l->busy--;
	link_release(l);
	return alive;
}

static void
link_cb_closed(struct stream *s, const char *why)
{
	struct link *l = stream_arg(s);
	const char *phase = stream_phase(s);
	char addr[64];

	l->s = NULL; /* the stream frees itself */
	if (!l->closing) {
		/* It ended by itself: say where and why, as link_fail would have. */
		if (l->state == LINK_HELLO) {
			phase = "handshake";
			if (!strcmp(why, "idle for too long"))
				why = "no HELLO in time";
		}
		if (!strncmp(why, "handshake failed: ", 18))
			why += 18;
		sockaddr_show(&l->remote, addr, sizeof(addr));
		if (l->state == LINK_UP)
			log_info("session link with %s (%s) ended: %s", link_who(l), addr, why);
		else
			log_warnx("%s with %s (%s) failed: %s", phase, link_who(l), addr, why);
		link_detach(l);
	}
	link_release(l);
}

static const struct stream_ops link_ops = {
	.on_established = link_cb_established,
	.on_record = link_cb_record,
	.on_closed = link_cb_closed,
};

void
link_close(struct link *l)
{
	if (l->closing)
		return;
	link_detach(l);
	if (l->s)
		stream_close(l->s, "closed"); /* runs link_cb_closed, which may free l */
	else
		link_release(l);
}

void
link_close_peer(struct agent *a, struct peer *p)
{
	for (struct link *l = a->links, *next; l; l = next) {
		next = l->next;
		if (l->peer == p) {
			link_close(l);
			next = a->links; /* closing may have changed the list: start over */
		}
	}
}

void
link_close_all(struct agent *a, bool say_goodbye)
{
	while (a->links) {
		struct link *l = a->links;

		if (say_goodbye && l->state == LINK_UP)
			link_send_record(l, RECORD_CLOSE, NULL, 0);
		/* link_send_record may have closed it already on a write error. */
		if (a->links == l)
			link_close(l);
	}
}
