/* SPDX-License-Identifier: MIT */
/*
 * The peers and each peer's session (DESIGN §4.2): the table of peers (added and removed at run
 * time), and per peer the state machine that decides when a handshake is wanted, installs the
 * keys one produced, rekeys, keeps the session alive and notices when it is dead.
 *
 *   table.c   the table: add, delete, find by identity (hashed) or by overlay address index
 *   peer.c    the session state machine: keys installed and dropped, link events, counters
 *   timers.c  every per-peer timer: connect, rekey, keepalive (what arms each, what it does)
 *
 * Lower than the links and the data plane: it never calls them. What it needs done goes up
 * through the callbacks given at peer_table_new (struct peer_ops): dial a handshake, send a
 * keepalive, close the links of a session no longer trusted.
 *
 * States (enum peer_state):
 *   DOWN        no usable keys, nothing in progress
 *   CONNECTING  we want a session: dialing, or waiting for the peer to dial us
 *   UP          a keypair is installed; frames flow
 */
#ifndef VERTEX_PEER_H
#define VERTEX_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/ev.h"
#include "core/ratelimit.h"
#include "overlay/xlate.h"
#include "path/path.h"
#include "trust/identity.h"

struct crl;
struct keypair;
struct link;
struct peer_table;
struct session_index;

enum {
	PEER_CONNECT_BACKOFF_MIN_MS = 500,
	PEER_CONNECT_BACKOFF_MAX_MS = 30000,
	PEER_DEFER_MS = 2000,      /* how long the higher identity lets the lower one dial first */
	PEER_REKEY_GRACE_SEC = 30, /* the responder rekeys itself if the initiator has not */
	PEER_REJECT_AFTER_FACTOR = 3, /* keys older than this many rekey periods are dropped */
};

enum peer_state { PEER_DOWN, PEER_CONNECTING, PEER_UP };

enum peer_drop {
	PEER_DROP_REPLAY,
	PEER_DROP_AUTH,
	PEER_DROP_BAD_SOURCE,
	PEER_DROP_MALFORMED,
	PEER_DROP_NO_SESSION,
	PEER_DROP_RATE_LIMITED, /* a control question over the peer's rate (notary requests) */
	PEER_DROP_COUNT,
};

struct peer_stats {
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint64_t drops[PEER_DROP_COUNT];
};

/*
 * A peer. Who writes what: the table its identity, index and map (the peer's own addresses in
 * the map from its HELLO, through peer_on_session); peer.c the keys, state, counters and
 * handshake facts; timers.c the timers and the backoff; path/ the paths; the data plane the
 * stats and last_tx_ms through peer_on_tx. Everyone may read.
 */
struct peer {
	struct peer_table *table;
	char identity[IDENTITY_STR_MAX]; /* user@domain */
	uint32_t index;                  /* overlay address index; see overlay/pool.h */
	struct xlate_map map;

	struct keypair *current, *previous; /* owned */
	bool dialing;                       /* an outbound handshake is in progress */
	bool dialing_extra; /* it is peer_dial_direct's: its failure costs the session nothing */
	enum peer_state state;
	uint64_t last_rx_ms, last_tx_ms;
	int64_t last_handshake; /* unix seconds */
	uint8_t cert_fpr[32];   /* the certificate of the current session, for revocation */
	uint64_t handshakes;
	struct peer_stats stats;
	struct ratelimit_bucket notary_rl; /* the notary questions it may ask us */
	struct path_set paths;

	unsigned backoff_ms;
	struct ev_timer connect_timer;
	struct ev_timer keepalive_timer;
	struct ev_timer rekey_timer;

	struct peer *hash_next; /* table.c */
};

/* What the table's peers need from above; arg is peer_table_new's. */
struct peer_ops {
	/* Dial a handshake to `to` (p->dialing is set); 0, or -errno if it could not start. */
	int (*dial)(void *arg, struct peer *p, const struct sockaddr_storage *to);
	/* Send an empty frame on the peer's paths (it has a current keypair). */
	void (*send_keepalive)(void *arg, struct peer *p);
	/* The session ended because what vouched for it does not any more: close p's links. */
	void (*close_links)(void *arg, struct peer *p);
	/* A handshake put new keys in place (the first or a rekey); may be NULL. */
	void (*on_session)(void *arg, struct peer *p);
	/*
	 * p->state just left UP (closed, revoked, distrusted, keys expired, silence, removed):
	 * the session is lost. May be NULL. Not called when the table is freed (shutdown).
	 */
	void (*on_session_down)(void *arg, struct peer *p);
};

struct peer_params {
	const char *self;                 /* our identity: the lower one dials first */
	unsigned keepalive_sec;           /* also sets when a peer is dead: 3 of them + 2 s */
	unsigned rekey_after_sec;         /* the initiator rekeys this often */
	uint64_t rekey_after_packets;     /* or after this many frames sent */
	double notary_rate, notary_burst; /* the notary questions a peer may ask us */
};

/* table.c. Borrows loop and index; copies params (self included). *out freed with _free. */
int peer_table_new(struct peer_table **out, struct ev_loop *loop, struct session_index *index,
		   const struct peer_params *params, const struct peer_ops *ops, void *arg);
/* Frees every peer (their keys wiped, timers stopped) and the table. NULL is ignored. */
void peer_table_free(struct peer_table *t);
/*
 * A peer for identity (normalised user@domain) at overlay index, with our and its view of the
 * addresses in map (peer_self filled later), and its static endpoints. -EEXIST if identity or
 * index is taken; -EINVAL if identity is IDENTITY_STR_MAX long or longer; -ENOMEM. The table
 * owns it; *out is borrowed.
 */
int peer_add(struct peer_table *t, const char *identity, uint32_t index,
	     const struct xlate_map *map, const struct sockaddr_storage *endpoints, size_t n,
	     struct peer **out);
/* Removes p: keys wiped, timers stopped; the caller has closed its links. */
void peer_del(struct peer *p);
struct peer *peer_find(const struct peer_table *t, const char *identity);
/* The peer at overlay index, NULL if none: the data plane's lookup, O(1). */
struct peer *peer_by_index(const struct peer_table *t, uint32_t index);
/* Calls fn for every peer in the order they were added; fn may not add or delete peers. */
void peer_foreach(const struct peer_table *t, void (*fn)(struct peer *p, void *arg), void *arg);
size_t peer_count(const struct peer_table *t);
struct ev_loop *peer_loop(const struct peer *p);
const struct peer_params *peer_params(const struct peer *p);

/* peer.c: the session state machine. */
/* We want a session with p: dial at once if our identity sorts first, else after PEER_DEFER_MS. */
void peer_need_session(struct peer *p);
/* A dial we made failed before the session came up: try again later, with backoff. */
void peer_on_dial_failed(struct peer *p);
/* A link of p went away (l: the link, was_client: we had dialed it). */
void peer_on_link_gone(struct peer *p, struct link *l, bool was_client);
/*
 * A handshake on link l completed and the peer's HELLO arrived: kp (taken) becomes the current
 * keypair, the previous one stays for receiving; the peer's own addresses go into the map.
 * cert_fpr is the peer's certificate, remote where the link goes. Returns the link that carried
 * the session before (the caller closes it), or NULL.
 */
struct link *peer_on_session(struct peer *p, struct link *l, struct keypair *kp, bool we_dialed,
			     const struct sockaddr_storage *remote, const uint8_t cert_fpr[32],
			     const uint8_t addr4[4], const uint8_t addr6[16]);
/*
 * While a session runs on the relay: dial a direct link to `to` now (a TCP candidate of the
 * peer). If it comes up, the session moves to it (a new handshake; the relayed link closes, the
 * relay stays the fallback); if it fails, nothing else changes (no retry, no rekey). False if a
 * dial is already running.
 */
bool peer_dial_direct(struct peer *p, const struct sockaddr_storage *to);
/*
 * The same when the caller dials the link itself (a TCP simultaneous open, link_dial_simopen):
 * marks the dial as running and as one whose failure costs nothing; false if one runs already.
 */
bool peer_dial_direct_own(struct peer *p);
/* The peer said it is going away (a CLOSE record): keys dropped, try again after a while. */
void peer_on_close(struct peer *p);
/*
 * An authentic frame from p: over UDP from `from`, or over the link (from NULL); probe says it
 * was a path probe (proto/probe.h), not data or a keepalive. True when it came over UDP that
 * was not known to work with p, or from a new endpoint: the caller answers at once over UDP (a
 * probe request to `from`), so that the peer learns within one round trip that the path works
 * both ways, not at our next keepalive. At most one answer per change: the answer makes UDP
 * work on the other side, which then does not answer it.
 *
 * A probe from another source while our UDP path works (validated, heard, not failed) changes
 * nothing: it is answered to where it came from (a candidate check of the peer's), but the
 * endpoint stays. Otherwise a peer reachable at two addresses (IPv4 and IPv6) would have each
 * answer move the endpoint and ask back over the other, without end. Data moves the endpoint
 * at once (roaming), unless it comes from another endpoint that answers our probes while ours
 * works (path_set_alt_alive): each side sends the way it chose, by RTT (path/path.h), and
 * takes frames from any endpoint it validated. Such sources are remembered as alternates.
 */
bool peer_on_rx(struct peer *p, const struct sockaddr_storage *from, bool probe);
/* A frame sealed with kp went out: may ask for an early rekey (rekey-after-packets). */
void peer_on_tx(struct peer *p, struct keypair *kp);
/* Closes the sessions of peers whose certificate the list revokes. */
void peer_on_revocation(struct peer_table *t, const struct crl *list);
/* The CA of domain is no longer trusted: its peers' sessions close, and their links. */
void peer_on_distrust(struct peer_table *t, const char *domain, const char *why);
/* The domain's CA became trusted: its peers without a session try again at once. */
void peer_on_trust(struct peer_table *t, const char *domain);
/* A frame or a packet of p dropped for reason d (counted; logged, rate-limited, with detail). */
void peer_count_drop(struct peer *p, enum peer_drop d, const char *detail);
/* How long without anything from the peer before it counts as dead: 3 keepalives + 2 s. */
uint64_t peer_dead_after_ms(const struct peer *p);
const char *peer_state_name(enum peer_state s);
const char *peer_drop_name(enum peer_drop d);

/* timers.c (used by peer.c) */
/* Arms the connect timer for delay_ms unless it would fire sooner already, or a dial runs. */
void peer_timers_connect(struct peer *p, uint64_t delay_ms);
/* A session came up with keys kp: the rekey and keepalive timers start. */
void peer_timers_session_up(struct peer *p, const struct keypair *kp);
/* No session any more: rekey and keepalive timers stop. */
void peer_timers_session_down(struct peer *p);
/* The next retry after a failed dial, with exponential backoff and jitter. */
void peer_timers_dial_failed(struct peer *p);
void peer_timers_stop(struct peer *p);

#endif
