/* SPDX-License-Identifier: MIT */
/*
 * Keys and certificates (DESIGN §3), offline as with nebula-cert; the server reuses exactly this.
 *
 * Keys are Ed25519, stored PEM (private key files mode 0600, written atomically). A domain CA
 * is a self-signed certificate whose subject CN is the domain name, basicConstraints CA:TRUE.
 * An agent certificate has subject CN "user@domain", is signed by its domain's CA, and is valid
 * between explicit not-before and not-after times. A fingerprint is SHA-256 over the DER.
 *
 * struct cert_trust is the set of trusted domain CAs: a certificate is accepted only if it is
 * signed by the CA *of the domain it names* (so a.example.com's CA cannot vouch for
 * bob@b.example.com), is within its validity, and its CN parses as user@domain.
 */
#ifndef VERTEX_CERT_H
#define VERTEX_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trust/identity.h"

enum {
	CERT_FPR_LEN = 32,
	CERT_PUBKEY_LEN = 32,
	CERT_DER_MAX = 4096,
	CERT_NAME_MAX = 63, /* longest subject name wolfSSL writes (its CTC_NAME_SIZE - 1) */
};

struct cert_info {
	char subject[IDENTITY_STR_MAX]; /* CN: "user@domain" or, for a CA, "domain" */
	char issuer[IDENTITY_STR_MAX];  /* issuer CN */
	int64_t not_before;             /* seconds since the epoch, UTC */
	int64_t not_after;
	bool is_ca;
	uint8_t fpr[CERT_FPR_LEN];
	uint8_t pubkey[CERT_PUBKEY_LEN];
};

/* Makes an Ed25519 key pair: private key to priv_path (0600), public key to pub_path if set. */
int cert_key_new(const char *priv_path, const char *pub_path);
/* Makes a domain CA: key (0600) and self-signed certificate valid for days from now. */
int cert_ca_init(const char *domain, unsigned days, const char *key_path, const char *cert_path);
/*
 * Issues a certificate for identity (user@domain, which must be the CA's domain) over the public
 * key in pub_path (a PEM public key, or a private key file from which the public half is taken).
 */
int cert_sign(const char *ca_key_path, const char *ca_cert_path, const char *pub_path,
	      const char *identity, int64_t not_before, int64_t not_after, const char *out_path);

/* The reason for the last failure of a cert_* call in this thread, naming the file and problem. */
const char *cert_strerror(void);
/* Writes a certificate (DER) to path as PEM, atomically (temporary file, rename), mode 0644. */
int cert_write_pem(const char *path, const uint8_t *der, size_t len);
/* RFC 3339 UTC, "2020-01-02T00:00:00Z". */
void cert_time_format(int64_t t, char *buf, size_t len);

int cert_info_from_der(const uint8_t *der, size_t len, struct cert_info *out);
int cert_info_from_file(const char *path, struct cert_info *out);
/* Reads a PEM certificate file into DER; returns the DER length or -errno. */
int cert_load_der(const char *path, uint8_t *der, size_t cap);
/* "ab:cd:..." is not used: fingerprints print as "SHA256:" + unpadded base64, as OpenSSH does. */
void cert_fpr_format(const uint8_t fpr[CERT_FPR_LEN], char *buf, size_t len);
/*
 * Reads back what cert_fpr_format prints (crypto/fpr.c): "SHA256:" and exactly 43 base64
 * characters whose unused low bits are zero. 0, or -EINVAL (fpr untouched).
 */
int cert_fpr_parse(const char *s, uint8_t fpr[CERT_FPR_LEN]);

struct cert_trust;
struct crl;

int cert_trust_new(struct cert_trust **out);
void cert_trust_free(struct cert_trust *t);
/* Adds the CA in ca_path as the anchor for domain; -EINVAL if its CN is not that domain,
 * -EEXIST if domain already has one. */
int cert_trust_add(struct cert_trust *t, const char *domain, const char *ca_path);
/*
 * The same checks for a CA certificate in DER (a CA pinned at run time), but an existing anchor
 * for domain is replaced. A replacement with another key drops the domain's revocation list.
 */
int cert_trust_add_der(struct cert_trust *t, const char *domain, const uint8_t *der, size_t len);
/*
 * Drops domain's anchor and its revocation list: its certificates are no longer trusted (a pin
 * the administrator forgot). 0, or -ENOENT if it had none.
 */
int cert_trust_remove(struct cert_trust *t, const char *domain);
/*
 * The DER of domain's anchor (borrowed: valid until an anchor is replaced or removed, or t is
 * freed), or NULL.
 */
const uint8_t *cert_trust_anchor_der(const struct cert_trust *t, const char *domain, size_t *len);
size_t cert_trust_count(const struct cert_trust *t);
/* Calls fn for every anchor: its PEM path (NULL if it was added as DER) and its DER, so the TLS
 * layer can load them. */
void cert_trust_each(const struct cert_trust *t,
		     void (*fn)(const char *domain, const char *ca_path, const uint8_t *der,
				size_t len, void *arg),
		     void *arg);
/*
 * Keeps a copy of c as the revocation list of its domain, if its number is higher than that of
 * the list held. The caller has checked its signature against that domain's anchor
 * (crl_decode_verify). 0; -ENOENT if the domain has no anchor; -EALREADY if the list held is
 * as new or newer (nothing changes); -ENOMEM. A stale list (past next_update) still applies:
 * whether stale means refuse is the caller's policy.
 */
int cert_trust_set_crl(struct cert_trust *t, const struct crl *c);
/*
 * Verifies a signed list (crypto/crl.h format) against the anchor of domain, checks that it is
 * domain's, and keeps it (cert_trust_set_crl). 0 with *out the decoded list (the caller frees
 * it with crl_free); -ENOENT (no anchor), -EINVAL (does not verify, or another domain's) or
 * -EALREADY (not newer than the list held), with *why a static reason and *out empty.
 */
int cert_trust_apply_crl(struct cert_trust *t, const char *domain, const uint8_t *buf, size_t len,
			 struct crl *out, const char **why);
/*
 * Would a list of domain numbered number, issued at issued, replace the one held (the rule of
 * cert_trust_set_crl)? False if domain has no anchor. For skipping a transfer early.
 */
bool cert_trust_crl_is_newer(const struct cert_trust *t, const char *domain, uint64_t number,
			     int64_t issued);
/* The number and next_update of the list held for domain; -ENOENT if it has none. */
int cert_trust_crl_info(const struct cert_trust *t, const char *domain, uint64_t *number,
			int64_t *next_update);
/*
 * Verifies a peer certificate (DER) at time now: signed by the anchor of the domain it names,
 * within validity, not revoked by its domain's list, not a CA, CN a valid user@domain. Fills
 * *out. Returns 0, or -EACCES with *why set to a static reason ("certificate expired", "no
 * trusted CA for the certificate's domain", ...), except for a revoked certificate, where *why
 * is "certificate revoked by DOMAIN (list #N)" in a buffer of this thread, valid until the next
 * call.
 */
int cert_trust_verify(const struct cert_trust *t, const uint8_t *der, size_t len, int64_t now,
		      struct cert_info *out, const char **why);
/*
 * The same checks, with a specific reason naming names and times written to msg ("no trusted
 * CA for domain evil.example", "certificate expired at 2020-01-02T00:00:00Z"). *out is filled
 * as far as the certificate parsed, also on failure.
 */
int cert_trust_check(const struct cert_trust *t, const uint8_t *der, size_t len, int64_t now,
		     struct cert_info *out, char *msg, size_t msg_len);

#endif
