// SPDX-License-Identifier: MIT
/*
 * The server daemon: a TLS listener and its connections.
 *
 * Per connection (struct sconn), the first record must be CTL_HELLO; then, by what the peer
 * proved in the TLS handshake:
 *   no certificate (an agent enrolling):  SALT_REQ, ENROL, CA_REQ, CRL_REQ, PING
 *   a certificate of this domain:          RENEW, CA_REQ, CRL_REQ, NOTARY_REQ, PING
 *   a certificate of another domain:       CA_REQ, CRL_REQ, NOTARY_REQ (answered only from what
 *                                          we know: federation.c), PING
 * Unknown record types are skipped. A malformed message gets a CTL_ERROR and the connection is
 * closed. Timer: each connection's stream deadline, re-armed on every record, closes it after
 * SERVER_IDLE_MS of silence (agents ping more often than that).
 *
 * Bounds: SERVER_MAX_CONNS connections, of which at most SERVER_PREHELLO_PER_SOURCE from one
 * network before they say HELLO (each also closed at the handshake deadline, stream.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/stream.h"
#include "core/addrcount.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/csr.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "server/server.h"

enum { SERVE_ACCEPT_PER_TURN = 64 };

bool
sconn_send(struct sconn *c, const struct ctlmsg *m)
{
	return !c->closed && stream_send_msg(c->s, m);
}

void
sconn_close(struct sconn *c, const char *why)
{
	if (!c->closed)
		stream_close(c->s, why);
}

/* c said HELLO, or is gone: it no longer counts against its network's limit. */
static void
sconn_uncount(struct sconn *c)
{
	if (c->prehello)
		addrcount_dec(c->srv->primary->prehello, &c->from);
	c->prehello = false;
}

void
sconn_send_error(struct sconn *c, uint16_t code, const char *fmt, ...)
{
	struct ctlmsg m = { .type = CTL_ERROR };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m.u.error.message, sizeof(m.u.error.message), fmt, ap);
	va_end(ap);
	m.u.error.code = code;
	c->srv->refused++;
	log_info("refused %s from %s: %s (%s)", c->peer[0] ? c->peer : "a client", c->addr,
		 m.u.error.message, ctlmsg_error_name(code));
	sconn_send(c, &m);
}

/*
 * The client named a hosted domain (SNI) and TLS answered as that domain: from now on the
 * connection is that domain's.
 */
static void
serve_rehome(struct sconn *c, const struct tls_ctx *tls)
{
	struct server *p = c->srv->primary, *to = p;
	struct sconn **pp;

	while (to && to->tls != tls)
		to = server_next_domain(p, to);
	if (!to || to == c->srv)
		return;
	for (pp = &c->srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	c->srv = to;
	c->next = to->conns;
	to->conns = c;
}

static void
serve_on_established(struct stream *s)
{
	struct sconn *c = stream_arg(s);
	const struct cert_info *ci = tls_conn_peer(stream_tls(s));

	serve_rehome(c, tls_conn_ctx(stream_tls(s)));
	if (ci) {
		const char *at = strchr(ci->subject, '@');

		snprintf(c->peer, sizeof(c->peer), "%s", ci->subject);
		memcpy(c->fpr, ci->fpr, sizeof(c->fpr));
		if (at && strcmp(at + 1, c->srv->domain))
			log_info(
			    "%s (%s): certificate of another domain verified against its pinned "
			    "CA",
			    c->peer, c->addr);
	}
	log_debug(LOG_CTL, "connection from %s established (%s)", c->addr,
		  c->peer[0] ? c->peer : "no certificate");
	stream_set_deadline(s, SERVER_IDLE_MS);
	if (!ci && tls_conn_deferred_cert(stream_tls(s), &(size_t){ 0 }))
		federation_foreign_cert(c); /* may close s */
}

static bool
serve_hello(struct sconn *c, const struct ctlmsg *m)
{
	struct ctlmsg r = { .type = CTL_HELLO };

	if (c->peer[0] && strcmp(m->u.hello.name, c->peer)) {
		sconn_send_error(c, CTL_ERR_PROTOCOL, "HELLO names %s but the certificate names %s",
				 m->u.hello.name, c->peer);
		return false;
	}
	c->hello = true;
	sconn_uncount(c);
	r.u.hello.version = CTL_VERSION;
	r.u.hello.role = CTL_ROLE_SERVER;
	snprintf(r.u.hello.name, sizeof(r.u.hello.name), "%s", c->srv->domain);
	return sconn_send(c, &r);
}

static void
serve_ca(struct sconn *c, const struct ctlmsg *m)
{
	struct ctlmsg r = { .type = CTL_CA };

	if (strcmp(m->u.req.domain, c->srv->domain)) {
		sconn_send_error(c, CTL_ERR_UNKNOWN, "this server serves %s, not %s",
				 c->srv->domain, m->u.req.domain);
		return;
	}
	snprintf(r.u.ca.domain, sizeof(r.u.ca.domain), "%s", c->srv->domain);
	r.u.ca.ca = cert_ca_der(c->srv->ca, &r.u.ca.ca_len);
	sconn_send(c, &r);
}

/* One chunk of the current list, from offset (crlpull.h: clients pull the rest). */
bool
serve_send_crl_chunk(struct sconn *c, uint32_t offset)
{
	struct server *srv = c->srv;
	struct ctlmsg r = { .type = CTL_CRL };
	size_t n = srv->crl_len - offset;

	snprintf(r.u.crl.domain, sizeof(r.u.crl.domain), "%s", srv->domain);
	r.u.crl.number = srv->crl_number;
	r.u.crl.issued = srv->crl_issued;
	r.u.crl.total = (uint32_t)srv->crl_len;
	r.u.crl.offset = offset;
	r.u.crl.chunk = srv->crl + offset;
	r.u.crl.chunk_len = n < CTL_BLOB_MAX ? n : CTL_BLOB_MAX;
	return sconn_send(c, &r);
}

static void
serve_crl(struct sconn *c, const struct ctlmsg *m)
{
	struct server *srv = c->srv;

	if (strcmp(m->u.crl_req.domain, srv->domain) || !srv->crl) {
		sconn_send_error(c, CTL_ERR_UNKNOWN, "no revocation list for %s here",
				 m->u.crl_req.domain);
		return;
	}
	if (m->u.crl_req.offset >= srv->crl_len) {
		/* A client that asks past the end had a longer list before: it starts again. */
		sconn_send_error(c, CTL_ERR_PROTOCOL,
				 "revocation list #%llu of %s is %zu bytes; nothing at offset %u",
				 (unsigned long long)srv->crl_number, srv->domain, srv->crl_len,
				 m->u.crl_req.offset);
		return;
	}
	serve_send_crl_chunk(c, m->u.crl_req.offset);
}

/* Dispatches one decoded message; false if the connection must close. */
static bool
serve_dispatch(struct sconn *c, const struct ctlmsg *m)
{
	struct ctlmsg r;

	if (!c->hello) {
		if (m->type != CTL_HELLO) {
			sconn_send_error(c, CTL_ERR_PROTOCOL, "expected HELLO first, got %s",
					 ctlmsg_type_name(m->type));
			return false;
		}
		return serve_hello(c, m);
	}
	switch (m->type) {
	case CTL_SALT_REQ:
		enrol_handle_salt(c, m);
		return true;
	case CTL_ENROL:
		enrol_handle(c, m);
		return true;
	case CTL_RENEW:
		enrol_handle_renew(c, m);
		return true;
	case CTL_CA_REQ:
		serve_ca(c, m);
		return true;
	case CTL_CRL_REQ:
		serve_crl(c, m);
		return true;
	case CTL_NOTARY_REQ:
		federation_notary(c, m->u.req.domain);
		return true;
	case CTL_PING:
		r = (struct ctlmsg){ .type = CTL_PONG, .u.ping.nonce = m->u.ping.nonce };
		return sconn_send(c, &r);
	case CTL_HELLO:
		sconn_send_error(c, CTL_ERR_PROTOCOL, "HELLO sent twice");
		return false;
	default:
		sconn_send_error(c, CTL_ERR_PROTOCOL, "%s is not something a server answers",
				 ctlmsg_type_name(m->type));
		return false;
	}
}

static bool
serve_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct sconn *c = stream_arg(s);
	struct ctlmsg m;

	stream_set_deadline(s, SERVER_IDLE_MS);
	if (!ctlmsg_is_known(type))
		return true; /* skipped: newer peers may speak more */
	if (!ctlmsg_decode(type, body, len, &m)) {
		sconn_send_error(c, CTL_ERR_PROTOCOL, "malformed %s message",
				 ctlmsg_type_name(type));
		stream_close(s, "malformed message");
		return false;
	}
	if (!serve_dispatch(c, &m)) {
		stream_close(s, "protocol error");
		return false;
	}
	return true;
}

static void
serve_on_closed(struct stream *s, const char *why)
{
	struct sconn *c = stream_arg(s);
	struct server *srv = c->srv;
	struct sconn **pp;

	/* Failed handshakes, timeouts and garbage are refusals worth a (rate-limited) line. */
	if (!c->hello && log_ratelimit_ok(&srv->refusal_rl, ev_now_ms(srv->loop)))
		log_info("dropped a connection from %s before HELLO: %s", c->addr, why);
	else
		log_debug(LOG_CTL, "connection from %s (%s) closed: %s", c->addr,
			  c->peer[0] ? c->peer : "no certificate", why);
	for (pp = &srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	srv->primary->nconns--;
	sconn_uncount(c);
	federation_forget(srv, c);
	/* Others may still hold c in this turn (see sconn_send): free it when the turn ends. */
	c->closed = true;
	c->s = NULL;
	c->next = srv->dead;
	srv->dead = c;
}

static const struct stream_ops serve_ops = {
	.on_established = serve_on_established,
	.on_record = serve_on_record,
	.on_closed = serve_on_closed,
};

static void serve_on_accept(struct ev_io *io, uint32_t revents);

static void
serve_on_resume(struct ev_timer *t)
{
	struct server *srv = container_of(t, struct server, accept_pause);

	ev_io_start(srv->loop, &srv->listen_io, srv->listen_fd, EV_READ, serve_on_accept);
}

/*
 * Out of descriptors or memory: the pending connection stays in the listen queue, and the
 * listening socket stays readable, so stop watching it for a moment instead of spinning.
 */
static void
serve_pause_accepting(struct server *srv)
{
	log_warn("accept (pausing new connections for %d ms)", SERVER_ACCEPT_PAUSE_MS);
	ev_io_stop(srv->loop, &srv->listen_io);
	ev_timer_start(srv->loop, &srv->accept_pause, SERVER_ACCEPT_PAUSE_MS, serve_on_resume);
}

/* The address without the port (v4-mapped addresses shown as IPv4). */
static void
serve_host(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, (socklen_t)len);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf,
			  (socklen_t)len);
}

/* Closes an accepted connection at once, saying why in a rate-limited log line. */
static void __attribute__((format(printf, 4, 5)))
serve_refuse(struct server *srv, int fd, const struct sockaddr_storage *from, const char *fmt, ...)
{
	char host[64], why[128];
	va_list ap;

	close(fd);
	if (!log_ratelimit_ok(&srv->refusal_rl, ev_now_ms(srv->loop)))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	serve_host(from, host, sizeof(host));
	log_warnx("refused a connection from %s: %s", host, why);
}

static void
serve_on_accept(struct ev_io *io, uint32_t revents)
{
	struct server *srv = container_of(io, struct server, listen_io);

	(void)revents;
	for (int i = 0; i < SERVE_ACCEPT_PER_TURN; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct sconn *c;
		uint32_t n;
		int fd = accept4(srv->listen_fd, (struct sockaddr *)&from, &fl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				serve_pause_accepting(srv);
			return;
		}
		if (srv->nconns >= SERVER_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
			serve_refuse(srv, fd, &from, "at the limit of %u connections",
				     SERVER_MAX_CONNS);
			continue;
		}
		n = addrcount_inc(srv->prehello, &from);
		if (n == 0 || n > SERVER_PREHELLO_PER_SOURCE) {
			if (n)
				addrcount_dec(srv->prehello, &from);
			free(c);
			serve_refuse(srv, fd, &from,
				     "%d connections from its network have not said HELLO yet",
				     SERVER_PREHELLO_PER_SOURCE);
			continue;
		}
		c->srv = srv;
		c->from = from;
		c->prehello = true;
		serve_host(&from, c->host, sizeof(c->host));
		snprintf(c->addr, sizeof(c->addr), strchr(c->host, ':') ? "[%s]:%u" : "%s:%u",
			 c->host, ntohs(((struct sockaddr_in6 *)&from)->sin6_port));
		if (stream_new(&c->s, srv->loop, srv->tls, fd, false, NULL, &from, &serve_ops, c)) {
			addrcount_dec(srv->prehello, &from);
			free(c);
			continue;
		}
		c->next = srv->conns;
		srv->conns = c;
		srv->nconns++;
	}
}

int
serve_listen(struct server *srv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(srv->opts.port) };
	int one = 1, zero = 0, err;

	if ((err = addrcount_new(&srv->prehello, SERVER_MAX_CONNS)))
		return err;
	srv->listen_fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->listen_fd < 0)
		return -errno;
	setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(srv->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(srv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(srv->listen_fd, 1024) < 0) {
		log_warn("listen on tcp port %u", srv->opts.port);
		return -errno;
	}
	return ev_io_start(srv->loop, &srv->listen_io, srv->listen_fd, EV_READ, serve_on_accept);
}
