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
	return s->ndial || s->relay;
}

const struct sockaddr_storage *
path_set_next_dial(struct path_set *s)
{
	size_t n = s->ndial + (s->relay ? 1 : 0), i;

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
	}
}

bool
path_set_udp_is_alive(const struct path_set *s, uint64_t now, uint64_t dead_after_ms)
{
	return s->last_udp_rx_ms && now - s->last_udp_rx_ms <= dead_after_ms;
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
