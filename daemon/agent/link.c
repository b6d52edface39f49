// SPDX-License-Identifier: MIT
/*
 * A link is one TCP connection to a peer carrying a TLS 1.3 session (DESIGN §4.2).
 *
 * States:
 *   CONNECTING  we dialed; waiting for the TCP connect to finish (EV_WRITE)
 *   HANDSHAKE   TLS handshake in progress (either side)
 *   HELLO       handshake verified, data keys derived and our HELLO sent; waiting for theirs
 *   UP          keys installed in the peer; the link stays open to carry FRAME records when UDP
 *               does not get through, and to be told CLOSE when the peer shuts down
 * Timer:
 *   deadline    armed at creation, LINK_HANDSHAKE_TIMEOUT_MS: a link that is not UP by then is
 *               closed (a slowloris peer cannot hold a link half-open), disarmed at UP.
 *
 * A link never decides about the peer's session itself: it reports to peer.c
 * (peer_on_hello, peer_on_link_failed, peer_on_link_closed, peer_on_close_record).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/notaries.h"
#include "core/pkt.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"

enum { LINK_ACCEPT_PER_TURN = 16, LINK_RECORDS_PER_TURN = 128, LINK_WRITE_CHUNK = 16384 };

static void link_on_io(struct ev_io *io, uint32_t revents);
static void link_on_deadline(struct ev_timer *t);

static const char *
link_who(const struct link *l)
{
	return l->peer ? l->peer->cfg->identity : "unknown peer";
}

static void
link_fail(struct link *l, const char *what, const char *why)
{
	char addr[64];

	underlay_format(&l->remote, addr, sizeof(addr));
	log_warnx("%s with %s (%s) failed: %s", what, link_who(l), addr, why);
	link_close(l);
}

static struct link *
link_new(struct agent *a, int fd, bool is_client, struct peer *p,
	 const struct sockaddr_storage *remote)
{
	struct link *l = calloc(1, sizeof(*l));
	int one = 1;

	if (!l || !(l->wbuf = malloc(LINK_WBUF_SIZE))) {
		free(l);
		return NULL;
	}
	l->agent = a;
	l->peer = p;
	l->fd = fd;
	l->is_client = is_client;
	l->remote = *remote;
	l->state = is_client ? LINK_CONNECTING : LINK_HANDSHAKE;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ev_io_start(a->loop, &l->io, fd, is_client ? EV_WRITE : EV_READ, link_on_io) ||
	    ev_timer_start(a->loop, &l->deadline, LINK_HANDSHAKE_TIMEOUT_MS, link_on_deadline)) {
		ev_io_stop(a->loop, &l->io);
		free(l->wbuf);
		free(l);
		return NULL;
	}
	l->next = a->links;
	a->links = l;
	a->nlinks++;
	return l;
}

int
link_dial(struct agent *a, struct peer *p, const struct sockaddr_storage *to)
{
	struct sockaddr_storage sa;
	socklen_t sl = underlay_sockaddr(a, to, &sa);
	int fd = socket(a->underlay_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sl) < 0 && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (!link_new(a, fd, true, p, to)) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

static void link_handshake(struct link *l);

static void
link_on_resume(struct ev_timer *t)
{
	struct agent *a = container_of(t, struct agent, accept_pause);

	ev_io_set_events(a->loop, &a->tcp_io, EV_READ);
}

/* Out of descriptors: the listening socket stays readable, so stop watching it a moment. */
static void
link_pause_accepting(struct agent *a)
{
	log_warn("accept (pausing new links for %d ms)", AGENT_ACCEPT_PAUSE_MS);
	ev_io_set_events(a->loop, &a->tcp_io, 0);
	ev_timer_start(a->loop, &a->accept_pause, AGENT_ACCEPT_PAUSE_MS, link_on_resume);
}

void
link_accept(struct agent *a)
{
	for (int i = 0; i < LINK_ACCEPT_PER_TURN; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct link *l;
		int fd =
		    accept4(a->tcp_fd, (struct sockaddr *)&from, &fl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				link_pause_accepting(a);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		if (a->nlinks >= AGENT_MAX_LINKS) {
			/* Handshakes in progress are bounded: more wait for a slot in the kernel's
			 * queue, or are refused by it. */
			close(fd);
			agent_count_drop(a, AGENT_DROP_NO_BUFFER, "too many links in progress");
			continue;
		}
		l = link_new(a, fd, false, NULL, &from);
		if (!l) {
			close(fd);
			continue;
		}
		if (tls_conn_new(&l->tls, a->tls, fd, false, NULL)) {
			link_fail(l, "handshake", "cannot create TLS state");
			continue;
		}
		link_handshake(l);
	}
}

static void
link_set_events(struct link *l, uint32_t want)
{
	uint32_t events = EV_READ | want;

	if (l->wlen)
		events |= EV_WRITE;
	ev_io_set_events(l->agent->loop, &l->io, events);
}

/* Writes buffered records; false if the link failed (and is gone). */
static bool
link_flush(struct link *l)
{
	while (l->wlen) {
		uint32_t want = 0;
		size_t chunk = l->wlen < LINK_WRITE_CHUNK ? l->wlen : LINK_WRITE_CHUNK;
		ssize_t n = tls_conn_write(l->tls, l->wbuf, chunk, &want);

		if (n == -EAGAIN) {
			link_set_events(l, want);
			return true;
		}
		if (n <= 0) {
			link_fail(l, "write", n ? tls_conn_error(l->tls) : "connection closed");
			return false;
		}
		memmove(l->wbuf, l->wbuf + n, l->wlen - (size_t)n);
		l->wlen -= (size_t)n;
	}
	link_set_events(l, 0);
	return true;
}

bool
link_send_record(struct link *l, uint16_t type, const void *body, size_t len)
{
	struct record_hdr h = { .type = type, .len = (uint32_t)len };

	if (l->closing || l->wlen + RECORD_HDR_LEN + len > LINK_WBUF_SIZE)
		return false;
	record_hdr_encode(l->wbuf + l->wlen, &h);
	if (len)
		memcpy(l->wbuf + l->wlen + RECORD_HDR_LEN, body, len);
	l->wlen += RECORD_HDR_LEN + len;
	return link_flush(l);
}

static void
link_on_handshake_done(struct link *l)
{
	struct agent *a = l->agent;
	const struct cert_info *ci = tls_conn_peer(l->tls);
	uint8_t exported[SESSION_EXPORT_LEN], body[HELLO_LEN];
	struct hello h = { .version = HELLO_VERSION };
	struct keypair *kp;

	if (!l->peer) {
		l->peer = peer_by_identity(a, ci->subject);
		if (!l->peer) {
			link_fail(l, "handshake",
				  "certificate is valid but names no configured peer");
			return;
		}
	}
	kp = calloc(1, sizeof(*kp));
	if (!kp || tls_conn_export(l->tls, SESSION_EXPORTER_LABEL, exported, sizeof(exported))) {
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
	h.receiver = kp->local_index;
	memcpy(h.addr4, a->own4, 4);
	memcpy(h.addr6, a->own6, 16);
	hello_encode(body, &h);
	log_debug(LOG_HANDSHAKE, "handshake with %s done, sending HELLO (index %08x)", link_who(l),
		  kp->local_index);
	link_send_record(l, RECORD_HELLO, body, sizeof(body));
}

static void link_read(struct link *l);

static void
link_handshake(struct link *l)
{
	uint32_t want = 0;
	int rc = tls_conn_handshake(l->tls, &want);

	if (rc == -EAGAIN) {
		link_set_events(l, want);
		return;
	}
	if (rc) {
		link_fail(l, "handshake", tls_conn_error(l->tls));
		return;
	}
	link_on_handshake_done(l);
}

static void
link_on_connected(struct link *l)
{
	int err = 0;
	socklen_t el = sizeof(err);

	getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		link_fail(l, "connect", strerror(err));
		return;
	}
	if (tls_conn_new(&l->tls, l->agent->tls, l->fd, true, l->peer->cfg->identity)) {
		link_fail(l, "handshake", "cannot create TLS state");
		return;
	}
	l->state = LINK_HANDSHAKE;
	link_handshake(l);
}

/* Handles one complete record; false if the link was closed. */
static bool
link_on_record(struct link *l, const struct record_hdr *h, const uint8_t *body)
{
	struct hello hello;

	switch (h->type) {
	case RECORD_HELLO:
		if (l->state != LINK_HELLO || !hello_decode(body, h->len, &hello)) {
			link_fail(l, "session", "unexpected or malformed HELLO");
			return false;
		}
		if (peer_on_hello(l->peer, l, l->pending, &hello)) {
			link_fail(l, "session", "HELLO refused");
			return false;
		}
		l->pending = NULL; /* the peer owns the keypair now */
		l->state = LINK_UP;
		ev_timer_stop(l->agent->loop, &l->deadline);
		return true;
	case RECORD_FRAME:
		if (l->state == LINK_UP)
			dataplane_on_stream_frame(l->agent, body, h->len);
		return true;
	case RECORD_CLOSE:
		log_info("peer %s closed the session (shutting down)", link_who(l));
		if (l->state == LINK_UP)
			peer_on_close_record(l->peer);
		link_close(l);
		return false;
	case CTL_NOTARY_REQ:
	case CTL_NOTARY:
		if (l->state == LINK_UP)
			notaries_on_peer_record(l, h->type, body, h->len);
		return true;
	default:
		return true; /* unknown types are skipped: the protocol can grow */
	}
}

/* Parses complete records out of rbuf; false if the link was closed. */
static bool
link_parse(struct link *l)
{
	size_t off = 0;
	bool alive = true;

	while (alive && l->rlen - off >= RECORD_HDR_LEN) {
		struct record_hdr h;

		if (!record_hdr_decode(l->rbuf + off, l->rlen - off, &h)) {
			link_fail(l, "session", "malformed or oversized record");
			return false;
		}
		if (RECORD_HDR_LEN + (size_t)h.len > sizeof(l->rbuf)) {
			/* Only unknown types may be this long; we cannot hold them, so give up. */
			link_fail(l, "session", "record too large for this agent");
			return false;
		}
		if (l->rlen - off < RECORD_HDR_LEN + h.len)
			break;
		alive = link_on_record(l, &h, l->rbuf + off + RECORD_HDR_LEN) && !l->closing;
		off += RECORD_HDR_LEN + h.len;
	}
	if (alive && off) {
		memmove(l->rbuf, l->rbuf + off, l->rlen - off);
		l->rlen -= off;
	}
	return alive;
}

static void
link_read(struct link *l)
{
	for (int i = 0; i < LINK_RECORDS_PER_TURN; i++) {
		uint32_t want = 0;
		ssize_t n =
		    tls_conn_read(l->tls, l->rbuf + l->rlen, sizeof(l->rbuf) - l->rlen, &want);

		if (n == -EAGAIN) {
			link_set_events(l, want);
			return;
		}
		if (n <= 0) {
			if (n == 0)
				link_close(l);
			else
				link_fail(l, "read", tls_conn_error(l->tls));
			return;
		}
		l->rlen += (size_t)n;
		if (!link_parse(l))
			return;
	}
}

static void
link_free(struct link *l)
{
	free(l->wbuf);
	free(l);
}

/*
 * While this runs, link_close() does not free the link (the handler and what it calls, the peer
 * state machine included, may close it, e.g. on a failed write, and still hold the pointer);
 * the free happens here on the way out.
 */
static void
link_on_io(struct ev_io *io, uint32_t revents)
{
	struct link *l = container_of(io, struct link, io);

	l->busy = true;
	switch (l->state) {
	case LINK_CONNECTING:
		link_on_connected(l);
		break;
	case LINK_HANDSHAKE:
		link_handshake(l);
		break;
	case LINK_HELLO:
	case LINK_UP:
		if ((revents & EV_WRITE) && !link_flush(l))
			break;
		if (revents & EV_READ)
			link_read(l);
		break;
	}
	l->busy = false;
	if (l->closing)
		link_free(l);
}

static void
link_on_deadline(struct ev_timer *t)
{
	struct link *l = container_of(t, struct link, deadline);

	link_fail(l, l->state == LINK_CONNECTING ? "connect" : "handshake", "timed out");
}

void
link_close(struct link *l)
{
	struct agent *a = l->agent;
	struct link **pp;
	bool failed_dial = l->is_client && l->state != LINK_UP;

	if (l->closing)
		return;
	l->closing = true;
	for (pp = &a->links; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			a->nlinks--;
			break;
		}
	}
	ev_io_stop(a->loop, &l->io);
	ev_timer_stop(a->loop, &l->deadline);
	if (l->pending) {
		session_index_del(a->index, l->pending);
		session_keypair_wipe(l->pending);
		free(l->pending);
	}
	tls_conn_free(l->tls);
	close(l->fd);
	if (l->peer) {
		if (failed_dial)
			peer_on_link_failed(l->peer, l);
		else
			peer_on_link_closed(l->peer, l);
	}
	if (!l->busy)
		link_free(l);
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
