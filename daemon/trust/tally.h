/* SPDX-License-Identifier: MIT */
/*
 * The answers of one notary round (DESIGN §3): a fixed set of notaries is asked what CA they see
 * for a domain, and pin_decide() (pins.h) weighs what they said. This is the bookkeeping both
 * rounds share, the agent's (agent/notaries.c: home server, other servers, peers) and a server's
 * (server/crosscheck.c: the servers of the domains it pinned): one slot per notary asked,
 * pre-filled as "did not answer", and an answer fills the slot of the notary that gave it only
 * if that notary was asked and has not answered yet, so a late, repeated or unasked answer can
 * never count. Pure: no I/O, no time (each round bounds itself).
 */
#ifndef VERTEX_TALLY_H
#define VERTEX_TALLY_H

#include <stdbool.h>
#include <stddef.h>

#include "trust/pins.h"

enum { TALLY_MAX = 17 }; /* the agent's home server, 8 servers and 8 peers */

struct tally {
	struct pin_notary_answer answers[TALLY_MAX]; /* what pin_decide() gets, n long */
	bool answered[TALLY_MAX];
	size_t n, nanswered;
};

void tally_init(struct tally *t);
/* A slot for notary who (its name copied), UNREACHABLE until it answers; its index, or -1 if
 * the tally is full. */
int tally_add(struct tally *t, const char *who);
/* Notary i could not be asked: it stays unreachable and no answer is awaited from it. */
void tally_skip(struct tally *t, size_t i);
/* Records a's answer if its notary has a slot and has not answered; true if it did. */
bool tally_record(struct tally *t, const struct pin_notary_answer *a);
/* Every notary has answered or was skipped. */
bool tally_is_complete(const struct tally *t);

#endif
