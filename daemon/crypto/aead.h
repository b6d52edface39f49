/* SPDX-License-Identifier: MIT */
/*
 * The data frames' AEADs, in place: ChaCha20-Poly1305 (RFC 8439), always there, and AES-256-GCM
 * (NIST SP 800-38D), where the CPU has AES-NI and carry-less multiplication (libsodium's
 * implementation needs both: aead_aes256gcm_available), about twice as fast on such a CPU
 * (docs/performance.md, "AES-256-GCM"). Both take a 32-byte key and the same 96-bit nonce, 32
 * zero bits followed by the 64-bit frame counter, little-endian (as WireGuard), and give a
 * 16-byte tag: a key must never see the same counter twice, which the session's send counter
 * guarantees, and a key is only ever used with one of the two (session/session.h).
 *
 * daemon/crypto/ is the only directory that includes wolfSSL headers (STYLE §4).
 */
#ifndef VERTEX_AEAD_H
#define VERTEX_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { AEAD_KEY_LEN = 32, AEAD_TAG_LEN = 16 };

enum aead_cipher {
	AEAD_CHACHA20_POLY1305,
	AEAD_AES256_GCM,
};

/* Can this CPU run AES-256-GCM (libsodium's needs AES-NI and PCLMULQDQ)? */
bool aead_aes256gcm_available(void);
/* "chacha20-poly1305" or "aes-256-gcm". */
const char *aead_cipher_name(enum aead_cipher c);

/* Encrypts buf[0..len) in place and writes the tag at buf[len..len+16); false if c is missing. */
bool aead_seal(enum aead_cipher c, const uint8_t key[AEAD_KEY_LEN], uint64_t counter,
	       const uint8_t *aad, size_t aad_len, uint8_t *buf, size_t len);
/*
 * Checks the tag at buf[len-16..len) and decrypts buf[0..len-16) in place; false if forged (then
 * buf is unchanged with ChaCha20-Poly1305, zeroed with AES-256-GCM: it is to be dropped).
 */
bool aead_open(enum aead_cipher c, const uint8_t key[AEAD_KEY_LEN], uint64_t counter,
	       const uint8_t *aad, size_t aad_len, uint8_t *buf, size_t len);

/* Cryptographically secure random bytes; 0 or -EIO. */
int crypto_random(void *buf, size_t len);
/* Wipes secrets in a way the compiler cannot elide. */
void crypto_wipe(void *buf, size_t len);
/* Constant-time comparison. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* A MAC: keyed BLAKE2b with a 16-byte output (the relay's datagrams, proto/relayudp.h). */
enum { CRYPTO_MAC_KEY_LEN = 32, CRYPTO_MAC_LEN = 16 };
void crypto_mac(uint8_t out[CRYPTO_MAC_LEN], const uint8_t key[CRYPTO_MAC_KEY_LEN], const void *buf,
		size_t len);
/* Is tag the MAC of buf under key? Compared in constant time. */
bool crypto_mac_ok(const uint8_t tag[CRYPTO_MAC_LEN], const uint8_t key[CRYPTO_MAC_KEY_LEN],
		   const void *buf, size_t len);

#endif
