/* SPDX-License-Identifier: MIT */
/*
 * Fetching what a domain publishes: its CA certificate and its revocation list, from the
 * domain's own server (found through DNS, discover.h). The connection is TLS without verifying
 * the server and without a client certificate, because both answers are checked by what they
 * are, not by where they came from: the CA by its pin and the notaries (trust/pins.h), the list
 * by the CA's signature. Nothing secret is ever sent on it.
 *
 * One fetch is one unverified ctlquery (ctlquery.h): HELLO, CA_REQ, CRL_REQ and, for a list
 * larger than one chunk, a CRL_REQ for each further chunk (crlpull.h), then the callback with
 * what arrived: the CA, and the list if it came whole (it may be missing: servers without one
 * answer with an error). Bounded by CAFETCH_TIMEOUT_MS per answer, and ctlquery's follow-ups.
 */
#ifndef VERTEX_CAFETCH_H
#define VERTEX_CAFETCH_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct cafetch;

enum { CAFETCH_TIMEOUT_MS = 10000 };

struct cafetch_result {
	const char *domain;
	const uint8_t *ca; /* NULL on failure */
	size_t ca_len;
	const uint8_t *crl; /* NULL if the server sent none */
	size_t crl_len;
	const char *error; /* why it failed, when ca is NULL */
};

/*
 * Starts a fetch; done runs exactly once (possibly before cafetch_start returns, on an
 * immediate failure) and the fetch is freed after it. self names us in HELLO; key and cert,
 * if given, are presented so the other domain's server knows who asks (it verifies them once it
 * has pinned our domain's CA), else we connect anonymously. *out, if not NULL, is set while the
 * fetch runs (cleared before done runs) so the owner can cancel it.
 */
int cafetch_start(struct cafetch **out, struct ev_loop *loop, const char *domain, const char *self,
		  const char *key, const char *cert,
		  void (*done)(void *arg, const struct cafetch_result *r), void *arg);
/* Cancels a running fetch; done does not run. */
void cafetch_cancel(struct cafetch *f);

#endif
