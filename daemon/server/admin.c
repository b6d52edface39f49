// SPDX-License-Identifier: MIT
/*
 * The administrative verbs user, invite and revoke, and the work of init (whose options are
 * parsed in vertex-server.c); trust is in admin_trust.c. Each verb parses and checks all its
 * arguments first (a usage error touches nothing), then opens the state directory itself, so they
 * work whether or not the daemon runs; every change is one committed transaction (accounts.c).
 * Their help texts live here, next to the parsing they describe.
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

enum { ADMIN_INVITE_DEFAULT_HOURS = 72, ADMIN_PASSWORD_MAX = PASSWORD_LEN_MAX + 2 };

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
	/* Recorded like every certificate the CA issues, so it can be revoked (revoke server). */
	if (cert_info_from_file(crt, &ci) ||
	    accounts_server_cert_record(acc, ci.fpr, ci.not_before, ci.not_after)) {
		accounts_close(acc);
		return -EIO;
	}
	accounts_close(acc);
	if (cert_info_from_file(ca_crt, &ci))
		return -EIO;
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	printf("domain %s: CA %s\n", domain, fpr);
	printf("state in %s; start the server with: vertex-server -D %s run\n", dir, dir);
	return 0;
}

int
admin_db_path(const struct server_opts *o, char *db, size_t len)
{
	if (server_path(o, SERVER_DB, db, len) || access(db, F_OK) < 0) {
		fprintf(stderr,
			"vertex-server: no account store in %s (run 'vertex-server -D %s init' "
			"first)\n",
			o->dir, o->dir);
		return -ENOENT;
	}
	return 0;
}

/*
 * A new key and certificate for server@DOMAIN, valid as long as the CA, recorded in acc. Made
 * beside the old ones and renamed over them, key first: a crash in between leaves the old,
 * revoked certificate, so the next start simply does it again.
 */
static int
admin_server_cert_new(const struct server_opts *o, struct accounts *acc)
{
	char ca_key[PATH_MAX], ca_crt[PATH_MAX], key[PATH_MAX], pub[PATH_MAX], crt[PATH_MAX];
	char nkey[PATH_MAX], npub[PATH_MAX], ncrt[PATH_MAX], id[IDENTITY_STR_MAX], fpr[64];
	struct cert_info ca, ci;
	int64_t now = time(NULL);

	if (server_path(o, SERVER_CA_KEY, ca_key, sizeof(ca_key)) ||
	    server_path(o, SERVER_CA_CERT, ca_crt, sizeof(ca_crt)) ||
	    server_path(o, SERVER_KEY, key, sizeof(key)) ||
	    server_path(o, "server.pub", pub, sizeof(pub)) ||
	    server_path(o, SERVER_CERT, crt, sizeof(crt)) ||
	    server_path(o, SERVER_KEY ".new", nkey, sizeof(nkey)) ||
	    server_path(o, "server.pub.new", npub, sizeof(npub)) ||
	    server_path(o, SERVER_CERT ".new", ncrt, sizeof(ncrt)))
		return -ENAMETOOLONG;
	if (cert_info_from_file(ca_crt, &ca)) {
		log_warnx("%s", cert_strerror());
		return -EIO;
	}
	if (snprintf(id, sizeof(id), "%s@%.*s", ACCOUNTS_SERVER_USER, IDENTITY_DOMAIN_MAX,
		     ca.subject) >= (int)sizeof(id))
		return -ENAMETOOLONG;
	unlink(nkey); /* left by a start that stopped half way */
	unlink(npub);
	/* A new key too: a revoked server certificate usually means its key got out. */
	if (cert_key_new(nkey, npub) ||
	    cert_sign(ca_key, ca_crt, npub, id, now - SERVER_CERT_SKEW_SEC, ca.not_after, ncrt) ||
	    cert_info_from_file(ncrt, &ci)) {
		log_warnx("cannot make a new certificate for %s: %s", id, cert_strerror());
		return -EIO;
	}
	if (accounts_server_cert_record(acc, ci.fpr, ci.not_before, ci.not_after))
		return -EIO;
	if (rename(nkey, key) < 0 || rename(npub, pub) < 0 || rename(ncrt, crt) < 0) {
		log_warn("cannot put the new key and certificate of %s in place", id);
		return -EIO;
	}
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	log_info("%s: new key and certificate %s (the previous one is revoked)", id, fpr);
	return 0;
}

int
admin_server_cert_check(const struct server_opts *o, struct accounts *acc)
{
	char crt[PATH_MAX], user[IDENTITY_USER_MAX + 1];
	struct cert_info ci;
	int64_t revoked;
	int err;

	if (server_path(o, SERVER_CERT, crt, sizeof(crt)))
		return -ENAMETOOLONG;
	if (cert_info_from_file(crt, &ci)) {
		log_warnx("%s", cert_strerror());
		return -EIO;
	}
	err = accounts_cert_state(acc, ci.fpr, user, sizeof(user), &revoked);
	if (err == -ENOENT) /* from an init before the certificate was recorded */
		return accounts_server_cert_record(acc, ci.fpr, ci.not_before, ci.not_after);
	if (err)
		return err;
	if (strcmp(user, ACCOUNTS_SERVER_USER)) {
		log_warnx("%s is recorded as %s's certificate, not the server's", crt, user);
		return -EINVAL;
	}
	return revoked ? admin_server_cert_new(o, acc) : 0;
}

static int
admin_open(const struct server_opts *o, struct accounts **acc)
{
	char db[PATH_MAX];
	int err = admin_db_path(o, db, sizeof(db));

	return err ? err : accounts_open(acc, db);
}

/*
 * Reads one line (the password) from standard input, without its newline, and holds it to the
 * rule vertex register holds it to (password_rule_check).
 */
static int
admin_read_password(char *buf, size_t len)
{
	const char *why;
	size_t n;

	if (!fgets(buf, (int)len, stdin)) {
		fprintf(stderr, "vertex-server: no password on standard input\n");
		return -EINVAL;
	}
	n = strcspn(buf, "\r\n");
	why = n == len - 1 && buf[n] == '\0' ? "it is longer than 255 bytes" : NULL;
	buf[n] = '\0';
	if (why || (why = password_rule_check(buf))) {
		fprintf(stderr, "vertex-server: password refused: %s\n", why);
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
admin_invite(const struct server_opts *o, struct accounts *acc, const char *user, unsigned hours)
{
	char code[INVITE_CODE_LEN + 1], ca_crt[PATH_MAX];
	struct cert_info ca;
	uint8_t digest[SECRET_DIGEST_LEN];
	struct account ac;
	int err;

	if (accounts_user_get(acc, user, &ac)) {
		fprintf(stderr, "vertex-server: no user %s (add it with 'user add')\n", user);
		return -ENOENT;
	}
	if (ac.revoked) {
		fprintf(stderr,
			"vertex-server: %s is revoked and gets no invites (to let the person back, "
			"'user del' the account and 'user add' it anew)\n",
			user);
		return -EPERM;
	}
	if (server_path(o, SERVER_CA_CERT, ca_crt, sizeof(ca_crt)) ||
	    cert_info_from_file(ca_crt, &ca)) {
		fprintf(stderr, "vertex-server: cannot read the domain's CA: %s\n",
			cert_strerror());
		return -EIO;
	}
	/* The code commits to this CA: vertex register sends it to no server with another. */
	if ((err = invite_code_new(ca.fpr, code)) || (err = secret_digest(code, digest)) ||
	    (err = accounts_invite_add(acc, user, digest, time(NULL) + (int64_t)hours * 3600)))
		return err;
	printf("%s\n", code);
	explicit_bzero(code, sizeof(code));
	return 0;
}

static int
admin_revoke(struct accounts *acc, const char *user)
{
	int n;

	if (!strcmp(user, ACCOUNTS_SERVER_USER)) {
		n = accounts_revoke_server(acc, time(NULL));
		if (n >= 0)
			printf("revoked %d certificate(s) of server@DOMAIN; restart the server "
			       "now: at "
			       "start it makes itself a new key and certificate (agents and other "
			       "domains refuse the old one once they have the new revocation "
			       "list)\n",
			       n);
		return n;
	}
	n = accounts_revoke_user(acc, user, time(NULL));

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

const char admin_user_help[] =
    "Usage: vertex-server [-D DIR] user add USER [--password-stdin]\n"
    "       vertex-server [-D DIR] user del USER\n"
    "       vertex-server [-D DIR] user list [--json]\n"
    "\n"
    "The domain's accounts. USER is the part before the '@' of USER@DOMAIN: 1 to 64 of\n"
    "a-z, 0-9, '.', '_' and '-' (lower case only: a name means one account); 'server' is\n"
    "reserved for the server's own certificate.\n"
    "\n"
    "  add   creates the account. With --password-stdin, the first line of standard input\n"
    "        is its password (stored only as a salted scrypt hash) and the user can enrol\n"
    "        with it; without, the user enrols with an invite ('invite new'). A password is\n"
    "        1 to 255 bytes of printable ASCII (space to '~'), the rule vertex register\n"
    "        applies too.\n"
    "  del   deletes the account and its invites, and revokes every certificate issued to\n"
    "        it; the name can be added again later, as a new account.\n"
    "  list  one line per account: name, 'password' or '-', 'active' or 'REVOKED', and how\n"
    "        many certificates it was issued; --json prints {\"users\":[{\"user\", \"password\",\n"
    "        \"created\", \"revoked\", \"certificates\"}...]}, times in Unix seconds, 0 if never.\n"
    "\n"
    "Exit status: 0 on success, 1 on failure (no such user, already exists...), 2 on a\n"
    "usage error.\n";

const char admin_invite_help[] =
    "Usage: vertex-server [-D DIR] invite new USER [--hours N]\n"
    "\n"
    "Prints a one-time invite code for the existing account USER, valid N hours (default\n"
    "72, at most 8760), XXXX-XXXX-XXXX-XXXX-XXXX. Its last 6 digits commit to the domain's\n"
    "CA: vertex register checks the CA a server offers against them and sends the code to\n"
    "no server whose CA differs. The user enrols with it once:\n"
    "    vertex register USER@DOMAIN --invite CODE --key ... --cert ... --ca ...\n"
    "Only the code's SHA-256 digest is stored, so it is shown this once; give it to the user\n"
    "over a channel you trust. Each call makes a new code; earlier ones stay valid until used,\n"
    "expired, or the account is revoked or deleted.\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

const char admin_revoke_help[] =
    "Usage: vertex-server [-D DIR] revoke USER\n"
    "       vertex-server [-D DIR] revoke server\n"
    "\n"
    "Revokes the account USER and every certificate issued to it, and drops its unused\n"
    "invites; a revoked account cannot enrol again. A running server notices within 2 s,\n"
    "signs a new revocation list, pushes it to its agents and closes USER's connections;\n"
    "agents close their sessions with USER's agents. Servers and agents of other domains\n"
    "fetch the list every 30 s. To let the person back, delete the account and add it anew.\n"
    "\n"
    "'revoke server' revokes the server's own certificate (server@DOMAIN), e.g. when its\n"
    "key may have got out; at its next start the server makes itself a new key and\n"
    "certificate, so restart it at once.\n"
    "\n"
    "Exit status: 0 on success, 1 on failure (no such user...), 2 on a usage error.\n";

/* The account name of a verb's arguments, checked before the store is opened. */
static int
admin_check_user(const char *verb, const char *user)
{
	const char *why = "too long";
	char id[IDENTITY_STR_MAX];
	struct identity parsed;

	if (strlen(user) > IDENTITY_USER_MAX)
		why = "longer than 64 characters";
	else if (snprintf(id, sizeof(id), "%s@example.com", user) >= (int)sizeof(id) ||
		 identity_parse(id, IDENTITY_PURPOSE_FORBIDDEN, &parsed, &why))
		; /* why says what is wrong */
	else if (strcmp(parsed.user, user))
		why = "upper-case letters (names are lower case)";
	else if (!strcmp(user, ACCOUNTS_SERVER_USER))
		why = "reserved for the server's own certificate";
	else
		return 0;
	return server_usage_error(verb, "'%s' is not a user name: %s", user, why);
}

/* The verb's exit status once it is done with the store: 0 if err >= 0, else 1. */
static int
admin_done(struct accounts *acc, int err)
{
	accounts_close(acc);
	return err < 0 ? 1 : 0;
}

static int
admin_user_del(const struct server_opts *o, struct accounts *acc, const char *user)
{
	char ca_crt[PATH_MAX];
	struct cert_info ca;
	int n, purged = 0;

	/* The approvals name user@DOMAIN: the domain is the CA's. */
	if (server_path(o, SERVER_CA_CERT, ca_crt, sizeof(ca_crt)) ||
	    cert_info_from_file(ca_crt, &ca)) {
		fprintf(stderr, "vertex-server: cannot read the domain's CA: %s\n",
			cert_strerror());
		return -EIO;
	}
	n = accounts_user_del(acc, user, ca.subject, time(NULL), &purged);
	if (n == -ENOENT)
		fprintf(stderr, "vertex-server: no user %s\n", user);
	else if (n >= 0)
		printf("deleted %s; %d certificate(s) revoked, %d approval(s) purged\n", user, n,
		       purged);
	return n;
}

static int
admin_user_list(struct accounts *acc, bool json)
{
	struct admin_list l = { .json = json, .first = true };
	int err;

	printf("%s", l.json ? "{\"users\":[" : "");
	err = accounts_user_each(acc, admin_list_one, &l);
	printf("%s", l.json ? "]}\n" : "");
	return err;
}

struct admin_args {
	const char *user;
	bool flag;      /* user add: --password-stdin; user list: --json */
	unsigned hours; /* invite new */
};

/*
 * Parses "SUB [USER] [--FLAG [VALUE]]" for the verb: argv[0] is SUB (or the verb itself for
 * revoke). The one option, if any, is named by opt; a USER is wanted if want_user.
 */
static int
admin_parse(const char *verb, int argc, char **argv, bool want_user, const struct option *opt,
	    struct admin_args *a)
{
	struct option opts[2] = { { 0 } };
	int c;

	if (opt)
		opts[0] = *opt;
	optind = 1;
	while ((c = server_getopt(verb, argc, argv, "", opts)) != -1) {
		if (c == '?')
			return 2;
		if (c == 'H' && server_parse_uint(optarg, 24 * 365, &a->hours))
			return server_usage_error(verb, "--hours wants 1 to 8760, not '%s'",
						  optarg);
		a->flag = true;
	}
	if (want_user && optind == argc)
		return server_usage_error(verb, "needs a USER");
	if (want_user)
		a->user = argv[optind++];
	if (optind != argc)
		return server_usage_error(verb, "unexpected argument '%s'", argv[optind]);
	return want_user ? admin_check_user(verb, a->user) : 0;
}

int
admin_cmd_user(struct server_opts *o, int argc, char **argv)
{
	static const struct option password = { "password-stdin", no_argument, NULL, 'P' };
	static const struct option json = { "json", no_argument, NULL, 'J' };
	struct admin_args a = { 0 };
	struct accounts *acc;
	int err;

	if (argc < 2)
		return server_usage_error("user", "needs add, del or list");
	if (!strcmp(argv[1], "add")) {
		if ((err = admin_parse("user add", argc - 1, argv + 1, true, &password, &a)))
			return err;
		if (admin_open(o, &acc))
			return 1;
		return admin_done(acc, admin_user_add(acc, a.user, a.flag));
	}
	if (!strcmp(argv[1], "del")) {
		if ((err = admin_parse("user del", argc - 1, argv + 1, true, NULL, &a)))
			return err;
		if (admin_open(o, &acc))
			return 1;
		return admin_done(acc, admin_user_del(o, acc, a.user));
	}
	if (!strcmp(argv[1], "list")) {
		if ((err = admin_parse("user list", argc - 1, argv + 1, false, &json, &a)))
			return err;
		if (admin_open(o, &acc))
			return 1;
		return admin_done(acc, admin_user_list(acc, a.flag));
	}
	return server_usage_error("user", "unknown sub-verb '%s': add, del or list", argv[1]);
}

int
admin_cmd_invite(struct server_opts *o, int argc, char **argv)
{
	static const struct option hours = { "hours", required_argument, NULL, 'H' };
	struct admin_args a = { .hours = ADMIN_INVITE_DEFAULT_HOURS };
	struct accounts *acc;
	int err;

	if (argc < 2 || strcmp(argv[1], "new"))
		return server_usage_error("invite", "the verb is 'invite new USER'");
	if ((err = admin_parse("invite new", argc - 1, argv + 1, true, &hours, &a)))
		return err;
	if (admin_open(o, &acc))
		return 1;
	return admin_done(acc, admin_invite(o, acc, a.user, a.hours));
}

int
admin_cmd_revoke(struct server_opts *o, int argc, char **argv)
{
	struct admin_args a = { 0 };
	struct accounts *acc;
	int err;

	if (argc == 2 && !strcmp(argv[1], ACCOUNTS_SERVER_USER))
		a.user = argv[1]; /* the server's own certificate, not an account */
	else if ((err = admin_parse("revoke", argc, argv, true, NULL, &a)))
		return err;
	if (admin_open(o, &acc))
		return 1;
	return admin_done(acc, admin_revoke(acc, a.user));
}
