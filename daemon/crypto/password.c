// SPDX-License-Identifier: MIT
/*
 * Password hashes (scrypt from wolfCrypt) and invite codes, for the server's accounts.
 *
 * A hash is "$scrypt$ln=LN,r=8,p=1$SALT$HASH": a fresh 16-byte salt from the system's random
 * generator and a 32-byte scrypt output, both in unpadded standard base64. Parsing is strict
 * on purpose, because the parameters drive how much memory and time a verification costs:
 * ln must be 10..20 (N = 2^ln; 2^20 with r = 8 is 1 GiB), r must be 8 and p 1 (the only values
 * we write), numbers have no leading zeros, and both base64 fields have their exact length with
 * the unused low bits zero, so each hash has exactly one spelling.
 *
 * Invite codes are 80 random bits in Crockford's base32 (no I, L, O, U, so a code read aloud or
 * typed is unambiguous), "XXXX-XXXX-XXXX-XXXX". Only their SHA-256 is stored: they are random
 * and long, so a slow hash would add nothing.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/password.h"

enum {
	PW_SALT_LEN = 16,
	PW_HASH_LEN = 32,
	PW_SALT_B64 = 22, /* unpadded base64 of 16 bytes */
	PW_HASH_B64 = 43, /* of 32 bytes */
	PW_LN_MIN = 10,
	PW_LN_MAX = 20,
	PW_R = 8,
	PW_P = 1,
	PW_PASSWORD_MAX = 4096, /* longer input is not a password but a way to burn CPU */
	INVITE_RANDOM_LEN = 10, /* 80 bits, 16 base32 digits */
};

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char CROCKFORD32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static const char PW_PREFIX[] = "$scrypt$ln=";

/* --- base64, unpadded ------------------------------------------------------------------ */

/* Encodes n bytes; out needs (4n + 2) / 3 + 1 bytes. */
static void
b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		size_t k = n - i < 3 ? n - i : 3;
		uint32_t v = (uint32_t)in[i] << 16;

		if (k > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (k > 2)
			v |= in[i + 2];
		for (size_t j = 0; j <= k; j++)
			out[o++] = B64[(v >> (18 - 6 * j)) & 63];
	}
	out[o] = '\0';
}

static int
b64_value(char c)
{
	const char *p = c != '\0' ? strchr(B64, c) : NULL;

	return p != NULL ? (int)(p - B64) : -1;
}

/* Decodes exactly slen characters into exactly n bytes; false unless canonical. */
static bool
b64_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
	uint32_t acc = 0;
	size_t bits = 0, o = 0;

	if (slen != (4 * n + 2) / 3)
		return false;
	for (size_t i = 0; i < slen; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return false;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* The bits left over must be zero, or two strings would decode alike. */
	return o == n && (acc & ((1u << bits) - 1)) == 0;
}

/* --- passwords ------------------------------------------------------------------------- */

static int
pw_derive(const char *password, const uint8_t salt[PW_SALT_LEN], unsigned ln,
	  uint8_t out[PW_HASH_LEN])
{
	size_t len = strlen(password);

	if (len > PW_PASSWORD_MAX)
		return -EINVAL;
	if (wc_scrypt(out, (const byte *)password, (int)len, salt, PW_SALT_LEN, (int)ln, PW_R, PW_P,
		      PW_HASH_LEN) != 0)
		return -ENOMEM; /* scrypt's large block allocation is the likely failure */
	return 0;
}

int
password_hash(const char *password, unsigned ln, char out[PASSWORD_HASH_MAX])
{
	uint8_t salt[PW_SALT_LEN], hash[PW_HASH_LEN];
	char salt64[PW_SALT_B64 + 1], hash64[PW_HASH_B64 + 1];
	int err;

	if (ln < PW_LN_MIN || ln > PW_LN_MAX)
		return -EINVAL;
	err = crypto_random(salt, sizeof(salt));
	if (err == 0)
		err = pw_derive(password, salt, ln, hash);
	if (err == 0) {
		b64_encode(salt, sizeof(salt), salt64);
		b64_encode(hash, sizeof(hash), hash64);
		if (snprintf(out, PASSWORD_HASH_MAX, "%s%u,r=%d,p=%d$%s$%s", PW_PREFIX, ln, PW_R,
			     PW_P, salt64, hash64) >= PASSWORD_HASH_MAX)
			err = -ENOSPC;
	}
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(hash64, sizeof(hash64));
	return err;
}

/* Reads "ln=LN,r=8,p=1$SALT$HASH" (after the prefix) strictly. */
static bool
pw_parse(const char *s, unsigned *ln, uint8_t salt[PW_SALT_LEN], uint8_t hash[PW_HASH_LEN])
{
	static const char rp[] = ",r=8,p=1$";
	const char *p = s;

	if (strncmp(p, PW_PREFIX, sizeof(PW_PREFIX) - 1) != 0)
		return false;
	p += sizeof(PW_PREFIX) - 1;
	/* Two digits, no leading zero: 10..20. */
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[0] == '0')
		return false;
	*ln = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
	if (*ln < PW_LN_MIN || *ln > PW_LN_MAX)
		return false;
	p += 2;
	if (strncmp(p, rp, sizeof(rp) - 1) != 0)
		return false;
	p += sizeof(rp) - 1;
	if (strlen(p) != PW_SALT_B64 + 1 + PW_HASH_B64 || p[PW_SALT_B64] != '$')
		return false;
	return b64_decode(p, PW_SALT_B64, salt, PW_SALT_LEN) &&
	       b64_decode(p + PW_SALT_B64 + 1, PW_HASH_B64, hash, PW_HASH_LEN);
}

bool
password_verify(const char *password, const char *encoded)
{
	uint8_t salt[PW_SALT_LEN], want[PW_HASH_LEN], got[PW_HASH_LEN];
	unsigned ln;
	bool ok;

	if (password == NULL || encoded == NULL || strlen(encoded) >= PASSWORD_HASH_MAX ||
	    !pw_parse(encoded, &ln, salt, want))
		return false;
	ok = pw_derive(password, salt, ln, got) == 0 && crypto_equal(got, want, sizeof(got));
	crypto_wipe(got, sizeof(got));
	crypto_wipe(want, sizeof(want));
	return ok;
}

/* --- invite codes ---------------------------------------------------------------------- */

int
invite_code_new(char out[INVITE_CODE_LEN + 1])
{
	uint8_t r[INVITE_RANDOM_LEN];
	size_t o = 0;
	int err;

	err = crypto_random(r, sizeof(r));
	if (err < 0)
		return err;
	/* 80 bits as sixteen 5-bit digits, most significant first, a dash every four. */
	for (unsigned d = 0; d < 16; d++) {
		unsigned bit = d * 5, v = 0;

		for (unsigned k = 0; k < 5; k++, bit++)
			v = v << 1 | ((r[bit / 8] >> (7 - bit % 8)) & 1u);
		if (d > 0 && d % 4 == 0)
			out[o++] = '-';
		out[o++] = CROCKFORD32[v];
	}
	out[o] = '\0';
	crypto_wipe(r, sizeof(r));
	return 0;
}

int
secret_digest(const char *secret, uint8_t out[SECRET_DIGEST_LEN])
{
	uint8_t chunk[64];
	size_t n = 0;
	wc_Sha256 sha;
	int err = -EIO;

	if (wc_InitSha256(&sha) != 0)
		return -EIO;
	/* Normalised a chunk at a time, so any length works without a copy of the whole. */
	for (const char *p = secret;; p++) {
		if (*p == '\0' || n == sizeof(chunk)) {
			if (wc_Sha256Update(&sha, chunk, (word32)n) != 0)
				goto out;
			n = 0;
		}
		if (*p == '\0')
			break;
		if (*p != '-')
			chunk[n++] = (uint8_t)toupper((unsigned char)*p);
	}
	if (wc_Sha256Final(&sha, out) == 0)
		err = 0;
out:
	wc_Sha256Free(&sha);
	crypto_wipe(chunk, sizeof(chunk));
	return err;
}
