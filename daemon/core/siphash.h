/* SPDX-License-Identifier: MIT */
/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash for hash tables whose keys an
 * attacker chooses (source addresses, account names). With a random key per table, nobody who
 * does not know it can pick keys that land in one chain or one probe run.
 */
#ifndef VERTEX_SIPHASH_H
#define VERTEX_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

enum { SIPHASH_KEY_LEN = 16 };

struct siphash_key {
	uint64_t k0, k1;
};

/* The key from its 16 bytes (little-endian halves, as in the reference). */
struct siphash_key siphash_key_from_bytes(const uint8_t bytes[SIPHASH_KEY_LEN]);
/* A fresh random key (getrandom); never fails: without randomness it falls back to the clock
 * and the address of the key, weaker but still not known in advance. */
struct siphash_key siphash_key_random(void);
uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len);

#endif
