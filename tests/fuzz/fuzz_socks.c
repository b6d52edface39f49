// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the SOCKS5 parsers (socks/socks.c): the input is what a client sends, a
 * greeting and then a request, as one stream. Every prefix is parsed as well, as partial
 * reads would give it: a prefix of a complete message must never be DONE with a different
 * length, and a message DONE for the whole input must be DONE, with the same length, for any
 * longer input (more bytes behind it never change it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks/socks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_request(const uint8_t *data, size_t size)
{
	struct socks_request r;
	enum socks_reply rep;
	size_t used = 0, used_prefix;
	enum socks_status st = socks_parse_request(data, size, &r, &used, &rep);
	uint8_t out[SOCKS_REPLY_MAX];

	if (st == SOCKS_DONE && (used > size || used > SOCKS_REQUEST_MAX || r.cmd != 1))
		abort();
	if (st == SOCKS_BAD && socks_encode_reply(out, rep, NULL) == 0)
		abort();
	if (st != SOCKS_DONE)
		return;
	for (size_t n = 0; n < used; n++)
		if (socks_parse_request(data, n, &r, &used_prefix, &rep) == SOCKS_DONE)
			abort();
	if (socks_parse_request(data, used, &r, &used_prefix, &rep) != SOCKS_DONE ||
	    used_prefix != used)
		abort();
	if (r.atyp != SOCKS_ATYP_NAME && socks_encode_reply(out, 0, &r.addr) == 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct socks_greeting g;
	size_t used = 0, again;

	if (size > SOCKS_GREETING_MAX + SOCKS_REQUEST_MAX)
		return 0;
	switch (socks_parse_greeting(data, size, &g, &used)) {
	case SOCKS_DONE:
		if (used > size || used > SOCKS_GREETING_MAX ||
		    socks_parse_greeting(data, used, &g, &again) != SOCKS_DONE || again != used)
			abort();
		check_request(data + used, size - used);
		break;
	case SOCKS_NEED_MORE:
	case SOCKS_BAD:
		check_request(data, size);
		break;
	}
	return 0;
}
