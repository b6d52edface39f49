// SPDX-License-Identifier: MIT
/*
 * vertex ca init | ca sign | key new | cert show: offline keys and certificates.
 *
 * This file only parses arguments and presents results; the work is daemon/crypto/cert.c, the
 * same code the server uses. Errors are one line naming the file and the problem (from
 * cert_strerror()), on stderr, with exit status 1; a bad command line exits 2 after a hint.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "crypto/cert.h"

enum {
	CA_DEFAULT_DAYS = 3650,
	SIGN_DEFAULT_DAYS = 30,
	DAYS_MAX = 36500,
	SKEW_SEC = 300, /* a new certificate starts a little in the past: clocks disagree */
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

static const char CA_INIT_HELP[] =
    "Usage: vertex ca init DOMAIN --key FILE --cert FILE [--days N]\n"
    "\n"
    "Makes the certificate authority of DOMAIN: a new Ed25519 key, written to FILE with mode\n"
    "0600, and a self-signed CA certificate whose name is DOMAIN.\n"
    "\n"
    "  --key FILE    where to write the CA's private key; must not exist yet\n"
    "  --cert FILE   where to write the CA certificate (PEM); must not exist yet\n"
    "  --days N      validity in days from now (default 3650)\n"
    "  -h, --help    show this help\n"
    "\n"
    "Example:\n"
    "  vertex ca init b.example.com --key ca.key --cert ca.crt\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

static const char CA_SIGN_HELP[] =
    "Usage: vertex ca sign --ca-key FILE --ca-cert FILE --pub FILE --identity USER@DOMAIN\n"
    "                      --out FILE [--days N | --not-before TIME --not-after TIME]\n"
    "\n"
    "Issues a certificate naming USER@DOMAIN over the public key in --pub, signed by the CA of\n"
    "DOMAIN. The CA certificate must be the one of DOMAIN itself.\n"
    "\n"
    "  --ca-key FILE      the CA's private key\n"
    "  --ca-cert FILE     the CA's certificate\n"
    "  --pub FILE         the agent's public key (a private key file works too; only its\n"
    "                     public half is used)\n"
    "  --identity ID      user@domain, folded to lower case\n"
    "  --out FILE         where to write the certificate (PEM); replaced if it exists\n"
    "  --days N           valid from 5 minutes ago (clock skew) for N days (default 30)\n"
    "  --not-before TIME  explicit start of validity, with --not-after\n"
    "  --not-after TIME   explicit end of validity, with --not-before\n"
    "  -h, --help         show this help\n"
    "\n"
    "TIME is RFC 3339 in UTC (2020-01-01T00:00:00Z) or @SECONDS since the epoch.\n"
    "\n"
    "Example:\n"
    "  vertex ca sign --ca-key ca.key --ca-cert ca.crt --pub bob.pub \\\n"
    "      --identity bob@b.example.com --out bob.crt --days 7\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

static const char KEY_NEW_HELP[] =
    "Usage: vertex key new --key FILE [--pub FILE]\n"
    "\n"
    "Makes an Ed25519 key pair. The private key is written with mode 0600 and never\n"
    "overwrites an existing file; the public key, if asked for, is what a CA signs.\n"
    "\n"
    "  --key FILE   where to write the private key (PEM, PKCS#8)\n"
    "  --pub FILE   where to write the public key (PEM, SubjectPublicKeyInfo)\n"
    "  -h, --help   show this help\n"
    "\n"
    "Example:\n"
    "  vertex key new --key bob.key --pub bob.pub\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

static const char CERT_SHOW_HELP[] =
    "Usage: vertex cert show FILE [--json]\n"
    "\n"
    "Shows a certificate: subject, issuer, validity (and whether it holds now), whether it\n"
    "is a CA, and its fingerprint (SHA256: and unpadded base64 of the SHA-256 of the DER, as\n"
    "OpenSSH prints key fingerprints).\n"
    "\n"
    "  --json       one JSON object instead of text\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n";

static const char CA_HELP[] = "Usage: vertex ca init DOMAIN --key FILE --cert FILE [--days N]\n"
			      "       vertex ca sign --ca-key FILE --ca-cert FILE --pub FILE\n"
			      "                      --identity USER@DOMAIN --out FILE [...]\n"
			      "\n"
			      "'vertex ca init --help' and 'vertex ca sign --help' say more.\n";

/* Prints a usage error with a pointer to --help; returns the usage exit code. */
static int
usage_error(const char *verb, const char *fmt, const char *arg)
{
	fprintf(stderr, "vertex %s: ", verb);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'vertex %s --help')\n", verb);
	return EXIT_USAGE;
}

static int
fail(const char *verb)
{
	fprintf(stderr, "vertex %s: %s\n", verb, cert_strerror());
	return EXIT_FAIL;
}

static bool
parse_days(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v == 0 || v > DAYS_MAX)
		return false;
	*out = (unsigned)v;
	return true;
}

/* RFC 3339 UTC ("2020-01-01T00:00:00Z") or "@SECONDS". */
static bool
parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 }, check;
	int n = 0;
	char *end;
	time_t t;

	if (s[0] == '@') {
		errno = 0;
		long long v = strtoll(s + 1, &end, 10);
		if (errno != 0 || end == s + 1 || *end != '\0')
			return false;
		*out = v;
		return true;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != (int)strlen(s) || n != 20)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	check = tm;
	t = timegm(&tm);
	/* timegm normalises 2020-02-31 into March: a changed field means an invalid date. */
	if (tm.tm_mday != check.tm_mday || tm.tm_mon != check.tm_mon ||
	    tm.tm_hour != check.tm_hour || tm.tm_min != check.tm_min || tm.tm_sec != check.tm_sec)
		return false;
	*out = (int64_t)t;
	return true;
}

/* Common getopt_long set-up: verbs report unknown options themselves. */
static void
getopt_reset(void)
{
	optind = 0;
	opterr = 0;
}

static int
bad_option(const char *verb, char **argv)
{
	return usage_error(verb, "unknown option or missing value in '%s'", argv[optind - 1]);
}

enum { OPT_CONTINUE = -1 };

/*
 * Runs getopt_long over opts, storing each option's value (optarg, or "" for a flag) in
 * v[its letter]. Returns OPT_CONTINUE with optind at the first operand, or an exit status:
 * help printed (--help, -h), or a usage error for an unknown option or a missing value.
 */
static int
collect_options(int argc, char **argv, const struct option *opts, const char *verb,
		const char *help, const char *v[128])
{
	int ch;

	getopt_reset();
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(help, stdout);
			return EXIT_OK;
		}
		if (ch == '?' || ch == ':' || ch < 0 || ch >= 128)
			return bad_option(verb, argv);
		v[ch] = optarg ? optarg : "";
	}
	return OPT_CONTINUE;
}

struct subverb {
	const char *name;
	int (*run)(int argc, char **argv);
};

/* `vertex NOUN VERB ...`: runs the sub-verb named by argv[1], or shows help. */
static int
dispatch(int argc, char **argv, const struct subverb *verbs, size_t n, const char *help)
{
	for (size_t i = 0; argc >= 2 && i < n; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	fputs(help, stderr);
	return EXIT_USAGE;
}

static int
ca_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "days", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *v[128] = { NULL }; /* option values by their letter */
	unsigned days = CA_DEFAULT_DAYS;
	int rc = collect_options(argc, argv, opts, "ca init", CA_INIT_HELP, v);

	if (rc != OPT_CONTINUE)
		return rc;
	if (v['d'] && !parse_days(v['d'], &days))
		return usage_error("ca init", "--days wants a whole number 1..36500, not '%s'",
				   v['d']);
	if (optind + 1 != argc)
		return usage_error("ca init", "%s", "wants exactly one DOMAIN");
	if (v['k'] == NULL || v['c'] == NULL)
		return usage_error("ca init", "%s", "--key and --cert are required");
	if (access(v['c'], F_OK) == 0) {
		fprintf(stderr, "vertex ca init: %s: already exists; refusing to overwrite\n",
			v['c']);
		return EXIT_FAIL;
	}
	if (cert_ca_init(argv[optind], days, v['k'], v['c']) < 0)
		return fail("ca init");
	return EXIT_OK;
}

/* Validity from --days or --not-before/--not-after; 0 or a usage exit code. */
static int
sign_validity(const char *days_s, const char *nb_s, const char *na_s, int64_t *nb, int64_t *na)
{
	int64_t now = (int64_t)time(NULL);
	unsigned days = SIGN_DEFAULT_DAYS;

	if (days_s != NULL && (nb_s != NULL || na_s != NULL))
		return usage_error("ca sign", "%s", "--days excludes --not-before/--not-after");
	if ((nb_s == NULL) != (na_s == NULL))
		return usage_error("ca sign", "%s", "--not-before and --not-after go together");
	if (nb_s != NULL) {
		if (!parse_time(nb_s, nb))
			return usage_error("ca sign", "--not-before: '%s' is not a TIME", nb_s);
		if (!parse_time(na_s, na))
			return usage_error("ca sign", "--not-after: '%s' is not a TIME", na_s);
		if (*na <= *nb)
			return usage_error("ca sign", "%s",
					   "--not-after must be after --not-before");
		return 0;
	}
	if (days_s != NULL && !parse_days(days_s, &days))
		return usage_error("ca sign", "--days wants a whole number 1..36500, not '%s'",
				   days_s);
	*nb = now - SKEW_SEC;
	*na = now + (int64_t)days * 86400;
	return 0;
}

static int
ca_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca-key", required_argument, NULL, 'K' },
		{ "ca-cert", required_argument, NULL, 'C' },
		{ "pub", required_argument, NULL, 'p' },
		{ "identity", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "days", required_argument, NULL, 'd' },
		{ "not-before", required_argument, NULL, 'b' },
		{ "not-after", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *v[128] = { NULL }; /* option values by their letter */
	int64_t nb, na;
	int err = collect_options(argc, argv, opts, "ca sign", CA_SIGN_HELP, v);

	if (err != OPT_CONTINUE)
		return err;
	if (optind != argc)
		return usage_error("ca sign", "unexpected argument '%s'", argv[optind]);
	if (!v['K'] || !v['C'] || !v['p'] || !v['i'] || !v['o'])
		return usage_error("ca sign", "%s",
				   "--ca-key, --ca-cert, --pub, --identity and --out are required");
	err = sign_validity(v['d'], v['b'], v['a'], &nb, &na);
	if (err != 0)
		return err;
	if (cert_sign(v['K'], v['C'], v['p'], v['i'], nb, na, v['o']) < 0)
		return fail("ca sign");
	return EXIT_OK;
}

int
cmd_ca(int argc, char **argv)
{
	static const struct subverb verbs[] = { { "init", ca_init }, { "sign", ca_sign } };

	return dispatch(argc, argv, verbs, 2, CA_HELP);
}

static int
key_new(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "pub", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *v[128] = { NULL };
	int rc = collect_options(argc, argv, opts, "key new", KEY_NEW_HELP, v);

	if (rc != OPT_CONTINUE)
		return rc;
	if (optind != argc)
		return usage_error("key new", "unexpected argument '%s'", argv[optind]);
	if (v['k'] == NULL)
		return usage_error("key new", "%s", "--key is required");
	if (cert_key_new(v['k'], v['p']) < 0)
		return fail("key new");
	return EXIT_OK;
}

int
cmd_key(int argc, char **argv)
{
	static const struct subverb verbs[] = { { "new", key_new } };

	return dispatch(argc, argv, verbs, 1, KEY_NEW_HELP);
}

/* A JSON string; certificate names are untrusted, so everything unusual is escaped. */
static void
json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* Text output shows names through the same filter: no terminal escapes from a file. */
static void
text_string(FILE *out, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ? '?' : *s, out);
}

static const char *
validity_state(const struct cert_info *ci, int64_t now)
{
	if (now < ci->not_before)
		return "not yet valid";
	if (now > ci->not_after)
		return "expired";
	return "valid";
}

static void
show_text(const struct cert_info *ci, const char *fpr, int64_t now)
{
	char nb[32], na[32];

	cert_time_format(ci->not_before, nb, sizeof(nb));
	cert_time_format(ci->not_after, na, sizeof(na));
	fputs("subject:     ", stdout);
	text_string(stdout, ci->subject);
	fputs("\nissuer:      ", stdout);
	text_string(stdout, ci->issuer);
	printf("\nnot before:  %s\nnot after:   %s\nstatus:      %s\nca:          %s\n"
	       "fingerprint: %s\n",
	       nb, na, validity_state(ci, now), ci->is_ca ? "yes" : "no", fpr);
}

static void
show_json(const struct cert_info *ci, const char *fpr, int64_t now)
{
	char nb[32], na[32];

	cert_time_format(ci->not_before, nb, sizeof(nb));
	cert_time_format(ci->not_after, na, sizeof(na));
	fputs("{\"subject\":", stdout);
	json_string(stdout, ci->subject);
	fputs(",\"issuer\":", stdout);
	json_string(stdout, ci->issuer);
	printf(",\"not_before\":\"%s\",\"not_after\":\"%s\",\"not_before_unix\":%" PRId64
	       ",\"not_after_unix\":%" PRId64 ",\"status\":\"%s\",\"is_ca\":%s,"
	       "\"fingerprint\":\"%s\"}\n",
	       nb, na, ci->not_before, ci->not_after, validity_state(ci, now),
	       ci->is_ca ? "true" : "false", fpr);
}

static int
cert_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *v[128] = { NULL };
	struct cert_info ci;
	char fpr[64];
	int rc = collect_options(argc, argv, opts, "cert show", CERT_SHOW_HELP, v);

	if (rc != OPT_CONTINUE)
		return rc;
	if (optind + 1 != argc)
		return usage_error("cert show", "%s", "wants exactly one FILE");
	if (cert_info_from_file(argv[optind], &ci) < 0)
		return fail("cert show");
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	if (v['j'])
		show_json(&ci, fpr, (int64_t)time(NULL));
	else
		show_text(&ci, fpr, (int64_t)time(NULL));
	return EXIT_OK;
}

int
cmd_cert(int argc, char **argv)
{
	static const struct subverb verbs[] = { { "show", cert_show } };

	return dispatch(argc, argv, verbs, 1, CERT_SHOW_HELP);
}
