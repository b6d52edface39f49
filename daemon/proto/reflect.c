// SPDX-License-Identifier: MIT
/*
 * The reflection codec (reflect.h): fixed 32-byte datagrams, every unused byte zero so each
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
	wbuf_put_u8(&w, flags & REFLECT_OTHER_PORT);
	wbuf_put_u16(&w, 0);
	wbuf_put_u64(&w, nonce);
}

bool
reflect_request_decode(const uint8_t *buf, size_t len, uint64_t *nonce, uint8_t *flags)
{
	struct rbuf r;

	if (len != REFLECT_LEN || buf[0] != REFLECT_REQUEST || (buf[1] & ~REFLECT_OTHER_PORT) ||
	    !reflect_zero(buf + 2, 2) || !reflect_zero(buf + 12, REFLECT_LEN - 12))
		return false;
	*flags = buf[1];
	rbuf_init(&r, buf + 4, 8);
	return rbuf_get_u64(&r, nonce);
}

bool
reflect_response_encode(uint8_t out[REFLECT_LEN], uint64_t nonce,
			const struct sockaddr_storage *addr)
{
	struct sockaddr_storage u;
	struct wbuf w;

	sockaddr_unmap(addr, &u);
	memset(out, 0, REFLECT_LEN);
	wbuf_init(&w, out, REFLECT_LEN);
	wbuf_put_u8(&w, REFLECT_RESPONSE);
	if (u.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&u;

		wbuf_put_u8(&w, 4);
		wbuf_put_bytes(&w, &s4->sin_port, 2);
		wbuf_put_u64(&w, nonce);
		wbuf_put_bytes(&w, &s4->sin_addr, 4);
	} else if (u.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&u;

		wbuf_put_u8(&w, 6);
		wbuf_put_bytes(&w, &s6->sin6_port, 2);
		wbuf_put_u64(&w, nonce);
		wbuf_put_bytes(&w, &s6->sin6_addr, 16);
	} else {
		return false;
	}
	return wbuf_ok(&w);
}

bool
reflect_response_decode(const uint8_t *buf, size_t len, uint64_t *nonce,
			struct sockaddr_storage *addr)
{
	uint8_t family;
	uint16_t port_be;
	struct in6_addr a6;
	struct rbuf r;

	if (len != REFLECT_LEN || buf[0] != REFLECT_RESPONSE || !reflect_zero(buf + 28, 4))
		return false;
	family = buf[1];
	memcpy(&port_be, buf + 2, 2);
	rbuf_init(&r, buf + 4, 8);
	if (!rbuf_get_u64(&r, nonce) || !port_be)
		return false;
	memset(addr, 0, sizeof(*addr));
	if (family == 4 && reflect_zero(buf + 16, 12)) {
		struct sockaddr_in *s4 = (void *)addr;

		s4->sin_family = AF_INET;
		s4->sin_port = port_be;
		memcpy(&s4->sin_addr, buf + 12, 4);
		return true;
	}
	memcpy(&a6, buf + 12, sizeof(a6)); /* a datagram's bytes: no alignment to lean on */
	if (family == 6 && !IN6_IS_ADDR_V4MAPPED(&a6)) {
		struct sockaddr_in6 *s6 = (void *)addr;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = port_be;
		memcpy(&s6->sin6_addr, buf + 12, 16);
		return true;
	}
	return false;
}

bool
reflect_is_reflect(const uint8_t *buf, size_t len)
{
	return len >= 1 && (buf[0] == REFLECT_REQUEST || buf[0] == REFLECT_RESPONSE);
}
