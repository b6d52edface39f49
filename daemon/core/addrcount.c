// SPDX-License-Identifier: MIT
/*
 * Counts per source network (addrcount.h) in one array: open addressing with linear probing,
 * at most half full (slots = the power of two >= 2 * max_keys), and backward-shift deletion, so
 * a key that leaves never leaves a tombstone behind and lookups stay short under any churn.
 * Keys are 16 bytes: an IPv4 address as IPv4-mapped IPv6, an IPv6 address cut to its /64.
 */
#include "core/addrcount.h"

#include "core/siphash.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { KEY_LEN = 16 };

struct slot {
	uint8_t key[KEY_LEN];
	uint32_t count; /* 0: the slot is free */
};

struct addrcount {
	struct slot *slots;
	size_t mask; /* slots - 1 */
	size_t max_keys;
	size_t used;
	struct siphash_key hash_key;
};

int
addrcount_new(struct addrcount **out, size_t max_keys)
{
	struct addrcount *t;
	size_t n = 1;

	if (max_keys == 0 || max_keys > SIZE_MAX / 4 / sizeof(struct slot))
		return -EINVAL;
	while (n < 2 * max_keys)
		n <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->slots = calloc(n, sizeof(*t->slots)))) {
		free(t);
		return -ENOMEM;
	}
	t->mask = n - 1;
	t->max_keys = max_keys;
	t->hash_key = siphash_key_random();
	*out = t;
	return 0;
}

void
addrcount_free(struct addrcount *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t);
}

size_t
addrcount_size(const struct addrcount *t)
{
	return t->used;
}

/* addr's network as a key; false if it is not an internet address. */
static bool
addrcount_key(const struct sockaddr_storage *addr, uint8_t key[KEY_LEN])
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)addr;

	memset(key, 0, KEY_LEN);
	if (addr->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)addr)->sin_addr, 4);
		return true;
	}
	if (addr->ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		memcpy(key, &s6->sin6_addr, KEY_LEN);
	else
		memcpy(key, &s6->sin6_addr, 8); /* the /64 */
	return true;
}

/* SipHash-2-4 with the table's random key: the keys come from the network, and with an unkeyed
 * hash anyone could pick sources (an IPv6 /48 holds 65,536 /64s) that form one long probe run. */
static size_t
addrcount_home(const struct addrcount *t, const uint8_t key[KEY_LEN])
{
	return (size_t)siphash24(&t->hash_key, key, KEY_LEN) & t->mask;
}

/* The slot holding key, or the free slot where it would go. */
static size_t
addrcount_find(const struct addrcount *t, const uint8_t key[KEY_LEN])
{
	size_t i = addrcount_home(t, key);

	while (t->slots[i].count && memcmp(t->slots[i].key, key, KEY_LEN))
		i = (i + 1) & t->mask;
	return i;
}

uint32_t
addrcount_inc(struct addrcount *t, const struct sockaddr_storage *addr)
{
	uint8_t key[KEY_LEN];
	struct slot *s;

	if (!addrcount_key(addr, key))
		return 0;
	s = &t->slots[addrcount_find(t, key)];
	if (!s->count) {
		if (t->used == t->max_keys)
			return 0;
		memcpy(s->key, key, KEY_LEN);
		t->used++;
	}
	if (s->count == UINT32_MAX)
		return 0;
	return ++s->count;
}

uint32_t
addrcount_get(const struct addrcount *t, const struct sockaddr_storage *addr)
{
	uint8_t key[KEY_LEN];

	if (!addrcount_key(addr, key))
		return 0;
	return t->slots[addrcount_find(t, key)].count;
}

/*
 * Empties slot i and moves back every later entry of the same run that may no longer be
 * reached from its home slot (Knuth's algorithm R for linear probing).
 */
static void
addrcount_remove_at(struct addrcount *t, size_t i)
{
	size_t j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (!t->slots[j].count)
			break;
		home = addrcount_home(t, t->slots[j].key);
		/* j's entry stays if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->used--;
}

void
addrcount_dec(struct addrcount *t, const struct sockaddr_storage *addr)
{
	uint8_t key[KEY_LEN];
	size_t i;

	if (!addrcount_key(addr, key))
		return;
	i = addrcount_find(t, key);
	if (!t->slots[i].count)
		return;
	if (--t->slots[i].count == 0)
		addrcount_remove_at(t, i);
}

void
addrcount_net(const struct sockaddr_storage *addr, char *buf, size_t len)
{
	uint8_t key[KEY_LEN];
	char a[INET6_ADDRSTRLEN];

	if (!addrcount_key(addr, key)) {
		snprintf(buf, len, "?");
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)key)) {
		inet_ntop(AF_INET, key + 12, a, sizeof(a));
		snprintf(buf, len, "%s", a);
	} else {
		inet_ntop(AF_INET6, key, a, sizeof(a));
		snprintf(buf, len, "%s/64", a);
	}
}
