/* SPDX-License-Identifier: MIT */
/*
 * The agent's side of rendezvous (docs/rendezvous.md): contact requests in both directions and
 * the approvals they lead to.
 *
 * Outgoing (we ask): rdv_ask sends CONTACT to the home server and keeps the request until its
 * answer, or until ttl + RDV_ASK_GRACE_SEC without one (then it ends as `timeout` here). A
 * request for something already approved answers at once; a duplicate while one is pending is
 * merged into it. Finished requests stay readable (rdv_outgoing) for RDV_DONE_KEEP_SEC.
 *
 * Incoming (we are asked): a CONTACT for a purpose we do not offer, or offer but not to the
 * asker, is answered `no_purpose` (or not at all with privacy); one already approved is answered
 * APPROVED again; one whose purpose is auto-approve is approved at once; any other waits for a
 * person (rdv_approve, rdv_deny) until its ttl ends. At most RDV_INCOMING_MAX wait, one per
 * (asker, purpose) (duplicates merged), and an asker gets RDV_ASKER_BURST requests, then one per
 * RDV_ASKER_EVERY_SEC: the rest are dropped and counted.
 *
 * Approvals are rows in the store (store.h, STORE_APPROVAL_IN / _OUT): written before the
 * answer goes out (approve) or as soon as it arrives (ask), deleted by a revocation from either
 * side. What becomes of the peer (added, dialed through the relay, its session ended) is the
 * wiring's, through rdv_ops.
 *
 * Timer: one, for the earliest expiry of either list; the lists are small (bounded above).
 */
#ifndef VERTEX_RENDEZVOUS_H
#define VERTEX_RENDEZVOUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rendezvous/purpose.h"
#include "trust/identity.h"

struct ctlmsg;
struct ev_loop;
struct rdv;
struct store;

enum {
	RDV_DEFAULT_TTL_SEC = 300,
	RDV_ASK_GRACE_SEC = 10, /* after the ttl, the servers' own timeouts have come back */
	RDV_DONE_KEEP_SEC = 600,
	RDV_OUTGOING_MAX = 64,
	RDV_INCOMING_MAX = 64,
	RDV_ASKER_BURST = 5,
	RDV_ASKER_EVERY_SEC = 10,
};

/* Where an outgoing request is: RDV_PENDING or one of ctlmsg.h's verdicts. */
enum { RDV_PENDING = 0 };

struct rdv_incoming;

struct rdv_ops {
	/* Sends m to the home server; false if it is not connected or full. */
	bool (*send)(void *arg, const struct ctlmsg *m);
	/* peer has an approval now (either way): it should exist and get a session. */
	void (*on_approved)(void *arg, const char *peer);
	/* An approval with peer ended; none_left: there is no other between us. */
	void (*on_revoked)(void *arg, const char *peer, bool none_left);
	/*
	 * A new request waits for a person (not one merged into a waiting one, not one answered
	 * at once): e is borrowed for the call. May be NULL. rdv_approve/rdv_deny may be called
	 * later, not from inside the callback.
	 */
	void (*on_request)(void *arg, const struct rdv_incoming *e);
};

struct rdv_params {
	const char *self;
	const struct purpose *purposes; /* borrowed */
	size_t npurposes;
	bool privacy; /* refusals (denied, no purpose) are not answered: they end as timeouts */
};

struct rdv_outgoing {
	char to[IDENTITY_STR_MAX];
	char purpose[IDENTITY_PURPOSE_MAX + 1];
	uint64_t id;
	unsigned ttl;
	int state; /* RDV_PENDING or a CTL_VERDICT_* */
	bool sent; /* CONTACT went out (else it goes when the home server is back) */
	uint64_t started_ms, ends_ms;
	uint8_t proto; /* when approved */
	uint16_t port;
};

struct rdv_incoming {
	char from[IDENTITY_STR_MAX];
	char purpose[IDENTITY_PURPOSE_MAX + 1];
	uint8_t fpr[32]; /* the asker's certificate, as its server verified it */
	uint64_t id;
	uint64_t ends_ms;
	int64_t received; /* unix seconds */
};

struct rdv_stats {
	uint64_t asked, answered, approved, denied, refused, dropped_rate, dropped_full,
	    dropped_unmatched;
};

/* Borrows loop, store and params' strings and purposes. */
int rdv_new(struct rdv **out, struct ev_loop *loop, struct store *st,
	    const struct rdv_params *params, const struct rdv_ops *ops, void *arg);
void rdv_free(struct rdv *r);

/*
 * Asks to for purpose (ttl seconds, 1..CTL_CONTACT_TTL_MAX). 0: asked (or merged into a
 * pending request); 1: already approved (the request is answered at once); -EINVAL for junk,
 * -ENOSPC when RDV_OUTGOING_MAX are pending. why: a sentence for the CLI on error.
 */
int rdv_ask(struct rdv *r, const char *to, const char *purpose, unsigned ttl, const char **why);
/* The newest request to `to` for purpose, or NULL. */
const struct rdv_outgoing *rdv_outgoing(const struct rdv *r, const char *to, const char *purpose);
/* CONTACT and ANSWER from the home server. */
void rdv_on_msg(struct rdv *r, const struct ctlmsg *m);
/* The home server is back: requests not sent yet go now (the servers merge duplicates). */
void rdv_on_home_up(struct rdv *r);

/* A person's answer to the pending request of from for purpose (NULL: all of from's). 0,
 * -ENOENT with why. */
int rdv_approve(struct rdv *r, const char *from, const char *purpose, const char **why);
int rdv_deny(struct rdv *r, const char *from, const char *purpose, const char **why);
/*
 * Ends every approval between us and peer for purpose (NULL: all), in both directions, and
 * tells the peer. 0, or -ENOENT if there was none.
 */
int rdv_revoke(struct rdv *r, const char *peer, const char *purpose, const char **why);

void rdv_incoming_each(const struct rdv *r, void (*fn)(const struct rdv_incoming *, void *),
		       void *arg);
void rdv_outgoing_each(const struct rdv *r, void (*fn)(const struct rdv_outgoing *, void *),
		       void *arg);
const struct rdv_stats *rdv_stats(const struct rdv *r);
/* A sentence for the asker about a final state: "bob@b.example.com denied the request". */
void rdv_describe(const struct rdv_outgoing *o, char *buf, size_t len);
const struct purpose *rdv_purpose(const struct rdv *r, const char *name);

#endif
