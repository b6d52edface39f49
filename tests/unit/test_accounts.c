// SPDX-License-Identifier: MIT
/*
 * The server's accounts store: users (add, get, list, delete, duplicates, reserved and invalid
 * names), invites (every outcome of consume with its exact error code), certificates and
 * revocation (the revoked list is exactly the revoked user's unexpired certificates, the CRL
 * number increases), persistence across reopen, and no password or invite code in the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/password.h"
#include "server/accounts.h"

static char dir[] = "/tmp/vertex-test-accounts-XXXXXX";
static char path[256];
static int serial;

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* A fresh database per test. */
static struct accounts *
open_fresh(void)
{
	struct accounts *a;

	snprintf(path, sizeof(path), "%s/accounts-%d.db", dir, serial++);
	assert_int_equal(accounts_open(&a, path), 0);
	return a;
}

static void
fill(uint8_t out[32], uint8_t v)
{
	memset(out, v, 32);
	out[0] = 0xa5; /* not a constant pattern */
}

static void
test_accounts_open_file_mode(void **state)
{
	struct accounts *a = open_fresh();
	struct stat sb;

	(void)state;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	accounts_close(a);
	accounts_close(NULL);
	a = NULL;
	assert_true(accounts_open(&a, "/nonexistent-dir/x/accounts.db") < 0);
	assert_null(a);
}

static void
test_accounts_user_add_get_del(void **state)
{
	struct accounts *a = open_fresh();
	struct account ac;

	(void)state;
	assert_int_equal(accounts_user_get(a, "alice", &ac), -ENOENT);
	assert_int_equal(accounts_user_add(a, "alice", "$scrypt$x", 1000), 0);
	assert_int_equal(accounts_user_add(a, "bob", NULL, 1001), 0);
	assert_int_equal(accounts_user_get(a, "alice", &ac), 0);
	assert_string_equal(ac.user, "alice");
	assert_string_equal(ac.password_hash, "$scrypt$x");
	assert_int_equal(ac.created, 1000);
	assert_int_equal(ac.revoked, 0);
	assert_int_equal(ac.certs, 0);
	assert_int_equal(accounts_user_get(a, "bob", &ac), 0);
	assert_string_equal(ac.password_hash, "");
	assert_int_equal(accounts_user_set_password(a, "bob", "$scrypt$y"), 0);
	assert_int_equal(accounts_user_get(a, "bob", &ac), 0);
	assert_string_equal(ac.password_hash, "$scrypt$y");
	assert_int_equal(accounts_user_set_password(a, "bob", NULL), 0);
	assert_int_equal(accounts_user_get(a, "bob", &ac), 0);
	assert_string_equal(ac.password_hash, "");
	assert_int_equal(accounts_user_set_password(a, "carol", "$scrypt$z"), -ENOENT);

	assert_int_equal(accounts_user_del(a, "alice", NULL, 2000, NULL), 0);
	assert_int_equal(accounts_user_get(a, "alice", &ac), -ENOENT);
	assert_int_equal(accounts_user_del(a, "alice", NULL, 2000, NULL), -ENOENT);
	assert_int_equal(accounts_user_get(a, "bob", &ac), 0);
	/* The name is free again. */
	assert_int_equal(accounts_user_add(a, "alice", NULL, 3000), 0);
	accounts_close(a);
}

static void
test_accounts_user_add_duplicate_and_bad_names(void **state)
{
	static const char *bad[] = { "",        "Alice",       "al ice", "alice@x",
				     "alice/x", "caf\xc3\xa9", "a\nb" };
	struct accounts *a = open_fresh();
	char long_name[IDENTITY_USER_MAX + 2];

	(void)state;
	assert_int_equal(accounts_user_add(a, "alice", NULL, 1), 0);
	assert_int_equal(accounts_user_add(a, "alice", "$scrypt$other", 2), -EEXIST);
	assert_int_equal(accounts_user_add(a, ACCOUNTS_SERVER_USER, NULL, 1), -EINVAL);
	assert_int_equal(accounts_user_add(a, "server", NULL, 1), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(accounts_user_add(a, bad[i], NULL, 1), -EINVAL);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(accounts_user_add(a, long_name, NULL, 1), -EINVAL);
	long_name[IDENTITY_USER_MAX] = '\0';
	assert_int_equal(accounts_user_add(a, long_name, NULL, 1), 0);
	assert_int_equal(accounts_user_add(a, "a.b_c-9", NULL, 1), 0);
	accounts_close(a);
}

struct user_list {
	char names[8][IDENTITY_USER_MAX + 1];
	int n, stop_after;
};

static int
collect_user(const struct account *ac, void *arg)
{
	struct user_list *l = arg;

	snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", ac->user);
	return l->n == l->stop_after ? 7 : 0;
}

static void
test_accounts_user_each_in_order_and_stops(void **state)
{
	struct accounts *a = open_fresh();
	struct user_list l = { .n = 0 };

	(void)state;
	assert_int_equal(accounts_user_each(a, collect_user, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(accounts_user_add(a, "carol", NULL, 1), 0);
	assert_int_equal(accounts_user_add(a, "alice", NULL, 1), 0);
	assert_int_equal(accounts_user_add(a, "bob", NULL, 1), 0);
	assert_int_equal(accounts_user_each(a, collect_user, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[0], "alice");
	assert_string_equal(l.names[1], "bob");
	assert_string_equal(l.names[2], "carol");
	l = (struct user_list){ .stop_after = 1 };
	assert_int_equal(accounts_user_each(a, collect_user, &l), 7);
	assert_int_equal(l.n, 1);
	accounts_close(a);
}

static void
test_accounts_invite_consume_outcomes(void **state)
{
	struct accounts *a = open_fresh();
	uint8_t d1[32], d2[32], d3[32], wrong[32];

	(void)state;
	fill(d1, 1);
	fill(d2, 2);
	fill(d3, 3);
	fill(wrong, 9);
	assert_int_equal(accounts_user_add(a, "alice", NULL, 1), 0);
	assert_int_equal(accounts_user_add(a, "bob", NULL, 1), 0);
	assert_int_equal(accounts_invite_add(a, "nobody", d1, 5000), -ENOENT);
	assert_int_equal(accounts_invite_add(a, "alice", d1, 5000), 0);
	assert_int_equal(accounts_invite_add(a, "alice", d2, 2000), 0);
	assert_int_equal(accounts_invite_add(a, "bob", d3, 5000), 0);
	assert_int_equal(accounts_invite_add(a, "bob", d1, 5000), -EEXIST);

	assert_int_equal(accounts_invite_consume(a, "alice", wrong, 1500), -ENOENT);
	assert_int_equal(accounts_invite_consume(a, "bob", d1, 1500), -ENOENT); /* wrong user */
	assert_int_equal(accounts_invite_consume(a, "nobody", d1, 1500), -ENOENT);
	assert_int_equal(accounts_invite_consume(a, "alice", d2, 2000), -ETIMEDOUT); /* at expiry */
	assert_int_equal(accounts_invite_consume(a, "alice", d2, 1999), 0);
	assert_int_equal(accounts_invite_consume(a, "alice", d2, 1999), -EALREADY);
	assert_int_equal(accounts_invite_consume(a, "alice", d1, 1500), 0);
	assert_int_equal(accounts_invite_consume(a, "alice", d1, 1600), -EALREADY);
	/* A failed attempt by the wrong user did not spend bob's invite. */
	assert_int_equal(accounts_invite_consume(a, "alice", d3, 1500), -ENOENT);
	assert_int_equal(accounts_invite_consume(a, "bob", d3, 1500), 0);
	accounts_close(a);
}

static void
test_accounts_invite_consume_survives_reopen(void **state)
{
	struct accounts *a = open_fresh();
	uint8_t d1[32], d2[32];

	(void)state;
	fill(d1, 1);
	fill(d2, 2);
	assert_int_equal(accounts_user_add(a, "alice", NULL, 1), 0);
	assert_int_equal(accounts_invite_add(a, "alice", d1, 5000), 0);
	assert_int_equal(accounts_invite_add(a, "alice", d2, 5000), 0);
	assert_int_equal(accounts_invite_consume(a, "alice", d1, 100), 0);
	accounts_close(a);
	assert_int_equal(accounts_open(&a, path), 0);
	assert_int_equal(accounts_invite_consume(a, "alice", d1, 100), -EALREADY);
	assert_int_equal(accounts_invite_consume(a, "alice", d2, 100), 0);
	accounts_close(a);
}

static bool
list_has(uint8_t (*fprs)[32], size_t n, const uint8_t fpr[32])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(fprs[i], fpr, 32) == 0)
			return true;
	return false;
}

static void
test_accounts_revoke_user_lists_unexpired_certs(void **state)
{
	struct accounts *a = open_fresh();
	uint8_t a1[32], a2[32], a_old[32], b1[32], inv[32];
	uint8_t(*fprs)[32];
	uint64_t crl0, crl1, crl2;
	struct account ac;
	size_t n;

	(void)state;
	fill(a1, 1);
	fill(a2, 2);
	fill(a_old, 3);
	fill(b1, 4);
	fill(inv, 5);
	assert_int_equal(accounts_user_add(a, "alice", NULL, 1), 0);
	assert_int_equal(accounts_user_add(a, "bob", NULL, 1), 0);
	assert_int_equal(accounts_cert_record(a, "alice", a1, 1000, 9000), 0);
	assert_int_equal(accounts_cert_record(a, "alice", a2, 2000, 10000), 0);
	assert_int_equal(accounts_cert_record(a, "alice", a_old, 100, 4000),
			 0); /* expired at 5000 */
	assert_int_equal(accounts_cert_record(a, "bob", b1, 1000, 9000), 0);
	assert_int_equal(accounts_cert_record(a, "bob", b1, 1000, 9000), -EEXIST);
	assert_int_equal(accounts_cert_record(a, "nobody", inv, 1000, 9000), -ENOENT);
	assert_int_equal(accounts_cert_record(a, "bob", inv, 9000, 9000), -EINVAL);
	assert_int_equal(accounts_invite_add(a, "alice", inv, 99999), 0);
	assert_int_equal(accounts_user_get(a, "alice", &ac), 0);
	assert_int_equal(ac.certs, 3);

	assert_int_equal(accounts_revoked(a, 5000, &fprs, &n, &crl0), 0);
	assert_int_equal(n, 0);
	free(fprs);

	assert_int_equal(accounts_revoke_user(a, "nobody", 5000), -ENOENT);
	assert_int_equal(accounts_revoke_user(a, "alice", 5000), 3);
	assert_int_equal(accounts_revoked(a, 5000, &fprs, &n, &crl1), 0);
	assert_true(crl1 > crl0);
	assert_int_equal(n, 2);
	assert_true(list_has(fprs, n, a1));
	assert_true(list_has(fprs, n, a2));
	free(fprs);
	assert_int_equal(accounts_user_get(a, "alice", &ac), 0);
	assert_int_equal(ac.revoked, 5000);
	/* A revoked account gets no new certificate, no new invite, and its invite is gone. */
	assert_int_equal(accounts_cert_record(a, "alice", inv, 5000, 9000), -EPERM);
	assert_int_equal(accounts_invite_consume(a, "alice", inv, 5000), -ENOENT);
	assert_int_equal(accounts_invite_add(a, "alice", inv, 99999), -EPERM);
	/* Revoking again keeps the first time, revokes nothing new. */
	assert_int_equal(accounts_revoke_user(a, "alice", 6000), 0);
	assert_int_equal(accounts_user_get(a, "alice", &ac), 0);
	assert_int_equal(ac.revoked, 5000);

	/* Later, a1 has expired and drops off the list; b1 is untouched throughout. */
	assert_int_equal(accounts_revoked(a, 9500, &fprs, &n, &crl2), 0);
	assert_true(crl2 >= crl1);
	assert_int_equal(n, 1);
	assert_memory_equal(fprs[0], a2, 32);
	free(fprs);
	accounts_close(a);
}

static void
test_accounts_user_del_revokes_certs(void **state)
{
	struct accounts *a = open_fresh();
	uint8_t b1[32], d[32];
	uint8_t(*fprs)[32];
	uint64_t crl0, crl1;
	size_t n;

	(void)state;
	fill(b1, 4);
	fill(d, 6);
	assert_int_equal(accounts_user_add(a, "bob", NULL, 1), 0);
	assert_int_equal(accounts_cert_record(a, "bob", b1, 1000, 9000), 0);
	assert_int_equal(accounts_invite_add(a, "bob", d, 9000), 0);
	assert_int_equal(accounts_revoked(a, 2000, &fprs, &n, &crl0), 0);
	free(fprs);
	assert_int_equal(accounts_user_del(a, "bob", NULL, 2000, NULL),
			 1); /* one certificate revoked */
	assert_int_equal(accounts_revoked(a, 2000, &fprs, &n, &crl1), 0);
	assert_true(crl1 > crl0);
	assert_int_equal(n, 1);
	assert_memory_equal(fprs[0], b1, 32);
	free(fprs);
	/* The invite went with the user, also when the name comes back. */
	assert_int_equal(accounts_user_add(a, "bob", NULL, 3000), 0);
	assert_int_equal(accounts_invite_consume(a, "bob", d, 3000), -ENOENT);
	accounts_close(a);
}

static void
test_accounts_state_persists_across_reopen(void **state)
{
	struct accounts *a = open_fresh();
	uint8_t c1[32];
	uint8_t(*fprs)[32];
	uint64_t crl, crl_again;
	struct account ac;
	size_t n;

	(void)state;
	fill(c1, 7);
	assert_int_equal(accounts_user_add(a, "alice", "$scrypt$keep", 42), 0);
	assert_int_equal(accounts_user_add(a, "bob", NULL, 43), 0);
	assert_int_equal(accounts_cert_record(a, "alice", c1, 100, 9000), 0);
	assert_int_equal(accounts_revoke_user(a, "alice", 200), 1);
	assert_int_equal(accounts_revoked(a, 300, &fprs, &n, &crl), 0);
	free(fprs);
	accounts_close(a);

	assert_int_equal(accounts_open(&a, path), 0);
	assert_int_equal(accounts_user_get(a, "alice", &ac), 0);
	assert_string_equal(ac.password_hash, "$scrypt$keep");
	assert_int_equal(ac.created, 42);
	assert_int_equal(ac.revoked, 200);
	assert_int_equal(ac.certs, 1);
	assert_int_equal(accounts_user_get(a, "bob", &ac), 0);
	assert_int_equal(ac.revoked, 0);
	assert_int_equal(accounts_revoked(a, 300, &fprs, &n, &crl_again), 0);
	assert_int_equal(crl_again, crl);
	assert_int_equal(n, 1);
	assert_memory_equal(fprs[0], c1, 32);
	free(fprs);
	accounts_close(a);
}

/* Whether needle occurs in the file at p (a missing file contains nothing). */
static bool
file_contains(const char *p, const void *needle, size_t len)
{
	FILE *f = fopen(p, "rb");
	static char buf[1 << 20];
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n < sizeof(buf));
	return memmem(buf, n, needle, len) != NULL;
}

static bool
db_contains(const char *needle, size_t len)
{
	char wal[300];

	snprintf(wal, sizeof(wal), "%s-wal", path);
	return file_contains(path, needle, len) || file_contains(wal, needle, len);
}

static void
test_accounts_file_holds_no_secret_text(void **state)
{
	static const char password[] = "correct horse battery staple";
	struct accounts *a = open_fresh();
	char hash[PASSWORD_HASH_MAX], code[INVITE_CODE_LEN + 1], bare[INVITE_CODE_LEN];
	uint8_t digest[SECRET_DIGEST_LEN];
	size_t o = 0;

	(void)state;
	assert_int_equal(password_hash(password, 10, hash), 0); /* small N: a test, not a server */
	assert_int_equal(invite_code_new((uint8_t[32]){ 1 }, code), 0);
	assert_int_equal(secret_digest(code, digest), 0);
	for (const char *p = code; *p; p++)
		if (*p != '-')
			bare[o++] = *p;
	assert_int_equal(accounts_user_add(a, "alice", hash, 1), 0);
	assert_int_equal(accounts_invite_add(a, "alice", digest, 9999), 0);
	/* Checked both while open (data in the WAL) and after close (checkpointed). */
	for (int round = 0; round < 2; round++) {
		assert_true(db_contains(hash, strlen(hash))); /* the search itself works */
		assert_true(db_contains((const char *)digest, sizeof(digest)));
		assert_false(db_contains(password, strlen(password)));
		assert_false(db_contains(code, strlen(code)));
		assert_false(db_contains(bare, o));
		accounts_close(a);
		a = NULL;
	}
}

/* Issuing: each new certificate supersedes all but itself and the one before; an account holds
 * at most max unexpired certificates (revoked ones count), so it adds at most that many to the
 * revocation list; expired ones free their place. */
static void
test_accounts_cert_issue_supersedes_and_caps(void **state)
{
	struct accounts *a = open_fresh();
	uint8_t f[8][32], (*fprs)[32];
	size_t count;
	uint64_t n0, n1;
	int64_t now = 1000000;

	(void)state;
	for (int i = 0; i < 8; i++)
		fill(f[i], (uint8_t)(0x10 + i));
	assert_int_equal(accounts_user_add(a, "mallory", NULL, now), 0);
	assert_int_equal(accounts_revoked(a, now, &fprs, &count, &n0), 0);
	/* the first two: nothing superseded, the list unchanged */
	assert_int_equal(accounts_cert_issue(a, "mallory", f[0], now, now + 100, now, 4), 0);
	assert_int_equal(accounts_cert_issue(a, "mallory", f[1], now + 1, now + 101, now + 1, 4),
			 0);
	assert_int_equal(accounts_revoked(a, now + 1, &fprs, &count, &n1), 0);
	assert_int_equal(count, 0);
	assert_true(n1 == n0);
	/* the third supersedes the first */
	assert_int_equal(accounts_cert_issue(a, "mallory", f[2], now + 2, now + 102, now + 2, 4),
			 1);
	assert_int_equal(accounts_revoked(a, now + 2, &fprs, &count, &n1), 0);
	assert_int_equal(count, 1);
	assert_memory_equal(fprs[0], f[0], 32);
	assert_true(n1 == n0 + 1);
	free(fprs);
	assert_int_equal(accounts_cert_issue(a, "mallory", f[3], now + 3, now + 103, now + 3, 4),
			 1);
	/* four unexpired (two of them revoked): the cap of 4 is reached */
	assert_int_equal(accounts_cert_issue(a, "mallory", f[4], now + 4, now + 104, now + 4, 4),
			 -EDQUOT);
	assert_int_equal(accounts_revoked(a, now + 4, &fprs, &count, &n1), 0);
	assert_int_equal(count, 2); /* f[0], f[1]; f[4] was never recorded */
	free(fprs);
	/* once the first has expired there is room for one more */
	assert_int_equal(
	    accounts_cert_issue(a, "mallory", f[4], now + 100, now + 200, now + 100, 4), 1);
	assert_int_equal(
	    accounts_cert_issue(a, "mallory", f[5], now + 100, now + 200, now + 100, 4), -EDQUOT);
	/* revoking the account lists exactly its unexpired certificates */
	assert_true(accounts_revoke_user(a, "mallory", now + 100) >= 0);
	assert_int_equal(accounts_revoked(a, now + 100, &fprs, &count, &n1), 0);
	assert_int_equal(count, 4); /* f[1]..f[4] */
	free(fprs);
	assert_int_equal(
	    accounts_cert_issue(a, "mallory", f[6], now + 100, now + 200, now + 100, 9), -EPERM);
	assert_int_equal(accounts_cert_issue(a, "nobody", f[7], now, now + 100, now, 9), -ENOENT);
	accounts_close(a);
}

/* The server's own certificate is recorded, listed as revoked once revoked, and no account. */
static void
test_accounts_server_cert_revocable(void **state)
{
	struct accounts *a = open_fresh();
	uint8_t f[32], g[32], (*fprs)[32] = NULL;
	char user[IDENTITY_USER_MAX + 1];
	uint64_t crl0, crl1;
	size_t n;
	int64_t revoked;

	(void)state;
	fill(f, 1);
	fill(g, 2);
	assert_int_equal(accounts_cert_state(a, f, user, sizeof(user), &revoked), -ENOENT);
	assert_int_equal(accounts_server_cert_record(a, f, 100, 10000), 0);
	assert_int_equal(accounts_server_cert_record(a, f, 100, 10000), -EEXIST);
	assert_int_equal(accounts_server_cert_record(a, g, 100, 100), -EINVAL);
	assert_int_equal(accounts_cert_state(a, f, user, sizeof(user), &revoked), 0);
	assert_string_equal(user, ACCOUNTS_SERVER_USER);
	assert_int_equal(revoked, 0);
	assert_int_equal(accounts_user_get(a, ACCOUNTS_SERVER_USER, &(struct account){ 0 }),
			 -ENOENT);
	assert_int_equal(accounts_revoked(a, 200, &fprs, &n, &crl0), 0);
	assert_int_equal(n, 0);
	free(fprs);
	assert_int_equal(accounts_revoke_server(a, 300), 1);
	assert_int_equal(accounts_cert_state(a, f, NULL, 0, &revoked), 0);
	assert_int_equal(revoked, 300);
	assert_int_equal(accounts_revoked(a, 400, &fprs, &n, &crl1), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(fprs[0], f, 32);
	assert_true(crl1 > crl0);
	free(fprs);
	/* a new certificate after the revocation is valid; revoking again revokes only it */
	assert_int_equal(accounts_server_cert_record(a, g, 500, 10000), 0);
	assert_int_equal(accounts_revoke_server(a, 600), 1);
	assert_int_equal(accounts_revoke_server(a, 700), 0);
	accounts_close(a);
}

/* A store's secret is made once, kept across reopen, and differs between stores. */
static void
test_accounts_secret_stable(void **state)
{
	struct accounts *a = open_fresh(), *b;
	uint8_t s1[32], s2[32], s3[32];
	char first[256];

	(void)state;
	assert_int_equal(accounts_secret(a, "dummy", s1), 0);
	assert_int_equal(accounts_secret(a, "dummy", s2), 0);
	assert_memory_equal(s1, s2, 32);
	assert_int_equal(accounts_secret(a, "other", s3), 0);
	assert_memory_not_equal(s1, s3, 32);
	accounts_close(a);
	snprintf(first, sizeof(first), "%s", path);
	assert_int_equal(accounts_open(&a, first), 0);
	assert_int_equal(accounts_secret(a, "dummy", s2), 0);
	assert_memory_equal(s1, s2, 32);
	accounts_close(a);
	b = open_fresh();
	assert_int_equal(accounts_secret(b, "dummy", s3), 0);
	assert_memory_not_equal(s1, s3, 32);
	accounts_close(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accounts_open_file_mode),
		cmocka_unit_test(test_accounts_user_add_get_del),
		cmocka_unit_test(test_accounts_user_add_duplicate_and_bad_names),
		cmocka_unit_test(test_accounts_user_each_in_order_and_stops),
		cmocka_unit_test(test_accounts_invite_consume_outcomes),
		cmocka_unit_test(test_accounts_invite_consume_survives_reopen),
		cmocka_unit_test(test_accounts_revoke_user_lists_unexpired_certs),
		cmocka_unit_test(test_accounts_user_del_revokes_certs),
		cmocka_unit_test(test_accounts_state_persists_across_reopen),
		cmocka_unit_test(test_accounts_file_holds_no_secret_text),
		cmocka_unit_test(test_accounts_cert_issue_supersedes_and_caps),
		cmocka_unit_test(test_accounts_server_cert_revocable),
		cmocka_unit_test(test_accounts_secret_stable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
