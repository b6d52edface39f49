// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the reassembly of revocation lists from CTL_CRL chunks
 * (control/crlpull.c): the input is a sequence of chunks, each a u16 length (big-endian) and
 * a CTL_CRL body, as a server under an attacker's control could send them. Whatever comes, the
 * pull never holds more than the list it announced, never writes outside it, a DONE list is
 * exactly `total` bytes whose last chunk is the bytes last given, and a chunk of another
 * domain's list changes nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/crlpull.h"
#include "proto/ctlmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crl_pull p;

	crl_pull_init(&p, "b.example.com");
	while (size >= 2) {
		size_t len = (size_t)(data[0] << 8 | data[1]);
		struct ctlmsg m;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (ctlmsg_decode(CTL_CRL, data, len, &m)) {
			bool other_domain = strcmp(m.u.crl.domain, p.domain) != 0;
			uint32_t have = p.have, total = p.total;
			enum crl_pull_result r = crl_pull_on_chunk(&p, &m);

			if (p.have > p.total || (p.buf == NULL) != (p.total == 0))
				abort();
			if (r == CRL_PULL_MORE && p.have == p.total)
				abort();
			if (r == CRL_PULL_DONE) {
				if (p.have != p.total ||
				    m.u.crl.offset + m.u.crl.chunk_len != p.total ||
				    memcmp(p.buf + m.u.crl.offset, m.u.crl.chunk,
					   m.u.crl.chunk_len))
					abort();
				crl_pull_reset(&p);
			}
			/* A chunk of another domain's list is refused and leaves the pull as
			 * it was; a restart, or a list that cannot be held, leaves nothing. */
			if (other_domain &&
			    (r != CRL_PULL_BAD || p.have != have || p.total != total))
				abort();
			if (!other_domain && (r == CRL_PULL_RESTART || r == CRL_PULL_BAD) && p.buf)
				abort();
		}
		data += len;
		size -= len;
	}
	crl_pull_reset(&p);
	return 0;
}
