/* SPDX-License-Identifier: MIT */
/*
 * Trust On First Use and Persistence of Pseudonym for domain CAs (DESIGN §3).
 *
 * A pin records a domain's CA fingerprint, when it was first seen and how it was verified. The
 * decision is pure (no I/O), so every outcome is unit-tested:
 *
 *   a pin exists:  the fingerprint matches -> MATCH; differs -> MISMATCH (a hard failure until
 *                  the user re-pins deliberately; the message names the domain and both prints)
 *   no pin yet:    ask notaries (the home server, other trusted servers and peers) what they see;
 *                  any notary that knows the domain under another fingerprint, or that reports
 *                  the domain as disputed -> NOTARY_DISAGREE (refused, reported); otherwise NEW
 *                  (pin it, recording who agreed)
 *
 * Pins live in the SQLite store (store/store.h: store_pin_*).
 */
#ifndef VERTEX_PINS_H
#define VERTEX_PINS_H

#include <stddef.h>
#include <stdint.h>

#include "trust/identity.h"

enum { PIN_FPR_LEN = 32, PIN_HOW_MAX = 128, PIN_NOTARY_NAME_MAX = 255 };

struct pin {
	char domain[IDENTITY_DOMAIN_MAX + 1];
	uint8_t fpr[PIN_FPR_LEN];
	int64_t first_seen;    /* unix seconds */
	char how[PIN_HOW_MAX]; /* "first use; agreed: a.example.com", "configured", "re-pinned by
				  user" */
};

/*
 * DISPUTED: the notary itself saw fpr at its own first use but could not pin it because one of
 * its notaries disagreed; it blocks a first use like a disagreement does (something is wrong
 * with the domain right now, wherever the fault is).
 */
enum pin_notary_status {
	PIN_NOTARY_KNOWN,
	PIN_NOTARY_UNKNOWN,
	PIN_NOTARY_UNREACHABLE,
	PIN_NOTARY_DISPUTED,
};

struct pin_notary_answer {
	char notary[PIN_NOTARY_NAME_MAX +
		    1]; /* who answered: a server's domain or a peer identity */
	enum pin_notary_status status;
	uint8_t fpr[PIN_FPR_LEN]; /* when KNOWN or DISPUTED */
};

enum pin_verdict {
	PIN_MATCH,
	PIN_NEW,
	PIN_MISMATCH,
	PIN_NOTARY_DISAGREE,
};

/*
 * Decides about fpr presented for domain. existing is the current pin or NULL. On PIN_NEW,
 * *new_pin is filled (first_seen = now, how lists the notaries that agreed). msg always gets a
 * one-line explanation naming the domain and, for refusals, both fingerprints and the notary.
 */
enum pin_verdict pin_decide(const char *domain, const uint8_t fpr[PIN_FPR_LEN],
			    const struct pin *existing, const struct pin_notary_answer *answers,
			    size_t nanswers, int64_t now, struct pin *new_pin, char *msg,
			    size_t msglen);
const char *pin_verdict_name(enum pin_verdict v);
/* What one notary said, for logs: "sees CA X", "does not know the domain", "did not answer",
 * "reports the domain disputed (shown CA X)". */
void pin_answer_format(const struct pin_notary_answer *a, char *buf, size_t len);

#endif
