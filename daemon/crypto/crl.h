/* SPDX-License-Identifier: MIT */
/*
 * Revocation lists (DESIGN §3): each domain publishes one, signed by its CA. Our own compact
 * format rather than X.509 CRLs (Debian's wolfSSL can check X.509 CRLs but not make them, and
 * we revoke by certificate fingerprint, which every verifier already computes):
 *
 *   magic "VCRL" | version u8 (1) | domain str8 | number u64 | issued i64 | next_update i64
 *   | count u32 | count x fingerprint (32 bytes, SHA-256 of the certificate DER, sorted)
 *   | signature (64 bytes, Ed25519 by the domain CA over every byte before it)
 *
 * A verifier keeps the newest list it has seen per domain: the highest number, and for the same
 * number the latest issued (a server re-signs an unchanged list to keep it fresh). A list past
 * next_update is stale (the caller decides whether stale means refuse).
 */
#ifndef VERTEX_CRL_H
#define VERTEX_CRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"

struct cert_ca;

enum {
	CRL_MAX_ENTRIES = 65536,
	/* The largest signed list: magic, version, the longest domain, the fixed fields, every
	 * entry, the signature (2,097,503 bytes). It travels in chunks (proto/ctlmsg.h CTL_CRL). */
	CRL_WIRE_MAX =
	    4 + 1 + 1 + IDENTITY_DOMAIN_MAX + 8 + 8 + 8 + 4 + CRL_MAX_ENTRIES * CERT_FPR_LEN + 64,
};

struct crl {
	char domain[IDENTITY_DOMAIN_MAX + 1];
	uint64_t number;
	int64_t issued, next_update;
	size_t count;
	uint8_t (*revoked)[CERT_FPR_LEN]; /* sorted; owned, freed by crl_free() */
};

/* Signs c (its revoked list need not be sorted) with ca; *out is malloc'd, the caller frees. */
int crl_encode_signed(struct cert_ca *ca, const struct crl *c, uint8_t **out, size_t *len);
/* Parses buf and checks the signature against ca_pubkey. 0, or -EINVAL with *why. */
int crl_decode_verify(const uint8_t *buf, size_t len, const uint8_t ca_pubkey[CERT_PUBKEY_LEN],
		      struct crl *out, const char **why);
bool crl_is_revoked(const struct crl *c, const uint8_t fpr[CERT_FPR_LEN]);
void crl_free(struct crl *c);

#endif
