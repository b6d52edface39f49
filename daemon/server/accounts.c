// SPDX-License-Identifier: MIT
/*
 * The server's accounts in SQLite, with the conventions of store/store.c: WAL journal,
 * synchronous=FULL, the file created 0600 before SQLite opens it, statements prepared per call
 * (enrolment is rare; nothing here is on a packet path), every failure logged with the file name.
 *
 * Tables (docs/server.md, "State"):
 *   users    name, password_hash ('' = none), created, revoked (NULL = active)
 *   invites  digest (SHA-256 of the normalised code), user, expires, used_at (NULL = unused)
 *   certs    fpr (SHA-256 of the DER), user, not_before, not_after, revoked_at (NULL = valid)
 *   meta     key/value; 'crl_number' increases whenever the set of revoked certificates grows
 *   secrets  name, value (32 random bytes made at first use; 'dummy' keys the answers for
 *            users without a password, password_dummy)
 *
 * The server's own certificate (server@DOMAIN) is a row of certs with user 'server', which has
 * no row in users: it is revoked with accounts_revoke_server, never through an account.
 *
 * Certificates outlive their user: deleting a user revokes its certificates and keeps their
 * rows, so the CRL still lists them until they expire. secure_delete is on, so a deleted
 * password hash or invite digest is overwritten in the file rather than left in a free page.
 *
 * Operations that read then write (consume an invite, revoke, delete) run in one
 * BEGIN IMMEDIATE transaction: the write lock is taken first, so two enrolments racing for
 * one invite cannot both see it unused.
 */
#include "server/accounts.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "crypto/aead.h"

struct accounts {
	sqlite3 *db;
	char *path;
};

enum { ACC_BLOB_LEN = 32 }; /* certificate fingerprints and invite digests */
_Static_assert((int)SECRET_DIGEST_LEN == (int)ACC_BLOB_LEN, "digests are bound as 32 bytes");

static const char accounts_schema[] =
    "PRAGMA secure_delete=ON;"
    "CREATE TABLE IF NOT EXISTS users ("
    "  name TEXT PRIMARY KEY,"
    "  password_hash TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  revoked INTEGER);"
    "CREATE TABLE IF NOT EXISTS invites ("
    "  digest BLOB PRIMARY KEY,"
    "  user TEXT NOT NULL,"
    "  expires INTEGER NOT NULL,"
    "  used_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS invites_user ON invites (user);"
    "CREATE TABLE IF NOT EXISTS certs ("
    "  fpr BLOB PRIMARY KEY,"
    "  user TEXT NOT NULL,"
    "  not_before INTEGER NOT NULL,"
    "  not_after INTEGER NOT NULL,"
    "  revoked_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS certs_user ON certs (user);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('crl_number', 1);";

static int
acc_fail(struct accounts *a, const char *what)
{
	log_warnx("accounts %s: %s: %s", a->path, what, sqlite3_errmsg(a->db));
	return -EIO;
}

/*
 * Prepares sql and binds its parameters from fmt: 't' a string, 'b' a 32-byte blob, 'i' an
 * int64_t, 'n' NULL (no argument). 0 or -EIO.
 */
static int
acc_vprepare(struct accounts *a, const char *what, const char *sql, sqlite3_stmt **s,
	     const char *fmt, va_list ap)
{
	int rc = SQLITE_OK;

	if (sqlite3_prepare_v2(a->db, sql, -1, s, NULL) != SQLITE_OK)
		return acc_fail(a, what);
	for (int i = 1; *fmt && rc == SQLITE_OK; fmt++, i++) {
		if (*fmt == 't')
			rc = sqlite3_bind_text(*s, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
		else if (*fmt == 'b')
			rc = sqlite3_bind_blob(*s, i, va_arg(ap, const uint8_t *), ACC_BLOB_LEN,
					       SQLITE_STATIC);
		else if (*fmt == 'i')
			rc = sqlite3_bind_int64(*s, i, va_arg(ap, int64_t));
		else
			rc = sqlite3_bind_null(*s, i);
	}
	if (rc != SQLITE_OK) {
		rc = acc_fail(a, what);
		sqlite3_finalize(*s);
		return rc;
	}
	return 0;
}

static int
acc_prepare(struct accounts *a, const char *what, const char *sql, sqlite3_stmt **s,
	    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = acc_vprepare(a, what, sql, s, fmt, ap);
	va_end(ap);
	return rc;
}

/* Runs a statement that returns no rows: the number of rows changed, -EEXIST or -EIO. */
static int
acc_exec(struct accounts *a, const char *what, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = acc_vprepare(a, what, sql, &s, fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rc = sqlite3_changes(a->db);
	else if (rc == SQLITE_CONSTRAINT)
		rc = -EEXIST;
	else
		rc = acc_fail(a, what);
	sqlite3_finalize(s);
	return rc;
}

static int
acc_begin(struct accounts *a)
{
	return acc_exec(a, "begin", "BEGIN IMMEDIATE", "") < 0 ? -EIO : 0;
}

/* Commits if rc >= 0 (returning rc), else rolls back (returning rc). */
static int
acc_end(struct accounts *a, int rc)
{
	if (rc >= 0 && acc_exec(a, "commit", "COMMIT", "") >= 0)
		return rc;
	if (sqlite3_get_autocommit(a->db) == 0)
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return rc >= 0 ? -EIO : rc;
}

int
accounts_open(struct accounts **out, const char *path)
{
	struct accounts *a = calloc(1, sizeof(*a));
	int rc = -ENOMEM;

	if (!a || !(a->path = strdup(path)))
		goto err_free;
	rc = store_db_open(path, "accounts", accounts_schema, &a->db);
	if (rc)
		goto err_free;
	*out = a;
	return 0;

err_free:
	if (a)
		free(a->path);
	free(a);
	return rc;
}

void
accounts_close(struct accounts *a)
{
	if (!a)
		return;
	sqlite3_close(a->db);
	free(a->path);
	free(a);
}

/*
 * The identity grammar's user part, in canonical (lower-case) form: parsing "user@example.com"
 * must give back exactly user, so "Alice" is refused rather than silently folded.
 */
static bool
acc_user_is_valid(const char *user)
{
	char buf[IDENTITY_USER_MAX + sizeof("@example.com")];
	struct identity id;

	if (!user || strlen(user) > IDENTITY_USER_MAX)
		return false;
	snprintf(buf, sizeof(buf), "%s@example.com", user);
	return identity_parse(buf, IDENTITY_PURPOSE_FORBIDDEN, &id, NULL) == 0 &&
	       strcmp(id.user, user) == 0;
}

static bool
acc_hash_is_valid(const char *hash)
{
	return !hash || strlen(hash) < PASSWORD_HASH_MAX;
}

int
accounts_user_add(struct accounts *a, const char *user, const char *password_hash, int64_t now)
{
	int rc;

	if (!acc_user_is_valid(user) || strcmp(user, ACCOUNTS_SERVER_USER) == 0 ||
	    !acc_hash_is_valid(password_hash))
		return -EINVAL;
	rc = acc_exec(a, "user add",
		      "INSERT INTO users (name, password_hash, created) VALUES (?, ?, ?)", "tti",
		      user, password_hash ? password_hash : "", now);
	return rc < 0 ? rc : 0;
}

int
accounts_user_set_password(struct accounts *a, const char *user, const char *password_hash)
{
	int rc;

	if (!acc_hash_is_valid(password_hash))
		return -EINVAL;
	rc = acc_exec(a, "set password", "UPDATE users SET password_hash = ? WHERE name = ?", "tt",
		      password_hash ? password_hash : "", user);
	return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

/* Whether user exists (0 or -ENOENT) and, through *revoked, when it was revoked (0 = never). */
static int
acc_user_state(struct accounts *a, const char *user, int64_t *revoked)
{
	sqlite3_stmt *s;
	int rc =
	    acc_prepare(a, "user state", "SELECT revoked FROM users WHERE name = ?", &s, "t", user);

	if (rc)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*revoked = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : acc_fail(a, "user state");
	}
	sqlite3_finalize(s);
	return rc;
}

/* Revokes user's valid certificates at now, bumping the CRL number if any; the count or -EIO. */
static int
acc_revoke_certs(struct accounts *a, const char *user, int64_t now)
{
	int n = acc_exec(a, "revoke certs",
			 "UPDATE certs SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL",
			 "it", now, user);

	if (n > 0 && acc_exec(a, "crl number",
			      "UPDATE meta SET value = value + 1 WHERE key = 'crl_number'", "") < 0)
		return -EIO;
	return n;
}

/* Is there a table called name in the store? 1, 0 or -EIO. */
static int
acc_has_table(struct accounts *a, const char *name)
{
	sqlite3_stmt *s;
	int rc = acc_prepare(a, "schema",
			     "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", &s,
			     "t", name);

	if (rc)
		return rc;
	rc = sqlite3_step(s);
	rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : acc_fail(a, "schema");
	sqlite3_finalize(s);
	return rc;
}

/*
 * Deletes the approvals identity gave or received (the table is approvals.c's, made by the
 * server's first start: none yet, nothing to do) and bumps meta's approvals_epoch, which tells a
 * running server to reload its index (approvals_sync). How many rows went, or -EIO.
 */
static int
acc_purge_approvals(struct accounts *a, const char *identity)
{
	int n, has = acc_has_table(a, "approvals");

	if (has <= 0)
		return has;
	if ((n = acc_exec(a, "user del approvals",
			  "DELETE FROM approvals WHERE asker = ?1 OR answerer = ?1", "t",
			  identity)) <= 0)
		return n;
	if (acc_exec(a, "approvals epoch",
		     "INSERT INTO meta (key, value) VALUES ('approvals_epoch', 1) "
		     "ON CONFLICT (key) DO UPDATE SET value = value + 1",
		     "") < 0)
		return -EIO;
	return n;
}

int
accounts_user_del(struct accounts *a, const char *user, const char *domain, int64_t now,
		  int *approvals_purged)
{
	char identity[IDENTITY_STR_MAX];
	int64_t revoked;
	int n = 0, m = 0, rc;

	if (domain &&
	    (size_t)snprintf(identity, sizeof(identity), "%s@%s", user, domain) >= sizeof(identity))
		return -EINVAL;
	if ((rc = acc_begin(a)))
		return rc;
	if ((rc = acc_user_state(a, user, &revoked)) < 0 ||
	    (rc = n = acc_revoke_certs(a, user, now)) < 0 ||
	    (domain && (rc = m = acc_purge_approvals(a, identity)) < 0) ||
	    (rc = acc_exec(a, "user del", "DELETE FROM invites WHERE user = ?", "t", user)) < 0 ||
	    (rc = acc_exec(a, "user del", "DELETE FROM users WHERE name = ?", "t", user)) < 0)
		return acc_end(a, rc);
	rc = acc_end(a, n);
	if (rc >= 0 && approvals_purged)
		*approvals_purged = m;
	return rc;
}

static const char acc_user_select[] =
    "SELECT name, password_hash, created, revoked,"
    "  (SELECT COUNT(*) FROM certs WHERE certs.user = users.name) FROM users";

static void
acc_user_row(sqlite3_stmt *s, struct account *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->user, sizeof(out->user), "%s", (const char *)sqlite3_column_text(s, 0));
	snprintf(out->password_hash, sizeof(out->password_hash), "%s",
		 (const char *)sqlite3_column_text(s, 1));
	out->created = sqlite3_column_int64(s, 2);
	out->revoked = sqlite3_column_int64(s, 3);
	out->certs = (unsigned)sqlite3_column_int64(s, 4);
}

int
accounts_user_get(struct accounts *a, const char *user, struct account *out)
{
	char sql[sizeof(acc_user_select) + 32];
	sqlite3_stmt *s;
	int rc;

	snprintf(sql, sizeof(sql), "%s WHERE name = ?", acc_user_select);
	if ((rc = acc_prepare(a, "user get", sql, &s, "t", user)))
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		acc_user_row(s, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : acc_fail(a, "user get");
	}
	sqlite3_finalize(s);
	return rc;
}

/* Calls fn for every user in name order; stops at and returns fn's first non-zero value. */
int
accounts_user_each(struct accounts *a, int (*fn)(const struct account *, void *), void *arg)
{
	char sql[sizeof(acc_user_select) + 32];
	struct account ac;
	sqlite3_stmt *s;
	int rc;

	snprintf(sql, sizeof(sql), "%s ORDER BY name", acc_user_select);
	if ((rc = acc_prepare(a, "user list", sql, &s, "")))
		return rc;
	for (;;) {
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : acc_fail(a, "user list");
			break;
		}
		acc_user_row(s, &ac);
		if ((rc = fn(&ac, arg)) != 0)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}

/* 0; -ENOENT (no such user), -EPERM (user revoked), -EEXIST (digest already present). */
int
accounts_invite_add(struct accounts *a, const char *user, const uint8_t digest[SECRET_DIGEST_LEN],
		    int64_t expires)
{
	int64_t revoked;
	int rc = acc_begin(a);

	if (rc)
		return rc;
	rc = acc_user_state(a, user, &revoked);
	if (rc == 0 && revoked)
		rc = -EPERM;
	if (rc == 0)
		rc = acc_exec(a, "invite add",
			      "INSERT INTO invites (digest, user, expires) VALUES (?, ?, ?)", "bti",
			      digest, user, expires);
	return acc_end(a, rc < 0 ? rc : 0);
}

/* An invite is valid while now < expires. Also -EPERM if the user has been revoked since. */
int
accounts_invite_consume(struct accounts *a, const char *user,
			const uint8_t digest[SECRET_DIGEST_LEN], int64_t now)
{
	int64_t expires, used_at, revoked;
	sqlite3_stmt *s;
	int rc = acc_begin(a);

	if (rc)
		return rc;
	/* Looked up by digest: timing can reveal a digest's prefix, never the code itself. */
	if ((rc = acc_prepare(a, "invite consume",
			      "SELECT expires, used_at FROM invites WHERE digest = ? AND user = ?",
			      &s, "bt", digest, user)))
		return acc_end(a, rc);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		expires = sqlite3_column_int64(s, 0);
		used_at = sqlite3_column_type(s, 1) == SQLITE_NULL ? 0 : 1;
		rc = used_at ? -EALREADY : now >= expires ? -ETIMEDOUT : 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : acc_fail(a, "invite consume");
	}
	sqlite3_finalize(s);
	if (rc == 0 && (rc = acc_user_state(a, user, &revoked)) == 0 && revoked)
		rc = -EPERM;
	if (rc == 0)
		rc = acc_exec(a, "invite consume",
			      "UPDATE invites SET used_at = ? WHERE digest = ?", "ib", now, digest);
	return acc_end(a, rc < 0 ? rc : 0);
}

/* 0; -ENOENT (no such user), -EPERM (revoked), -EEXIST (fingerprint known), -EINVAL. */
int
accounts_cert_record(struct accounts *a, const char *user, const uint8_t fpr[32],
		     int64_t not_before, int64_t not_after)
{
	int64_t revoked;
	int rc;

	if (not_after <= not_before)
		return -EINVAL;
	if ((rc = acc_begin(a)))
		return rc;
	rc = acc_user_state(a, user, &revoked);
	if (rc == 0 && revoked)
		rc = -EPERM;
	if (rc == 0)
		rc = acc_exec(a, "cert record",
			      "INSERT INTO certs (fpr, user, not_before, not_after) "
			      "VALUES (?, ?, ?, ?)",
			      "btii", fpr, user, not_before, not_after);
	return acc_end(a, rc < 0 ? rc : 0);
}

/* How many certificates of user are not expired at now, revoked ones included. */
static int
acc_unexpired(struct accounts *a, const char *user, int64_t now, unsigned *n)
{
	sqlite3_stmt *s;
	int rc = acc_prepare(a, "unexpired",
			     "SELECT count(*) FROM certs WHERE user = ? AND "
			     "not_after > ?",
			     &s, "ti", user, now);

	if (rc)
		return rc;
	if (sqlite3_step(s) == SQLITE_ROW)
		*n = (unsigned)sqlite3_column_int64(s, 0);
	else
		rc = acc_fail(a, "unexpired");
	sqlite3_finalize(s);
	return rc;
}

/*
 * Revokes user's unexpired certificates but fpr and the newest other one, bumping the CRL
 * number if there were any. Returns how many, or -errno.
 */
static int
acc_supersede(struct accounts *a, const char *user, const uint8_t fpr[32], int64_t now)
{
	int n =
	    acc_exec(a, "supersede",
		     "UPDATE certs SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL AND "
		     "not_after > ? AND fpr != ? AND fpr NOT IN (SELECT fpr FROM certs WHERE "
		     "user = ? AND fpr != ? ORDER BY not_before DESC, rowid DESC LIMIT 1)",
		     "itibtb", now, user, now, fpr, user, fpr);

	if (n > 0 && acc_exec(a, "crl number",
			      "UPDATE meta SET value = value + 1 WHERE key = 'crl_number'", "") < 0)
		return -EIO;
	return n;
}

int
accounts_cert_issue(struct accounts *a, const char *user, const uint8_t fpr[32], int64_t not_before,
		    int64_t not_after, int64_t now, unsigned max_unexpired)
{
	unsigned have = 0;
	int64_t revoked;
	int rc;

	if (not_after <= not_before)
		return -EINVAL;
	if ((rc = acc_begin(a)))
		return rc;
	rc = acc_user_state(a, user, &revoked);
	if (rc == 0 && revoked)
		rc = -EPERM;
	if (rc == 0)
		rc = acc_unexpired(a, user, now, &have);
	if (rc == 0 && have >= max_unexpired)
		rc = -EDQUOT;
	if (rc == 0)
		rc = acc_exec(a, "cert record",
			      "INSERT INTO certs (fpr, user, not_before, not_after) "
			      "VALUES (?, ?, ?, ?)",
			      "btii", fpr, user, not_before, not_after);
	if (rc >= 0)
		rc = acc_supersede(a, user, fpr, now);
	return acc_end(a, rc);
}

/*
 * Marks the account revoked (keeping the first revocation time), revokes its certificates,
 * drops its unused invites, and always bumps the CRL number.
 */
int
accounts_revoke_user(struct accounts *a, const char *user, int64_t now)
{
	int64_t revoked;
	int n = 0, rc = acc_begin(a);

	if (rc)
		return rc;
	if ((rc = acc_user_state(a, user, &revoked)) < 0 ||
	    (rc = acc_exec(a, "revoke",
			   "UPDATE users SET revoked = ? WHERE name = ? AND revoked IS NULL", "it",
			   now, user)) < 0 ||
	    (rc = n =
		 acc_exec(a, "revoke",
			  "UPDATE certs SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL",
			  "it", now, user)) < 0 ||
	    (rc = acc_exec(a, "revoke", "DELETE FROM invites WHERE user = ? AND used_at IS NULL",
			   "t", user)) < 0 ||
	    (rc = acc_exec(a, "crl number",
			   "UPDATE meta SET value = value + 1 WHERE key = 'crl_number'", "")) < 0)
		return acc_end(a, rc);
	return acc_end(a, n);
}

static int
acc_crl_number(struct accounts *a, uint64_t *number)
{
	sqlite3_stmt *s;
	int rc =
	    acc_prepare(a, "crl number", "SELECT value FROM meta WHERE key = 'crl_number'", &s, "");

	if (rc)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*number = (uint64_t)sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = acc_fail(a, "crl number");
	}
	sqlite3_finalize(s);
	return rc;
}

/* Fills a malloc'd array (NULL when empty) with the revoked, unexpired fingerprints. */
static int
acc_revoked_list(struct accounts *a, int64_t now, uint8_t (**fprs)[32], size_t *count)
{
	uint8_t(*v)[32] = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc = acc_prepare(a, "revoked",
			     "SELECT fpr FROM certs WHERE revoked_at IS NOT NULL AND not_after > ? "
			     "ORDER BY fpr",
			     &s, "i", now);

	if (rc)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != 32)
			continue; /* not written by us; never put garbage into a CRL */
		if (n == cap) {
			void *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		memcpy(v[n++], sqlite3_column_blob(s, 0), 32);
	}
	rc = rc == SQLITE_DONE ? 0 : acc_fail(a, "revoked");
out:
	sqlite3_finalize(s);
	if (rc) {
		free(v);
		return rc;
	}
	*fprs = v;
	*count = n;
	return 0;
}

int
accounts_revoked(struct accounts *a, int64_t now, uint8_t (**fprs)[32], size_t *count,
		 uint64_t *crl_number)
{
	int rc;

	*fprs = NULL;
	*count = 0;
	/* One read transaction, so the list and the number describe the same state. */
	if (sqlite3_exec(a->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return acc_fail(a, "begin");
	rc = acc_crl_number(a, crl_number);
	if (rc == 0)
		rc = acc_revoked_list(a, now, fprs, count);
	sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

/* The secret's value, if present: 0, -ENOENT or -EIO. */
static int
acc_secret_read(struct accounts *a, const char *name, uint8_t out[32])
{
	sqlite3_stmt *s;
	int rc =
	    acc_prepare(a, "secret", "SELECT value FROM secrets WHERE name = ?", &s, "t", name);

	if (rc)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32) {
		memcpy(out, sqlite3_column_blob(s, 0), 32);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : acc_fail(a, "secret");
	}
	sqlite3_finalize(s);
	return rc;
}

int
accounts_secret(struct accounts *a, const char *name, uint8_t out[32])
{
	uint8_t v[32];
	int rc = acc_secret_read(a, name, out);

	if (rc != -ENOENT)
		return rc;
	if ((rc = crypto_random(v, sizeof(v))))
		return rc;
	/* Two processes may race to make it: the first one's stays, and both read it back. */
	rc = acc_exec(a, "secret", "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)",
		      "tb", name, v);
	crypto_wipe(v, sizeof(v));
	return rc < 0 ? rc : acc_secret_read(a, name, out);
}

int
accounts_server_cert_record(struct accounts *a, const uint8_t fpr[32], int64_t not_before,
			    int64_t not_after)
{
	int rc;

	if (not_after <= not_before)
		return -EINVAL;
	rc = acc_exec(a, "server cert",
		      "INSERT INTO certs (fpr, user, not_before, not_after) VALUES (?, ?, ?, ?)",
		      "btii", fpr, ACCOUNTS_SERVER_USER, not_before, not_after);
	return rc < 0 ? rc : 0;
}

int
accounts_cert_state(struct accounts *a, const uint8_t fpr[32], char *user, size_t user_len,
		    int64_t *revoked_at)
{
	sqlite3_stmt *s;
	int rc = acc_prepare(a, "cert state", "SELECT user, revoked_at FROM certs WHERE fpr = ?",
			     &s, "b", fpr);

	if (rc)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (user)
			snprintf(user, user_len, "%s", (const char *)sqlite3_column_text(s, 0));
		*revoked_at = sqlite3_column_int64(s, 1);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : acc_fail(a, "cert state");
	}
	sqlite3_finalize(s);
	return rc;
}

int
accounts_revoke_server(struct accounts *a, int64_t now)
{
	int n, rc = acc_begin(a);

	if (rc)
		return rc;
	rc = n = acc_revoke_certs(a, ACCOUNTS_SERVER_USER, now);
	return acc_end(a, rc < 0 ? rc : n);
}
