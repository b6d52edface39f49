/* SPDX-License-Identifier: MIT */
/*
 * vertexd, the agent: only the wiring lives here. The modules below do the work, each behind
 * its own header; struct agent holds their handles, and this folder decides the order they
 * start and stop in and connects what each one reports to whoever acts on it.
 *
 *   vertexd.c    main: options, the configuration, run
 *   start.c      start-up and shutdown, in order, each step undone in reverse
 *   wiring.c     the callbacks each module was given (peer_ops, link handlers, domains_ops, ...)
 *                routed to the module that acts on them
 *   config*.c    the configuration file: parse, validate, print
 *   ctl.c        the control socket the vertex CLI talks to (clients, bounds, SO_PEERCRED)
 *   wiring_rdv.c the same for rendezvous and the relay: approvals become peers
 *   ctl_verbs.c  what it answers: status, peers, trust list|show|forget|pin
 *   ctl_rdv.c    and connect, requests, approve, deny, revoke, resolve
 *   privs.c      dropping privileges once start-up is done
 *   wiring_policy.c  the firewall: each peer's policy into the nftables table
 *   ctl_policy.c the `firewall` verb: the policy as the daemon understands it
 *   wiring_app.c the application interface (appapi/): connects and listeners
 *   wiring_userspace.c  userspace mode: lwIP as the packet device, the policy per packet,
 *                the purposes proxied to their local targets
 *   wiring_connect.c  TCP over the overlay in either mode (kernel socket or lwIP)
 *   wiring_proxy.c the SOCKS5 server and the port forwards
 *
 * The modules (docs/architecture.md draws them): peer/ (the peer table, each peer's session
 * state machine and timers), path/ (each peer's paths; the UDP socket), link/ (TLS links to
 * peers: handshake, HELLO, records), dataplane/ (the packet path, behind a packet device),
 * home/ (the channel to the home server), domains/ (other domains' CAs, notary rounds, the
 * revocation lists kept).
 *
 * Everything runs on one event loop in one thread; no locks. (DNS lookups run on threads of
 * their own, core/offload.h, and share nothing with the loop but their job.)
 */
#ifndef VERTEX_AGENT_H
#define VERTEX_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/config.h"
#include "overlay/pool.h"

struct cert_trust;
struct ctl;
struct dataplane;
struct domains;
struct ev_loop;
struct home;
struct links;
struct listener;
struct netlink;
struct nft;
struct path_udp;
struct peer_table;
struct peer;
struct pkt_pool;
struct rdv;
struct relay;
struct direct;
struct wiring_hooks;
struct wiring_app;
struct wiring_connect;
struct wiring_proxy;
struct wiring_us;
struct session_index;
struct store;
struct tls_ctx;
struct tun;
struct tundev;

enum {
	AGENT_PKT_POOL = 4 * 64 + 256,
	AGENT_MAX_LINKS = 1024,        /* TCP+TLS links at once, handshaking or up */
	AGENT_INBOUND_PER_SOURCE = 16, /* links from one network not up yet (link/link.h) */
	AGENT_ACCEPT_PER_TURN = 16,    /* connections accepted per loop turn */
	AGENT_ACCEPT_PAUSE_MS = 500,   /* after running out of descriptors */
	/* Inbound handshakes started per second (and burst): all sources, one source network. */
	AGENT_HANDSHAKE_RATE = 200,
	AGENT_HANDSHAKE_BURST = 400,
	AGENT_SOURCE_HANDSHAKE_RATE = 8,
	AGENT_SOURCE_HANDSHAKE_BURST = 32,
};

/* The agent's handles; each is created and freed by start.c, in the order it gives. */
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
	struct links *links;

	struct ctl *ctl;
	struct home *home;           /* NULL without a home server */
	struct domains *domains;     /* other domains' CAs, all lists, notary rounds */
	struct rdv *rdv;             /* contact requests, approvals (NULL without a home server) */
	struct relay *relay;         /* channels and frames through the servers (the same) */
	struct direct *direct;       /* our candidates, offers, probing rounds (the same) */
	struct addrwatch *addrwatch; /* the host's addresses, for direct/ (the same) */
	struct nft *nft;             /* the firewall's table (wiring_policy.c) */

	/* The lifecycle hooks and what they remember of the peers (wiring_hooks.c). */
	struct wiring_hooks *hooks;
	/* The application interface's socket, its connects and listeners (wiring_app.c). */
	struct wiring_app *app;
	/* Userspace mode: the stack, the policy per peer, the purposes (wiring_userspace.c). */
	struct wiring_us *us;
	/* Connections over the overlay waiting for lwIP (wiring_connect.c). */
	struct wiring_connect *connects;
	/* The SOCKS5 server and the port forwards (wiring_proxy.c). */
	struct wiring_proxy *proxy;
};

/*
 * start.c: a peer at its stable overlay index (the store's), with our and its address views;
 * the configured ones at start, the ones met by rendezvous when approved.
 */
struct sockaddr_storage;
int agent_add_peer(struct agent *a, const char *identity, const struct sockaddr_storage *endpoints,
		   size_t n, struct peer **out);

/* start.c: brings everything up in order; on failure agent_stop undoes what was done. */
int agent_start(struct agent *a);
void agent_stop(struct agent *a);

/* privs.c: keep only CAP_NET_ADMIN, become c->user if set, set no_new_privs. 0 or -errno. */
int privs_drop(const struct config *c);

/* ctl.c */
int ctl_open(struct agent *a);
void ctl_close(struct agent *a);

#endif
