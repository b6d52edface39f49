/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for edge translation (daemon/overlay/xlate.c), the first code to parse the
 * inner packets a peer sends. The input is copied to a heap buffer of its exact length so ASan
 * sees any access past the end. Beyond "no crash", two properties are checked: a refused packet
 * is left untouched, and an IPv4 header checksum that was valid stays valid. The map matches the
 * sources of the seed corpus (tests/fuzz/corpus/xlate, made by gen_corpus_xlate.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/csum.h"
#include "overlay/xlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct xlate_map fuzz_map = {
	.peer_self4 = { 100, 64, 0, 1 },
	.peer_view4 = { 100, 64, 0, 2 },
	.own4 = { 100, 64, 0, 1 },
	.peer_self6 = { 0xfd, 0x22, 0x22, 0x22, 0x22, 0x22, [15] = 1 },
	.peer_view6 = { 0xfd, 0x11, 0x11, 0x11, 0x11, 0x11, [15] = 2 },
	.own6 = { 0xfd, 0x11, 0x11, 0x11, 0x11, 0x11, [15] = 1 },
};

static int
ip4_header_ok(const uint8_t *p, size_t len)
{
	size_t ihl;

	if (len < 20 || p[0] >> 4 != 4)
		return 0;
	ihl = (p[0] & 0xfu) * 4;
	return ihl >= 20 && ihl <= len && csum_fold(csum_partial(p, ihl, 0)) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *pkt = malloc(size ? size : 1);
	enum xlate_result res;
	int hdr_ok;

	if (!pkt)
		return 0;
	memcpy(pkt, data, size);
	hdr_ok = ip4_header_ok(pkt, size);
	res = xlate_inbound(pkt, size, &fuzz_map);
	if ((unsigned)res >= XLATE_RESULT_COUNT || !xlate_result_name(res))
		abort();
	if (res != XLATE_OK && size && memcmp(pkt, data, size) != 0)
		abort(); /* a refused packet must come back as it went in */
	if (res == XLATE_OK && hdr_ok && !ip4_header_ok(pkt, size))
		abort(); /* the incremental update broke a valid header checksum */
	free(pkt);
	return 0;
}
