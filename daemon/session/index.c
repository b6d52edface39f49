// SPDX-License-Identifier: MIT
/*
 * The receiver-index table: an intrusive hash table from our local index to the keypair. Indices
 * are random, so their low bits are a good hash. A peer has at most two keypairs, so the table
 * holds about twice the number of peers.
 */
#include <errno.h>
#include <stdlib.h>

#include "session/session.h"

enum { SESSION_INDEX_BUCKETS = 4096, SESSION_INDEX_TRIES = 64 };

struct session_index {
	struct keypair *buckets[SESSION_INDEX_BUCKETS];
};

int
session_index_new(struct session_index **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void
session_index_free(struct session_index *t)
{
	free(t);
}

static struct keypair **
session_index_bucket(struct session_index *t, uint32_t index)
{
	return &t->buckets[index & (SESSION_INDEX_BUCKETS - 1)];
}

struct keypair *
session_index_find(const struct session_index *t, uint32_t index)
{
	struct keypair *kp = t->buckets[index & (SESSION_INDEX_BUCKETS - 1)];

	while (kp && kp->local_index != index)
		kp = kp->index_next;
	return kp;
}

int
session_index_add(struct session_index *t, struct keypair *kp)
{
	for (int i = 0; i < SESSION_INDEX_TRIES; i++) {
		uint32_t index;
		struct keypair **b;

		if (crypto_random(&index, sizeof(index)))
			return -EIO;
		if (!index || session_index_find(t, index))
			continue;
		kp->local_index = index;
		b = session_index_bucket(t, index);
		kp->index_next = *b;
		*b = kp;
		return 0;
	}
	return -EAGAIN;
}

void
session_index_del(struct session_index *t, struct keypair *kp)
{
	struct keypair **pp = session_index_bucket(t, kp->local_index);

	for (; *pp; pp = &(*pp)->index_next) {
		if (*pp == kp) {
			*pp = kp->index_next;
			kp->index_next = NULL;
			return;
		}
	}
}
