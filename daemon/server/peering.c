// SPDX-License-Identifier: MIT
/*
 * Peering: a server's own connection to another domain's server, for the rendezvous and relay
 * records it has for that domain (docs/rendezvous.md, "The path of a request"). One per domain,
 * opened when there is something to send; each server sends on its own and accepts the other's,
 * so there is no election and nothing shared between the two directions.
 *
 * States of a link (one owner: this file):
 *   IDLE     nothing to send yet, or the last connection closed and its wait is over
 *   ANCHOR   the domain's CA is not trusted yet: federation.c's first contact runs (pinned,
 *            cross-checked) and peering_on_settled says how it went
 *   RESOLVE  finding the server (control/resolve.c: SRV, then the name's address on 4801)
 *   CONNECT  TLS to each address in turn (at most PEERING_ADDRS), verified as server@DOMAIN
 *            against the domain's pinned CA, presenting server@OURDOMAIN
 *   HELLO    ours sent; the other's HELLO comes once it has judged our certificate
 *   UP       records flow; the queue was flushed
 *   BACKOFF  the connection failed or closed: a wait (core/backoff.h, PEERING_BACKOFF_MIN_MS
 *            doubling to PEERING_BACKOFF_MAX_MS), then IDLE, or a new attempt if records wait
 * Until UP, records wait in a queue of PEERING_QUEUE_MAX records and PEERING_QUEUE_BYTES bytes
 * (a full one refuses: -ENOBUFS). When an attempt fails, what waited is given back
 * (rdv_unsent): a CONTACT is answered `unreachable`, a RELAY ends its channel, a frame is
 * counted as dropped.
 *
 * A REVOKED is not given back: it goes into the outbox (outbox.h, in the store) before it is
 * sent, UP or not, and while not UP into the queue too, in its place. Each time the link comes
 * UP the kept records older than the queue go first (oldest first: those of earlier attempts or
 * of an earlier run), then the queue, so the other server sees them in the order they were
 * made (a REVOKED, then a new APPROVED for the same pair, stays in that order); then a PING,
 * whose PONG (the other handles records in order) deletes the kept ones. Attempts go
 * on while records are kept (the backoff's, and PEERING_OUTBOX_POLL_MS's poll for domains with
 * no link, e.g. after a restart).
 *
 * At most PEERING_MAX links; when the table is full, one with nothing to do (idle, or in its
 * backoff with an empty queue) makes room.
 *
 * While UP, relay_udp.c may carry the relay's frames to that server as datagrams (keyed by this
 * connection's exporter: relay_udp_link_up); the records stay here.
 *
 * Timers: the link's one timer is the backoff wait, or while UP the keepalive (a PING every
 * PEERING_PING_MS; the stream closes after PEERING_DEAD_MS without a record from the other).
 * A link UP that had nothing to carry for the idle time (run --peering-idle, default
 * PEERING_IDLE_DEFAULT_S: no record sent, no relay frame over its UDP) is closed instead of
 * pinged on (state IDLE: the next record opens it again), so a server does not keep a
 * connection and its keepalives to every domain it ever talked to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/discover.h"
#include "control/resolve.h"
#include "control/stream.h"
#include "core/backoff.h"
#include "core/log.h"
#include "core/siphash.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "proto/ctlmsg.h"
#include "server/outbox.h"
#include "server/rdv_int.h"
#include "server/server.h"

enum {
	PEERING_ADDRS = 3,
	PEERING_QUEUE_MAX = 256,
	PEERING_QUEUE_BYTES = 512 * 1024,
	PEERING_BACKOFF_MIN_MS = 500,
	PEERING_BACKOFF_MAX_MS = 60000,
	PEERING_HELLO_MS = 30000, /* the other may first fetch and cross-check our CA */
	PEERING_PING_MS = 30000,
	PEERING_DEAD_MS = 3 * PEERING_PING_MS,
	PEERING_BODY_MAX = 40000,
};

enum peering_state {
	PEERING_IDLE,
	PEERING_ANCHOR,
	PEERING_RESOLVE,
	PEERING_CONNECT,
	PEERING_HELLO,
	PEERING_UP,
	PEERING_BACKOFF,
};

struct peering_rec {
	uint16_t type;
	uint16_t len;
	uint8_t *body;
	int64_t kept; /* a REVOKED: its id in the outbox (not given back: it stays kept) */
};

struct peering_link {
	struct rdv *r;
	char domain[IDENTITY_DOMAIN_MAX + 1];
	char expected[IDENTITY_DOMAIN_MAX + 8]; /* server@DOMAIN */
	enum peering_state state;
	struct resolve *resolve;
	struct stream *s;
	struct discover_result addrs[PEERING_ADDRS];
	size_t naddrs, next_addr;
	struct ev_timer timer;
	unsigned backoff_ms;
	uint64_t nonce;
	struct peering_rec q[PEERING_QUEUE_MAX];
	size_t nq, qbytes;
	uint64_t used_ms;            /* while UP: when it last carried something (idle close) */
	uint64_t ack_nonce;          /* the PING whose PONG acknowledges the kept records */
	int64_t ack_upto;            /* ... up to this outbox id (0: none waits) */
	bool freeing;                /* at exit: a closing stream gives nothing back */
	struct relay_udp_conn *rudp; /* while UP: frames as datagrams (relay_udp.c) */
};

static void peering_start(struct peering_link *l);
static void peering_on_timer(struct ev_timer *t);

/*
 * A full table gives up a link with nothing to do (idle, or waiting out a failure with an empty
 * queue), so that names that lead nowhere cannot keep real domains out. NULL if every link is
 * busy.
 */
static struct peering_link **
peering_evict(struct rdv *r)
{
	for (size_t i = 0; i < r->nlinks; i++) {
		struct peering_link *l = r->links[i];

		if ((l->state == PEERING_IDLE || l->state == PEERING_BACKOFF) && !l->nq) {
			ev_timer_stop(r->srv->loop, &l->timer);
			free(l);
			r->links[i] = NULL;
			return &r->links[i];
		}
	}
	return NULL;
}

static struct peering_link *
peering_find(struct rdv *r, const char *domain, bool create)
{
	struct peering_link *l, **slot;

	for (size_t i = 0; i < r->nlinks; i++)
		if (!strcmp(r->links[i]->domain, domain))
			return r->links[i];
	if (!create)
		return NULL;
	slot = r->nlinks < PEERING_MAX ? &r->links[r->nlinks] : peering_evict(r);
	if (!slot || !(l = calloc(1, sizeof(*l))))
		return NULL;
	l->r = r;
	snprintf(l->domain, sizeof(l->domain), "%s", domain);
	snprintf(l->expected, sizeof(l->expected), "server@%s", domain);
	if (slot == &r->links[r->nlinks])
		r->nlinks++;
	*slot = l;
	return l;
}

static void
peering_queue_clear(struct peering_link *l)
{
	for (size_t i = 0; i < l->nq; i++)
		free(l->q[i].body);
	l->nq = l->qbytes = 0;
}

/* Encodes m into the queue; false if it is full. */
static bool
peering_enqueue(struct peering_link *l, const struct ctlmsg *m)
{
	uint8_t buf[PEERING_BODY_MAX];
	int n = ctlmsg_encode(m, buf, sizeof(buf));
	struct peering_rec *q;

	if (n < 0 || l->nq == PEERING_QUEUE_MAX || l->qbytes + (size_t)n > PEERING_QUEUE_BYTES)
		return false;
	q = &l->q[l->nq];
	if (!(q->body = malloc(n ? (size_t)n : 1)))
		return false;
	memcpy(q->body, buf, (size_t)n);
	q->kept = 0;
	q->type = m->type;
	q->len = (uint16_t)n;
	l->nq++;
	l->qbytes += (size_t)n;
	return true;
}

/*
 * The attempt failed: wait (backoff), and give back what waited. The queue is taken first:
 * giving back may route new records (a RELAY's FIN) to this very link.
 */
static void
peering_fail(struct peering_link *l, const char *why)
{
	struct rdv *r = l->r;
	struct peering_rec *q = calloc(PEERING_QUEUE_MAX, sizeof(*q));
	size_t nq = l->nq, kept = 0;
	unsigned wait;

	for (size_t i = 0; i < nq; i++)
		kept += l->q[i].kept != 0;
	if (q)
		memcpy(q, l->q, nq * sizeof(*q));
	else
		peering_queue_clear(l);
	l->nq = l->qbytes = 0;
	resolve_cancel(l->resolve);
	l->resolve = NULL;
	wait = backoff_next(&l->backoff_ms, PEERING_BACKOFF_MIN_MS, PEERING_BACKOFF_MAX_MS);
	/* Rate-limited: anyone may ask for a user of a domain that leads nowhere. */
	rdv_log(r,
		"peering with %s: %s; %zu record(s) not sent, %zu revocation(s) kept; next "
		"attempt in %u ms",
		l->domain, why, nq - kept, kept, wait);
	l->state = PEERING_BACKOFF;
	ev_timer_start(r->srv->loop, &l->timer,
		       backoff_jitter(wait, (uint32_t)siphash_key_random().k0), peering_on_timer);
	for (size_t i = 0; q && i < nq; i++) {
		struct ctlmsg m;

		if (!q[i].kept && ctlmsg_decode(q[i].type, q[i].body, q[i].len, &m))
			rdv_unsent(r, &m); /* a kept one waits in the outbox */
		free(q[i].body);
	}
	free(q);
}

static uint64_t
peering_idle_ms(const struct rdv *r)
{
	unsigned s = r->srv->opts.peering_idle_s;

	return (uint64_t)(s ? s : PEERING_IDLE_DEFAULT_S) * 1000;
}

/* While UP: closes the link if it was idle long enough, else pings and waits again. */
static void
peering_keepalive(struct peering_link *l)
{
	struct ctlmsg ping = { .type = CTL_PING };
	uint64_t now = ev_now_ms(l->r->srv->loop), idle = now - l->used_ms,
		 limit = peering_idle_ms(l->r), next = PEERING_PING_MS;
	char why[96];

	if (idle >= limit) {
		l->r->n.peering_idle_closed++;
		snprintf(why, sizeof(why), "idle for %llu s, nothing to carry",
			 (unsigned long long)(idle / 1000));
		stream_close(l->s, why); /* peering_on_closed: IDLE */
		return;
	}
	ping.u.ping.nonce = ++l->nonce;
	stream_send_msg(l->s, &ping); /* a failed send closes the stream */
	if (limit - idle < next)
		next = limit - idle;
	if (l->s)
		ev_timer_start(l->r->srv->loop, &l->timer, next, peering_on_timer);
}

static void
peering_on_timer(struct ev_timer *t)
{
	struct peering_link *l = container_of(t, struct peering_link, timer);

	if (l->state == PEERING_UP) {
		peering_keepalive(l);
		return;
	}
	if (l->state != PEERING_BACKOFF)
		return;
	l->state = PEERING_IDLE;
	if (l->nq || outbox_count(l->r->outbox, l->domain))
		peering_start(l);
}

/* A PING after kept records: its PONG says the other server handled them (up to upto). */
static void
peering_ack_ping(struct peering_link *l, int64_t upto)
{
	struct ctlmsg ping = { .type = CTL_PING };

	ping.u.ping.nonce = ++l->nonce;
	l->ack_nonce = ping.u.ping.nonce;
	if (upto > l->ack_upto)
		l->ack_upto = upto;
	stream_send_msg(l->s, &ping);
}

struct peering_flush {
	struct peering_link *l;
	int64_t below, top; /* send the kept ids below this one; the highest sent */
	size_t sent;
};

static int
peering_send_kept(const struct outbox_entry *e, void *arg)
{
	struct peering_flush *f = arg;

	if (e->id >= f->below)
		return 1; /* these are in the queue, in their place */
	if (!f->l->s || !stream_send(f->l->s, e->type, e->body, e->len))
		return 1; /* closing: they go on the next link */
	f->top = e->id;
	f->sent++;
	return 0;
}

/*
 * Just UP: the kept records older than the queue, then the queue, then the PING that will
 * acknowledge the kept ones.
 */
static void
peering_flush(struct peering_link *l)
{
	struct rdv *r = l->r;
	struct peering_flush f = { .l = l, .below = INT64_MAX };
	size_t kept_queued = 0;

	for (size_t i = 0; i < l->nq; i++)
		if (l->q[i].kept && l->q[i].kept < f.below)
			f.below = l->q[i].kept;
	outbox_each(r->outbox, l->domain, (int64_t)time(NULL), peering_send_kept, &f);
	for (size_t i = 0; i < l->nq && l->s; i++) {
		if (!stream_send(l->s, l->q[i].type, l->q[i].body, l->q[i].len))
			r->n.peering_dropped++;
		else if (l->q[i].kept) {
			kept_queued++;
			if (l->q[i].kept > f.top)
				f.top = l->q[i].kept;
		}
	}
	peering_queue_clear(l);
	if (!f.top || !l->s)
		return;
	rdv_info(r, "peering with %s: sent %zu revocation(s) kept while it was down", l->domain,
		 f.sent + kept_queued);
	peering_ack_ping(l, f.top);
}

/* A REVOKED for domain: kept in the outbox, then sent if the link is UP; 1 if kept, else 0. */
static int
peering_keep(struct peering_link *l, const struct ctlmsg *m)
{
	struct rdv *r = l->r;
	uint8_t buf[PEERING_BODY_MAX];
	char key[OUTBOX_KEY_MAX + 1];
	int n = ctlmsg_encode(m, buf, sizeof(buf));
	int64_t id = -EINVAL;

	snprintf(key, sizeof(key), "%s\n%s\n%s", m->u.answer.from, m->u.answer.to,
		 m->u.answer.purpose);
	if (n >= 0)
		id = outbox_add(r->outbox, l->domain, key, m->type, buf, (size_t)n,
				(int64_t)time(NULL));
	if (id < 0) {
		r->n.revoked_not_kept++;
		rdv_warn(
		    r, "peering with %s: cannot keep the revocation of %s by %s: %s (%llu so far)",
		    l->domain, m->u.answer.to, m->u.answer.from,
		    id == -ENOSPC ? "the outbox is full" : strerror((int)-id),
		    (unsigned long long)r->n.revoked_not_kept);
		return 0;
	}
	r->n.revoked_kept++;
	if (l->state == PEERING_UP) {
		l->used_ms = ev_now_ms(r->srv->loop);
		if (stream_send(l->s, m->type, buf, (size_t)n) && l->s)
			peering_ack_ping(l, id);
		return 1; /* a failed send closes the link: it goes on the next one */
	}
	rdv_info(r,
		 "peering with %s: not up; the revocation of %s by %s is kept until it is "
		 "(%zu waiting)",
		 l->domain, m->u.answer.to, m->u.answer.from, outbox_count(r->outbox, l->domain));
	/* In the queue too, in its place among the records made before and after it (a full
	 * queue: the outbox alone, sent before the queue). */
	if (peering_enqueue(l, m))
		l->q[l->nq - 1].kept = id;
	if (l->state == PEERING_IDLE)
		peering_start(l);
	return 1;
}

/* The other's HELLO: flush what waited. */
static void
peering_up(struct peering_link *l)
{
	struct rdv *r = l->r;

	l->state = PEERING_UP;
	l->backoff_ms = 0;
	l->used_ms = ev_now_ms(r->srv->loop);
	rdv_info(r, "peering with %s: up (%zu record(s) waited)", l->domain, l->nq);
	peering_flush(l);
	if (l->s && !l->rudp)
		l->rudp = relay_udp_link_up(r->srv, l->domain, l->s);
	if (l->s)
		ev_timer_start(r->srv->loop, &l->timer,
			       PEERING_PING_MS < peering_idle_ms(r) ? PEERING_PING_MS
								    : peering_idle_ms(r),
			       peering_on_timer);
}

static void
peering_on_established(struct stream *s)
{
	struct peering_link *l = stream_arg(s);
	struct ctlmsg hello = { .type = CTL_HELLO };

	hello.u.hello.version = CTL_VERSION;
	hello.u.hello.role = CTL_ROLE_SERVER;
	snprintf(hello.u.hello.name, sizeof(hello.u.hello.name), "server@%.*s",
		 (int)sizeof(hello.u.hello.name) - 8, l->r->srv->domain);
	l->state = PEERING_HELLO;
	stream_set_bulk(s);
	stream_set_coalesce(s);
	stream_set_deadline(s, PEERING_HELLO_MS);
	stream_send_msg(s, &hello);
}

static bool
peering_on_record(struct stream *s, uint16_t type, const uint8_t *body, size_t len)
{
	struct peering_link *l = stream_arg(s);
	struct ctlmsg m;

	if (l->state == PEERING_UP)
		stream_set_deadline(s, PEERING_DEAD_MS);
	if (!ctlmsg_is_known(type) || !ctlmsg_decode(type, body, len, &m))
		return true;
	if (type == CTL_HELLO && l->state == PEERING_HELLO) {
		stream_set_deadline(s, PEERING_DEAD_MS);
		peering_up(l);
	} else if (type == CTL_PONG && l->ack_upto && m.u.ping.nonce >= l->ack_nonce) {
		int n = outbox_done(l->r->outbox, l->domain, l->ack_upto);

		l->ack_upto = 0;
		if (n > 0) {
			l->r->n.revoked_delivered += (uint64_t)n;
			rdv_info(l->r, "peering with %s: %d revocation(s) delivered", l->domain, n);
		}
	} else if (type == CTL_ERROR) {
		rdv_log(l->r, "peering with %s: the other server says: %s (%s)", l->domain,
			m.u.error.message, ctlmsg_error_name(m.u.error.code));
	}
	return true;
}

static bool peering_connect_next(struct peering_link *l);

static void
peering_on_closed(struct stream *s, const char *why)
{
	struct peering_link *l = stream_arg(s);
	char buf[256];

	l->s = NULL;
	l->ack_upto = 0; /* not acknowledged: kept, and sent again on the next link */
	ev_timer_stop(l->r->srv->loop, &l->timer);
	relay_udp_link_down(l->r->srv, l->rudp);
	l->rudp = NULL;
	if (l->freeing)
		return;
	if (l->state == PEERING_CONNECT && peering_connect_next(l))
		return;
	snprintf(buf, sizeof(buf), "%s (%s)", why, stream_phase(s));
	if (l->state == PEERING_UP) {
		rdv_info(l->r, "peering with %s: closed: %s", l->domain, buf);
		l->state = PEERING_IDLE; /* the next record opens it again */
		return;
	}
	peering_fail(l, buf);
}

static const struct stream_ops peering_ops = {
	.on_established = peering_on_established,
	.on_record = peering_on_record,
	.on_closed = peering_on_closed,
};

static bool
peering_connect_next(struct peering_link *l)
{
	struct server *srv = l->r->srv;

	while (l->next_addr < l->naddrs) {
		const struct discover_result *a = &l->addrs[l->next_addr++];

		l->state = PEERING_CONNECT;
		if (!stream_connect(&l->s, srv->loop, srv->tls, &a->addr, l->domain, l->expected,
				    &peering_ops, l))
			return true;
	}
	return false;
}

static void
peering_on_resolved(void *arg, const struct discover_result *found, int n, const char *why)
{
	struct peering_link *l = arg;

	l->resolve = NULL;
	if (n <= 0) {
		peering_fail(l, why);
		return;
	}
	l->naddrs = (size_t)n < PEERING_ADDRS ? (size_t)n : PEERING_ADDRS;
	memcpy(l->addrs, found, l->naddrs * sizeof(*found));
	l->next_addr = 0;
	if (!peering_connect_next(l))
		peering_fail(l, "cannot connect to any of its addresses");
}

static void
peering_resolve(struct peering_link *l)
{
	int err;

	l->state = PEERING_RESOLVE;
	err = resolve_start(&l->resolve, l->r->srv->loop, l->domain, peering_on_resolved, l);
	if (err)
		peering_fail(l, strerror(-err));
}

static void
peering_start(struct peering_link *l)
{
	struct server *srv = l->r->srv;
	char why[160];
	size_t len;

	if (cert_trust_anchor_der(srv->trust, l->domain, &len)) {
		peering_resolve(l);
		return;
	}
	l->state = PEERING_ANCHOR;
	if (federation_want(srv, l->domain, why, sizeof(why)))
		peering_fail(l, why);
}

void
peering_on_settled(struct server *srv, const char *domain, bool anchored)
{
	struct peering_link *l;

	if (!srv->rdv || !(l = peering_find(srv->rdv, domain, false)) || l->state != PEERING_ANCHOR)
		return;
	if (anchored)
		peering_resolve(l);
	else
		peering_fail(l, "its CA is not trusted (see federation's lines above)");
}

int
peering_send(struct rdv *r, const char *domain, const struct ctlmsg *m)
{
	struct peering_link *l = peering_find(r, domain, true);

	if (!l) {
		rdv_log(r, "peering with %s: no room for another domain (%d)", domain, PEERING_MAX);
		return -EHOSTUNREACH;
	}
	if (m->type == CTL_ANSWER && m->u.answer.verdict == CTL_VERDICT_REVOKED &&
	    peering_keep(l, m))
		return 0;
	if (l->state == PEERING_UP) {
		l->used_ms = ev_now_ms(r->srv->loop);
		return stream_send_msg(l->s, m) ? 0 : -ENOBUFS;
	}
	if (!peering_enqueue(l, m))
		return -ENOBUFS;
	if (l->state == PEERING_IDLE)
		peering_start(l);
	return 0;
}

size_t
peering_pending_output(struct rdv *r, const char *domain)
{
	struct peering_link *l = peering_find(r, domain, false);

	if (!l)
		return 0;
	return l->state == PEERING_UP && l->s ? stream_pending_output(l->s) : l->qbytes;
}

struct relay_udp_conn *
peering_rudp(struct rdv *r, const char *domain)
{
	struct peering_link *l = peering_find(r, domain, false);

	if (!l || l->state != PEERING_UP)
		return NULL;
	l->used_ms = ev_now_ms(r->srv->loop); /* a frame for it: the link is in use */
	return l->rudp;
}

/* The poll: a link for each domain with kept records that has none, or an idle one. */
static int
peering_outbox_domain(const char *domain, void *arg)
{
	struct rdv *r = arg;
	struct peering_link *l;

	if (!strcmp(domain, r->srv->domain) || rdv_domain_here(r->srv, domain))
		return 0; /* served here now: nothing to carry */
	if ((l = peering_find(r, domain, true)) && l->state == PEERING_IDLE)
		peering_start(l);
	return 0;
}

static void
peering_on_outbox_timer(struct ev_timer *t)
{
	struct rdv *r = container_of(t, struct rdv, outbox_timer);

	outbox_domains(r->outbox, peering_outbox_domain, r);
	ev_timer_start(r->srv->loop, t, PEERING_OUTBOX_POLL_MS, peering_on_outbox_timer);
}

void
peering_outbox_start(struct rdv *r)
{
	size_t n = outbox_count(r->outbox, NULL);

	if (n)
		rdv_info(r, "%zu revocation(s) for other domains kept from before; sending them",
			 n);
	/* Soon, not at once: the rest of the server (its federation, the other domains served
	 * here) starts after rendezvous does. */
	ev_timer_start(r->srv->loop, &r->outbox_timer, 1000, peering_on_outbox_timer);
}

void
peering_free_all(struct rdv *r)
{
	if (r->srv->loop)
		ev_timer_stop(r->srv->loop, &r->outbox_timer);
	for (size_t i = 0; i < r->nlinks; i++) {
		struct peering_link *l = r->links[i];

		ev_timer_stop(r->srv->loop, &l->timer);
		resolve_cancel(l->resolve);
		l->freeing = true;
		if (l->s)
			stream_close(l->s, "server shutting down");
		peering_queue_clear(l);
		free(l);
	}
	r->nlinks = 0;
}
