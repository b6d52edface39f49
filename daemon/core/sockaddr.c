// SPDX-License-Identifier: MIT
/*
 * Socket addresses: parse, format, compare, map. See sockaddr.h.
 */
#include "core/sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Strict decimal 1..65535: digits only, no sign, no blanks. */
static int
sockaddr_port(const char *s, in_port_t *port)
{
	uint32_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(*s - '0');
		if (v > 65535)
			return -EINVAL;
	}
	if (v == 0)
		return -EINVAL;
	*port = htons((uint16_t)v);
	return 0;
}

int
sockaddr_parse(const char *s, struct sockaddr_storage *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	char host[INET6_ADDRSTRLEN];
	const char *end;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1 ||
		    sockaddr_port(end + 2, &sin6->sin6_port) < 0)
			goto err;
		return 0;
	}
	end = strchr(s, ':');
	if (!end || (size_t)(end - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(end - s));
	host[end - s] = '\0';
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1 || sockaddr_port(end + 1, &sin->sin_port))
		goto err;
	return 0;
err:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

void
sockaddr_unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)in;

	memcpy(out, in, sizeof(*out));
	if (in->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		in_port_t port = s6->sin6_port;
		struct in_addr v4;

		memcpy(&v4, &s6->sin6_addr.s6_addr[12], 4);
		memset(out, 0, sizeof(*out));
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		s4->sin_addr = v4;
	}
}

void
sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "(none)");
	}
}

void
sockaddr_show(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct sockaddr_storage u;

	sockaddr_unmap(ss, &u);
	sockaddr_format(&u, buf, len);
}

bool
sockaddr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		       memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
	return true;
}

/* An IPv4 address, or an IPv4-mapped IPv6 one: its address and port (network order). */
static bool
sockaddr_ipv4_of(const struct sockaddr_storage *ss, uint32_t *addr, in_port_t *port)
{
	const struct sockaddr_in *s4 = (const void *)ss;
	const struct sockaddr_in6 *s6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		*addr = s4->sin_addr.s_addr;
		*port = s4->sin_port;
		return true;
	}
	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return false;
	memcpy(addr, &s6->sin6_addr.s6_addr[12], 4);
	*port = s6->sin6_port;
	return true;
}

bool
sockaddr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	uint32_t a4 = 0, b4 = 0;
	in_port_t ap = 0, bp = 0;
	bool av4 = sockaddr_ipv4_of(a, &a4, &ap), bv4 = sockaddr_ipv4_of(b, &b4, &bp);

	/* Per datagram on the packet path: no copies, the mapped form read in place. */
	if (av4 || bv4)
		return av4 && bv4 && a4 == b4 && ap == bp;
	return sockaddr_equal(a, b);
}

socklen_t
sockaddr_for_family(int family, const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	if (in->ss_family == AF_INET && family == AF_INET6) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)in;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = s4->sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		return sizeof(*s6);
	}
	memcpy(out, in, sizeof(*out));
	return in->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}
