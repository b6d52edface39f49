// SPDX-License-Identifier: MIT
/*
 * Each tracked domain's CA and revocation list (domains.h): for every peer whose domain has no
 * configured CA, the agent fetches that domain's CA from the domain's own server, asks its
 * notaries (notaries.c) what they see for the domain, decides with pin_decide() (trust/pins.h:
 * TOFU, Persistence of Pseudonym), and only then trusts the CA for handshakes.
 *
 * Per domain (struct fdomain), states:
 *   FETCHING     asking the domain's server for its CA and list (cafetch.c)
 *   ASKING       a new CA, no pin yet: a notary round runs (notaries.c: the home server, the
 *                servers of the other trusted domains, the peers with a session)
 *   TRUSTED      the CA is an anchor: handshakes with the domain's agents can succeed
 *   REFUSED      the CA contradicts the pin or a notary: no handshake with that domain
 *   UNREACHABLE  never fetched (the domain's server cannot be reached)
 * Timer (one per domain):
 *   while FETCHING or ASKING nothing (the fetch and the round are bounded themselves); after a
 *   fetch: re-fetch after DOMAINS_REFRESH_MS (lists stay fresh, a changed CA is noticed), or
 *   after a backoff (FOREIGN_RETRY_*) if it failed.
 *
 * A pinned CA is also cached in the store (meta "ca:DOMAIN"), so after a restart the domain is
 * trusted at once, before its server answers again; the cache is used only if it matches the pin.
 * Its revocation list is kept there too (crlkeep.c) and applies again at once.
 *
 * A domain whose CA the configuration names (a `ca` line) is tracked too, for its revocation
 * list only: it is TRUSTED from the start, never pinned or asked about, and a CA its server
 * offers that differs from the configured one is reported, never used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/cafetch.h"
#include "core/backoff.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/crl.h"
#include "crypto/tls.h"
#include "domains/domains_int.h"
#include "proto/ctlmsg.h"
#include "store/store.h"
#include "trust/pins.h"

enum {
	FOREIGN_RETRY_MIN_MS = 2000,
	FOREIGN_RETRY_MAX_MS = 60000,
	FOREIGN_CACHE_KEY_MAX = IDENTITY_DOMAIN_MAX + 4,
};

enum fd_state { FD_FETCHING, FD_ASKING, FD_TRUSTED, FD_REFUSED, FD_UNREACHABLE };
static const char *const fd_state_names[] = { "fetching", "asking", "trusted", "refused",
					      "unreachable" };

struct fdomain {
	struct domains *d;
	char domain[IDENTITY_DOMAIN_MAX + 1];
	enum fd_state state;
	char reason[512];
	struct cafetch *fetch;
	struct notary_round *round; /* while ASKING */
	struct ev_timer timer;
	unsigned backoff_ms;
	/* The CA as fetched (the candidate while ASKING), and the one that is an anchor. */
	uint8_t ca[CERT_DER_MAX];
	size_t ca_len;
	uint8_t fpr[CERT_FPR_LEN];
	bool anchored;
	bool configured; /* the CA is the configuration's: only the list is fetched */
	uint8_t anchored_fpr[CERT_FPR_LEN];
	uint8_t *crl_pending; /* a list fetched before the CA was decided on */
	size_t crl_pending_len;
};

static void foreign_fetch(struct fdomain *fd);
static void foreign_decide(struct fdomain *fd, const struct pin_notary_answer *answers, size_t n);

static void
foreign_on_timer(struct ev_timer *t)
{
	foreign_fetch(container_of(t, struct fdomain, timer));
}

static void
foreign_arm(struct fdomain *fd, uint64_t ms)
{
	ev_timer_start(fd->d->loop, &fd->timer, ms, foreign_on_timer);
}

static void
foreign_retry(struct fdomain *fd)
{
	foreign_arm(fd, backoff_next(&fd->backoff_ms, FOREIGN_RETRY_MIN_MS, FOREIGN_RETRY_MAX_MS));
}

/* A list from the domain's server: verified against its anchor, applied and kept (crlkeep.c). */
static void
foreign_apply_crl(struct fdomain *fd, const uint8_t *buf, size_t len)
{
	domains_apply_crl(fd->d, fd->domain, buf, len, "its server");
}

/* Makes the candidate CA an anchor, and lets the domain's peers try again at once. */
static void
foreign_install(struct fdomain *fd)
{
	struct domains *d = fd->d;
	char key[FOREIGN_CACHE_KEY_MAX];

	if (cert_trust_add_der(d->trust, fd->domain, fd->ca, fd->ca_len) ||
	    tls_ctx_add_anchor(d->tls, fd->ca, fd->ca_len)) {
		fd->state = FD_REFUSED;
		snprintf(fd->reason, sizeof(fd->reason), "the CA could not be installed");
		return;
	}
	snprintf(key, sizeof(key), "ca:%s", fd->domain);
	store_meta_set(d->store, key, fd->ca, fd->ca_len);
	fd->anchored = true;
	memcpy(fd->anchored_fpr, fd->fpr, CERT_FPR_LEN);
	fd->state = FD_TRUSTED;
	crlkeep_restore(d, fd->domain); /* the list kept from before, if it is this CA's */
	if (fd->crl_pending) {
		foreign_apply_crl(fd, fd->crl_pending, fd->crl_pending_len);
		free(fd->crl_pending);
		fd->crl_pending = NULL;
	}
	d->ops.on_trusted(d->arg, fd->domain);
}

/* Decides about the fetched CA with the notaries' answers: pin, trust, or refuse. */
static void
foreign_decide(struct fdomain *fd, const struct pin_notary_answer *answers, size_t n)
{
	struct domains *d = fd->d;
	struct pin existing, fresh;
	bool have_pin = !store_pin_get(d->store, fd->domain, &existing);
	enum pin_verdict v =
	    pin_decide(fd->domain, fd->fpr, have_pin ? &existing : NULL, answers, have_pin ? 0 : n,
		       time(NULL), &fresh, fd->reason, sizeof(fd->reason));

	ev_timer_stop(d->loop, &fd->timer);
	switch (v) {
	case PIN_NEW:
		store_pin_put(d->store, &fresh);
		/* fall through */
	case PIN_MATCH:
		foreign_install(fd);
		log_info("%s", fd->reason);
		foreign_arm(fd, DOMAINS_REFRESH_MS);
		return;
	case PIN_MISMATCH:
	case PIN_NOTARY_DISAGREE:
		fd->state = FD_REFUSED;
		log_warnx("%s", fd->reason);
		foreign_arm(fd, DOMAINS_REFRESH_MS);
		return;
	}
}

static void
foreign_on_round(void *arg, const struct pin_notary_answer *answers, size_t n)
{
	foreign_decide(arg, answers, n);
}

/* A CA arrived; decide at once if a pin exists, else ask the notaries first. */
static void
foreign_on_candidate(struct fdomain *fd)
{
	struct domains *d = fd->d;
	struct pin existing;

	if (!store_pin_get(d->store, fd->domain, &existing)) {
		foreign_decide(fd, NULL, 0);
		return;
	}
	fd->state = FD_ASKING;
	snprintf(fd->reason, sizeof(fd->reason), "asking the notaries about the CA of %s",
		 fd->domain);
	ev_timer_stop(d->loop, &fd->timer);
	if (notaries_round_start(&fd->round, d, fd->domain, foreign_on_round, fd))
		foreign_decide(fd, NULL, 0); /* out of memory: as if no one could be asked */
}

/* A domain of a `ca` line: the configured CA stays; the list is what we came for. */
static void
foreign_on_fetched_configured(struct fdomain *fd, const struct cafetch_result *r,
			      const struct cert_info *ci)
{
	char fpr[64], was[64];

	if (memcmp(ci->fpr, fd->anchored_fpr, CERT_FPR_LEN)) {
		cert_fpr_format(ci->fpr, fpr, sizeof(fpr));
		cert_fpr_format(fd->anchored_fpr, was, sizeof(was));
		snprintf(fd->reason, sizeof(fd->reason),
			 "%s: its server offers CA %s, but the configuration names %s; only lists "
			 "signed by the configured CA are used",
			 fd->domain, fpr, was);
		log_warnx("%s", fd->reason);
	} else {
		snprintf(fd->reason, sizeof(fd->reason), "%s: CA from the configuration",
			 fd->domain);
	}
	if (r->crl)
		foreign_apply_crl(fd, r->crl, r->crl_len);
	foreign_arm(fd, DOMAINS_REFRESH_MS);
}

static void
foreign_on_fetched(void *arg, const struct cafetch_result *r)
{
	struct fdomain *fd = arg;
	struct cert_info ci;
	char fpr[64], was[64];

	if (!r->ca || r->ca_len > sizeof(fd->ca) || cert_info_from_der(r->ca, r->ca_len, &ci) ||
	    !ci.is_ca || strcmp(ci.subject, fd->domain)) {
		if (!fd->anchored)
			fd->state = FD_UNREACHABLE;
		snprintf(fd->reason, sizeof(fd->reason), "cannot get the CA of %s: %s", fd->domain,
			 r->ca ? "the server offered no CA of that name" : r->error);
		log_warnx("%s", fd->reason);
		foreign_retry(fd);
		return;
	}
	/* Failures were said, each time: so is the end of them. */
	if (fd->backoff_ms)
		log_info("%s: its server answers again", fd->domain);
	fd->backoff_ms = 0;
	if (fd->configured) {
		foreign_on_fetched_configured(fd, r, &ci);
		return;
	}
	if (fd->anchored && !memcmp(ci.fpr, fd->anchored_fpr, CERT_FPR_LEN)) {
		fd->state = FD_TRUSTED;
		if (r->crl)
			foreign_apply_crl(fd, r->crl, r->crl_len);
		foreign_arm(fd, DOMAINS_REFRESH_MS);
		return;
	}
	if (fd->anchored) {
		/* The trusted CA stays; the new one is refused until the user re-pins. */
		cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
		cert_fpr_format(fd->anchored_fpr, was, sizeof(was));
		log_warnx(
		    "%s: its server now offers CA %s, but %s is pinned; refused until re-pinned "
		    "with `vertex trust`",
		    fd->domain, fpr, was);
		foreign_arm(fd, DOMAINS_REFRESH_MS);
		return;
	}
	memcpy(fd->ca, r->ca, r->ca_len);
	fd->ca_len = r->ca_len;
	memcpy(fd->fpr, ci.fpr, CERT_FPR_LEN);
	free(fd->crl_pending);
	fd->crl_pending = NULL;
	if (r->crl && (fd->crl_pending = malloc(r->crl_len))) {
		memcpy(fd->crl_pending, r->crl, r->crl_len);
		fd->crl_pending_len = r->crl_len;
	}
	foreign_on_candidate(fd);
}

static void
foreign_fetch(struct fdomain *fd)
{
	if (fd->fetch)
		return;
	if (!fd->anchored)
		fd->state = FD_FETCHING;
	cafetch_start(&fd->fetch, fd->d->loop, fd->domain, fd->d->identity, fd->d->key_path,
		      fd->d->cert_path, foreign_on_fetched, fd);
}

/* After a restart: a cached CA that matches the pin is trusted before the server answers. */
static void
foreign_from_cache(struct fdomain *fd)
{
	char key[FOREIGN_CACHE_KEY_MAX];
	struct cert_info ci;
	struct pin pin;

	snprintf(key, sizeof(key), "ca:%s", fd->domain);
	if (store_pin_get(fd->d->store, fd->domain, &pin) ||
	    store_meta_get(fd->d->store, key, fd->ca, sizeof(fd->ca), &fd->ca_len) ||
	    cert_info_from_der(fd->ca, fd->ca_len, &ci) || memcmp(ci.fpr, pin.fpr, CERT_FPR_LEN))
		return;
	memcpy(fd->fpr, ci.fpr, CERT_FPR_LEN);
	foreign_install(fd);
	snprintf(fd->reason, sizeof(fd->reason), "%s: pinned CA (%s), from the cache", fd->domain,
		 pin.how);
}

/* A domain whose CA a `ca` line names: trusted as configured, tracked for its list. */
static void
foreign_configured(struct fdomain *fd)
{
	struct cert_info ci;
	const uint8_t *der = cert_trust_anchor_der(fd->d->trust, fd->domain, &fd->ca_len);

	if (!der || fd->ca_len > sizeof(fd->ca) || cert_info_from_der(der, fd->ca_len, &ci)) {
		fd->ca_len = 0;
		return;
	}
	memcpy(fd->ca, der, fd->ca_len);
	memcpy(fd->fpr, ci.fpr, CERT_FPR_LEN);
	memcpy(fd->anchored_fpr, ci.fpr, CERT_FPR_LEN);
	fd->configured = fd->anchored = true;
	fd->state = FD_TRUSTED;
	snprintf(fd->reason, sizeof(fd->reason), "%s: CA from the configuration", fd->domain);
}

bool
domains_is_configured(const struct domains *d, const char *domain)
{
	for (size_t i = 0; i < d->nconfigured; i++)
		if (!strcmp(d->configured[i], domain))
			return true;
	return false;
}

static struct fdomain *
foreign_find(const struct domains *d, const char *domain)
{
	for (size_t i = 0; i < d->nfd; i++)
		if (!strcmp(d->fd[i]->domain, domain))
			return d->fd[i];
	return NULL;
}

int
domains_track(struct domains *d, const char *domain)
{
	struct fdomain *fd, **grown;

	if (!strcmp(domain, identity_domain_of(d->identity)) || foreign_find(d, domain))
		return 0;
	if (d->nfd == d->capfd) {
		size_t cap = d->capfd ? 2 * d->capfd : 8;

		if (!(grown = realloc(d->fd, cap * sizeof(*grown))))
			return -ENOMEM;
		d->fd = grown;
		d->capfd = cap;
	}
	if (!(fd = calloc(1, sizeof(*fd))))
		return -ENOMEM;
	fd->d = d;
	snprintf(fd->domain, sizeof(fd->domain), "%s", domain);
	d->fd[d->nfd++] = fd;
	if (domains_is_configured(d, domain))
		foreign_configured(fd);
	else
		foreign_from_cache(fd);
	foreign_fetch(fd);
	return 0;
}

void
foreign_free_all(struct domains *d)
{
	for (size_t i = 0; i < d->nfd; i++) {
		struct fdomain *fd = d->fd[i];

		ev_timer_stop(d->loop, &fd->timer);
		cafetch_cancel(fd->fetch);
		notaries_round_cancel(fd->round);
		free(fd->crl_pending);
		free(fd);
	}
	free(d->fd);
	d->fd = NULL;
	d->nfd = d->capfd = 0;
}

/*
 * The anchored CA is no longer what the store pins (the user re-pinned or forgot the domain):
 * stop trusting it now, for new handshakes and for the sessions it vouched for. The next fetch
 * decides anew, against the new pin or on first use.
 */
static void
foreign_distrust(struct fdomain *fd)
{
	struct domains *d = fd->d;
	char fpr[64];

	cert_fpr_format(fd->anchored_fpr, fpr, sizeof(fpr));
	cert_trust_remove(d->trust, fd->domain);
	fd->anchored = false;
	fd->state = FD_FETCHING;
	snprintf(fd->reason, sizeof(fd->reason),
		 "%s: the pin changed; its CA %s is no longer trusted, deciding again", fd->domain,
		 fpr);
	log_info("%s", fd->reason);
	d->ops.on_distrusted(d->arg, fd->domain, "the pin of its domain changed");
}

int
domains_reevaluate(struct domains *d, const char *domain)
{
	struct fdomain *fd = foreign_find(d, domain);
	struct pin pin;

	if (!fd || fd->configured)
		return -ENOENT;
	ev_timer_stop(d->loop, &fd->timer);
	notaries_round_cancel(fd->round);
	if (fd->anchored && (store_pin_get(d->store, domain, &pin) ||
			     memcmp(pin.fpr, fd->anchored_fpr, CERT_FPR_LEN)))
		foreign_distrust(fd);
	fd->backoff_ms = 0;
	foreign_fetch(fd);
	return 0;
}

/*
 * The revocation list held for the domain. A list past its next_update still applies (refusing
 * every certificate of a domain whose server is unreachable would make a server outage a
 * network outage); it is shown as stale, so a user can see that revocations may be missing.
 */
static void
foreign_status_crl(const struct domains *d, const struct fdomain *fd, FILE *f)
{
	uint64_t number;
	int64_t next;
	char when[32];

	if (!fd->anchored || cert_trust_crl_info(d->trust, fd->domain, &number, &next))
		return;
	cert_time_format(next, when, sizeof(when));
	fprintf(f, "domain_crl #%llu, next update %s\n", (unsigned long long)number, when);
	if (time(NULL) > next)
		fprintf(f, "domain_crl_stale since %s; still applied, newer revocations unknown\n",
			when);
}

void
domains_status(const struct domains *d, FILE *f)
{
	char fpr[64];

	for (size_t i = 0; i < d->nfd; i++) {
		const struct fdomain *fd = d->fd[i];

		fprintf(f, "domain %s\ndomain_state %s\n", fd->domain, fd_state_names[fd->state]);
		if (fd->ca_len) {
			cert_fpr_format(fd->fpr, fpr, sizeof(fpr));
			fprintf(f, "domain_ca %s\n", fpr);
		}
		foreign_status_crl(d, fd, f);
		if (fd->reason[0])
			fprintf(f, "domain_reason %s\n", fd->reason);
	}
}
