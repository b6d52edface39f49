/* SPDX-License-Identifier: MIT */
/*
 * The packet path (DESIGN §4.3, §5): between a packet device (the TUN device today, lwIP's
 * netif later: struct pktdev) and the peers' paths.
 *
 * Outbound (dataplane_send): a packet from the device is in a pool buffer at PKT_HEADROOM; its
 * destination address gives the peer by arithmetic (the overlay index, peer_by_index); it is
 * sealed in place and handed to the path the peer's path set chooses: the UDP socket's batch,
 * a FRAME record on the session link, or a RELAY_FRAME through the home server.
 *
 * Inbound (dataplane_on_udp, dataplane_on_stream_frame): each frame's header is checked
 * (cheap), its receiver index names the keypair, the replay window is consulted before the
 * AEAD, then the inner packet is translated (overlay/xlate.h) and delivered to the device.
 *
 * Nothing here allocates: every buffer comes from the agent's pkt pool, and every failure is a
 * counted drop (per peer where the peer is known, here otherwise).
 *
 * With AEAD workers (dataplane_start_workers, dataplane/crypto_pool.h) only the AEAD itself
 * moves to threads: the send counter and header, the replay check before and the replay
 * window's update after, and everything else stay here, on the loop, in the same order.
 */
#ifndef VERTEX_DATAPLANE_H
#define VERTEX_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct dataplane;
struct ev_loop;
struct link;
struct path_udp;
struct peer;
struct peer_table;
struct pkt;
struct pkt_pool;
struct pool;
struct session_index;

/* Drops before a peer is known. */
enum dataplane_drop {
	DATAPLANE_DROP_UNKNOWN_RECEIVER,
	DATAPLANE_DROP_MALFORMED,
	DATAPLANE_DROP_NO_BUFFER,
	DATAPLANE_DROP_NO_ROUTE,
	DATAPLANE_DROP_COUNT,
};

/* The device received packets are delivered to: the TUN device, or a userspace stack. */
struct pktdev {
	/* Takes a complete inner IP packet (borrowed); 0 or -errno (the packet is lost). */
	int (*deliver)(void *dev, const uint8_t *pkt, size_t len);
	void *dev;
};

struct dataplane_ops {
	/* Sends a sealed frame as a FRAME record on l; false if it could not be queued. */
	bool (*send_stream)(void *arg, struct link *l, const uint8_t *frame, size_t len);
	/*
	 * Sends the sealed frame in pkt to p through the relay (a datagram to the home server, the
	 * relay's header pushed into pkt's headroom, or a RELAY_FRAME record); takes pkt. False if
	 * it was dropped.
	 */
	bool (*send_relay)(void *arg, struct peer *p, struct pkt *pkt);
};

/* Borrows everything; *out freed with dataplane_free. 0 or -ENOMEM. */
int dataplane_new(struct dataplane **out, struct ev_loop *loop, struct pkt_pool *pkts,
		  const struct pool *pool, struct session_index *index, struct peer_table *peers,
		  struct path_udp *udp, const struct pktdev *dev, const struct dataplane_ops *ops,
		  void *arg);
void dataplane_free(struct dataplane *dp);

/* A packet read from the device, for its peer (taken). */
void dataplane_send(struct dataplane *dp, struct pkt *p);
/* A datagram that arrived on the UDP path from `from` (taken). */
void dataplane_on_udp(struct dataplane *dp, struct pkt *p, const struct sockaddr_storage *from);
/* A frame that arrived in a FRAME record on a link (borrowed). */
void dataplane_on_stream_frame(struct dataplane *dp, const uint8_t *frame, size_t len);
/* A frame that arrived through the relay (borrowed). */
void dataplane_on_relay_frame(struct dataplane *dp, const uint8_t *frame, size_t len);
/* The same, a frame that came as a relay datagram, in its own buffer p (taken). */
void dataplane_on_relay_pkt(struct dataplane *dp, struct pkt *p);
/* An empty frame to p (which has keys): over UDP, and over the link while UDP is unproven. */
void dataplane_send_keepalive(struct dataplane *dp, struct peer *p);
/*
 * A connectivity check to a candidate `to`: a probe request (proto/probe.h, sequence 0) the
 * peer answers over the same path; its answer marks the peer's UDP as validated both ways
 * (path_set_validated).
 */
void dataplane_send_check(struct dataplane *dp, struct peer *p, const struct sockaddr_storage *to);

/*
 * Seals and opens on workers threads from now on (dataplane/crypto_pool.h), or inline if
 * workers is 0. Call after dropping privileges: threads keep the capabilities they start with.
 * 0 or -errno (then everything stays inline).
 */
int dataplane_start_workers(struct dataplane *dp, unsigned workers);
/* The end of a loop turn: what waits for a worker goes to one. dp may be NULL. */
void dataplane_flush(struct dataplane *dp);
/* The workers' counters, `name value` lines, for the control socket's status. */
void dataplane_status(const struct dataplane *dp, FILE *f);

void dataplane_count_drop(struct dataplane *dp, enum dataplane_drop d, const char *detail);
uint64_t dataplane_drops(const struct dataplane *dp, enum dataplane_drop d);
const char *dataplane_drop_name(enum dataplane_drop d);

#endif
