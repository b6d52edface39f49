// SPDX-License-Identifier: MIT
/*
 * vertex trust: the user's side of the pins (daemon/agent/ctl.c "trust ..." requests). Arguments
 * are checked here first, with the same rules the daemon applies (identity grammar,
 * cert_fpr_parse), so a typo is a usage error (2) with a precise message and never reaches the
 * daemon; and since the request is one line of words separated by spaces, an argument that
 * could add a word or a line is refused here as well. The daemon checks again regardless.
 *
 * The answer is a list of facts: "pin DOMAIN" groups (fingerprint, first_seen, how) and
 * "domain DOMAIN" groups from the foreign-domain module; text for people, JSON for scripts.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "ctlclient.h"
#include "trust.h"
#include "trust/identity.h"

enum { TRUST_REQUEST_MAX = 512 };

static const char trust_help[] =
    "Usage: vertex [-s SOCKET] trust list [--json]\n"
    "       vertex [-s SOCKET] trust show DOMAIN [--json]\n"
    "       vertex [-s SOCKET] trust forget DOMAIN\n"
    "       vertex [-s SOCKET] trust pin DOMAIN FINGERPRINT\n"
    "\n"
    "Lists, shows, forgets or re-pins the CA fingerprints this agent has pinned for\n"
    "other domains.\n"
    "\n"
    "The first time vertexd meets a domain whose CA it was not configured with, it\n"
    "fetches that CA, asks its home server what it sees for the domain, and pins the\n"
    "CA's fingerprint (Trust On First Use). From then on the domain must keep that\n"
    "key (Persistence of Pseudonym): a different CA for a pinned domain is refused,\n"
    "and every peer of that domain stays unreachable, until you decide otherwise\n"
    "here -- as with SSH's known_hosts. A changed key means either that the domain\n"
    "really replaced its CA, or that someone is impersonating it; only a check\n"
    "outside Vertex (ask the domain's administrator for the new fingerprint) can\n"
    "tell which.\n"
    "\n"
    "Verbs:\n"
    "  list                 every pin: domain, fingerprint, when it was first seen\n"
    "                       and how it was verified; then the state of each other\n"
    "                       domain vertexd is tracking (pinned, fetching, refused\n"
    "                       and why)\n"
    "  show DOMAIN          the same for one domain; fails if it has no pin\n"
    "  forget DOMAIN        drops the pin: the next contact with DOMAIN pins its\n"
    "                       CA anew on first use (after the notary cross-check).\n"
    "                       Use it when a domain has legitimately replaced its CA\n"
    "                       and you have no fingerprint to check it against\n"
    "  pin DOMAIN FINGERPRINT\n"
    "                       pins DOMAIN to exactly FINGERPRINT, replacing any pin.\n"
    "                       Use it when you have the new fingerprint from a source\n"
    "                       you trust (vertex cert show on the domain's CA\n"
    "                       certificate prints it); it is recorded as \"pinned by\n"
    "                       the user\"\n"
    "\n"
    "forget and pin change what this agent trusts: vertexd accepts them from root\n"
    "only. vertexd re-evaluates the domain at once: a CA that the new pin no longer\n"
    "names stops being trusted immediately (the sessions it vouched for close, new\n"
    "handshakes under it are refused), and peers waiting on the domain connect, or\n"
    "are refused with the reason shown by trust list.\n"
    "\n"
    "DOMAIN is a DNS name such as b.example.com (case-insensitive). FINGERPRINT is\n"
    "the SHA-256 of the CA certificate as OpenSSH prints fingerprints: \"SHA256:\"\n"
    "and 43 characters of unpadded base64, e.g.\n"
    "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n"
    "\n"
    "Options:\n"
    "  --json   for list and show: {\"pins\": [{\"domain\", \"fingerprint\",\n"
    "           \"first_seen\" (unix seconds), \"how\"}], \"domains\": [ ... ]}\n"
    "  -h, --help\n"
    "\n"
    "Exit status: 0 on success; 1 if vertexd cannot be reached or refuses (no pin\n"
    "for the domain, not root, ...); 2 on a usage error (unknown verb, wrong\n"
    "number of arguments, malformed domain or fingerprint).\n";

static int
trust_usage(const char *msg)
{
	fprintf(stderr, "vertex trust: %s (see 'vertex trust --help')\n", msg);
	return 2;
}

/* A DOMAIN argument as the daemon will read it; 2 with a message if it is not one. */
static int
trust_check_domain(const char *arg)
{
	const char *why;

	if (identity_domain_is_valid(arg, &why)) /* it folds case itself */
		return 0;
	fprintf(stderr, "vertex trust: invalid domain '%s': %s\n", arg, why);
	return 2;
}

static int
trust_check_fpr(const char *arg)
{
	uint8_t fpr[CERT_FPR_LEN];

	if (!cert_fpr_parse(arg, fpr))
		return 0;
	fprintf(stderr,
		"vertex trust: invalid fingerprint '%s': expected \"SHA256:\" and 43 base64 "
		"characters, as 'vertex cert show' prints it\n",
		arg);
	return 2;
}

/* --- presentation --- */

static void
trust_text_pin(const struct ctlclient_facts *f, size_t from, size_t to)
{
	long long t = strtoll(ctlclient_fact(f, from, to, "first_seen"), NULL, 10);
	char when[64];

	cert_time_format(t, when, sizeof(when));
	printf("%s\n", ctlclient_fact(f, from, to, "pin"));
	printf("  fingerprint  %s\n", ctlclient_fact(f, from, to, "fingerprint"));
	printf("  first seen   %s\n", when);
	printf("  how          %s\n", ctlclient_fact(f, from, to, "how"));
}

/* A foreign-domain group, whatever facts it has, "domain_" dropped from the keys. */
static void
trust_text_domain(const struct ctlclient_facts *f, size_t from, size_t to)
{
	printf("domain %s\n", f->v[from].value);
	for (size_t i = from + 1; i < to; i++) {
		const char *key = f->v[i].key;

		if (!strncmp(key, "domain_", 7))
			key += 7;
		printf("  %-12s %s\n", key, f->v[i].value);
	}
}

/* The groups starting with key, as text or as the members of a JSON array. */
static bool
trust_groups(const struct ctlclient_facts *f, const char *key, bool json, const char *json_key)
{
	bool any = false;

	for (size_t i = 0; i < f->n;) {
		size_t end = i + 1;

		if (strcmp(f->v[i].key, key)) {
			i++;
			continue;
		}
		while (end < f->n && strcmp(f->v[end].key, "pin") &&
		       strcmp(f->v[end].key, "domain"))
			end++;
		if (json)
			printf("%s", any ? "," : "");
		else if (any || strcmp(key, "pin"))
			putchar('\n');
		if (json)
			ctlclient_json_object(f, i, end, key, json_key);
		else if (!strcmp(key, "pin"))
			trust_text_pin(f, i, end);
		else
			trust_text_domain(f, i, end);
		any = true;
		i = end;
	}
	return any;
}

static void
trust_print(const struct ctlclient_facts *f, bool json)
{
	if (json) {
		fputs("{\"pins\":[", stdout);
		trust_groups(f, "pin", true, "domain");
		fputs("],\"domains\":[", stdout);
		trust_groups(f, "domain", true, "domain");
		fputs("]}\n", stdout);
		return;
	}
	if (!trust_groups(f, "pin", false, NULL))
		puts("no pins: no other domain's CA has been met or pinned yet");
	trust_groups(f, "domain", false, NULL);
}

/* --- verbs --- */

static int
trust_run(const char *request, const char *verb, bool json)
{
	struct ctlclient_facts f;

	if (ctlclient_ask(request, &f))
		return 1;
	if (!strcmp(verb, "list") || !strcmp(verb, "show"))
		trust_print(&f, json);
	else if (!strcmp(verb, "forget"))
		printf("forgot the pin of %s: the next contact pins its CA on first use again\n",
		       ctlclient_fact(&f, 0, f.n, "forgot"));
	else
		printf("pinned %s\n", ctlclient_fact(&f, 0, f.n, "pinned"));
	ctlclient_facts_free(&f);
	return 0;
}

/* Checks the verb's arguments and builds its request line; 0, or 2 after a message. */
static int
trust_request(int argc, char **argv, bool json, char *req, size_t len)
{
	static const struct {
		const char *verb;
		int nargs;
		bool has_json;
	} verbs[] = { { "list", 0, true },
		      { "show", 1, true },
		      { "forget", 1, false },
		      { "pin", 2, false } };
	const char *verb = argv[0];

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verb, verbs[i].verb))
			continue;
		if (argc - 1 != verbs[i].nargs)
			return trust_usage(verbs[i].nargs == 0 ? "list takes no argument"
					   : verbs[i].nargs == 1
					       ? "expected one DOMAIN"
					       : "expected DOMAIN and FINGERPRINT");
		if (json && !verbs[i].has_json)
			return trust_usage("--json applies to list and show only");
		if (argc > 1 && trust_check_domain(argv[1]))
			return 2;
		if (argc > 2 && trust_check_fpr(argv[2]))
			return 2;
		snprintf(req, len, "trust %s%s%s%s%s", verb, argc > 1 ? " " : "",
			 argc > 1 ? argv[1] : "", argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
		return 0;
	}
	fprintf(stderr, "vertex trust: unknown verb '%s' (expected list, show, forget or pin)\n",
		verb);
	return 2;
}

int
cmd_trust(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char req[TRUST_REQUEST_MAX];
	bool json = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			fputs(trust_help, stdout);
			return 0;
		} else {
			return trust_usage("unknown option");
		}
	}
	if (optind == argc)
		return trust_usage("expected a verb: list, show, forget or pin");
	rc = trust_request(argc - optind, argv + optind, json, req, sizeof(req));
	if (rc)
		return rc;
	return trust_run(req, argv[optind], json);
}
