/* SPDX-License-Identifier: MIT */
/*
 * The birthday technique (DESIGN §6), its decisions only: what to do when one side's NAT has an
 * endpoint-dependent mapping ("symmetric": a new public port for every destination, here chosen
 * at random) and the other's lets in only what comes from where it sent to. direct.c does the
 * sending, on its timer; everything here is pure (time and randomness are arguments), so
 * test_birthday checks it on injected values.
 *
 * The symmetric side S opens BIRTHDAY_SOCKETS extra sockets (path/udp.h), each sending one
 * datagram to the other side C's server-reflexive endpoint: S's router then holds that many
 * mappings, at random ports, that let in what comes back from C's endpoint. C sends
 * BIRTHDAY_PROBES probes (sealed under the session, like any probe) from its data socket to as
 * many distinct ports of S's public address, each opening C's filter toward that port. A probe
 * that lands on one of S's mappings reaches S's socket, S answers from it, C's router lets the
 * answer in (C sent to exactly that address and port), and that socket carries the peer's UDP
 * frames from then on. With ports random over the 64,512 above 1023, n sockets and m probes
 * miss each other with probability about exp(-n*m/64512): 256 x 1024 succeed 98 % of the time,
 * 256 x 2048 (what we send: 4 s at the rate, the first hit after ~250 probes on average)
 * 99.97 %.
 *
 * Bounds: sockets are opened and probes sent at BIRTHDAY_RATE_PER_SEC at most (in batches per
 * tick), C starts BIRTHDAY_SPRAY_DELAY_MS after it decided (S's mappings must be there first);
 * S's sockets are all released BIRTHDAY_HOLD_MS after they were opened if none was hit, all but
 * the hit one once its path works both ways, the hit one too if it has not validated within
 * BIRTHDAY_VALIDATE_MS (a datagram that pinned it and was no authentic frame) or when the path
 * has not worked for BIRTHDAY_HOLD_MS (dead: the next round opens new ones). A try that found
 * nothing is not repeated with that peer for BIRTHDAY_RETRY_MS, whatever offers come.
 *
 * Port prediction: reflection saw two public ports for the data socket (toward the server's
 * two ports, in that order). A NAT that allocates sequentially shows a small constant step
 * between them, and the next mapping (toward the peer) is most likely the next step on: then
 * C's first BIRTHDAY_PREDICT_WINDOW probes go to those ports, before the random ones.
 *
 * Both sides symmetric: each plays both parts. With random ports on both sides a probe must
 * hit a mapping made toward the very port it came from, which these numbers almost never do
 * (docs/direct-paths.md has the measured rate); with a sequential allocator the prediction
 * can.
 */
#ifndef VERTEX_DIRECT_BIRTHDAY_H
#define VERTEX_DIRECT_BIRTHDAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	BIRTHDAY_SOCKETS = 256,      /* the symmetric side's extra sockets (path/udp.h's maximum) */
	BIRTHDAY_PROBES = 2048,      /* the other side's probes, each to a port of its own */
	BIRTHDAY_RATE_PER_SEC = 500, /* sockets opened, or probes sent, per second at most */
	BIRTHDAY_SPRAY_DELAY_MS = 500,
	BIRTHDAY_HOLD_MS = 15000,
	BIRTHDAY_VALIDATE_MS = 5000,
	BIRTHDAY_RETRY_MS =
	    120000,               /* after a try that found nothing, the next one with that peer */
	BIRTHDAY_PORT_MIN = 1024, /* a NAT maps ports >= 1024 among themselves */
	BIRTHDAY_PORTS = 65536 - BIRTHDAY_PORT_MIN,
	BIRTHDAY_PREDICT_DELTA_MAX = 16, /* a larger step between mappings: not sequential */
	BIRTHDAY_PREDICT_WINDOW = 64,
};

/*
 * Port prediction: ports (n of them, in the order the mappings were made). True, with the
 * next port the allocator will give and its step, when every step between two in a row is the
 * same and non-zero, at most BIRTHDAY_PREDICT_DELTA_MAX either way (needs n >= 2).
 */
bool birthday_predict(const uint16_t *ports, size_t n, uint16_t *next, int *delta);

/* A random 32-bit number (injected: crypto_random in the daemon, a seeded one in tests). */
typedef uint32_t (*birthday_rand_fn)(void *arg);

/* The other side's probes: which ports, when (plain data; birthday_spray_* keep it sound). */
struct birthday_spray {
	uint64_t start_ms;
	unsigned total, sent;
	bool predicted; /* the first BIRTHDAY_PREDICT_WINDOW go to base + k * delta */
	uint16_t base;
	int delta;
	uint8_t used[BIRTHDAY_PORTS / 8]; /* ports sent to already */
};

/* total probes (at most BIRTHDAY_PORTS), from start_ms; prediction when predicted. */
void birthday_spray_init(struct birthday_spray *s, uint64_t start_ms, unsigned total,
			 bool predicted, uint16_t base, int delta);
/*
 * The ports due by now (at BIRTHDAY_RATE_PER_SEC since start_ms), at most max, into out, each
 * never sent to before; how many.
 */
size_t birthday_spray_due(struct birthday_spray *s, uint64_t now, uint16_t *out, size_t max,
			  birthday_rand_fn rnd, void *rarg);
bool birthday_spray_is_done(const struct birthday_spray *s);

/* The symmetric side's sockets (ids from path_udp_aux_open). */
struct birthday_socks {
	uint64_t start_ms;
	unsigned target, n;
	int id[BIRTHDAY_SOCKETS]; /* -1: released */
	int kept;                 /* the hit one, kept once its path worked; -1: none */
	uint64_t pinned_ms;       /* when a pin was first seen (for BIRTHDAY_VALIDATE_MS); 0 */
	uint64_t works_ms;        /* the path last seen working; 0: never */
	bool opening_over;        /* no more to open (target reached, or the host ran out) */
};

void birthday_socks_init(struct birthday_socks *s, uint64_t start_ms, unsigned target);
/* How many to open now (at BIRTHDAY_RATE_PER_SEC since start_ms, up to target), at most max. */
unsigned birthday_socks_due(const struct birthday_socks *s, uint64_t now, unsigned max);
/* One was opened (id >= 0), or could not be (id < 0: no more are tried). */
void birthday_socks_opened(struct birthday_socks *s, int id);
/*
 * What to release now, given the socket frames to the peer go out of (pinned: -1 none) and
 * whether the peer's UDP path works: their ids into out (at most BIRTHDAY_SOCKETS), forgotten
 * here; how many. See the top of the file for when.
 */
size_t birthday_socks_release(struct birthday_socks *s, uint64_t now, int pinned, bool works,
			      int *out);
/* Every socket still held, into out (at most BIRTHDAY_SOCKETS); how many. */
size_t birthday_socks_release_all(struct birthday_socks *s, int *out);
/* Nothing held, nothing more to open. */
bool birthday_socks_is_over(const struct birthday_socks *s);
/* How many are held now. */
unsigned birthday_socks_held(const struct birthday_socks *s);

#endif
