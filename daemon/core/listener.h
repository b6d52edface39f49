/* SPDX-License-Identifier: MIT */
/*
 * A listening TCP socket on the event loop: accepts up to per_turn connections each time it is
 * readable (so a flood cannot starve the rest of the loop), hands each to on_accept, and, when
 * the process runs out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), stops
 * watching the socket for pause_ms instead of spinning on a connection it cannot take (it stays
 * in the kernel's queue, or is refused by it). The agent's peer port and the server's control
 * port both listen this way.
 */
#ifndef VERTEX_LISTENER_H
#define VERTEX_LISTENER_H

#include <sys/socket.h>

struct ev_loop;
struct listener;

struct listener_ops {
	/* A new connection: fd is non-blocking and close-on-exec, and the callee's to close. */
	void (*on_accept)(void *arg, int fd, const struct sockaddr_storage *from);
};

/*
 * Listens on fd (a bound stream socket; taken, closed on failure too) with backlog. Borrows
 * loop. 0 or -errno.
 */
int listener_new(struct listener **out, struct ev_loop *loop, int fd, int backlog,
		 unsigned per_turn, unsigned pause_ms, const struct listener_ops *ops, void *arg);
/* Stops and closes. NULL is ignored. */
void listener_free(struct listener *l);

#endif
