// SPDX-License-Identifier: MIT
/*
 * The peer table: every peer, found by identity (a chained hash, keyed with a random seed so a
 * peer's name cannot be chosen to collide) or by overlay address index (an array indexed by it,
 * grown as needed: the data plane's lookup is one load). Peers are allocated one by one and
 * never move, so a struct peer * stays valid until peer_del.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "crypto/aead.h"
#include "peer/peer_int.h"
#include "session/session.h"

enum { PEER_HASH_BUCKETS = 256 };

static uint32_t
table_hash(const struct peer_table *t, const char *identity)
{
	uint32_t h = t->seed;

	/* FNV-1a over a secret start: good enough for names we accepted from a config or a
	 * server, with the seed so nobody can aim at one bucket. */
	for (const unsigned char *s = (const unsigned char *)identity; *s; s++)
		h = (h ^ *s) * 16777619u;
	return h % PEER_HASH_BUCKETS;
}

int
peer_table_new(struct peer_table **out, struct ev_loop *loop, struct session_index *index,
	       const struct peer_params *params, const struct peer_ops *ops, void *arg)
{
	struct peer_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->buckets = calloc(PEER_HASH_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	t->loop = loop;
	t->index = index;
	t->params = *params;
	snprintf(t->self, sizeof(t->self), "%s", params->self);
	t->params.self = t->self;
	t->ops = *ops;
	t->arg = arg;
	crypto_random(&t->seed, sizeof(t->seed));
	*out = t;
	return 0;
}

/* Makes room in by_index for index; false if out of memory. */
static bool
table_reserve_index(struct peer_table *t, uint32_t index)
{
	size_t cap = t->by_index_len ? t->by_index_len : 16;
	struct peer **grown;

	if (index < t->by_index_len)
		return true;
	while (cap <= index)
		cap *= 2;
	grown = realloc(t->by_index, cap * sizeof(*grown));
	if (!grown)
		return false;
	memset(grown + t->by_index_len, 0, (cap - t->by_index_len) * sizeof(*grown));
	t->by_index = grown;
	t->by_index_len = cap;
	return true;
}

int
peer_add(struct peer_table *t, const char *identity, uint32_t index, const struct xlate_map *map,
	 const struct sockaddr_storage *endpoints, size_t n, struct peer **out)
{
	struct peer *p, **grown;
	uint32_t h;

	/* Cut short, it would be filed under the full name's hash but found under its own. */
	if (strlen(identity) >= sizeof(p->identity))
		return -EINVAL;
	if (peer_find(t, identity) || peer_by_index(t, index))
		return -EEXIST;
	if (!table_reserve_index(t, index))
		return -ENOMEM;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;

		grown = realloc(t->order, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		t->order = grown;
		t->cap = cap;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->table = t;
	snprintf(p->identity, sizeof(p->identity), "%s", identity);
	p->index = index;
	p->map = *map;
	path_set_init(&p->paths, endpoints, n);
	if (ratelimit_bucket_init(&p->notary_rl, t->params.notary_rate, t->params.notary_burst,
				  ev_now_ms(t->loop))) {
		free(p);
		return -EINVAL;
	}
	h = table_hash(t, identity);
	p->hash_next = t->buckets[h];
	t->buckets[h] = p;
	t->by_index[index] = p;
	t->order[t->n++] = p;
	*out = p;
	return 0;
}

/* The keys, the timers, the memory: everything p holds. */
static void
table_release(struct peer *p)
{
	peer_timers_stop(p);
	peer_drop_keys(p);
	free(p);
}

void
peer_del(struct peer *p)
{
	struct peer_table *t = p->table;
	struct peer **pp = &t->buckets[table_hash(t, p->identity)];

	peer_set_state(p, PEER_DOWN); /* a peer removed while up: its session is lost too */
	while (*pp != p)
		pp = &(*pp)->hash_next;
	*pp = p->hash_next;
	t->by_index[p->index] = NULL;
	for (size_t i = 0; i < t->n; i++) {
		if (t->order[i] == p) {
			memmove(&t->order[i], &t->order[i + 1], (t->n - i - 1) * sizeof(p));
			t->n--;
			break;
		}
	}
	table_release(p);
}

void
peer_table_free(struct peer_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		table_release(t->order[i]);
	free(t->order);
	free(t->by_index);
	free(t->buckets);
	free(t);
}

struct peer *
peer_find(const struct peer_table *t, const char *identity)
{
	for (struct peer *p = t->buckets[table_hash(t, identity)]; p; p = p->hash_next)
		if (!strcmp(p->identity, identity))
			return p;
	return NULL;
}

struct peer *
peer_by_index(const struct peer_table *t, uint32_t index)
{
	return index < t->by_index_len ? t->by_index[index] : NULL;
}

void
peer_foreach(const struct peer_table *t, void (*fn)(struct peer *p, void *arg), void *arg)
{
	for (size_t i = 0; i < t->n; i++)
		fn(t->order[i], arg);
}

size_t
peer_count(const struct peer_table *t)
{
	return t->n;
}

struct ev_loop *
peer_loop(const struct peer *p)
{
	return p->table->loop;
}

const struct peer_params *
peer_params(const struct peer *p)
{
	return &p->table->params;
}
