// SPDX-License-Identifier: MIT
/*
 * The rendezvous verbs: connect, requests, approve, deny, revoke, resolve. Each asks vertexd
 * over its control socket (ctlclient.h; the daemon's side is daemon/agent/ctl_rdv.c) and
 * presents the facts. `connect` waits for the answer by asking again every CONNECT_POLL_MS, up
 * to the request's wait plus a margin: the daemon holds the request, the CLI only watches it.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctlclient.h"
#include "rdv.h"
#include "trust/identity.h"

enum { CONNECT_POLL_MS = 100, CONNECT_MARGIN_SEC = 15, DEFAULT_WAIT_SEC = 300 };

static int
rdv_usage(const char *help, const char *fmt, const char *arg)
{
	fputs("vertex: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n\n", stderr);
	fputs(help, stderr);
	return 2;
}

/* "user@domain/purpose" into identity and purpose (normalised); 0, or 2 after a usage error. */
static int
rdv_target(const char *arg, bool purpose_required, char *who, size_t wlen, char *purpose,
	   size_t plen, const char *help)
{
	struct identity id;
	const char *why = "?";

	if (identity_parse(arg, purpose_required ? IDENTITY_PURPOSE_REQUIRED : 0, &id, &why)) {
		fprintf(stderr, "vertex: %s: %s\n\n%s", arg, why, help);
		return 2;
	}
	snprintf(who, wlen, "%s@%s", id.user, id.domain);
	snprintf(purpose, plen, "%s", id.purpose[0] ? id.purpose : "*");
	return 0;
}

static void
rdv_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static double
rdv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
rdv_print_outcome(const struct ctlclient_facts *f, bool json)
{
	if (json) {
		ctlclient_json_object(f, 0, f->n, NULL, NULL);
		putchar('\n');
		return;
	}
	puts(ctlclient_fact(f, 0, f->n, "message"));
	if (!strcmp(ctlclient_fact(f, 0, f->n, "state"), "approved"))
		printf("reach it at %s (or %s), %s port %s\n",
		       ctlclient_fact(f, 0, f->n, "overlay4"),
		       ctlclient_fact(f, 0, f->n, "overlay6"), ctlclient_fact(f, 0, f->n, "proto"),
		       ctlclient_fact(f, 0, f->n, "port"));
}

int
cmd_connect(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] connect USER@DOMAIN/PURPOSE [--wait SECONDS] [--no-wait]\n"
	    "                                  [--json]\n"
	    "\n"
	    "Asks USER@DOMAIN for PURPOSE (e.g. bob@b.example.com/ssh). The request goes to our\n"
	    "server, which vouches for who we are, then to the other domain's server and to the\n"
	    "person's agent, which shows it to them (vertex requests) until they approve or\n"
	    "deny it. Nothing about how to reach them is told before they approve. Once they\n"
	    "do, they are a peer: a session comes up through the relay at once, and the\n"
	    "overlay address and port to use are printed (vertex resolve prints them later).\n"
	    "\n"
	    "The answer is one of: approved; denied; no such purpose (offered to us); no such\n"
	    "user; offline; too many requests; the other server unreachable; no answer in time.\n"
	    "An agent or server configured for privacy lets every refusal end as no answer.\n"
	    "Asking again while a request is pending does not send a second one.\n"
	    "\n"
	    "  --wait SECONDS  how long the request waits for the person (1-900, default 300)\n"
	    "  --no-wait       send the request and return; see 'vertex requests' for the answer\n"
	    "  --json          the outcome as one JSON object\n"
	    "\n"
	    "Exit status: 0 approved (or pending with --no-wait), 1 refused or no answer, 2 "
	    "usage.\n";
	static const struct option opts[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char who[IDENTITY_STR_MAX], purpose[IDENTITY_PURPOSE_MAX + 2], req[IDENTITY_STR_MAX + 64];
	unsigned long wait = DEFAULT_WAIT_SEC;
	bool json = false, nowait = false;
	struct ctlclient_facts f;
	double deadline;
	char *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "w:njh", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			wait = strtoul(optarg, &end, 10);
			if (*end || !*optarg || wait < 1 || wait > 900)
				return rdv_usage(help, "--wait %s: 1 to 900 seconds", optarg);
			break;
		case 'n':
			nowait = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind + 1 != argc)
		return rdv_usage(help, "%s", "connect takes one USER@DOMAIN/PURPOSE");
	if ((rc = rdv_target(argv[optind], true, who, sizeof(who), purpose, sizeof(purpose), help)))
		return rc;
	snprintf(req, sizeof(req), "connect %s %s %lu", who, purpose, wait);
	if (ctlclient_ask(req, &f))
		return 1;
	deadline = rdv_now() + (double)wait + CONNECT_MARGIN_SEC;
	snprintf(req, sizeof(req), "request %s %s", who, purpose);
	while (!nowait && !strcmp(ctlclient_fact(&f, 0, f.n, "state"), "pending") &&
	       rdv_now() < deadline) {
		ctlclient_facts_free(&f);
		rdv_sleep_ms(CONNECT_POLL_MS);
		if (ctlclient_ask(req, &f))
			return 1;
	}
	rdv_print_outcome(&f, json);
	rc = !strcmp(ctlclient_fact(&f, 0, f.n, "state"), "approved") ||
		     (nowait && !strcmp(ctlclient_fact(&f, 0, f.n, "state"), "pending"))
		 ? 0
		 : 1;
	ctlclient_facts_free(&f);
	return rc;
}

static int
rdv_json_only(int argc, char **argv, const char *help, bool *json, int nargs)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j' && json) {
			*json = true;
		} else if (c == 'h') {
			fputs(help, stdout);
			return 0;
		} else {
			fputs(help, stderr);
			return 2;
		}
	}
	if (argc - optind < 1 && nargs > 0)
		return rdv_usage(help, "%s", "an identity is needed");
	if (argc - optind > nargs)
		return rdv_usage(help, "unexpected argument '%s'", argv[optind + nargs]);
	return -1;
}

int
cmd_requests(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] requests [--json]\n"
	    "\n"
	    "Shows the contact requests waiting for us to answer (who asks, for which purpose,\n"
	    "the fingerprint of their certificate as their server verified it, and how long\n"
	    "the request still waits), then our own requests and where each stands.\n"
	    "Answer with 'vertex approve USER@DOMAIN PURPOSE' or 'vertex deny ...'.\n"
	    "\n"
	    "  --json   {\"incoming\": [ ... ], \"outgoing\": [ ... ]}, for scripts\n";
	struct ctlclient_facts f;
	bool json = false;
	int rc = rdv_json_only(argc, argv, help, &json, 0);
	size_t nin = 0, nout = 0;

	if (rc >= 0)
		return rc;
	if (ctlclient_ask("requests", &f))
		return 1;
	if (json)
		fputs("{\"incoming\":[", stdout);
	for (int pass = 0; pass < 2; pass++) {
		const char *key = pass ? "outgoing" : "incoming";

		if (json && pass)
			fputs("],\"outgoing\":[", stdout);
		for (size_t i = 0; i < f.n; i++) {
			size_t end;

			if (strcmp(f.v[i].key, key))
				continue;
			for (end = i + 1; end < f.n && strcmp(f.v[end].key, "incoming") &&
					  strcmp(f.v[end].key, "outgoing");
			     end++)
				;
			if (json) {
				printf("%s", (pass ? nout : nin) ? "," : "");
				ctlclient_json_object(&f, i, end, key, "identity");
			} else if (!pass) {
				printf("%s asks for %s (certificate %.16s..., %s s left)\n",
				       f.v[i].value, ctlclient_fact(&f, i, end, "purpose"),
				       ctlclient_fact(&f, i, end, "fpr"),
				       ctlclient_fact(&f, i, end, "expires_in"));
			} else {
				printf("asked %s for %s: %s\n", f.v[i].value,
				       ctlclient_fact(&f, i, end, "purpose"),
				       ctlclient_fact(&f, i, end, "message"));
			}
			if (pass)
				nout++;
			else
				nin++;
		}
	}
	if (json)
		fputs("]}\n", stdout);
	else if (!nin && !nout)
		puts("no requests");
	ctlclient_facts_free(&f);
	return 0;
}

/* approve, deny and revoke: IDENTITY [PURPOSE] (no purpose: every one). */
static int
rdv_decide(int argc, char **argv, const char *verb, const char *help, const char *done)
{
	char who[IDENTITY_STR_MAX], purpose[IDENTITY_PURPOSE_MAX + 2], req[IDENTITY_STR_MAX + 64];
	struct ctlclient_facts f;
	int rc = rdv_json_only(argc, argv, help, NULL, 2);

	if (rc >= 0)
		return rc;
	if ((rc =
		 rdv_target(argv[optind], false, who, sizeof(who), purpose, sizeof(purpose), help)))
		return rc;
	if (optind + 1 < argc) {
		if (strcmp(purpose, "*"))
			return rdv_usage(help, "%s", "give the purpose once");
		snprintf(purpose, sizeof(purpose), "%s", argv[optind + 1]);
	}
	snprintf(req, sizeof(req), "%s %s %s", verb, who, purpose);
	if (ctlclient_ask(req, &f))
		return 1;
	printf("%s %s for %s\n", done, who, strcmp(purpose, "*") ? purpose : "every purpose");
	ctlclient_facts_free(&f);
	return 0;
}

int
cmd_approve(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] approve USER@DOMAIN [PURPOSE]\n"
	    "\n"
	    "Approves the waiting request of USER@DOMAIN for PURPOSE (without PURPOSE: every\n"
	    "request of theirs that waits). The approval is stored before it is answered, so it\n"
	    "survives restarts; they become a peer at a stable overlay address, reached\n"
	    "through the relay until a direct path works. 'vertex revoke' undoes it.\n"
	    "USER@DOMAIN/PURPOSE is accepted too.\n";

	return rdv_decide(argc, argv, "approve", help, "approved");
}

int
cmd_deny(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] deny USER@DOMAIN [PURPOSE]\n"
	    "\n"
	    "Denies the waiting request of USER@DOMAIN for PURPOSE (without PURPOSE: every\n"
	    "request of theirs that waits). They are told it was denied, unless this agent's\n"
	    "config says 'privacy on': then they are told nothing, and their request ends as\n"
	    "no answer. USER@DOMAIN/PURPOSE is accepted too.\n";

	return rdv_decide(argc, argv, "deny", help, "denied");
}

int
cmd_revoke(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] revoke USER@DOMAIN [PURPOSE]\n"
	    "\n"
	    "Ends the approvals between us and USER@DOMAIN for PURPOSE (without PURPOSE: all of\n"
	    "them, both ways), tells them and the servers (which stop relaying for the pair once\n"
	    "no approval is left), and, when none is left, ends the session at once.\n"
	    "USER@DOMAIN/PURPOSE is accepted too.\n";

	return rdv_decide(argc, argv, "revoke", help, "revoked");
}

int
cmd_resolve(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] resolve USER@DOMAIN/PURPOSE [-4|-6] [--address|--port]\n"
	    "                                  [--json]\n"
	    "\n"
	    "Prints where to reach an approved purpose: the overlay address this agent gave\n"
	    "the peer and the purpose's port, as \"ADDRESS PORT\". For example:\n"
	    "  ssh -p \"$(vertex resolve --port bob@b.example.com/ssh)\" \\\n"
	    "      \"$(vertex resolve --address bob@b.example.com/ssh)\"\n"
	    "\n"
	    "  -4 / -6      the IPv4 (default) or IPv6 overlay address\n"
	    "  --address    the address alone\n"
	    "  --port       the port alone\n"
	    "  --json       peer, purpose, proto, port, overlay4, overlay6\n";
	static const struct option opts[] = {
		{ "address", no_argument, NULL, 'a' },
		{ "port", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char who[IDENTITY_STR_MAX], purpose[IDENTITY_PURPOSE_MAX + 2], req[IDENTITY_STR_MAX + 64];
	bool json = false, v6 = false, addr_only = false, port_only = false;
	struct ctlclient_facts f;
	const char *addr;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "46apjh", opts, NULL)) != -1) {
		switch (c) {
		case '4':
			v6 = false;
			break;
		case '6':
			v6 = true;
			break;
		case 'a':
			addr_only = true;
			break;
		case 'p':
			port_only = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind + 1 != argc)
		return rdv_usage(help, "%s", "resolve takes one USER@DOMAIN/PURPOSE");
	if (addr_only && port_only)
		return rdv_usage(help, "%s", "--address and --port exclude each other");
	if ((rc = rdv_target(argv[optind], true, who, sizeof(who), purpose, sizeof(purpose), help)))
		return rc;
	snprintf(req, sizeof(req), "resolve %s %s", who, purpose);
	if (ctlclient_ask(req, &f))
		return 1;
	addr = ctlclient_fact(&f, 0, f.n, v6 ? "overlay6" : "overlay4");
	if (json) {
		ctlclient_json_object(&f, 0, f.n, NULL, NULL);
		putchar('\n');
	} else if (addr_only) {
		puts(addr);
	} else if (port_only) {
		puts(ctlclient_fact(&f, 0, f.n, "port"));
	} else {
		printf("%s %s\n", addr, ctlclient_fact(&f, 0, f.n, "port"));
	}
	ctlclient_facts_free(&f);
	return 0;
}
