// SPDX-License-Identifier: MIT
/*
 * vertex netcheck: what the agent knows of its NAT and of how it can be reached (the daemon's
 * side: daemon/agent/ctl_direct.c).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctlclient.h"
#include "rdv.h"

int
cmd_netcheck(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] netcheck [--json]\n"
	    "\n"
	    "Shows what the agent learnt of its network from its home server's reflection\n"
	    "(UDP, on the server's port and the next, and from its other address when it has\n"
	    "one: vertex-server run --alt-address): its public address and port as the server\n"
	    "sees them; the NAT's mapping, endpoint-independent (one public port for every\n"
	    "destination: hole punching works) or endpoint-dependent (a new one per\n"
	    "destination port or address, \"symmetric\"); its filtering, open (lets anyone in\n"
	    "to a mapping, or no NAT at all), address-dependent (any port of an address we\n"
	    "sent to), port-dependent (only the address and port we sent to), or, from a\n"
	    "server with one address, address-dependent-or-open (another port got in, another\n"
	    "address could not be tried); the candidates it offers to approved peers (host\n"
	    "and server-reflexive); whether it has a global IPv6 address. \"unknown\" until\n"
	    "the server answered.\n"
	    "Port mapping: which of PCP, NAT-PMP and UPnP IGD the router (the default gateway)\n"
	    "answered, and the mapping it gave our data port: the public address and port, the\n"
	    "protocol, the lifetime in seconds (renewed at half); and the one it gave our TCP\n"
	    "peer port (\"mapped tcp\"), offered as a TCP candidate. \"public tcp\": a port the\n"
	    "router forwards to the peer port by hand (config `public-tcp`), offered on our\n"
	    "public address. TCP candidates are listed with \"/tcp\"; \"simopen\": our NAT's TCP\n"
	    "mapping of the peer port as the server saw it, for a simultaneous open.\n"
	    "Hairpin: yes if a datagram\n"
	    "from the data socket to its own public address came back through the NAT (3 tries,\n"
	    "1 s apart, within 3 s), no if none did, \"no NAT\" if the public address is the\n"
	    "host's own, testing, or untested until the server answered.\n"
	    "Birthday: the extra sockets opened and probes sprayed so far for peers behind (or\n"
	    "in front of) an endpoint-dependent NAT, and how often that found a way.\n"
	    "\n"
	    "  --json   one object, the candidates as a list\n";
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctlclient_facts f;
	bool json = false, first = true;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			fputs(help, stdout);
			return 0;
		} else {
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vertex: unexpected argument '%s'\n\n%s", argv[optind], help);
		return 2;
	}
	if (ctlclient_ask("netcheck", &f))
		return 1;
	if (json) {
		size_t end = 0;

		while (end < f.n && strcmp(f.v[end].key, "candidate"))
			end++;
		/* The facts before the candidates, then the candidates as a list. */
		fputs("{\"nat\":", stdout);
		ctlclient_json_object(&f, 0, end, NULL, NULL);
		fputs(",\"candidates\":[", stdout);
		for (size_t i = end; i < f.n; i++)
			if (!strcmp(f.v[i].key, "candidate")) {
				printf("%s\"%s\"", first ? "" : ",", f.v[i].value);
				first = false;
			}
		printf("],\"ipv6\":\"%s\"}\n", ctlclient_fact(&f, 0, f.n, "ipv6"));
	} else {
		printf("server          %s (other address: %s)\n",
		       ctlclient_fact(&f, 0, f.n, "server"),
		       ctlclient_fact(&f, 0, f.n, "server_alt"));
		printf("public address  %s (as the server's other port saw it: %s; its other "
		       "address: %s)\n",
		       ctlclient_fact(&f, 0, f.n, "reflexive"),
		       ctlclient_fact(&f, 0, f.n, "reflexive_other"),
		       ctlclient_fact(&f, 0, f.n, "reflexive_alt"));
		printf("mapping         %s\n", ctlclient_fact(&f, 0, f.n, "mapping"));
		printf("filtering       %s\n", ctlclient_fact(&f, 0, f.n, "filtering"));
		printf("hairpin         %s\n", ctlclient_fact(&f, 0, f.n, "hairpin"));
		printf("port mapping    %s (gateway %s)\n",
		       ctlclient_fact(&f, 0, f.n, "port_mapping"),
		       ctlclient_fact(&f, 0, f.n, "port_mapping_gateway"));
		if (strcmp(ctlclient_fact(&f, 0, f.n, "port_mapping_protocol"), "-"))
			printf("mapped          %s by %s for %s s\n",
			       ctlclient_fact(&f, 0, f.n, "port_mapping_external"),
			       ctlclient_fact(&f, 0, f.n, "port_mapping_protocol"),
			       ctlclient_fact(&f, 0, f.n, "port_mapping_lifetime"));
		if (strcmp(ctlclient_fact(&f, 0, f.n, "port_mapping_tcp_protocol"), "-"))
			printf("mapped tcp      %s by %s for %s s\n",
			       ctlclient_fact(&f, 0, f.n, "port_mapping_tcp_external"),
			       ctlclient_fact(&f, 0, f.n, "port_mapping_tcp_protocol"),
			       ctlclient_fact(&f, 0, f.n, "port_mapping_tcp_lifetime"));
		if (strcmp(ctlclient_fact(&f, 0, f.n, "public_tcp"), "-"))
			printf("public tcp      port %s (forwarded by the router, config)\n",
			       ctlclient_fact(&f, 0, f.n, "public_tcp"));
		printf("ipv6            %s\n", ctlclient_fact(&f, 0, f.n, "ipv6"));
		printf("birthday        %s sockets opened, %s probes sent, %s found a way\n",
		       ctlclient_fact(&f, 0, f.n, "birthday_sockets"),
		       ctlclient_fact(&f, 0, f.n, "birthday_probes"),
		       ctlclient_fact(&f, 0, f.n, "birthday_hits"));
		for (size_t i = 0; i < f.n; i++)
			if (!strcmp(f.v[i].key, "candidate"))
				printf("candidate       %s\n", f.v[i].value);
	}
	ctlclient_facts_free(&f);
	return 0;
}
