/* SPDX-License-Identifier: MIT */
/*
 * The UDP path's socket: one socket for every peer's data frames, on the agent's port, dual-stack
 * where the host has IPv6. Frames to send are queued during a loop turn and sent in one
 * sendmmsg() from the before-sleep flush; with UDP GSO a run of equal-size frames to one peer is
 * also one trip through the kernel's UDP/IP stack. Received frames come in with recvmmsg(), or,
 * with UDP GRO, as large coalesced buffers cut back into frames; each is handed up in a pool
 * buffer through on_frame.
 *
 * Nothing here allocates after path_udp_open: frames travel in the agent's pkt pool.
 */
#ifndef VERTEX_PATH_UDP_H
#define VERTEX_PATH_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct pkt;
struct pkt_pool;
struct path_udp;

enum path_udp_drop {
	PATH_UDP_DROP_OVERSIZED, /* a datagram larger than a frame can be */
	PATH_UDP_DROP_NO_BUFFER, /* the pkt pool was empty */
};

struct path_udp_ops {
	/* A datagram from `from` (a frame or not: not checked yet); p is handed over. */
	void (*on_frame)(void *arg, struct pkt *p, const struct sockaddr_storage *from);
	/* Something was dropped before it could be handed up. */
	void (*on_drop)(void *arg, enum path_udp_drop why, const char *detail);
};

/*
 * Opens, binds to port on every address of family (AF_INET6: dual-stack), probes the offloads
 * and starts receiving. Borrows loop and pkts. 0 or -errno (the port is named in the log).
 */
int path_udp_open(struct path_udp **out, struct ev_loop *loop, struct pkt_pool *pkts, int family,
		  uint16_t port, const struct path_udp_ops *ops, void *arg);
/* Sends what is queued, stops and frees. NULL is ignored. */
void path_udp_close(struct path_udp *u);
/* Queues the frame in p for to (taken: returned to the pool once sent or dropped). */
void path_udp_queue(struct path_udp *u, const struct sockaddr_storage *to, struct pkt *p);
/* Sends what is queued (the before-sleep hook; also when the pool runs low). */
void path_udp_flush(struct path_udp *u);
/* The socket's family: AF_INET6 (dual-stack) or AF_INET. */
int path_udp_family(const struct path_udp *u);

/*
 * Extra sockets, for the birthday technique (direct/birthday.h): a NAT with endpoint-dependent
 * mapping gives each of them its own public port toward the peer, so a peer behind a filtering
 * NAT that sprays probes at random ports may hit one. Each is bound to a port the kernel picks
 * and connected to `to` (so the kernel lets in only what comes from there), sends buf once
 * (opening its mapping), and hands what it receives to on_frame like the main socket: the same
 * checks follow (a frame counts only if authentic under a session). The first datagram one of
 * them receives pins `to` to it, if no other one holds `to` already: every frame queued for `to`
 * then goes out of that socket (through the mapping the peer got through), until it is closed.
 * At most PATH_UDP_AUX_MAX at once (then -EMFILE). Returns the socket's id (>= 0) or -errno.
 */
enum { PATH_UDP_AUX_MAX = 256 };
int path_udp_aux_open(struct path_udp *u, const struct sockaddr_storage *to, const uint8_t *buf,
		      size_t len);
/* Closes extra socket id (an unknown id is ignored); frames to its address take the main one. */
void path_udp_aux_close(struct path_udp *u, int id);
/* The extra socket frames to `to` go out of (pinned), or -1 (the main socket). */
int path_udp_aux_pinned(const struct path_udp *u, const struct sockaddr_storage *to);
/* How many extra sockets are open. */
unsigned path_udp_aux_count(const struct path_udp *u);

/*
 * The family the agent's sockets use: AF_INET6 if the host can make an IPv6 socket (then one
 * dual-stack socket serves both families), else AF_INET.
 */
int path_underlay_family(void);
/* A bound socket of type on port, all addresses, for the underlay family; fd or -errno. */
int path_socket_bind(int family, int type, uint16_t port);

#endif
