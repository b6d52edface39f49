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
 *   an agent of this domain, or another domain's server (server@X, HELLO role server):
 *                                          CONTACT, ANSWER, RELAY, RELAY_FRAME, OFFER
 *                                          (rendezvous.c, relay.c: each checks the hop)
 * Unknown record types are skipped. A malformed message gets a CTL_ERROR and the connection is
 * closed. Timer: each connection's stream deadline, re-armed on every record, closes it after
 * SERVER_IDLE_MS of silence (agents ping more often than that).
 *
 * Timer: an anonymous connection's lifetime (SERVER_ANON_LIFETIME_MS from its handshake),
 * and its stream deadline is SERVER_ANON_IDLE_MS instead.
 *
 * Bounds, all derived at start (serve_limits) from the descriptors the process really got:
 *   capacity     min(SERVER_MAX_CONNS, RLIMIT_NOFILE after raising it to the hard limit,
 *                minus SERVER_FD_RESERVE), logged at start;
 *   per network  (an IPv4 address, an IPv6 /64; addrcount.h) for a connection's whole life:
 *                min(SERVER_CONNS_PER_SOURCE, capacity / SERVER_SOURCE_SHARE_DIV, at least 4),
 *                of which SERVER_PREHELLO_PER_SOURCE before HELLO and SERVER_ANON_PER_SOURCE
 *                without a certificate;
 *   anonymous    capacity / SERVER_ANON_SHARE_DIV in all;
 *   output       a stream with more than STREAM_WBUF_LOW of answers not yet read is not read
 *                from until they drain (stream_set_backpressure), so a client that sends and
 *                never reads holds a few tens of KiB, not STREAM_WBUF_SIZE;
 *   NOTARY_REQ   SERVER_NOTARY_BURST_SOURCE, then SERVER_NOTARY_RATE_SOURCE per second per
 *                network; more get CTL_ERR_RATE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/stream.h"
#include "core/addrcount.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/sockaddr.h"
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

static void serve_log_refusal(struct sconn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* c said HELLO, or is gone: it no longer counts against its network's limit. */
static void
sconn_uncount(struct sconn *c)
{
	if (c->prehello)
		addrcount_dec(c->srv->primary->prehello, &c->from);
	c->prehello = false;
}

/* c is gone: it no longer counts at all. */
static void
sconn_uncount_all(struct sconn *c)
{
	struct server *p = c->srv->primary;

	sconn_uncount(c);
	addrcount_dec(p->by_source, &c->from);
	if (c->anon) {
		addrcount_dec(p->anon, &c->from);
		p->nanon--;
		ev_timer_stop(p->loop, &c->lifetime);
	}
	c->anon = false;
}

static void
serve_on_lifetime(struct ev_timer *t)
{
	struct sconn *c = container_of(t, struct sconn, lifetime);

	sconn_close(c, "an anonymous connection's lifetime is over");
}

/*
 * c presented no certificate: it takes one of its network's anonymous places and of the
 * anonymous share, for a bounded time; false (closed) if there is none.
 */
static bool
serve_count_anon(struct sconn *c)
{
	struct server *p = c->srv->primary;
	uint32_t n;

	if (p->nanon >= p->anon_max) {
		serve_log_refusal(c, "at the limit of %u anonymous connections", p->anon_max);
		return false;
	}
	n = addrcount_inc(p->anon, &c->from);
	if (n == 0 || n > p->anon_per_source) {
		if (n)
			addrcount_dec(p->anon, &c->from);
		serve_log_refusal(c, "%u anonymous connections from its network already",
				  p->anon_per_source);
		return false;
	}
	c->anon = true;
	p->nanon++;
	ev_timer_start(p->loop, &c->lifetime, SERVER_ANON_LIFETIME_MS, serve_on_lifetime);
	stream_set_deadline(c->s, SERVER_ANON_IDLE_MS);
	return true;
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

/* Says (rate-limited) why an established connection is refused, and closes it. */
static void
serve_log_refusal(struct sconn *c, const char *fmt, ...)
{
	struct server *p = c->srv->primary;
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->srv->refused++;
	if (log_ratelimit_ok(&p->refusal_rl, ev_now_ms(p->loop)))
		log_warnx("refused a connection from %s: %s", c->addr, why);
	sconn_close(c, why);
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
		const char *domain = identity_domain_of(ci->subject);

		snprintf(c->peer, sizeof(c->peer), "%s", ci->subject);
		memcpy(c->fpr, ci->fpr, sizeof(c->fpr));
		if (domain && strcmp(domain, c->srv->domain))
			log_info(
			    "%s (%s): certificate of another domain verified against its pinned "
			    "CA",
			    c->peer, c->addr);
	}
	log_debug(LOG_CTL, "connection from %s established (%s)", c->addr,
		  c->peer[0] ? c->peer : "no certificate");
	stream_set_deadline(s, SERVER_IDLE_MS);
	stream_set_backpressure(s, STREAM_WBUF_LOW);
	if (!ci && tls_conn_deferred_cert(stream_tls(s), &(size_t){ 0 }))
		federation_foreign_cert(c); /* may close s */
	else if (!ci)
		serve_count_anon(c); /* may close s */
}

static bool
serve_hello_send(struct sconn *c)
{
	struct ctlmsg r = { .type = CTL_HELLO };

	r.u.hello.version = CTL_VERSION;
	r.u.hello.role = CTL_ROLE_SERVER;
	snprintf(r.u.hello.name, sizeof(r.u.hello.name), "%s", c->srv->domain);
	return sconn_send(c, &r);
}

void
serve_hello_release(struct sconn *c)
{
	if (!c->hello_held)
		return;
	c->hello_held = false;
	relay_udp_conn_up(c); /* its certificate is verified now */
	serve_hello_send(c);
}

/*
 * Tells an agent where its connection came from as we see it (CTL_OBSERVED): behind a NAT that
 * keeps ports, and dialed from its peer port, that is the NAT's TCP mapping of the peer port,
 * which it offers for a simultaneous open (docs/direct-paths.md). A sconn's address is
 * never anything but IPv4 or IPv6.
 */
static bool
serve_observed_send(struct sconn *c)
{
	struct ctlmsg r = { .type = CTL_OBSERVED };
	struct sockaddr_storage from;

	sockaddr_unmap(&c->from, &from);
	if (from.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&from;

		r.u.observed.family = 4;
		memcpy(r.u.observed.addr, &s4->sin_addr, 4);
		r.u.observed.port = ntohs(s4->sin_port);
	} else if (from.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&from;

		r.u.observed.family = 6;
		memcpy(r.u.observed.addr, &s6->sin6_addr, 16);
		r.u.observed.port = ntohs(s6->sin6_port);
	}
	if (!r.u.observed.family || !r.u.observed.port)
		return true; /* a test's socketpair: nothing to tell */
	return sconn_send(c, &r);
}

static bool
serve_hello(struct sconn *c, const struct ctlmsg *m)
{
	size_t len;

	if (c->peer[0] && strcmp(m->u.hello.name, c->peer)) {
		sconn_send_error(c, CTL_ERR_PROTOCOL, "HELLO names %s but the certificate names %s",
				 m->u.hello.name, c->peer);
		return false;
	}
	c->hello = true;
	c->role = m->u.hello.role;
	sconn_uncount(c);
	rdv_agent_up(c); /* an agent of ours: records for it come here now */
	relay_udp_conn_up(c);
	/*
	 * Another domain's server whose certificate is still being judged (federation.c: its CA
	 * fetched and pinned first) hears our HELLO only once it is verified, so that it sends its
	 * rendezvous records (peering.c) when they can be taken.
	 */
	if (!c->peer[0] && c->role == CTL_ROLE_SERVER &&
	    tls_conn_deferred_cert(stream_tls(c->s), &len)) {
		c->hello_held = true;
		return true;
	}
	return serve_hello_send(c) && (c->role != CTL_ROLE_AGENT || serve_observed_send(c));
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

/* Each NOTARY_REQ is a store lookup on the loop: a network gets a burst, then a rate. */
static void
serve_notary(struct sconn *c, const struct ctlmsg *m)
{
	struct server *p = c->srv->primary;
	uint64_t now = ev_now_ms(p->loop);

	if (!ratelimit_allow(p->rl_notary, c->net, now)) {
		sconn_send_error(c, CTL_ERR_RATE,
				 "too many notary questions from %s; try again in %llu ms", c->net,
				 (unsigned long long)ratelimit_wait_ms(p->rl_notary, c->net, now));
		return;
	}
	federation_notary(c, m->u.req.domain);
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
		serve_notary(c, m);
		return true;
	case CTL_PING:
		r = (struct ctlmsg){ .type = CTL_PONG, .u.ping.nonce = m->u.ping.nonce };
		return sconn_send(c, &r);
	case CTL_CONTACT:
	case CTL_ANSWER:
	case CTL_RELAY:
	case CTL_RELAY_FRAME:
	case CTL_OFFER:
		rdv_dispatch(c, m);
		return true;
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

	stream_set_deadline(s, c->anon ? SERVER_ANON_IDLE_MS : SERVER_IDLE_MS);
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
	sconn_uncount_all(c);
	federation_forget(srv, c);
	rdv_agent_down(c);
	relay_udp_conn_down(c);
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

/* Counts a new connection against its network (whole life, and before HELLO); false if it
 * is over either limit (then it is refused and closed, nothing counted). */
static bool
serve_count_source(struct server *srv, int fd, const struct sockaddr_storage *from)
{
	uint32_t n = addrcount_inc(srv->by_source, from), pre;

	if (n == 0 || n > srv->per_source) {
		if (n)
			addrcount_dec(srv->by_source, from);
		serve_refuse(srv, fd, from, "%u connections from its network already",
			     srv->per_source);
		return false;
	}
	pre = addrcount_inc(srv->prehello, from);
	if (pre == 0 || pre > SERVER_PREHELLO_PER_SOURCE) {
		if (pre)
			addrcount_dec(srv->prehello, from);
		addrcount_dec(srv->by_source, from);
		serve_refuse(srv, fd, from,
			     "%d connections from its network have not said HELLO yet",
			     SERVER_PREHELLO_PER_SOURCE);
		return false;
	}
	return true;
}

/* A connection from the listener (core/listener.h): counted, bounded, and given a stream. */
static void
serve_on_accept(void *arg, int fd, const struct sockaddr_storage *from_)
{
	struct server *srv = arg;
	struct sockaddr_storage from = *from_;
	struct sconn *c;

	if (srv->nconns >= srv->capacity || !(c = calloc(1, sizeof(*c)))) {
		serve_refuse(srv, fd, &from, "at the limit of %u connections", srv->capacity);
		return;
	}
	if (!serve_count_source(srv, fd, &from)) {
		free(c);
		return;
	}
	c->srv = srv;
	c->from = from;
	c->prehello = true;
	serve_host(&from, c->host, sizeof(c->host));
	addrcount_net(&from, c->net, sizeof(c->net));
	snprintf(c->addr, sizeof(c->addr), strchr(c->host, ':') ? "[%s]:%u" : "%s:%u", c->host,
		 ntohs(((struct sockaddr_in6 *)&from)->sin6_port));
	if (stream_new(&c->s, srv->loop, srv->tls, fd, false, NULL, &from, &serve_ops, c)) {
		addrcount_dec(srv->prehello, &from);
		addrcount_dec(srv->by_source, &from);
		free(c);
		return;
	}
	stream_set_coalesce(c->s); /* relayed frames, and answers, leave once per turn */
	c->next = srv->conns;
	srv->conns = c;
	srv->nconns++;
}

static const struct listener_ops serve_listener_ops = {
	.on_accept = serve_on_accept,
};

/*
 * Raises the soft descriptor limit to the hard one, and derives every connection bound from
 * what was really obtained: a server left at the usual soft limit of 1,024 would otherwise
 * promise SERVER_MAX_CONNS and fail at accept() long before.
 */
static void
serve_limits(struct server *srv)
{
	struct rlimit rl;
	unsigned long fds = 1024, cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			struct rlimit want = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };

			if (setrlimit(RLIMIT_NOFILE, &want) == 0)
				rl.rlim_cur = rl.rlim_max;
			else
				log_warn("cannot raise the descriptor limit to %llu",
					 (unsigned long long)rl.rlim_max);
		}
		fds = rl.rlim_cur == RLIM_INFINITY ? ULONG_MAX : (unsigned long)rl.rlim_cur;
	}
	cap = fds > 2 * SERVER_FD_RESERVE ? fds - SERVER_FD_RESERVE : fds / 2;
	if (cap > SERVER_MAX_CONNS)
		cap = SERVER_MAX_CONNS;
	if (cap < 1)
		cap = 1;
	srv->fd_limit = fds;
	srv->capacity = (unsigned)cap;
	srv->per_source = srv->capacity / SERVER_SOURCE_SHARE_DIV;
	if (srv->per_source > SERVER_CONNS_PER_SOURCE)
		srv->per_source = SERVER_CONNS_PER_SOURCE;
	if (srv->per_source < 4)
		srv->per_source = 4;
	srv->anon_per_source =
	    SERVER_ANON_PER_SOURCE < srv->per_source ? SERVER_ANON_PER_SOURCE : srv->per_source;
	srv->anon_max = srv->capacity / SERVER_ANON_SHARE_DIV;
	if (srv->anon_max < srv->anon_per_source)
		srv->anon_max = srv->anon_per_source;
	log_info("descriptor limit %lu: up to %u connections, %u per network (%u of them "
		 "anonymous), %u anonymous in all",
		 fds, srv->capacity, srv->per_source, srv->anon_per_source, srv->anon_max);
}

int
serve_listen(struct server *srv)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(srv->opts.port) };
	int one = 1, zero = 0, err, fd;

	serve_limits(srv);
	if ((err = addrcount_new(&srv->prehello, srv->capacity)) ||
	    (err = addrcount_new(&srv->by_source, srv->capacity)) ||
	    (err = addrcount_new(&srv->anon, srv->capacity)) ||
	    (err = ratelimit_new(&srv->rl_notary, SERVER_RATELIMIT_KEYS, SERVER_NOTARY_RATE_SOURCE,
				 SERVER_NOTARY_BURST_SOURCE)))
		return err;
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		log_warn("listen on tcp port %u", srv->opts.port);
		close(fd);
		return err;
	}
	err = listener_new(&srv->listener, srv->loop, fd, 1024, SERVE_ACCEPT_PER_TURN,
			   SERVER_ACCEPT_PAUSE_MS, &serve_listener_ops, srv);
	if (err) {
		errno = -err;
		log_warn("listen on tcp port %u", srv->opts.port);
	}
	return err;
}
