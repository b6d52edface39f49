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
#include "proto/record.h"

struct addrcount;
struct cert_trust;
struct crl;
struct ctl;
struct dataplane;
struct domains;
struct home;
struct listener;
struct notary_round;
struct netlink;
struct path_udp;
struct peer;
struct peer_table;
struct pkt_pool;
struct session_index;
struct store;
struct tls_conn;
struct tls_ctx;
struct tun;
struct tundev;

enum {
	AGENT_PKT_POOL = 4 * 64 + 256,
	LINK_HANDSHAKE_TIMEOUT_MS = 10000,
	AGENT_MAX_LINKS = 1024,        /* TCP+TLS links at once, handshaking or up */
	AGENT_INBOUND_PER_SOURCE = 16, /* links from one network not up yet (see link_accept) */
	AGENT_ACCEPT_PER_TURN = 16,    /* connections accepted per loop turn */
	AGENT_ACCEPT_PAUSE_MS = 500,   /* after running out of descriptors */
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
	unsigned mtu;
	int underlay_family; /* AF_INET6 (dual-stack) or AF_INET */

	struct cert_trust *trust;
	struct tls_ctx *tls;
	struct pkt_pool *pkts;
	struct session_index *index;
	struct peer_table *peers;
	struct path_udp *udp;
	struct dataplane *dp;
	struct tundev *tundev;
	struct listener *tcp;

	struct link *links;
	size_t nlinks;
	struct addrcount *inbound; /* accepted links not up yet, per source network */
	uint64_t link_refused;     /* incoming TCP connections closed at once (link_accept) */
	struct log_ratelimit link_rl;

	struct ctl *ctl;
	struct home *home;       /* NULL without a home server */
	struct domains *domains; /* other domains' CAs, all lists, notary rounds */
};

/* link.c */
int link_dial(struct agent *a, struct peer *p, const struct sockaddr_storage *to);
/* A connection accepted on the peer port (fd taken). */
void link_accept(struct agent *a, int fd, const struct sockaddr_storage *from);
/* Queues a record; false if the write buffer is full (caller counts a drop). */
bool link_send_record(struct link *l, uint16_t type, const void *body, size_t len);
void link_close(struct link *l);
/* Closes every link of p, up or not. */
void link_close_peer(struct agent *a, struct peer *p);
void link_close_all(struct agent *a, bool say_goodbye);
/* The identity of the peer of l, "unknown peer" before the handshake named it. */
const char *link_who(const struct link *l);

/* vertexd.c: a NOTARY_REQ or NOTARY record on an established peer link. */
void agent_on_peer_notary(struct link *l, uint16_t type, const uint8_t *body, size_t len);

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
