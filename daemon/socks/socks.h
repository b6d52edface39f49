/* SPDX-License-Identifier: MIT */
/*
 * SOCKS5 (RFC 1928) messages, no-auth only (docs/userspace.md): the client's greeting and
 * CONNECT request parsed, the method choice and the reply encoded. Pure: no I/O, no state
 * between calls.
 *
 * Incremental: the caller keeps what it has read (at most SOCKS_GREETING_MAX, then at most
 * SOCKS_REQUEST_MAX bytes) and calls the parser again after each read; it answers
 * SOCKS_NEED_MORE until a whole message is there, then SOCKS_DONE with the bytes it used (a
 * client may send its request right behind its greeting), or SOCKS_BAD with the reply code to
 * send before closing.
 *
 * Destinations: an IPv4 or IPv6 address (a peer's overlay address, as this agent sees it) and
 * a port, or a DOMAINNAME naming a peer in one of two forms:
 *   user@domain[/purpose]   the identity grammar itself (trust/identity.h), for clients that
 *                           pass the name as it is (curl's socks5h:// with a raw name, our tools)
 *   user.at.domain          DNS-safe, for clients that take a host name (curl --socks5-hostname
 *                           http://bob.at.b.example.com:8080/, ssh -o ProxyCommand='nc -X 5 -x
 *                           127.0.0.1:1080 %h %p' bob.at.b.example.com): the first label "at"
 *                           splits user from domain (a user with a label "at" needs the first
 *                           form); one trailing dot is ignored; no purpose (the port picks it)
 * Both are case-folded; anything else is SOCKS_REP_HOST_UNREACH.
 */
#ifndef VERTEX_SOCKS_H
#define VERTEX_SOCKS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "trust/identity.h"

enum {
	SOCKS_VERSION = 5,
	SOCKS_METHOD_NOAUTH = 0x00,
	SOCKS_METHOD_NONE = 0xff, /* no acceptable method */
	SOCKS_CMD_CONNECT = 1,
	SOCKS_CMD_BIND = 2,
	SOCKS_CMD_UDP_ASSOCIATE = 3,
	SOCKS_ATYP_IPV4 = 1,
	SOCKS_ATYP_NAME = 3,
	SOCKS_ATYP_IPV6 = 4,
	SOCKS_NAME_MAX = 255,
	SOCKS_GREETING_MAX = 2 + 255,                   /* VER NMETHODS METHODS */
	SOCKS_REQUEST_MAX = 4 + 1 + SOCKS_NAME_MAX + 2, /* VER CMD RSV ATYP, a name, PORT */
	SOCKS_METHOD_LEN = 2,
	SOCKS_REPLY_MAX = 4 + 16 + 2, /* with an IPv6 BND.ADDR */
};

/* RFC 1928 §6: the REP field. */
enum socks_reply {
	SOCKS_REP_SUCCEEDED = 0,
	SOCKS_REP_GENERAL_FAILURE = 1,
	SOCKS_REP_NOT_ALLOWED = 2, /* by the ruleset: e.g. a purpose not approved */
	SOCKS_REP_NET_UNREACH = 3,
	SOCKS_REP_HOST_UNREACH = 4,
	SOCKS_REP_CONN_REFUSED = 5,
	SOCKS_REP_TTL_EXPIRED = 6,
	SOCKS_REP_CMD_UNSUPPORTED = 7,
	SOCKS_REP_ATYP_UNSUPPORTED = 8,
	SOCKS_REP_MAX = 8,
};

enum socks_status { SOCKS_NEED_MORE, SOCKS_DONE, SOCKS_BAD };

struct socks_greeting {
	bool noauth; /* the client offers "no authentication" */
};

struct socks_request {
	uint8_t cmd; /* SOCKS_CMD_CONNECT when SOCKS_DONE */
	uint8_t atyp;
	struct sockaddr_storage addr; /* ATYP_IPV4/IPV6: family, address, port */
	struct identity name;         /* ATYP_NAME: the peer (purpose "" unless given) */
	uint16_t port;                /* host order, for every atyp */
};

/*
 * The greeting in buf[0..len). SOCKS_DONE: *g filled, *used its length. SOCKS_BAD: not
 * SOCKS5, or no methods (the caller closes; there is no reply code for it).
 */
enum socks_status socks_parse_greeting(const uint8_t *buf, size_t len, struct socks_greeting *g,
				       size_t *used);
/* The server's choice: SOCKS_METHOD_NOAUTH or SOCKS_METHOD_NONE. Writes SOCKS_METHOD_LEN. */
void socks_encode_method(uint8_t out[SOCKS_METHOD_LEN], uint8_t method);

/*
 * The request in buf[0..len). SOCKS_DONE: a CONNECT, *r filled, *used its length.
 * SOCKS_BAD: *rep is the reply to send (CMD_UNSUPPORTED for BIND and UDP ASSOCIATE,
 * ATYP_UNSUPPORTED, HOST_UNREACH for a name in neither form, GENERAL_FAILURE for the rest).
 */
enum socks_status socks_parse_request(const uint8_t *buf, size_t len, struct socks_request *r,
				      size_t *used, enum socks_reply *rep);

/*
 * A reply with code rep and BND.ADDR/BND.PORT from bound (AF_INET or AF_INET6; NULL or another
 * family: 0.0.0.0:0). Returns its length (at most SOCKS_REPLY_MAX), 0 if rep is not a code.
 */
size_t socks_encode_reply(uint8_t out[SOCKS_REPLY_MAX], enum socks_reply rep,
			  const struct sockaddr_storage *bound);

/* "succeeded", "connection refused", ...; "?" for others. */
const char *socks_reply_name(enum socks_reply rep);

#endif
