/* SPDX-License-Identifier: MIT */
/*
 * The hairpin test (DESIGN §6, "hairpin"): does our NAT take a datagram from its inside to its
 * own public address and port, and hand it to the inside host that mapping belongs to? Two
 * agents behind one such NAT on LAN segments that cannot reach each other directly can then
 * meet at their server-reflexive addresses. `vertex netcheck` says what the test found.
 *
 * Once reflection told the data socket's server-reflexive address, the agent sends a hairpin
 * probe (proto/hairpin.h, a random nonce per test) from that socket to that address: up to
 * HAIRPIN_TRIES of them, HAIRPIN_RETRY_MS apart. One coming back to the socket with the nonce
 * within HAIRPIN_WAIT_MS of the first: `yes`; none: `no`. Where the reflexive address is one of
 * the host's own addresses there is no NAT to test: `no NAT`, and nothing is sent. A new
 * reflexive address (a new mapping, a new NAT) starts a new test.
 *
 * States: untested (nothing known yet) -> testing -> yes | no; or no-nat. Timer: hairpin_tick()
 * on the caller's timer (direct.c's tick), which sends what is due and concludes `no` when the
 * wait is over. The state is plain data, its clock the caller's: the unit test drives it.
 */
#ifndef VERTEX_DIRECT_HAIRPIN_H
#define VERTEX_DIRECT_HAIRPIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proto/hairpin.h"

enum hairpin_result {
	HAIRPIN_UNTESTED,
	HAIRPIN_TESTING,
	HAIRPIN_YES,
	HAIRPIN_NO,
	HAIRPIN_NO_NAT,
};

enum {
	HAIRPIN_TRIES = 3,
	HAIRPIN_RETRY_MS = 1000,
	HAIRPIN_WAIT_MS = 3000, /* from the first probe: the last one gets HAIRPIN_RETRY_MS */
};

struct hairpin {
	int result;                            /* enum hairpin_result */
	struct sockaddr_storage target;        /* our reflexive address: where the probes go */
	uint64_t nonce;                        /* this test's; 0: none running */
	unsigned tries;                        /* probes sent this test */
	uint64_t started_ms, next_ms, last_ms; /* last_ms: the last probe sent */
	/* yes: from the last probe sent to its return (one nonce per test: which one came back is
	 * not told, and the last is the likeliest) */
	uint64_t rtt_ms;
	/* Since the start: probes sent, come back with the nonce, and other datagrams of the type
	 * (malformed, another nonce, none running): dropped. */
	uint64_t sent, back, bad;
};

/* Nothing tested yet. */
void hairpin_init(struct hairpin *h);
/*
 * A new test toward our reflexive address `target` (a new one, or the first) with `nonce`
 * (random, not 0: the caller's, so a test can choose it); no_nat: `target` is one of the host's
 * own addresses (then nothing is sent and the result is `no NAT`). The counters are kept.
 */
void hairpin_start(struct hairpin *h, const struct sockaddr_storage *target, bool no_nat,
		   uint64_t nonce, uint64_t now);
/*
 * On the caller's timer: a probe due now goes into out (to h->target) and true is returned;
 * the wait over with nothing back concludes `no`.
 */
bool hairpin_tick(struct hairpin *h, uint64_t now, uint8_t out[HAIRPIN_LEN]);
/*
 * A datagram whose first byte is the probe's (hairpin_is_probe) reached our data socket: true
 * if it is this test's probe come back (then `yes`); else it is counted in bad and dropped.
 */
bool hairpin_on_datagram(struct hairpin *h, const uint8_t *buf, size_t len, uint64_t now);
/* "yes", "no", "untested", "testing", "no NAT". */
const char *hairpin_result_name(int result);

#endif
