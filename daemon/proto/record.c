// SPDX-License-Identifier: MIT
/*
 * Stream records (record.h): the 6-byte header and the HELLO body.
 *
 * A reader decodes the header first and checks the length against the type's limit before it
 * buffers a single body byte, so a peer cannot make us hold more than the largest record we are
 * willing to take. Known types with a fixed size (HELLO, CLOSE) must have exactly that size: a
 * longer HELLO would be a new protocol version, and that gets a new record type rather than
 * trailing bytes we would have to ignore.
 */
#include "record.h"

#include <string.h>

#include "core/rbuf.h"
#include "core/wbuf.h"
#include "proto/ctlmsg.h"
#include "proto/frame.h"

uint32_t
record_body_max(uint16_t type)
{
	switch (type) {
	case RECORD_HELLO:
		return HELLO_LEN;
	case RECORD_FRAME:
		return FRAME_MAX_LEN;
	case RECORD_CLOSE:
		return 0;
	case RECORD_CIPHERS:
		return CIPHERS_LEN;
	default:
		/* Control messages (types 16 and up) know their own largest encoding. */
		if (ctlmsg_is_known(type))
			return ctlmsg_body_max(type);
		return RECORD_BODY_MAX;
	}
}

/* Types whose body has one exact size rather than a maximum. */
static bool
record_is_fixed_size(uint16_t type)
{
	return type == RECORD_HELLO || type == RECORD_CLOSE || type == RECORD_CIPHERS;
}

void
record_hdr_encode(uint8_t out[RECORD_HDR_LEN], const struct record_hdr *h)
{
	struct wbuf w;

	wbuf_init(&w, out, RECORD_HDR_LEN);
	wbuf_put_u16(&w, h->type);
	wbuf_put_u32(&w, h->len);
}

bool
record_hdr_decode(const uint8_t *buf, size_t len, struct record_hdr *h)
{
	struct rbuf r;
	uint16_t type;
	uint32_t body;

	rbuf_init(&r, buf, len);
	rbuf_get_u16(&r, &type);
	if (!rbuf_get_u32(&r, &body))
		return false;
	if (body > record_body_max(type))
		return false;
	if (record_is_fixed_size(type) && body != record_body_max(type))
		return false;
	h->type = type;
	h->len = body;
	return true;
}

void
hello_encode(uint8_t out[HELLO_LEN], const struct hello *h)
{
	struct wbuf w;

	wbuf_init(&w, out, HELLO_LEN);
	wbuf_put_u8(&w, h->version);
	wbuf_put_u8(&w, 0); /* flags */
	wbuf_put_u16(&w, 0);
	wbuf_put_u32(&w, h->receiver);
	wbuf_put_bytes(&w, h->addr4, sizeof(h->addr4));
	wbuf_put_bytes(&w, h->addr6, sizeof(h->addr6));
}

bool
hello_decode(const uint8_t *buf, size_t len, struct hello *h)
{
	struct rbuf r;
	uint8_t version, flags;
	uint16_t reserved;
	uint32_t receiver;
	uint8_t addr4[4], addr6[16];

	if (len != HELLO_LEN)
		return false;
	rbuf_init(&r, buf, len);
	rbuf_get_u8(&r, &version);
	rbuf_get_u8(&r, &flags);
	rbuf_get_u16(&r, &reserved);
	rbuf_get_u32(&r, &receiver);
	rbuf_get_bytes(&r, addr4, sizeof(addr4));
	if (!rbuf_get_bytes(&r, addr6, sizeof(addr6)))
		return false;
	/* No flags are defined yet: a set bit means a peer we do not understand. */
	if (version != HELLO_VERSION || flags != 0 || reserved != 0 || receiver == 0)
		return false;
	h->version = version;
	h->receiver = receiver;
	memcpy(h->addr4, addr4, sizeof(addr4));
	memcpy(h->addr6, addr6, sizeof(addr6));
	return true;
}

bool
ciphers_decode(const uint8_t *buf, size_t len, uint8_t *bits)
{
	if (len != CIPHERS_LEN)
		return false;
	*bits = buf[0];
	return true;
}
