// SPDX-License-Identifier: MIT
/*
 * The agent's notary rounds, and its answers to peers. See notaries.h.
 *
 * A round's answers are a tally (trust/tally.h, shared with the server's cross-check): one slot
 * per notary asked, so a late, repeated or unasked answer cannot count. Rounds sit on
 * agent->rounds so that answers arriving on the home connection or on a peer link find theirs
 * (by domain, then by notary name).
 */
#include "agent/notaries.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "peer/peer.h"
#include "control/notary.h"
#include "crypto/cert.h"
#include "proto/ctlmsg.h"
#include "store/store.h"
#include "trust/tally.h"

_Static_assert((int)NOTARIES_MAX == (int)TALLY_MAX, "a round's tally holds every notary it asks");

struct notary_round {
	struct agent *a;
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
	for (struct notary_round **pp = &r->a->rounds; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			return;
		}
	}
}

static void
round_free(struct notary_round *r)
{
	ev_timer_stop(r->a->loop, &r->timer);
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
	const char *own = identity_domain_of(r->a->cfg.identity);

	if (strcmp(domain, own) && strcmp(domain, r->domain) &&
	    r->nservers < NOTARIES_SERVERS_MAX && tally_add(&r->tally, domain) >= 0)
		r->nservers++;
}

static bool
round_send(struct link *l, const struct ctlmsg *m)
{
	uint8_t body[512];
	int n = ctlmsg_encode(m, body, sizeof(body));

	return n >= 0 && link_send_record(l, m->type, body, (size_t)n);
}

/* peer_foreach: every peer of another domain with a session up, at most NOTARIES_PEERS_MAX. */
static void
round_add_peer(struct peer *p, void *arg)
{
	struct notary_round *r = arg;

	if (r->npeers < NOTARIES_PEERS_MAX && p->paths.stream &&
	    p->paths.stream->state == LINK_UP &&
	    strcmp(identity_domain_of(p->identity), r->domain) &&
	    tally_add(&r->tally, p->identity) >= 0)
		r->npeers++;
}

/* Sends every question; a notary that cannot be asked counts as answered (it stays unreachable). */
static void
round_ask_all(struct notary_round *r, size_t first_server, size_t first_peer)
{
	struct agent *a = r->a;
	struct ctlmsg req = { .type = CTL_NOTARY_REQ };

	snprintf(req.u.req.domain, sizeof(req.u.req.domain), "%s", r->domain);
	r->starting = true;
	for (size_t i = 0; i < r->tally.n; i++) {
		bool asked;

		if (i < first_server) {
			asked = home_ask_notary(a, r->domain);
		} else if (i < first_peer) {
			struct notary_ask_spec spec = {
				.server = r->tally.answers[i].notary,
				.domain = r->domain,
				.self = a->cfg.identity,
				.role = CTL_ROLE_AGENT,
				.tls = a->tls,
			};

			asked = !notary_ask(&r->asks[i], a->loop, &spec, round_on_server_answer, r);
		} else {
			struct peer *p = peer_find(a->peers, r->tally.answers[i].notary);

			asked = p && p->paths.stream && round_send(p->paths.stream, &req);
		}
		if (!asked)
			tally_skip(&r->tally, i);
	}
	r->starting = false;
}

int
notaries_round_start(struct notary_round **out, struct agent *a, const char *domain,
		     void (*done)(void *arg, const struct pin_notary_answer *answers, size_t n),
		     void *arg)
{
	struct notary_round *r = calloc(1, sizeof(*r));
	size_t first_server, first_peer, npeers;

	if (!r)
		return -ENOMEM;
	r->a = a;
	r->done = done;
	r->arg = arg;
	snprintf(r->domain, sizeof(r->domain), "%s", domain);

	/* The table first (home, servers, peers), then the questions. */
	tally_init(&r->tally);
	if (a->cfg.server.enabled)
		tally_add(&r->tally, identity_domain_of(a->cfg.identity));
	first_server = r->tally.n;
	cert_trust_each(a->trust, round_add_server, r);
	first_peer = r->tally.n;
	peer_foreach(a->peers, round_add_peer, r);
	npeers = r->tally.n - first_peer;

	r->next = a->rounds;
	a->rounds = r;
	r->owner = out;
	if (out)
		*out = r;
	ev_timer_start(a->loop, &r->timer, NOTARIES_ROUND_MS, round_on_timeout);
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
notaries_on_answer(struct agent *a, const char *who, const struct ctlmsg *m)
{
	struct pin_notary_answer ans;

	for (struct notary_round *r = a->rounds; r; r = r->next) {
		if (!strcmp(r->domain, m->u.notary.domain)) {
			notary_answer_from_msg(m, who, r->domain, &ans);
			round_record(r, &ans);
			return;
		}
	}
}

/* What we trust for domain, as a CTL_NOTARY answer. */
static void
notaries_view(struct agent *a, const char *domain, struct ctlmsg *m)
{
	struct cert_info ci;
	struct pin pin;
	const uint8_t *der;
	size_t len;
	bool pinned = !store_pin_get(a->store, domain, &pin);

	*m = (struct ctlmsg){ .type = CTL_NOTARY };
	snprintf(m->u.notary.domain, sizeof(m->u.notary.domain), "%s", domain);
	m->u.notary.status = CTL_NOTARY_UNKNOWN;
	der = cert_trust_anchor_der(a->trust, domain, &len);
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

void
notaries_on_peer_record(struct link *l, uint16_t type, const uint8_t *body, size_t len)
{
	struct ctlmsg m, answer;

	if (!ctlmsg_decode(type, body, len, &m)) {
		peer_count_drop(l->peer, PEER_DROP_MALFORMED,
				"malformed notary message on the link");
		return;
	}
	if (type == CTL_NOTARY) {
		notaries_on_answer(l->agent, l->peer->identity, &m);
		return;
	}
	if (!ratelimit_bucket_take(&l->peer->notary_rl, ev_now_ms(l->agent->loop))) {
		peer_count_drop(l->peer, PEER_DROP_RATE_LIMITED, "notary question over the rate");
		return;
	}
	notaries_view(l->agent, m.u.req.domain, &answer);
	log_debug(LOG_HANDSHAKE, "peer %s asks what we see for %s: %s", l->peer->identity,
		  m.u.req.domain, answer.u.notary.status == CTL_NOTARY_KNOWN ? "known" : "unknown");
	round_send(l, &answer);
}
