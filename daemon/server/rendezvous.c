// SPDX-License-Identifier: MIT
/*
 * Contact requests and their answers, on a server (docs/rendezvous.md): CONTACT and ANSWER, and
 * the hop checks every rendezvous and relay record passes first (relay.c takes the others).
 *
 * The hops: an agent of this domain sends only `from` == its certificate's identity (else
 * CTL_ERROR protocol, counted; refusals keep the connection and are logged rate-limited); another
 * domain's server (its certificate server@X, verified by federation.c) only `from` of X and `to` of
 * this domain (else dropped, counted); a domain served by this process (run --also) hands records
 * over in-process, checked the same way.
 *
 * CONTACT, at the asker's server: the asker's rate (RDV_ASK_BURST, then one per
 * RDV_ASK_EVERY_S: ANSWER `rate`), fpr set to the asker's certificate as verified here, kept
 * pending (duplicates merged, not forwarded again), sent on. At the answerer's server: kept
 * pending, then ANSWER `unknown_user` (no account, or a revoked one) or `offline` (no agent of
 * that identity connected), or delivered to its newest connection. run --private holds the
 * unknown/offline answer until the ttl and answers `timeout` then, as for a request nobody
 * answered.
 *
 * ANSWER: accepted only if it matches a request pending here (same asker, answerer, purpose,
 * id), except REVOKED, which deletes the pair's approvals and is always passed on (an agent's
 * REVOKEDs share its CONTACTs' rate: CTL_ERROR rate beyond it). APPROVED
 * records an approval (approvals.c). Agents may not send the servers' verdicts.
 *
 * Who is connected: an index of identity -> its newest agent connection (rdv_agent_up at
 * HELLO, rdv_agent_down at close, from serve.c), so the relay finds a receiver in O(1).
 *
 * Timers: expiry, at the earliest pending request's end: the answerer's server answers
 * `timeout` at the ttl, the asker's server (when the answerer is elsewhere) PENDING_ASKER_GRACE_MS
 * later, if nothing came back. report: every RDV_REPORT_MS, the counters, if they changed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/stream.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "proto/ctlmsg.h"
#include "server/accounts.h"
#include "server/approvals.h"
#include "server/outbox.h"
#include "server/pending.h"
#include "server/rdv_int.h"
#include "server/server.h"

_Static_assert((int)APPROVAL_ID_MAX == (int)CTL_STR_MAX, "approvals hold identities as sent");

static bool
rdv_is_ours(const struct server *srv, const char *identity)
{
	const char *d = identity_domain_of(identity);

	return d && !strcmp(d, srv->domain);
}

void
rdv_log(struct rdv *r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!log_ratelimit_ok(&r->log_rl, ev_now_ms(r->srv->loop)))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_info("rendezvous of %s: %s", r->srv->domain, buf); /* log.c escapes every line */
}

/*
 * Refuses an agent's record with CTL_ERROR (counted with the server's refusals), keeping the
 * connection: the caller has said why in the (rate-limited) log, so that an agent sending
 * junk costs a counted answer each, never a log line each.
 */
static void __attribute__((format(printf, 3, 4)))
rdv_error(struct sconn *c, uint16_t code, const char *fmt, ...)
{
	struct ctlmsg m = { .type = CTL_ERROR };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m.u.error.message, sizeof(m.u.error.message), fmt, ap);
	va_end(ap);
	m.u.error.code = code;
	c->srv->refused++;
	sconn_send(c, &m);
}

struct server *
rdv_domain_here(struct server *srv, const char *domain)
{
	struct server *p = srv->primary;

	for (struct server *s = p; s; s = server_next_domain(p, s))
		if (!strcmp(s->domain, domain))
			return s;
	return NULL;
}

/*
 * Who is connected: identity -> its newest live agent connection, so that the relay finds a
 * record's receiver without scanning every connection. A chained hash table (SipHash, random
 * key), one entry per identity connected: at most the server's capacity.
 */
struct rdv_online {
	struct rdv_online *next;
	struct sconn *c;
	char id[IDENTITY_STR_MAX];
};

static struct rdv_online **
rdv_online_slot(struct rdv *r, const char *id)
{
	size_t b = (size_t)siphash24(&r->online_key, id, strlen(id)) & (RDV_ONLINE_BUCKETS - 1);
	struct rdv_online **pp = &r->online[b];

	while (*pp && strcmp((*pp)->id, id))
		pp = &(*pp)->next;
	return pp;
}

static bool
rdv_is_agent_conn(const struct sconn *c, const char *identity)
{
	return !c->closed && c->hello && c->role == CTL_ROLE_AGENT && !strcmp(c->peer, identity);
}

void
rdv_agent_up(struct sconn *c)
{
	struct rdv *r = c->srv->rdv;
	struct rdv_online **pp, *e;

	if (!r || !rdv_is_ours(c->srv, c->peer) || !rdv_is_agent_conn(c, c->peer))
		return;
	pp = rdv_online_slot(r, c->peer);
	if (!*pp) {
		if (!(e = calloc(1, sizeof(*e))))
			return; /* found by the scan in rdv_agent_conn instead */
		snprintf(e->id, sizeof(e->id), "%s", c->peer);
		*pp = e;
	}
	(*pp)->c = c;
}

/* The newest live agent connection of identity but `not`, by a scan (new ones go first). */
static struct sconn *
rdv_agent_scan(struct server *srv, const char *identity, const struct sconn * not )
{
	for (struct sconn *c = srv->conns; c; c = c->next)
		if (c != not &&rdv_is_agent_conn(c, identity))
			return c;
	return NULL;
}

void
rdv_agent_down(struct sconn *c)
{
	struct rdv *r = c->srv->rdv;
	struct rdv_online **pp, *e;

	if (!r || !c->peer[0] || !*(pp = rdv_online_slot(r, c->peer)) || (*pp)->c != c)
		return;
	if (((*pp)->c = rdv_agent_scan(c->srv, c->peer, c)))
		return; /* an older connection of the same identity takes over */
	e = *pp;
	*pp = e->next;
	free(e);
}

struct sconn *
rdv_agent_conn(struct server *srv, const char *identity)
{
	struct rdv_online *e = *rdv_online_slot(srv->rdv, identity);

	if (e && rdv_is_agent_conn(e->c, identity))
		return e->c;
	return e ? NULL : rdv_agent_scan(srv, identity, NULL);
}

int
rdv_route(struct rdv *r, const struct ctlmsg *m)
{
	const char *to = ctlmsg_to(m), *domain = identity_domain_of(to);
	struct server *here;
	struct sconn *c;

	if (!strcmp(domain, r->srv->domain)) {
		if (!(c = rdv_agent_conn(r->srv, to)))
			return -ENOTCONN;
		return sconn_send(c, m) ? 0 : -ENOBUFS;
	}
	if ((here = rdv_domain_here(r->srv, domain))) {
		rdv_from_domain(here, r->srv->domain, m, NULL);
		return 0;
	}
	return peering_send(r, domain, m);
}

/* A verdict of this server for the request p (who answers: p->to), sent toward the asker. */
static void
rdv_answer(struct rdv *r, const struct pending *p, uint8_t verdict)
{
	struct ctlmsg a = { .type = CTL_ANSWER };

	a.u.answer.id = p->id;
	snprintf(a.u.answer.from, sizeof(a.u.answer.from), "%s", p->to);
	snprintf(a.u.answer.to, sizeof(a.u.answer.to), "%s", p->from);
	snprintf(a.u.answer.purpose, sizeof(a.u.answer.purpose), "%s", p->purpose);
	a.u.answer.verdict = verdict;
	if (rdv_route(r, &a))
		r->n.undeliverable++;
	log_debug(LOG_CTL, "rendezvous of %s: answered %s's request for %s/%s: %s", r->srv->domain,
		  p->from, p->to, p->purpose, ctlmsg_verdict_name(verdict));
}

/* Re-arms the expiry timer for the earliest pending request. */
static void rdv_on_expiry(struct ev_timer *t);

static void
rdv_arm_expiry(struct rdv *r)
{
	uint64_t next = pending_next_expiry(r->pending), now = ev_now_ms(r->srv->loop);

	ev_timer_stop(r->srv->loop, &r->expiry);
	if (next != UINT64_MAX)
		ev_timer_start(r->srv->loop, &r->expiry, next > now ? next - now : 0,
			       rdv_on_expiry);
}

static void
rdv_on_expiry(struct ev_timer *t)
{
	struct rdv *r = container_of(t, struct rdv, expiry);
	struct pending p;

	while (pending_expire(r->pending, ev_now_ms(r->srv->loop), &p))
		rdv_answer(r, &p, CTL_VERDICT_TIMEOUT);
	rdv_arm_expiry(r);
}

/*
 * The answerer's checks: its account, its agent. The request stays pending if it was delivered
 * (or held, run --private), else it is answered now and forgotten.
 */
static void
rdv_contact_answerer(struct rdv *r, const struct ctlmsg *m, struct pending *p)
{
	struct account acct;
	struct sconn *c = NULL;
	uint8_t verdict = 0;
	char user[IDENTITY_USER_MAX + 1];
	const char *at = strchr(m->u.contact.to, '@');

	snprintf(user, sizeof(user), "%.*s", (int)(at - m->u.contact.to), m->u.contact.to);
	if (accounts_user_get(r->srv->acc, user, &acct) || acct.revoked)
		verdict = CTL_VERDICT_UNKNOWN_USER;
	else if (!(c = rdv_agent_conn(r->srv, m->u.contact.to)) || !sconn_send(c, m))
		verdict = CTL_VERDICT_OFFLINE;
	if (!verdict)
		return;
	if (r->srv->opts.private_mode) {
		p->flags |= PENDING_HELD; /* answered `timeout` at its expiry, like no answer */
		return;
	}
	rdv_answer(r, p, verdict);
	pending_remove(r->pending, p);
}

static void
rdv_contact(struct rdv *r, const struct rdv_origin *o, const struct ctlmsg *m_in)
{
	struct ctlmsg m = *m_in;
	uint64_t now = ev_now_ms(r->srv->loop), ttl_ms = (uint64_t)m.u.contact.ttl * 1000;
	bool answerer_here = rdv_is_ours(r->srv, m.u.contact.to);
	unsigned flags = answerer_here ? PENDING_ANSWERER_HERE : 0;
	struct pending *p, tmp;
	int rc;

	r->n.contacts++;
	if (!o->domain) { /* the asker's server */
		flags |= PENDING_ASKER_HERE;
		memcpy(m.u.contact.fpr, o->c->fpr, CTL_FPR_LEN);
		if (!answerer_here)
			ttl_ms += PENDING_ASKER_GRACE_MS;
	}
	if (!o->domain && !ratelimit_allow(r->rl_ask, m.u.contact.from, now))
		rc = -EAGAIN;
	else
		rc = pending_add(r->pending, m.u.contact.from, m.u.contact.to, m.u.contact.purpose,
				 m.u.contact.id, now + ttl_ms, flags, &p);
	if (rc < 0) {
		r->n.rate++;
		snprintf(tmp.from, sizeof(tmp.from), "%s", m.u.contact.from);
		snprintf(tmp.to, sizeof(tmp.to), "%s", m.u.contact.to);
		snprintf(tmp.purpose, sizeof(tmp.purpose), "%s", m.u.contact.purpose);
		tmp.id = m.u.contact.id;
		rdv_log(r, "request of %s for %s refused: %s (%llu so far)", tmp.from, tmp.to,
			rc == -EAGAIN   ? "over its rate"
			: rc == -EDQUOT ? "too many of its requests pending"
					: "too many requests pending",
			(unsigned long long)r->n.rate);
		rdv_answer(r, &tmp, CTL_VERDICT_RATE);
		return;
	}
	if (rc == 1)
		return; /* merged into the one pending: not sent again */
	rdv_arm_expiry(r);
	if (answerer_here) {
		rdv_contact_answerer(r, &m, p);
		return;
	}
	if (rdv_route(r, &m)) {
		tmp = *p;
		pending_remove(r->pending, p);
		rdv_answer(r, &tmp, CTL_VERDICT_UNREACHABLE);
	}
}

static bool
rdv_verdict_is_servers(uint8_t v)
{
	return v == CTL_VERDICT_TIMEOUT || v == CTL_VERDICT_OFFLINE ||
	       v == CTL_VERDICT_UNKNOWN_USER || v == CTL_VERDICT_RATE ||
	       v == CTL_VERDICT_UNREACHABLE;
}

static void
rdv_refuse_agent(struct rdv *r, const struct rdv_origin *o, uint64_t *counter, const char *why)
{
	(*counter)++;
	rdv_log(r, "refused a record from %s: %s (%llu so far)", o->domain ? o->domain : o->c->peer,
		why, (unsigned long long)*counter);
	if (!o->domain)
		rdv_error(o->c, CTL_ERR_PROTOCOL, "%s", why);
}

/* An APPROVED or REVOKED answer changes what this server relays. */
static void
rdv_record_answer(struct rdv *r, const struct ctlmsg *m)
{
	struct approval ap = { .proto = m->u.answer.proto, .port = m->u.answer.port };
	int rc;

	if (m->u.answer.verdict == CTL_VERDICT_REVOKED) {
		rc = approvals_revoke(r->approvals, m->u.answer.from, m->u.answer.to,
				      m->u.answer.purpose);
		r->n.revocations++;
		if (rc > 0)
			rdv_info(r, "%s revoked %s for %s: %d approval(s) deleted",
				 m->u.answer.from,
				 m->u.answer.purpose[0] ? m->u.answer.purpose : "every purpose",
				 m->u.answer.to, rc);
		return;
	}
	if (m->u.answer.verdict != CTL_VERDICT_APPROVED)
		return;
	snprintf(ap.asker, sizeof(ap.asker), "%s", m->u.answer.to);
	snprintf(ap.answerer, sizeof(ap.answerer), "%s", m->u.answer.from);
	snprintf(ap.purpose, sizeof(ap.purpose), "%s", m->u.answer.purpose);
	ap.created = (int64_t)time(NULL);
	if ((rc = approvals_add(r->approvals, &ap))) {
		rdv_warn(r, "cannot record the approval of %s by %s for %s: %s", ap.asker,
			 ap.answerer, ap.purpose, strerror(-rc));
		return;
	}
	r->n.approvals++;
	rdv_info(r, "approval recorded: %s may reach %s/%s (proto %u port %u)", ap.asker,
		 ap.answerer, ap.purpose, ap.proto, ap.port);
}

static void
rdv_answer_in(struct rdv *r, const struct rdv_origin *o, const struct ctlmsg *m)
{
	struct pending *p;

	if (!o->domain && rdv_verdict_is_servers(m->u.answer.verdict)) {
		rdv_refuse_agent(r, o, &r->n.refused_verdict,
				 "the verdict is the servers' to give, not an agent's");
		return;
	}
	/* REVOKED needs no request and reaches the other side: an agent's share the asks' rate. */
	if (!o->domain && m->u.answer.verdict == CTL_VERDICT_REVOKED &&
	    !ratelimit_allow(r->rl_ask, m->u.answer.from, ev_now_ms(r->srv->loop))) {
		r->n.rate++;
		rdv_log(r, "REVOKED of %s refused: over its rate (%llu so far)", m->u.answer.from,
			(unsigned long long)r->n.rate);
		rdv_error(o->c, CTL_ERR_RATE, "too many requests and revocations; try later");
		return;
	}
	if (m->u.answer.verdict != CTL_VERDICT_REVOKED) {
		p = pending_find(r->pending, m->u.answer.to, m->u.answer.from, m->u.answer.purpose,
				 m->u.answer.id);
		if (!p) {
			r->n.refused_unmatched++;
			rdv_log(r, "ANSWER of %s to %s matches no pending request (%llu so far)",
				m->u.answer.from, m->u.answer.to,
				(unsigned long long)r->n.refused_unmatched);
			if (!o->domain)
				rdv_error(o->c, CTL_ERR_PROTOCOL,
					  "this ANSWER matches no pending request");
			return;
		}
		pending_remove(r->pending, p);
		rdv_arm_expiry(r);
	}
	r->n.answers++;
	rdv_record_answer(r, m);
	if (rdv_route(r, m))
		r->n.undeliverable++;
}

/*
 * The hop check: is this origin allowed to send a record with these from and to? NULL if so,
 * else why not.
 */
static const char *
rdv_hop_refusal(const struct server *srv, const struct rdv_origin *o, const char *from,
		const char *to)
{
	const char *fd = identity_domain_of(from), *td = identity_domain_of(to);

	if (!o->domain)
		return strcmp(from, o->c->peer) ? "`from` is not the connection's identity" : NULL;
	if (strcmp(fd, o->domain))
		return "`from` is not of the sending server's domain";
	if (strcmp(td, srv->domain))
		return "`to` is not of a domain served here";
	return NULL;
}

static void
rdv_handle(struct server *srv, const struct rdv_origin *o, const struct ctlmsg *m)
{
	struct rdv *r = srv->rdv;
	const char *why = rdv_hop_refusal(srv, o, ctlmsg_from(m), ctlmsg_to(m));

	if (why) {
		r->n.refused_forged++;
		rdv_log(r, "refused %s from %s to %s (via %s): %s (%llu so far)",
			ctlmsg_type_name(m->type), ctlmsg_from(m), ctlmsg_to(m),
			o->domain ? o->domain : o->c->peer, why,
			(unsigned long long)r->n.refused_forged);
		if (!o->domain)
			rdv_error(o->c, CTL_ERR_PROTOCOL, "%s", why);
		return;
	}
	if (m->type == CTL_CONTACT)
		rdv_contact(r, o, m);
	else if (m->type == CTL_ANSWER)
		rdv_answer_in(r, o, m);
	else
		relay_handle(r, o, m);
}

void
rdv_from_domain(struct server *srv, const char *from_domain, const struct ctlmsg *m,
		struct relay_memo *memo)
{
	struct rdv_origin o = { .c = NULL, .domain = from_domain, .memo = memo };

	rdv_handle(srv, &o, m);
}

/* server@X, verified (X not ours): X, else NULL. */
static const char *
rdv_server_domain(const struct sconn *c)
{
	const char *d = identity_domain_of(c->peer);

	if (!d || c->role != CTL_ROLE_SERVER || strncmp(c->peer, "server@", 7) ||
	    !strcmp(d, c->srv->domain))
		return NULL;
	return d;
}

void
rdv_dispatch(struct sconn *c, const struct ctlmsg *m)
{
	struct rdv_origin o = { .c = c };

	if (!c->srv->rdv)
		return;
	if (c->role == CTL_ROLE_AGENT && rdv_is_ours(c->srv, c->peer)) {
		rdv_handle(c->srv, &o, m);
	} else if ((o.domain = rdv_server_domain(c))) {
		rdv_handle(c->srv, &o, m);
	} else {
		c->srv->rdv->n.refused_forged++;
		rdv_log(c->srv->rdv,
			"refused %s from %s (%s): not an agent of %s nor a server of "
			"another domain (%llu so far)",
			ctlmsg_type_name(m->type), c->peer[0] ? c->peer : "no certificate", c->addr,
			c->srv->domain, (unsigned long long)c->srv->rdv->n.refused_forged);
		rdv_error(c, CTL_ERR_PROTOCOL,
			  "%s needs an agent certificate of %s or another domain's server",
			  ctlmsg_type_name(m->type), c->srv->domain);
	}
}

void
rdv_unsent(struct rdv *r, const struct ctlmsg *m)
{
	struct pending *p, tmp;

	if (m->type != CTL_CONTACT) {
		relay_unsent(r, m);
		return;
	}
	p = pending_find(r->pending, m->u.contact.from, m->u.contact.to, m->u.contact.purpose,
			 m->u.contact.id);
	if (!p)
		return;
	tmp = *p;
	pending_remove(r->pending, p);
	rdv_arm_expiry(r);
	rdv_answer(r, &tmp, CTL_VERDICT_UNREACHABLE);
}

static void
rdv_print_counters(struct rdv *r, const char *when)
{
	const struct rdv_counters *n = &r->n;

	log_info("rendezvous of %s%s: %llu contacts, %llu answers, %llu approvals, %llu "
		 "revocations, %zu approvals stored, %zu pending; refused: %llu forged, %llu "
		 "unmatched, %llu verdicts, %llu rate; %llu undeliverable",
		 r->srv->domain, when, (unsigned long long)n->contacts,
		 (unsigned long long)n->answers, (unsigned long long)n->approvals,
		 (unsigned long long)n->revocations, approvals_count(r->approvals),
		 pending_count(r->pending), (unsigned long long)n->refused_forged,
		 (unsigned long long)n->refused_unmatched, (unsigned long long)n->refused_verdict,
		 (unsigned long long)n->rate, (unsigned long long)n->undeliverable);
	log_info("relay of %s%s: %llu frames (%llu bytes), %llu records (%llu bytes) relayed; "
		 "%llu refused, %llu dropped (rate), %llu dropped (queue), %llu channels ended, "
		 "%llu peering drops",
		 r->srv->domain, when, (unsigned long long)n->relay_frames,
		 (unsigned long long)n->relay_bytes, (unsigned long long)n->relay_records,
		 (unsigned long long)n->relay_record_bytes, (unsigned long long)n->relay_refused,
		 (unsigned long long)n->relay_dropped_rate,
		 (unsigned long long)n->relay_dropped_queue, (unsigned long long)n->relay_fin,
		 (unsigned long long)n->peering_dropped);
	log_info("peering of %s%s: %llu idle links closed; revocations for other domains: %llu "
		 "kept, %llu delivered, %llu not kept, %zu waiting",
		 r->srv->domain, when, (unsigned long long)n->peering_idle_closed,
		 (unsigned long long)n->revoked_kept, (unsigned long long)n->revoked_delivered,
		 (unsigned long long)n->revoked_not_kept,
		 r->outbox ? outbox_count(r->outbox, NULL) : 0);
	r->reported = r->n;
}

static void
rdv_on_report(struct ev_timer *t)
{
	struct rdv *r = container_of(t, struct rdv, report);

	if (memcmp(&r->n, &r->reported, sizeof(r->n)))
		rdv_print_counters(r, "");
	ev_timer_start(r->srv->loop, t, RDV_REPORT_MS, rdv_on_report);
}

int
rdv_open(struct server *srv, const char *db_path)
{
	struct rdv *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->srv = srv;
	r->online_key = siphash_key_random();
	if ((err = approvals_open(&r->approvals, db_path)) ||
	    (err = outbox_open(&r->outbox, db_path)) || (err = pending_new(&r->pending)) ||
	    (err = ratelimit_new(&r->rl_ask, RDV_ASK_KEYS, 1.0 / RDV_ASK_EVERY_S, RDV_ASK_BURST)) ||
	    (err = relay_pairs_new(&r->pairs))) {
		srv->rdv = r;
		rdv_close(srv);
		return err;
	}
	srv->rdv = r;
	ev_timer_start(srv->loop, &r->report, RDV_REPORT_MS, rdv_on_report);
	peering_outbox_start(r);
	rdv_info(
	    r, "%zu approval(s) loaded; relay at %llu bytes/s per pair and per agent%s",
	    approvals_count(r->approvals),
	    (unsigned long long)(srv->opts.relay_rate ? srv->opts.relay_rate : RELAY_DEFAULT_RATE),
	    srv->opts.private_mode ? "; private: unknown and offline users time out" : "");
	return 0;
}

void
rdv_store_poll(struct server *srv)
{
	if (srv->rdv && srv->rdv->approvals)
		approvals_sync(srv->rdv->approvals);
}

void
rdv_close(struct server *srv)
{
	struct rdv *r = srv->rdv;

	if (!r)
		return;
	if (r->approvals && r->pending)
		rdv_print_counters(r, " at exit");
	peering_free_all(r);
	if (srv->loop) {
		ev_timer_stop(srv->loop, &r->expiry);
		ev_timer_stop(srv->loop, &r->report);
	}
	for (size_t i = 0; i < RDV_ONLINE_BUCKETS; i++) {
		while (r->online[i]) {
			struct rdv_online *e = r->online[i];

			r->online[i] = e->next;
			free(e);
		}
	}
	relay_pairs_free(r->pairs);
	ratelimit_free(r->rl_ask);
	pending_free(r->pending);
	approvals_close(r->approvals);
	outbox_close(r->outbox);
	free(r);
	srv->rdv = NULL;
}
