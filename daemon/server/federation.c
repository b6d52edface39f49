// SPDX-License-Identifier: MIT
/*
 * The server as a notary for other domains (DESIGN §3): "what CA do you see for b.example.com?"
 *
 * The answer comes from, in order: our own CA (our domain); our pin of that domain (the store's
 * pins table, kept in server.db next to the accounts); or a fetch from that domain's server,
 * which we then pin, so every later answer is backed by what we saw first. Queries for a domain
 * being fetched wait for that one fetch (at most FEDERATION_MAX_PENDING queries in all); the
 * fetch is bounded by CAFETCH_TIMEOUT_MS and answers "unreachable" when it fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/cafetch.h"
#include "control/stream.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/csr.h"
#include "proto/ctlmsg.h"
#include "server/server.h"
#include "store/store.h"
#include "trust/pins.h"

enum { FEDERATION_MAX_PENDING = 256 };

struct federation_query {
	struct sconn *c;
	char domain[IDENTITY_DOMAIN_MAX + 1];
};

struct federation {
	struct server *srv;
	struct store *pins;
	struct federation_query pending[FEDERATION_MAX_PENDING];
	size_t npending;
	char fetching[FEDERATION_MAX_PENDING][IDENTITY_DOMAIN_MAX + 1];
	struct cafetch *fetches[FEDERATION_MAX_PENDING];
};

static void
federation_answer(struct sconn *c, const char *domain, uint8_t status, const uint8_t *fpr,
		  int64_t first_seen)
{
	struct ctlmsg m = { .type = CTL_NOTARY };

	snprintf(m.u.notary.domain, sizeof(m.u.notary.domain), "%s", domain);
	m.u.notary.status = status;
	if (status == CTL_NOTARY_KNOWN) {
		memcpy(m.u.notary.fpr, fpr, CTL_FPR_LEN);
		m.u.notary.first_seen = first_seen;
	}
	stream_send_msg(c->s, &m);
}

/* Answers every query waiting for domain, and forgets them. */
static void
federation_settle(struct federation *f, const char *domain, uint8_t status, const uint8_t *fpr,
		  int64_t first_seen)
{
	size_t keep = 0;

	for (size_t i = 0; i < f->npending; i++) {
		if (strcmp(f->pending[i].domain, domain)) {
			f->pending[keep++] = f->pending[i];
			continue;
		}
		federation_answer(f->pending[i].c, domain, status, fpr, first_seen);
	}
	f->npending = keep;
}

static void
federation_on_fetched(void *arg, const struct cafetch_result *r)
{
	struct federation *f = arg;
	struct cert_info ci;
	struct pin pin = { 0 };
	char fpr[64];

	for (size_t i = 0; i < FEDERATION_MAX_PENDING; i++)
		if (!strcmp(f->fetching[i], r->domain))
			f->fetching[i][0] = '\0';
	if (!r->ca || cert_info_from_der(r->ca, r->ca_len, &ci) || !ci.is_ca ||
	    strcmp(ci.subject, r->domain)) {
		log_warnx("notary: cannot get the CA of %s: %s", r->domain,
			  r->ca ? "not a CA of that name" : r->error);
		federation_settle(f, r->domain, CTL_NOTARY_UNREACHABLE, NULL, 0);
		return;
	}
	snprintf(pin.domain, sizeof(pin.domain), "%s", r->domain);
	memcpy(pin.fpr, ci.fpr, CERT_FPR_LEN);
	pin.first_seen = time(NULL);
	snprintf(pin.how, sizeof(pin.how), "first use: fetched by this server for a notary query");
	store_pin_put(f->pins, &pin);
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	log_info("notary: pinned the CA of %s: %s (first use)", r->domain, fpr);
	federation_settle(f, r->domain, CTL_NOTARY_KNOWN, pin.fpr, pin.first_seen);
}

/* Starts a fetch for domain unless one runs; false if no slot is free. */
static bool
federation_fetch(struct federation *f, const char *domain)
{
	char self[IDENTITY_STR_MAX + 8];
	size_t free_slot = FEDERATION_MAX_PENDING;

	for (size_t i = 0; i < FEDERATION_MAX_PENDING; i++) {
		if (!strcmp(f->fetching[i], domain))
			return true;
		if (!f->fetching[i][0] && free_slot == FEDERATION_MAX_PENDING)
			free_slot = i;
	}
	if (free_slot == FEDERATION_MAX_PENDING)
		return false;
	snprintf(f->fetching[free_slot], sizeof(f->fetching[free_slot]), "%s", domain);
	snprintf(self, sizeof(self), "server@%s", f->srv->domain);
	cafetch_start(&f->fetches[free_slot], f->srv->loop, domain, self, federation_on_fetched, f);
	return true;
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

	if (!identity_domain_is_valid(domain, &why)) {
		sconn_send_error(c, CTL_ERR_PROTOCOL, "'%s' is not a domain: %s", domain, why);
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
	if (f->npending == FEDERATION_MAX_PENDING || !federation_fetch(f, domain)) {
		federation_answer(c, domain, CTL_NOTARY_UNREACHABLE, NULL, 0);
		return;
	}
	f->pending[f->npending].c = c;
	snprintf(f->pending[f->npending].domain, sizeof(f->pending[0].domain), "%s", domain);
	f->npending++;
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

int
federation_open(struct server *srv, const char *db_path)
{
	struct federation *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	f->srv = srv;
	err = store_open(&f->pins, db_path);
	if (err) {
		free(f);
		return err;
	}
	srv->federation = f;
	return 0;
}

void
federation_close(struct server *srv)
{
	struct federation *f = srv->federation;

	if (!f)
		return;
	for (size_t i = 0; i < FEDERATION_MAX_PENDING; i++)
		if (f->fetching[i][0])
			cafetch_cancel(f->fetches[i]);
	store_close(f->pins);
	free(f);
	srv->federation = NULL;
}
