/* SPDX-License-Identifier: MIT */
/*
 * A domain server's accounts, in its SQLite store: users (with an optional scrypt password
 * hash), one-time invite codes (SHA-256 digests only, with an expiry), every certificate issued
 * (by fingerprint, for revocation) and the revocation-list number. Nothing secret is stored in
 * plaintext. Every write is one transaction, committed before the function returns (WAL,
 * synchronous=FULL), so an acknowledged enrolment survives kill -9.
 *
 * The reserved user name "server" (the server's own TLS identity, server@DOMAIN) cannot be added.
 */
#ifndef VERTEX_ACCOUNTS_H
#define VERTEX_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/password.h"
#include "trust/identity.h"

#define ACCOUNTS_SERVER_USER "server"

struct accounts;

struct account {
	char user[IDENTITY_USER_MAX + 1];
	char password_hash[PASSWORD_HASH_MAX]; /* "" when the account has no password */
	int64_t created;
	int64_t revoked; /* 0, or when the account was revoked */
	unsigned certs;  /* certificates issued */
};

int accounts_open(struct accounts **out, const char *path);
void accounts_close(struct accounts *a);

/* 0, -EEXIST, -EINVAL (bad or reserved name). password_hash may be NULL. */
int accounts_user_add(struct accounts *a, const char *user, const char *password_hash, int64_t now);
int accounts_user_set_password(struct accounts *a, const char *user, const char *password_hash);
/*
 * Deletes the user and its invites; its issued certificates are revoked first. With domain set,
 * the approvals user@domain gave or received go too (approvals.h; *approvals_purged says how
 * many, if not NULL), in the same transaction, so a user re-created under the name inherits
 * none. Returns how many certificates were revoked, -ENOENT or -EIO.
 */
int accounts_user_del(struct accounts *a, const char *user, const char *domain, int64_t now,
		      int *approvals_purged);
int accounts_user_get(struct accounts *a, const char *user, struct account *out);
int accounts_user_each(struct accounts *a, int (*fn)(const struct account *, void *), void *arg);

int accounts_invite_add(struct accounts *a, const char *user,
			const uint8_t digest[SECRET_DIGEST_LEN], int64_t expires);
/*
 * Atomically uses an invite: 0 if user has an unused, unexpired invite with this digest (it is
 * marked used); -ENOENT if there is none (wrong code or user), -ETIMEDOUT if expired, -EALREADY
 * if already used.
 */
int accounts_invite_consume(struct accounts *a, const char *user,
			    const uint8_t digest[SECRET_DIGEST_LEN], int64_t now);

int accounts_cert_record(struct accounts *a, const char *user, const uint8_t fpr[32],
			 int64_t not_before, int64_t not_after);
/*
 * The issuing of a certificate, in one transaction: refused with -EDQUOT if user already has
 * max_unexpired certificates not expired at now (revoked or not: each may be on the revocation
 * list until it expires, so this bounds what one account adds to it), else recorded; then its
 * older certificates are superseded -- every unexpired one but this and the newest before it
 * (whose sessions rekey onto the new one within minutes) is revoked, bumping the CRL number if
 * there were any. Returns how many were superseded; -ENOENT, -EPERM (revoked), -EEXIST,
 * -EINVAL as accounts_cert_record.
 */
int accounts_cert_issue(struct accounts *a, const char *user, const uint8_t fpr[32],
			int64_t not_before, int64_t not_after, int64_t now, unsigned max_unexpired);
/* Revokes the account and every certificate issued to it; bumps the CRL number. Returns the
 * number of certificates revoked, or -ENOENT. */
int accounts_revoke_user(struct accounts *a, const char *user, int64_t now);
/*
 * The server's own certificate (server@DOMAIN), recorded like any other so it can be revoked
 * and listed: 0, -EEXIST, -EINVAL.
 */
int accounts_server_cert_record(struct accounts *a, const uint8_t fpr[32], int64_t not_before,
				int64_t not_after);
/* Revokes every certificate of server@DOMAIN; bumps the CRL number if any. The count or -EIO. */
int accounts_revoke_server(struct accounts *a, int64_t now);
/*
 * Whom the certificate fpr was issued to (user, may be NULL) and when it was revoked (0 =
 * valid): 0, or -ENOENT if it was never recorded.
 */
int accounts_cert_state(struct accounts *a, const uint8_t fpr[32], char *user, size_t user_len,
			int64_t *revoked_at);
/* A 32-byte secret of the store by name, made at random at first use. 0 or -errno. */
int accounts_secret(struct accounts *a, const char *name, uint8_t out[32]);
/* Fingerprints of revoked certificates not yet expired at now, and the current CRL number. */
int accounts_revoked(struct accounts *a, int64_t now, uint8_t (**fprs)[32], size_t *count,
		     uint64_t *crl_number);

#endif
