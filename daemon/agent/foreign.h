/* SPDX-License-Identifier: MIT */
/*
 * Other domains (DESIGN §3): for every peer whose domain has no configured CA, the agent fetches
 * that domain's CA from the domain's own server, asks its notaries (notaries.h: the home server,
 * the other trusted servers, its peers) what they see for the domain, decides with pin_decide()
 * (trust/pins.h: TOFU, Persistence of Pseudonym), and only then trusts the CA for handshakes. It
 * also keeps the revocation lists of every peer's domain but its own fresh (its own comes from
 * the home server), the domains with a configured CA included.
 */
#ifndef VERTEX_FOREIGN_H
#define VERTEX_FOREIGN_H

#include <stdint.h>
#include <stdio.h>

struct agent;

enum {
	FOREIGN_REFRESH_MS =
	    30000, /* revocation lists of other domains are re-fetched this often */
};

int foreign_start(struct agent *a);
void foreign_stop(struct agent *a);
/*
 * The pin of domain changed (`vertex trust pin|forget`): fetch and decide again. Returns 0, or
 * -ENOENT if no peer is in that domain or its CA is configured (the pin is kept for later).
 */
int foreign_reevaluate(struct agent *a, const char *domain);
/* "domain D" then "domain_state pinned|fetching|refused|..." and "domain_reason ..." lines. */
void foreign_status(const struct agent *a, FILE *f);

#endif
