/* SPDX-License-Identifier: MIT */
/*
 * The callbacks start.c gives each module (wiring.c): what one module reports, routed to the
 * module that acts on it. Each takes the struct agent as its arg.
 */
#ifndef VERTEX_AGENT_WIRING_H
#define VERTEX_AGENT_WIRING_H

#include "core/listener.h"
#include "dataplane/dataplane.h"
#include "domains/domains.h"
#include "home/home.h"
#include "path/udp.h"
#include "peer/peer.h"
#include "direct/direct.h"
#include "relay/relay.h"
#include "rendezvous/rendezvous.h"

struct agent;

extern const struct peer_ops wiring_peer_ops;
extern const struct path_udp_ops wiring_udp_ops;
extern const struct dataplane_ops wiring_dataplane_ops;
extern const struct listener_ops wiring_listener_ops;
extern const struct domains_ops wiring_domains_ops;
extern const struct home_ops wiring_home_ops;
extern const struct rdv_ops wiring_rdv_ops;       /* wiring_rdv.c */
extern const struct relay_ops wiring_relay_ops;   /* wiring_rdv.c */
extern const struct direct_ops wiring_direct_ops; /* wiring_direct.c */

/* The record and message handlers of the links and the home channel. 0 or -errno. */
int wiring_handle_links(struct agent *a);
int wiring_handle_home(struct agent *a);
/* wiring_rdv.c: the home channel's rendezvous and relay messages to their modules. */
int wiring_handle_rdv(struct agent *a);
/* At start: every peer with an approval in the store is a peer again, reached by the relay. */
int wiring_rdv_restore(struct agent *a);
/* Through the relay: the dial of a peer, a frame; the home server came or went. */
int wiring_relay_dial(struct agent *a, struct peer *p);
bool wiring_send_relay(void *arg, struct peer *p, const uint8_t *frame, size_t len);
void wiring_rdv_home_state(struct agent *a, bool up);
/* wiring_direct.c: reflection datagrams (true if p was one, then taken), sessions up, the home
 * server coming and going, OFFER messages. */
struct pkt;
/* A relay datagram from the home server (proto/relayudp.h) on the data socket: taken if so. */
bool wiring_relay_datagram(struct agent *a, struct pkt *p, const struct sockaddr_storage *from);
bool wiring_direct_datagram(struct agent *a, struct pkt *p, const struct sockaddr_storage *from);
void wiring_direct_on_session(struct agent *a, struct peer *p);
void wiring_direct_home_state(struct agent *a, bool up);
/* A peer's path changed (wiring_hooks.c sees it): UDP lost, look for a direct path again. */
void wiring_direct_on_path_change(struct agent *a, struct peer *p, const char *was,
				  const char *now);
/* The host's addresses watched for direct/ (kernel-iface/addrwatch.h): after direct_new; 0 or
 * -errno. */
int wiring_direct_watch(struct agent *a);
void wiring_direct_unwatch(struct agent *a);
int wiring_handle_direct(struct agent *a);
/* wiring_hooks.c: the lifecycle hooks (docs/hooks.md). open runs vertex-up; close runs
 * vertex-down and waits for the hooks still running, at most one time limit. */
int wiring_hooks_open(struct agent *a);
void wiring_hooks_close(struct agent *a);
void wiring_hooks_on_session(struct agent *a, struct peer *p);
void wiring_hooks_on_session_down(struct agent *a, struct peer *p);
void wiring_hooks_on_request(struct agent *a, const struct rdv_incoming *e);
/*
 * wiring_policy.c: the firewall's table installed (replacing a stale one) with every peer known;
 * one peer's rules rebuilt from the config and the store, or removed; the table deleted. build
 * fills *out with what a peer may reach (0 or -errno).
 */
struct policy_peer;
int wiring_policy_start(struct agent *a);
void wiring_policy_stop(struct agent *a);
void wiring_policy_peer(struct agent *a, const struct peer *p);
void wiring_policy_peer_gone(struct agent *a, const struct peer *p);
int wiring_policy_build(struct agent *a, const struct peer *p, struct policy_peer *out);
/*
 * wiring_app.c: the application interface's socket (docs/app-api.md) opened and closed (every
 * connect under way and listener with it); its counters as status facts.
 */
int wiring_app_open(struct agent *a);
void wiring_app_close(struct agent *a);
void wiring_app_facts(const struct agent *a, FILE *f);
/* The before-sleep hook of the loop: what a turn queued goes out in one batch. */
void wiring_before_sleep(void *arg);

#endif
