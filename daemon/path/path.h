/* SPDX-License-Identifier: MIT */
/*
 * A peer's paths, and the choice between them (DESIGN §6). Today a peer has three: UDP to an
 * endpoint (learnt from where its authenticated frames come from, so it roams), the stream of
 * its session link, which carries frames as FRAME records when UDP does not get through, and the
 * relay through the servers (docs/rendezvous.md), for a peer met by rendezvous: its frames go as
 * RELAY_FRAME datagrams through the home server, and its handshakes are dialed through the
 * relay too (a link over a relayed channel). Candidates from offers become the UDP endpoint
 * once validated (direct/), or a direct TCP link (path_set_dial_once).
 *
 * struct path_set is embedded in the peer (peer/peer.h) and changed only by these functions.
 * It knows nothing of peers, links or sockets: the stream is an opaque handle of the link module,
 * the UDP socket is path/udp.h's.
 *
 * When UDP counts as working: an authenticated frame arrived over it within `dead_after_ms`
 * (the peer's dead-peer interval: 3 keepalives + 2 s), an answer to one of our probes too (so
 * it works both ways: a firewall that lets the peer's datagrams out but none in would otherwise
 * swallow everything we send), and it has not failed a probe. Until then frames go over the
 * stream or the relay if there is one, and UDP is tried by keepalives, which over UDP are probe
 * requests (sequence 0), answered: that is how it is found to work, and kept known to.
 *
 * Probes (proto/probe.h) watch UDP while traffic flows (data either way in the last
 * PATH_ACTIVE_MS: path_set_on_data), so that a path that dies under a transfer is left within
 * about a second and a half, not at the dead-peer interval: the data plane asks path_set_upkeep
 * before each frame it sends and every few hundred milliseconds (a sender that stopped because
 * nothing comes back sends no frames); when nothing came back over UDP for
 * PATH_QUIET_MS, a probe goes out (one at a time); PATH_FAIL_MISSES of them unanswered in a row,
 * each within its timeout (PATH_QUIET_MS plus twice the smoothed RTT, at most
 * PATH_PROBE_TIMEOUT_MAX_MS), and UDP has failed: frames go the next way (stream or relay). Two,
 * so that one datagram lost at random does not move a flow. While failed, a probe every
 * PATH_RETRY_MS; UDP is taken again after PATH_RECOVER_ANSWERS answers in a row (hysteresis: one
 * lucky datagram does not bring a flapping path back). Answers also give the path's RTT.
 */
#ifndef VERTEX_PATH_H
#define VERTEX_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct link;

enum {
	PATH_DIAL_MAX = 8, /* static endpoints of a peer (config: at most 8) */
	PATH_QUIET_MS = 500,
	PATH_PROBE_TIMEOUT_MAX_MS = 3000,
	PATH_RETRY_MS = 1000,
	PATH_RECOVER_ANSWERS = 2,
	PATH_FAIL_MISSES = 2,
	PATH_ACTIVE_MS = 3000, /* data within this long: traffic flows, UDP is watched */
};

enum path_kind {
	PATH_NONE,   /* nowhere to send */
	PATH_UDP,    /* a datagram to the endpoint */
	PATH_STREAM, /* a FRAME record on the session link */
	PATH_RELAY,  /* a RELAY_FRAME through the home server */
};

struct path_set {
	struct sockaddr_storage endpoint; /* where UDP frames go; family 0 if unknown */
	uint64_t last_udp_rx_ms;          /* last authenticated frame over UDP; 0: never */
	struct link *stream;              /* the link of the session, or NULL (borrowed) */
	bool stream_relayed;              /* that link runs over a relayed channel */
	bool relay;                       /* the relay may carry this peer (an approval exists) */
	enum path_kind last_rx;           /* the path the last authentic frame came over */
	struct sockaddr_storage dial[PATH_DIAL_MAX]; /* where a handshake may be dialed */
	size_t ndial, next_dial;
	struct sockaddr_storage dial_once; /* the next dial goes here first; family 0: none */
	struct sockaddr_storage dial_out;  /* what path_set_next_dial handed out of dial_once */

	/* UDP probes (see above). */
	uint64_t probe_sent_ms; /* the probe outstanding, sent then; 0: none */
	uint64_t probe_last_ms; /* the last probe sent, answered or not */
	uint32_t probe_seq;     /* its sequence number */
	uint64_t failed_ms;     /* UDP failed a probe then; 0: it has not */
	unsigned answers;       /* answers in a row since it failed */
	unsigned misses;        /* probes unanswered in a row (PATH_FAIL_MISSES: failed) */
	uint32_t srtt_ms;       /* smoothed RTT over UDP (RFC 6298's 1/8 gain); 0: unknown */
	uint32_t rtt_ms;        /* the last probe's */
	uint64_t probes_sent, probes_answered, failovers;
	uint64_t last_data_ms; /* a data frame sent or received (any path); 0: never */
	uint64_t validated_ms; /* a probe answer came over UDP (both ways work); 0: never */
};

/*
 * The dial "address" that means "through the relay" (family AF_UNSPEC): path_set_next_dial gives
 * it, in turn with the static endpoints, for a peer the relay may carry; the dialer sees it with
 * path_dial_is_relay. A relayed link's remote end is this address too.
 */
extern const struct sockaddr_storage path_relay_addr;
bool path_dial_is_relay(const struct sockaddr_storage *to);
/* An address for logs: "relay" for path_relay_addr, "(none)" for none, else as sockaddr_show. */
void path_addr_show(const struct sockaddr_storage *a, char *buf, size_t len);
/* The relay may (on) or may no longer (off) carry the peer. */
void path_set_relay(struct path_set *s, bool on);

/* Static endpoints (copied); the first is also where UDP goes until a frame says otherwise. */
void path_set_init(struct path_set *s, const struct sockaddr_storage *endpoints, size_t n);
/* Is there anywhere to dial a handshake to (a static endpoint, or the relay)? */
bool path_set_can_dial(const struct path_set *s);
/*
 * The next address to dial a handshake to: the one path_set_dial_once named, once; else round
 * robin over the static endpoints and the relay; or NULL.
 */
const struct sockaddr_storage *path_set_next_dial(struct path_set *s);
/* The next dial goes to `to` (a peer's TCP candidate: a direct link where UDP does not pass). */
void path_set_dial_once(struct path_set *s, const struct sockaddr_storage *to);
/*
 * An authenticated frame arrived over UDP from `from` at now: UDP works; if it came from
 * elsewhere than the endpoint, the peer roamed and the endpoint follows (said in the log, with
 * who naming the peer).
 */
void path_set_on_udp_rx(struct path_set *s, const struct sockaddr_storage *from, uint64_t now,
			const char *who);
bool path_set_udp_is_alive(const struct path_set *s, uint64_t now, uint64_t dead_after_ms);
/* Has anything authentic come over UDP within dead_after_ms (one way only, maybe)? */
bool path_set_udp_heard(const struct path_set *s, uint64_t now, uint64_t dead_after_ms);
/*
 * Before a frame goes out at now: may find UDP failed (its probe unanswered; said in the log
 * with who) and returns true when a probe should go to the endpoint now; then the caller sends
 * one with the number path_set_probe_sent gives.
 */
bool path_set_upkeep(struct path_set *s, uint64_t now, uint64_t dead_after_ms, const char *who);
uint32_t path_set_probe_sent(struct path_set *s, uint64_t now);
/* A probe answer came over UDP at now: the path works both ways. */
void path_set_on_validated(struct path_set *s, uint64_t now);
/* A data frame (not a keepalive or a probe) went out or came in at now. */
void path_set_on_data(struct path_set *s, uint64_t now);
/* An answer to probe seq arrived over UDP at now (a stale or unknown one is ignored: false). */
bool path_set_on_probe_answer(struct path_set *s, uint32_t seq, uint64_t now, const char *who);
/*
 * The link l came up carrying the session. When we dialed it, its remote end is where the peer
 * listens: the UDP endpoint too, unless there is one and the peer was heard from already
 * (heard: anything authentic arrived from it before). A relayed link (remote: path_relay_addr)
 * teaches no endpoint, and its frames go by the relay, not in the link.
 */
void path_set_on_stream_up(struct path_set *s, struct link *l, bool we_dialed,
			   const struct sockaddr_storage *remote, bool heard);
/* l is gone; if it was the stream, there is none. */
void path_set_on_stream_gone(struct path_set *s, const struct link *l);
/* Where a data frame goes now. */
enum path_kind path_choose(const struct path_set *s, uint64_t now, uint64_t dead_after_ms);
/* "udp", "tcp", "relay" or "none", for status: what path_choose picks for a peer with a session. */
const char *path_kind_name(enum path_kind k);

#endif
