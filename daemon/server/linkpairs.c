// SPDX-License-Identifier: MIT
/*
 * A peering link's pair handles: see linkpairs.h.
 *
 * An open-addressing table of 2 * nhandles slots (linear probing; at most half full, so a miss
 * ends soon) holds handles; a pair lives in its handle's entry. Expiry rebuilds the table from
 * the handles left (one pass over 2 * nhandles slots, only when something expired), so deletion
 * needs no tombstones. Freed handles go on a stack and are given out before new numbers.
 */
#include "server/linkpairs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct link_pair {
	char from[CTL_STR_MAX + 1], to[CTL_STR_MAX + 1];
	uint64_t used_ms;
};

struct link_pairs {
	unsigned nhandles, nslots, top, count, nfree;
	struct siphash_key key;
	struct link_pair **pair; /* [1..nhandles]; NULL: free */
	uint16_t *slot;          /* nslots handles, 0: empty */
	uint16_t *free_stack;    /* nfree handles, freed and not given out again */
};

int
link_pairs_new(struct link_pairs **out, unsigned nhandles, struct siphash_key key)
{
	struct link_pairs *p;

	if (!nhandles || nhandles > UINT16_MAX)
		return -EINVAL;
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->nhandles = nhandles;
	p->nslots = 2 * nhandles;
	p->key = key;
	p->pair = calloc(nhandles + 1, sizeof(*p->pair));
	p->slot = calloc(p->nslots, sizeof(*p->slot));
	p->free_stack = calloc(nhandles, sizeof(*p->free_stack));
	if (!p->pair || !p->slot || !p->free_stack) {
		link_pairs_free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

void
link_pairs_free(struct link_pairs *p)
{
	if (!p)
		return;
	for (unsigned h = 0; p->pair && h <= p->nhandles; h++)
		free(p->pair[h]);
	free(p->pair);
	free(p->slot);
	free(p->free_stack);
	free(p);
}

static size_t
link_pairs_home(const struct link_pairs *p, const char *from, const char *to)
{
	uint64_t h =
	    siphash24(&p->key, from, strlen(from)) * 31 + siphash24(&p->key, to, strlen(to));

	return (size_t)(h % p->nslots);
}

/* The slot holding (from, to)'s handle, or the empty one where it would go. */
static size_t
link_pairs_slot(const struct link_pairs *p, const char *from, const char *to)
{
	size_t i = link_pairs_home(p, from, to);
	unsigned h;

	for (size_t n = 0; n < p->nslots; n++, i = (i + 1) % p->nslots) {
		if (!(h = p->slot[i]))
			break;
		if (!strcmp(p->pair[h]->from, from) && !strcmp(p->pair[h]->to, to))
			break;
	}
	return i; /* never full: at most nhandles of 2 * nhandles slots are taken */
}

unsigned
link_pairs_find(struct link_pairs *p, const char *from, const char *to, uint64_t now)
{
	unsigned h = p->slot[link_pairs_slot(p, from, to)];

	if (h)
		p->pair[h]->used_ms = now;
	return h;
}

unsigned
link_pairs_add(struct link_pairs *p, const char *from, const char *to, uint64_t now)
{
	size_t i = link_pairs_slot(p, from, to), nf = strlen(from), nt = strlen(to);
	struct link_pair *e;
	unsigned h;

	if (p->slot[i] || nf > CTL_STR_MAX || nt > CTL_STR_MAX ||
	    (!p->nfree && p->top >= p->nhandles) || !(e = calloc(1, sizeof(*e))))
		return 0;
	h = p->nfree ? p->free_stack[--p->nfree] : ++p->top;
	memcpy(e->from, from, nf + 1);
	memcpy(e->to, to, nt + 1);
	e->used_ms = now;
	p->pair[h] = e;
	p->slot[i] = (uint16_t)h;
	p->count++;
	return h;
}

bool
link_pairs_get(const struct link_pairs *p, unsigned h, const char **from, const char **to)
{
	if (!h || h > p->nhandles || !p->pair[h])
		return false;
	*from = p->pair[h]->from;
	*to = p->pair[h]->to;
	return true;
}

unsigned
link_pairs_expire(struct link_pairs *p, uint64_t now, uint64_t idle_ms,
		  void (*gone)(unsigned h, void *arg), void *arg)
{
	unsigned went = 0;

	for (unsigned h = 1; h <= p->top; h++) {
		if (!p->pair[h] || p->pair[h]->used_ms + idle_ms > now)
			continue;
		if (gone)
			gone(h, arg);
		free(p->pair[h]);
		p->pair[h] = NULL;
		p->free_stack[p->nfree++] = (uint16_t)h;
		p->count--;
		went++;
	}
	if (!went)
		return 0;
	memset(p->slot, 0, p->nslots * sizeof(*p->slot));
	for (unsigned h = 1; h <= p->top; h++)
		if (p->pair[h])
			p->slot[link_pairs_slot(p, p->pair[h]->from, p->pair[h]->to)] = (uint16_t)h;
	return went;
}

unsigned
link_pairs_count(const struct link_pairs *p)
{
	return p->count;
}

unsigned
link_pairs_top(const struct link_pairs *p)
{
	return p->top;
}
