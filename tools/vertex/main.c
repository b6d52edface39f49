// SPDX-License-Identifier: MIT
/*
 * vertex: the command-line interface. A table of subcommands {name, fn, help}; each verb parses
 * its own options and prints its own --help. Exit codes: 0 success, 1 failure, 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "rdv.h"
#include "register.h"
#include "ctlclient.h"
#include "firewall.h"
#include "fwd.h"
#include "nc.h"
#include "show.h"
#include "trust.h"

struct vertex_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct vertex_cmd vertex_cmds[] = {
	{ "status", cmd_status, "show the agent: identity, interface, addresses, counters" },
	{ "peers", cmd_peers, "show each peer: addresses, path, approvals, traffic, drops" },
	{ "connect", cmd_connect, "ask USER@DOMAIN/PURPOSE; on approval, print where to reach it" },
	{ "requests", cmd_requests, "show the requests waiting for us, and ours" },
	{ "approve", cmd_approve, "approve a waiting request" },
	{ "deny", cmd_deny, "deny a waiting request" },
	{ "revoke", cmd_revoke, "end approvals with a peer (and its session)" },
	{ "firewall", cmd_firewall, "show the firewall: what each peer may reach here" },
	{ "resolve", cmd_resolve, "print the overlay address and port of an approved purpose" },
	{ "forward", cmd_forward,
	  "forward a loopback port to an approved purpose (add, --remove, --list)" },
	{ "nc", cmd_nc,
	  "connect to an approved purpose by name; copy stdin/stdout (ProxyCommand)" },
	{ "ping", cmd_ping,
	  "ping a peer; say which path answered (direct udp, relay) and the RTT" },
	{ "netcheck", cmd_netcheck, "show the NAT as the home server sees it, and our candidates" },
	{ "register", cmd_register,
	  "enrol with the domain's server: key, certificate request, certificate" },
	{ "ca", cmd_ca, "make a domain CA (ca init) or issue a certificate (ca sign)" },
	{ "key", cmd_key, "make an agent key pair (key new)" },
	{ "cert", cmd_cert, "show a certificate (cert show)" },
	{ "trust", cmd_trust, "list, show, forget or re-pin other domains' CA fingerprints" },
};

static void
vertex_usage(FILE *out)
{
	fputs("Usage: vertex [-s SOCKET] COMMAND [ARGS...]\n"
	      "\n"
	      "Talks to the local Vertex agent (vertexd) and manages keys and certificates.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < sizeof(vertex_cmds) / sizeof(vertex_cmds[0]); i++)
		fprintf(out, "  %-9s %s\n", vertex_cmds[i].name, vertex_cmds[i].help);
	fputs("\n"
	      "Options:\n"
	      "  -s, --socket PATH  vertexd's control socket (default /run/vertex/vertexd.sock)\n"
	      "  -h, --help         show this help; 'vertex COMMAND --help' shows a command's own\n"
	      "\n"
	      "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n",
	      out);
}

int
main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			vertex_usage(stdout);
			return 0;
		}
		if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) && i + 1 < argc) {
			ctlclient_socket_path = argv[i + 1];
			i += 2;
			continue;
		}
		fprintf(stderr, "vertex: unknown option '%s'\n\n", argv[i]);
		vertex_usage(stderr);
		return 2;
	}
	if (i == argc) {
		vertex_usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < sizeof(vertex_cmds) / sizeof(vertex_cmds[0]); c++)
		if (!strcmp(argv[i], vertex_cmds[c].name))
			return vertex_cmds[c].fn(argc - i, argv + i);
	fprintf(stderr, "vertex: unknown command '%s' (see 'vertex --help')\n", argv[i]);
	return 2;
}
