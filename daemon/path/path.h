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
 *
 * Several endpoints: a peer may be reachable at more than one UDP address (two links, IPv4 and
 * IPv6, a LAN address and a NAT's mapping). Besides the current one (`endpoint`, where frames go)
 * the set remembers up to PATH_ALT_MAX others (`alt`): the peer's other static endpoints,
 * addresses its authentic frames came from without moving the endpoint, and any that answered
 * one of our probes (validated, under the session's keys like every probe). While traffic flows
 * each is probed once a second (PATH_ALT_PROBE_MS; every 5 s while it has not answered), and so
 * is the current one: that is at most 4 sealed 5-byte probes a second per busy peer, and each
 * endpoint gets a fresh RTT sample a second, enough to follow a change within seconds. Each has
 * its own smoothed RTT (gain 1/4: with a sample a second, RFC 6298's 1/8 takes ~8 s to follow
 * a change) and loss (the share of its probes unanswered, gain 1/8).
 *
 * The choice: the current endpoint stays until another's smoothed RTT plus its mean deviation
 * is lower than the current one's minus its own by PATH_SWITCH_PCT % and by PATH_SWITCH_MIN_MS
 * (the deviations: two paths whose samples overlap never look apart; the 2 ms: scheduling noise
 * on a LAN must not move anything), in PATH_SWITCH_SAMPLES of its answers in a row spanning
 * PATH_SWITCH_HOLD_MS, with a loss estimate no more than 5 % above the current's. Once moved,
 * moving back needs the old one to beat the new by the same margin: RTTs jittering around the
 * switching point cost at most one switch (the margin is the hysteresis band). When the current
 * endpoint stops answering (PATH_FAIL_MISSES), the alternate with the lowest RTT that answers takes
 * over at once; only when none does does UDP fail over to the link or the relay. A data frame from
 * a validated alternate does not move the endpoint (the peer chooses its own way to send,
 * independently: each side's choice is its own); one from anywhere else does (roaming).
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
	/* Other UDP endpoints of the peer (see "Several endpoints" above). */
	PATH_ALT_MAX = 3,            /* besides the current one: 4 UDP endpoints at most */
	PATH_ALT_PROBE_MS = 1000,    /* each validated one probed this often while busy */
	PATH_ALT_UNPROVEN_MS = 5000, /* one that never answered (or stopped): this often */
	PATH_SWITCH_PCT = 20,        /* a switch needs an RTT this much lower (relative)... */
	PATH_SWITCH_MIN_MS = 2,      /* ...and this much lower (absolute) */
	PATH_SWITCH_SAMPLES = 3,     /* in this many of its probes in a row... */
	PATH_SWITCH_HOLD_MS = 2000,  /* ...over at least this long */
	PATH_SWITCH_LOSS_PM = 50,    /* and its loss no more than 5 % above the current's */
};

/*
 * What is known of one UDP endpoint besides the current one: whether it answered our probes
 * (validated_ms), its RTT and loss from them. The current endpoint's own figures are the path
 * set's fields of the same names; a switch swaps the two.
 */
struct path_alt {
	struct sockaddr_storage addr; /* family 0: a free slot */
	uint64_t validated_ms;        /* an answer to our probe came from it; 0: never */
	uint64_t last_rx_ms;          /* an authentic frame came from it; 0: never */
	uint64_t probe_sent_ms;       /* its probe outstanding; 0: none */
	uint64_t probe_last_ms;       /* its last probe */
	uint32_t probe_seq;
	uint32_t srtt8;   /* smoothed RTT in 1/8 ms; 0 with rtt_n 0: unknown */
	uint32_t var8;    /* its mean deviation, 1/8 ms (RFC 6298 RTTVAR, gain 1/4) */
	uint32_t rtt_ms;  /* the last probe's */
	uint32_t rtt_n;   /* answers timed */
	uint16_t loss_pm; /* probes unanswered, per mille, smoothed (gain 1/8) */
	unsigned misses;  /* probes unanswered in a row */
	unsigned better;  /* its answers in a row that beat the current by the margin */
	uint64_t better_since_ms;
	uint64_t probes_sent, probes_answered;
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
	uint32_t srtt_ms;       /* smoothed RTT over UDP (gain 1/4), whole ms; 0: unknown */
	uint32_t srtt8;         /* the same in 1/8 ms, what choices compare */
	uint32_t var8;          /* its mean deviation, 1/8 ms */
	uint32_t rtt_n;         /* answers timed */
	uint32_t rtt_ms;        /* the last probe's */
	uint16_t loss_pm;       /* probes unanswered, per mille, smoothed (gain 1/8) */
	uint64_t probes_sent, probes_answered, failovers;
	uint64_t last_data_ms; /* a data frame sent or received (any path); 0: never */
	uint64_t validated_ms; /* a probe answer came over UDP (both ways work); 0: never */

	/* The peer's other UDP endpoints (see above). */
	struct path_alt alt[PATH_ALT_MAX];
	uint64_t alt_due_ms;    /* no alternate needs anything before then */
	uint32_t seq_next;      /* the last probe number handed out (current or alternate) */
	uint64_t switches;      /* moves from one validated endpoint to another by choice */
	uint64_t switch_ms;     /* the last of them (or a failover to an alternate); 0: none */
	uint64_t alt_failovers; /* the current lost, an alternate took over (not the relay) */
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
 * Any answer to one of our probes came over UDP from `from` at now (seq 0: a keepalive's or a
 * check's, untimed). From the endpoint it validates the path (path_set_on_validated) and times
 * it (path_set_on_probe_answer); from elsewhere it validates that alternate (remembered if it was
 * not: it answered under the session's keys), times it, and may switch to it (logged).
 */
void path_set_on_answer(struct path_set *s, const struct sockaddr_storage *from, uint32_t seq,
			uint64_t now, uint64_t dead_after_ms, const char *who);
/*
 * An authentic frame came over UDP from `from`, which stays an alternate (the endpoint does not
 * move): remembered (to be probed), its last frame noted. A full table replaces the alternate
 * heard from longest ago among those not validated; if all are, nothing is learnt.
 */
void path_set_learn(struct path_set *s, const struct sockaddr_storage *from, uint64_t now);
/* Is `from` an alternate that answered our probes recently and has not stopped? */
bool path_set_alt_alive(const struct path_set *s, const struct sockaddr_storage *from, uint64_t now,
			uint64_t dead_after_ms);
/*
 * While traffic flows, an alternate to probe now (its probe counted as sent, *seq its number),
 * or NULL; call again until NULL (at most PATH_ALT_MAX in one turn). Cheap when nothing is due.
 */
const struct sockaddr_storage *path_set_alt_upkeep(struct path_set *s, uint64_t now,
						   uint64_t dead_after_ms, uint32_t *seq);
/* An RTT in 1/8 ms as "1.2" (ms, one decimal). */
void path_rtt_show(uint32_t rtt8, char *buf, size_t len);

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
