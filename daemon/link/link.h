/* SPDX-License-Identifier: MIT */
/*
 * Peer links (DESIGN §4.2): a link is one connection to a peer carrying a TLS 1.3 session and
 * records (control/stream.h). Over it the two agents verify each other's certificates, derive
 * the data keys from the TLS exporter and swap HELLO records (receiver index, own overlay
 * addresses); the peer's state machine (peer/peer.h) then takes the keys. A link that is up stays
 * open: it carries FRAME records when UDP does not get through, CLOSE when a peer shuts down,
 * and whatever record types the modules above register handlers for (link_handle).
 *
 * States:
 *   OPENING  the stream connects and handshakes (bounded by its STREAM_HANDSHAKE_MS deadline)
 *   HELLO    handshake verified, data keys derived and our HELLO sent; waiting for theirs
 *            (bounded again, LINK_HELLO_TIMEOUT_MS: a slowloris peer cannot hold it)
 *   UP       keys installed in the peer; no deadline (the peer's timers keep the session)
 *
 * A link never decides about the peer's session itself: it reports to the peer's state machine
 * (peer_on_session, peer_on_dial_failed, peer_on_link_gone, peer_on_close). The links own
 * nothing above them: records of other types go to the handler registered for the type, and
 * unknown types are skipped (the protocol can grow).
 *
 * Bounds on what others can make us do: at most max_links links at once (handshaking or up), at
 * most inbound_per_source accepted links not up yet per source network (core/addrcount.h), and
 * inbound handshakes started at most at handshake_rate per second (burst handshake_burst), and
 * source_handshake_rate per source network (an IPv4 address or an IPv6 /64; the last
 * LINK_RATE_SOURCES networks are tracked): each is an X25519 key exchange and Ed25519 signing
 * and verification on the event loop. A connection over a bound is closed
 * at once and counted (links_refused).
 *
 * Lifetime: link_close() (or the stream closing by itself) detaches the link from the table and
 * the peer at once; the memory goes when the stream is gone and no callback of the link runs,
 * so code that closed a link, or had it closed under it by a failed send, may still hold the
 * pointer until it returns.
 */
#ifndef VERTEX_LINK_H
#define VERTEX_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct link;
struct links;
struct peer;
struct peer_table;
struct session_index;
struct tls_ctx;

enum {
	LINK_HELLO_TIMEOUT_MS = 10000,
	LINK_HANDLERS_MAX = 8,    /* record types the modules above may register */
	LINK_RATE_SOURCES = 1024, /* source networks whose handshake rate is tracked */
};

/*
 * A record of a registered type on a link that is up (body borrowed). Returns false if it
 * closed the link.
 */
typedef bool (*link_record_fn)(void *arg, struct link *l, uint16_t type, const uint8_t *body,
			       size_t len);

struct link_params {
	int family;      /* of the sockets we dial: AF_INET6 (dual-stack) or AF_INET */
	uint8_t own4[4]; /* our overlay addresses, told to peers in HELLO */
	uint8_t own6[16];
	size_t max_links;                       /* links at once, handshaking or up */
	uint32_t inbound_per_source;            /* accepted links not up yet, per source network */
	double handshake_rate, handshake_burst; /* inbound handshakes started per second */
	double source_handshake_rate, source_handshake_burst; /* the same, per source network */
	bool aes; /* offer AES-256-GCM frames (CIPHERS before HELLO): the CPU has it, config allows
		   */
};

/* Borrows loop, tls, index and peers; copies params. *out freed with links_free. */
int links_new(struct links **out, struct ev_loop *loop, struct tls_ctx *tls,
	      struct session_index *index, struct peer_table *peers,
	      const struct link_params *params);
/* Closes every link (a CLOSE record first on those up if say_goodbye) and frees. NULL ignored. */
void links_free(struct links *t, bool say_goodbye);
/* Records of type (not HELLO or CLOSE, which are the links' own) go to fn. -ENOSPC, -EEXIST. */
int link_handle(struct links *t, uint16_t type, link_record_fn fn, void *arg);

/* Dials p at `to` (p->dialing is the caller's). 0 or -errno. */
int link_dial(struct links *t, struct peer *p, const struct sockaddr_storage *to);
/*
 * A link to p over fd (taken: closed on failure), a socket we opened that is connected or
 * connecting to `to`: the TCP case of link_dial, or any other stream the kernel gives a
 * descriptor for (a test's socketpair).
 */
int link_dial_fd(struct links *t, struct peer *p, int fd, const struct sockaddr_storage *to);
/*
 * A TCP simultaneous open with p (docs/direct-paths.md): fd (taken: closed on failure), a
 * socket bound to our peer port (core/dial.h dial_socket_from), connects to `to`, the peer's
 * NAT's mapping of its peer port, while the peer connects to ours. Both sides dialed, so TLS
 * roles come from outside: tls_client, else we answer as the TLS server (and the certificate
 * must name p). A failure is a failed dial (peer_on_dial_failed), as for link_dial. 0 or
 * -errno.
 */
int link_dial_simopen(struct links *t, struct peer *p, int fd, const struct sockaddr_storage *to,
		      bool tls_client);
/* A connection accepted on the peer port (fd taken). Refused and counted over a bound. */
void link_accept(struct links *t, int fd, const struct sockaddr_storage *from);

/*
 * A link over fd (taken), one end of a relayed channel the peer p opened through the servers
 * (relay/relay.h): accepted like a connection on the peer port, but the certificate must name p,
 * and its remote end is path_relay_addr.
 */
void link_accept_relayed(struct links *t, int fd, struct peer *p);

/* Queues a record; false if the link is closing or its output is full (the caller counts). */
bool link_send_record(struct link *l, uint16_t type, const void *body, size_t len);
void link_close(struct link *l);
/* Closes every link of p, up or not. */
void link_close_peer(struct links *t, struct peer *p);

bool link_is_up(const struct link *l);
/* The link's peer: known when dialing, after the handshake when accepted; else NULL. */
struct peer *link_peer(const struct link *l);
/* The identity of the peer of l, "unknown peer" before the handshake named it. */
const char *link_who(const struct link *l);
/* The address dialed, or accepted from (family 0 for a link over a relayed channel). */
const struct sockaddr_storage *link_remote(const struct link *l);

size_t links_count(const struct links *t);
/* Connections closed at once for being over a bound. */
uint64_t links_refused(const struct links *t);

#endif
