/* SPDX-License-Identifier: MIT */
/*
 * Bounded writer, the mirror of rbuf.h: puts past the end set an overflow flag instead of
 * writing, so an encoder checks once at the end. Big-endian integers.
 */
#ifndef VERTEX_WBUF_H
#define VERTEX_WBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t off;
	bool overflow;
};

static inline void
wbuf_init(struct wbuf *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->off = 0;
	w->overflow = false;
}

static inline bool
wbuf_ok(const struct wbuf *w)
{
	return !w->overflow;
}

/* Reserve n bytes and return where to write them, or NULL (and overflow) when full. */
static inline uint8_t *
wbuf_reserve(struct wbuf *w, size_t n)
{
	uint8_t *p;

	if (w->overflow || w->cap - w->off < n) {
		w->overflow = true;
		return NULL;
	}
	p = w->p + w->off;
	w->off += n;
	return p;
}

static inline void
wbuf_put_bytes(struct wbuf *w, const void *src, size_t n)
{
	uint8_t *p = wbuf_reserve(w, n);

	if (p && n)
		memcpy(p, src, n);
}

static inline void
wbuf_put_u8(struct wbuf *w, uint8_t v)
{
	wbuf_put_bytes(w, &v, 1);
}

static inline void
wbuf_put_u16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	wbuf_put_bytes(w, b, 2);
}

static inline void
wbuf_put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	wbuf_put_bytes(w, b, 4);
}

static inline void
wbuf_put_u64(struct wbuf *w, uint64_t v)
{
	wbuf_put_u32(w, (uint32_t)(v >> 32));
	wbuf_put_u32(w, (uint32_t)v);
}

#endif
