/* SPDX-License-Identifier: MIT */
/*
 * A SOCKS5 server over descriptors (docs/userspace.md): each client connection (handed in by
 * whoever accepts on loopback, e.g. a core/listener.h) is taken through the greeting and the
 * CONNECT request (socks/socks.h), the destination is handed to ops->connect, and once that
 * answers with a connected descriptor (a netstack_connect end in userspace mode, a kernel
 * socket in TUN mode) the reply goes out and the two descriptors are spliced both ways.
 *
 * States of a client, each owned here:
 *   GREETING    reading the greeting; "no auth" chosen, or 0xff sent and the client closed
 *   REQUEST     reading the request; a bad one gets its reply code, then the client closes
 *   CONNECTING  ops->connect was called; the client is not read (bytes it sent behind its
 *               request are kept and go to the target first) until socks_server_connected
 *   CLOSING     a refusal (or 0xff) is being written; then the client is closed
 * Once connected, the client and the target are handed to a splicer (core/splice.h) with
 * what is still to be written each way (the reply to the client, the bytes the client sent
 * behind its request to the target): bytes both ways, half-closes passed on, both EOFs or an
 * error end it.
 * Timer: each client has SOCKS_HANDSHAKE_MS from being handed in to be connected (the
 * connect included); when it fires the client is closed, and a connect in flight is
 * withdrawn with ops->cancel (so is every one at socks_server_free).
 *
 * Bounds: SOCKS_CLIENTS_MAX clients, handshaking or spliced (one more is closed at once).
 */
#ifndef VERTEX_SOCKS_SERVER_H
#define VERTEX_SOCKS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "socks/socks.h"

struct ev_loop;
struct socks_server;
struct socks_client;

enum {
	SOCKS_CLIENTS_MAX = 256,
	SOCKS_HANDSHAKE_MS = 10000,
};

struct socks_server_ops {
	/*
	 * Dial r's destination for client c (r borrowed for the call). Answer exactly once with
	 * socks_server_connected, now or later; c stays valid until then.
	 */
	void (*connect)(void *arg, struct socks_client *c, const struct socks_request *r);
	/* The connect for c is withdrawn (timeout, free): c is gone, never answer for it. */
	void (*cancel)(void *arg, struct socks_client *c);
};

/* Borrows loop, keeps ops and arg. *out freed with socks_server_free. 0 or -ENOMEM. */
int socks_server_new(struct socks_server **out, struct ev_loop *loop,
		     const struct socks_server_ops *ops, void *arg);
/* Closes every client (connects in flight are cancelled). NULL is fine. Not from ops->connect. */
void socks_server_free(struct socks_server *srv);

/* A client connection (taken: closed on any failure). 0, -EMFILE (full), -ENOMEM. */
int socks_server_accept(struct socks_server *srv, int fd);

/*
 * The answer to ops->connect for c: fd >= 0 (taken), connected to the destination, rep
 * ignored, bound our end's address for the reply (may be NULL); or fd < 0 and rep the failure
 * to reply with (SOCKS_REP_CONN_REFUSED, SOCKS_REP_NOT_ALLOWED, ...).
 */
void socks_server_connected(struct socks_server *srv, struct socks_client *c, int fd,
			    enum socks_reply rep, const struct sockaddr_storage *bound);

/* Clients handshaking, connecting or spliced. */
size_t socks_server_clients(const struct socks_server *srv);

#endif
