/* SPDX-License-Identifier: MIT */
/*
 * Secrets the server checks: passwords (stored only as salted scrypt hashes, from wolfCrypt) and
 * one-time invite codes (stored only as SHA-256 digests: they are random and long, so a fast hash
 * suffices). Comparisons are constant-time.
 *
 * Encoded hash: "$scrypt$ln=LN,r=R,p=P$SALT$HASH", SALT (16 bytes) and HASH (32 bytes) in
 * unpadded base64.
 */
#ifndef VERTEX_PASSWORD_H
#define VERTEX_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PASSWORD_HASH_MAX = 128,
	PASSWORD_DEFAULT_LN = 15, /* N = 2^15, r = 8: 32 MiB and ~0.1 s per hash */
	PASSWORD_LN_MIN = 10,
	PASSWORD_LN_MAX = 20,
	PASSWORD_LEN_MAX = 255, /* the one rule: 1..255 bytes of printable ASCII */
	PASSWORD_SALT_LEN = 16,
	PASSWORD_KEY_LEN = 32,   /* scrypt's output: what the server stores, the proof's key */
	PASSWORD_PROOF_LEN = 32, /* HMAC-SHA256 */
	PASSWORD_EXPORTER_LEN = 32,
	/*
	 * "XXXX-XXXX-XXXX-XXXX-XXXX", Crockford base32: 14 random digits (70 bits) and 6 digits
	 * (30 bits) committing to the CA the code was made under (invite_code_check_ca).
	 */
	INVITE_CODE_LEN = 24,
	INVITE_CODE_OLD_LEN = 19, /* "XXXX-XXXX-XXXX-XXXX": 80 random bits, no commitment */
	SECRET_DIGEST_LEN = 32,
};

/* The TLS exporter label both ends of an enrolment derive the proof's binding from. */
#define PASSWORD_EXPORTER_LABEL "EXPORTER-vertex-enrol-password"

/*
 * The one rule for passwords, applied where one is set (vertex-server user add) and where one
 * is typed (vertex register): 1 to PASSWORD_LEN_MAX bytes, each printable ASCII (space to '~').
 * ASCII only, so the bytes the administrator typed are the bytes the user types, whatever
 * their keyboards and Unicode normalisation. NULL if the password follows it, else why not.
 */
const char *password_rule_check(const char *password);

/* ln is log2(N); use PASSWORD_DEFAULT_LN outside tests. 0 or -errno. */
int password_hash(const char *password, unsigned ln, char out[PASSWORD_HASH_MAX]);
/* False for a wrong password and for a malformed encoding. */
bool password_verify(const char *password, const char *encoded);
/* Splits a stored hash into its cost, salt and key (the scrypt output); false if malformed. */
bool password_hash_parse(const char *encoded, unsigned *ln, uint8_t salt[PASSWORD_SALT_LEN],
			 uint8_t key[PASSWORD_KEY_LEN]);
/* The key a client derives from the password and the server's salt and cost. 0 or -errno. */
int password_derive_key(const char *password, const uint8_t salt[PASSWORD_SALT_LEN], unsigned ln,
			uint8_t key[PASSWORD_KEY_LEN]);
/*
 * The enrolment proof (docs/protocol.md, "Enrolment"): HMAC-SHA256 under key of
 * "vertex enrol password v1\0" | exporter | identity | "\0" | SHA-256(csr). Bound to one TLS
 * connection (its exporter), one identity and one certificate request. 0 or -errno.
 */
int password_proof(const uint8_t key[PASSWORD_KEY_LEN],
		   const uint8_t exporter[PASSWORD_EXPORTER_LEN], const char *identity,
		   const uint8_t *csr, size_t csr_len, uint8_t proof[PASSWORD_PROOF_LEN]);
/*
 * What the server answers for a user with no password (unknown, invite-only): a salt and key
 * derived from the store's secret and the name, so the answer is the same every time, and
 * indistinguishable from a real one to anyone without the secret. 0 or -errno.
 */
int password_dummy(const uint8_t secret[32], const char *user, uint8_t salt[PASSWORD_SALT_LEN],
		   uint8_t key[PASSWORD_KEY_LEN]);

/* A new invite code committed to the CA whose certificate has fingerprint ca_fpr. */
int invite_code_new(const uint8_t ca_fpr[32], char out[INVITE_CODE_LEN + 1]);

enum invite_ca_match {
	INVITE_CA_MATCH = 0,     /* made under this CA (or a 2^-30 accident) */
	INVITE_CA_MISMATCH = 1,  /* made under another CA: do not send the code */
	INVITE_CA_NONE = 2,      /* an old code without commitment */
	INVITE_CA_MALFORMED = 3, /* not an invite code at all */
};
/* Whether code (case and dashes ignored) commits to the CA of fingerprint ca_fpr. */
enum invite_ca_match invite_code_check_ca(const char *code, const uint8_t ca_fpr[32]);
/* SHA-256 of a secret, after normalising an invite code (upper case, dashes removed). */
int secret_digest(const char *secret, uint8_t out[SECRET_DIGEST_LEN]);

#endif
