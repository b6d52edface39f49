// SPDX-License-Identifier: MIT
/*
 * A peer's paths and the choice between them. See path.h.
 */
#include "path/path.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/sockaddr.h"

const struct sockaddr_storage path_relay_addr = { .ss_family = AF_UNSPEC };

bool
path_dial_is_relay(const struct sockaddr_storage *to)
{
	return to->ss_family == AF_UNSPEC;
}

void
path_addr_show(const struct sockaddr_storage *a, char *buf, size_t len)
{
	/* path_relay_addr is the only AF_UNSPEC address a path hands out; an unset endpoint is
	 * all zero too, and says "(none)" only where it is shown as an endpoint. */
	if (path_dial_is_relay(a))
		snprintf(buf, len, "relay");
	else
		sockaddr_show(a, buf, len);
}

void
path_set_relay(struct path_set *s, bool on)
{
	s->relay = on;
}

void
path_set_init(struct path_set *s, const struct sockaddr_storage *endpoints, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->ndial = n < PATH_DIAL_MAX ? n : PATH_DIAL_MAX;
	if (!s->ndial)
		return; /* endpoints may be NULL: a peer reached only once it is found */
	memcpy(s->dial, endpoints, s->ndial * sizeof(*s->dial));
	s->endpoint = s->dial[0];
	/* The other static endpoints: where the peer may be reachable too, to be probed. */
	for (size_t i = 1; i < s->ndial; i++)
		path_set_learn(s, &s->dial[i], 0);
}

bool
path_set_can_dial(const struct path_set *s)
{
	return s->ndial || s->relay || s->dial_once.ss_family;
}

void
path_set_dial_once(struct path_set *s, const struct sockaddr_storage *to)
{
	s->dial_once = *to;
}

const struct sockaddr_storage *
path_set_next_dial(struct path_set *s)
{
	size_t n = s->ndial + (s->relay ? 1 : 0), i;

	if (s->dial_once.ss_family) {
		s->dial_out = s->dial_once;
		s->dial_once.ss_family = 0;
		return &s->dial_out;
	}

	if (!n)
		return NULL;
	i = s->next_dial++ % n;
	return i < s->ndial ? &s->dial[i] : &path_relay_addr;
}

void
path_rtt_show(uint32_t rtt8, char *buf, size_t len)
{
	uint32_t tenths = (rtt8 * 10 + 4) / 8;

	snprintf(buf, len, "%u.%u", tenths / 10, tenths % 10);
}

static struct path_alt *
path_alt_find(struct path_set *s, const struct sockaddr_storage *a)
{
	for (size_t i = 0; i < PATH_ALT_MAX; i++)
		if (s->alt[i].addr.ss_family && sockaddr_same(&s->alt[i].addr, a))
			return &s->alt[i];
	return NULL;
}

static bool
path_alt_is_alive(const struct path_alt *a, uint64_t now, uint64_t dead_after_ms)
{
	return a->addr.ss_family && a->validated_ms && now - a->validated_ms <= dead_after_ms &&
	       a->misses < PATH_FAIL_MISSES;
}

bool
path_set_alt_alive(const struct path_set *s, const struct sockaddr_storage *from, uint64_t now,
		   uint64_t dead_after_ms)
{
	const struct path_alt *a = path_alt_find((struct path_set *)s, from);

	return a && path_alt_is_alive(a, now, dead_after_ms);
}

/* The current endpoint's state as an alternate's, and back: what a switch swaps. */
static struct path_alt
path_cur_save(const struct path_set *s)
{
	return (struct path_alt){ .addr = s->endpoint,
				  .validated_ms = s->validated_ms,
				  .last_rx_ms = s->last_udp_rx_ms,
				  .probe_sent_ms = s->probe_sent_ms,
				  .probe_last_ms = s->probe_last_ms,
				  .probe_seq = s->probe_seq,
				  .srtt8 = s->srtt8,
				  .var8 = s->var8,
				  .rtt_ms = s->rtt_ms,
				  .rtt_n = s->rtt_n,
				  .loss_pm = s->loss_pm,
				  .misses = s->misses };
}

static void
path_cur_load(struct path_set *s, const struct path_alt *a)
{
	s->endpoint = a->addr;
	s->validated_ms = a->validated_ms;
	s->last_udp_rx_ms = a->last_rx_ms;
	s->probe_sent_ms = a->probe_sent_ms;
	s->probe_last_ms = a->probe_last_ms;
	s->probe_seq = a->probe_seq;
	s->srtt8 = a->srtt8;
	s->var8 = a->var8;
	s->srtt_ms = (a->srtt8 + 4) / 8;
	s->rtt_ms = a->rtt_ms;
	s->rtt_n = a->rtt_n;
	s->loss_pm = a->loss_pm;
	s->misses = a->misses;
	s->failed_ms = 0;
	s->answers = 0;
	s->alt_due_ms = 0; /* the old one is an alternate now: its own timetable */
}

/* A free slot, or the one to give up for a new address: not validated, heard longest ago. */
static struct path_alt *
path_alt_slot(struct path_set *s)
{
	struct path_alt *pick = NULL;

	for (size_t i = 0; i < PATH_ALT_MAX; i++) {
		struct path_alt *a = &s->alt[i];

		if (!a->addr.ss_family)
			return a;
		if (a->validated_ms && a->misses < PATH_FAIL_MISSES)
			continue;
		if (!pick || a->last_rx_ms < pick->last_rx_ms)
			pick = a;
	}
	return pick;
}

/* The endpoint becomes `to`: an alternate's state if it is one, else nothing known yet. */
static void
path_move_to(struct path_set *s, const struct sockaddr_storage *to)
{
	struct path_alt *a = path_alt_find(s, to), old = path_cur_save(s);

	if (a) {
		struct path_alt mine = *a;

		*a = old;
		a->better = 0;
		path_cur_load(s, &mine);
		return;
	}
	if (old.addr.ss_family && (a = path_alt_slot(s)))
		*a = old;
	path_cur_load(s, &(struct path_alt){ .addr = *to });
}

void
path_set_learn(struct path_set *s, const struct sockaddr_storage *from, uint64_t now)
{
	struct path_alt *a;

	if (!from->ss_family || sockaddr_same(from, &s->endpoint))
		return;
	if (!(a = path_alt_find(s, from))) {
		if (!(a = path_alt_slot(s)))
			return;
		*a = (struct path_alt){ .addr = *from };
		s->alt_due_ms = 0;
	}
	if (now)
		a->last_rx_ms = now;
}

void
path_set_on_udp_rx(struct path_set *s, const struct sockaddr_storage *from, uint64_t now,
		   const char *who)
{
	if (!sockaddr_same(from, &s->endpoint)) {
		char was[SOCKADDR_STR_MAX], is[SOCKADDR_STR_MAX];

		sockaddr_show(&s->endpoint, was, sizeof(was));
		sockaddr_show(from, is, sizeof(is));
		log_info("peer %s: endpoint %s -> %s", who, was, is);
		path_move_to(s, from); /* a new path, or one known as an alternate */
	}
	s->last_udp_rx_ms = now;
}

bool
path_set_udp_heard(const struct path_set *s, uint64_t now, uint64_t dead_after_ms)
{
	return s->last_udp_rx_ms && now - s->last_udp_rx_ms <= dead_after_ms;
}

bool
path_set_udp_is_alive(const struct path_set *s, uint64_t now, uint64_t dead_after_ms)
{
	return path_set_udp_heard(s, now, dead_after_ms) && s->validated_ms &&
	       now - s->validated_ms <= dead_after_ms && !s->failed_ms;
}

static uint64_t
path_probe_timeout_ms(uint32_t srtt8)
{
	uint64_t t = PATH_QUIET_MS + (uint64_t)srtt8 / 4;

	return t < PATH_PROBE_TIMEOUT_MAX_MS ? t : PATH_PROBE_TIMEOUT_MAX_MS;
}

/* Loss, per mille, smoothed with gain 1/8: one probe answered (lost false) or not. */
static uint16_t
path_loss_step(uint16_t pm, bool lost)
{
	return (uint16_t)((7u * pm + (lost ? 1000u : 0u)) / 8);
}

/*
 * A new RTT sample of rtt ms into *srtt8 and its mean deviation *var8 (1/8 ms, both gain 1/4;
 * the first sample as it is, its deviation half of it, as RFC 6298 starts).
 */
static void
path_rtt_step(uint32_t *srtt8, uint32_t *var8, uint32_t *n, uint32_t rtt)
{
	uint64_t r8 = (uint64_t)(rtt > 600000 ? 600000 : rtt) * 8;
	uint64_t dev = r8 > *srtt8 ? r8 - *srtt8 : *srtt8 - r8;

	if (!*n) {
		*srtt8 = (uint32_t)r8;
		*var8 = (uint32_t)(r8 / 2);
	} else {
		*var8 = (uint32_t)((3 * (uint64_t)*var8 + dev) / 4);
		*srtt8 = (uint32_t)((3 * (uint64_t)*srtt8 + r8) / 4);
	}
	(*n)++;
}

/* The alternate with the lowest RTT among those that answer, or NULL. */
static struct path_alt *
path_alt_best(struct path_set *s, uint64_t now, uint64_t dead_after_ms)
{
	struct path_alt *best = NULL;

	for (size_t i = 0; i < PATH_ALT_MAX; i++) {
		struct path_alt *a = &s->alt[i];

		if (!path_alt_is_alive(a, now, dead_after_ms))
			continue;
		/* Untimed (only a keepalive's answer so far) sorts last. */
		if (!best || (a->rtt_n && (!best->rtt_n || a->srtt8 < best->srtt8)))
			best = a;
	}
	return best;
}

static bool
path_alt_any_validated(const struct path_set *s, uint64_t now, uint64_t dead_after_ms)
{
	for (size_t i = 0; i < PATH_ALT_MAX; i++)
		if (path_alt_is_alive(&s->alt[i], now, dead_after_ms))
			return true;
	return false;
}

bool
path_set_upkeep(struct path_set *s, uint64_t now, uint64_t dead_after_ms, const char *who)
{
	struct path_alt *alt;

	if (!s->endpoint.ss_family || !s->last_udp_rx_ms)
		return false; /* UDP never worked: keepalives and probing rounds find it */
	if (!s->last_data_ms || now - s->last_data_ms > PATH_ACTIVE_MS)
		return false; /* idle: keepalives watch it */
	if (s->failed_ms) {
		if (now - s->probe_last_ms < PATH_RETRY_MS)
			return false;
		if (s->probe_sent_ms)
			s->answers = 0; /* the last one went unanswered: not in a row */
		return true;
	}
	if (s->probe_sent_ms) {
		if (now - s->probe_sent_ms < path_probe_timeout_ms(s->srtt8))
			return false;
		s->probe_sent_ms = 0;
		s->loss_pm = path_loss_step(s->loss_pm, true);
		if (++s->misses < PATH_FAIL_MISSES)
			return true; /* once more, before anything moves */
		if ((alt = path_alt_best(s, now, dead_after_ms))) {
			char was[SOCKADDR_STR_MAX], is[SOCKADDR_STR_MAX], rtt[16];

			sockaddr_show(&s->endpoint, was, sizeof(was));
			sockaddr_show(&alt->addr, is, sizeof(is));
			path_rtt_show(alt->srtt8, rtt, sizeof(rtt));
			log_info("peer %s: path udp %s -> udp %s: %s stopped answering (%u probes "
				 "unanswered, nothing for %llu ms); %s answers (rtt %s ms)",
				 who, was, is, was, s->misses,
				 (unsigned long long)(now - s->last_udp_rx_ms), is,
				 alt->rtt_n ? rtt : "?");
			path_move_to(s, &alt->addr);
			s->alt_failovers++;
			s->switch_ms = now ? now : 1;
			return false;
		}
		s->failed_ms = now;
		s->answers = 0;
		s->failovers++;
		log_info(
		    "peer %s: udp path stopped answering (%u probes unanswered, nothing for %llu "
		    "ms): frames go by the %s until it answers again",
		    who, s->misses, (unsigned long long)(now - s->last_udp_rx_ms),
		    s->stream && !s->stream_relayed ? "link"
		    : s->relay || s->stream_relayed ? "relay"
						    : "same path");
		return true;
	}
	if (now - s->last_udp_rx_ms > dead_after_ms)
		return false;
	/*
	 * Quiet: is it still there? Or busy, but the proof that it works both ways (the last
	 * answer) is half the dead-peer interval old: renewed, before it lapses under a steady
	 * flow and frames leave a UDP path that works.
	 */
	if (now - s->last_udp_rx_ms >= PATH_QUIET_MS ||
	    (s->validated_ms && now - s->validated_ms >= dead_after_ms / 2))
		return true;
	/* Another endpoint answers: a fresh RTT of this one a second too, to compare. */
	return now - s->probe_last_ms >= PATH_ALT_PROBE_MS &&
	       path_alt_any_validated(s, now, dead_after_ms);
}

/*
 * Does a beat the current endpoint by the margin (path.h)? Both timed, the current working
 * (it is compared only while it answers: a failing one is left by failover, not by this).
 * Each RTT counts with its jitter against it: a's smoothed RTT plus its mean deviation must be
 * under the current's minus its own, so that two paths whose samples overlap never look apart.
 */
static bool
path_alt_beats(const struct path_set *s, const struct path_alt *a)
{
	uint64_t cur = s->srtt8 > s->var8 ? s->srtt8 - s->var8 : 0;
	uint64_t mine = (uint64_t)a->srtt8 + a->var8;

	if (!a->rtt_n || !s->rtt_n || s->failed_ms || s->misses)
		return false;
	return mine * 100 <= cur * (100 - PATH_SWITCH_PCT) &&
	       cur >= mine + 8 * PATH_SWITCH_MIN_MS &&
	       a->loss_pm <= s->loss_pm + PATH_SWITCH_LOSS_PM;
}

const struct sockaddr_storage *
path_set_alt_upkeep(struct path_set *s, uint64_t now, uint64_t dead_after_ms, uint32_t *seq)
{
	uint64_t due = UINT64_MAX;

	if (now < s->alt_due_ms)
		return NULL; /* the per-frame cost: one comparison */
	if (!s->endpoint.ss_family || !s->last_data_ms || now - s->last_data_ms > PATH_ACTIVE_MS) {
		s->alt_due_ms = now + PATH_QUIET_MS; /* idle: alternates are left alone */
		return NULL;
	}
	for (size_t i = 0; i < PATH_ALT_MAX; i++) {
		struct path_alt *a = &s->alt[i];
		uint64_t every, at;

		if (!a->addr.ss_family)
			continue;
		if (a->probe_sent_ms) {
			at = a->probe_sent_ms + path_probe_timeout_ms(a->srtt8);
			if (now < at) {
				due = at < due ? at : due;
				continue;
			}
			a->probe_sent_ms = 0; /* unanswered */
			a->misses++;
			a->better = 0;
			a->loss_pm = path_loss_step(a->loss_pm, true);
		}
		every = path_alt_is_alive(a, now, dead_after_ms) ? PATH_ALT_PROBE_MS
								 : PATH_ALT_UNPROVEN_MS;
		at = a->probe_last_ms ? a->probe_last_ms + every : now;
		if (now >= at) {
			a->probe_sent_ms = a->probe_last_ms = now ? now : 1;
			a->probe_seq = *seq = ++s->seq_next;
			a->probes_sent++;
			s->probes_sent++;
			return &a->addr; /* the next call looks at the rest */
		}
		due = at < due ? at : due;
	}
	s->alt_due_ms = due;
	return NULL;
}

/* a (an alternate) answered probe seq at now: timed; it may take over. */
static void
path_alt_on_answer(struct path_set *s, struct path_alt *a, uint32_t seq, uint64_t now,
		   const char *who)
{
	char was[SOCKADDR_STR_MAX], is[SOCKADDR_STR_MAX], r_new[16], r_old[16];
	struct sockaddr_storage to;

	a->validated_ms = now ? now : 1;
	if (!seq || !a->probe_sent_ms || seq != a->probe_seq)
		return; /* a keepalive's answer, or a stale one: proves the round trip, no time */
	path_rtt_step(&a->srtt8, &a->var8, &a->rtt_n, (uint32_t)(now - a->probe_sent_ms));
	a->rtt_ms = (uint32_t)(now - a->probe_sent_ms);
	a->probe_sent_ms = 0;
	a->misses = 0;
	a->loss_pm = path_loss_step(a->loss_pm, false);
	a->probes_answered++;
	s->probes_answered++;
	if (!path_alt_beats(s, a)) {
		a->better = 0;
		return;
	}
	if (!a->better++)
		a->better_since_ms = now;
	if (a->better < PATH_SWITCH_SAMPLES || now - a->better_since_ms < PATH_SWITCH_HOLD_MS)
		return;
	sockaddr_show(&s->endpoint, was, sizeof(was));
	sockaddr_show(&a->addr, is, sizeof(is));
	path_rtt_show(a->srtt8, r_new, sizeof(r_new));
	path_rtt_show(s->srtt8, r_old, sizeof(r_old));
	log_info("peer %s: path udp %s -> udp %s: lower rtt %s ms vs %s ms (%u probes in a row "
		 "over %llu ms)",
		 who, was, is, r_new, r_old, a->better,
		 (unsigned long long)(now - a->better_since_ms));
	to = a->addr;
	path_move_to(s, &to);
	s->switches++;
	s->switch_ms = now ? now : 1;
}

void
path_set_on_answer(struct path_set *s, const struct sockaddr_storage *from, uint32_t seq,
		   uint64_t now, uint64_t dead_after_ms, const char *who)
{
	struct path_alt *a;

	(void)dead_after_ms;
	if (sockaddr_same(from, &s->endpoint)) {
		path_set_on_validated(s, now);
		if (seq)
			path_set_on_probe_answer(s, seq, now, who);
		return;
	}
	path_set_learn(s, from, now);
	if ((a = path_alt_find(s, from)))
		path_alt_on_answer(s, a, seq, now, who);
}

void
path_set_on_validated(struct path_set *s, uint64_t now)
{
	s->validated_ms = now ? now : 1;
}

void
path_set_on_data(struct path_set *s, uint64_t now)
{
	s->last_data_ms = now ? now : 1;
}

uint32_t
path_set_probe_sent(struct path_set *s, uint64_t now)
{
	s->probe_sent_ms = s->probe_last_ms = now ? now : 1;
	s->probes_sent++;
	return s->probe_seq = ++s->seq_next;
}

bool
path_set_on_probe_answer(struct path_set *s, uint32_t seq, uint64_t now, const char *who)
{
	uint32_t rtt;

	if (!s->probe_sent_ms || seq != s->probe_seq)
		return false;
	rtt = (uint32_t)(now - s->probe_sent_ms);
	s->probe_sent_ms = 0;
	s->misses = 0;
	path_set_on_validated(s, now);
	s->probes_answered++;
	s->rtt_ms = rtt;
	path_rtt_step(&s->srtt8, &s->var8, &s->rtt_n, rtt);
	s->srtt_ms = (s->srtt8 + 4) / 8;
	s->loss_pm = path_loss_step(s->loss_pm, false);
	/* The current one's new RTT may end an alternate's streak of beating it. */
	for (size_t i = 0; i < PATH_ALT_MAX; i++)
		if (s->alt[i].better && !path_alt_beats(s, &s->alt[i]))
			s->alt[i].better = 0;
	if (s->failed_ms && ++s->answers >= PATH_RECOVER_ANSWERS) {
		log_info("peer %s: udp path answers again (%u probes in a row, rtt %u ms) after "
			 "%llu ms",
			 who, s->answers, rtt, (unsigned long long)(now - s->failed_ms));
		s->failed_ms = 0;
		s->answers = 0;
	}
	return true;
}

void
path_set_on_stream_up(struct path_set *s, struct link *l, bool we_dialed,
		      const struct sockaddr_storage *remote, bool heard)
{
	s->stream = l;
	s->stream_relayed = path_dial_is_relay(remote);
	if (s->stream_relayed)
		return;
	if (we_dialed && (!s->endpoint.ss_family || !heard) && !sockaddr_same(remote, &s->endpoint))
		path_move_to(s, remote);
}

void
path_set_on_stream_gone(struct path_set *s, const struct link *l)
{
	if (s->stream == l) {
		s->stream = NULL;
		s->stream_relayed = false;
	}
}

enum path_kind
path_choose(const struct path_set *s, uint64_t now, uint64_t dead_after_ms)
{
	bool relayed = s->stream_relayed || (!s->stream && s->relay);

	if (s->endpoint.ss_family &&
	    (path_set_udp_is_alive(s, now, dead_after_ms) || (!s->stream && !s->relay)))
		return PATH_UDP;
	if (relayed)
		return PATH_RELAY;
	return s->stream ? PATH_STREAM : PATH_NONE;
}

const char *
path_kind_name(enum path_kind k)
{
	switch (k) {
	case PATH_UDP:
		return "udp";
	case PATH_STREAM:
		return "tcp";
	case PATH_RELAY:
		return "relay";
	default:
		return "none";
	}
}
