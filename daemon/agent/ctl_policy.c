// SPDX-License-Identifier: MIT
/*
 * The `firewall` verb (ctl_policy.h): every peer's policy rebuilt the way wiring_policy.c
 * installs it, so what it shows is what the table holds unless a batch failed (counted).
 */
#include "agent/ctl_policy.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/sockaddr.h"
#include "kernel-iface/nft.h"
#include "peer/peer.h"
#include "policy/policy.h"

/* Each line of the peer's chain as a "rule" fact. */
static void
ctl_policy_rules(const struct policy_peer *pp, FILE *f)
{
	char *text = NULL, *save = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return;
	policy_peer_print(pp, m);
	fclose(m);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (l[0] != '#')
			fprintf(f, "rule %s\n", l);
	free(text);
}

static void
ctl_policy_peer(struct peer *p, void *arg)
{
	void **ctx = arg;
	struct agent *a = ctx[0];
	FILE *f = ctx[1];
	struct policy_peer pp;
	char s4[INET_ADDRSTRLEN], s6[INET6_ADDRSTRLEN];

	if (wiring_policy_build(a, p, &pp)) {
		fprintf(f, "peer %s\nerror cannot read its approvals\n", p->identity);
		return;
	}
	inet_ntop(AF_INET, pp.addr4, s4, sizeof(s4));
	inet_ntop(AF_INET6, pp.addr6, s6, sizeof(s6));
	fprintf(f, "peer %s\nchain peer-%u\naddr4 %s\naddr6 %s\nmode %s\n", pp.identity, pp.index,
		s4, s6,
		pp.outbound_only ? "outbound-only"
		: pp.all         ? "all"
				 : "ports");
	ctl_policy_rules(&pp, f);
}

void
ctl_policy_firewall(struct agent *a, char **arg, FILE *f)
{
	unsigned long batches = 0, failures = 0;
	void *ctx[2] = { a, f };

	(void)arg;
	if (a->nft)
		nft_counts(a->nft, &batches, &failures);
	fprintf(f, "table inet %s\ninterface %s\nicmp_echo %s\nbatches %lu\nfailures %lu\n",
		NFT_TABLE_NAME, a->cfg.interface, a->cfg.firewall.icmp_echo_off ? "off" : "on",
		batches, failures);
	for (size_t i = 0; i < a->cfg.npurposes; i++) {
		const struct purpose *p = &a->cfg.purposes[i];
		char to[SOCKADDR_STR_MAX];

		if (!purpose_has_target(p))
			continue;
		sockaddr_format(&p->target, to, sizeof(to));
		fprintf(f, "dnat %s %s/%u %s\n", p->name, purpose_proto_name(p->proto), p->port,
			to);
	}
	peer_foreach(a->peers, ctl_policy_peer, ctx);
}
