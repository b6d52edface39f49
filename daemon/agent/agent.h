/* SPDX-License-Identifier: MIT */
/*
 * vertexd's objects and how its files divide the work:
 *
 *   vertexd.c    start-up and shutdown, in order; signals
 *   peer.c       the peer table and each peer's state machine (connect, keepalive, rekey, expiry)
 *   link.c       a TCP+TLS connection to a peer: connect/accept, handshake, HELLO, records
 *   dataplane.c  the packet path: TUN -> seal -> UDP (batched), UDP/link -> open -> xlate -> TUN
 *   underlay.c   the UDP and TCP sockets on the underlay
 *   ctl.c        the control socket the vertex CLI talks to (clients, bounds, SO_PEERCRED)
 *   ctl_verbs.c  what it answers: status, peers, trust list|show|forget|pin
 *   privs.c      dropping privileges once start-up is done
 *   home.c       the connection to the home server: renewal, revocation lists, notary
 *   foreign.c    other domains: their CAs (pinned, cross-checked) and revocation lists
 *   notaries.c   asking the servers and peers we trust about a new domain; answering peers
 *
 * Everything runs on one event loop in one thread; no locks. (DNS lookups run on threads of their
 * own, control/resolve.h, and share nothing with the loop but their own request.)
 */
#ifndef VERTEX_AGENT_H
#define VERTEX_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "agent/config.h"
#include "core/sockaddr.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "overlay/pool.h"
#include "overlay/xlate.h"
#include "proto/record.h"
#include "session/session.h"

struct cert_trust;
struct crl;
struct ctl;
struct foreign;
struct home;
struct notary_round;
struct netlink;
struct pkt;
struct pkt_pool;
struct store;
struct tls_conn;
struct tls_ctx;
struct tun;

enum {
	AGENT_BATCH = 64,            /* packets per syscall batch and per loop turn */
	AGENT_GSO_MAX_SEGS = 64,     /* frames in one UDP GSO send (the kernel's minimum limit) */
	AGENT_GSO_MAX_BYTES = 65000, /* payload of one UDP GSO send: an IP packet is <= 64 KiB */
	AGENT_GRO_BUFS = 8,          /* coalesced datagrams per recvmmsg when UDP GRO is on */
	AGENT_GRO_BUF_SIZE = 65536,
	AGENT_PKT_POOL = 4 * AGENT_BATCH + 256,
	LINK_HANDSHAKE_TIMEOUT_MS = 10000,
	AGENT_MAX_LINKS = 1024,        /* TCP+TLS links at once, handshaking or up */
	AGENT_INBOUND_PER_SOURCE = 16, /* links from one network not up yet (see link_accept) */
	AGENT_ACCEPT_PAUSE_MS = 500,   /* after running out of descriptors */
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

enum agent_drop {
	AGENT_DROP_UNKNOWN_RECEIVER,
	AGENT_DROP_MALFORMED,
	AGENT_DROP_NO_BUFFER,
	AGENT_DROP_NO_ROUTE,
	AGENT_DROP_LINK_REFUSED, /* an incoming TCP connection closed at once (link_accept) */
	AGENT_DROP_COUNT,
};

struct peer_stats {
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	uint64_t drops[PEER_DROP_COUNT];
};

struct link;
struct addrcount;

struct peer {
	struct agent *agent;
	const struct config_peer *cfg;
	uint32_t index; /* overlay address index; see pool.h */
	struct xlate_map map;

	struct keypair *current, *previous; /* owned */
	struct link *link;                  /* the newest link that completed HELLO */
	bool dialing;                       /* an outbound link is in progress */

	struct sockaddr_storage endpoint; /* where UDP frames go; family 0 if unknown */
	uint64_t last_udp_rx_ms;          /* last authenticated frame over UDP */
	size_t next_endpoint;             /* round robin over cfg->endpoints */
	unsigned backoff_ms;

	enum peer_state state;
	uint64_t last_rx_ms, last_tx_ms;
	int64_t last_handshake; /* unix seconds */
	uint8_t cert_fpr[32];   /* the certificate of the current session, for revocation */
	uint64_t handshakes;
	struct peer_stats stats;
	struct ratelimit_bucket notary_rl; /* the notary questions it may ask us (notaries.c) */

	struct ev_timer connect_timer;
	struct ev_timer keepalive_timer;
	struct ev_timer rekey_timer;
};

enum link_state { LINK_OPENING, LINK_HELLO, LINK_UP };

/* A peer link: a record stream (control/stream.h) and the session it sets up (link.c). */
struct link {
	struct agent *agent;
	struct peer *peer; /* known at once when dialing; after the handshake when accepted */
	struct link *next; /* agent->links */
	struct stream *s;  /* NULL once the stream has closed */
	bool is_client;
	bool closing;  /* detached from the agent and the peer; freed when nothing holds it */
	unsigned busy; /* one of its stream callbacks is running: the free waits */
	enum link_state state;
	struct keypair *pending; /* keys derived, waiting for the peer's HELLO */
	struct sockaddr_storage remote;
	bool inbound_counted; /* accepted and not up yet: counted in agent->inbound */
};

struct agent {
	struct config cfg;
	struct ev_loop *loop;
	struct store *store;
	struct pool pool;
	uint8_t own4[4], own6[16];

	struct netlink *nl;
	struct tun *tun;
	struct ev_io tun_io;
	unsigned mtu;

	int udp_fd, tcp_fd;
	int underlay_family; /* AF_INET6 (dual-stack) or AF_INET */
	struct ev_io udp_io, tcp_io;

	struct cert_trust *trust;
	struct tls_ctx *tls;
	struct pkt_pool *pkts;
	struct session_index *index;

	struct peer *peers; /* array, cfg.npeers long */
	size_t npeers;
	struct peer **peer_by_index; /* pool index -> peer, peer_by_index_len long */
	size_t peer_by_index_len;
	struct link *links;
	size_t nlinks;
	struct addrcount *inbound; /* accepted links not up yet, per source network */
	struct ev_timer accept_pause;

	struct ctl *ctl;
	struct home *home;           /* NULL without a home server */
	struct foreign *foreign;     /* other domains' CAs and lists */
	struct notary_round *rounds; /* notary rounds running (notaries.h) */
	uint64_t drops[AGENT_DROP_COUNT];
	struct log_ratelimit drop_rl;

	bool udp_gso; /* the kernel segments runs of equal frames for us (UDP_SEGMENT) */
	bool udp_gro; /* the kernel hands us coalesced datagrams (UDP_GRO) */

	/* Frames waiting for the before-sleep flush, in order. */
	struct pkt *tx_pkts[AGENT_BATCH];
	struct sockaddr_storage tx_addr[AGENT_BATCH];
	socklen_t tx_addrlen[AGENT_BATCH];
	unsigned ntx;
	/* Scratch for the flush: one message per run of frames to one peer. */
	struct mmsghdr tx_msgs[AGENT_BATCH];
	struct iovec tx_iov[AGENT_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} tx_cmsg[AGENT_BATCH];
	uint8_t *rx_gro; /* AGENT_GRO_BUFS x AGENT_GRO_BUF_SIZE, when udp_gro */
};

/* peer.c */
int peer_table_init(struct agent *a);
void peer_table_free(struct agent *a);
struct peer *peer_by_identity(struct agent *a, const char *identity);
struct peer *peer_by_dst(struct agent *a, const uint8_t *pkt, size_t len);
void peer_need_session(struct peer *p);
void peer_on_link_failed(struct peer *p, struct link *l);
void peer_on_link_closed(struct peer *p, struct link *l);
int peer_on_hello(struct peer *p, struct link *l, struct keypair *kp, const struct hello *h);
void peer_on_close_record(struct peer *p);
void peer_on_rx(struct peer *p, const struct sockaddr_storage *from);
void peer_on_tx(struct peer *p, struct keypair *kp);
/* UDP carries frames both ways lately; otherwise frames go over the link if there is one. */
bool peer_udp_is_alive(const struct peer *p);
const char *peer_state_name(enum peer_state s);
const char *peer_drop_name(enum peer_drop d);
const char *agent_drop_name(enum agent_drop d);
void peer_count_drop(struct peer *p, enum peer_drop d, const char *detail);
/* Closes the sessions of peers whose certificate the list revokes. */
void peer_on_revocation(struct agent *a, const struct crl *list);
/* The CA of domain is no longer trusted (its pin changed): closes its peers' sessions and links. */
void peer_on_distrust(struct agent *a, const char *domain, const char *why);
void agent_count_drop(struct agent *a, enum agent_drop d, const char *detail);

/* link.c */
int link_dial(struct agent *a, struct peer *p, const struct sockaddr_storage *to);
void link_accept(struct agent *a);
/* Queues a record; false if the write buffer is full (caller counts a drop). */
bool link_send_record(struct link *l, uint16_t type, const void *body, size_t len);
void link_close(struct link *l);
void link_close_all(struct agent *a, bool say_goodbye);

/* dataplane.c */
int dataplane_start(struct agent *a);
void dataplane_flush(struct agent *a);
void dataplane_send_keepalive(struct peer *p);
/* A frame that arrived in a FRAME record on a link. */
void dataplane_on_stream_frame(struct agent *a, const uint8_t *frame, size_t len);

/* underlay.c */
int underlay_open(struct agent *a);
void underlay_close(struct agent *a);
/* home.c: the connection to the home server (renewal, revocation lists). */
int home_start(struct agent *a);
void home_stop(struct agent *a);
void home_status(const struct agent *a, FILE *f);
/* Asks the home server what CA it sees for domain; false if not connected. */
bool home_ask_notary(struct agent *a, const char *domain);

/* privs.c: keep only CAP_NET_ADMIN, become c->user if set, set no_new_privs. 0 or -errno. */
int privs_drop(const struct config *c);

/* ctl.c */
int ctl_open(struct agent *a);
void ctl_close(struct agent *a);

#endif
