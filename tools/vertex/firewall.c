// SPDX-License-Identifier: MIT
/*
 * `vertex firewall [--json]`: the firewall's policy as vertexd understands it (docs/firewall.md):
 * the table, the DNAT targets, and per peer its chain, its addresses as we see them, and the
 * rules. Asks the daemon's `firewall` verb (daemon/agent/ctl_policy.h).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "ctlclient.h"
#include "firewall.h"

static const char firewall_help[] =
    "Usage: vertex [-s SOCKET] firewall [--json]\n"
    "\n"
    "Shows the firewall as vertexd applies it in its nftables table (inet vertex): inbound\n"
    "on the overlay interface is dropped unless it answers a connection we opened, or it\n"
    "comes from a peer to a port that peer may reach. For each peer: its chain, its\n"
    "addresses as this agent sees them, and its rules (one per approved purpose and\n"
    "'firewall allow' line, ICMP echo unless 'firewall icmp-echo off').\n"
    "\n"
    "  --json   {\"table\": ..., \"dnat\": [...], \"peers\": [{..., \"rules\": [...]}]}\n";

static void
firewall_print_text(const struct ctlclient_facts *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const char *k = f->v[i].key, *v = f->v[i].value;

		if (!strcmp(k, "peer"))
			printf("peer %s\n", v);
		else if (!strcmp(k, "rule"))
			printf("    %s\n", v);
		else if (!strcmp(k, "table") || !strcmp(k, "dnat"))
			printf("%s %s\n", k, v);
		else
			printf("  %-10s %s\n", k, v);
	}
}

/* Facts [from, to) of one peer: its scalars, then "rules": [...]. */
static void
firewall_json_peer(const struct ctlclient_facts *f, size_t from, size_t to)
{
	bool first = true;

	fputs("{\"identity\":", stdout);
	json_put_string(f->v[from].value, stdout);
	for (size_t i = from + 1; i < to; i++) {
		if (!strcmp(f->v[i].key, "rule"))
			continue;
		putchar(',');
		json_put_string(f->v[i].key, stdout);
		putchar(':');
		json_put_string(f->v[i].value, stdout);
	}
	fputs(",\"rules\":[", stdout);
	for (size_t i = from + 1; i < to; i++) {
		if (strcmp(f->v[i].key, "rule"))
			continue;
		printf("%s", first ? "" : ",");
		json_put_string(f->v[i].value, stdout);
		first = false;
	}
	fputs("]}", stdout);
}

static void
firewall_print_json(const struct ctlclient_facts *f)
{
	size_t head = 0, ndnat = 0, npeers = 0;

	while (head < f->n && strcmp(f->v[head].key, "peer") && strcmp(f->v[head].key, "dnat"))
		head++;
	fputs("{\"firewall\":", stdout);
	ctlclient_json_object(f, 0, head, NULL, NULL);
	fputs(",\"dnat\":[", stdout);
	for (size_t i = head; i < f->n; i++)
		if (!strcmp(f->v[i].key, "dnat")) {
			printf("%s", ndnat++ ? "," : "");
			json_put_string(f->v[i].value, stdout);
		}
	fputs("],\"peers\":[", stdout);
	for (size_t i = head; i < f->n; i++) {
		if (strcmp(f->v[i].key, "peer"))
			continue;
		printf("%s", npeers++ ? "," : "");
		firewall_json_peer(f, i, ctlclient_group_end(f, i, "peer"));
	}
	fputs("]}\n", stdout);
}

int
cmd_firewall(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctlclient_facts f;
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			fputs(firewall_help, stdout);
			return 0;
		} else {
			fputs(firewall_help, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vertex firewall: unexpected argument '%s'\n\n%s", argv[optind],
			firewall_help);
		return 2;
	}
	if (ctlclient_ask("firewall", &f))
		return 1;
	if (json)
		firewall_print_json(&f);
	else
		firewall_print_text(&f);
	ctlclient_facts_free(&f);
	return 0;
}
