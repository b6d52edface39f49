// SPDX-License-Identifier: MIT
/*
 * discover_probe DOMAIN: runs discover_server() for DOMAIN, as an agent would to find its
 * domain's vertex-server, and prints one line per result in the order to try them:
 *
 *     HOST ADDR PORT PRIORITY WEIGHT        e.g. "vx.a.example.com 198.18.0.10 4801 0 0"
 *
 * On failure it prints the reason to standard error and exits 1 (2 for a usage error). The
 * discovery scenario runs it inside an agent's namespace, whose resolv.conf names the lab's DNS.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "control/discover.h"

static int
discover_probe_print(const struct discover_result *r)
{
	char addr[INET6_ADDRSTRLEN];
	const void *a;

	if (r->addr.ss_family == AF_INET)
		a = &((const struct sockaddr_in *)&r->addr)->sin_addr;
	else if (r->addr.ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)&r->addr)->sin6_addr;
	else
		return -1;
	if (!inet_ntop(r->addr.ss_family, a, addr, sizeof(addr)))
		return -1;
	printf("%s %s %u %u %u\n", r->host, addr, r->port, r->priority, r->weight);
	return 0;
}

int
main(int argc, char **argv)
{
	struct discover_result res[DISCOVER_MAX];
	char why[512];
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: discover_probe DOMAIN\n");
		return 2;
	}
	n = discover_server(argv[1], res, DISCOVER_MAX, why, sizeof(why));
	if (n < 0) {
		fprintf(stderr, "discover_probe: %s\n", why);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		if (discover_probe_print(&res[i]) != 0) {
			fprintf(stderr, "discover_probe: result %d has no printable address\n", i);
			return 1;
		}
	}
	return 0;
}
