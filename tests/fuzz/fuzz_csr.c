// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for certificate requests: csr_verify on arbitrary bytes (a CSR arrives from
 * an agent that is not authenticated yet). Anything accepted must name a valid, canonical
 * user@domain; the seeds in corpus/csr/ are valid requests for a few identities.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/csr.h"
#include "trust/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[IDENTITY_STR_MAX], canon[IDENTITY_STR_MAX];
	uint8_t pub[CERT_PUBKEY_LEN];
	struct identity parsed;
	const char *why = NULL;

	if (csr_verify(data, size, id, pub, &why) != 0) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (identity_parse(id, IDENTITY_PURPOSE_FORBIDDEN, &parsed, NULL) != 0 ||
	    identity_format(&parsed, canon, sizeof(canon)) != 0 || strcmp(canon, id) != 0)
		abort();
	return 0;
}
