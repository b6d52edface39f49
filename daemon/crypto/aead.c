// SPDX-License-Identifier: MIT
/*
 * ChaCha20-Poly1305 (RFC 8439) and AES-256-GCM for data frames, in place, on the packet path:
 * nothing here allocates, and the nonce is built from the frame counter so a frame carries no
 * nonce of its own.
 *
 * The AEADs are libsodium's, not wolfCrypt's: Debian builds wolfSSL without its assembly, and its
 * portable ChaCha20-Poly1305 is about 7x slower than libsodium's vectorised one on the same
 * machine (docs/architecture.md has the figures). test_aead checks both produce identical output,
 * for each cipher. libsodium also verifies the tag before it decrypts, so a forged frame never
 * reaches plaintext. AES-256-GCM expands its key on every call (no precomputed state): on the
 * test machine that costs under a fifth of its speed, and keeps a key 32 bytes that the worker
 * pool copies per frame (dataplane/crypto_pool.h).
 *
 * Also the small secret-handling primitives everyone else needs (random bytes, wiping,
 * constant-time comparison), so no other directory includes a crypto library's headers.
 */
#include <sodium.h>

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "crypto/aead.h"

_Static_assert(AEAD_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(AEAD_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12, "nonce size");
_Static_assert(AEAD_KEY_LEN == crypto_aead_aes256gcm_KEYBYTES, "key size");
_Static_assert(AEAD_TAG_LEN == crypto_aead_aes256gcm_ABYTES, "tag size");
_Static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12, "nonce size");

enum { AEAD_NONCE_LEN = crypto_aead_chacha20poly1305_ietf_NPUBBYTES };

static bool aead_ready;

/* sodium_init() picks the fastest implementation for this CPU; until then it uses the slowest. */
static bool
aead_setup(void)
{
	if (!aead_ready)
		aead_ready = sodium_init() >= 0;
	return aead_ready;
}

/* 32 zero bits, then the counter little-endian (as WireGuard). */
static void
aead_nonce(uint64_t counter, uint8_t nonce[AEAD_NONCE_LEN])
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

bool
aead_aes256gcm_available(void)
{
	return aead_setup() && crypto_aead_aes256gcm_is_available();
}

const char *
aead_cipher_name(enum aead_cipher c)
{
	return c == AEAD_AES256_GCM ? "aes-256-gcm" : "chacha20-poly1305";
}

bool
aead_seal(enum aead_cipher c, const uint8_t key[AEAD_KEY_LEN], uint64_t counter, const uint8_t *aad,
	  size_t aad_len, uint8_t *buf, size_t len)
{
	uint8_t nonce[AEAD_NONCE_LEN];

	if (!aead_setup())
		return false;
	aead_nonce(counter, nonce);
	if (c == AEAD_AES256_GCM)
		return crypto_aead_aes256gcm_is_available() &&
		       crypto_aead_aes256gcm_encrypt_detached(buf, buf + len, NULL, buf, len, aad,
							      aad_len, NULL, nonce, key) == 0;
	return crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		   buf, buf + len, NULL, buf, len, aad, aad_len, NULL, nonce, key) == 0;
}

bool
aead_open(enum aead_cipher c, const uint8_t key[AEAD_KEY_LEN], uint64_t counter, const uint8_t *aad,
	  size_t aad_len, uint8_t *buf, size_t len)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	size_t plain_len;

	if (len < AEAD_TAG_LEN || !aead_setup())
		return false;
	plain_len = len - AEAD_TAG_LEN;
	aead_nonce(counter, nonce);
	if (c == AEAD_AES256_GCM)
		return crypto_aead_aes256gcm_is_available() &&
		       crypto_aead_aes256gcm_decrypt_detached(buf, NULL, buf, plain_len,
							      buf + plain_len, aad, aad_len, nonce,
							      key) == 0;
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		   buf, NULL, buf, plain_len, buf + plain_len, aad, aad_len, nonce, key) == 0;
}

int
crypto_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
crypto_wipe(void *buf, size_t len)
{
	if (buf != NULL && len > 0)
		sodium_memzero(buf, len);
}

void
crypto_mac(uint8_t out[CRYPTO_MAC_LEN], const uint8_t key[CRYPTO_MAC_KEY_LEN], const void *buf,
	   size_t len)
{
	crypto_generichash(out, CRYPTO_MAC_LEN, buf, len, key, CRYPTO_MAC_KEY_LEN);
}

bool
crypto_mac_ok(const uint8_t tag[CRYPTO_MAC_LEN], const uint8_t key[CRYPTO_MAC_KEY_LEN],
	      const void *buf, size_t len)
{
	uint8_t mac[CRYPTO_MAC_LEN];

	crypto_mac(mac, key, buf, len);
	return crypto_verify_16(mac, tag) == 0;
}

bool
crypto_equal(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}
