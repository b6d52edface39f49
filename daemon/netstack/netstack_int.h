/* SPDX-License-Identifier: MIT */
/*
 * What netstack.c (the stack: netif, packets, timers, listeners) and tcpfd.c (the bridge of
 * one TCP connection to a descriptor) share. Includes lwIP: only daemon/netstack/ sees it.
 */
#ifndef VERTEX_NETSTACK_INT_H
#define VERTEX_NETSTACK_INT_H

#include <lwip/ip_addr.h>
#include <lwip/netif.h>
#include <lwip/tcp.h>

#include "core/ev.h"
#include "netstack/netstack.h"

struct ns_conn;

struct ns_listener {
	struct netstack *ns;
	struct tcp_pcb *pcb; /* NULL: slot free */
	uint16_t port;
	netstack_accept_fn *on_accept;
	void *arg;
};

struct netstack {
	struct ev_loop *loop;
	struct netstack_config cfg;
	struct netstack_ops ops;
	void *arg;
	struct netif netif;
	ip_addr_t ip4, ip6;    /* our addresses, in lwIP's form */
	struct ev_timer timer; /* lwIP's timeouts */
	struct ns_listener listeners[NETSTACK_LISTENERS_MAX];
	struct ns_conn *conns; /* doubly linked */
	size_t nconns;
	size_t deferred;             /* bridges whose received data waits for the turn's end */
	struct ev_timer flush_timer; /* 0 ms: runs after the turn's I/O (ns_conn_flush_all) */
	bool freeing;                /* netstack_free runs: no output */
	struct raw_pcb *echo;        /* ICMP echo (echo.c), with ops.echo_reply */
	uint64_t drops[NETSTACK_DROP_MAX];
	uint8_t txbuf[NETSTACK_MTU_MAX]; /* a chained pbuf made contiguous for output */
};

/* Re-arms the timer to lwIP's next timeout: after every call into lwIP. */
void ns_timer_rearm(struct netstack *ns);

/*
 * Bridges pcb to a new socketpair, the caller's end in *fd_out: an accepted pcb (dial_to
 * NULL), or a bound one that is dialed here to dial_to:dial_port, on_connected(arg) told how
 * that went. Takes pcb on success; on failure pcb has none of our callbacks and the caller
 * aborts it. 0 or -errno.
 */
int ns_conn_new(struct netstack *ns, struct tcp_pcb *pcb, const ip_addr_t *dial_to,
		uint16_t dial_port, netstack_connected_fn *on_connected, void *arg, int *fd_out);
/* Resets (RST) and frees every bridged connection to remote; returns how many. */
size_t ns_conn_reset_remote(struct netstack *ns, const ip_addr_t *remote);
/* Resets and frees every bridged connection (netstack_free). */
void ns_conn_abort_all(struct netstack *ns);
/* echo.c: the ICMP pcb, when ops.echo_reply is set. 0 or -ENOMEM. */
int ns_echo_open(struct netstack *ns);
void ns_echo_close(struct netstack *ns);
/* Writes what each bridge received this loop turn to its descriptor (flush_timer). */
void ns_conn_flush_all(struct netstack *ns);

#endif
