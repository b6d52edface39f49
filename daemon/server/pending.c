// SPDX-License-Identifier: MIT
/*
 * The pending contact requests: see pending.h. A fixed array, scanned: requests come at a
 * person's pace (and each asker at most 20, then one per 6 s: rendezvous.c), so PENDING_MAX
 * entries compared by string cost nothing next to the TLS record that carried them, and the
 * table never allocates after pending_new.
 */
#include "server/pending.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending_table {
	struct pending e[PENDING_MAX];
	bool used[PENDING_MAX];
	size_t n;
};

int
pending_new(struct pending_table **out)
{
	struct pending_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*out = t;
	return 0;
}

void
pending_free(struct pending_table *t)
{
	free(t);
}

size_t
pending_count(const struct pending_table *t)
{
	return t->n;
}

size_t
pending_count_asker(const struct pending_table *t, const char *from)
{
	size_t n = 0;

	for (size_t i = 0; i < PENDING_MAX; i++)
		n += t->used[i] && !strcmp(t->e[i].from, from);
	return n;
}

static struct pending *
pending_lookup(struct pending_table *t, const char *from, const char *to, const char *purpose)
{
	for (size_t i = 0; i < PENDING_MAX; i++)
		if (t->used[i] && !strcmp(t->e[i].from, from) && !strcmp(t->e[i].to, to) &&
		    !strcmp(t->e[i].purpose, purpose))
			return &t->e[i];
	return NULL;
}

int
pending_add(struct pending_table *t, const char *from, const char *to, const char *purpose,
	    uint64_t id, uint64_t expires_ms, unsigned flags, struct pending **out)
{
	struct pending *p = pending_lookup(t, from, to, purpose);
	size_t i;

	if (p) {
		p->merged++;
		p->flags |= flags & (PENDING_ASKER_HERE | PENDING_ANSWERER_HERE);
		if (out)
			*out = p;
		return 1;
	}
	if (t->n == PENDING_MAX)
		return -ENOSPC;
	if (pending_count_asker(t, from) >= PENDING_PER_ASKER)
		return -EDQUOT;
	for (i = 0; t->used[i]; i++)
		;
	p = &t->e[i];
	memset(p, 0, sizeof(*p));
	p->id = id;
	snprintf(p->from, sizeof(p->from), "%s", from);
	snprintf(p->to, sizeof(p->to), "%s", to);
	snprintf(p->purpose, sizeof(p->purpose), "%s", purpose);
	p->expires_ms = expires_ms;
	p->flags = flags;
	t->used[i] = true;
	t->n++;
	if (out)
		*out = p;
	return 0;
}

struct pending *
pending_find(struct pending_table *t, const char *asker, const char *answerer, const char *purpose,
	     uint64_t id)
{
	struct pending *p = pending_lookup(t, asker, answerer, purpose);

	return p && p->id == id ? p : NULL;
}

void
pending_remove(struct pending_table *t, struct pending *p)
{
	size_t i = (size_t)(p - t->e);

	if (i < PENDING_MAX && t->used[i]) {
		t->used[i] = false;
		t->n--;
	}
}

bool
pending_expire(struct pending_table *t, uint64_t now_ms, struct pending *out)
{
	for (size_t i = 0; t->n && i < PENDING_MAX; i++) {
		if (t->used[i] && t->e[i].expires_ms <= now_ms) {
			*out = t->e[i];
			t->used[i] = false;
			t->n--;
			return true;
		}
	}
	return false;
}

uint64_t
pending_next_expiry(const struct pending_table *t)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; t->n && i < PENDING_MAX; i++)
		if (t->used[i] && t->e[i].expires_ms < next)
			next = t->e[i].expires_ms;
	return next;
}
