// SPDX-License-Identifier: MIT
/*
 * A peer's paths and the choice between them. See path.h.
 */
#include "path/path.h"

#include <string.h>

#include "core/log.h"
#include "core/sockaddr.h"

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

const struct sockaddr_storage *
path_set_next_dial(struct path_set *s)
{
	if (!s->ndial)
		return NULL;
	return &s->dial[s->next_dial++ % s->ndial];
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
	if (we_dialed && (!s->endpoint.ss_family || !heard))
		s->endpoint = *remote;
}

void
path_set_on_stream_gone(struct path_set *s, const struct link *l)
{
	if (s->stream == l)
		s->stream = NULL;
}

enum path_kind
path_choose(const struct path_set *s, uint64_t now, uint64_t dead_after_ms)
{
	if (s->endpoint.ss_family && (path_set_udp_is_alive(s, now, dead_after_ms) || !s->stream))
		return PATH_UDP;
	return s->stream ? PATH_STREAM : PATH_NONE;
}

const char *
path_kind_name(enum path_kind k)
{
	return k == PATH_UDP ? "udp" : k == PATH_STREAM ? "tcp" : "none";
}
