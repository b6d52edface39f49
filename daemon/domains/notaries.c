// SPDX-License-Identifier: MIT
/*
 * Notary rounds (DESIGN §3). Before pinning a domain's CA for the first time, a round asks
 * everyone the agent already trusts what they see for that domain:
 *   the home server                          (through ops.ask_home; its answer comes back in
 *                                            domains_on_notary_answer)
 *   the servers of the other trusted domains (verified queries, control/notary.h), at most
 *                                            NOTARIES_SERVERS_MAX
 *   the peers it has a session with          (through ops.ask_peer), at most NOTARIES_PEERS_MAX
 * and reports all the answers at once to pin_decide() (trust/pins.h). A round ends when every
 * notary asked has answered or after NOTARIES_ROUND_MS; the silent ones count as unreachable.
 *
 * The other side too: a peer's question is answered from what this agent trusts (the CA it holds
 * for the domain: its own, configured, or pinned), else UNKNOWN (domains_notary_view). Peers
 * never make it fetch anything.
 *
 * A round's answers are a tally (trust/tally.h, shared with the server's cross-check): one slot
 * per notary asked, so a late, repeated or unasked answer cannot count. Rounds sit on
 * agent->rounds so that answers arriving on the home connection or on a peer link find theirs
 * (by domain, then by notary name).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/notary.h"
#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "proto/ctlmsg.h"
#include "domains/domains_int.h"
#include "store/store.h"
#include "trust/tally.h"

enum {
	NOTARIES_ROUND_MS = 10000,
	NOTARIES_SERVERS_MAX = 8,
	NOTARIES_PEERS_MAX = 8,
	NOTARIES_MAX = 1 + NOTARIES_SERVERS_MAX + NOTARIES_PEERS_MAX,
};

_Static_assert((int)NOTARIES_MAX == (int)TALLY_MAX, "a round's tally holds every notary it asks");

struct notary_round {
	struct domains *d;
	struct notary_round *next; /* agent->rounds */
	struct notary_round **owner;
	char domain[IDENTITY_DOMAIN_MAX + 1];
	void (*done)(void *arg, const struct pin_notary_answer *answers, size_t n);
	void *arg;
	struct ev_timer timer;
	struct tally tally;
	struct notary_query *asks[NOTARIES_MAX]; /* server slots only */
	size_t nservers, npeers;
	bool starting; /* answers may arrive while the questions go out */
};

static void
round_unlink(struct notary_round *r)
{
	for (struct notary_round **pp = &r->d->rounds; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			return;
		}
	}
}

static void
round_free(struct notary_round *r)
{
	ev_timer_stop(r->d->loop, &r->timer);
	for (size_t i = 0; i < r->tally.n; i++)
		notary_cancel(r->asks[i]);
	round_unlink(r);
	free(r);
}

static void
round_finish(struct notary_round *r)
{
	if (r->owner)
		*r->owner = NULL;
	r->owner = NULL;
	/* Unlinked first: done may start another round for the same domain. */
	round_unlink(r);
	r->done(r->arg, r->tally.answers, r->tally.n);
	round_free(r);
}

static void
round_on_timeout(struct ev_timer *t)
{
	struct notary_round *r = container_of(t, struct notary_round, timer);

	log_info("%s: %zu of %zu notaries answered within %u s; the others count as unreachable",
		 r->domain, r->tally.nanswered, r->tally.n, NOTARIES_ROUND_MS / 1000);
	round_finish(r);
}

/* Records one answer (ignored unless its notary was asked and has not answered). */
static void
round_record(struct notary_round *r, const struct pin_notary_answer *ans)
{
	char said[128];

	if (!tally_record(&r->tally, ans))
		return;
	pin_answer_format(ans, said, sizeof(said));
	log_info("%s: notary %s %s", r->domain, ans->notary, said);
	if (!r->starting && tally_is_complete(&r->tally))
		round_finish(r);
}

static void
round_on_server_answer(void *arg, const struct pin_notary_answer *ans)
{
	round_record(arg, ans);
}

/* cert_trust_each: the server of every other domain we hold a CA for. */
static void
round_add_server(const char *domain, const char *ca_path, const uint8_t *der, size_t len, void *arg)
{
	struct notary_round *r = arg;
	const char *own = identity_domain_of(r->d->identity);

	if (strcmp(domain, own) && strcmp(domain, r->domain) &&
	    r->nservers < NOTARIES_SERVERS_MAX && tally_add(&r->tally, domain) >= 0)
		r->nservers++;
}

/* ops.foreach_session_peer: every peer of another domain with a session up, at most
 * NOTARIES_PEERS_MAX. */
static void
round_add_peer(void *arg, const char *identity)
{
	struct notary_round *r = arg;

	if (r->npeers < NOTARIES_PEERS_MAX && strcmp(identity_domain_of(identity), r->domain) &&
	    tally_add(&r->tally, identity) >= 0)
		r->npeers++;
}

/* Sends every question; a notary that cannot be asked counts as answered (it stays unreachable). */
static void
round_ask_all(struct notary_round *r, size_t first_server, size_t first_peer)
{
	struct domains *d = r->d;
	struct ctlmsg req = { .type = CTL_NOTARY_REQ };

	snprintf(req.u.req.domain, sizeof(req.u.req.domain), "%s", r->domain);
	r->starting = true;
	for (size_t i = 0; i < r->tally.n; i++) {
		bool asked;

		if (i < first_server) {
			asked = d->ops.ask_home(d->arg, r->domain);
		} else if (i < first_peer) {
			struct notary_ask_spec spec = {
				.server = r->tally.answers[i].notary,
				.domain = r->domain,
				.self = d->identity,
				.role = CTL_ROLE_AGENT,
				.tls = d->tls,
			};

			asked = !notary_ask(&r->asks[i], d->loop, &spec, round_on_server_answer, r);
		} else {
			asked = d->ops.ask_peer(d->arg, r->tally.answers[i].notary, &req);
		}
		if (!asked)
			tally_skip(&r->tally, i);
	}
	r->starting = false;
}

int
notaries_round_start(struct notary_round **out, struct domains *d, const char *domain,
		     void (*done)(void *arg, const struct pin_notary_answer *answers, size_t n),
		     void *arg)
{
	struct notary_round *r = calloc(1, sizeof(*r));
	size_t first_server, first_peer, npeers;

	if (!r)
		return -ENOMEM;
	r->d = d;
	r->done = done;
	r->arg = arg;
	snprintf(r->domain, sizeof(r->domain), "%s", domain);

	/* The table first (home, servers, peers), then the questions. */
	tally_init(&r->tally);
	if (d->has_home)
		tally_add(&r->tally, identity_domain_of(d->identity));
	first_server = r->tally.n;
	cert_trust_each(d->trust, round_add_server, r);
	first_peer = r->tally.n;
	d->ops.foreach_session_peer(d->arg, round_add_peer, r);
	npeers = r->tally.n - first_peer;

	r->next = d->rounds;
	d->rounds = r;
	r->owner = out;
	if (out)
		*out = r;
	ev_timer_start(d->loop, &r->timer, NOTARIES_ROUND_MS, round_on_timeout);
	log_info("%s: asking %zu notaries (home server %s, %zu other server(s), %zu peer(s))",
		 domain, r->tally.n, first_server ? "yes" : "no", first_peer - first_server,
		 npeers);
	round_ask_all(r, first_server, first_peer);
	if (tally_is_complete(&r->tally))
		round_finish(r);
	return 0;
}

void
notaries_round_cancel(struct notary_round *r)
{
	if (!r)
		return;
	if (r->owner)
		*r->owner = NULL;
	round_free(r);
}

void
notaries_cancel_all(struct domains *d)
{
	while (d->rounds)
		notaries_round_cancel(d->rounds);
}

void
domains_on_notary_answer(struct domains *d, const char *who, const struct ctlmsg *m)
{
	struct pin_notary_answer ans;

	for (struct notary_round *r = d->rounds; r; r = r->next) {
		if (!strcmp(r->domain, m->u.notary.domain)) {
			notary_answer_from_msg(m, who, r->domain, &ans);
			round_record(r, &ans);
			return;
		}
	}
}

void
domains_notary_view(struct domains *d, const char *domain, struct ctlmsg *m)
{
	struct cert_info ci;
	struct pin pin;
	const uint8_t *der;
	size_t len;
	bool pinned = !store_pin_get(d->store, domain, &pin);

	*m = (struct ctlmsg){ .type = CTL_NOTARY };
	snprintf(m->u.notary.domain, sizeof(m->u.notary.domain), "%s", domain);
	m->u.notary.status = CTL_NOTARY_UNKNOWN;
	der = cert_trust_anchor_der(d->trust, domain, &len);
	if (der && !cert_info_from_der(der, len, &ci)) {
		m->u.notary.status = CTL_NOTARY_KNOWN;
		memcpy(m->u.notary.fpr, ci.fpr, CTL_FPR_LEN);
		m->u.notary.first_seen = pinned ? pin.first_seen : ci.not_before;
	} else if (pinned) {
		m->u.notary.status = CTL_NOTARY_KNOWN;
		memcpy(m->u.notary.fpr, pin.fpr, CTL_FPR_LEN);
		m->u.notary.first_seen = pin.first_seen;
	}
}
