// SPDX-License-Identifier: MIT
/*
 * Contact requests and approvals on the agent (rendezvous.h). Both lists are arrays searched
 * linearly: they hold at most 64 entries each, and change at the rate people click.
 */
#include "rendezvous/rendezvous.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "crypto/aead.h"
#include "proto/ctlmsg.h"
#include "store/store.h"

struct rdv {
	struct ev_loop *loop;
	struct store *store;
	char self[IDENTITY_STR_MAX];
	const struct purpose *purposes;
	size_t npurposes;
	bool privacy;
	struct rdv_ops ops;
	void *arg;
	struct rdv_outgoing out[RDV_OUTGOING_MAX];
	size_t nout;
	struct rdv_incoming in[RDV_INCOMING_MAX];
	size_t nin;
	struct ratelimit *askers; /* incoming requests per asker */
	struct ev_timer timer;
	struct rdv_stats stats;
};

static void rdv_arm(struct rdv *r);

static uint64_t
rdv_now(const struct rdv *r)
{
	return ev_now_ms(r->loop);
}

static bool
rdv_send_answer(struct rdv *r, uint64_t id, const char *to, const char *purpose, uint8_t verdict,
		const struct purpose *p)
{
	struct ctlmsg m = { .type = CTL_ANSWER };

	m.u.answer.id = id;
	snprintf(m.u.answer.from, sizeof(m.u.answer.from), "%.255s", r->self);
	snprintf(m.u.answer.to, sizeof(m.u.answer.to), "%.255s", to);
	snprintf(m.u.answer.purpose, sizeof(m.u.answer.purpose), "%s", purpose);
	m.u.answer.verdict = verdict;
	if (verdict == CTL_VERDICT_APPROVED && p) {
		m.u.answer.proto = p->proto;
		m.u.answer.port = p->port;
	}
	return r->ops.send(r->arg, &m);
}

/* --- outgoing -------------------------------------------------------------------------------- */

static struct rdv_outgoing *
rdv_out_find(struct rdv *r, const char *to, const char *purpose)
{
	struct rdv_outgoing *best = NULL;

	for (size_t i = 0; i < r->nout; i++)
		if (!strcmp(r->out[i].to, to) && !strcmp(r->out[i].purpose, purpose) &&
		    (!best || r->out[i].started_ms >= best->started_ms))
			best = &r->out[i];
	return best;
}

const struct rdv_outgoing *
rdv_outgoing(const struct rdv *r, const char *to, const char *purpose)
{
	return rdv_out_find((struct rdv *)r, to, purpose);
}

/* A slot for a new request: a free one, else the oldest finished one; NULL if all pending. */
static struct rdv_outgoing *
rdv_out_slot(struct rdv *r)
{
	struct rdv_outgoing *oldest = NULL;

	if (r->nout < RDV_OUTGOING_MAX)
		return &r->out[r->nout++];
	for (size_t i = 0; i < r->nout; i++)
		if (r->out[i].state != RDV_PENDING &&
		    (!oldest || r->out[i].started_ms < oldest->started_ms))
			oldest = &r->out[i];
	return oldest;
}

static bool
rdv_send_contact(struct rdv *r, struct rdv_outgoing *o)
{
	struct ctlmsg m = { .type = CTL_CONTACT };

	m.u.contact.id = o->id;
	snprintf(m.u.contact.from, sizeof(m.u.contact.from), "%.255s", r->self);
	snprintf(m.u.contact.to, sizeof(m.u.contact.to), "%.255s", o->to);
	snprintf(m.u.contact.purpose, sizeof(m.u.contact.purpose), "%s", o->purpose);
	m.u.contact.ttl = (uint16_t)o->ttl;
	o->sent = r->ops.send(r->arg, &m);
	return o->sent;
}

int
rdv_ask(struct rdv *r, const char *to, const char *purpose, unsigned ttl, const char **why)
{
	struct store_approval a;
	struct rdv_outgoing *o;
	struct identity id;
	char canon[IDENTITY_STR_MAX];

	if (identity_parse(to, IDENTITY_PURPOSE_FORBIDDEN, &id, why) ||
	    identity_format(&id, canon, sizeof(canon)) || strlen(canon) > CTL_STR_MAX)
		return -EINVAL;
	if (!strcmp(canon, r->self)) {
		*why = "that is our own identity";
		return -EINVAL;
	}
	if (!purpose_name_is_valid(purpose)) {
		*why = "a purpose is 1-32 characters from a-z 0-9 -";
		return -EINVAL;
	}
	if (ttl < 1 || ttl > CTL_CONTACT_TTL_MAX) {
		*why = "the wait must be 1 to 900 seconds";
		return -EINVAL;
	}
	o = rdv_out_find(r, canon, purpose);
	if (!store_approval_get(r->store, canon, purpose, STORE_APPROVAL_OUT, &a)) {
		/* Approved before: the answer is the stored one, and the peer should be there. */
		if (!o && !(o = rdv_out_slot(r))) {
			*why = "too many requests pending";
			return -ENOSPC;
		}
		memset(o, 0, sizeof(*o));
		snprintf(o->to, sizeof(o->to), "%s", canon);
		snprintf(o->purpose, sizeof(o->purpose), "%s", purpose);
		o->state = CTL_VERDICT_APPROVED;
		o->proto = a.proto;
		o->port = a.port;
		o->started_ms = o->ends_ms = rdv_now(r);
		r->ops.on_approved(r->arg, canon);
		return 1;
	}
	if (o && o->state == RDV_PENDING) {
		if (!o->sent)
			rdv_send_contact(r, o);
		return 0; /* merged */
	}
	if (!(o = rdv_out_slot(r))) {
		*why = "too many requests pending (64); wait for some to be answered";
		return -ENOSPC;
	}
	memset(o, 0, sizeof(*o));
	snprintf(o->to, sizeof(o->to), "%s", canon);
	snprintf(o->purpose, sizeof(o->purpose), "%s", purpose);
	crypto_random(&o->id, sizeof(o->id));
	o->id |= 1; /* non-zero */
	o->ttl = ttl;
	o->state = RDV_PENDING;
	o->started_ms = rdv_now(r);
	o->ends_ms = o->started_ms + (uint64_t)(ttl + RDV_ASK_GRACE_SEC) * 1000;
	r->stats.asked++;
	if (!rdv_send_contact(r, o))
		log_info("rendezvous: asking %s for %s once the home server is connected", canon,
			 purpose);
	else
		log_info("rendezvous: asked %s for %s (waiting up to %u s)", canon, purpose, ttl);
	rdv_arm(r);
	return 0;
}

void
rdv_on_home_up(struct rdv *r)
{
	for (size_t i = 0; i < r->nout; i++)
		if (r->out[i].state == RDV_PENDING && !r->out[i].sent)
			rdv_send_contact(r, &r->out[i]);
}

void
rdv_describe(const struct rdv_outgoing *o, char *buf, size_t len)
{
	const char *dom = identity_domain_of(o->to);

	switch (o->state) {
	case RDV_PENDING:
		snprintf(buf, len, "waiting for %s to answer the request for %s", o->to,
			 o->purpose);
		break;
	case CTL_VERDICT_APPROVED:
		snprintf(buf, len, "%s approved %s (%s/%u)", o->to, o->purpose,
			 purpose_proto_name(o->proto), o->port);
		break;
	case CTL_VERDICT_DENIED:
		snprintf(buf, len, "%s denied the request for %s", o->to, o->purpose);
		break;
	case CTL_VERDICT_NO_PURPOSE:
		snprintf(buf, len, "%s offers no purpose '%s' to us", o->to, o->purpose);
		break;
	case CTL_VERDICT_UNKNOWN_USER:
		snprintf(buf, len, "%s has no user %.*s", dom ? dom : "?",
			 dom ? (int)(dom - o->to - 1) : 0, o->to);
		break;
	case CTL_VERDICT_OFFLINE:
		snprintf(buf, len, "%s is offline (its agent is not connected to its server)",
			 o->to);
		break;
	case CTL_VERDICT_TIMEOUT:
		snprintf(buf, len, "no answer from %s within %u s", o->to, o->ttl);
		break;
	case CTL_VERDICT_RATE:
		snprintf(buf, len,
			 "too many requests: the server refused to pass this one on; "
			 "try again later");
		break;
	case CTL_VERDICT_REVOKED:
		snprintf(buf, len, "%s revoked %s", o->to, o->purpose);
		break;
	case CTL_VERDICT_UNREACHABLE:
		snprintf(buf, len, "the server of %s cannot be reached", dom ? dom : "?");
		break;
	default:
		snprintf(buf, len, "%s answered %d", o->to, o->state);
		break;
	}
}

/* --- approvals ------------------------------------------------------------------------------- */

static int
rdv_store_approval(struct rdv *r, const char *peer, const char *purpose, int dir, uint8_t proto,
		   uint16_t port, const uint8_t *fpr)
{
	struct store_approval a = { .dir = dir, .proto = proto, .port = port };

	snprintf(a.peer, sizeof(a.peer), "%s", peer);
	snprintf(a.purpose, sizeof(a.purpose), "%s", purpose);
	if (fpr)
		memcpy(a.fpr, fpr, sizeof(a.fpr));
	a.created = time(NULL);
	return store_approval_put(r->store, &a);
}

/* Deletes approvals with peer (purpose NULL: all); tells the wiring. Returns how many. */
static int
rdv_drop_approvals(struct rdv *r, const char *peer, const char *purpose)
{
	int deleted = 0, left = 0;

	if (store_approval_delete(r->store, peer, purpose, &deleted) || !deleted)
		return deleted;
	store_approval_count(r->store, peer, &left);
	r->ops.on_revoked(r->arg, peer, left == 0);
	return deleted;
}

static void
rdv_on_answer(struct rdv *r, const struct ctlmsg *m)
{
	const char *from = m->u.answer.from, *purpose = m->u.answer.purpose;
	struct rdv_outgoing *o;
	uint8_t v = m->u.answer.verdict;

	if (strcmp(m->u.answer.to, r->self)) {
		r->stats.dropped_unmatched++;
		return;
	}
	if (v == CTL_VERDICT_REVOKED) {
		int n = rdv_drop_approvals(r, from, purpose[0] ? purpose : NULL);

		log_info("rendezvous: %s revoked %s (%d approval%s ended)", from,
			 purpose[0] ? purpose : "every purpose", n, n == 1 ? "" : "s");
		for (size_t i = 0; i < r->nout; i++)
			if (!strcmp(r->out[i].to, from) &&
			    r->out[i].state == CTL_VERDICT_APPROVED &&
			    (!purpose[0] || !strcmp(r->out[i].purpose, purpose)))
				r->out[i].state = CTL_VERDICT_REVOKED;
		return;
	}
	o = rdv_out_find(r, from, purpose);
	if (!o || o->state != RDV_PENDING) {
		r->stats.dropped_unmatched++;
		log_debug(LOG_CTL, "rendezvous: an answer (%s) from %s for %s we did not ask",
			  ctlmsg_verdict_name(v), from, purpose);
		return;
	}
	r->stats.answered++;
	o->state = v;
	o->ends_ms = rdv_now(r);
	if (v == CTL_VERDICT_APPROVED) {
		o->proto = m->u.answer.proto;
		o->port = m->u.answer.port;
		if (rdv_store_approval(r, from, purpose, STORE_APPROVAL_OUT, o->proto, o->port,
				       NULL))
			log_warnx("rendezvous: cannot store the approval of %s by %s", purpose,
				  from);
		log_info("rendezvous: %s approved %s (%s/%u)", from, purpose,
			 purpose_proto_name(o->proto), o->port);
		r->ops.on_approved(r->arg, from);
	} else {
		char why[256];

		rdv_describe(o, why, sizeof(why));
		log_info("rendezvous: %s", why);
	}
}

/* --- incoming -------------------------------------------------------------------------------- */

static struct rdv_incoming *
rdv_in_find(struct rdv *r, const char *from, const char *purpose)
{
	for (size_t i = 0; i < r->nin; i++)
		if (!strcmp(r->in[i].from, from) &&
		    (!purpose || !strcmp(r->in[i].purpose, purpose)))
			return &r->in[i];
	return NULL;
}

static void
rdv_in_remove(struct rdv *r, struct rdv_incoming *e)
{
	*e = r->in[--r->nin];
}

/* Approves e (a request we hold) for purpose p: stored first, then answered. */
static void
rdv_grant(struct rdv *r, const char *from, const uint8_t *fpr, uint64_t id, const struct purpose *p,
	  const char *how)
{
	if (rdv_store_approval(r, from, p->name, STORE_APPROVAL_IN, p->proto, p->port, fpr)) {
		log_warnx("rendezvous: cannot store the approval of %s for %s: not approved", from,
			  p->name);
		return;
	}
	r->stats.approved++;
	log_info("rendezvous: %s %s for %s (%s/%u)", how, from, p->name,
		 purpose_proto_name(p->proto), p->port);
	rdv_send_answer(r, id, from, p->name, CTL_VERDICT_APPROVED, p);
	r->ops.on_approved(r->arg, from);
}

static void
rdv_on_contact(struct rdv *r, const struct ctlmsg *m)
{
	const char *from = m->u.contact.from, *name = m->u.contact.purpose;
	const struct purpose *p = purpose_find(r->purposes, r->npurposes, name);
	uint64_t now = rdv_now(r);
	struct rdv_incoming *e;

	if (strcmp(m->u.contact.to, r->self)) {
		r->stats.dropped_unmatched++;
		return;
	}
	if (!ratelimit_allow(r->askers, from, now)) {
		r->stats.dropped_rate++;
		log_debug(LOG_CTL, "rendezvous: a request from %s over its rate, dropped", from);
		return;
	}
	if (!p || !purpose_allows(p, from)) {
		/* Not offered, or not to this asker: the same answer, so it learns nothing more. */
		r->stats.refused++;
		log_info("rendezvous: %s asked for %s, which we do not offer to it%s", from, name,
			 r->privacy ? " (not answered: privacy)" : "");
		if (!r->privacy)
			rdv_send_answer(r, m->u.contact.id, from, name, CTL_VERDICT_NO_PURPOSE,
					NULL);
		return;
	}
	if (!store_approval_get(r->store, from, name, STORE_APPROVAL_IN, NULL) || p->auto_approve) {
		rdv_grant(r, from, m->u.contact.fpr, m->u.contact.id, p,
			  p->auto_approve ? "auto-approved" : "approved again");
		return;
	}
	if ((e = rdv_in_find(r, from, name))) {
		e->id = m->u.contact.id; /* merged: the newest request is the one answered */
		e->ends_ms = now + (uint64_t)m->u.contact.ttl * 1000;
		rdv_arm(r);
		return;
	}
	if (r->nin == RDV_INCOMING_MAX) {
		r->stats.dropped_full++;
		log_warnx("rendezvous: a request from %s for %s dropped: %d requests wait already",
			  from, name, RDV_INCOMING_MAX);
		return;
	}
	e = &r->in[r->nin++];
	memset(e, 0, sizeof(*e));
	snprintf(e->from, sizeof(e->from), "%s", from);
	snprintf(e->purpose, sizeof(e->purpose), "%s", name);
	memcpy(e->fpr, m->u.contact.fpr, sizeof(e->fpr));
	e->id = m->u.contact.id;
	e->ends_ms = now + (uint64_t)m->u.contact.ttl * 1000;
	e->received = time(NULL);
	{
		char hex[17];

		for (int i = 0; i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", e->fpr[i]);
		log_info("rendezvous: %s (certificate %s...) asks for %s: `vertex approve %s %s` "
			 "or `vertex deny %s %s` within %u s",
			 from, hex, name, from, name, from, name, m->u.contact.ttl);
	}
	rdv_arm(r);
	if (r->ops.on_request)
		r->ops.on_request(r->arg, e);
}

void
rdv_on_msg(struct rdv *r, const struct ctlmsg *m)
{
	if (m->type == CTL_CONTACT)
		rdv_on_contact(r, m);
	else if (m->type == CTL_ANSWER)
		rdv_on_answer(r, m);
}

/* The person's answer to one or every (purpose NULL) pending request of from. */
static int
rdv_decide(struct rdv *r, const char *from, const char *purpose, bool approve, const char **why)
{
	struct rdv_incoming *e;
	int n = 0;

	while ((e = rdv_in_find(r, from, purpose))) {
		struct rdv_incoming copy = *e;
		const struct purpose *p = purpose_find(r->purposes, r->npurposes, copy.purpose);

		rdv_in_remove(r, e);
		n++;
		if (approve && p) {
			rdv_grant(r, copy.from, copy.fpr, copy.id, p, "approved");
		} else {
			r->stats.denied++;
			log_info("rendezvous: denied %s for %s%s", copy.from, copy.purpose,
				 r->privacy ? " (not answered: privacy)" : "");
			if (!r->privacy)
				rdv_send_answer(r, copy.id, copy.from, copy.purpose,
						CTL_VERDICT_DENIED, NULL);
		}
	}
	if (!n) {
		*why = "no pending request from that identity (for that purpose)";
		return -ENOENT;
	}
	rdv_arm(r);
	return 0;
}

int
rdv_approve(struct rdv *r, const char *from, const char *purpose, const char **why)
{
	return rdv_decide(r, from, purpose, true, why);
}

int
rdv_deny(struct rdv *r, const char *from, const char *purpose, const char **why)
{
	return rdv_decide(r, from, purpose, false, why);
}

int
rdv_revoke(struct rdv *r, const char *peer, const char *purpose, const char **why)
{
	struct ctlmsg m = { .type = CTL_ANSWER };
	int n;

	n = rdv_drop_approvals(r, peer, purpose);
	if (!n) {
		*why = "no approval with that identity (for that purpose)";
		return -ENOENT;
	}
	snprintf(m.u.answer.from, sizeof(m.u.answer.from), "%.255s", r->self);
	snprintf(m.u.answer.to, sizeof(m.u.answer.to), "%.255s", peer);
	snprintf(m.u.answer.purpose, sizeof(m.u.answer.purpose), "%s", purpose ? purpose : "");
	m.u.answer.verdict = CTL_VERDICT_REVOKED;
	crypto_random(&m.u.answer.id, sizeof(m.u.answer.id));
	if (!r->ops.send(r->arg, &m))
		log_warnx("rendezvous: revoked %s locally, but the home server is not connected to "
			  "tell it",
			  peer);
	log_info("rendezvous: revoked %s for %s (%d approval%s)", peer,
		 purpose ? purpose : "every purpose", n, n == 1 ? "" : "s");
	return 0;
}

/* --- expiry ---------------------------------------------------------------------------------- */

static void
rdv_on_timer(struct ev_timer *t)
{
	struct rdv *r = container_of(t, struct rdv, timer);
	uint64_t now = rdv_now(r);

	for (size_t i = 0; i < r->nout; i++) {
		struct rdv_outgoing *o = &r->out[i];

		if (o->state == RDV_PENDING && now >= o->ends_ms) {
			o->state = CTL_VERDICT_TIMEOUT;
			log_info("rendezvous: no answer from %s for %s within %u s", o->to,
				 o->purpose, o->ttl);
		}
	}
	for (size_t i = 0; i < r->nout;) {
		if (r->out[i].state != RDV_PENDING &&
		    now >= r->out[i].ends_ms + RDV_DONE_KEEP_SEC * 1000ull)
			r->out[i] = r->out[--r->nout];
		else
			i++;
	}
	for (size_t i = 0; i < r->nin;) {
		if (now >= r->in[i].ends_ms) {
			log_info("rendezvous: the request of %s for %s expired unanswered",
				 r->in[i].from, r->in[i].purpose);
			rdv_in_remove(r, &r->in[i]);
		} else {
			i++;
		}
	}
	rdv_arm(r);
}

static void
rdv_arm(struct rdv *r)
{
	uint64_t now = rdv_now(r), next = UINT64_MAX;

	for (size_t i = 0; i < r->nout; i++) {
		uint64_t at = r->out[i].state == RDV_PENDING
				  ? r->out[i].ends_ms
				  : r->out[i].ends_ms + RDV_DONE_KEEP_SEC * 1000ull;

		if (at < next)
			next = at;
	}
	for (size_t i = 0; i < r->nin; i++)
		if (r->in[i].ends_ms < next)
			next = r->in[i].ends_ms;
	if (next == UINT64_MAX)
		ev_timer_stop(r->loop, &r->timer);
	else
		ev_timer_start(r->loop, &r->timer, next > now ? next - now : 0, rdv_on_timer);
}

/* --- the rest -------------------------------------------------------------------------------- */

int
rdv_new(struct rdv **out, struct ev_loop *loop, struct store *st, const struct rdv_params *params,
	const struct rdv_ops *ops, void *arg)
{
	struct rdv *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	if (strlen(params->self) > CTL_STR_MAX) {
		free(r);
		return -ENAMETOOLONG; /* the control channel carries identities of 255 at most */
	}
	r->loop = loop;
	r->store = st;
	snprintf(r->self, sizeof(r->self), "%s", params->self);
	r->purposes = params->purposes;
	r->npurposes = params->npurposes;
	r->privacy = params->privacy;
	r->ops = *ops;
	r->arg = arg;
	if (ratelimit_new(&r->askers, 1024, 1.0 / RDV_ASKER_EVERY_SEC, RDV_ASKER_BURST)) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void
rdv_free(struct rdv *r)
{
	if (!r)
		return;
	ev_timer_stop(r->loop, &r->timer);
	ratelimit_free(r->askers);
	free(r);
}

void
rdv_incoming_each(const struct rdv *r, void (*fn)(const struct rdv_incoming *, void *), void *arg)
{
	for (size_t i = 0; i < r->nin; i++)
		fn(&r->in[i], arg);
}

void
rdv_outgoing_each(const struct rdv *r, void (*fn)(const struct rdv_outgoing *, void *), void *arg)
{
	for (size_t i = 0; i < r->nout; i++)
		fn(&r->out[i], arg);
}

const struct rdv_stats *
rdv_stats(const struct rdv *r)
{
	return &r->stats;
}

const struct purpose *
rdv_purpose(const struct rdv *r, const char *name)
{
	return purpose_find(r->purposes, r->npurposes, name);
}
