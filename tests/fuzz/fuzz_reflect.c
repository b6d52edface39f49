// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the reflection codec (proto/reflect.c): any datagram. One the decoder
 * takes must re-encode to exactly the same bytes (each message has one encoding).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/reflect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[REFLECT_LEN];
	struct sockaddr_storage addr, other;
	uint64_t nonce;
	uint8_t flags;

	if (reflect_request_decode(data, size, &nonce, &flags)) {
		reflect_request_encode(out, nonce, flags);
		if (size != REFLECT_LEN || memcmp(out, data, size) ||
		    !reflect_is_reflect(data, size))
			abort();
	}
	if (reflect_response_decode(data, size, &nonce, &addr, &other)) {
		if (!reflect_response_encode(out, nonce, &addr, &other) || size != REFLECT_LEN ||
		    memcmp(out, data, size) || !reflect_is_reflect(data, size))
			abort();
	}
	return 0;
}
