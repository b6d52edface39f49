// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for revocation lists: crl_decode_verify on arbitrary bytes against a fixed
 * CA public key. The seeds in corpus/crl/ were signed by that key's (discarded) private half,
 * so mutations start from lists whose structure and signature are valid. Anything accepted
 * must satisfy what verifiers rely on: a bounded, strictly ascending list whose every entry is
 * found by crl_is_revoked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The public key of the throwaway CA of b.example.com that signed the seeds. */
static const uint8_t FUZZ_CA_PUBKEY[CERT_PUBKEY_LEN] = {
	0x0c, 0x1a, 0x49, 0x9f, 0x13, 0x59, 0xf8, 0xab, 0xa4, 0x15, 0x3c,
	0x68, 0x81, 0x14, 0x9e, 0xef, 0xf2, 0xde, 0xef, 0xe6, 0x56, 0xe0,
	0x75, 0x8c, 0x5e, 0xe2, 0x93, 0x52, 0xd9, 0x54, 0x47, 0xbd,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	struct crl c;

	if (crl_decode_verify(data, size, FUZZ_CA_PUBKEY, &c, &why) != 0) {
		if (why == NULL || c.revoked != NULL || c.count != 0)
			abort();
		return 0;
	}
	if (c.count > CRL_MAX_ENTRIES || c.domain[0] == '\0' ||
	    (c.count > 0) != (c.revoked != NULL))
		abort();
	for (size_t i = 0; i < c.count; i++) {
		if (i > 0 && memcmp(c.revoked[i - 1], c.revoked[i], CERT_FPR_LEN) >= 0)
			abort();
		if (!crl_is_revoked(&c, c.revoked[i]))
			abort();
	}
	crl_free(&c);
	return 0;
}
