// SPDX-License-Identifier: MIT
/*
 * vertex-server trust: the administrator's view of the CAs this server has pinned for other
 * domains (federation.c pins them on first use, cross-checked), and the one way to change them
 * when a domain legitimately replaces its CA: re-pin it to the new fingerprint, or forget it so
 * the next contact pins on first use again. The verbs work on the store directly, like the
 * other administrative verbs; a change bumps SERVER_PINS_SERIAL, and a running server re-reads
 * the pins within SERVER_REVOCATION_POLL_MS (federation_pins_poll), drops the trust it had in
 * the old CA and closes the connections authenticated under it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "crypto/cert.h"
#include "server/server.h"
#include "store/store.h"
#include "trust/pins.h"

const char admin_trust_help[] =
    "Usage: vertex-server [-D DIR] trust list [--json]\n"
    "       vertex-server [-D DIR] trust show DOMAIN [--json]\n"
    "       vertex-server [-D DIR] trust forget DOMAIN\n"
    "       vertex-server [-D DIR] trust pin DOMAIN FINGERPRINT\n"
    "\n"
    "The CAs this server has pinned for other domains. The first time the server meets a\n"
    "domain (an agent of its own asks about it, or a certificate of that domain is presented\n"
    "to it), it fetches that domain's CA, cross-checks it with the servers of the domains it\n"
    "already trusts, and pins its fingerprint. From then on the domain must keep that CA: a\n"
    "different one is refused and logged with both fingerprints. When a domain really has\n"
    "replaced its CA (ask its administrator for the new fingerprint), change the pin here:\n"
    "\n"
    "  list    every pin: domain, fingerprint, when it was first seen, how it was verified\n"
    "  show    the same for one domain; fails if it has no pin\n"
    "  forget  drops the pin: the next contact pins the domain's CA on first use again,\n"
    "          after the cross-check\n"
    "  pin     pins DOMAIN to exactly FINGERPRINT, replacing any pin\n"
    "\n"
    "A running server applies forget and pin within 2 s: it stops trusting the old CA,\n"
    "closes the connections authenticated under it, and checks the domain's next contact\n"
    "against the new pin.\n"
    "\n"
    "DOMAIN is a DNS name (case-insensitive), not this server's own. FINGERPRINT is the\n"
    "SHA-256 of the CA certificate as 'vertex cert show' and 'init' print it: \"SHA256:\"\n"
    "and 43 characters of unpadded base64.\n"
    "\n"
    "Options:\n"
    "  --json  for list and show: {\"pins\":[{\"domain\", \"fingerprint\", \"first_seen\"\n"
    "          (unix seconds), \"how\"}]}\n"
    "\n"
    "Exit status: 0 on success, 1 on failure (no pin for the domain...), 2 on a usage\n"
    "error (unknown sub-verb, malformed domain or fingerprint, this server's own domain).\n";

struct trust_print {
	bool json, first;
};

static int
trust_print_pin(const struct pin *p, void *arg)
{
	struct trust_print *tp = arg;
	char fpr[64], when[64];

	cert_fpr_format(p->fpr, fpr, sizeof(fpr));
	if (tp->json) {
		printf("%s{\"domain\":", tp->first ? "" : ",");
		json_put_string(p->domain, stdout);
		printf(",\"fingerprint\":\"%s\",\"first_seen\":%lld,\"how\":", fpr,
		       (long long)p->first_seen);
		json_put_string(p->how, stdout);
		putchar('}');
	} else {
		cert_time_format(p->first_seen, when, sizeof(when));
		printf("%s\n  fingerprint  %s\n  first seen   %s\n  how          %s\n", p->domain,
		       fpr, when, p->how);
	}
	tp->first = false;
	return 0;
}

/* Lower-cases and checks a domain argument into out; a usage error if it is not one. */
static int
trust_domain_arg(const char *verb, const char *arg, char out[IDENTITY_DOMAIN_MAX + 1])
{
	const char *why;

	if (identity_domain_canon(arg, out, &why))
		return 0;
	return server_usage_error(verb, "not a domain: %s", why);
}

/* This server's own domain, from its CA certificate; "" if it cannot be read. */
static void
trust_own_domain(const struct server_opts *o, char out[IDENTITY_DOMAIN_MAX + 1])
{
	char path[PATH_MAX];
	struct cert_info ci;

	out[0] = '\0';
	if (!server_path(o, SERVER_CA_CERT, path, sizeof(path)) &&
	    !cert_info_from_file(path, &ci) && strlen(ci.subject) <= IDENTITY_DOMAIN_MAX)
		memcpy(out, ci.subject, strlen(ci.subject) + 1);
}

/* Tells a running server the pins changed (it polls the counter). */
static int
trust_bump_serial(struct store *st)
{
	uint64_t serial = federation_pins_serial(st) + 1;

	return store_meta_set(st, SERVER_PINS_SERIAL, &serial, sizeof(serial));
}

struct trust_args {
	const char *sub;
	char domain[IDENTITY_DOMAIN_MAX + 1];
	uint8_t fpr[CERT_FPR_LEN];
	bool json;
};

/* Checks everything before the store is opened: 0, or the exit status of a usage error. */
static int
trust_parse(const struct server_opts *o, int argc, char **argv, struct trust_args *a)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'J' },
					      { NULL, 0, NULL, 0 } };
	static const struct {
		const char *sub;
		int nargs;
		bool json;
	} subs[] = { { "list", 0, true },
		     { "show", 1, true },
		     { "forget", 1, false },
		     { "pin", 2, false } };
	char verb[32], own[IDENTITY_DOMAIN_MAX + 1];
	size_t i;
	int c, err;

	if (argc < 2)
		return server_usage_error("trust", "needs list, show, forget or pin");
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]) && strcmp(argv[1], subs[i].sub); i++)
		;
	if (i == sizeof(subs) / sizeof(subs[0]))
		return server_usage_error(
		    "trust", "unknown sub-verb '%s': list, show, forget or pin", argv[1]);
	a->sub = subs[i].sub;
	snprintf(verb, sizeof(verb), "trust %s", a->sub);
	optind = 1;
	while ((c = server_getopt(verb, argc - 1, argv + 1, "", subs[i].json ? opts : opts + 1)) !=
	       -1) {
		if (c == '?')
			return 2;
		a->json = true;
	}
	if (argc - 1 - optind != subs[i].nargs)
		return server_usage_error(verb, "takes %d argument(s), not %d", subs[i].nargs,
					  argc - 1 - optind);
	if (subs[i].nargs && (err = trust_domain_arg(verb, argv[1 + optind], a->domain)))
		return err;
	if (subs[i].nargs == 2 && cert_fpr_parse(argv[2 + optind], a->fpr))
		return server_usage_error(verb, "not a fingerprint: expected \"SHA256:\" and 43 "
						"characters of unpadded base64, as init prints it");
	trust_own_domain(o, own);
	if (a->domain[0] && !strcmp(a->domain, own))
		return server_usage_error(verb,
					  "%s is this server's own domain: its CA is the "
					  "one in %s, not a pin",
					  own, o->dir);
	return 0;
}

static int
trust_run(struct store *st, const struct trust_args *a)
{
	struct trust_print tp = { .json = a->json, .first = true };
	struct pin p = { .first_seen = time(NULL) };
	char fpr[64];
	int err;

	if (!strcmp(a->sub, "list")) {
		printf("%s", a->json ? "{\"pins\":[" : "");
		err = store_pin_each(st, trust_print_pin, &tp);
		printf("%s", a->json ? "]}\n" : "");
		return err;
	}
	if (!strcmp(a->sub, "show") || !strcmp(a->sub, "forget")) {
		if ((err = store_pin_get(st, a->domain, &p)) == -ENOENT)
			fprintf(stderr, "vertex-server: no pin for %s\n", a->domain);
		if (err)
			return err;
		if (!strcmp(a->sub, "show")) {
			printf("%s", a->json ? "{\"pins\":[" : "");
			trust_print_pin(&p, &tp);
			printf("%s", a->json ? "]}\n" : "");
			return 0;
		}
		if ((err = store_pin_delete(st, a->domain)) || (err = trust_bump_serial(st)))
			return err;
		printf("forgot the pin of %s: its next contact pins its CA on first use again; a "
		       "running server applies this within %d s\n",
		       a->domain, SERVER_REVOCATION_POLL_MS / 1000);
		return 0;
	}
	snprintf(p.domain, sizeof(p.domain), "%s", a->domain);
	memcpy(p.fpr, a->fpr, sizeof(p.fpr));
	snprintf(p.how, sizeof(p.how), "pinned by the administrator");
	if ((err = store_pin_put(st, &p)) || (err = trust_bump_serial(st)))
		return err;
	cert_fpr_format(p.fpr, fpr, sizeof(fpr));
	printf("pinned %s to %s; a running server applies this within %d s\n", p.domain, fpr,
	       SERVER_REVOCATION_POLL_MS / 1000);
	return 0;
}

int
admin_cmd_trust(struct server_opts *o, int argc, char **argv)
{
	struct trust_args a = { 0 };
	char db[PATH_MAX];
	struct store *st;
	int err;

	if ((err = trust_parse(o, argc, argv, &a)))
		return err;
	if (admin_db_path(o, db, sizeof(db)) || store_open(&st, db))
		return 1;
	err = trust_run(st, &a);
	store_close(st);
	return err ? 1 : 0;
}
