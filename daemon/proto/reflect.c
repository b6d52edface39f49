// SPDX-License-Identifier: MIT
/*
 * The reflection codec (reflect.h): fixed 48-byte datagrams, every unused byte zero so each
 * message has one encoding.
 */
#include "proto/reflect.h"

#include <netinet/in.h>
#include <string.h>

#include "core/rbuf.h"
#include "core/sockaddr.h"
#include "core/wbuf.h"

static bool
reflect_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

void
reflect_request_encode(uint8_t out[REFLECT_LEN], uint64_t nonce, uint8_t flags)
{
	struct wbuf w;

	memset(out, 0, REFLECT_LEN);
	wbuf_init(&w, out, REFLECT_LEN);
	wbuf_put_u8(&w, REFLECT_REQUEST);
	wbuf_put_u8(&w, flags & (REFLECT_OTHER_PORT | REFLECT_OTHER_ADDRESS));
	wbuf_put_u16(&w, 0);
	wbuf_put_u64(&w, nonce);
}

bool
reflect_request_decode(const uint8_t *buf, size_t len, uint64_t *nonce, uint8_t *flags)
{
	struct rbuf r;

	if (len != REFLECT_LEN || buf[0] != REFLECT_REQUEST ||
	    (buf[1] & ~(REFLECT_OTHER_PORT | REFLECT_OTHER_ADDRESS)) ||
	    buf[1] == (REFLECT_OTHER_PORT | REFLECT_OTHER_ADDRESS) || !reflect_zero(buf + 2, 2) ||
	    !reflect_zero(buf + 12, REFLECT_LEN - 12))
		return false;
	*flags = buf[1];
	rbuf_init(&r, buf + 4, 8);
	return rbuf_get_u64(&r, nonce);
}

/* An address field (16 bytes: IPv4 in the first 4) of u, unmapped; its family (4 or 6), or 0. */
static uint8_t
reflect_put_addr(uint8_t field[16], const struct sockaddr_storage *u)
{
	if (u->ss_family == AF_INET) {
		memcpy(field, &((const struct sockaddr_in *)u)->sin_addr, 4);
		return 4;
	}
	if (u->ss_family == AF_INET6) {
		memcpy(field, &((const struct sockaddr_in6 *)u)->sin6_addr, 16);
		return 6;
	}
	return 0;
}

bool
reflect_response_encode(uint8_t out[REFLECT_LEN], uint64_t nonce,
			const struct sockaddr_storage *addr, const struct sockaddr_storage *other)
{
	struct sockaddr_storage u, uo = { 0 };
	uint16_t port_be;
	uint8_t family;
	struct wbuf w;

	sockaddr_unmap(addr, &u);
	if (other)
		sockaddr_unmap(other, &uo);
	memset(out, 0, REFLECT_LEN);
	if (!(family = reflect_put_addr(out + 12, &u)) ||
	    (uo.ss_family && reflect_put_addr(out + 32, &uo) != family))
		return false;
	port_be = family == 4 ? ((const struct sockaddr_in *)&u)->sin_port
			      : ((const struct sockaddr_in6 *)&u)->sin6_port;
	out[0] = REFLECT_RESPONSE;
	out[1] = family;
	memcpy(out + 2, &port_be, 2);
	out[28] = uo.ss_family ? family : 0;
	wbuf_init(&w, out + 4, 8);
	wbuf_put_u64(&w, nonce);
	return wbuf_ok(&w);
}

/* An address field of the given family (4 or 6) into out, with port_be; false if not one. */
static bool
reflect_get_addr(const uint8_t field[16], uint8_t family, uint16_t port_be,
		 struct sockaddr_storage *out)
{
	struct in6_addr a6;

	memset(out, 0, sizeof(*out));
	if (family == 4 && reflect_zero(field + 4, 12)) {
		struct sockaddr_in *s4 = (void *)out;

		s4->sin_family = AF_INET;
		s4->sin_port = port_be;
		memcpy(&s4->sin_addr, field, 4);
		return true;
	}
	memcpy(&a6, field, sizeof(a6)); /* a datagram's bytes: no alignment to lean on */
	if (family == 6 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
		struct sockaddr_in6 *s6 = (void *)out;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = port_be;
		s6->sin6_addr = a6;
		return true;
	}
	return false;
}

bool
reflect_response_decode(const uint8_t *buf, size_t len, uint64_t *nonce,
			struct sockaddr_storage *addr, struct sockaddr_storage *other)
{
	uint16_t port_be;
	struct rbuf r;

	if (len != REFLECT_LEN || buf[0] != REFLECT_RESPONSE || !reflect_zero(buf + 29, 3))
		return false;
	memcpy(&port_be, buf + 2, 2);
	rbuf_init(&r, buf + 4, 8);
	if (!rbuf_get_u64(&r, nonce) || !port_be ||
	    !reflect_get_addr(buf + 12, buf[1], port_be, addr))
		return false;
	if (!buf[28]) {
		memset(other, 0, sizeof(*other));
		return reflect_zero(buf + 32, 16);
	}
	return buf[28] == buf[1] && reflect_get_addr(buf + 32, buf[28], 0, other);
}

bool
reflect_is_reflect(const uint8_t *buf, size_t len)
{
	return len >= 1 && (buf[0] == REFLECT_REQUEST || buf[0] == REFLECT_RESPONSE);
}
