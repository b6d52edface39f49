/* SPDX-License-Identifier: MIT */
/*
 * Other domains, and what this agent trusts of them (DESIGN §3): for every domain one of its
 * peers belongs to, its CA (pinned on first use after a notary round, or configured) and its
 * revocation list; the lists of every domain it trusts, its own included, verified, applied and
 * kept in the state store.
 *
 *   foreign.c   each tracked domain's state machine: fetch the CA and list from the domain's
 *               server, decide with the pin and the notaries, refresh the list
 *   notaries.c  notary rounds (the home server, other trusted servers, peers with a session),
 *               and this agent's own answer when a peer asks
 *   crlkeep.c   revocation lists: verified against the domain's anchor, applied, stored, and
 *               restored at start
 *
 * Below the agent's wiring and beside the home channel: it never calls either. What it needs
 * from them, or tells them, goes through struct domains_ops given at domains_new: a domain is
 * now trusted or no longer, a list revokes someone, ask the home server, ask a peer.
 */
#ifndef VERTEX_DOMAINS_H
#define VERTEX_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trust/identity.h"

struct cert_trust;
struct crl;
struct ctlmsg;
struct domains;
struct ev_loop;
struct store;
struct tls_ctx;

enum {
	DOMAINS_REFRESH_MS = 30000, /* other domains' lists are re-fetched this often */
	DOMAINS_CONFIGURED_MAX = 32,
	/* Notary questions a peer may ask us: a round asks each peer once per new domain, so a
	 * burst of 16 then one a second is ample for honest peers and bounds the store reads of
	 * a noisy one; the rest are dropped and counted (rate_limited). */
	DOMAINS_PEER_QUESTION_BURST = 16,
	DOMAINS_PEER_QUESTION_RATE = 1,
};

struct domains_ops {
	/* domain's CA became trusted: its peers without a session may try again. */
	void (*on_trusted)(void *arg, const char *domain);
	/* domain's CA is no longer trusted (its pin changed): close its peers' sessions. */
	void (*on_distrusted)(void *arg, const char *domain, const char *why);
	/* A list was applied: close the sessions of the certificates it revokes. */
	void (*on_revoked)(void *arg, const struct crl *list);
	/* Ask the home server what CA it sees for domain (NOTARY_REQ); false if it cannot. */
	bool (*ask_home)(void *arg, const char *domain);
	/* Call fn for every peer identity with a session up (the round picks whom to ask). */
	void (*foreach_session_peer)(void *arg, void (*fn)(void *ctx, const char *identity),
				     void *ctx);
	/* Send req (a NOTARY_REQ) to the peer identity on its session link; false if not. */
	bool (*ask_peer)(void *arg, const char *identity, const struct ctlmsg *req);
};

struct domains_params {
	struct ev_loop *loop;
	struct store *store;              /* pins, cached CAs, kept lists */
	struct cert_trust *trust;         /* the anchors: what decides */
	struct tls_ctx *tls;              /* gets every pinned CA as an anchor too */
	const char *identity;             /* ours (user@domain) */
	const char *key_path, *cert_path; /* presented when fetching other domains' CAs */
	bool has_home;                    /* a home server is configured: it is a notary */
	/* Domains whose CA the configuration names (`ca` lines, ours included). */
	const char *configured[DOMAINS_CONFIGURED_MAX];
	size_t nconfigured;
};

/* Copies params' strings; borrows the rest. Restores the kept lists of the configured domains. */
int domains_new(struct domains **out, const struct domains_params *params,
		const struct domains_ops *ops, void *arg);
void domains_free(struct domains *d);
/* A peer of domain exists: track it (no-op for our own domain, or one tracked already). */
int domains_track(struct domains *d, const char *domain);
/*
 * The pin of domain changed (`vertex trust pin|forget`): a CA the new pin does not name stops
 * being trusted at once; then fetch and decide again. 0, or -ENOENT if the domain is not
 * tracked or its CA is configured (the pin is kept for later).
 */
int domains_reevaluate(struct domains *d, const char *domain);
/* "domain D" then "domain_state ...", "domain_ca", "domain_crl", "domain_reason" lines. */
void domains_status(const struct domains *d, FILE *f);

/* A signed list for domain from `from` (for logs): applied and kept. 0, -EALREADY, -errno. */
int domains_apply_crl(struct domains *d, const char *domain, const uint8_t *buf, size_t len,
		      const char *from);
/* A CTL_NOTARY from notary who (the home server's domain, or a peer identity). */
void domains_on_notary_answer(struct domains *d, const char *who, const struct ctlmsg *m);
/* What we trust for domain, as a CTL_NOTARY answer to a peer that asked. */
void domains_notary_view(struct domains *d, const char *domain, struct ctlmsg *answer);

#endif
