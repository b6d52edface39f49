// SPDX-License-Identifier: MIT
/*
 * TCP simultaneous open (direct.h direct_simopen_plan, docs/direct-paths.md): where neither
 * side can be dialed (both NATs let in only answers) and UDP is no way (blocked), both sides
 * connect to each other at about the same time from their peer port. Each NAT then holds a
 * connection toward the other's mapping when the other's SYN arrives, and lets it in as an
 * answer; Linux (and conntrack) follow the simultaneous open. What it takes here: our NAT's
 * TCP mapping of the peer port (what the home server saw of our home connection, dialed from
 * that port: CTL_OBSERVED), offered as a CTL_CAND_SIMOPEN candidate; the dial from the peer
 * port (ops.dial_simopen); and the TLS roles, which the identities decide.
 *
 * Per peer (struct direct_so in its round): on, from its offer; tries made; due_ms, when the
 * next try goes: at the offer when UDP is blocked on either side, else when the round's fast
 * phase ends (both sides reach that point one relay hop apart), then DIRECT_SIMOPEN_NEXT_MS
 * after each try until DIRECT_SIMOPEN_TRIES; a direct link found up when a try is due
 * (ops.linked) resets the count (the next session may need one again). Until the last try
 * has had its time, plain TCP dials to that peer wait (direct_so_holds): one dial runs at a
 * time, and a plain dial to a private address would hold the slot while the peer's SYNs come.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/log.h"
#include "core/sockaddr.h"
#include "direct/direct_int.h"

/* The first CTL_CAND_SIMOPEN candidate of c (n long), or NULL. */
static const struct ctl_candidate *
direct_so_find(const struct ctl_candidate *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].kind == CTL_CAND_SIMOPEN && c[i].proto == 6)
			return &c[i];
	return NULL;
}

void
direct_simopen_plan(const char *self, const struct ctl_candidate *ours, size_t nours,
		    const char *peer, const struct ctl_candidate *theirs, size_t ntheirs,
		    int family, struct direct_simopen_plan *out)
{
	const struct ctl_candidate *mine = direct_so_find(ours, nours);
	const struct ctl_candidate *their = direct_so_find(theirs, ntheirs);
	struct ctl_candidate as_srflx;

	memset(out, 0, sizeof(*out));
	/* Either side reachable by a plain dial: direct_tcp_plan's dial does it. */
	if (!mine || !their || direct_tcp_rank(ours, nours) >= 2 ||
	    direct_tcp_rank(theirs, ntheirs) >= 2)
		return;
	as_srflx = *their;
	as_srflx.kind = CTL_CAND_SRFLX; /* only to borrow its address checks */
	if (!direct_cand_to_sockaddr(&as_srflx, &out->to) ||
	    (family != AF_INET6 && out->to.ss_family != AF_INET))
		return;
	out->on = true;
	out->tls_client = strcmp(self, peer) < 0;
}

size_t
direct_so_gather(const struct direct *d, struct ctl_candidate *out, size_t n, size_t max)
{
	struct sockaddr_storage seen;
	struct ctl_candidate *c = &out[n];

	if (n >= max || !d->observed.ss_family)
		return n;
	sockaddr_unmap(&d->observed, &seen);
	memset(c, 0, sizeof(*c));
	if (seen.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&seen;

		c->family = 4;
		memcpy(c->addr, &s4->sin_addr, 4);
		c->port = ntohs(s4->sin_port);
	} else if (seen.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&seen;

		c->family = 6;
		memcpy(c->addr, &s6->sin6_addr, 16);
		c->port = ntohs(s6->sin6_port);
	} else {
		return n;
	}
	/* A NAT that did not keep the port would pick another one toward the peer. */
	if (c->port != d->port)
		return n;
	c->kind = CTL_CAND_SIMOPEN;
	c->proto = 6;
	c->priority = 70;
	/* The same address and port offered already (a router mapping): reachable, not needed. */
	for (size_t i = 0; i < n; i++)
		if (out[i].proto == 6 && out[i].family == c->family && out[i].port == c->port &&
		    !memcmp(out[i].addr, c->addr, sizeof(c->addr)))
			return n;
	return n + 1;
}

void
direct_so_consider(struct direct *d, struct direct_round *r, const struct direct_so *was,
		   const struct ctlmsg *m, bool early, uint64_t now)
{
	struct ctl_candidate ours[CTL_CANDIDATES_MAX];
	size_t nours = direct_gather(d, ours, CTL_CANDIDATES_MAX);
	struct direct_simopen_plan plan;
	char addr[SOCKADDR_STR_MAX];

	memset(&r->so, 0, sizeof(r->so));
	direct_simopen_plan(d->self, ours, nours, r->peer, m->u.offer.cand, m->u.offer.count,
			    d->family, &plan);
	if (!plan.on || !d->ops.dial_simopen)
		return;
	r->so.on = true;
	r->so.tls_client = plan.tls_client;
	r->so.to = plan.to;
	/*
	 * A new offer with the same target (a re-offer) keeps the count and the time of the next
	 * try; with no try made since a link was up (a rekey's, on the relay), it starts afresh.
	 */
	if (was->on && sockaddr_same(&was->to, &plan.to) && was->tries) {
		r->so.tries = was->tries;
		r->so.due_ms = was->due_ms;
	}
	if (!r->so.due_ms && early && r->so.tries < DIRECT_SIMOPEN_TRIES)
		r->so.due_ms = now;
	sockaddr_show(&plan.to, addr, sizeof(addr));
	log_debug(LOG_PATH,
		  "direct: TCP with %s: neither side can be dialed; a simultaneous open with %s "
		  "(%s), we are the TLS %s (try %u of %d)",
		  r->peer, addr, early ? "UDP is blocked: at once" : "after the fast phase",
		  plan.tls_client ? "client" : "server", r->so.tries + 1, DIRECT_SIMOPEN_TRIES);
}

void
direct_so_run(struct direct *d, struct direct_round *r, uint64_t now)
{
	char addr[SOCKADDR_STR_MAX];
	int rc;

	if (!r->so.on)
		return;
	if (!r->so.due_ms && r->slow)
		r->so.due_ms = now; /* the fast phase of UDP probing found nothing */
	if (!r->so.due_ms || now < r->so.due_ms)
		return;
	/*
	 * A direct link is up (ours worked, or another way did): the count starts again, so that
	 * when a rekey moves the session to the relay (the TLS client dials it), the offers that
	 * come with the new keys bring the link back at once.
	 */
	if (d->ops.linked && d->ops.linked(d->arg, r->peer)) {
		r->so.tries = 0;
		r->so.due_ms = now + DIRECT_SIMOPEN_NEXT_MS;
		return;
	}
	if (r->so.tries >= DIRECT_SIMOPEN_TRIES)
		return;
	rc = d->ops.dial_simopen(d->arg, r->peer, &r->so.to, r->so.tls_client);
	if (rc > 0) {
		r->so.tries++;
		sockaddr_show(&r->so.to, addr, sizeof(addr));
		log_info("direct: no UDP path to %s: a TCP simultaneous open with %s (try %u of "
			 "%d, we are the TLS %s)",
			 r->peer, addr, r->so.tries, DIRECT_SIMOPEN_TRIES,
			 r->so.tls_client ? "client" : "server");
	}
	/* Not now: again soon; nothing to do (UDP works): look again later. */
	r->so.due_ms = now + (rc < 0 ? DIRECT_PROBE_MS : DIRECT_SIMOPEN_NEXT_MS);
}

bool
direct_so_holds(const struct direct_round *r, uint64_t now)
{
	/* Until the last try has had its time: one dial at a time, and ours comes first. */
	return r->so.on && (r->so.tries < DIRECT_SIMOPEN_TRIES || now < r->so.due_ms);
}

static uint16_t
direct_so_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

void
direct_on_observed(struct direct *d, const struct sockaddr_storage *seen)
{
	struct sockaddr_storage none = { 0 };
	char addr[SOCKADDR_STR_MAX];

	if (!seen)
		seen = &none;
	if (seen->ss_family == d->observed.ss_family &&
	    (!seen->ss_family || sockaddr_same(seen, &d->observed)))
		return;
	d->observed = *seen;
	if (!seen->ss_family)
		return; /* the home connection went: the next one tells again */
	sockaddr_show(seen, addr, sizeof(addr));
	log_info("direct: our home server sees our connection from %s%s", addr,
		 direct_so_port(seen) == d->port
		     ? ": our NAT keeps the peer port (a TCP simultaneous open candidate)"
		     : "");
	if (d->ops.on_reflexive)
		d->ops.on_reflexive(d->arg);
}

const struct sockaddr_storage *
direct_observed(const struct direct *d)
{
	return &d->observed;
}
