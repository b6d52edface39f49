/* SPDX-License-Identifier: MIT */
/*
 * What cert.c shares with the other files of the certificate module (anchors.c, csr.c, crl.c)
 * and nobody else: the thread's error message, wolfSSL start-up, key loading and the one
 * signing core behind both cert_sign() (files) and cert_ca_issue() (memory). It names wolfCrypt
 * types, so only daemon/crypto/ may include it (STYLE §4).
 */
#ifndef VERTEX_CERT_INTERNAL_H
#define VERTEX_CERT_INTERNAL_H

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ed25519.h>

#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"

/* Sets the message cert_strerror() returns and returns err. */
int cert_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Initialises wolfSSL once per process. */
void cert_lib_init(void);
/* Validates domain and writes its canonical (lower-case) spelling to out. */
int cert_domain_canon(const char *domain, char out[IDENTITY_DOMAIN_MAX + 1]);
/* Loads a PEM Ed25519 private key into an initialised key (the public half is derived). */
int cert_key_load_private(const char *path, ed25519_key *key);
/*
 * Issues a certificate for identity (user@domain of the CA in ca_der; ca_key should be its
 * key, which cert_ca_load checks) over subject_key, valid [not_before, not_after], into der.
 * Returns the DER length or -errno with cert_strerror() set; ca_name names the CA in messages
 * (a path or the domain). Both keys are borrowed (wolfCrypt wants them non-const).
 */
int cert_issue_der(const uint8_t *ca_der, size_t ca_len, const char *ca_name, ed25519_key *ca_key,
		   ed25519_key *subject_key, const char *identity, int64_t not_before,
		   int64_t not_after, uint8_t *der, size_t cap);

#endif
