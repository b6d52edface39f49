// SPDX-License-Identifier: MIT
/*
 * Reading back a fingerprint that cert_fpr_format printed: "SHA256:" and the 32 bytes as
 * unpadded base64 (43 characters, OpenSSH's form). The parser is strict, because what it reads
 * comes from a person re-pinning a CA: exactly one spelling is accepted for each fingerprint, so
 * the two unused low bits of the last character must be zero and padding ('=') is refused. A
 * mistyped fingerprint is an error, never a near miss.
 */
#include <errno.h>
#include <string.h>

#include "crypto/cert.h"

enum {
	FPR_PREFIX_LEN = 7,                                 /* "SHA256:" */
	FPR_B64_LEN = (CERT_FPR_LEN * 4 + 2) / 3,           /* 43 for 32 bytes */
	FPR_TAIL_BITS = FPR_B64_LEN * 6 - CERT_FPR_LEN * 8, /* unused bits of the last character */
};

/* The 6-bit value of a base64 character (standard alphabet), or -1. */
static int
fpr_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
cert_fpr_parse(const char *s, uint8_t fpr[CERT_FPR_LEN])
{
	uint8_t out[CERT_FPR_LEN];
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (!s || strncmp(s, "SHA256:", FPR_PREFIX_LEN) ||
	    strlen(s) != FPR_PREFIX_LEN + FPR_B64_LEN)
		return -EINVAL;
	for (const char *p = s + FPR_PREFIX_LEN; *p; p++) {
		int v = fpr_b64_value(*p);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Whatever is left over are the unused bits: a second spelling unless they are zero. */
	if (o != CERT_FPR_LEN || bits != FPR_TAIL_BITS || acc != 0)
		return -EINVAL;
	memcpy(fpr, out, CERT_FPR_LEN);
	return 0;
}
