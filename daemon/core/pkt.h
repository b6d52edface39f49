/* SPDX-License-Identifier: MIT */
/*
 * Packet buffers with headroom, from a fixed pool: the packet path never allocates (STYLE §14).
 *
 * A packet read from the TUN device lands at PKT_HEADROOM, so the data-frame header is
 * prepended in place (pkt_push) and the AEAD tag appended in the tailroom; decryption works in
 * place the other way round (pkt_pull). PKT_BUF_SIZE bounds one inner packet; TUN offloads
 * (virtio-net headers, 64 KiB super-packets) will get a second pool of larger buffers rather than
 * growing every buffer.
 */
#ifndef VERTEX_PKT_H
#define VERTEX_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PKT_HEADROOM = 64,
	PKT_TAILROOM = 64,
	PKT_BUF_SIZE = 2048,
	PKT_DATA_MAX = PKT_BUF_SIZE - PKT_HEADROOM - PKT_TAILROOM,
};

struct pkt {
	struct pkt *next; /* free list, or any queue the current owner keeps */
	uint16_t off;     /* start of data in buf */
	uint16_t len;     /* bytes of data */
	uint8_t buf[PKT_BUF_SIZE];
};

struct pkt_pool;

/* Constructor: allocates count buffers up front. *out is freed with pkt_pool_free(). */
int pkt_pool_new(struct pkt_pool **out, size_t count);
void pkt_pool_free(struct pkt_pool *pool);

/* Borrow a buffer (data empty, at PKT_HEADROOM) or NULL when the pool is exhausted. */
struct pkt *pkt_get(struct pkt_pool *pool);
/* Return a buffer; p may be NULL. */
void pkt_put(struct pkt_pool *pool, struct pkt *p);
size_t pkt_pool_available(const struct pkt_pool *pool);

static inline uint8_t *
pkt_data(struct pkt *p)
{
	return p->buf + p->off;
}

/* Room to write at the tail (for reads into the buffer and AEAD tags). */
static inline size_t
pkt_tailroom(const struct pkt *p)
{
	return PKT_BUF_SIZE - p->off - p->len;
}

/* Prepend n bytes; returns the new start, or NULL if the headroom is too small. */
static inline uint8_t *
pkt_push(struct pkt *p, size_t n)
{
	if (n > p->off)
		return NULL;
	p->off -= (uint16_t)n;
	p->len += (uint16_t)n;
	return p->buf + p->off;
}

/* Drop n bytes from the front; false if the packet is shorter. */
static inline bool
pkt_pull(struct pkt *p, size_t n)
{
	if (n > p->len)
		return false;
	p->off += (uint16_t)n;
	p->len -= (uint16_t)n;
	return true;
}

static inline void
pkt_reset(struct pkt *p)
{
	p->off = PKT_HEADROOM;
	p->len = 0;
}

#endif
