// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the record layer, driven the way a real stream reader drives it: decode
 * a header, check the length against the type's limit before touching the body, take the body,
 * hand it to its type's decoder, move on. A truncated last record ends the stream (a reader
 * would wait for more bytes). Decoded HELLOs and frame headers must re-encode to their bytes;
 * a CIPHERS record decodes exactly when it has its one byte, to that byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_record_body(const struct record_hdr *rh, const uint8_t *body)
{
	struct hello hello;
	struct frame_hdr fh;
	uint8_t out[HELLO_LEN], bits;

	switch (rh->type) {
	case RECORD_HELLO:
		if (rh->len != HELLO_LEN)
			abort();
		if (hello_decode(body, rh->len, &hello)) {
			hello_encode(out, &hello);
			if (memcmp(out, body, HELLO_LEN) != 0)
				abort();
		}
		break;
	case RECORD_FRAME:
		if (frame_hdr_decode(body, rh->len, &fh)) {
			frame_hdr_encode(out, &fh);
			if (memcmp(out, body, FRAME_HDR_LEN) != 0)
				abort();
		}
		break;
	case RECORD_CLOSE:
		if (rh->len != 0)
			abort();
		break;
	case RECORD_CIPHERS:
		if (rh->len != CIPHERS_LEN || !ciphers_decode(body, rh->len, &bits) ||
		    bits != body[0])
			abort();
		break;
	default:
		break; /* skipped by length */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	struct record_hdr rh;
	uint8_t hdr[RECORD_HDR_LEN];

	while (record_hdr_decode(data + off, size - off, &rh)) {
		if (rh.len > record_body_max(rh.type) || rh.len > RECORD_BODY_MAX)
			abort();
		record_hdr_encode(hdr, &rh);
		if (memcmp(hdr, data + off, RECORD_HDR_LEN) != 0)
			abort();
		off += RECORD_HDR_LEN;
		if (size - off < rh.len)
			break;
		fuzz_record_body(&rh, data + off);
		off += rh.len;
	}
	return 0;
}
