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
bool wiring_send_relay(void *arg, struct peer *p, struct pkt *pkt);
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
/*
 * wiring_app.c, for userspace mode: the peer a connection's source (our view) names, with its
 * address and port as text; and a connection to our purpose handed to the program listening on
 * it, if one does (true: fd taken).
 */
struct peer *wiring_app_peer_of(struct agent *a, const struct sockaddr_storage *from, char *addr,
				uint16_t *port);
bool wiring_app_take(struct agent *a, const char *purpose, int fd, const struct peer *p,
		     const char *addr, uint16_t port);

/*
 * wiring_userspace.c: userspace mode (docs/userspace.md). open makes the stack and fills dev (the
 * data plane delivers to it); start listens on our purposes; policy keeps a peer's policy for
 * the packet check (wiring_policy.c calls it whenever it rebuilds one); peer_gone forgets it and
 * resets the peer's connections; facts for `status`, "mode tun" in TUN mode.
 */
struct pktdev;
struct policy_peer;
struct netstack;
int wiring_userspace_open(struct agent *a, struct pktdev *dev);
int wiring_userspace_start(struct agent *a);
void wiring_userspace_close(struct agent *a);
void wiring_userspace_policy(struct agent *a, const struct policy_peer *pp);
void wiring_userspace_peer_gone(struct agent *a, const struct peer *p);
struct netstack *wiring_userspace_netstack(const struct agent *a);
/*
 * An ICMP echo request to p from lwIP (`vertex ping` in userspace mode): *seq to ask after it
 * with echo_rtt, which answers 0 and the RTT, -EAGAIN (no reply yet), -ENOENT (unknown, or
 * forgotten: the last 64 are kept). -EOPNOTSUPP in TUN mode (ping through vtx0 instead).
 */
int wiring_userspace_echo(struct agent *a, const struct peer *p, uint16_t *seq);
int wiring_userspace_echo_rtt(const struct agent *a, uint16_t seq, uint64_t *rtt_us);
void wiring_userspace_facts(const struct agent *a, FILE *f);

/*
 * wiring_connect.c: a TCP connection to p's port over the overlay, in either mode, answered once by
 * cb (core/dial.h's contract) within WIRING_CONNECT_MS. 0 and *out (to cancel it), or -errno and no
 * answer. close frees userspace dials still waiting for lwIP (after the stack is gone).
 */
#include "core/dial.h"
enum { WIRING_CONNECT_MS = 10000 };
struct wiring_connect;
int wiring_connect(struct agent *a, const struct peer *p, uint16_t port, dial_fn *cb, void *arg,
		   struct wiring_connect **out);
void wiring_connect_cancel(struct wiring_connect *d);
void wiring_connect_close(struct agent *a);

/*
 * wiring_proxy.c: the SOCKS5 server and the port forwards (docs/userspace.md), in either mode;
 * forward_add/remove for `vertex forward`, facts for `status` and the `forwards` verb.
 */
struct forward;
int wiring_proxy_open(struct agent *a);
void wiring_proxy_close(struct agent *a);
int wiring_proxy_forward_add(struct agent *a, const struct forward *f, char *why, size_t whylen);
int wiring_proxy_forward_remove(struct agent *a, const struct sockaddr_storage *listen);
void wiring_proxy_facts(const struct agent *a, FILE *f);
void wiring_proxy_forwards(const struct agent *a, FILE *f);

/* The before-sleep hook of the loop: what a turn queued goes out in one batch. */
void wiring_before_sleep(void *arg);

#endif
