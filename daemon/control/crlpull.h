/* SPDX-License-Identifier: MIT */
/*
 * A revocation list arriving in pieces. A signed list (crypto/crl.h) can be up to 2 MiB, far
 * more than one control message carries, so a server sends it as CTL_CRL chunks of at most
 * CTL_BLOB_MAX bytes, each naming the list (number, issued) and its total size, and a client
 * pulls them one at a time with CTL_CRL_REQ from the offset it has reached (proto/ctlmsg.h).
 * Pulling keeps one chunk in flight per client, so a large list costs a server no more output
 * buffer per connection than a small one.
 *
 * This is the client's reassembly, and nothing else: no I/O, no crypto. The caller sends the
 * requests, and verifies the whole list once it is complete (its signature covers every byte,
 * so a chunk of another list or a forged chunk fails there at the latest).
 *
 * States: idle (buf NULL), assembling (buf holds `have` of `total` bytes). A chunk at offset 0
 * always starts a list afresh; any other chunk must continue the list being assembled exactly
 * where it stands, else the server's list changed in between and the pull restarts.
 */
#ifndef VERTEX_CRLPULL_H
#define VERTEX_CRLPULL_H

#include <stdint.h>

#include "trust/identity.h"

struct ctlmsg;

struct crl_pull {
	char domain[IDENTITY_DOMAIN_MAX + 1];
	uint64_t number; /* of the list being assembled */
	int64_t issued;
	uint32_t total, have;
	uint8_t *buf; /* total bytes while assembling; owned */
};

enum crl_pull_result {
	CRL_PULL_MORE,    /* ask for the next chunk: offset p->have */
	CRL_PULL_DONE,    /* p->buf holds the whole list, p->total bytes: verify it, then reset */
	CRL_PULL_RESTART, /* the list changed under us: ask again from offset 0 */
	CRL_PULL_BAD,     /* another domain's list, or out of memory: nothing kept */
};

/* An idle pull for domain's list (copied). */
void crl_pull_init(struct crl_pull *p, const char *domain);
/* Takes one decoded CTL_CRL message (its fields are already range-checked by the codec). */
enum crl_pull_result crl_pull_on_chunk(struct crl_pull *p, const struct ctlmsg *m);
/* Back to idle, freeing what was assembled. */
void crl_pull_reset(struct crl_pull *p);

#endif
