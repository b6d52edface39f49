/* SPDX-License-Identifier: MIT */
/*
 * What cert.c shares with the other files of the certificate module (keyfile.c, anchors.c,
 * csr.c, crl.c) and nobody else: the thread's error message, wolfSSL start-up, key and PEM
 * files (keyfile.c) and the one signing core behind both cert_sign() (files) and
 * cert_ca_issue() (memory). It names wolfCrypt
 * types, so only daemon/crypto/ may include it (STYLE §4).
 */
#ifndef VERTEX_CERT_INTERNAL_H
#define VERTEX_CERT_INTERNAL_H

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"

/* Sets the message cert_strerror() returns and returns err. */
int cert_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Initialises wolfSSL once per process. */
void cert_lib_init(void);
/* Validates domain and writes its canonical (lower-case) spelling to out. */
int cert_domain_canon(const char *domain, char out[IDENTITY_DOMAIN_MAX + 1]);
enum { CERT_FILE_MAX = 16384 }; /* larger key or certificate files are not ours */

/* keyfile.c: files. All set cert_strerror() on failure. */
/* Reads a whole small file into buf (NUL terminated); returns its length or -errno. */
int cert_file_read(const char *path, char *buf, size_t cap);
/* Writes DER as PEM of the given wolfSSL type, atomically; a secret is 0600 and never replaces
 * an existing file, anything else is 0644 and does. */
int cert_pem_write(const char *path, const uint8_t *der, size_t len, int type, bool secret);

/* keyfile.c: Ed25519 keys, in initialised wolfCrypt keys. */
/* Loads a PEM Ed25519 private key (the public half is derived). */
int cert_key_load_private(const char *path, ed25519_key *key);
/* Loads the public half from a PEM public key, or from a PEM private key file. */
int cert_key_load_public(const char *path, ed25519_key *key);
/* Makes a fresh key pair. */
int cert_key_generate(ed25519_key *key, WC_RNG *rng);
/* Writes the private key (0600, never over an existing file) and, if pub_path, the public. */
int cert_key_write(const ed25519_key *key, const char *priv_path, const char *pub_path);

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
