/* SPDX-License-Identifier: MIT */
/*
 * One short exchange with a domain's server: find it (DNS, off the loop: resolve.h), connect
 * (naming the domain in TLS, for servers of several domains), HELLO, send a
 * few requests (the next of at most CTLQUERY_ADDRS_MAX addresses tried while connecting fails),
 * take one answer per request (the answer, or a CTL_ERROR refusing it; the server
 * answers in order), close, and report. Bounded by CTLQUERY_TIMEOUT_MS from the connect.
 *
 * Two kinds, by what the answers are worth:
 *   unverified (spec.tls NULL): our own TLS context that does not check the server at all, for
 *     answers that are checked by what they are, not where they came from (a CA by its pin and
 *     the notaries, a revocation list by its signature; cafetch.h). Nothing secret is sent.
 *   verified (spec.tls given): the caller's context, and the server must present the certificate
 *     of server@DOMAIN from a CA that context trusts for DOMAIN, for answers that count because
 *     of who gave them (a notary's view of another domain; notary.h).
 * Used by the agent and by the server alike.
 */
#ifndef VERTEX_CTLQUERY_H
#define VERTEX_CTLQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ctlmsg.h"

struct ev_loop;
struct tls_ctx;
struct ctlquery;

enum {
	CTLQUERY_MAX = 4,
	/*
	 * Addresses of the server tried in turn (discover.h's order) while one cannot be reached
	 * or does not complete the TLS handshake; once one answers, a failure is final.
	 */
	CTLQUERY_ADDRS_MAX = 3,
	CTLQUERY_TIMEOUT_MS = 10000,
	/* Follow-ups of the last request (a revocation list pulled in chunks: 129 at most). */
	CTLQUERY_FOLLOW_MAX = 160,
};

struct ctlquery_spec {
	const char *domain;     /* whose server to ask */
	const char *self;       /* our name in HELLO */
	uint8_t role;           /* ours in HELLO: CTL_ROLE_AGENT (0 means that) or _SERVER */
	struct tls_ctx *tls;    /* verified: borrowed, must outlive the query; or NULL */
	const char *key, *cert; /* unverified only: presented if given, else anonymous */
	const struct ctlmsg *reqs;
	size_t nreqs;        /* 1..CTLQUERY_MAX */
	unsigned timeout_ms; /* 0: CTLQUERY_TIMEOUT_MS, for the whole exchange and again for
				each follow-up */
	/*
	 * Optional: an answer to the last request may be followed up on the same connection. It
	 * is called (with the arg given to ctlquery_start) for each answer to the last request;
	 * returning true with *next filled sends next, and the answer to next takes the last
	 * answer's place. At most CTLQUERY_FOLLOW_MAX times; then the exchange ends with an error.
	 */
	bool (*follow)(void *arg, const struct ctlmsg *answer, struct ctlmsg *next);
};

struct ctlquery_result {
	const char *domain;
	const struct ctlmsg *answers; /* in request order; valid only during the callback */
	size_t nanswers;              /* fewer than nreqs if the exchange broke off */
	const char *error;            /* why, when nanswers < nreqs */
};

/*
 * Starts a query; done runs exactly once (possibly before ctlquery_start returns, on an
 * immediate failure) and the query is freed after it. *out, if not NULL, is set while the query
 * runs and cleared before done runs, so the owner can cancel it.
 */
int ctlquery_start(struct ctlquery **out, struct ev_loop *loop, const struct ctlquery_spec *spec,
		   void (*done)(void *arg, const struct ctlquery_result *r), void *arg);
/* Cancels a running query; done does not run. NULL is ignored. */
void ctlquery_cancel(struct ctlquery *q);

#endif
