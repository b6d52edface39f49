// SPDX-License-Identifier: MIT
/*
 * SipHash-2-4, written from the specification (siphash.h): 2 compression rounds per 8-byte
 * word, 4 finalisation rounds; the message is read little-endian, its last word padded with
 * zeros and its length (mod 256) in the top byte.
 */
#include "core/siphash.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static inline uint64_t
siphash_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t
siphash_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static void
siphash_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = siphash_rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = siphash_rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = siphash_rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = siphash_rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = siphash_rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = siphash_rotl(s->v2, 32);
}

static void
siphash_compress(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	siphash_round(s);
	siphash_round(s);
	s->v0 ^= m;
}

struct siphash_key
siphash_key_from_bytes(const uint8_t bytes[SIPHASH_KEY_LEN])
{
	return (struct siphash_key){ siphash_le64(bytes), siphash_le64(bytes + 8) };
}

struct siphash_key
siphash_key_random(void)
{
	uint8_t b[SIPHASH_KEY_LEN];
	struct siphash_key k;
	struct timespec ts;

	if (getrandom(b, sizeof(b), 0) == (ssize_t)sizeof(b))
		return siphash_key_from_bytes(b);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	k.k0 = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
	k.k1 = (uint64_t)(uintptr_t)&k ^ (uint64_t)time(NULL);
	return k;
}

uint64_t
siphash24(const struct siphash_key *key, const void *data, size_t len)
{
	const uint8_t *p = data;
	struct sip_state s = {
		key->k0 ^ 0x736f6d6570736575ull,
		key->k1 ^ 0x646f72616e646f6dull,
		key->k0 ^ 0x6c7967656e657261ull,
		key->k1 ^ 0x7465646279746573ull,
	};
	uint8_t last[8] = { 0 };
	size_t whole = len & ~(size_t)7;

	for (size_t i = 0; i < whole; i += 8)
		siphash_compress(&s, siphash_le64(p + i));
	memcpy(last, p + whole, len - whole);
	last[7] = (uint8_t)len;
	siphash_compress(&s, siphash_le64(last));
	s.v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		siphash_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
