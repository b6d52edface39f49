// SPDX-License-Identifier: MIT
/*
 * A server's own first use of another domain's CA, cross-checked (DESIGN §3: servers are
 * "pinned, cross-checked" like agents): before pinning, ask the servers of every other domain
 * we have pinned (at most FEDERATION_NOTARIES, at once, each over a connection verified against
 * that domain's pinned CA: control/notary.h) what they see, and decide with pin_decide(). Those
 * servers answer from what they already know, so two servers meeting the same new domain never
 * wait for each other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/cafetch.h"
#include "control/notary.h"
#include "core/log.h"
#include "proto/ctlmsg.h"
#include "server/federation_int.h"
#include "server/server.h"
#include "store/store.h"
#include "trust/tally.h"

_Static_assert((int)FEDERATION_NOTARIES <= (int)TALLY_MAX,
	       "a cross-check's tally holds every server");

/* A first use being cross-checked: the CA as fetched, and the other servers' answers. */
struct federation_check {
	struct federation *f;
	struct federation_domain *d; /* stable: domains[] never moves */
	uint8_t ca[CERT_DER_MAX];
	size_t ca_len;
	uint8_t *crl;
	size_t crl_len;
	uint8_t fpr[CERT_FPR_LEN];
	struct tally tally; /* at most FEDERATION_NOTARIES */
	struct notary_query *asks[FEDERATION_NOTARIES];
	bool starting; /* answers may arrive while the questions are being sent */
};

void
crosscheck_free(struct federation_check *k)
{
	for (size_t i = 0; i < k->tally.n; i++)
		notary_cancel(k->asks[i]);
	free(k->crl);
	free(k);
}

/* All answers are in: pin and anchor the CA, or refuse it; then settle everything waiting. */
static void
crosscheck_decide(struct federation_check *k)
{
	struct federation *f = k->f;
	struct federation_domain *d = k->d;
	struct cert_info ci;
	struct pin pin;
	char msg[1024];
	enum pin_verdict v = pin_decide(d->name, k->fpr, NULL, k->tally.answers, k->tally.n,
					time(NULL), &pin, msg, sizeof(msg));

	d->check = NULL;
	if (v != PIN_NEW) {
		fed_warn(f, "not pinning: %s", msg);
		federation_settle(f, d->name, CTL_NOTARY_DISPUTED, k->fpr, 0, d->anchored);
		crosscheck_free(k);
		federation_release(d);
		return;
	}
	store_pin_put(f->pins, &pin);
	cert_fpr_format(k->fpr, msg, sizeof(msg));
	fed_info(f, "pinned the CA of %s: %s (%s)", d->name, msg, pin.how);
	if (federation_anchor(f, d, k->ca, k->ca_len))
		fed_warn(f, "cannot use the CA of %s as an anchor", d->name);
	else if (k->crl && !cert_info_from_der(k->ca, k->ca_len, &ci))
		federation_apply_crl(f, &ci, k->crl, k->crl_len);
	federation_settle(f, d->name, CTL_NOTARY_KNOWN, pin.fpr, pin.first_seen, d->anchored);
	crosscheck_free(k);
	federation_release(d);
}

static void
crosscheck_on_answer(void *arg, const struct pin_notary_answer *a)
{
	struct federation_check *k = arg;
	char said[128];

	if (tally_record(&k->tally, a)) {
		pin_answer_format(a, said, sizeof(said));
		fed_info(k->f, "%s: notary %s %s", k->d->name, a->notary, said);
	}
	if (!k->starting && tally_is_complete(&k->tally))
		crosscheck_decide(k);
}

/*
 * A CA fetched for a domain we have no pin for: ask the servers of the domains we have pinned
 * what they see, then decide (federation_check_decide).
 */
void
crosscheck_start(struct federation *f, struct federation_domain *d, const struct cafetch_result *r,
		 const struct cert_info *ci)
{
	struct federation_check *k = calloc(1, sizeof(*k));

	if (!k || r->ca_len > sizeof(k->ca)) {
		free(k);
		fed_warn(f, "cannot cross-check the CA of %s: out of memory", d->name);
		federation_settle(f, d->name, CTL_NOTARY_UNREACHABLE, NULL, 0, d->anchored);
		federation_release(d);
		return;
	}
	k->f = f;
	k->d = d;
	memcpy(k->ca, r->ca, r->ca_len);
	k->ca_len = r->ca_len;
	memcpy(k->fpr, ci->fpr, CERT_FPR_LEN);
	if (r->crl && (k->crl = malloc(r->crl_len))) {
		memcpy(k->crl, r->crl, r->crl_len);
		k->crl_len = r->crl_len;
	}
	d->check = k;
	tally_init(&k->tally);
	for (size_t i = 0; i < f->ndomains && k->tally.n < FEDERATION_NOTARIES; i++)
		if (f->domains[i].anchored && &f->domains[i] != d)
			tally_add(&k->tally, f->domains[i].name);
	fed_debug(f, "first use of %s: asking %zu other server(s)", d->name, k->tally.n);
	k->starting = true;
	for (size_t i = 0; i < k->tally.n; i++) {
		struct notary_ask_spec spec = {
			.server = k->tally.answers[i].notary,
			.domain = d->name,
			.self = f->self,
			.role = CTL_ROLE_SERVER,
			.tls = f->srv->tls,
		};

		if (notary_ask(&k->asks[i], f->srv->loop, &spec, crosscheck_on_answer, k))
			tally_skip(&k->tally, i);
	}
	k->starting = false;
	if (tally_is_complete(&k->tally))
		crosscheck_decide(k);
}
