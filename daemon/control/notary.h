/* SPDX-License-Identifier: MIT */
/*
 * Notary queries to servers (DESIGN §3): "what CA do you see for DOMAIN?" asked of the server of
 * a domain we already trust, over a verified ctlquery (the answer counts because of who gives
 * it), and the wire answer (CTL_NOTARY) put in the trust decision's terms (trust/pins.h).
 * The agent (agent/notaries.c) and the server (server/federation.c) both ask this way.
 */
#ifndef VERTEX_NOTARY_H
#define VERTEX_NOTARY_H

#include <stdint.h>

#include "trust/pins.h"

struct ev_loop;
struct tls_ctx;
struct ctlmsg;
struct notary_query;

enum { NOTARY_TIMEOUT_MS = 5000 };

struct notary_ask_spec {
	const char *server;  /* the trusted domain whose server is asked; names the answer */
	const char *domain;  /* the domain asked about */
	const char *self;    /* our name in HELLO */
	uint8_t role;        /* CTL_ROLE_AGENT or CTL_ROLE_SERVER */
	struct tls_ctx *tls; /* ours: presents our certificate, trusts the server's CA */
};

/*
 * Asks; done runs exactly once with the answer (UNREACHABLE if none came, the server refused,
 * or it answered about another domain), possibly before notary_ask returns. *out is set while
 * the query runs and cleared before done runs.
 */
int notary_ask(struct notary_query **out, struct ev_loop *loop, const struct notary_ask_spec *spec,
	       void (*done)(void *arg, const struct pin_notary_answer *a), void *arg);
/* Cancels; done does not run. NULL is ignored. */
void notary_cancel(struct notary_query *q);

/*
 * A CTL_NOTARY message as a pin_notary_answer from notary who. A message that is not a
 * CTL_NOTARY about domain becomes UNREACHABLE (the notary did not vouch for anything).
 */
void notary_answer_from_msg(const struct ctlmsg *m, const char *who, const char *domain,
			    struct pin_notary_answer *out);

#endif
