/* SPDX-License-Identifier: MIT */
/*
 * A non-blocking TCP connect on the event loop, with a deadline: a port forward's or the SOCKS
 * server's connection over the kernel's overlay interface (TUN mode), a purpose's local target
 * (userspace mode). The answer comes once, by callback, never from within dial_tcp.
 */
#ifndef VERTEX_DIAL_H
#define VERTEX_DIAL_H

#include <stdint.h>
#include <sys/socket.h>

struct dial;
struct ev_loop;

/*
 * The answer: err 0 and fd connected (the callee's, non-blocking, close-on-exec), or err a
 * positive errno (ETIMEDOUT at the deadline) and fd -1. The dial is freed after the call.
 */
typedef void dial_fn(void *arg, int fd, int err);

/*
 * Dials to. 0 and *out (to cancel it) or -errno (no callback then: the socket could not be
 * made or the connect failed at once, e.g. ENETUNREACH).
 */
int dial_tcp(struct dial **out, struct ev_loop *loop, const struct sockaddr_storage *to,
	     uint64_t timeout_ms, dial_fn *cb, void *arg);
/*
 * A non-blocking, close-on-exec TCP socket of family bound to port (any address) with
 * SO_REUSEADDR and SO_REUSEPORT, so that it can connect from a port a listener of ours holds
 * (which must have SO_REUSEPORT too): the fd, or -errno. A connection from the agent's peer
 * port makes its NAT map that port, the same mapping a simultaneous open then uses.
 */
int dial_socket_from(int family, uint16_t port);
/* Withdraws d: no callback, its socket closed. */
void dial_cancel(struct dial *d);

#endif
