// SPDX-License-Identifier: MIT
/*
 * Reflection from the agent's side (direct.h, proto/reflect.h): the rounds of questions to the
 * home server that give our server-reflexive address and classify our NAT (natclass.h). A round
 * starts when the home connection comes up, every DIRECT_REFLECT_EVERY_MS after, and when a
 * direct path dies or the host's addresses change; unanswered questions are asked again on
 * the timer's tick, DIRECT_REFLECT_RETRY_MS apart (new nonces), up to DIRECT_REFLECT_TRIES
 * ticks, then every DIRECT_REFLECT_UNANSWERED_MS while the server does not answer at all. The
 * two filtering questions go faster, DIRECT_FILTER_RETRY_MS apart, DIRECT_FILTER_TRIES times:
 * the mapping questions wait for them, and the birthday technique for both.
 *
 * A question to the server's other port (address) would open our NAT to the answer that the
 * question "answered from the other port (address)" is waiting for: it is asked only once that
 * one is settled, and its nonce is then dropped (a late answer to it proves nothing). What
 * becomes askable on an answer is asked at once, not on the next tick: the classification is
 * wanted early (the birthday technique waits for it).
 */
#include <netinet/in.h>
#include <string.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/sockaddr.h"
#include "crypto/aead.h"
#include "direct/direct.h"
#include "direct/direct_int.h"
#include "proto/reflect.h"

/* Same address, any port (answers come from the server's other port too). */
static bool
direct_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_storage ua, ub;

	sockaddr_unmap(a, &ua);
	sockaddr_unmap(b, &ub);
	if (ua.ss_family != ub.ss_family)
		return false;
	if (ua.ss_family == AF_INET)
		return ((struct sockaddr_in *)&ua)->sin_addr.s_addr ==
		       ((struct sockaddr_in *)&ub)->sin_addr.s_addr;
	return ua.ss_family == AF_INET6 &&
	       !memcmp(&((struct sockaddr_in6 *)&ua)->sin6_addr,
		       &((struct sockaddr_in6 *)&ub)->sin6_addr, sizeof(struct in6_addr));
}

/* Where question q goes: the server's port, its other port, or its other address's port. */
static bool
direct_ask_to(const struct direct *d, enum natq q, struct sockaddr_storage *out)
{
	sockaddr_unmap(&d->server, out);
	if (q == NATQ_ADDRESS) {
		if (d->server_alt.ss_family != out->ss_family)
			return false;
		if (out->ss_family == AF_INET)
			((struct sockaddr_in *)out)->sin_addr =
			    ((const struct sockaddr_in *)&d->server_alt)->sin_addr;
		else
			((struct sockaddr_in6 *)out)->sin6_addr =
			    ((const struct sockaddr_in6 *)&d->server_alt)->sin6_addr;
	} else if (q == NATQ_PORT) {
		if (out->ss_family == AF_INET)
			((struct sockaddr_in *)out)->sin_port =
			    htons((uint16_t)(ntohs(((struct sockaddr_in *)out)->sin_port) + 1));
		else
			((struct sockaddr_in6 *)out)->sin6_port =
			    htons((uint16_t)(ntohs(((struct sockaddr_in6 *)out)->sin6_port) + 1));
	}
	return true;
}

static bool
direct_askable(const struct direct *d, enum natq q)
{
	bool alt = d->server_alt.ss_family != 0;

	if (d->ask[q].answered)
		return false;
	switch (q) {
	case NATQ_BASE:
		return true;
	case NATQ_FROM_PORT:
		return !d->ask[q].settled && d->ask[q].sent < DIRECT_FILTER_TRIES;
	case NATQ_FROM_ADDRESS:
		return alt && !d->ask[q].settled && d->ask[q].sent < DIRECT_FILTER_TRIES;
	case NATQ_PORT:
		return d->ask[NATQ_FROM_PORT].settled;
	case NATQ_ADDRESS:
		return alt && d->ask[NATQ_FROM_ADDRESS].settled;
	default:
		return false;
	}
}

static void
direct_ask(struct direct *d, enum natq q, uint64_t now)
{
	struct nat_question *a = &d->ask[q];
	struct sockaddr_storage to;
	uint8_t buf[REFLECT_LEN];

	if (!direct_ask_to(d, q, &to))
		return;
	crypto_random(&a->nonce, sizeof(a->nonce));
	a->nonce |= 1;
	reflect_request_encode(buf, a->nonce,
			       q == NATQ_FROM_PORT      ? REFLECT_OTHER_PORT
			       : q == NATQ_FROM_ADDRESS ? REFLECT_OTHER_ADDRESS
							: 0);
	if (d->ops.send_datagram(d->arg, &to, buf, sizeof(buf)))
		d->stats.reflect_sent++;
	a->sent++;
	a->sent_ms = now;
	if (q == NATQ_PORT)
		d->ask[NATQ_FROM_PORT].nonce = 0;
	else if (q == NATQ_ADDRESS)
		d->ask[NATQ_FROM_ADDRESS].nonce = 0;
}

/*
 * The filtering questions due (again), the ones with no answer DIRECT_FILTER_RETRY_MS after
 * their last try settled (filtered), and what that made askable (the mapping questions), at
 * once.
 */
static void
direct_ask_fast(struct direct *d, uint64_t now)
{
	static const enum natq fast[] = { NATQ_FROM_PORT, NATQ_FROM_ADDRESS };
	static const enum natq after[] = { NATQ_PORT, NATQ_ADDRESS };

	for (size_t i = 0; i < 2; i++) {
		struct nat_question *a = &d->ask[fast[i]];
		bool due = !a->sent || now >= a->sent_ms + DIRECT_FILTER_RETRY_MS;

		if (!a->answered && !a->settled && a->sent >= DIRECT_FILTER_TRIES && due)
			a->settled = true; /* no answer to any of them: filtered */
		else if (due && direct_askable(d, fast[i]))
			direct_ask(d, fast[i], now);
	}
	for (size_t i = 0; i < 2; i++)
		if (!d->ask[after[i]].sent && direct_askable(d, after[i]))
			direct_ask(d, after[i], now);
}

/*
 * What the answers so far say of our NAT, as soon as they say it (not only at the round's end:
 * the birthday technique waits for it). A change is news for our peers: offers go again, and
 * the technique is weighed again with every peer whose offer we hold.
 */
static void
direct_classify(struct direct *d, uint64_t now)
{
	int mapping = d->mapping, filtering = d->filtering;

	natclass(d->ask, d->server_alt.ss_family != 0, &mapping, &filtering);
	if (mapping == d->mapping && filtering == d->filtering)
		return;
	d->mapping = mapping;
	d->filtering = filtering;
	log_info("direct: our NAT: mapping %s, filtering %s (%s)", natclass_mapping_name(mapping),
		 natclass_filtering_name(filtering),
		 d->server_alt.ss_family ? "the server's two addresses and ports"
					 : "the server's two ports, one address");
	for (size_t i = 0; i < d->nrounds; i++)
		direct_bd_consider(d, &d->rounds[i], now);
	if (d->ops.on_reflexive)
		d->ops.on_reflexive(d->arg);
}

/* The round is over: what it found is kept (unanswered is the answer), the next one later. */
static void
direct_round_done(struct direct *d, uint64_t now)
{
	for (int q = 0; q < NATQ_COUNT; q++)
		d->ask[q].settled = true;
	direct_classify(d, now);
	d->round_done = true;
	d->next_reflect_ms = now + DIRECT_REFLECT_EVERY_MS;
}

/* Is every question this server can answer answered? */
static bool
direct_all_answered(const struct direct *d)
{
	int n = d->server_alt.ss_family ? NATQ_COUNT : NATQ_FROM_ADDRESS;

	for (int q = 0; q < n; q++)
		if (!d->ask[q].answered)
			return false;
	return true;
}

/* A tick of the round: every question not answered yet that may be asked, asked (again). */
static void
direct_send_reflect(struct direct *d, uint64_t now)
{
	static const enum natq slow[] = { NATQ_BASE, NATQ_PORT, NATQ_ADDRESS };

	if (d->round_done) {
		memset(d->ask, 0, sizeof(d->ask));
		d->tries = 0;
		d->round_done = false;
	}
	for (size_t i = 0; i < sizeof(slow) / sizeof(slow[0]); i++)
		if (direct_askable(d, slow[i]))
			direct_ask(d, slow[i], now);
	direct_ask_fast(d, now);
	d->tries++;
	direct_classify(d, now);
	if (d->ask[NATQ_BASE].answered && d->tries >= DIRECT_REFLECT_TRIES) {
		direct_round_done(d, now);
		return;
	}
	d->next_reflect_ms = now + (d->tries < DIRECT_REFLECT_TRIES ? DIRECT_REFLECT_RETRY_MS
								    : DIRECT_REFLECT_UNANSWERED_MS);
}

void
direct_reflect_tick(struct direct *d, uint64_t now)
{
	if (!d->server.ss_family)
		return;
	if (now >= d->next_reflect_ms) {
		direct_send_reflect(d, now);
	} else if (!d->round_done) {
		direct_ask_fast(d, now);
		direct_classify(d, now);
	}
}

void
direct_reflect_now(struct direct *d)
{
	if (!d->server.ss_family)
		return;
	d->round_done = true;
	direct_send_reflect(d, ev_now_ms(d->loop));
	direct_arm(d);
}

void
direct_home_up(struct direct *d, const struct sockaddr_storage *server)
{
	if (!direct_same_host(server, &d->server))
		memset(&d->server_alt, 0, sizeof(d->server_alt)); /* another server's */
	d->server = *server;
	d->round_done = true; /* a new round now */
	direct_send_reflect(d, ev_now_ms(d->loop));
	direct_arm(d);
}

void
direct_home_down(struct direct *d)
{
	memset(&d->server, 0, sizeof(d->server));
	memset(d->ask, 0, sizeof(d->ask));
	d->round_done = false;
}

/* What an answer from the server (not its other address) says of its other address. */
static void
direct_learn_alt(struct direct *d, const struct sockaddr_storage *other)
{
	struct sockaddr_storage to;
	char show[SOCKADDR_STR_MAX];

	if (other->ss_family && direct_same_host(other, &d->server))
		return; /* its own address again: nothing to test by */
	if (other->ss_family == d->server_alt.ss_family &&
	    (!other->ss_family || direct_same_host(other, &d->server_alt)))
		return;
	d->server_alt = *other;
	/* With the server's port (the one NATQ_ADDRESS is sent to), for the logs and netcheck. */
	if (other->ss_family && direct_ask_to(d, NATQ_ADDRESS, &to))
		d->server_alt = to;
	sockaddr_show(&d->server_alt, show, sizeof(show));
	if (other->ss_family)
		log_info("direct: the server answers from %s too: NAT tests by address", show);
	else
		log_info("direct: the server has no other address: NAT tests by its ports alone");
}

void
direct_on_datagram(struct direct *d, const uint8_t *buf, size_t len,
		   const struct sockaddr_storage *from)
{
	static const enum natq next[] = { NATQ_PORT, NATQ_ADDRESS, NATQ_FROM_ADDRESS };
	struct sockaddr_storage addr, other;
	bool from_alt;
	uint64_t nonce;
	int q;

	if (hairpin_is_probe(buf, len)) {
		direct_hp_on_datagram(d, buf, len);
		return;
	}
	from_alt = d->server_alt.ss_family && direct_same_host(from, &d->server_alt);
	if (!d->server.ss_family || !(from_alt || direct_same_host(from, &d->server)) ||
	    !reflect_response_decode(buf, len, &nonce, &addr, &other)) {
		d->stats.reflect_bad++;
		return;
	}
	for (q = 0; q < NATQ_COUNT && !(d->ask[q].nonce == nonce && !d->ask[q].answered); q++)
		;
	/* From the other address exactly what was asked of it: "answered from the other address"
	 * proves something only when it comes from there. */
	if (q == NATQ_COUNT || !nonce ||
	    from_alt != (q == NATQ_FROM_ADDRESS || q == NATQ_ADDRESS)) {
		d->stats.reflect_bad++;
		return;
	}
	d->ask[q].answered = d->ask[q].settled = true;
	d->ask[q].seen = addr;
	d->stats.reflect_answers++;
	if (!from_alt)
		direct_learn_alt(d, &other);
	/* What this answer made askable goes now. */
	for (size_t i = 0; i < sizeof(next) / sizeof(next[0]); i++)
		if (!d->ask[next[i]].sent && direct_askable(d, next[i]))
			direct_ask(d, next[i], ev_now_ms(d->loop));
	direct_classify(d, ev_now_ms(d->loop));
	if (direct_all_answered(d) || (q == NATQ_BASE && d->tries >= DIRECT_REFLECT_TRIES))
		direct_round_done(d, ev_now_ms(d->loop));
	if (q != NATQ_BASE)
		return;
	if (!sockaddr_same(&addr, &d->reflexive)) {
		char was[SOCKADDR_STR_MAX], is[SOCKADDR_STR_MAX];

		sockaddr_show(&d->reflexive, was, sizeof(was));
		sockaddr_show(&addr, is, sizeof(is));
		log_info("direct: our address as the server sees it: %s (was %s)", is, was);
		d->reflexive = addr;
		direct_hp_start(d, ev_now_ms(d->loop));
		if (d->ops.on_reflexive)
			d->ops.on_reflexive(d->arg);
	}
}

void
direct_nat(const struct direct *d, struct direct_nat *out)
{
	memset(out, 0, sizeof(*out));
	out->server = d->server;
	out->server_alt = d->server_alt;
	out->reflexive = d->reflexive;
	if (d->ask[NATQ_PORT].answered)
		out->reflexive_other = d->ask[NATQ_PORT].seen;
	if (d->ask[NATQ_ADDRESS].answered)
		out->reflexive_alt = d->ask[NATQ_ADDRESS].seen;
	out->mapping = d->mapping;
	out->filtering = d->filtering;
	out->answered = d->reflexive.ss_family != 0;
}
