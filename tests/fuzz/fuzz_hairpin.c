// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the hairpin probe (proto/hairpin.c) and the test that takes it
 * (direct/hairpin.c): any datagram. One the decoder takes must re-encode to exactly the same
 * bytes (one encoding); fed to a running test, only the test's own nonce makes it `yes`, and
 * everything else is counted as dropped, never a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "direct/hairpin.h"
#include "proto/hairpin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage target = { .ss_family = AF_INET };
	uint8_t out[HAIRPIN_LEN];
	struct hairpin h;
	uint64_t nonce;
	bool ok = hairpin_probe_decode(data, size, &nonce), taken;

	if (ok) {
		hairpin_probe_encode(out, nonce);
		if (size != HAIRPIN_LEN || memcmp(out, data, size) || !hairpin_is_probe(data, size))
			abort();
	}
	hairpin_init(&h);
	hairpin_start(&h, &target, false, 0x0123456789abcdefull, 1000);
	taken = hairpin_on_datagram(&h, data, size, 1001);
	if (taken != (ok && nonce == 0x0123456789abcdefull) ||
	    h.result != (taken ? HAIRPIN_YES : HAIRPIN_TESTING) || h.bad != !taken)
		abort();
	return 0;
}
