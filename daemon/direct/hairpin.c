// SPDX-License-Identifier: MIT
/*
 * The hairpin test's state (hairpin.h): one test at a time, driven by the caller's clock.
 */
#include "direct/hairpin.h"

#include <string.h>

void
hairpin_init(struct hairpin *h)
{
	memset(h, 0, sizeof(*h));
	h->result = HAIRPIN_UNTESTED;
}

void
hairpin_start(struct hairpin *h, const struct sockaddr_storage *target, bool no_nat, uint64_t nonce,
	      uint64_t now)
{
	h->target = *target;
	h->tries = 0;
	h->rtt_ms = 0;
	h->started_ms = h->next_ms = h->last_ms = now;
	h->nonce = no_nat ? 0 : nonce | 1; /* never 0: 0 is "none running" */
	h->result = no_nat ? HAIRPIN_NO_NAT : HAIRPIN_TESTING;
}

bool
hairpin_tick(struct hairpin *h, uint64_t now, uint8_t out[HAIRPIN_LEN])
{
	if (h->result != HAIRPIN_TESTING)
		return false;
	if (now - h->started_ms >= HAIRPIN_WAIT_MS) {
		h->result = HAIRPIN_NO;
		h->nonce = 0; /* a probe later than this proves nothing */
		return false;
	}
	if (h->tries >= HAIRPIN_TRIES || now < h->next_ms)
		return false;
	hairpin_probe_encode(out, h->nonce);
	h->tries++;
	h->sent++;
	h->last_ms = now;
	h->next_ms = now + HAIRPIN_RETRY_MS;
	return true;
}

bool
hairpin_on_datagram(struct hairpin *h, const uint8_t *buf, size_t len, uint64_t now)
{
	uint64_t nonce;

	if (!hairpin_probe_decode(buf, len, &nonce) || h->result != HAIRPIN_TESTING ||
	    nonce != h->nonce) {
		h->bad++;
		return false;
	}
	h->back++;
	h->result = HAIRPIN_YES;
	h->nonce = 0; /* the others of this test, if they come, are counted as bad */
	h->rtt_ms = now - h->last_ms;
	return true;
}

const char *
hairpin_result_name(int result)
{
	switch (result) {
	case HAIRPIN_TESTING:
		return "testing";
	case HAIRPIN_YES:
		return "yes";
	case HAIRPIN_NO:
		return "no";
	case HAIRPIN_NO_NAT:
		return "no NAT";
	default:
		return "untested";
	}
}
