// SPDX-License-Identifier: MIT
/*
 * status and peers: ask vertexd (ctlclient.h: the request, the bounded read, the KEY VALUE
 * facts and their JSON form), then present. The renderers below turn the facts into text; in
 * JSON "drop." keys are grouped into a "drops" object and a peer's "peer" key is "identity".
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctlclient.h"
#include "show.h"

/* --- text --- */

static void
text_drops(const struct ctlclient_facts *f, size_t from, size_t to, const char *indent)
{
	bool first = true;

	printf("%sdrops           ", indent);
	for (size_t i = from; i < to; i++) {
		if (strncmp(f->v[i].key, "drop.", 5))
			continue;
		printf("%s%s %s", first ? "" : ", ", f->v[i].key + 5, f->v[i].value);
		first = false;
	}
	putchar('\n');
}

static void
text_bytes(const char *v, char *buf, size_t len)
{
	double b = strtod(v, NULL);
	const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", b, unit[u]);
}

static void
text_status(const struct ctlclient_facts *f)
{
	size_t n = f->n;

	const char *mode = ctlclient_fact(f, 0, n, "mode");

	printf("identity        %s\n", ctlclient_fact(f, 0, n, "identity"));
	if (!strcmp(mode, "userspace"))
		printf("mode            userspace (lwIP inside vertexd; no TUN device, mtu %s)\n",
		       ctlclient_fact(f, 0, n, "mtu"));
	else
		printf("mode            tun\ninterface       %s (mtu %s)\n",
		       ctlclient_fact(f, 0, n, "interface"), ctlclient_fact(f, 0, n, "mtu"));
	printf("overlay         %s  %s\n", ctlclient_fact(f, 0, n, "overlay4"),
	       ctlclient_fact(f, 0, n, "overlay6"));
	printf("port            %s (udp and tcp)\n", ctlclient_fact(f, 0, n, "port"));
	printf("peers           %s (%s up)\n", ctlclient_fact(f, 0, n, "peers"),
	       ctlclient_fact(f, 0, n, "peers_up"));
	if (strcmp(ctlclient_fact(f, 0, n, "socks"), "?"))
		printf("socks           %s (%s clients, %s connected, %s refused)\n",
		       ctlclient_fact(f, 0, n, "socks"), ctlclient_fact(f, 0, n, "socks_clients"),
		       ctlclient_fact(f, 0, n, "socks_connects"),
		       ctlclient_fact(f, 0, n, "socks_refused"));
	printf("forwards        %s (%s connected, %s refused; vertex forward --list)\n",
	       ctlclient_fact(f, 0, n, "forwards"), ctlclient_fact(f, 0, n, "forward_connects"),
	       ctlclient_fact(f, 0, n, "forward_refused"));
	if (!strcmp(mode, "userspace"))
		printf("userspace       %s connections, %s proxied to local targets, %s refused\n",
		       ctlclient_fact(f, 0, n, "netstack_conns"),
		       ctlclient_fact(f, 0, n, "proxied"),
		       ctlclient_fact(f, 0, n, "userspace_refused_unapproved"));
	text_drops(f, 0, n, "");
}

static void
text_peer(const struct ctlclient_facts *f, size_t from, size_t to)
{
	long long hs = strtoll(ctlclient_fact(f, from, to, "last_handshake"), NULL, 10);
	char rx[32], tx[32];

	text_bytes(ctlclient_fact(f, from, to, "rx_bytes"), rx, sizeof(rx));
	text_bytes(ctlclient_fact(f, from, to, "tx_bytes"), tx, sizeof(tx));
	const char *path = ctlclient_fact(f, from, to, "path");

	if (!strcmp(path, "relay"))
		printf("peer %s  %s (path relay via %s%s)\n", ctlclient_fact(f, from, to, "peer"),
		       ctlclient_fact(f, from, to, "state"), ctlclient_fact(f, from, to, "via"),
		       strcmp(ctlclient_fact(f, from, to, "relay_transport"), "udp")
			   ? ""
			   : ", udp to our server");
	else if (!strcmp(path, "tcp"))
		printf("peer %s  %s (path tcp to %s)\n", ctlclient_fact(f, from, to, "peer"),
		       ctlclient_fact(f, from, to, "state"),
		       ctlclient_fact(f, from, to, "tcp_endpoint"));
	else
		printf("peer %s  %s (path %s)\n", ctlclient_fact(f, from, to, "peer"),
		       ctlclient_fact(f, from, to, "state"), path);
	printf("  approved        to us: %s; by them: %s\n",
	       ctlclient_fact(f, from, to, "approved_in"),
	       ctlclient_fact(f, from, to, "approved_out"));
	printf("  overlay         %s  %s\n", ctlclient_fact(f, from, to, "overlay4"),
	       ctlclient_fact(f, from, to, "overlay6"));
	printf("  endpoint        %s\n", ctlclient_fact(f, from, to, "endpoint"));
	for (size_t i = from; i < to; i++)
		if (!strcmp(f->v[i].key, "candidate"))
			printf("  candidate       %s\n", f->v[i].value);
	if (strcmp(ctlclient_fact(f, from, to, "birthday"), "?"))
		printf("  birthday        %s\n", ctlclient_fact(f, from, to, "birthday"));
	if (strcmp(ctlclient_fact(f, from, to, "udp_probes"), "0"))
		printf("  udp probes      %s sent, %s answered, rtt %s ms (last %s), %s "
		       "failover(s)%s\n",
		       ctlclient_fact(f, from, to, "udp_probes"),
		       ctlclient_fact(f, from, to, "udp_probes_answered"),
		       ctlclient_fact(f, from, to, "udp_rtt_ms"),
		       ctlclient_fact(f, from, to, "udp_rtt_last_ms"),
		       ctlclient_fact(f, from, to, "udp_failovers"),
		       strcmp(ctlclient_fact(f, from, to, "udp_failed"), "yes") ? ""
										: "; failed now");
	for (size_t i = from; i < to; i++)
		if (!strcmp(f->v[i].key, "udp_endpoint"))
			printf("  udp endpoint    %s\n", f->v[i].value);
	if (strtoull(ctlclient_fact(f, from, to, "udp_switches"), NULL, 10) ||
	    strtoull(ctlclient_fact(f, from, to, "udp_alt_failovers"), NULL, 10))
		printf("  udp switches    %s by rtt, %s failover(s) to another endpoint\n",
		       ctlclient_fact(f, from, to, "udp_switches"),
		       ctlclient_fact(f, from, to, "udp_alt_failovers"));
	if (hs)
		printf("  last handshake  %lld s ago (%s in all), frames %s\n",
		       (long long)time(NULL) - hs, ctlclient_fact(f, from, to, "handshakes"),
		       ctlclient_fact(f, from, to, "cipher"));
	else
		printf("  last handshake  never\n");
	printf("  transfer        %s received, %s sent (%s / %s packets)\n", rx, tx,
	       ctlclient_fact(f, from, to, "rx_packets"),
	       ctlclient_fact(f, from, to, "tx_packets"));
	text_drops(f, from, to, "  ");
}

/* --- verbs --- */

static int
show_options(int argc, char **argv, const char *help, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c == 'j') {
			*json = true;
		} else if (c == 'h') {
			fputs(help, stdout);
			return 0;
		} else {
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vertex: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1;
}

int
cmd_status(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] status [--json]\n"
	    "\n"
	    "Shows the agent: its identity, its mode (tun: the overlay interface and its\n"
	    "MTU; userspace: lwIP inside vertexd, no interface), its own overlay\n"
	    "addresses, the underlay port, how many peers are configured and up, and the\n"
	    "packets it dropped before finding a peer, by reason (unknown_receiver: a frame\n"
	    "for no session; malformed: a bad frame header; no_buffer: packet pool exhausted;\n"
	    "no_route: a packet on the interface for an address no peer has; link_refused:\n"
	    "an incoming connection on the peer port closed at once, too many in progress),\n"
	    "the SOCKS5 server and the port forwards, and in userspace mode the stack's\n"
	    "connections and the packets the policy dropped (policy_drop.*, in --json).\n"
	    "\n"
	    "  --json   one JSON object, for scripts\n";
	struct ctlclient_facts f;
	bool json = false;
	int rc = show_options(argc, argv, help, &json);

	if (rc >= 0)
		return rc;
	if (ctlclient_ask("status", &f))
		return 1;
	if (json) {
		ctlclient_json_object(&f, 0, f.n, "peer", "identity");
		putchar('\n');
	} else {
		text_status(&f);
	}
	ctlclient_facts_free(&f);
	return 0;
}

int
cmd_peers(int argc, char **argv)
{
	static const char help[] =
	    "Usage: vertex [-s SOCKET] peers [--json]\n"
	    "\n"
	    "Shows every peer, configured or met by rendezvous: the overlay addresses this\n"
	    "agent gave it, the underlay endpoint its frames come from, the session state (up,\n"
	    "connecting, down) and path (udp; tcp when UDP does not get through; relay via\n"
	    "the servers for a peer met by rendezvous), the purposes approved each way\n"
	    "(to us: what it may reach here; by them: what we may reach there), the last\n"
	    "handshake, bytes and packets each way, and frames dropped, by reason (replay: a\n"
	    "counter seen before; auth: failed authentication; bad_source: an inner source\n"
	    "address that is not the peer's; malformed: an inner packet that is not valid IP;\n"
	    "no_session: a packet for the peer while no session or path was up (the relay\n"
	    "over its bound counts here too); rate_limited: a notary question\n"
	    "beyond the peer's rate).\n"
	    "\n"
	    "  --json   {\"peers\": [ ... ]}, for scripts\n";
	struct ctlclient_facts f;
	bool json = false, first = true;
	int rc = show_options(argc, argv, help, &json);

	if (rc >= 0)
		return rc;
	if (ctlclient_ask("peers", &f))
		return 1;
	if (json)
		fputs("{\"peers\":[", stdout);
	for (size_t i = 0; i < f.n;) {
		size_t end = ctlclient_group_end(&f, i, "peer");

		if (json) {
			printf("%s", first ? "" : ",");
			ctlclient_json_object(&f, i, end, "peer", "identity");
		} else {
			printf("%s", first ? "" : "\n");
			text_peer(&f, i, end);
		}
		first = false;
		i = end;
	}
	if (json)
		fputs("]}\n", stdout);
	else if (first)
		puts("no peers configured");
	ctlclient_facts_free(&f);
	return 0;
}
