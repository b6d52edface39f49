/* SPDX-License-Identifier: MIT */
/*
 * What enrolment and the server need beyond cert.h: certificate requests (PKCS#10, Ed25519),
 * and a CA held in memory that issues certificates and signs revocation lists. The offline
 * `vertex ca sign` and the server issue through the same code (cert.c's signing core).
 */
#ifndef VERTEX_CSR_H
#define VERTEX_CSR_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"

enum { CSR_DER_MAX = 1024, CERT_SIG_LEN = 64 };

/* A CSR for identity (user@domain) signed with the key in key_path. Returns its DER length or
 * -errno (reason in cert_strerror()). */
int csr_new(const char *key_path, const char *identity, uint8_t *der, size_t cap);
/*
 * Parses a CSR and checks its self-signature (proof that the requester holds the key). Fills
 * identity (its CN, which must be a valid user@domain) and the Ed25519 public key. 0, or -EINVAL
 * with *why set to a static reason.
 */
int csr_verify(const uint8_t *der, size_t len, char identity[IDENTITY_STR_MAX],
	       uint8_t pubkey[CERT_PUBKEY_LEN], const char **why);

/* A domain CA loaded into memory: its key and certificate. */
struct cert_ca;

int cert_ca_load(struct cert_ca **out, const char *key_path, const char *cert_path);
void cert_ca_free(struct cert_ca *ca);
const char *cert_ca_domain(const struct cert_ca *ca);
const uint8_t *cert_ca_der(const struct cert_ca *ca, size_t *len);
/* Issues a certificate (DER into der, returns its length or -errno) for identity, which must be
 * in the CA's domain, over pubkey, valid [not_before, not_after]. */
int cert_ca_issue(struct cert_ca *ca, const uint8_t pubkey[CERT_PUBKEY_LEN], const char *identity,
		  int64_t not_before, int64_t not_after, uint8_t *der, size_t cap);
/* Ed25519 signature with the CA key (used for revocation lists). */
int cert_ca_sign(struct cert_ca *ca, const uint8_t *msg, size_t len, uint8_t sig[CERT_SIG_LEN]);
/* Verifies an Ed25519 signature against a CA certificate's public key. */
bool cert_verify_sig(const uint8_t ca_pubkey[CERT_PUBKEY_LEN], const uint8_t *msg, size_t len,
		     const uint8_t sig[CERT_SIG_LEN]);

#endif
