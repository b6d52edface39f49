// SPDX-License-Identifier: MIT
/*
 * Candidates, offers and probing rounds (direct.h). One timer drives the reflection requests
 * (direct_reflect.c), the hairpin test, the birthday technique and the probes; the rounds are a
 * small array (DIRECT_PEERS_MAX).
 */
#include "direct/direct.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/sockaddr.h"
#include "crypto/aead.h"
#include "direct/direct_int.h"
#include "direct/portmap.h"
#include "proto/hairpin.h"
#include "proto/reflect.h"

enum { DIRECT_TICK_MS = 250 };

static void direct_on_timer(struct ev_timer *t);
static struct direct_round *direct_round_find(struct direct *d, const char *peer);

void
direct_arm(struct direct *d)
{
	if (!ev_timer_is_armed(&d->timer) && (d->server.ss_family || d->nrounds))
		ev_timer_start(d->loop, &d->timer, DIRECT_TICK_MS, direct_on_timer);
}

/* --- our candidates ------------------------------------------------------------------------ */

static bool
direct_host_usable(const struct direct *d, const struct ifaddrs *ifa)
{
	const struct sockaddr *sa = ifa->ifa_addr;

	if (!sa || !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK) ||
	    !strcmp(ifa->ifa_name, d->overlay))
		return false;
	if (sa->sa_family == AF_INET) {
		const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;

		return !(a[0] == 169 && a[1] == 254) && a[0] != 127;
	}
	if (sa->sa_family == AF_INET6 && d->family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
		       !IN6_IS_ADDR_V4MAPPED(a);
	}
	return false;
}

static bool
direct_cand_from(struct ctl_candidate *c, uint8_t kind, const struct sockaddr_storage *ss,
		 uint16_t port_be, uint32_t priority)
{
	struct sockaddr_storage u;

	sockaddr_unmap(ss, &u);
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->proto = 17;
	c->priority = priority;
	if (u.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&u;

		c->family = 4;
		memcpy(c->addr, &s4->sin_addr, 4);
		c->port = ntohs(port_be ? port_be : s4->sin_port);
		return true;
	}
	if (u.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&u;

		c->family = 6;
		memcpy(c->addr, &s6->sin6_addr, 16);
		c->port = ntohs(port_be ? port_be : s6->sin6_port);
		return true;
	}
	return false;
}

static bool
direct_cand_equal(const struct ctl_candidate *a, const struct ctl_candidate *b)
{
	return a->family == b->family && a->port == b->port && a->proto == b->proto &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* out[n] made from ss (the port port_be if not 0) unless it repeats one of out[0..n): returns
 * the new count. */
static size_t
direct_cand_add_proto(struct ctl_candidate *out, size_t n, uint8_t kind, uint8_t proto,
		      const struct sockaddr_storage *ss, uint16_t port_be, uint32_t priority)
{
	if (!direct_cand_from(&out[n], kind, ss, port_be, priority))
		return n;
	out[n].proto = proto;
	for (size_t i = 0; i < n; i++)
		if (direct_cand_equal(&out[i], &out[n]))
			return n;
	return n + 1;
}

/* out[n] made from ss unless it repeats one of out[0..n): returns the new count. */
static size_t
direct_cand_add(struct ctl_candidate *out, size_t n, uint8_t kind,
		const struct sockaddr_storage *ss, uint32_t priority)
{
	if (!direct_cand_from(&out[n], kind, ss, 0, priority))
		return n;
	for (size_t i = 0; i < n; i++)
		if (direct_cand_equal(&out[i], &out[n]))
			return n;
	return n + 1;
}

/* Our host candidates into out (at most max); how many. */
static size_t
direct_gather_host(const struct direct *d, struct ctl_candidate *out, size_t max)
{
	struct ifaddrs *ifs = NULL;
	size_t n = 0, nhost = 0;

	if (getifaddrs(&ifs) == 0) {
		for (const struct ifaddrs *i = ifs; i && n < max && nhost < DIRECT_HOST_MAX;
		     i = i->ifa_next) {
			struct sockaddr_storage ss = { 0 };

			if (!direct_host_usable(d, i))
				continue;
			memcpy(&ss, i->ifa_addr,
			       i->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
								 : sizeof(struct sockaddr_in6));
			if (direct_cand_from(&out[n], CTL_CAND_HOST, &ss, htons(d->port), 200)) {
				n++;
				nhost++;
			}
		}
		freeifaddrs(ifs);
	}
	return n;
}

/*
 * Our public IPv4 address for a forwarded TCP port: the server-reflexive one, else what a
 * router mapping says (its UDP one, then its TCP one: UDP may be blocked); family 0: unknown.
 */
static void
direct_public_v4(const struct direct *d, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (d->reflexive.ss_family) {
		sockaddr_unmap(&d->reflexive, out);
		if (out->ss_family == AF_INET)
			return;
		memset(out, 0, sizeof(*out));
	}
	if (d->portmap && portmap_external(d->portmap)->sin_family)
		memcpy(out, portmap_external(d->portmap), sizeof(struct sockaddr_in));
	else if (d->portmap_tcp && portmap_external(d->portmap_tcp)->sin_family)
		memcpy(out, portmap_external(d->portmap_tcp), sizeof(struct sockaddr_in));
}

size_t
direct_gather(const struct direct *d, struct ctl_candidate *out, size_t max)
{
	size_t n = direct_gather_host(d, out, max);

	/* Before the reflexive one: when both are the same, the mapping is what makes it work. */
	if (d->portmap && portmap_external(d->portmap)->sin_family && n < max) {
		struct sockaddr_storage ss = { 0 };

		memcpy(&ss, portmap_external(d->portmap), sizeof(struct sockaddr_in));
		n = direct_cand_add(out, n, CTL_CAND_MAPPED, &ss, 150);
	}
	if (d->reflexive.ss_family && n < max)
		n = direct_cand_add(out, n, CTL_CAND_SRFLX, &d->reflexive, 100);
	/* The router's TCP mapping of the peer port, and a port it forwards to it (config). */
	if (d->portmap_tcp && portmap_external(d->portmap_tcp)->sin_family && n < max) {
		struct sockaddr_storage ss = { 0 };

		memcpy(&ss, portmap_external(d->portmap_tcp), sizeof(struct sockaddr_in));
		n = direct_cand_add_proto(out, n, CTL_CAND_MAPPED, 6, &ss, 0, 90);
	}
	if (d->public_tcp && n < max) {
		struct sockaddr_storage pub;

		direct_public_v4(d, &pub);
		if (pub.ss_family)
			n = direct_cand_add_proto(out, n, CTL_CAND_SRFLX, 6, &pub,
						  htons(d->public_tcp), 80);
	}
	/* Our NAT's TCP mapping of the peer port, for a simultaneous open (direct_tcp.c). */
	n = direct_so_gather(d, out, n, max);
	/* The peer port takes TCP too: each host address again, as a TCP candidate, if room. */
	for (size_t i = 0, nudp = n; i < nudp && n < max; i++)
		if (out[i].kind == CTL_CAND_HOST) {
			out[n] = out[i];
			out[n].proto = 6;
			out[n].priority = 50;
			n++;
		}
	return n;
}

_Static_assert((int)DIRECT_MAPPING_DEPENDENT == (int)CTL_NAT_MAPPING_MAX &&
		   (int)DIRECT_FILTERING_NOT_PORT == (int)CTL_NAT_FILTERING_MAX,
	       "a NAT class the offer's decoder refuses");

/* What an offer carries: our candidates and, once reflection says it, our NAT's class. */
static size_t
direct_offer_cands(const struct direct *d, struct ctl_candidate *out)
{
	size_t n = direct_gather(d, out, CTL_CANDIDATES_MAX);

	/* What we know of our NAT, for the peer to weigh the birthday technique (birthday.h). */
	if ((d->mapping || d->filtering) && d->reflexive.ss_family && n < CTL_CANDIDATES_MAX) {
		struct ctl_candidate *c = &out[n];
		const struct sockaddr_storage *other =
		    d->ask[NATQ_PORT].answered ? &d->ask[NATQ_PORT].seen : &d->reflexive;

		if (direct_cand_from(c, CTL_CAND_NAT, other, 0,
				     (uint32_t)d->mapping | (uint32_t)d->filtering << 8)) {
			if (!d->ask[NATQ_PORT].answered)
				c->port = 0;
			n++;
		}
	}
	return n;
}

void
direct_offer(struct direct *d, const char *peer)
{
	struct ctlmsg m = { .type = CTL_OFFER };

	if (strlen(peer) > CTL_STR_MAX)
		return;
	snprintf(m.u.offer.from, sizeof(m.u.offer.from), "%s", d->self);
	snprintf(m.u.offer.to, sizeof(m.u.offer.to), "%s", peer);
	m.u.offer.generation = (uint32_t)(ev_now_ms(d->loop) / 1000);
	m.u.offer.count = (uint8_t)direct_offer_cands(d, m.u.offer.cand);
	if (d->ops.send_offer(d->arg, &m)) {
		struct direct_round *r = direct_round_find(d, peer);

		if (r)
			r->offered_ms = ev_now_ms(d->loop);
		d->stats.offers_sent++;
		log_debug(LOG_PATH, "direct: offered %s %u candidate(s)", peer, m.u.offer.count);
	}
}

/* --- host changes ------------------------------------------------------------------------- */

/* Are a and b (na and nb long) the same candidates, in any order? */
static bool
direct_cands_same(const struct ctl_candidate *a, size_t na, const struct ctl_candidate *b,
		  size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		bool found = false;

		for (size_t k = 0; k < nb && !found; k++)
			found = direct_cand_equal(&a[i], &b[k]);
		if (!found)
			return false;
	}
	return true;
}

void
direct_host_changed(struct direct *d)
{
	struct ctl_candidate now[DIRECT_HOST_MAX];
	size_t n = direct_gather_host(d, now, DIRECT_HOST_MAX);

	if (direct_cands_same(now, n, d->host, d->nhost)) {
		log_debug(LOG_PATH, "direct: the host changed, but not our %zu host candidate(s)",
			  n);
		return;
	}
	log_info("direct: our host addresses changed (%zu host candidate(s), were %zu): "
		 "asking the server again and offering them anew",
		 n, d->nhost);
	memcpy(d->host, now, sizeof(now[0]) * n);
	d->nhost = n;
	direct_reflect_now(d);
	if (d->ops.on_reflexive)
		d->ops.on_reflexive(d->arg);
}

bool
direct_portmap_info(const struct direct *d, struct portmap_info *out)
{
	if (!d->portmap)
		return false;
	portmap_info(d->portmap, out);
	return true;
}

bool
direct_portmap_tcp_info(const struct direct *d, struct portmap_info *out)
{
	if (!d->portmap_tcp)
		return false;
	portmap_info(d->portmap_tcp, out);
	return true;
}

const struct sockaddr_storage *
direct_reflexive(const struct direct *d)
{
	return &d->reflexive;
}

/* --- probing rounds ------------------------------------------------------------------------ */

static struct direct_round *
direct_round_find(struct direct *d, const char *peer)
{
	for (size_t i = 0; i < d->nrounds; i++)
		if (!strcmp(d->rounds[i].peer, peer))
			return &d->rounds[i];
	return NULL;
}

bool
direct_cand_to_sockaddr(const struct ctl_candidate *c, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if ((c->proto != 17 && c->proto != 6) || c->port == 0 ||
	    (c->kind != CTL_CAND_HOST && c->kind != CTL_CAND_SRFLX && c->kind != CTL_CAND_MAPPED))
		return false; /* kinds we do not know yet are ignored */
	if (c->family == 4) {
		struct sockaddr_in *s4 = (void *)ss;

		/* No probe to where no peer can be: this host, nowhere, multicast, broadcast. */
		if (c->addr[0] == 0 || c->addr[0] == 127 || c->addr[0] >= 224)
			return false;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(c->port);
		memcpy(&s4->sin_addr, c->addr, 4);
		return true;
	}
	if (c->family == 6) {
		struct sockaddr_in6 *s6 = (void *)ss;
		struct in6_addr a;

		memcpy(&a, c->addr, sizeof(a)); /* c->addr is bytes: no alignment to lean on */
		if (IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a) ||
		    IN6_IS_ADDR_MULTICAST(&a) || IN6_IS_ADDR_V4MAPPED(&a))
			return false;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(c->port);
		memcpy(&s6->sin6_addr, c->addr, 16);
		return true;
	}
	return false;
}

/* --- direct TCP: who dials, and when (direct.h direct_tcp_plan) ---------------------------- */

/*
 * Is c (a TCP candidate) on the public address its side's server saw: that of a UDP srflx
 * candidate, or of the NAT class (kind 4: it names the reflexive address; a host whose
 * reflexive address is its own offers no srflx, which would repeat the host candidate), or of
 * what its server saw of its TCP connection (kind 5: a public host whose UDP is blocked has no
 * reflexive address, but the server saw its own address)?
 */
static bool
direct_tcp_on_srflx(const struct ctl_candidate *c, const struct ctl_candidate *all, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((all[i].kind == CTL_CAND_SRFLX && all[i].proto == 17) ||
		     all[i].kind == CTL_CAND_NAT || all[i].kind == CTL_CAND_SIMOPEN) &&
		    all[i].family == c->family && !memcmp(all[i].addr, c->addr, sizeof(c->addr)))
			return true;
	return false;
}

int
direct_tcp_order(const struct ctl_candidate *c, const struct ctl_candidate *all, size_t n)
{
	if (c->kind == CTL_CAND_MAPPED)
		return 0;
	if (c->kind == CTL_CAND_SRFLX)
		return 1;
	return direct_tcp_on_srflx(c, all, n) ? 2 : 3;
}

int
direct_tcp_rank(const struct ctl_candidate *c, size_t n)
{
	int rank = 0;

	for (size_t i = 0; i < n; i++) {
		if (c[i].proto != 6 || (c[i].kind != CTL_CAND_HOST && c[i].kind != CTL_CAND_SRFLX &&
					c[i].kind != CTL_CAND_MAPPED))
			continue;
		if (direct_tcp_order(&c[i], c, n) <= 2)
			return 2;
		rank = 1;
	}
	return rank;
}

/*
 * No UDP candidate that a server or a router vouches for, and no NAT class (which only a
 * server's answer gives): that side's UDP never reached its server: blocked.
 */
static bool
direct_udp_blocked(const struct ctl_candidate *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((c[i].proto == 17 &&
		     (c[i].kind == CTL_CAND_SRFLX || c[i].kind == CTL_CAND_MAPPED)) ||
		    c[i].kind == CTL_CAND_NAT)
			return false;
	return true;
}

void
direct_tcp_plan(const char *self, const struct ctl_candidate *ours, size_t nours, const char *peer,
		const struct ctl_candidate *theirs, size_t ntheirs, struct direct_tcp_plan *out)
{
	out->ours = direct_tcp_rank(ours, nours);
	out->theirs = direct_tcp_rank(theirs, ntheirs);
	out->dial_first =
	    out->theirs > out->ours || (out->theirs == out->ours && strcmp(self, peer) < 0);
	out->early = direct_udp_blocked(ours, nours) || direct_udp_blocked(theirs, ntheirs);
}

/* r's TCP candidates in the order they are dialed (stable: an insertion sort of at most 4). */
static void
direct_tcp_sort(struct direct_round *r, const int *order)
{
	int ord[DIRECT_TCP_MAX];

	memcpy(ord, order, sizeof(ord[0]) * r->ntcp);
	for (size_t i = 1; i < r->ntcp; i++)
		for (size_t k = i; k > 0 && ord[k - 1] > ord[k]; k--) {
			struct sockaddr_storage ss = r->tcp[k];
			uint8_t kind = r->tcp_kind[k];
			int o = ord[k];

			r->tcp[k] = r->tcp[k - 1];
			r->tcp_kind[k] = r->tcp_kind[k - 1];
			ord[k] = ord[k - 1];
			r->tcp[k - 1] = ss;
			r->tcp_kind[k - 1] = kind;
			ord[k - 1] = o;
		}
}

void
direct_on_offer(struct direct *d, const struct ctlmsg *m)
{
	const char *peer = m->u.offer.from;
	struct direct_round *r = direct_round_find(d, peer);
	uint64_t now = ev_now_ms(d->loop), offered = 0;
	/* TCP candidates dialed already stay dialed (a new offer comes with every session). */
	struct sockaddr_storage was_tcp[DIRECT_TCP_MAX];
	size_t was_ntcp = 0, was_next = 0;
	bool was_relink = false;
	uint64_t was_due = 0;
	int tcp_order[DIRECT_TCP_MAX];
	struct ctl_candidate ours[CTL_CANDIDATES_MAX];
	struct direct_tcp_plan plan;
	struct direct_bd *bd = NULL;
	uint64_t bd_next = 0;
	struct direct_so was_so = { 0 };

	d->stats.offers_received++;
	if (r) {
		was_so = r->so;
		bd = r->bd;
		bd_next = r->bd_next_ms;
		offered = r->offered_ms;
		was_ntcp = r->ntcp;
		was_next = r->tcp_next;
		was_relink = r->tcp_relink;
		was_due = r->tcp_due_ms;
		memcpy(was_tcp, r->tcp, sizeof(was_tcp));
	}
	if (!r && d->nrounds < DIRECT_PEERS_MAX)
		r = &d->rounds[d->nrounds++];
	for (size_t i = 0; !r && i < d->nrounds; i++)
		if (!d->rounds[i].active && !d->rounds[i].bd)
			r = &d->rounds[i]; /* an ended round's place */
	if (!r) {
		log_warnx("direct: an offer from %s ignored: %d rounds running", peer,
			  DIRECT_PEERS_MAX);
		return;
	}
	memset(r, 0, sizeof(*r));
	snprintf(r->peer, sizeof(r->peer), "%s", peer);
	r->offered_ms = offered;
	r->bd = bd;
	r->bd_next_ms = bd_next;
	for (size_t i = 0; i < m->u.offer.count; i++) {
		const struct ctl_candidate *c = &m->u.offer.cand[i];
		struct sockaddr_storage ss;

		if (c->kind == CTL_CAND_NAT) {
			r->mapping = (int)(c->priority & 0xff);
			r->filtering = (int)(c->priority >> 8 & 0xff);
			r->nat_ports[1] = c->port;
			continue;
		}
		r->mapped |= c->kind == CTL_CAND_MAPPED && c->proto == 17;
		if (c->kind == CTL_CAND_SRFLX && c->proto == 17 && !r->srflx.ss_family &&
		    direct_cand_to_sockaddr(c, &r->srflx))
			r->nat_ports[0] = c->port;
		if (!direct_cand_to_sockaddr(c, &ss) ||
		    (d->family != AF_INET6 && ss.ss_family != AF_INET))
			continue;
		if (c->proto == 17) {
			r->cand[r->ncand] = ss;
			r->kind[r->ncand++] = c->kind;
		} else if (r->ntcp < DIRECT_TCP_MAX) {
			tcp_order[r->ntcp] = direct_tcp_order(c, m->u.offer.cand, m->u.offer.count);
			r->tcp[r->ntcp] = ss;
			r->tcp_kind[r->ntcp++] = c->kind;
		}
	}
	direct_tcp_sort(r, tcp_order);
	direct_tcp_plan(d->self, ours, direct_offer_cands(d, ours), peer, m->u.offer.cand,
			m->u.offer.count, &plan);
	r->tcp_first = plan.dial_first;
	r->tcp_early = plan.early;
	r->started_ms = r->next_ms = now;
	r->active = true;
	if (was_next && r->ntcp == was_ntcp && !was_relink) {
		bool same = true;

		for (size_t i = 0; i < r->ntcp; i++)
			same &= sockaddr_same(&r->tcp[i], &was_tcp[i]);
		if (same) {
			r->tcp_next = was_next;
			r->tcp_due_ms = was_due;
		}
	}
	direct_so_consider(d, r, &was_so, m, plan.early, now);
	/* UDP cannot work: TCP now (or after the defer), not after the fast phase. */
	if (r->ntcp && r->tcp_early && !r->tcp_due_ms)
		r->tcp_due_ms = now + (r->tcp_first ? 0 : DIRECT_TCP_DEFER_MS);
	if (r->ntcp)
		log_debug(
		    LOG_PATH, "direct: TCP with %s: reachability ours %d, theirs %d: %s dial%s%s",
		    peer, plan.ours, plan.theirs, plan.dial_first ? "we" : "they",
		    plan.dial_first ? "" : "s", plan.early ? " (UDP is blocked: at once)" : "");
	log_debug(LOG_PATH, "direct: %s offers %zu usable UDP and %zu TCP candidate(s) of %u", peer,
		  r->ncand, r->ntcp, m->u.offer.count);
	if (!r->ncand && !r->ntcp && !r->bd && !r->so.on) {
		*r = d->rounds[--d->nrounds];
		return;
	}
	direct_bd_consider(d, r, now);
	/* Answered with ours, so both sides probe in the same window. */
	if (!r->offered_ms || now - r->offered_ms >= DIRECT_REOFFER_MS)
		direct_offer(d, peer);
	direct_arm(d);
}

void
direct_forget(struct direct *d, const char *peer)
{
	struct direct_round *r = direct_round_find(d, peer);

	if (r) {
		direct_bd_end(d, r);
		*r = d->rounds[--d->nrounds];
	}
}

static void
direct_run_rounds(struct direct *d, uint64_t now)
{
	for (size_t i = 0; i < d->nrounds;) {
		struct direct_round *r = &d->rounds[i];
		uint64_t age = now - r->started_ms;

		if (r->bd)
			direct_bd_run(d, r, now);
		if (!r->active) {
			i++;
			continue;
		}
		if (age >= DIRECT_ROUND_MS || d->ops.direct_works(d->arg, r->peer)) {
			log_debug(LOG_PATH, "direct: round with %s ended (%s)", r->peer,
				  age >= DIRECT_ROUND_MS ? "no answer" : "a direct path works");
			r->active = false;
			i++;
			continue;
		}
		direct_so_run(d, r, now);
		if (r->tcp_due_ms && now >= r->tcp_due_ms && d->ops.linked &&
		    d->ops.linked(d->arg, r->peer)) {
			/*
			 * A direct link is up: nothing to dial, but a rekey (dialed over the relay)
			 * will move the session off it, and the new session's offers must dial
			 * again, not find every candidate dialed already.
			 */
			r->tcp_relink = true;
			r->tcp_due_ms = now + DIRECT_TCP_NEXT_MS;
		} else if (r->tcp_due_ms && now >= r->tcp_due_ms && r->tcp_next < r->ntcp &&
			   !direct_so_holds(r, now)) {
			char addr[SOCKADDR_STR_MAX];

			int rc = d->ops.dial_tcp
				     ? d->ops.dial_tcp(d->arg, r->peer, &r->tcp[r->tcp_next])
				     : 1;

			sockaddr_show(&r->tcp[r->tcp_next], addr, sizeof(addr));
			if (rc > 0) {
				log_info(
				    "direct: no UDP path to %s: trying a direct link to its TCP "
				    "candidate %s (%s)",
				    r->peer, addr,
				    r->tcp_kind[r->tcp_next] == CTL_CAND_MAPPED  ? "mapped"
				    : r->tcp_kind[r->tcp_next] == CTL_CAND_SRFLX ? "srflx"
										 : "host");
				r->tcp_next++;
			}
			/* Not now: again soon; nothing to do (a link is up): look again later. */
			r->tcp_due_ms = now + (rc < 0 ? DIRECT_PROBE_MS : DIRECT_TCP_NEXT_MS);
		}
		if (now >= r->next_ms) {
			for (size_t k = 0; k < r->ncand; k++) {
				d->ops.probe(d->arg, r->peer, &r->cand[k]);
				d->stats.probes_sent++;
			}
			if (age >= DIRECT_FAST_MS && !r->slow) {
				r->slow = true;
				if (r->ntcp && !r->tcp_due_ms)
					r->tcp_due_ms =
					    now + (r->tcp_first ? 0 : DIRECT_TCP_DEFER_MS);
				log_info(
				    "direct: no answer from the %zu candidate(s) of %s in %d s; "
				    "probing every %d s until %d s (the relay carries meanwhile)",
				    r->ncand, r->peer, DIRECT_FAST_MS / 1000,
				    DIRECT_SLOW_PROBE_MS / 1000, DIRECT_ROUND_MS / 1000);
			}
			r->next_ms =
			    now + (age < DIRECT_FAST_MS ? DIRECT_PROBE_MS : DIRECT_SLOW_PROBE_MS);
		}
		i++;
	}
}

static void
direct_on_timer(struct ev_timer *t)
{
	struct direct *d = container_of(t, struct direct, timer);
	uint64_t now = ev_now_ms(d->loop);

	direct_reflect_tick(d, now);
	direct_hp_run(d, now);
	direct_run_rounds(d, now);
	direct_arm(d);
}

/* --- the rest ------------------------------------------------------------------------------ */

/* The router's mapping appeared, changed or is gone: our candidates changed. */
static void
direct_on_portmap(void *arg)
{
	struct direct *d = arg;

	if (d->ops.on_reflexive)
		d->ops.on_reflexive(d->arg);
}

static const struct portmap_ops direct_portmap_ops = { .on_change = direct_on_portmap };

int
direct_new(struct direct **out, struct ev_loop *loop, const struct direct_params *params,
	   const struct direct_ops *ops, void *arg)
{
	struct direct *d;

	if (strlen(params->self) > CTL_STR_MAX)
		return -ENAMETOOLONG;
	if (!(d = calloc(1, sizeof(*d))))
		return -ENOMEM;
	d->loop = loop;
	snprintf(d->self, sizeof(d->self), "%s", params->self);
	snprintf(d->overlay, sizeof(d->overlay), "%s", params->overlay ? params->overlay : "");
	d->port = params->port;
	d->family = params->family;
	d->ops = *ops;
	d->arg = arg;
	hairpin_init(&d->hairpin);
	d->nhost = direct_gather_host(d, d->host, DIRECT_HOST_MAX);
	if (params->portmap) {
		struct portmap_params pp = { .port = params->port };
		struct portmap_params pt = { .port = params->port, .protocol = 6 };
		int err = portmap_new(&d->portmap, loop, &pp, &direct_portmap_ops, d);

		if (!err && (err = portmap_new(&d->portmap_tcp, loop, &pt, &direct_portmap_ops, d)))
			portmap_free(d->portmap);
		if (err) {
			free(d);
			return err;
		}
	}
	d->public_tcp = params->public_tcp;
	*out = d;
	return 0;
}

void
direct_free(struct direct *d)
{
	if (!d)
		return;
	portmap_free(d->portmap); /* deletes the router's mappings */
	portmap_free(d->portmap_tcp);
	ev_timer_stop(d->loop, &d->timer);
	/* The extra sockets are the UDP path's (closed with it): only our records go. */
	for (size_t i = 0; i < d->nrounds; i++)
		free(d->rounds[i].bd);
	free(d);
}

size_t
direct_candidates(const struct direct *d, const char *peer, struct direct_cand *out, size_t max,
		  bool *probing)
{
	const struct direct_round *r = NULL;
	size_t n = 0;

	for (size_t i = 0; i < d->nrounds && !r; i++)
		if (!strcmp(d->rounds[i].peer, peer))
			r = &d->rounds[i];
	*probing = r && r->active;
	for (size_t i = 0; r && i < r->ncand && n < max; i++, n++)
		out[n] =
		    (struct direct_cand){ .kind = r->kind[i], .proto = 17, .addr = r->cand[i] };
	for (size_t i = 0; r && i < r->ntcp && n < max; i++, n++)
		out[n] = (struct direct_cand){ .kind = r->tcp_kind[i],
					       .proto = 6,
					       .dialed = i < r->tcp_next,
					       .addr = r->tcp[i] };
	if (r && r->so.on && n < max) /* the simultaneous open's target (direct_tcp.c) */
		out[n++] = (struct direct_cand){ .kind = CTL_CAND_SIMOPEN,
						 .proto = 6,
						 .dialed = r->so.tries > 0,
						 .addr = r->so.to };
	return n;
}

const struct direct_stats *
direct_stats(const struct direct *d)
{
	return &d->stats;
}
