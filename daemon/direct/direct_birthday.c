// SPDX-License-Identifier: MIT
/*
 * The birthday technique (birthday.h) run for direct.c: who does which part with a peer, the
 * extra sockets opened and released, the spray sent, on direct's timer. The decisions
 * themselves are birthday.c's (pure); this file does what they say through direct's ops.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/sockaddr.h"
#include "crypto/aead.h"
#include "direct/direct_int.h"
#include "direct/portmap.h"

static uint32_t
direct_bd_rand(void *arg)
{
	uint32_t v = 0;

	(void)arg;
	crypto_random(&v, sizeof(v));
	return v;
}

/* Closes our extra sockets ids[0..n). */
static void
direct_bd_close(struct direct *d, const int *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d->ops.aux_close(d->arg, ids[i]);
}

void
direct_bd_end(struct direct *d, struct direct_round *r)
{
	int ids[BIRTHDAY_SOCKETS];

	if (!r->bd)
		return;
	if (r->bd->socks_on)
		direct_bd_close(d, ids, birthday_socks_release_all(&r->bd->socks, ids));
	free(r->bd);
	r->bd = NULL;
}

/* Our router forwards a port to us (portmap.h): probes get in there from any port. */
static bool
direct_has_portmap(const struct direct *d)
{
	return d->portmap && portmap_external(d->portmap)->sin_family;
}

/*
 * Is the technique needed with the peer of r, and which part is ours? Ours is the sockets when
 * our mapping is endpoint-dependent and the peer lets in only what comes from where it sent
 * (or is endpoint-dependent too); the spray when the peer's mapping is endpoint-dependent and
 * ours filters so (or is too). Neither when either side has a router mapping (probes get in
 * there from any port). A part that is over may start again (a new offer, our NAT classified
 * anew); a part that runs, or a socket that carries the path, is left alone.
 */
void
direct_bd_consider(struct direct *d, struct direct_round *r, uint64_t now)
{
	bool socks =
	    d->mapping == DIRECT_MAPPING_DEPENDENT && !r->mapped && !direct_has_portmap(d) &&
	    (r->filtering == DIRECT_FILTERING_PORT || r->mapping == DIRECT_MAPPING_DEPENDENT);
	bool spray =
	    r->mapping == DIRECT_MAPPING_DEPENDENT && !r->mapped && !direct_has_portmap(d) &&
	    (d->filtering == DIRECT_FILTERING_PORT || d->mapping == DIRECT_MAPPING_DEPENDENT);
	struct direct_bd *bd = r->bd;
	char addr[SOCKADDR_STR_MAX];

	if (!d->ops.aux_open || !r->srflx.ss_family || (!socks && !spray) ||
	    (!bd && now < r->bd_next_ms) || d->ops.direct_works(d->arg, r->peer))
		return;
	if (!bd && !(bd = r->bd = calloc(1, sizeof(*bd))))
		return;
	bd->to = r->srflx;
	bd->pub = r->srflx;
	if (socks && (!bd->socks_on || birthday_socks_is_over(&bd->socks))) {
		birthday_socks_init(&bd->socks, now, BIRTHDAY_SOCKETS);
		bd->socks_on = true;
		sockaddr_show(&bd->to, addr, sizeof(addr));
		log_info("direct: our NAT maps per destination and %s's lets in only answers: "
			 "opening %d sockets toward %s (birthday technique)",
			 r->peer, BIRTHDAY_SOCKETS, addr);
	}
	if (spray && (!bd->spray_on || birthday_spray_is_done(&bd->spray))) {
		uint16_t next = 0;
		int delta = 0;
		bool predicted = r->nat_ports[0] && r->nat_ports[1] &&
				 birthday_predict(r->nat_ports, 2, &next, &delta);

		birthday_spray_init(&bd->spray, now + BIRTHDAY_SPRAY_DELAY_MS, BIRTHDAY_PROBES,
				    predicted, next, delta);
		bd->spray_on = true;
		sockaddr_show(&bd->pub, addr, sizeof(addr));
		log_info("direct: %s's NAT maps per destination: %d probes to ports of %s "
			 "(birthday technique; %s)",
			 r->peer, BIRTHDAY_PROBES, addr,
			 predicted ? "its ports look sequential: predicted ones first"
				   : "random ports");
	}
}

static void
direct_bd_spray(struct direct *d, struct direct_round *r, struct direct_bd *bd, uint64_t now)
{
	uint16_t ports[DIRECT_BD_BATCH];
	size_t n =
	    birthday_spray_due(&bd->spray, now, ports, DIRECT_BD_BATCH, direct_bd_rand, NULL);

	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage to = bd->pub;

		if (to.ss_family == AF_INET)
			((struct sockaddr_in *)&to)->sin_port = htons(ports[i]);
		else
			((struct sockaddr_in6 *)&to)->sin6_port = htons(ports[i]);
		d->ops.probe(d->arg, r->peer, &to);
	}
	d->stats.bd_probes += n;
	if (birthday_spray_is_done(&bd->spray))
		bd->spray_on = false;
}

static void
direct_bd_socks(struct direct *d, struct direct_round *r, struct direct_bd *bd, uint64_t now,
		bool works)
{
	int ids[BIRTHDAY_SOCKETS], pinned;
	unsigned due = birthday_socks_due(&bd->socks, now, DIRECT_BD_BATCH);
	size_t n;

	for (unsigned i = 0; i < due; i++) {
		int id = d->ops.aux_open(d->arg, &bd->to);

		if (id < 0)
			log_warnx("direct: an extra socket for %s: %s (%u open)", r->peer,
				  strerror(-id), birthday_socks_held(&bd->socks));
		else
			d->stats.bd_sockets++;
		birthday_socks_opened(&bd->socks, id);
		if (id < 0)
			break;
	}
	pinned = d->ops.aux_pinned(d->arg, &bd->to);
	n = birthday_socks_release(&bd->socks, now, pinned, works, ids);
	if (works && bd->socks.kept >= 0 && !bd->hit) {
		bd->hit = true;
		d->stats.bd_hits++;
		log_info("direct: birthday technique: %s got through to one of our sockets after "
			 "%llu ms; keeping it, closing the %zu others",
			 r->peer, (unsigned long long)(now - bd->socks.start_ms), n);
	} else if (n && !works && birthday_socks_is_over(&bd->socks)) {
		log_info("direct: birthday technique: nothing from %s through our %zu sockets; "
			 "closed",
			 r->peer, n);
	}
	direct_bd_close(d, ids, n);
	if (birthday_socks_is_over(&bd->socks))
		bd->socks_on = false;
}

void
direct_bd_run(struct direct *d, struct direct_round *r, uint64_t now)
{
	struct direct_bd *bd = r->bd;
	bool works = d->ops.direct_works(d->arg, r->peer);

	if (bd->spray_on && works)
		bd->spray_on = false;
	if (bd->spray_on)
		direct_bd_spray(d, r, bd, now);
	if (bd->socks_on)
		direct_bd_socks(d, r, bd, now, works);
	if (!bd->socks_on && !bd->spray_on) {
		if (works && !bd->hit)
			log_debug(LOG_PATH, "direct: birthday technique with %s over: direct",
				  r->peer);
		/* Found nothing: not again with this peer for a while (offers come with rekeys). */
		if (!works)
			r->bd_next_ms = now + BIRTHDAY_RETRY_MS;
		free(bd);
		r->bd = NULL;
	}
}

void
direct_on_opener(struct direct *d)
{
	d->stats.bd_openers++;
}

void
direct_birthday_state(const struct direct *d, const char *peer, char *buf, size_t len)
{
	const struct direct_round *r = NULL;
	const struct direct_bd *bd;

	for (size_t i = 0; i < d->nrounds && !r; i++)
		if (!strcmp(d->rounds[i].peer, peer))
			r = &d->rounds[i];
	buf[0] = 0;
	if (!r || !(bd = r->bd))
		return;
	if (bd->socks_on && bd->socks.kept >= 0)
		snprintf(buf, len, "kept");
	else if (bd->socks_on)
		snprintf(buf, len, "sockets %u", birthday_socks_held(&bd->socks));
	if (bd->spray_on) {
		size_t l = strlen(buf);

		snprintf(buf + l, len - l, "%sspraying %u/%u", l ? " " : "", bd->spray.sent,
			 bd->spray.total);
	}
}
