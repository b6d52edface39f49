// SPDX-License-Identifier: MIT
/*
 * A fixed pool of packet buffers on a free list. Single-threaded: the event loop owns it.
 */
#include "pkt.h"

#include <errno.h>
#include <stdlib.h>

struct pkt_pool {
	struct pkt *free;
	size_t available;
	size_t count;
	struct pkt *slab;
};

int
pkt_pool_new(struct pkt_pool **out, size_t count)
{
	struct pkt_pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return -ENOMEM;
	pool->slab = calloc(count, sizeof(struct pkt));
	if (!pool->slab) {
		free(pool);
		return -ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		pool->slab[i].next = pool->free;
		pool->free = &pool->slab[i];
	}
	pool->available = pool->count = count;
	*out = pool;
	return 0;
}

void
pkt_pool_free(struct pkt_pool *pool)
{
	if (!pool)
		return;
	free(pool->slab);
	free(pool);
}

struct pkt *
pkt_get(struct pkt_pool *pool)
{
	struct pkt *p = pool->free;

	if (!p)
		return NULL;
	pool->free = p->next;
	pool->available--;
	p->next = NULL;
	pkt_reset(p);
	return p;
}

void
pkt_put(struct pkt_pool *pool, struct pkt *p)
{
	if (!p)
		return;
	p->next = pool->free;
	pool->free = p;
	pool->available++;
}

size_t
pkt_pool_available(const struct pkt_pool *pool)
{
	return pool->available;
}
