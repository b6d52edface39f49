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
path_set_on_udp_rx(struct path_set *s, const struct sockaddr_storage *from, uint64_t now,
		   const char *who)
{
	s->last_udp_rx_ms = now;
	if (!sockaddr_same(from, &s->endpoint)) {
		char was[SOCKADDR_STR_MAX], is[SOCKADDR_STR_MAX];

		sockaddr_show(&s->endpoint, was, sizeof(was));
		sockaddr_show(from, is, sizeof(is));
		log_info("peer %s: endpoint %s -> %s", who, was, is);
		s->endpoint = *from;
		s->failed_ms = s->probe_sent_ms = 0; /* a new path: nothing known of it yet */
		s->answers = s->misses = 0;
		s->srtt_ms = 0;
		s->validated_ms = 0;
	}
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
path_probe_timeout_ms(const struct path_set *s)
{
	uint64_t t = PATH_QUIET_MS + 2 * (uint64_t)s->srtt_ms;

	return t < PATH_PROBE_TIMEOUT_MAX_MS ? t : PATH_PROBE_TIMEOUT_MAX_MS;
}

bool
path_set_upkeep(struct path_set *s, uint64_t now, uint64_t dead_after_ms, const char *who)
{
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
		if (now - s->probe_sent_ms < path_probe_timeout_ms(s))
			return false;
		s->probe_sent_ms = 0;
		if (++s->misses < PATH_FAIL_MISSES)
			return true; /* once more, before anything moves */
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
	return now - s->last_udp_rx_ms >= PATH_QUIET_MS ||
	       (s->validated_ms && now - s->validated_ms >= dead_after_ms / 2);
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
	return ++s->probe_seq;
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
	s->srtt_ms = s->srtt_ms ? (uint32_t)((7 * (uint64_t)s->srtt_ms + rtt) / 8) : rtt;
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
	if (we_dialed && (!s->endpoint.ss_family || !heard))
		s->endpoint = *remote;
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
