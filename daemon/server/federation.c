// SPDX-License-Identifier: MIT
/*
 * Other domains, seen from a server (DESIGN §3): the notary, and certificates of other domains.
 *
 * Notary: "what CA do you see for b.example.com?" is answered from our own CA (our domain) or our
 * pin of that domain. Only for agents of our own domain do we go further: a first fetch from that
 * domain's server, cross-checked with the servers of the other domains we have pinned (their
 * notary answers, over connections verified against their pinned CAs), then pinned -- or, if one
 * of them disagrees, not pinned and answered as DISPUTED. Everyone else who presents a
 * certificate gets an answer from what we already know (UNKNOWN otherwise), and anonymous clients
 * get none: answering strangers by fetching would let anyone make us connect anywhere, and two
 * servers cross-checking the same new domain would each wait for the other.
 *
 * Certificates of other domains: TLS defers a client certificate of a domain we hold no CA for
 * (TLS_CTX_DEFER_FOREIGN). We then fetch and pin that domain's CA and revocation list (or check
 * them against our pin), make the CA a trust anchor, and verify the certificate: signed by the
 * CA of the domain it names, valid, not revoked. Until then the connection gets only what any
 * anonymous client gets. From then on TLS verifies that domain's certificates itself, with its
 * list, so a revoked agent of another domain is refused at the handshake.
 *
 * Every pinned domain is an anchor (restored at start from the pins and their cached CAs), and
 * its list is re-fetched every FEDERATION_REFRESH_MS. A first use is cross-checked before it is
 * pinned: crosscheck.c.
 *
 * Bounds: FEDERATION_MAX_PENDING waiting queries (FEDERATION_PENDING_PER_SOURCE from one
 * source network), one fetch per domain at a time
 * (CAFETCH_TIMEOUT_MS each), then at most FEDERATION_NOTARIES cross-check questions
 * (NOTARY_TIMEOUT_MS each, asked at once). First contacts are limited at once and per source
 * network, and a failed one leaves nothing behind (FEDERATION_FIRST_MAX).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/cafetch.h"
#include "control/stream.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "crypto/cert.h"
#include "crypto/crl.h"
#include "crypto/csr.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "server/federation_int.h"
#include "server/server.h"
#include "store/store.h"
#include "trust/pins.h"

static struct federation_domain *
federation_domain(struct federation *f, const char *name, bool create)
{
	struct federation_domain *free_slot = NULL;

	for (size_t i = 0; i < f->ndomains; i++) {
		if (!strcmp(f->domains[i].name, name))
			return &f->domains[i];
		if (!f->domains[i].name[0] && !free_slot)
			free_slot = &f->domains[i];
	}
	if (!create)
		return NULL;
	if (!free_slot && f->ndomains < FEDERATION_MAX_DOMAINS)
		free_slot = &f->domains[f->ndomains++];
	if (free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
	}
	return free_slot;
}

void
federation_release(struct federation_domain *d)
{
	if (!d->anchored && !d->fetch && !d->check)
		d->name[0] = '\0';
}

/* Domains in the table, and those of them having their first contact. */
static void
federation_count(const struct federation *f, size_t *known, size_t *first)
{
	*known = *first = 0;
	for (size_t i = 0; i < f->ndomains; i++) {
		const struct federation_domain *d = &f->domains[i];

		*known += d->name[0] != '\0';
		*first += d->name[0] && !d->anchored && (d->fetch || d->check);
	}
}

static void
federation_answer(struct sconn *c, const char *domain, uint8_t status, const uint8_t *fpr,
		  int64_t first_seen)
{
	struct ctlmsg m = { .type = CTL_NOTARY };

	snprintf(m.u.notary.domain, sizeof(m.u.notary.domain), "%s", domain);
	m.u.notary.status = status;
	if (status == CTL_NOTARY_KNOWN || status == CTL_NOTARY_DISPUTED)
		memcpy(m.u.notary.fpr, fpr, CTL_FPR_LEN);
	if (status == CTL_NOTARY_KNOWN)
		m.u.notary.first_seen = first_seen;
	sconn_send(c, &m);
}

/*
 * A deferred certificate of another domain, once that domain's CA is (or is not) an anchor;
 * refusal says why it is not, when we know better than "could not be pinned".
 */
static void
federation_judge(struct sconn *c, bool anchored, const char *refusal)
{
	struct server *srv = c->srv;
	const uint8_t *der;
	struct cert_info ci;
	const char *why = refusal ? refusal : "its domain's CA could not be pinned";
	size_t len;

	if (c->closed)
		return;
	der = tls_conn_deferred_cert(stream_tls(c->s), &len);
	if (!der)
		return;
	if (anchored && !cert_trust_verify(srv->trust, der, len, time(NULL), &ci, &why)) {
		snprintf(c->peer, sizeof(c->peer), "%s", ci.subject);
		memcpy(c->fpr, ci.fpr, sizeof(c->fpr));
		log_info("%s (%s): certificate of another domain verified against its pinned CA",
			 c->peer, c->addr);
		serve_hello_release(c); /* a server's HELLO waited for this */
		return;
	}
	sconn_send_error(c, CTL_ERR_DENIED, "certificate refused: %s", why);
	sconn_close(c, "certificate of another domain refused");
}

/* Answers or judges everything waiting for domain, and forgets it. */
void
federation_settle(struct federation *f, const char *domain, uint8_t status, const uint8_t *fpr,
		  int64_t first_seen, bool anchored)
{
	struct federation_query done[FEDERATION_MAX_PENDING];
	size_t keep = 0, ndone = 0;

	/* Judging may close connections, which edits the pending list: collect first. */
	for (size_t i = 0; i < f->npending; i++) {
		if (strcmp(f->pending[i].domain, domain))
			f->pending[keep++] = f->pending[i];
		else
			done[ndone++] = f->pending[i];
	}
	f->npending = keep;
	for (size_t i = 0; i < ndone; i++) {
		if (done[i].kind == FED_NOTARY)
			federation_answer(done[i].c, domain, status, fpr, first_seen);
		else
			federation_judge(done[i].c, anchored, NULL);
	}
	peering_on_settled(f->srv, domain, anchored);
}

/* Verifies a domain's list against its (anchored) CA and applies it. */
void
federation_apply_crl(struct federation *f, const struct cert_info *ca, const uint8_t *buf,
		     size_t len)
{
	struct crl list = { 0 };
	const char *why;

	if (crl_decode_verify(buf, len, ca->pubkey, &list, &why)) {
		fed_warn(f, "refusing a revocation list of %s: %s", ca->subject, why);
		return;
	}
	if (!strcmp(list.domain, ca->subject) && !cert_trust_set_crl(f->srv->trust, &list))
		fed_info(f, "revocation list #%llu of %s: %zu certificate(s) revoked",
			 (unsigned long long)list.number, list.domain, list.count);
	crl_free(&list);
}

/* Makes a pinned CA an anchor of our TLS and our trust, cached for restarts. */
int
federation_anchor(struct federation *f, struct federation_domain *d, const uint8_t *der, size_t len)
{
	char key[FEDERATION_CACHE_KEY_MAX];
	int err;

	if (d->anchored)
		return 0;
	if ((err = cert_trust_add_der(f->srv->trust, d->name, der, len)) ||
	    (err = tls_ctx_add_anchor(f->srv->tls, der, len)))
		return err;
	snprintf(key, sizeof(key), "ca:%s", d->name);
	store_meta_set(f->pins, key, der, len);
	d->anchored = true;
	return 0;
}

static void
federation_on_fetched(void *arg, const struct cafetch_result *r)
{
	struct federation *f = arg;
	struct federation_domain *d = federation_domain(f, r->domain, false);
	struct cert_info ci;
	struct pin pin = { 0 };
	char fpr[64], was[64];

	if (!d)
		return;
	if (!r->ca || cert_info_from_der(r->ca, r->ca_len, &ci) || !ci.is_ca ||
	    strcmp(ci.subject, r->domain)) {
		fed_warn(f, "cannot get the CA of %s: %s", r->domain,
			 r->ca ? "not a CA of that name" : r->error);
		federation_settle(f, r->domain, CTL_NOTARY_UNREACHABLE, NULL, 0, d->anchored);
		federation_release(d);
		return;
	}
	if (store_pin_get(f->pins, r->domain, &pin)) {
		crosscheck_start(f, d, r, &ci); /* it settles and releases d */
		return;
	}
	if (memcmp(pin.fpr, ci.fpr, CERT_FPR_LEN)) {
		cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
		cert_fpr_format(pin.fpr, was, sizeof(was));
		fed_warn(f, "%s now offers CA %s, but %s is pinned; refused", r->domain, fpr, was);
		federation_settle(f, r->domain, CTL_NOTARY_KNOWN, pin.fpr, pin.first_seen,
				  d->anchored);
		federation_release(d);
		return;
	}
	if (!d->anchored) {
		cert_fpr_format(pin.fpr, fpr, sizeof(fpr));
		fed_info(f, "the CA of %s matches its pin %s (%s): trusted", r->domain, fpr,
			 pin.how);
	}
	if (federation_anchor(f, d, r->ca, r->ca_len))
		fed_warn(f, "cannot use the CA of %s as an anchor", r->domain);
	else if (r->crl)
		federation_apply_crl(f, &ci, r->crl, r->crl_len);
	federation_settle(f, r->domain, CTL_NOTARY_KNOWN, pin.fpr, pin.first_seen, d->anchored);
	federation_release(d);
}

/*
 * May source (an address; NULL: our own refresh) start a first contact with a domain now?
 * NULL if so, else why not, in buf.
 */
static const char *
federation_first_refusal(struct federation *f, const char *source, char *buf, size_t len)
{
	uint64_t now = ev_now_ms(f->srv->loop);
	size_t known, first;

	federation_count(f, &known, &first);
	if (first >= FEDERATION_FIRST_MAX) {
		snprintf(buf, len, "too many first contacts with other domains at once (%d)",
			 FEDERATION_FIRST_MAX);
		return buf;
	}
	if (known == FEDERATION_MAX_DOMAINS) {
		snprintf(buf, len, "no room for another domain (%d)", FEDERATION_MAX_DOMAINS);
		return buf;
	}
	if (source && !ratelimit_allow(f->rl_first, source, now)) {
		snprintf(buf, len, "too many first contacts from %s; try again in %llu s", source,
			 (unsigned long long)ratelimit_wait_ms(f->rl_first, source, now) / 1000 +
			     1);
		return buf;
	}
	return NULL;
}

/*
 * Starts a fetch for domain unless one runs. NULL, or why it cannot (in buf); source is who
 * asked, for the limits on first contacts.
 */
static const char *
federation_fetch(struct federation *f, const char *domain, const char *source, char *buf,
		 size_t len)
{
	struct federation_domain *d = federation_domain(f, domain, false);
	struct pin pin;
	const char *why;
	size_t known, first;

	if (!d) {
		if ((why = federation_first_refusal(f, source, buf, len))) {
			if (log_ratelimit_ok(&f->srv->refusal_rl, ev_now_ms(f->srv->loop)))
				fed_warn(f, "no first contact with %s: %s", domain, why);
			return why;
		}
		d = federation_domain(f, domain, true);
		federation_count(f, &known, &first);
		fed_info(f,
			 "%s with %s (asked from %s): fetching its CA; %zu other first "
			 "contact(s) running, %zu domain(s) known",
			 store_pin_get(f->pins, domain, &pin) ? "first contact"
							      : "contact (pinned, not trusted yet)",
			 domain, source ? source : "here", first, known);
	}
	if (!d->fetch && !d->check) /* a running check settles everything waiting too */
		cafetch_start(&d->fetch, f->srv->loop, domain, f->self, f->key, f->cert,
			      federation_on_fetched, f);
	return NULL;
}

const char *
federation_want(struct server *srv, const char *domain, char *buf, size_t len)
{
	return federation_fetch(srv->federation, domain, NULL, buf, len);
}

/* Queues c for domain's fetch. NULL, or why it cannot (in buf). */
static const char *
federation_wait(struct federation *f, struct sconn *c, enum federation_kind kind,
		const char *domain, char *buf, size_t len)
{
	const char *why;
	size_t mine = 0;

	if (f->npending == FEDERATION_MAX_PENDING) {
		snprintf(buf, len, "too many queries waiting (%d)", FEDERATION_MAX_PENDING);
		return buf;
	}
	for (size_t i = 0; i < f->npending; i++)
		mine += !strcmp(f->pending[i].c->net, c->net);
	if (mine >= FEDERATION_PENDING_PER_SOURCE) {
		snprintf(buf, len, "too many queries waiting from %s (%d)", c->net,
			 FEDERATION_PENDING_PER_SOURCE);
		return buf;
	}
	/* Queued first: a fetch that fails at once settles (and so removes) it before returning. */
	f->pending[f->npending].c = c;
	f->pending[f->npending].kind = kind;
	snprintf(f->pending[f->npending].domain, sizeof(f->pending[0].domain), "%s", domain);
	f->npending++;
	if ((why = federation_fetch(f, domain, c->net, buf, len)))
		f->npending--; /* refused before anything ran: still the last entry */
	return why;
}

/* The client proved it is one of our own domain's agents (or servers). */
static bool
federation_is_own(const struct sconn *c)
{
	const char *domain = identity_domain_of(c->peer);

	return domain && !strcmp(domain, c->srv->domain);
}

void
federation_notary(struct sconn *c, const char *domain)
{
	struct server *srv = c->srv;
	struct federation *f = srv->federation;
	struct cert_info ca;
	struct pin pin;
	size_t len;
	const char *why;
	char refusal[128];

	if (!identity_domain_is_valid(domain, &why)) {
		sconn_send_error(c, CTL_ERR_PROTOCOL, "'%s' is not a domain: %s", domain, why);
		return;
	}
	if (!c->peer[0] && !tls_conn_deferred_cert(stream_tls(c->s), &len)) {
		sconn_send_error(c, CTL_ERR_DENIED, "notary answers need a certificate");
		return;
	}
	if (!strcmp(domain, srv->domain)) {
		const uint8_t *der = cert_ca_der(srv->ca, &len);

		if (!cert_info_from_der(der, len, &ca))
			federation_answer(c, domain, CTL_NOTARY_KNOWN, ca.fpr, ca.not_before);
		return;
	}
	if (!store_pin_get(f->pins, domain, &pin)) {
		federation_answer(c, domain, CTL_NOTARY_KNOWN, pin.fpr, pin.first_seen);
		return;
	}
	if (!federation_is_own(c)) {
		federation_answer(c, domain, CTL_NOTARY_UNKNOWN, NULL, 0);
		return;
	}
	if (federation_wait(f, c, FED_NOTARY, domain, refusal, sizeof(refusal)))
		federation_answer(c, domain, CTL_NOTARY_UNREACHABLE, NULL, 0);
}

void
federation_foreign_cert(struct sconn *c)
{
	struct federation *f = c->srv->federation;
	struct identity id;
	struct cert_info ci;
	const uint8_t *der;
	size_t len;
	const char *why;
	char refusal[128];

	der = tls_conn_deferred_cert(stream_tls(c->s), &len);
	if (!der || cert_info_from_der(der, len, &ci) ||
	    identity_parse(ci.subject, IDENTITY_PURPOSE_FORBIDDEN, &id, NULL)) {
		sconn_close(c, "unusable certificate");
		return;
	}
	log_debug(LOG_CTL, "%s presents a certificate of %s: pinning that domain's CA first",
		  c->addr, id.domain);
	why = federation_wait(f, c, FED_FOREIGN_CERT, id.domain, refusal, sizeof(refusal));
	if (why)
		federation_judge(c, false, why);
}

void
federation_forget(struct server *srv, struct sconn *c)
{
	struct federation *f = srv->federation;
	size_t keep = 0;

	for (size_t i = 0; f && i < f->npending; i++)
		if (f->pending[i].c != c)
			f->pending[keep++] = f->pending[i];
	if (f)
		f->npending = keep;
}

/* Re-fetches every anchored domain (its list may have changed; its CA must not have). */
static void
federation_on_refresh(struct ev_timer *t)
{
	struct federation *f = container_of(t, struct federation, refresh);
	char why[128];

	for (size_t i = 0; i < f->ndomains; i++)
		if (f->domains[i].anchored)
			federation_fetch(f, f->domains[i].name, NULL, why, sizeof(why));
	ev_timer_start(f->srv->loop, t, FEDERATION_REFRESH_MS, federation_on_refresh);
}

uint64_t
federation_pins_serial(struct store *pins)
{
	uint64_t serial;
	size_t len;

	if (store_meta_get(pins, SERVER_PINS_SERIAL, &serial, sizeof(serial), &len) ||
	    len != sizeof(serial))
		return 0;
	return serial;
}

/* Closes the connections authenticated by a certificate of domain. */
static void
federation_close_domain(struct server *srv, const char *domain)
{
	struct sconn *next;

	for (struct sconn *c = srv->conns; c; c = next) {
		const char *of = identity_domain_of(c->peer);

		next = c->next;
		if (of && !strcmp(of, domain))
			sconn_close(c, "the pin of its domain changed");
	}
}

/* d stays an anchor only if the store still pins the very CA it anchors. */
static void
federation_recheck(struct federation *f, struct federation_domain *d)
{
	struct server *srv = f->srv;
	const uint8_t *der;
	struct cert_info ci;
	struct pin pin;
	char fpr[64];
	size_t len;

	der = cert_trust_anchor_der(srv->trust, d->name, &len);
	if (!der || cert_info_from_der(der, len, &ci))
		return;
	if (!store_pin_get(f->pins, d->name, &pin) && !memcmp(pin.fpr, ci.fpr, CERT_FPR_LEN))
		return;
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	cert_trust_remove(srv->trust, d->name);
	d->anchored = false;
	fed_info(f,
		 "the administrator changed the pin of %s: its CA %s is no longer trusted; the "
		 "next contact checks the domain against the pin anew",
		 d->name, fpr);
	federation_close_domain(srv, d->name);
	federation_release(d);
}

void
federation_pins_poll(struct server *srv)
{
	struct federation *f = srv->federation;
	uint64_t serial;

	if (!f || (serial = federation_pins_serial(f->pins)) == f->pins_serial)
		return;
	f->pins_serial = serial;
	for (size_t i = 0; i < f->ndomains; i++)
		if (f->domains[i].anchored)
			federation_recheck(f, &f->domains[i]);
}

/* At start: every pin whose cached CA matches is an anchor again. */
static int
federation_restore_one(const struct pin *pin, void *arg)
{
	struct federation *f = arg;
	char key[FEDERATION_CACHE_KEY_MAX];
	uint8_t der[CERT_DER_MAX];
	struct federation_domain *d;
	struct cert_info ci;
	size_t len;
	char why[128];

	snprintf(key, sizeof(key), "ca:%s", pin->domain);
	if (store_meta_get(f->pins, key, der, sizeof(der), &len) ||
	    cert_info_from_der(der, len, &ci) || memcmp(ci.fpr, pin->fpr, CERT_FPR_LEN) ||
	    !(d = federation_domain(f, pin->domain, true)))
		return 0;
	if (federation_anchor(f, d, der, len) == 0)
		federation_fetch(f, pin->domain, NULL, why, sizeof(why)); /* its current list */
	return 0;
}

int
federation_open(struct server *srv, const char *db_path, const char *key, const char *cert)
{
	struct federation *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	f->srv = srv;
	snprintf(f->key, sizeof(f->key), "%s", key);
	snprintf(f->cert, sizeof(f->cert), "%s", cert);
	snprintf(f->self, sizeof(f->self), "server@%s", srv->domain);
	err = ratelimit_new(&f->rl_first, FEDERATION_FIRST_KEYS, 1.0 / FEDERATION_FIRST_EVERY_S,
			    FEDERATION_FIRST_BURST);
	if (!err)
		err = store_open(&f->pins, db_path);
	if (err) {
		ratelimit_free(f->rl_first);
		free(f);
		return err;
	}
	srv->federation = f;
	f->pins_serial = federation_pins_serial(f->pins);
	store_pin_each(f->pins, federation_restore_one, f);
	ev_timer_start(srv->loop, &f->refresh, FEDERATION_REFRESH_MS, federation_on_refresh);
	return 0;
}

void
federation_close(struct server *srv)
{
	struct federation *f = srv->federation;

	if (!f)
		return;
	ev_timer_stop(srv->loop, &f->refresh);
	for (size_t i = 0; i < f->ndomains; i++) {
		cafetch_cancel(f->domains[i].fetch);
		if (f->domains[i].check)
			crosscheck_free(f->domains[i].check);
	}
	store_close(f->pins);
	ratelimit_free(f->rl_first);
	free(f);
	srv->federation = NULL;
}
