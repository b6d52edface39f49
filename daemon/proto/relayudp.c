// SPDX-License-Identifier: MIT
/*
 * The relay's datagrams (relayudp.h): a fixed header, then per type a sequence number and a
 * MAC, or a data frame. Every reserved byte is zero, so each message has one encoding.
 */
#include "proto/relayudp.h"

#include <string.h>

#include "core/rbuf.h"
#include "core/wbuf.h"

bool
rudp_is_rudp(const uint8_t *buf, size_t len)
{
	return len >= 1 && buf[0] >= RUDP_BIND && buf[0] <= RUDP_DATA;
}

static bool
rudp_len_ok(uint8_t type, size_t len)
{
	switch (type) {
	case RUDP_BIND:
	case RUDP_BIND_OK:
	case RUDP_PAIR_OK:
		return len == RUDP_CTL_LEN;
	case RUDP_PAIR:
		return len >= RUDP_CTL_LEN + 3 && len <= RUDP_PAIR_MAX_LEN;
	case RUDP_DATA:
		return len >= RUDP_DATA_MIN_LEN && len <= RUDP_DATA_MAX_LEN;
	}
	return false;
}

bool
rudp_hdr_decode(const uint8_t *buf, size_t len, struct rudp_hdr *h)
{
	struct rbuf r;
	uint8_t reserved;
	bool no_handle;

	rbuf_init(&r, buf, len);
	if (!rbuf_get_u8(&r, &h->type) || !rbuf_get_u8(&r, &reserved) ||
	    !rbuf_get_u16(&r, &h->handle) || !rbuf_get_u64(&r, &h->ticket))
		return false;
	if (reserved || !rudp_is_rudp(buf, len) || !rudp_len_ok(h->type, len))
		return false;
	no_handle = h->type == RUDP_BIND || h->type == RUDP_BIND_OK;
	if (no_handle)
		return h->handle == 0;
	return h->handle != 0;
}

size_t
rudp_ctl_encode(uint8_t *out, size_t cap, const struct rudp_ctl *m)
{
	struct wbuf w;
	size_t flen = 0, tlen = 0, len;
	struct rudp_hdr check;

	if (m->h.type == RUDP_PAIR) {
		flen = strnlen(m->from, sizeof(m->from));
		tlen = strnlen(m->to, sizeof(m->to));
		if (tlen == 0 || tlen > RUDP_ID_MAX || flen > RUDP_ID_MAX)
			return 0;
	} else if (m->h.type == RUDP_DATA) {
		return 0;
	}
	wbuf_init(&w, out, cap);
	wbuf_put_u8(&w, m->h.type);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, m->h.handle);
	wbuf_put_u64(&w, m->h.ticket);
	wbuf_put_u64(&w, m->seq);
	if (m->h.type == RUDP_PAIR) {
		wbuf_put_u8(&w, (uint8_t)flen);
		wbuf_put_bytes(&w, m->from, flen);
		wbuf_put_u8(&w, (uint8_t)tlen);
		wbuf_put_bytes(&w, m->to, tlen);
	}
	if (!wbuf_ok(&w))
		return 0;
	len = RUDP_HDR_LEN + RUDP_SEQ_LEN + (m->h.type == RUDP_PAIR ? 2 + flen + tlen : 0);
	if (len + RUDP_MAC_LEN > cap)
		return 0;
	memset(out + len, 0, RUDP_MAC_LEN);
	len += RUDP_MAC_LEN;
	return rudp_hdr_decode(out, len, &check) ? len : 0;
}

/* A u8 length and that many bytes, no NUL among them, into out[RUDP_ID_MAX + 1]. */
static bool
rudp_get_str(struct rbuf *r, char *out, bool nonempty)
{
	uint8_t n;

	if (!rbuf_get_u8(r, &n) || (nonempty && n == 0) || !rbuf_get_bytes(r, out, n) ||
	    memchr(out, 0, n))
		return false;
	out[n] = '\0';
	return true;
}

bool
rudp_ctl_decode(const uint8_t *buf, size_t len, struct rudp_ctl *m)
{
	struct rbuf r;

	if (!rudp_hdr_decode(buf, len, &m->h) || m->h.type == RUDP_DATA)
		return false;
	rbuf_init(&r, buf + RUDP_HDR_LEN, len - RUDP_HDR_LEN - RUDP_MAC_LEN);
	if (!rbuf_get_u64(&r, &m->seq))
		return false;
	m->from[0] = m->to[0] = '\0';
	if (m->h.type == RUDP_PAIR &&
	    (!rudp_get_str(&r, m->from, false) || !rudp_get_str(&r, m->to, true)))
		return false;
	return rbuf_remaining(&r) == 0;
}

void
rudp_data_hdr_encode(uint8_t out[RUDP_HDR_LEN], uint16_t handle, uint64_t ticket)
{
	struct wbuf w;

	wbuf_init(&w, out, RUDP_HDR_LEN);
	wbuf_put_u8(&w, RUDP_DATA);
	wbuf_put_u8(&w, 0);
	wbuf_put_u16(&w, handle);
	wbuf_put_u64(&w, ticket);
}
