// SPDX-License-Identifier: MIT
/*
 * Peer links (link.h): each a record stream (control/stream.c does the connect, the handshake,
 * the buffers and the deadlines, as for the control channel) and, on top, the session it sets
 * up. States and bounds are in link.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "link/link.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "control/stream.h"
#include "core/addrcount.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/sockaddr.h"
#include "path/path.h"
#include "crypto/aead.h"
#include "crypto/tls.h"
#include "peer/peer.h"
#include "proto/record.h"
#include "session/session.h"

enum link_state { LINK_OPENING, LINK_HELLO, LINK_UP };

struct link {
	struct links *t;
	struct peer *peer; /* known at once when dialing; after the handshake when accepted */
	struct link *next; /* t->list */
	struct stream *s;  /* NULL once the stream has closed */
	bool is_client;    /* the TLS client (a simultaneous open may make the dialer the server) */
	bool dialed;       /* we connected: a failure is the dial's (peer_on_dial_failed) */
	bool closing;      /* detached from the table and the peer; freed when nothing holds it */
	unsigned busy;     /* one of its stream callbacks is running: the free waits */
	enum link_state state;
	struct keypair *pending; /* keys derived, waiting for the peer's HELLO */
	struct sockaddr_storage remote;
	bool inbound_counted; /* accepted and not up yet: counted in t->inbound */
};

struct link_handler {
	uint16_t type;
	link_record_fn fn;
	void *arg;
};

struct links {
	struct ev_loop *loop;
	struct tls_ctx *tls;
	struct session_index *index;
	struct peer_table *peers;
	struct link_params params;

	struct link *list;
	size_t n;
	struct addrcount *inbound;          /* accepted links not up yet, per source network */
	struct ratelimit_bucket handshakes; /* inbound handshakes, all sources */
	struct ratelimit *source_rate;      /* inbound handshakes, per source network */
	uint64_t refused;
	struct log_ratelimit refuse_rl;

	struct link_handler handlers[LINK_HANDLERS_MAX];
	size_t nhandlers;
};

static const struct stream_ops link_ops;

const char *
link_who(const struct link *l)
{
	return l->peer ? l->peer->identity : "unknown peer";
}

const struct sockaddr_storage *
link_remote(const struct link *l)
{
	return &l->remote;
}

struct peer *
link_peer(const struct link *l)
{
	return l->peer;
}

bool
link_is_up(const struct link *l)
{
	return l->state == LINK_UP && !l->closing;
}

size_t
links_count(const struct links *t)
{
	return t->n;
}

uint64_t
links_refused(const struct links *t)
{
	return t->refused;
}

int
links_new(struct links **out, struct ev_loop *loop, struct tls_ctx *tls,
	  struct session_index *index, struct peer_table *peers, const struct link_params *params)
{
	struct links *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->tls = tls;
	t->index = index;
	t->peers = peers;
	t->params = *params;
	if ((err = addrcount_new(&t->inbound, params->max_links)) ||
	    (err = ratelimit_new(&t->source_rate, LINK_RATE_SOURCES, params->source_handshake_rate,
				 params->source_handshake_burst)) ||
	    (err = ratelimit_bucket_init(&t->handshakes, params->handshake_rate,
					 params->handshake_burst, ev_now_ms(loop)))) {
		links_free(t, false);
		return err;
	}
	*out = t;
	return 0;
}

int
link_handle(struct links *t, uint16_t type, link_record_fn fn, void *arg)
{
	if (type == RECORD_HELLO || type == RECORD_CLOSE || type == RECORD_CIPHERS)
		return -EEXIST;
	for (size_t i = 0; i < t->nhandlers; i++)
		if (t->handlers[i].type == type)
			return -EEXIST;
	if (t->nhandlers == LINK_HANDLERS_MAX)
		return -ENOSPC;
	t->handlers[t->nhandlers++] = (struct link_handler){ type, fn, arg };
	return 0;
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
		addrcount_dec(l->t->inbound, &l->remote);
	l->inbound_counted = false;
}

/* Takes l out of the table and tells the peer; the stream may still be closing. */
static void
link_detach(struct link *l)
{
	struct links *t = l->t;
	bool failed_dial = l->dialed && l->state != LINK_UP;

	if (l->closing)
		return;
	l->closing = true;
	link_uncount(l);
	for (struct link **pp = &t->list; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			t->n--;
			break;
		}
	}
	if (l->pending) {
		session_index_del(t->index, l->pending);
		session_keypair_wipe(l->pending);
		free(l->pending);
		l->pending = NULL;
	}
	if (l->peer) {
		if (failed_dial)
			peer_on_dial_failed(l->peer);
		else
			peer_on_link_gone(l->peer, l, l->dialed);
	}
}

/* Where the link goes, for logs: an address, or "the relay". */
static void
link_show_remote(const struct link *l, char *buf, size_t len)
{
	if (path_dial_is_relay(&l->remote))
		snprintf(buf, len, "relay");
	else
		sockaddr_show(&l->remote, buf, len);
}

static void
link_fail(struct link *l, const char *what, const char *why)
{
	char addr[64];

	link_show_remote(l, addr, sizeof(addr));
	log_warnx("%s with %s (%s) failed: %s", what, link_who(l), addr, why);
	link_close(l);
}

/* l's stream is made: into the table. */
static void
link_add(struct links *t, struct link *l)
{
	stream_set_bulk(l->s);
	stream_set_coalesce(l->s); /* FRAME records of one turn share TLS records */
	l->next = t->list;
	t->list = l;
	t->n++;
}

/* Takes fd (closed on failure). */
static struct link *
link_new(struct links *t, int fd, bool is_client, struct peer *p,
	 const struct sockaddr_storage *remote)
{
	struct link *l = calloc(1, sizeof(*l));

	if (!l) {
		close(fd);
		return NULL;
	}
	l->t = t;
	l->peer = p;
	l->is_client = l->dialed = is_client;
	l->remote = *remote;
	l->state = LINK_OPENING;
	if (stream_new(&l->s, t->loop, t->tls, fd, is_client, is_client ? p->identity : NULL,
		       remote, &link_ops, l)) {
		free(l);
		return NULL;
	}
	link_add(t, l);
	return l;
}

int
link_dial_fd(struct links *t, struct peer *p, int fd, const struct sockaddr_storage *to)
{
	return link_new(t, fd, true, p, to) ? 0 : -ENOMEM;
}

int
link_dial(struct links *t, struct peer *p, const struct sockaddr_storage *to)
{
	struct sockaddr_storage sa;
	socklen_t sl = sockaddr_for_family(t->params.family, to, &sa);
	int fd = socket(t->params.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sl) < 0 && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return link_dial_fd(t, p, fd, to);
}

int
link_dial_simopen(struct links *t, struct peer *p, int fd, const struct sockaddr_storage *to,
		  bool tls_client)
{
	struct sockaddr_storage sa;
	socklen_t sl = sockaddr_for_family(t->params.family, to, &sa);
	struct link *l;

	if (connect(fd, (struct sockaddr *)&sa, sl) < 0 && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (!(l = calloc(1, sizeof(*l)))) {
		close(fd);
		return -ENOMEM;
	}
	l->t = t;
	l->peer = p;
	l->is_client = tls_client;
	l->dialed = true;
	l->remote = *to;
	l->state = LINK_OPENING;
	/* As the TLS server the certificate is checked against p in link_on_established. */
	if (stream_new_simopen(&l->s, t->loop, t->tls, fd, tls_client, p->identity, to, &link_ops,
			       l)) {
		free(l);
		return -ENOMEM;
	}
	link_add(t, l);
	return 0;
}

/* A connection refused at once: counted, and said (rate-limited). */
static void
link_refuse(struct links *t, int fd, const char *why)
{
	close(fd);
	t->refused++;
	if (log_ratelimit_ok(&t->refuse_rl, ev_now_ms(t->loop)))
		log_debug(LOG_DATA, "dropped a packet (link_refused): %s", why);
}

/* The source network of addr as a rate-limit key: the address, or its /64 for IPv6. */
static void
link_source_key(const struct sockaddr_storage *addr, char *key, size_t size)
{
	struct sockaddr_storage net;

	sockaddr_unmap(addr, &net);
	if (net.ss_family == AF_INET6)
		memset(((struct sockaddr_in6 *)&net)->sin6_addr.s6_addr + 8, 0, 8);
	if (net.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&net)->sin_addr, key, (socklen_t)size);
	else if (net.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&net)->sin6_addr, key,
			  (socklen_t)size);
	else
		snprintf(key, size, "family %d", net.ss_family);
}

void
link_accept(struct links *t, int fd, const struct sockaddr_storage *from)
{
	uint64_t now = ev_now_ms(t->loop);
	char key[INET6_ADDRSTRLEN + 16];
	struct link *l;
	uint32_t n;

	if (t->n >= t->params.max_links) {
		/* Handshakes in progress are bounded: more wait for a slot in the kernel's queue,
		 * or are refused by it. */
		link_refuse(t, fd, "too many links in progress");
		return;
	}
	/*
	 * Each handshake costs a key exchange and a signature check on the loop: their rate is
	 * bounded, and one network cannot spend all of it.
	 */
	link_source_key(from, key, sizeof(key));
	if (!ratelimit_allow(t->source_rate, key, now)) {
		link_refuse(t, fd, "handshakes from one network over their rate");
		return;
	}
	if (!ratelimit_bucket_take(&t->handshakes, now)) {
		link_refuse(t, fd, "handshakes over their rate");
		return;
	}
	/*
	 * And one network cannot hold all the slots: a handshake takes milliseconds, so only a
	 * crowd of silent or slow connections reaches inbound_per_source.
	 */
	n = addrcount_inc(t->inbound, from);
	if (n == 0 || n > t->params.inbound_per_source) {
		if (n)
			addrcount_dec(t->inbound, from);
		link_refuse(t, fd, "too many links in progress from one network");
		return;
	}
	if ((l = link_new(t, fd, false, NULL, from)))
		l->inbound_counted = true;
	else
		addrcount_dec(t->inbound, from);
}

void
link_accept_relayed(struct links *t, int fd, struct peer *p)
{
	uint64_t now = ev_now_ms(t->loop);

	/* The relay admitted only an approved peer's channel: no per-network count applies, but
	 * the handshake still costs what any does. */
	if (t->n >= t->params.max_links) {
		link_refuse(t, fd, "too many links in progress");
		return;
	}
	if (!ratelimit_bucket_take(&t->handshakes, now)) {
		link_refuse(t, fd, "handshakes over their rate");
		return;
	}
	link_new(t, fd, false, p, &path_relay_addr);
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
	struct links *t = l->t;
	struct tls_conn *tls = stream_tls(s);
	const struct cert_info *ci = tls_conn_peer(tls);
	uint8_t exported[SESSION_EXPORT_LEN], body[HELLO_LEN];
	struct hello h = { .version = HELLO_VERSION };
	struct keypair *kp;

	if (!l->peer) {
		l->peer = peer_find(t->peers, ci->subject);
		if (!l->peer) {
			link_fail(l, "handshake",
				  "certificate is valid but names no configured peer");
			return;
		}
	} else if (!l->is_client && strcmp(ci->subject, l->peer->identity)) {
		/* A relayed channel is from the peer its server named, a simultaneous open with the
		 * peer we dialed: the certificate must say so. */
		link_fail(l, "handshake", "certificate names another peer than the relay did");
		return;
	}
	kp = calloc(1, sizeof(*kp));
	if (!kp || tls_conn_export(tls, SESSION_EXPORTER_LABEL, exported, sizeof(exported))) {
		free(kp);
		link_fail(l, "handshake", "cannot derive data keys");
		return;
	}
	session_keypair_init(kp, exported, l->is_client, ev_now_ms(t->loop));
	/* AES-256-GCM's keys are its own (another label): no key serves both ciphers. */
	if (t->params.aes &&
	    !tls_conn_export(tls, SESSION_EXPORTER_LABEL_AES, exported, sizeof(exported)))
		session_keypair_init_aes(kp, exported);
	crypto_wipe(exported, sizeof(exported));
	kp->owner = l->peer;
	if (session_index_add(t->index, kp)) {
		session_keypair_wipe(kp);
		free(kp);
		link_fail(l, "handshake", "no free receiver index");
		return;
	}
	l->pending = kp;
	l->state = LINK_HELLO;
	stream_set_deadline(s, LINK_HELLO_TIMEOUT_MS);
	h.receiver = kp->local_index;
	memcpy(h.addr4, t->params.own4, 4);
	memcpy(h.addr6, t->params.own6, 16);
	hello_encode(body, &h);
	if (log_debug_enabled(LOG_HANDSHAKE)) {
		char params[96];

		tls_conn_describe(tls, params, sizeof(params));
		log_debug(LOG_HANDSHAKE, "handshake with %s done (%s), sending HELLO (index %08x)",
			  link_who(l), params, kp->local_index);
	}
	if (kp->has_aes) {
		uint8_t bits = CIPHERS_AES256GCM;

		link_send_record(l, RECORD_CIPHERS, &bits, sizeof(bits));
	}
	link_send_record(l, RECORD_HELLO, body, sizeof(body));
}

/* The peer's CIPHERS, before its HELLO: frames to it are sealed with AES-256-GCM if it opens them.
 */
static bool
link_on_ciphers(struct link *l, const uint8_t *body, size_t len)
{
	uint8_t bits;

	if (!ciphers_decode(body, len, &bits)) {
		link_fail(l, "session", "malformed CIPHERS");
		return false;
	}
	/* Only before HELLO: once the peer has the keypair its cipher stays. */
	if (l->state == LINK_HELLO && (bits & CIPHERS_AES256GCM))
		session_keypair_send_aes(l->pending);
	return true;
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
	old = peer_on_session(l->peer, l, kp, l->dialed, &l->remote,
			      tls_conn_peer(stream_tls(l->s))->fpr, hello.addr4, hello.addr6);
	if (old)
		link_close(old);
	return !l->closing;
}

static bool
link_on_record(struct link *l, uint16_t type, const uint8_t *body, size_t len)
{
	const struct links *t = l->t;

	switch (type) {
	case RECORD_HELLO:
		return link_on_hello(l, body, len);
	case RECORD_CIPHERS:
		return link_on_ciphers(l, body, len);
	case RECORD_CLOSE:
		log_info("peer %s closed the session (shutting down)", link_who(l));
		if (l->state == LINK_UP)
			peer_on_close(l->peer);
		link_close(l);
		return false;
	}
	if (l->state != LINK_UP)
		return true; /* nothing but HELLO counts before the session is up */
	for (size_t i = 0; i < t->nhandlers; i++)
		if (t->handlers[i].type == type)
			return t->handlers[i].fn(t->handlers[i].arg, l, type, body, len);
	return true; /* unknown types are skipped: the protocol can grow */
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
		link_show_remote(l, addr, sizeof(addr));
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
link_close_peer(struct links *t, struct peer *p)
{
	for (struct link *l = t->list, *next; l; l = next) {
		next = l->next;
		if (l->peer == p) {
			link_close(l);
			next = t->list; /* closing may have changed the list: start over */
		}
	}
}

void
links_free(struct links *t, bool say_goodbye)
{
	if (!t)
		return;
	while (t->list) {
		struct link *l = t->list;

		if (say_goodbye && l->state == LINK_UP)
			link_send_record(l, RECORD_CLOSE, NULL, 0);
		/* link_send_record may have closed it already on a write error. */
		if (t->list == l)
			link_close(l);
	}
	ratelimit_free(t->source_rate);
	addrcount_free(t->inbound);
	free(t);
}
