// SPDX-License-Identifier: MIT
/*
 * ChaCha20-Poly1305 for data frames, in place, on the packet path: nothing here allocates
 * (wolfCrypt's one-shot calls keep their state on our stack), and the nonce is built from the
 * frame counter so a frame carries no nonce of its own.
 *
 * Also the small secret-handling primitives everyone else needs (random bytes, wiping,
 * constant-time comparison), so no other directory has to include wolfSSL headers.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/types.h>

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "crypto/aead.h"

_Static_assert(AEAD_KEY_LEN == CHACHA20_POLY1305_AEAD_KEYSIZE, "key size");
_Static_assert(AEAD_TAG_LEN == CHACHA20_POLY1305_AEAD_AUTHTAG_SIZE, "tag size");
_Static_assert(CHACHA20_POLY1305_AEAD_IV_SIZE == 12, "nonce size");

/* 32 zero bits, then the counter little-endian (as WireGuard). */
static void
aead_nonce(uint64_t counter, uint8_t nonce[CHACHA20_POLY1305_AEAD_IV_SIZE])
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

bool
aead_seal(const uint8_t key[AEAD_KEY_LEN], uint64_t counter, const uint8_t *aad, size_t aad_len,
	  uint8_t *buf, size_t len)
{
	uint8_t nonce[CHACHA20_POLY1305_AEAD_IV_SIZE];

	if (len > UINT32_MAX || aad_len > UINT32_MAX)
		return false;
	aead_nonce(counter, nonce);
	return wc_ChaCha20Poly1305_Encrypt(key, nonce, aad, (word32)aad_len, buf, (word32)len, buf,
					   buf + len) == 0;
}

bool
aead_open(const uint8_t key[AEAD_KEY_LEN], uint64_t counter, const uint8_t *aad, size_t aad_len,
	  uint8_t *buf, size_t len)
{
	uint8_t nonce[CHACHA20_POLY1305_AEAD_IV_SIZE];
	size_t plain_len;

	if (len < AEAD_TAG_LEN || len - AEAD_TAG_LEN > UINT32_MAX || aad_len > UINT32_MAX)
		return false;
	plain_len = len - AEAD_TAG_LEN;
	aead_nonce(counter, nonce);
	if (wc_ChaCha20Poly1305_Decrypt(key, nonce, aad, (word32)aad_len, buf, (word32)plain_len,
					buf + plain_len, buf) == 0)
		return true;
	/*
	 * wolfCrypt decrypts before it compares the tag: what is left in buf is the forged
	 * ciphertext XOR our key stream. Nobody should read it, but wipe it so nobody can.
	 */
	crypto_wipe(buf, plain_len);
	return false;
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
	/* wolfSSL 5.5.4 does not export ForceZero (only an inline in misc.h); glibc's
	 * explicit_bzero gives the same guarantee. */
	if (buf != NULL && len > 0)
		explicit_bzero(buf, len);
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
