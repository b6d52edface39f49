// SPDX-License-Identifier: MIT
/*
 * The relay, on a server (docs/rendezvous.md, "The relay"): RELAY, RELAY_FRAME and OFFER, once
 * rendezvous.c has checked the hop's from and to, pass only between two identities with at
 * least one approval between them, either way (approvals.h); anything else is dropped and
 * counted (relay_refused), and said in the log, rate-limited, with both identities.
 *
 * Bounds, in this order: the sending agent's bucket (struct sconn's relay, its connection to
 * this server), the pair's bucket (both directions share one), then the next hop's queue. A
 * RELAY_FRAME over any of them is dropped (a datagram: the session above backs off). A RELAY is
 * a piece of a byte stream and never dropped alone: when it cannot pass, the channel ends, a
 * RELAY with FIN toward both ends (relay_fin), and the peers dial a new channel.
 *
 * Pair buckets live in a table of RELAY_PAIR_SLOTS slots, one pair per slot by hash (a pair
 * meeting another's slot takes it, with a full bucket): the table never grows, and a pair that
 * loses its slot so gains at most one burst, while each agent's own bucket still holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/stream.h"
#include "core/siphash.h"
#include "proto/ctlmsg.h"
#include "proto/frame.h"
#include "server/approvals.h"
#include "server/rdv_int.h"
#include "server/server.h"

enum { RELAY_PAIR_SLOTS = 1 << 13 };

struct relay_pair {
	char key[APPROVALS_KEY_MAX]; /* approvals_pair_key; "" when free */
	struct relay_bucket bucket;
	uint64_t generation; /* bumped when another pair takes the slot (struct relay_memo) */
};

struct relay_pairs {
	struct siphash_key hash_key;
	struct relay_pair slot[RELAY_PAIR_SLOTS];
};

void
relay_bucket_init(struct relay_bucket *b, uint64_t rate, uint64_t now_ms)
{
	b->rate = rate ? rate : RELAY_DEFAULT_RATE;
	b->burst = b->rate < RELAY_BURST ? b->rate : RELAY_BURST;
	if (b->burst < RELAY_BURST_MIN)
		b->burst = RELAY_BURST_MIN;
	b->tokens = b->burst * 1000;
	b->last_ms = now_ms;
}

bool
relay_bucket_take(struct relay_bucket *b, size_t bytes, uint64_t now_ms)
{
	uint64_t cap = b->burst * 1000, need = (uint64_t)bytes * 1000;

	if (now_ms > b->last_ms) {
		uint64_t dt = now_ms - b->last_ms, full_ms = cap / b->rate + 1;

		/* Milli-bytes earned: rate bytes per second is rate milli-bytes per ms. */
		b->tokens += (dt > full_ms ? full_ms : dt) * b->rate;
		if (b->tokens > cap)
			b->tokens = cap;
	}
	b->last_ms = now_ms > b->last_ms ? now_ms : b->last_ms;
	if (b->tokens < need)
		return false;
	b->tokens -= need;
	return true;
}

int
relay_pairs_new(struct relay_pairs **out)
{
	struct relay_pairs *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->hash_key = siphash_key_random();
	*out = p;
	return 0;
}

void
relay_pairs_free(struct relay_pairs *p)
{
	free(p);
}

/* The bucket of the pair {x, y}; its slot remembered in memo (if any) for the next frame. */
static struct relay_bucket *
relay_pair_bucket(struct rdv *r, const char *x, const char *y, uint64_t now_ms,
		  struct relay_memo *memo)
{
	char key[APPROVALS_KEY_MAX];
	size_t len;
	struct relay_pair *s;

	if (memo && memo->slot && memo->slot->generation == memo->slot_gen)
		return &memo->slot->bucket; /* still this pair's: no key, no hash */
	len = approvals_pair_key(x, y, key);
	s = &r->pairs->slot[siphash24(&r->pairs->hash_key, key, len) & (RELAY_PAIR_SLOTS - 1)];
	if (memcmp(s->key, key, len + 1)) {
		memcpy(s->key, key, len + 1);
		relay_bucket_init(&s->bucket, r->srv->opts.relay_rate, now_ms);
		s->generation++;
	}
	if (memo) {
		memo->slot = s;
		memo->slot_gen = s->generation;
	}
	return &s->bucket;
}

/* The bytes a record puts through the relay. */
static size_t
relay_size(const struct ctlmsg *m)
{
	if (m->type == CTL_RELAY_FRAME)
		return m->u.frame.frame_len;
	if (m->type == CTL_RELAY)
		return m->u.relay.data_len;
	return (size_t)m->u.offer.count * 28;
}

/* Is the next hop toward `to` too busy for another frame? */
static bool
relay_next_hop_busy(struct rdv *r, const char *to)
{
	const char *domain = identity_domain_of(to);
	struct sconn *c;

	if (!strcmp(domain, r->srv->domain))
		return (c = rdv_agent_conn(r->srv, to)) &&
		       stream_pending_output(c->s) > RELAY_FRAME_QUEUE_MAX;
	if (rdv_domain_here(r->srv, domain))
		return false; /* that domain's own hop checks its agent's queue */
	return peering_pending_output(r, domain) > RELAY_FRAME_QUEUE_MAX;
}

/* A relayed channel that cannot go on: FIN toward both ends, each as if from the other. */
static void
relay_end_channel(struct rdv *r, const struct ctlmsg *m, const char *why)
{
	struct ctlmsg fin = { .type = CTL_RELAY };
	uint8_t dialer = m->u.relay.flags & CTL_RELAY_DIALER;

	r->n.relay_fin++;
	rdv_log(r, "relay: ended channel %u between %s and %s: %s (%llu so far)",
		m->u.relay.channel, m->u.relay.from, m->u.relay.to, why,
		(unsigned long long)r->n.relay_fin);
	if (m->u.relay.flags & CTL_RELAY_FIN)
		return; /* it was ending anyway */
	fin.u.relay.channel = m->u.relay.channel;
	snprintf(fin.u.relay.from, sizeof(fin.u.relay.from), "%s", m->u.relay.from);
	snprintf(fin.u.relay.to, sizeof(fin.u.relay.to), "%s", m->u.relay.to);
	fin.u.relay.flags = CTL_RELAY_FIN | dialer;
	rdv_route(r, &fin);
	snprintf(fin.u.relay.from, sizeof(fin.u.relay.from), "%s", m->u.relay.to);
	snprintf(fin.u.relay.to, sizeof(fin.u.relay.to), "%s", m->u.relay.from);
	fin.u.relay.flags = CTL_RELAY_FIN | (dialer ? 0 : CTL_RELAY_DIALER);
	rdv_route(r, &fin);
}

/* The bucket of the agent that sent m to us, or NULL when m came from another server. */
static struct relay_bucket *
relay_agent_bucket(struct rdv *r, const struct rdv_origin *o, uint64_t now_ms)
{
	if (o->domain)
		return NULL;
	if (!o->c->relay.rate)
		relay_bucket_init(&o->c->relay, r->srv->opts.relay_rate, now_ms);
	return &o->c->relay;
}

/* Passes the buckets? false, with the reason in *why, if not. */
static bool
relay_admit_rate(struct rdv *r, const struct rdv_origin *o, const struct ctlmsg *m,
		 const char **why)
{
	uint64_t now = ev_now_ms(r->srv->loop);
	struct relay_bucket *agent = relay_agent_bucket(r, o, now);
	size_t bytes = relay_size(m);

	if (agent && !relay_bucket_take(agent, bytes, now)) {
		*why = "over the sending agent's rate";
		return false;
	}
	if (!relay_bucket_take(relay_pair_bucket(r, ctlmsg_from(m), ctlmsg_to(m), now, o->memo),
			       bytes, now)) {
		*why = "over the pair's rate";
		return false;
	}
	return true;
}

static void
relay_count_route_failure(struct rdv *r, int rc)
{
	if (rc == -ENOTCONN)
		r->n.undeliverable++;
	else if (rc == -EHOSTUNREACH)
		r->n.peering_dropped++;
	else
		r->n.relay_dropped_queue++;
}

static void
relay_frame(struct rdv *r, const struct rdv_origin *o, const struct ctlmsg *m)
{
	const char *why;
	int rc;

	if (!relay_admit_rate(r, o, m, &why)) {
		r->n.relay_dropped_rate++;
		rdv_log(r, "relay: dropped a frame from %s to %s: %s (%llu so far)",
			m->u.frame.from, m->u.frame.to, why,
			(unsigned long long)r->n.relay_dropped_rate);
		return;
	}
	if (relay_next_hop_busy(r, m->u.frame.to)) {
		r->n.relay_dropped_queue++;
		rdv_log(r, "relay: dropped a frame from %s to %s: its queue is full (%llu so far)",
			m->u.frame.from, m->u.frame.to,
			(unsigned long long)r->n.relay_dropped_queue);
		return;
	}
	if (!relay_udp_deliver(r, m) && (rc = rdv_route(r, m))) {
		relay_count_route_failure(r, rc);
		return;
	}
	r->n.relay_frames++;
	r->n.relay_bytes += m->u.frame.frame_len;
}

static void
relay_stream(struct rdv *r, const struct rdv_origin *o, const struct ctlmsg *m)
{
	const char *why;
	int rc;

	if (!relay_admit_rate(r, o, m, &why)) {
		r->n.relay_dropped_rate++;
		relay_end_channel(r, m, why);
		return;
	}
	if ((rc = rdv_route(r, m))) {
		relay_count_route_failure(r, rc);
		relay_end_channel(r, m,
				  rc == -ENOTCONN       ? "the receiver is not connected"
				  : rc == -EHOSTUNREACH ? "its server cannot be reached"
							: "its queue is full");
		return;
	}
	r->n.relay_records++;
	r->n.relay_record_bytes += m->u.relay.data_len;
}

/* An approval between from and to? Asked of the approvals once per change of them for a memo. */
static bool
relay_approved(struct rdv *r, const struct rdv_origin *o, const char *from, const char *to)
{
	uint64_t gen = approvals_generation(r->approvals);

	if (o->memo && o->memo->approvals_gen == gen)
		return true;
	if (!approvals_has_pair(r->approvals, from, to))
		return false;
	if (o->memo)
		o->memo->approvals_gen = gen;
	return true;
}

void
relay_handle(struct rdv *r, const struct rdv_origin *o, const struct ctlmsg *m)
{
	const char *from = ctlmsg_from(m), *to = ctlmsg_to(m);
	const char *why;
	int rc;

	if (m->type == CTL_RELAY_FRAME && !o->domain && m->u.frame.frame_len == 1 &&
	    m->u.frame.frame[0] == 0) {
		relay_udp_unbind(o->c); /* not a frame: "send mine over TLS" (relay_udp.c) */
		return;
	}
	if (!relay_approved(r, o, from, to)) {
		r->n.relay_refused++;
		rdv_log(
		    r, "relay: refused %s from %s to %s: no approval between them (%llu so far)",
		    ctlmsg_type_name(m->type), from, to, (unsigned long long)r->n.relay_refused);
		return;
	}
	if (m->type == CTL_RELAY_FRAME) {
		if (!o->domain && o->c)
			relay_udp_tls_frame(o->c, m);
		relay_frame(r, o, m);
		return;
	}
	if (m->type == CTL_RELAY) {
		relay_stream(r, o, m);
		return;
	}
	/* OFFER: rare and small; bounded by the buckets like the rest. */
	if (!relay_admit_rate(r, o, m, &why)) {
		r->n.relay_dropped_rate++;
		rdv_log(r, "relay: dropped an OFFER from %s to %s: %s", from, to, why);
		return;
	}
	if ((rc = rdv_route(r, m)))
		relay_count_route_failure(r, rc);
}

void
relay_unsent(struct rdv *r, const struct ctlmsg *m)
{
	r->n.peering_dropped++;
	if (m->type == CTL_RELAY)
		relay_end_channel(r, m, "its server cannot be reached");
}
