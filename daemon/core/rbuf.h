/* SPDX-License-Identifier: MIT */
/*
 * Bounded reader for untrusted bytes (STYLE §15). Every getter returns false when the input is
 * short and then leaves the cursor poisoned, so a decoder can do a run of gets and check once.
 * Integers on the wire are big-endian (network order).
 */
#ifndef VERTEX_RBUF_H
#define VERTEX_RBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool bad;
};

static inline void
rbuf_init(struct rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

static inline size_t
rbuf_remaining(const struct rbuf *r)
{
	return r->bad ? 0 : r->len - r->off;
}

static inline bool
rbuf_ok(const struct rbuf *r)
{
	return !r->bad;
}

/* Borrow n bytes in place; *out points into the input buffer. */
static inline bool
rbuf_get_ptr(struct rbuf *r, size_t n, const uint8_t **out)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return false;
	}
	*out = r->p + r->off;
	r->off += n;
	return true;
}

static inline bool
rbuf_get_bytes(struct rbuf *r, void *dst, size_t n)
{
	const uint8_t *p;

	if (!rbuf_get_ptr(r, n, &p))
		return false;
	memcpy(dst, p, n);
	return true;
}

static inline bool
rbuf_skip(struct rbuf *r, size_t n)
{
	const uint8_t *p;

	return rbuf_get_ptr(r, n, &p);
}

static inline bool
rbuf_get_u8(struct rbuf *r, uint8_t *v)
{
	const uint8_t *p;

	if (!rbuf_get_ptr(r, 1, &p))
		return false;
	*v = p[0];
	return true;
}

static inline bool
rbuf_get_u16(struct rbuf *r, uint16_t *v)
{
	const uint8_t *p;

	if (!rbuf_get_ptr(r, 2, &p))
		return false;
	*v = (uint16_t)((unsigned)p[0] << 8 | p[1]);
	return true;
}

static inline bool
rbuf_get_u32(struct rbuf *r, uint32_t *v)
{
	const uint8_t *p;

	if (!rbuf_get_ptr(r, 4, &p))
		return false;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return true;
}

static inline bool
rbuf_get_u64(struct rbuf *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (!rbuf_get_u32(r, &hi) || !rbuf_get_u32(r, &lo))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

#endif
