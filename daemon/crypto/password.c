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
 * Invite codes are Crockford's base32 (no I, L, O, U, so a code read aloud or typed is
 * unambiguous), "XXXX-XXXX-XXXX-XXXX-XXXX": 14 random digits (70 bits) and a 6-digit commitment
 * to the CA the code was made under, the first 30 bits of HMAC-SHA256 keyed with the 14 random
 * digits (ASCII) over "vertex invite ca v1\0" | the CA certificate's SHA-256. A client that
 * has the code checks the CA a server offers against it before it sends anything; someone who
 * has not seen the code cannot make a CA that passes but by a 2^-30 chance per try, and each
 * try is one enrolment the user sees fail. Only a code's SHA-256 is stored: codes are random
 * and long, so a slow hash would add nothing.
 *
 * The enrolment proof (password_proof) lets the server check a password without receiving it:
 * the client derives the scrypt key from the salt and cost the server announced, and MACs this
 * TLS connection's exporter, its identity and its request with it (docs/trust.md, "Enrolment").
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>
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
	PW_LN_MIN = PASSWORD_LN_MIN,
	PW_LN_MAX = PASSWORD_LN_MAX,
	PW_R = 8,
	PW_P = 1,
	PW_PASSWORD_MAX = 4096,    /* longer input is not a password but a way to burn CPU */
	INVITE_RANDOM_DIGITS = 14, /* 70 bits */
	INVITE_TAG_DIGITS = 6,     /* 30 bits */
	INVITE_DIGITS = INVITE_RANDOM_DIGITS + INVITE_TAG_DIGITS,
	INVITE_OLD_DIGITS = 16,
};
_Static_assert((int)PW_SALT_LEN == (int)PASSWORD_SALT_LEN &&
		   (int)PW_HASH_LEN == (int)PASSWORD_KEY_LEN,
	       "the public sizes are the encoding's");
_Static_assert(INVITE_CODE_LEN == INVITE_DIGITS + INVITE_DIGITS / 4 - 1, "dash every four");

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

/* HMAC-SHA256 of the concatenated parts under key; 0 or -EIO. */
static int
pw_hmac(const uint8_t *key, size_t key_len, const void *const *parts, const size_t *lens,
	size_t nparts, uint8_t out[32])
{
	Hmac h;
	int err = -EIO;

	if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
		return -EIO;
	if (wc_HmacSetKey(&h, WC_SHA256, key, (word32)key_len) != 0)
		goto out;
	for (size_t i = 0; i < nparts; i++)
		if (wc_HmacUpdate(&h, parts[i], (word32)lens[i]) != 0)
			goto out;
	if (wc_HmacFinal(&h, out) == 0)
		err = 0;
out:
	wc_HmacFree(&h);
	return err;
}

/* Upper case without dashes into out (n digits at most, NUL-terminated); the digit count. */
static size_t
invite_normalise(const char *code, char *out, size_t n)
{
	size_t o = 0;

	for (const char *p = code; *p; p++) {
		if (*p == '-')
			continue;
		if (o == n)
			return n + 1;
		out[o++] = (char)toupper((unsigned char)*p);
	}
	out[o] = '\0';
	return o;
}

/* The 6 commitment digits for the 14 random digits under the CA fpr. */
static int
invite_tag(const char random[INVITE_RANDOM_DIGITS], const uint8_t ca_fpr[32],
	   char tag[INVITE_TAG_DIGITS])
{
	static const char label[] = "vertex invite ca v1";
	const void *parts[] = { label, ca_fpr };
	const size_t lens[] = { sizeof(label), 32 };
	uint8_t mac[32];
	uint32_t v;
	int err = pw_hmac((const uint8_t *)random, INVITE_RANDOM_DIGITS, parts, lens, 2, mac);

	if (err)
		return err;
	v = (uint32_t)mac[0] << 22 | (uint32_t)mac[1] << 14 | (uint32_t)mac[2] << 6 | mac[3] >> 2;
	for (int d = INVITE_TAG_DIGITS - 1; d >= 0; d--, v >>= 5)
		tag[d] = CROCKFORD32[v & 31];
	crypto_wipe(mac, sizeof(mac));
	return 0;
}

int
invite_code_new(const uint8_t ca_fpr[32], char out[INVITE_CODE_LEN + 1])
{
	uint8_t r[INVITE_RANDOM_DIGITS];
	char digits[INVITE_DIGITS];
	size_t o = 0;
	int err;

	if ((err = crypto_random(r, sizeof(r))))
		return err;
	/* One random byte per digit, 5 bits of it kept: 70 uniform bits. */
	for (unsigned d = 0; d < INVITE_RANDOM_DIGITS; d++)
		digits[d] = CROCKFORD32[r[d] & 31];
	if (!err)
		err = invite_tag(digits, ca_fpr, digits + INVITE_RANDOM_DIGITS);
	for (unsigned d = 0; !err && d < INVITE_DIGITS; d++) {
		if (d > 0 && d % 4 == 0)
			out[o++] = '-';
		out[o++] = digits[d];
	}
	out[o] = '\0';
	crypto_wipe(r, sizeof(r));
	crypto_wipe(digits, sizeof(digits));
	return err;
}

enum invite_ca_match
invite_code_check_ca(const char *code, const uint8_t ca_fpr[32])
{
	char digits[INVITE_DIGITS + 1], tag[INVITE_TAG_DIGITS];
	enum invite_ca_match m = INVITE_CA_MALFORMED;
	size_t n = invite_normalise(code, digits, INVITE_DIGITS);

	if (n > INVITE_DIGITS)
		return INVITE_CA_MALFORMED;
	for (size_t i = 0; i < n; i++)
		if (!strchr(CROCKFORD32, digits[i]))
			n = 0;
	if (n == INVITE_OLD_DIGITS)
		m = INVITE_CA_NONE;
	else if (n == INVITE_DIGITS && !invite_tag(digits, ca_fpr, tag))
		m = crypto_equal(tag, digits + INVITE_RANDOM_DIGITS, INVITE_TAG_DIGITS)
			? INVITE_CA_MATCH
			: INVITE_CA_MISMATCH;
	crypto_wipe(digits, sizeof(digits));
	return m;
}

/* --- the enrolment proof ---------------------------------------------------------------- */

const char *
password_rule_check(const char *password)
{
	size_t n = password ? strlen(password) : 0;

	if (n == 0)
		return "a password cannot be empty";
	if (n > PASSWORD_LEN_MAX)
		return "a password is at most 255 bytes";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)password[i] < 0x20 || (unsigned char)password[i] > 0x7e)
			return "a password is printable ASCII only (space to '~'; no tabs, "
			       "control characters or non-ASCII letters)";
	return NULL;
}

bool
password_hash_parse(const char *encoded, unsigned *ln, uint8_t salt[PASSWORD_SALT_LEN],
		    uint8_t key[PASSWORD_KEY_LEN])
{
	return encoded && strlen(encoded) < PASSWORD_HASH_MAX && pw_parse(encoded, ln, salt, key);
}

int
password_derive_key(const char *password, const uint8_t salt[PASSWORD_SALT_LEN], unsigned ln,
		    uint8_t key[PASSWORD_KEY_LEN])
{
	if (ln < PW_LN_MIN || ln > PW_LN_MAX)
		return -EINVAL;
	return pw_derive(password, salt, ln, key);
}

int
password_proof(const uint8_t key[PASSWORD_KEY_LEN], const uint8_t exporter[PASSWORD_EXPORTER_LEN],
	       const char *identity, const uint8_t *csr, size_t csr_len,
	       uint8_t proof[PASSWORD_PROOF_LEN])
{
	static const char label[] = "vertex enrol password v1";
	uint8_t csr_hash[32];
	const void *parts[] = { label, exporter, identity, "", csr_hash };
	const size_t lens[] = { sizeof(label), PASSWORD_EXPORTER_LEN, strlen(identity), 1, 32 };

	if (wc_Sha256Hash(csr, (word32)csr_len, csr_hash) != 0)
		return -EIO;
	return pw_hmac(key, PASSWORD_KEY_LEN, parts, lens, 5, proof);
}

int
password_dummy(const uint8_t secret[32], const char *user, uint8_t salt[PASSWORD_SALT_LEN],
	       uint8_t key[PASSWORD_KEY_LEN])
{
	static const char salt_label[] = "vertex dummy salt v1",
			  key_label[] = "vertex dummy key v1";
	const void *sp[] = { salt_label, user }, *kp[] = { key_label, user };
	const size_t lens_s[] = { sizeof(salt_label), strlen(user) },
		     lens_k[] = { sizeof(key_label), strlen(user) };
	uint8_t mac[32];
	int err = pw_hmac(secret, 32, sp, lens_s, 2, mac);

	if (!err)
		memcpy(salt, mac, PASSWORD_SALT_LEN);
	if (!err)
		err = pw_hmac(secret, 32, kp, lens_k, 2, key);
	crypto_wipe(mac, sizeof(mac));
	return err;
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
