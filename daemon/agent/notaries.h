/* SPDX-License-Identifier: MIT */
/*
 * The agent's notaries (DESIGN §3). Before pinning a domain's CA for the first time, a round
 * asks everyone the agent already trusts what they see for that domain:
 *   the home server                          (CTL_NOTARY_REQ on the home connection, home.c)
 *   the servers of the other trusted domains (verified queries, control/notary.h), at most
 *                                            NOTARIES_SERVERS_MAX
 *   the peers it has a session with          (CTL_NOTARY_REQ on the peer link), at most
 *                                            NOTARIES_PEERS_MAX
 * and reports all the answers at once to pin_decide() (trust/pins.h). A round ends when every
 * notary asked has answered or after NOTARIES_ROUND_MS; the silent ones count as unreachable.
 *
 * The other side too: a peer's CTL_NOTARY_REQ is answered from what this agent trusts (the CA
 * it holds for the domain: its own, configured, or pinned), else UNKNOWN. Peers never make it
 * fetch anything, and their questions are rate-limited (NOTARIES_PEER_RATE).
 */
#ifndef VERTEX_NOTARIES_H
#define VERTEX_NOTARIES_H

#include <stddef.h>
#include <stdint.h>

#include "trust/pins.h"

struct agent;
struct link;
struct ctlmsg;
struct notary_round;

enum {
	NOTARIES_ROUND_MS = 10000,
	NOTARIES_SERVERS_MAX = 8,
	NOTARIES_PEERS_MAX = 8,
	NOTARIES_MAX = 1 + NOTARIES_SERVERS_MAX + NOTARIES_PEERS_MAX, /* TALLY_MAX */
	/* Questions a peer may ask us: a round asks each peer once per new domain, so a burst of
	 * 16 then one a second is ample for honest peers and bounds the store reads of a noisy
	 * one; the rest are dropped and counted (rate_limited). */
	NOTARIES_PEER_BURST = 16,
	NOTARIES_PEER_RATE = 1,
};

/*
 * Starts a round about domain. done runs exactly once (possibly before this returns, if there is
 * no one to ask), then the round is freed; *out is set while it runs and cleared before done.
 */
int notaries_round_start(struct notary_round **out, struct agent *a, const char *domain,
			 void (*done)(void *arg, const struct pin_notary_answer *answers, size_t n),
			 void *arg);
/* Cancels; done does not run. NULL is ignored. */
void notaries_round_cancel(struct notary_round *r);
/* A CTL_NOTARY from the home server (who: its domain), routed here by home.c. */
void notaries_on_answer(struct agent *a, const char *who, const struct ctlmsg *m);
/* A CTL_NOTARY_REQ or CTL_NOTARY record on an established peer link. */
void notaries_on_peer_record(struct link *l, uint16_t type, const uint8_t *body, size_t len);

#endif
