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
	INVITE_CODE_LEN = 19,     /* "xxxx-xxxx-xxxx-xxxx", base32 (80 bits) */
	SECRET_DIGEST_LEN = 32,
};

/* ln is log2(N); use PASSWORD_DEFAULT_LN outside tests. 0 or -errno. */
int password_hash(const char *password, unsigned ln, char out[PASSWORD_HASH_MAX]);
/* False for a wrong password and for a malformed encoding. */
bool password_verify(const char *password, const char *encoded);

int invite_code_new(char out[INVITE_CODE_LEN + 1]);
/* SHA-256 of a secret, after normalising an invite code (upper case, dashes removed). */
int secret_digest(const char *secret, uint8_t out[SECRET_DIGEST_LEN]);

#endif
