// SPDX-License-Identifier: MIT
/*
 * SOCKS5 messages (socks.h): parsers that read only through a bounded cursor over what the
 * caller has, and the server's two encoders.
 */
#include <errno.h>
#include <string.h>

#include "core/rbuf.h"
#include "socks/socks.h"

static const char *const socks_reply_names[SOCKS_REP_MAX + 1] = {
	[SOCKS_REP_SUCCEEDED] = "succeeded",
	[SOCKS_REP_GENERAL_FAILURE] = "general failure",
	[SOCKS_REP_NOT_ALLOWED] = "connection not allowed by ruleset",
	[SOCKS_REP_NET_UNREACH] = "network unreachable",
	[SOCKS_REP_HOST_UNREACH] = "host unreachable",
	[SOCKS_REP_CONN_REFUSED] = "connection refused",
	[SOCKS_REP_TTL_EXPIRED] = "TTL expired",
	[SOCKS_REP_CMD_UNSUPPORTED] = "command not supported",
	[SOCKS_REP_ATYP_UNSUPPORTED] = "address type not supported",
};

enum socks_status
socks_parse_greeting(const uint8_t *buf, size_t len, struct socks_greeting *g, size_t *used)
{
	if (len < 2)
		return SOCKS_NEED_MORE;
	if (buf[0] != SOCKS_VERSION || buf[1] == 0)
		return SOCKS_BAD;
	if (len < 2 + (size_t)buf[1])
		return SOCKS_NEED_MORE;
	g->noauth = memchr(buf + 2, SOCKS_METHOD_NOAUTH, buf[1]) != NULL;
	*used = 2 + (size_t)buf[1];
	return SOCKS_DONE;
}

void
socks_encode_method(uint8_t out[SOCKS_METHOD_LEN], uint8_t method)
{
	out[0] = SOCKS_VERSION;
	out[1] = method;
}

/*
 * A DOMAINNAME (len bytes, no NUL) into r->name: "user@domain[/purpose]", or
 * "user.at.domain" with an optional trailing dot.
 */
static bool
socks_parse_name(const uint8_t *name, size_t len, struct identity *id)
{
	char s[SOCKS_NAME_MAX + 2];
	char *at;

	if (len == 0 || memchr(name, '\0', len) != NULL)
		return false;
	memcpy(s, name, len);
	s[len] = '\0';
	if (strchr(s, '@') != NULL)
		return identity_parse(s, 0, id, NULL) == 0;
	if (s[len - 1] == '.')
		s[len - 1] = '\0';
	at = strcasestr(s, ".at.");
	if (at == NULL || at == s)
		return false;
	/* "user.at.domain" -> "user@domain": the 4 bytes ".at." become the 1 byte "@". */
	at[0] = '@';
	memmove(at + 1, at + 4, strlen(at + 4) + 1);
	return identity_parse(s, IDENTITY_PURPOSE_FORBIDDEN, id, NULL) == 0;
}

static void
socks_set_addr(struct socks_request *r, const uint8_t *a, uint16_t port)
{
	memset(&r->addr, 0, sizeof(r->addr));
	if (r->atyp == SOCKS_ATYP_IPV4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&r->addr;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		s4->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&r->addr;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		s6->sin6_port = htons(port);
	}
}

enum socks_status
socks_parse_request(const uint8_t *buf, size_t len, struct socks_request *r, size_t *used,
		    enum socks_reply *rep)
{
	struct rbuf rb;
	uint8_t ver, cmd, rsv, atyp, nlen = 0;
	const uint8_t *a;
	size_t alen;
	uint16_t port;

	rbuf_init(&rb, buf, len);
	*rep = SOCKS_REP_GENERAL_FAILURE;
	if (!rbuf_get_u8(&rb, &ver) || !rbuf_get_u8(&rb, &cmd) || !rbuf_get_u8(&rb, &rsv) ||
	    !rbuf_get_u8(&rb, &atyp))
		return SOCKS_NEED_MORE;
	if (ver != SOCKS_VERSION || rsv != 0)
		return SOCKS_BAD;
	if (cmd != SOCKS_CMD_CONNECT) {
		*rep = SOCKS_REP_CMD_UNSUPPORTED;
		return SOCKS_BAD;
	}
	if (atyp == SOCKS_ATYP_IPV4) {
		alen = 4;
	} else if (atyp == SOCKS_ATYP_IPV6) {
		alen = 16;
	} else if (atyp == SOCKS_ATYP_NAME) {
		if (!rbuf_get_u8(&rb, &nlen))
			return SOCKS_NEED_MORE;
		alen = nlen;
	} else {
		*rep = SOCKS_REP_ATYP_UNSUPPORTED;
		return SOCKS_BAD;
	}
	if (!rbuf_get_ptr(&rb, alen, &a) || !rbuf_get_u16(&rb, &port))
		return SOCKS_NEED_MORE;
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->atyp = atyp;
	r->port = port;
	if (atyp == SOCKS_ATYP_NAME) {
		if (!socks_parse_name(a, alen, &r->name)) {
			*rep = SOCKS_REP_HOST_UNREACH;
			return SOCKS_BAD;
		}
	} else {
		socks_set_addr(r, a, port);
	}
	*used = len - rbuf_remaining(&rb);
	*rep = SOCKS_REP_SUCCEEDED;
	return SOCKS_DONE;
}

size_t
socks_encode_reply(uint8_t out[SOCKS_REPLY_MAX], enum socks_reply rep,
		   const struct sockaddr_storage *bound)
{
	size_t n = 4;
	uint16_t port = 0;

	if ((unsigned)rep > SOCKS_REP_MAX)
		return 0;
	out[0] = SOCKS_VERSION;
	out[1] = (uint8_t)rep;
	out[2] = 0;
	if (bound != NULL && bound->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)bound;

		out[3] = SOCKS_ATYP_IPV6;
		memcpy(out + n, &s6->sin6_addr, 16);
		n += 16;
		port = ntohs(s6->sin6_port);
	} else {
		out[3] = SOCKS_ATYP_IPV4;
		memset(out + n, 0, 4);
		if (bound != NULL && bound->ss_family == AF_INET) {
			const struct sockaddr_in *s4 = (const struct sockaddr_in *)bound;

			memcpy(out + n, &s4->sin_addr, 4);
			port = ntohs(s4->sin_port);
		}
		n += 4;
	}
	out[n++] = (uint8_t)(port >> 8);
	out[n++] = (uint8_t)port;
	return n;
}

const char *
socks_reply_name(enum socks_reply rep)
{
	return (unsigned)rep <= SOCKS_REP_MAX ? socks_reply_names[rep] : "?";
}
