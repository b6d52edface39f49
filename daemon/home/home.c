// SPDX-License-Identifier: MIT
/*
 * The channel to the home server (home.h): connection and backoff, renewal, the domain's
 * revocation list, notary questions, and the handler table for the messages of the modules
 * above.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "home/home.h"

#include "control/crlpull.h"
#include "control/ctlquery.h"
#include "control/resolve.h"
#include "control/stream.h"
#include "crypto/aead.h"
#include "crypto/cert.h"
#include "crypto/crl.h"
#include "crypto/csr.h"
#include "crypto/tls.h"
#include "core/backoff.h"
#include "core/dial.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/sockaddr.h"
#include "proto/ctlmsg.h"
#include "trust/identity.h"

enum home_state { HOME_DOWN, HOME_CONNECTING, HOME_UP };

struct home_handler {
	uint16_t type;
	home_msg_fn fn;
	void *arg;
};

struct home {
	struct ev_loop *loop;
	struct tls_ctx *tls;
	struct cert_trust *trust;
	struct home_params params;
	struct home_ops ops;
	void *arg;
	char domain[IDENTITY_DOMAIN_MAX + 1];
	struct home_handler handlers[HOME_HANDLERS_MAX];
	size_t nhandlers;

	struct stream *s;
	struct resolve *resolve; /* while its server is being looked up (DNS, off the loop) */
	enum home_state state;
	unsigned backoff_ms;
	char server_name[IDENTITY_STR_MAX + 8]; /* server@DOMAIN */
	char addr[64];
	uint64_t ping_nonce;
	unsigned next_addr; /* which of the server's addresses the next attempt dials */
	bool renew_due;
	bool stopping;
	struct crl_pull crl_pull;                                /* a list arriving in chunks */
	char queued[HOME_NOTARY_QUEUE][IDENTITY_DOMAIN_MAX + 1]; /* notary questions for when up */
	size_t nqueued;
	int64_t last_renewal;
	struct ev_timer retry_timer, ping_timer, renew_timer;
};

static const char *const home_state_names[] = { "down", "connecting", "up" };

static const char *
home_domain(const struct home *h)
{
	return h->domain;
}

static void home_connect(struct home *h);

static void
home_on_retry(struct ev_timer *t)
{
	home_connect(container_of(t, struct home, retry_timer));
}

static void
home_schedule_retry(struct home *h)
{
	unsigned wait = backoff_next(&h->backoff_ms, HOME_RETRY_MIN_MS, HOME_RETRY_MAX_MS);
	uint32_t jitter = 0;

	crypto_random(&jitter, sizeof(jitter));
	ev_timer_start(h->loop, &h->retry_timer, backoff_jitter(wait, jitter), home_on_retry);
}

static bool
home_send(struct home *h, const struct ctlmsg *m)
{
	return h->s && stream_send_msg(h->s, m);
}

static bool
home_send_notary_req(struct home *h, const char *domain)
{
	struct ctlmsg m = { .type = CTL_NOTARY_REQ };

	snprintf(m.u.req.domain, sizeof(m.u.req.domain), "%s", domain);
	return home_send(h, &m);
}

static void
home_send_renew(struct home *h)
{
	struct ctlmsg m = { .type = CTL_RENEW };
	uint8_t csr[CSR_DER_MAX];
	int n = csr_new(h->params.key_path, h->params.identity, csr, sizeof(csr));

	if (n < 0) {
		log_warnx("home: cannot make a certificate request: %s", cert_strerror());
		return;
	}
	m.u.renew.csr = csr;
	m.u.renew.csr_len = (size_t)n;
	if (home_send(h, &m)) {
		log_info("home: asking %s to renew our certificate", h->addr);
		h->renew_due = false;
	}
}

static void
home_on_renew_timer(struct ev_timer *t)
{
	struct home *h = container_of(t, struct home, renew_timer);

	h->renew_due = true;
	if (h->state == HOME_UP)
		home_send_renew(h);
}

/* Arms renew_timer at two thirds of the current certificate's lifetime. */
static void
home_schedule_renewal(struct home *h)
{
	const struct cert_info *ci = tls_ctx_cert(h->tls);
	int64_t now = time(NULL), at = ci->not_before + (ci->not_after - ci->not_before) * 2 / 3;
	uint64_t ms = at > now ? (uint64_t)(at - now) * 1000 : 0;

	if (ms < HOME_RENEW_MIN_MS)
		ms = HOME_RENEW_MIN_MS;
	ev_timer_start(h->loop, &h->renew_timer, ms, home_on_renew_timer);
}

/* A renewed certificate: ours, for our key, from our CA; then used for new connections. */
static void
home_on_cert(struct home *h, const struct ctlmsg *m)
{
	const struct cert_info *old = tls_ctx_cert(h->tls);
	struct cert_info ci;
	const char *why = NULL;
	char until[32];

	if (cert_trust_verify(h->trust, m->u.cert.cert, m->u.cert.cert_len, time(NULL), &ci,
			      &why)) {
		log_warnx("home: refusing the renewed certificate: %s",
			  why ? why : "it does not verify");
		return;
	}
	if (strcmp(ci.subject, h->params.identity) ||
	    memcmp(ci.pubkey, old->pubkey, sizeof(ci.pubkey))) {
		log_warnx("home: refusing the renewed certificate: it is not for our identity and "
			  "key");
		return;
	}
	if (cert_write_pem(h->params.cert_path, m->u.cert.cert, m->u.cert.cert_len) ||
	    tls_ctx_reload(h->tls, h->params.key_path, h->params.cert_path)) {
		log_warnx("home: cannot install the renewed certificate in %s: %s",
			  h->params.cert_path, cert_strerror());
		return;
	}
	h->last_renewal = time(NULL);
	cert_time_format(ci.not_after, until, sizeof(until));
	log_info("home: certificate renewed, valid until %s", until);
	home_schedule_renewal(h);
}

static bool
home_ask_crl(struct home *h, uint32_t offset)
{
	struct ctlmsg m = { .type = CTL_CRL_REQ };

	snprintf(m.u.crl_req.domain, sizeof(m.u.crl_req.domain), "%s", home_domain(h));
	m.u.crl_req.offset = offset;
	return home_send(h, &m);
}

/*
 * A chunk of our domain's revocation list. A first chunk of a list no newer than ours is
 * ignored (every push and every reconnect sends one); otherwise chunks are gathered until the
 * list is whole, then it is verified against our domain's CA and applied (domains.h).
 */
static void
home_on_crl(struct home *h, const struct ctlmsg *m)
{
	if (m->u.crl.offset == 0 &&
	    !cert_trust_crl_is_newer(h->trust, home_domain(h), m->u.crl.number, m->u.crl.issued))
		return;
	switch (crl_pull_on_chunk(&h->crl_pull, m)) {
	case CRL_PULL_MORE:
		home_ask_crl(h, h->crl_pull.have);
		return;
	case CRL_PULL_RESTART:
		log_debug(LOG_CTL, "home: the revocation list changed while we fetched it");
		home_ask_crl(h, 0);
		return;
	case CRL_PULL_BAD:
		log_warnx("home: refusing a revocation list chunk for %s", m->u.crl.domain);
		return;
	case CRL_PULL_DONE:
		break;
	}
	h->ops.on_crl(h->arg, home_domain(h), h->crl_pull.buf, h->crl_pull.total, h->addr);
	crl_pull_reset(&h->crl_pull);
}

static void
home_on_ping_timer(struct ev_timer *t)
{
	struct home *h = container_of(t, struct home, ping_timer);
	struct ctlmsg m = { .type = CTL_PING, .u.ping.nonce = ++h->ping_nonce };

	if (h->state != HOME_UP)
		return;
	home_send(h, &m);
	ev_timer_start(h->loop, t, HOME_PING_MS, home_on_ping_timer);
}

static void
home_on_established(struct stream *s)
{
	struct home *h = stream_arg(s);
	struct ctlmsg m = { .type = CTL_HELLO };

	m.u.hello.version = CTL_VERSION;
	m.u.hello.role = CTL_ROLE_AGENT;
	/* Fits: our certificate names this identity, and certificate names are <= 63 bytes. */
	snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%.*s", CTL_STR_MAX, h->params.identity);
	if (!home_send(h, &m))
		return;   /* the stream closed (a refused certificate, say): home_on_closed ran */
	h->next_addr = 0; /* this address works: the first again next time */
	crl_pull_reset(&h->crl_pull); /* a pull the last connection left half done */
	if (!home_ask_crl(h, 0))
		return;
	h->state = HOME_UP;
	h->backoff_ms = 0;
	log_info("home: connected to %s (%s)", h->server_name, h->addr);
	stream_set_deadline(s, 3 * HOME_PING_MS);
	ev_timer_start(h->loop, &h->ping_timer, HOME_PING_MS, home_on_ping_timer);
	if (h->renew_due)
		home_send_renew(h);
	for (size_t i = 0; i < h->nqueued; i++)
		if (!home_send_notary_req(h, h->queued[i]))
			return;
	h->nqueued = 0;
	if (h->ops.on_state)
		h->ops.on_state(h->arg, true);
}

static bool
home_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct home *h = stream_arg(s);
	struct ctlmsg m;

	stream_set_deadline(s, 3 * HOME_PING_MS);
	if (!ctlmsg_is_known(type))
		return true;
	if (!ctlmsg_decode(type, body, len, &m)) {
		stream_close(s, "malformed message from the server");
		return false;
	}
	switch (type) {
	case CTL_CERT:
		home_on_cert(h, &m);
		break;
	case CTL_CRL:
		home_on_crl(h, &m);
		break;
	case CTL_ERROR:
		log_warnx("home: %s says: %s (%s)", h->server_name, m.u.error.message,
			  ctlmsg_error_name(m.u.error.code));
		break;
	case CTL_HELLO:
	case CTL_PONG:
		break; /* nothing to do but what every message does: the deadline above */
	default:
		for (size_t i = 0; i < h->nhandlers; i++)
			if (h->handlers[i].type == type)
				h->handlers[i].fn(h->handlers[i].arg, &m);
		break;
	}
	return true;
}

static void
home_on_closed(struct stream *s, const char *why)
{
	struct home *h = stream_arg(s);
	bool was_up = h->state == HOME_UP;

	h->s = NULL;
	if (h->stopping)
		return;
	if (was_up)
		log_warnx("home: connection to %s lost: %s", h->addr, why);
	else
		log_warnx("home: cannot connect to %s (%s): %s", h->server_name, h->addr, why);
	h->state = HOME_DOWN;
	h->nqueued = 0; /* their rounds end by their own timers */
	ev_timer_stop(h->loop, &h->ping_timer);
	home_schedule_retry(h);
	if (was_up && h->ops.on_state)
		h->ops.on_state(h->arg, false);
}

bool
home_send_msg(struct home *h, const struct ctlmsg *m)
{
	return h->state == HOME_UP && home_send(h, m);
}

size_t
home_pending_output(const struct home *h)
{
	return h->s ? stream_pending_output(h->s) : 0;
}

bool
home_is_up(const struct home *h)
{
	return h->state == HOME_UP;
}

bool
home_server_addr(const struct home *h, struct sockaddr_storage *out)
{
	if (h->state != HOME_UP || !h->s)
		return false;
	*out = *stream_remote(h->s);
	return true;
}

int
home_export(const struct home *h, const char *label, uint8_t *out, size_t len)
{
	if (h->state != HOME_UP || !h->s)
		return -ENOTCONN;
	return tls_conn_export(stream_tls(h->s), label, out, len);
}

static const struct stream_ops home_ops = {
	.on_established = home_on_established,
	.on_record = home_on_record,
	.on_closed = home_on_closed,
};

/*
 * A TCP connection from params.local_port: 0, or -errno when that port cannot be used for it
 * now (taken for this destination, say): then the caller dials from any port.
 */
static int
home_connect_from_port(struct home *h, const struct sockaddr_storage *to)
{
	int fd = dial_socket_from(to->ss_family, h->params.local_port), err;

	if (fd < 0)
		return fd;
	err = stream_connect_fd(&h->s, h->loop, h->tls, fd, to, home_domain(h), h->server_name,
				&home_ops, h);
	if (err)
		log_debug(LOG_CTL, "home: cannot connect to %s from port %u (%s): from any port",
			  h->addr, h->params.local_port, strerror(-err));
	return err;
}

static void
home_connect_to(struct home *h, const struct sockaddr_storage *to)
{
	int err;

	sockaddr_format(to, h->addr, sizeof(h->addr));
	h->state = HOME_CONNECTING;
	if (!h->params.dial) {
		err = h->params.local_port ? home_connect_from_port(h, to) : -1;
		if (err)
			err = stream_connect(&h->s, h->loop, h->tls, to, home_domain(h),
					     h->server_name, &home_ops, h);
	} else {
		int fd = h->params.dial(h->params.dial_arg, to);

		err = fd < 0 ? fd
			     : stream_new(&h->s, h->loop, h->tls, fd, true, h->server_name, to,
					  &home_ops, h);
	}
	if (err) {
		log_warnx("home: cannot connect to %s: %s", h->addr, strerror(-err));
		h->s = NULL;
		h->state = HOME_DOWN;
		home_schedule_retry(h);
		return;
	}
	stream_set_coalesce(h->s); /* relayed frames come in bursts */
}

static void
home_on_resolved(void *arg, const struct discover_result *found, int n, const char *why)
{
	struct home *h = arg;

	if (n <= 0) {
		log_warnx("home: cannot find the server of %s: %s", home_domain(h), why);
		h->state = HOME_DOWN;
		home_schedule_retry(h);
		return;
	}
	/* Each failed attempt moves on to the next of the first CTLQUERY_ADDRS_MAX addresses. */
	home_connect_to(
	    h, &found[h->next_addr++ % (unsigned)(n < CTLQUERY_ADDRS_MAX ? n : CTLQUERY_ADDRS_MAX)]
		    .addr);
}

static void
home_connect(struct home *h)
{
	int err;

	if (!h->params.discover) {
		home_connect_to(h, &h->params.addr);
		return;
	}
	h->state = HOME_CONNECTING;
	err = resolve_start(&h->resolve, h->loop, home_domain(h), home_on_resolved, h);
	if (err) {
		log_warnx("home: cannot look up the server of %s: %s", home_domain(h),
			  strerror(-err));
		h->state = HOME_DOWN;
		home_schedule_retry(h);
	}
}

/*
 * While the connection is still coming up (at start, a domain's CA is often fetched before the
 * home server answers), a question waits for it: the round that asks is bounded by its own
 * timer, and counting the home server as unreachable for being a moment late would pin on
 * first use without its word.
 */
bool
home_ask_notary(struct home *h, const char *domain)
{
	if (h->state == HOME_UP)
		return home_send_notary_req(h, domain);
	if (h->state != HOME_CONNECTING || h->nqueued == HOME_NOTARY_QUEUE)
		return false;
	snprintf(h->queued[h->nqueued++], sizeof(h->queued[0]), "%s", domain);
	return true;
}

int
home_new(struct home **out, struct ev_loop *loop, struct tls_ctx *tls, struct cert_trust *trust,
	 const struct home_params *params, const struct home_ops *ops, void *arg)
{
	const char *domain = identity_domain_of(params->identity);
	struct home *h;

	if (!domain || strlen(domain) > IDENTITY_DOMAIN_MAX)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->loop = loop;
	h->tls = tls;
	h->trust = trust;
	h->params = *params;
	h->ops = *ops;
	h->arg = arg;
	snprintf(h->domain, sizeof(h->domain), "%s", domain);
	crl_pull_init(&h->crl_pull, h->domain);
	snprintf(h->server_name, sizeof(h->server_name), "server@%s", h->domain);
	*out = h;
	return 0;
}

int
home_handle(struct home *h, uint16_t type, home_msg_fn fn, void *arg)
{
	switch (type) {
	case CTL_CERT:
	case CTL_CRL:
	case CTL_ERROR:
	case CTL_HELLO:
	case CTL_PONG:
		return -EEXIST;
	}
	for (size_t i = 0; i < h->nhandlers; i++)
		if (h->handlers[i].type == type)
			return -EEXIST;
	if (h->nhandlers == HOME_HANDLERS_MAX)
		return -ENOSPC;
	h->handlers[h->nhandlers++] = (struct home_handler){ type, fn, arg };
	return 0;
}

void
home_start(struct home *h)
{
	home_schedule_renewal(h);
	home_connect(h);
}

void
home_free(struct home *h)
{
	if (!h)
		return;
	ev_timer_stop(h->loop, &h->ping_timer);
	ev_timer_stop(h->loop, &h->renew_timer);
	h->stopping = true;
	resolve_cancel(h->resolve);
	if (h->s)
		stream_close(h->s, "agent shutting down");
	ev_timer_stop(h->loop, &h->retry_timer);
	crl_pull_reset(&h->crl_pull);
	free(h);
}

void
home_status(const struct home *h, FILE *f)
{
	uint64_t number = 0;
	int64_t next;

	/* The list held, however it came (the server, or the store at start). */
	cert_trust_crl_info(h->trust, home_domain(h), &number, &next);
	fprintf(f, "server %s\nserver_address %s\nserver_state %s\ncrl_number %llu\n",
		h->server_name, h->addr[0] ? h->addr : "-", home_state_names[h->state],
		(unsigned long long)number);
	fprintf(f, "last_renewal %lld\n", (long long)h->last_renewal);
}
