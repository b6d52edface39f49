/* SPDX-License-Identifier: MIT */
/*
 * The agent's end of the relay (docs/rendezvous.md): peer links and data frames carried through
 * the servers, for peers met by rendezvous.
 *
 * Channels: a relayed peer link is a byte stream, carried in RELAY records. Each channel is one
 * end of a socketpair; the other end is what the link module gets (link_dial_fd for one we
 * open, link_accept_relayed for one the peer opens), so the TLS handshake and the records of the
 * link run over it unchanged. The pump copies both ways: what the link writes goes out in RELAY
 * records (at most CTL_RELAY_DATA_MAX bytes each), what RELAY records bring is written to the
 * link. An end of the socketpair closed, or a FIN, ends the channel; so does the home connection
 * going away (the links then end and are dialed again).
 *
 * Frames: a data frame for a relayed peer goes in one RELAY_FRAME; frames are dropped (counted)
 * while more than RELAY_FRAME_BACKLOG bytes wait to go to the home server, as a congested UDP
 * path would, so the overlay's TCP backs off instead of the queue growing.
 *
 * Frames over UDP (docs/rendezvous.md, "The relay over UDP"): once the home connection is up,
 * relay_udp_up starts binding our data socket's address at the server (BIND every
 * RELAY_UDP_BIND_MS, so the NAT's mapping stays; a new one after roaming is bound by the next);
 * while BIND_OK answers (the last within RELAY_UDP_DEAD_MS) and the server took our PAIR for
 * the peer (its handle, retried every RELAY_UDP_BIND_MS until answered), a frame goes as a
 * DATA datagram; else, or when no answer comes (UDP blocked), in a RELAY_FRAME as before.
 * One path kind (PATH_RELAY) either way: the transport is chosen per frame.
 *
 * Bounds: RELAY_CHANNELS_MAX channels, RELAY_CHANNELS_PER_PEER per peer (a new one from a peer
 * over it ends its oldest), RELAY_CHANNEL_WBUF bytes waiting toward one link (more ends it).
 */
#ifndef VERTEX_RELAY_H
#define VERTEX_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctlmsg;
struct pkt;
struct sockaddr_storage;
struct ev_loop;
struct relay;

enum {
	RELAY_CHANNELS_MAX = 256,
	RELAY_CHANNELS_PER_PEER = 4,
	RELAY_CHANNEL_WBUF = 256 * 1024,
	RELAY_FRAME_BACKLOG = 192 * 1024,
	RELAY_UDP_BIND_MS = 500,
	RELAY_UDP_DEAD_MS = 1200,
};

struct relay_ops {
	/* Sends m to the home server; false if not connected or its output is full. */
	bool (*send)(void *arg, const struct ctlmsg *m);
	/* Bytes waiting to go to the home server. */
	size_t (*backlog)(void *arg);
	/* from opened a channel: fd (taken, in both cases) is the link's end; false: refused. */
	bool (*on_channel)(void *arg, const char *from, int fd);
	/* A data frame from `from` in a RELAY_FRAME record (borrowed). */
	void (*on_frame)(void *arg, const char *from, const uint8_t *frame, size_t len);
	/* A datagram (hdr then body, both borrowed) to the server from the data socket. */
	bool (*send_udp)(void *arg, const struct sockaddr_storage *to, const uint8_t *hdr,
			 size_t hlen, const uint8_t *body, size_t blen);
};

struct relay_stats {
	uint64_t channels_opened, channels_refused, frames_tx, frames_rx, frames_dropped, bytes_tx,
	    bytes_rx, records_dropped;
	uint64_t udp_frames_tx, udp_frames_rx, udp_binds_sent, udp_bind_ok, udp_dropped;
};

/* Borrows loop; copies self. */
int relay_new(struct relay **out, struct ev_loop *loop, const char *self,
	      const struct relay_ops *ops, void *arg);
/* Ends every channel (the links see their end close) and frees. NULL ignored. */
void relay_free(struct relay *r);
/* Opens a channel to peer; *fd is the link's end (the caller's). 0 or -errno. */
int relay_dial(struct relay *r, const char *peer, int *fd);
/* A RELAY or RELAY_FRAME from the home server. */
void relay_on_msg(struct relay *r, const struct ctlmsg *m);
/*
 * The sealed frame in p as a DATA datagram to peer, if frames go over UDP now and the server
 * took our handle for peer: the datagram's header is pushed into p's headroom and *to is the
 * server's address, for the caller to send p there from the data socket (counted as sent).
 * False: p is unchanged, and goes by relay_send_frame.
 */
bool relay_udp_frame(struct relay *r, const char *peer, struct pkt *p, struct sockaddr_storage *to);
/* A sealed frame to peer in a RELAY_FRAME record over TLS; false if dropped (counted). */
bool relay_send_frame(struct relay *r, const char *peer, const uint8_t *frame, size_t len);
/* The home connection is gone: every channel ends. */
void relay_home_down(struct relay *r);
/* Ends the channels of peer (its approvals are gone). */
void relay_close_peer(struct relay *r, const char *peer);
/*
 * The home connection is up: frames may go over UDP to server (its address, port 4801) with
 * the ticket and key exported from that connection (proto/relayudp.h). Both copied.
 */
void relay_udp_up(struct relay *r, const struct sockaddr_storage *server,
		  const uint8_t exported[40]);
/*
 * A datagram on the data socket. NOT_OURS: not the relay's. TAKEN: the relay's, and handled
 * (counted; dropped if bad). FRAME: a DATA from *peer (borrowed until the relay changes), its
 * sealed frame the datagram after its first RUDP_HDR_LEN bytes, for the caller to receive.
 */
enum relay_dgram { RELAY_DGRAM_NOT_OURS, RELAY_DGRAM_TAKEN, RELAY_DGRAM_FRAME };
enum relay_dgram relay_on_datagram(struct relay *r, const uint8_t *buf, size_t len,
				   const struct sockaddr_storage *from, const char **peer);
/*
 * UDP may have stopped (a direct path just died: the same network may now drop what goes to
 * the server): frames go over TLS until the server answers a BIND sent now.
 */
void relay_udp_recheck(struct relay *r);
/* Do frames go over UDP now (the server answered our BIND lately)? */
bool relay_udp_works(const struct relay *r);
const struct relay_stats *relay_stats(const struct relay *r);
size_t relay_channels(const struct relay *r);

#endif
