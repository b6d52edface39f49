// SPDX-License-Identifier: MIT
/*
 * The administrative verbs. They open the state directory themselves, so they work whether or
 * not the daemon runs; every change is one committed transaction (accounts.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "crypto/cert.h"
#include "crypto/password.h"
#include "server/accounts.h"
#include "server/server.h"

enum { ADMIN_INVITE_DEFAULT_HOURS = 72, ADMIN_PASSWORD_MAX = 1024 };

int
admin_init(const char *dir, const char *domain, unsigned ca_days)
{
	struct server_opts o = { 0 };
	char ca_key[PATH_MAX], ca_crt[PATH_MAX], key[PATH_MAX], pub[PATH_MAX], crt[PATH_MAX];
	char db[PATH_MAX], id[IDENTITY_STR_MAX], fpr[64];
	struct cert_info ci;
	struct accounts *acc;
	const char *why;
	time_t now = time(NULL);

	if (!identity_domain_is_valid(domain, &why)) {
		fprintf(stderr, "vertex-server: %s: %s\n", domain, why);
		return -EINVAL;
	}
	snprintf(o.dir, sizeof(o.dir), "%s", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "vertex-server: cannot create %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	if (server_path(&o, SERVER_CA_KEY, ca_key, sizeof(ca_key)) ||
	    server_path(&o, SERVER_CA_CERT, ca_crt, sizeof(ca_crt)) ||
	    server_path(&o, SERVER_KEY, key, sizeof(key)) ||
	    server_path(&o, "server.pub", pub, sizeof(pub)) ||
	    server_path(&o, SERVER_CERT, crt, sizeof(crt)) ||
	    server_path(&o, SERVER_DB, db, sizeof(db)))
		return -ENAMETOOLONG;
	if (access(ca_key, F_OK) == 0) {
		fprintf(stderr,
			"vertex-server: %s already holds a domain CA; refusing to replace it\n",
			dir);
		return -EEXIST;
	}
	snprintf(id, sizeof(id), "%s@%s", ACCOUNTS_SERVER_USER, domain);
	if (cert_ca_init(domain, ca_days, ca_key, ca_crt) || cert_key_new(key, pub) ||
	    cert_sign(ca_key, ca_crt, pub, id, now - 300, now + (int64_t)ca_days * 86400, crt)) {
		fprintf(stderr, "vertex-server: %s\n", cert_strerror());
		return -EIO;
	}
	if (accounts_open(&acc, db))
		return -EIO;
	accounts_close(acc);
	if (cert_info_from_file(ca_crt, &ci))
		return -EIO;
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	printf("domain %s: CA %s\n", domain, fpr);
	printf("state in %s; start the server with: vertex-server -D %s run\n", dir, dir);
	return 0;
}

static int
admin_open(const struct server_opts *o, struct accounts **acc)
{
	char db[PATH_MAX];

	if (server_path(o, SERVER_DB, db, sizeof(db)) || access(db, F_OK) < 0) {
		fprintf(stderr,
			"vertex-server: no account store in %s (run 'vertex-server -D %s init' "
			"first)\n",
			o->dir, o->dir);
		return -ENOENT;
	}
	return accounts_open(acc, db);
}

/* Reads one line (the password) from standard input, without its newline. */
static int
admin_read_password(char *buf, size_t len)
{
	size_t n;

	if (!fgets(buf, (int)len, stdin)) {
		fprintf(stderr, "vertex-server: no password on standard input\n");
		return -EINVAL;
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (!n) {
		fprintf(stderr, "vertex-server: empty password\n");
		return -EINVAL;
	}
	return 0;
}

static int
admin_user_add(struct accounts *acc, const char *user, bool with_password)
{
	char pw[ADMIN_PASSWORD_MAX], hash[PASSWORD_HASH_MAX];
	int err;

	if (with_password) {
		err = admin_read_password(pw, sizeof(pw));
		if (!err)
			err = password_hash(pw, PASSWORD_DEFAULT_LN, hash);
		explicit_bzero(pw, sizeof(pw));
		if (err)
			return err;
	}
	err = accounts_user_add(acc, user, with_password ? hash : NULL, time(NULL));
	if (err == -EEXIST)
		fprintf(stderr, "vertex-server: user %s already exists\n", user);
	else if (err == -EINVAL)
		fprintf(stderr, "vertex-server: '%s' is not a valid user name (or is reserved)\n",
			user);
	else if (!err)
		printf("added %s%s\n", user, with_password ? " (with a password)" : "");
	return err;
}

struct admin_list {
	bool json, first;
};

static int
admin_list_one(const struct account *ac, void *arg)
{
	struct admin_list *l = arg;

	if (l->json)
		printf("%s{\"user\":\"%s\",\"password\":%s,\"created\":%lld,\"revoked\":%lld,"
		       "\"certificates\":%u}",
		       l->first ? "" : ",", ac->user, ac->password_hash[0] ? "true" : "false",
		       (long long)ac->created, (long long)ac->revoked, ac->certs);
	else
		printf("%-24s %-8s %-8s %u certificate(s)\n", ac->user,
		       ac->password_hash[0] ? "password" : "-", ac->revoked ? "REVOKED" : "active",
		       ac->certs);
	l->first = false;
	return 0;
}

static int
admin_invite(struct accounts *acc, const char *user, unsigned hours)
{
	char code[INVITE_CODE_LEN + 1];
	uint8_t digest[SECRET_DIGEST_LEN];
	struct account ac;
	int err;

	if (accounts_user_get(acc, user, &ac)) {
		fprintf(stderr, "vertex-server: no user %s (add it with 'user add')\n", user);
		return -ENOENT;
	}
	if ((err = invite_code_new(code)) || (err = secret_digest(code, digest)) ||
	    (err = accounts_invite_add(acc, user, digest, time(NULL) + (int64_t)hours * 3600)))
		return err;
	printf("%s\n", code);
	explicit_bzero(code, sizeof(code));
	return 0;
}

static int
admin_revoke(struct accounts *acc, const char *user)
{
	int n = accounts_revoke_user(acc, user, time(NULL));

	if (n == -ENOENT) {
		fprintf(stderr, "vertex-server: no user %s\n", user);
		return n;
	}
	if (n < 0)
		return n;
	printf("revoked %s and %d certificate(s); a running server publishes the new revocation "
	       "list within %d s\n",
	       user, n, SERVER_REVOCATION_POLL_MS / 1000);
	return 0;
}

/* "user add|del|list", "invite new", "revoke": argv[0] is the verb. */
int
admin_main(const struct server_opts *o, int argc, char **argv)
{
	struct accounts *acc;
	int err = -EINVAL;
	bool usage = false;

	if (admin_open(o, &acc))
		return 1;
	if (!strcmp(argv[0], "user") && argc >= 3 && !strcmp(argv[1], "add"))
		err = argc == 3 || (argc == 4 && !strcmp(argv[3], "--password-stdin"))
			  ? admin_user_add(acc, argv[2], argc == 4)
			  : (usage = true, -EINVAL);
	else if (!strcmp(argv[0], "user") && argc == 3 && !strcmp(argv[1], "del"))
		err = accounts_user_del(acc, argv[2], time(NULL));
	else if (!strcmp(argv[0], "user") && argc >= 2 && !strcmp(argv[1], "list")) {
		struct admin_list l = { .json = argc == 3 && !strcmp(argv[2], "--json"),
					.first = true };

		printf("%s", l.json ? "{\"users\":[" : "");
		err = accounts_user_each(acc, admin_list_one, &l);
		printf("%s", l.json ? "]}\n" : "");
	} else if (!strcmp(argv[0], "invite") && argc >= 3 && !strcmp(argv[1], "new")) {
		unsigned hours = ADMIN_INVITE_DEFAULT_HOURS;

		if (argc == 5 && !strcmp(argv[3], "--hours"))
			hours = (unsigned)strtoul(argv[4], NULL, 10);
		if (argc != 3 && (argc != 5 || !hours || hours > 24 * 365))
			usage = true;
		else
			err = admin_invite(acc, argv[2], hours);
	} else if (!strcmp(argv[0], "revoke") && argc == 2) {
		err = admin_revoke(acc, argv[1]);
	} else {
		usage = true;
	}
	accounts_close(acc);
	if (usage) {
		fprintf(stderr,
			"vertex-server: unknown verb or arguments (see vertex-server --help)\n");
		return 2;
	}
	if (err == -ENOENT && !strcmp(argv[0], "user"))
		fprintf(stderr, "vertex-server: no user %s\n", argv[2]);
	return err ? 1 : 0;
}
