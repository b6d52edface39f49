// SPDX-License-Identifier: MIT
/*
 * The control socket's `netcheck` verb: what reflection told of our NAT, and our candidates, as
 * facts (direct/direct.h; the CLI presents them).
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "agent/agent.h"
#include "agent/ctl_rdv.h"
#include "core/ev.h"
#include "core/sockaddr.h"
#include "direct/direct.h"
#include "direct/hairpin.h"
#include "direct/portmap.h"
#include "path/path.h"
#include "peer/peer.h"

static const char *
ctl_cand_kind(uint8_t kind)
{
	return kind == CTL_CAND_HOST      ? "host"
	       : kind == CTL_CAND_SRFLX   ? "srflx"
	       : kind == CTL_CAND_SIMOPEN ? "simopen"
					  : "mapped";
}

/*
 * The peer's candidates (its last offer) and what became of each: `works` (frames come and go
 * there now), `probing` (a round is running), `failed` (it worked, its probes went unanswered),
 * `no-answer`; and `prflx` for an endpoint that no candidate named (where the peer's frames
 * came from: a mapping its NAT made toward us).
 */
void
ctl_direct_peer_facts(struct agent *a, const struct peer *p, FILE *f)
{
	struct direct_cand c[CTL_CANDIDATES_MAX];
	const struct path_set *ps = &p->paths;
	bool probing, udp = p->state == PEER_UP &&
			    path_set_udp_is_alive(ps, ev_now_ms(a->loop), peer_dead_after_ms(p));
	bool named = false;
	char addr[SOCKADDR_STR_MAX];
	size_t n;

	if (!a->direct)
		return;
	n = direct_candidates(a->direct, p->identity, c, CTL_CANDIDATES_MAX, &probing);
	for (size_t i = 0; i < n; i++) {
		bool here = ps->endpoint.ss_family && sockaddr_same(&c[i].addr, &ps->endpoint);

		sockaddr_show(&c[i].addr, addr, sizeof(addr));
		if (c[i].proto == 6) { /* a TCP candidate: dialed when UDP found no way */
			bool linked = ps->stream && !ps->stream_relayed;

			fprintf(f, "candidate %s %s/tcp %s\n", ctl_cand_kind(c[i].kind), addr,
				!c[i].dialed ? "offered"
				: linked     ? "dialed (a direct link is up)"
					     : "dialed");
			continue;
		}
		named |= here;
		fprintf(f, "candidate %s %s %s\n", ctl_cand_kind(c[i].kind), addr,
			here && udp             ? "works"
			: probing               ? "probing"
			: here && ps->failed_ms ? "failed"
						: "no-answer");
	}
	if (udp && !named) {
		sockaddr_show(&ps->endpoint, addr, sizeof(addr));
		fprintf(f, "candidate prflx %s works\n", addr);
	}
	direct_birthday_state(a->direct, p->identity, addr, sizeof(addr));
	if (addr[0])
		fprintf(f, "birthday %s\n", addr);
}

/*
 * The router port mapping: which protocols answered (port_mapping: "pcp nat-pmp upnp", "none",
 * "asking" while the first round runs, "off"), and the mapping (protocol, address, lifetime).
 */
static void
ctl_direct_portmap(struct agent *a, FILE *f)
{
	struct portmap_info pm;
	char addr[INET_ADDRSTRLEN];

	if (!direct_portmap_info(a->direct, &pm)) {
		fputs("port_mapping off\n", f);
		return;
	}
	fputs("port_mapping", f);
	for (unsigned b = PORTMAP_PCP; b <= PORTMAP_UPNP; b <<= 1)
		if (pm.answered & b)
			fprintf(f, " %s", portmap_proto_name(b));
	fputs(pm.answered ? "\n" : pm.asking ? " asking\n" : " none\n", f);
	inet_ntop(AF_INET, &pm.gateway, addr, sizeof(addr));
	fprintf(f, "port_mapping_gateway %s\n", pm.gateway.s_addr ? addr : "-");
	if (!pm.proto) {
		fputs("port_mapping_protocol -\nport_mapping_external -\nport_mapping_lifetime -\n",
		      f);
		return;
	}
	inet_ntop(AF_INET, &pm.external.sin_addr, addr, sizeof(addr));
	fprintf(f, "port_mapping_protocol %s\nport_mapping_external %s:%u\n",
		portmap_proto_name(pm.proto), addr, ntohs(pm.external.sin_port));
	fprintf(f, "port_mapping_lifetime %u\n", pm.lifetime);
}

/* The TCP mapping of the peer port (its own round: the same protocols, asked apart). */
static void
ctl_direct_portmap_tcp(struct agent *a, FILE *f)
{
	struct portmap_info pm;
	char addr[INET_ADDRSTRLEN];

	if (!direct_portmap_tcp_info(a->direct, &pm) || !pm.proto) {
		fputs("port_mapping_tcp_protocol -\nport_mapping_tcp_external -\n"
		      "port_mapping_tcp_lifetime -\n",
		      f);
		return;
	}
	inet_ntop(AF_INET, &pm.external.sin_addr, addr, sizeof(addr));
	fprintf(f, "port_mapping_tcp_protocol %s\nport_mapping_tcp_external %s:%u\n",
		portmap_proto_name(pm.proto), addr, ntohs(pm.external.sin_port));
	fprintf(f, "port_mapping_tcp_lifetime %u\n", pm.lifetime);
}

void
ctl_direct_netcheck(struct agent *a, char **arg, FILE *f)
{
	struct ctl_candidate cand[CTL_CANDIDATES_MAX];
	struct direct_nat nat;
	char buf[SOCKADDR_STR_MAX];
	bool v6 = false;
	size_t n;

	(void)arg;
	if (!a->direct) {
		fputs("error netcheck needs a home server (`server` in the config)\n", f);
		return;
	}
	direct_nat(a->direct, &nat);
	sockaddr_show(&nat.server, buf, sizeof(buf));
	fprintf(f, "server %s\n", nat.server.ss_family ? buf : "-");
	sockaddr_show(&nat.reflexive, buf, sizeof(buf));
	fprintf(f, "reflexive %s\n", nat.answered ? buf : "-");
	sockaddr_show(&nat.reflexive_other, buf, sizeof(buf));
	fprintf(f, "reflexive_other %s\n", nat.reflexive_other.ss_family ? buf : "-");
	/* The server's other address (reflection's tests by address), and our mapping there. */
	sockaddr_show(&nat.server_alt, buf, sizeof(buf));
	fprintf(f, "server_alt %s\n", nat.server_alt.ss_family ? buf : "-");
	sockaddr_show(&nat.reflexive_alt, buf, sizeof(buf));
	fprintf(f, "reflexive_alt %s\n", nat.reflexive_alt.ss_family ? buf : "-");
	fprintf(f, "mapping %s\nfiltering %s\n", natclass_mapping_name(nat.mapping),
		natclass_filtering_name(nat.filtering));
	/* The hairpin test (direct/hairpin.h): its result, probes sent, and other datagrams of
	 * its type dropped. */
	fprintf(f, "hairpin %s\nhairpin_sent %llu\nhairpin_dropped %llu\n",
		hairpin_result_name(direct_hairpin(a->direct)->result),
		(unsigned long long)direct_hairpin(a->direct)->sent,
		(unsigned long long)direct_hairpin(a->direct)->bad);
	ctl_direct_portmap(a, f);
	ctl_direct_portmap_tcp(a, f);
	if (a->cfg.public_tcp)
		fprintf(f, "public_tcp %u\n", a->cfg.public_tcp);
	else
		fputs("public_tcp -\n", f);
	/* The birthday technique so far (direct/birthday.h): before the candidates (JSON: "nat").
	 */
	fprintf(f, "birthday_sockets %llu\nbirthday_probes %llu\nbirthday_hits %llu\n",
		(unsigned long long)direct_stats(a->direct)->bd_sockets,
		(unsigned long long)direct_stats(a->direct)->bd_probes,
		(unsigned long long)direct_stats(a->direct)->bd_hits);
	n = direct_gather(a->direct, cand, CTL_CANDIDATES_MAX);
	for (size_t i = 0; i < n; i++) {
		char addr[INET6_ADDRSTRLEN];

		inet_ntop(cand[i].family == 4 ? AF_INET : AF_INET6, cand[i].addr, addr,
			  sizeof(addr));
		v6 |= cand[i].family == 6 && cand[i].kind == CTL_CAND_HOST;
		fprintf(f, "candidate %s %s%s%s:%u%s\n", ctl_cand_kind(cand[i].kind),
			cand[i].family == 6 ? "[" : "", addr, cand[i].family == 6 ? "]" : "",
			cand[i].port, cand[i].proto == 6 ? "/tcp" : "");
	}
	fprintf(f, "ipv6 %s\n", v6 ? "yes" : "no");
}
