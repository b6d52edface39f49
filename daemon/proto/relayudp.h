/* SPDX-License-Identifier: MIT */
/*
 * The relay's datagrams (docs/rendezvous.md, "The relay over UDP"): sealed data frames between
 * an agent and its home server, and between two domains' servers, as UDP datagrams on the
 * servers' UDP port (the reflection socket's, 4801) and the agent's data socket, so the NAT
 * mapping the agent learnt by reflection is the one they use. TLS stays for everything else, and
 * carries the frames whenever this does not work (RELAY_FRAME records, as before).
 *
 * Keys: both ends of a TLS connection (an agent's to its server, or a server's peering
 * connection to another domain's) derive RUDP_EXPORT_LEN bytes from the TLS exporter (label
 * RUDP_EXPORT_LABEL): a ticket (8 bytes) that names the connection in every datagram, and a MAC
 * key (32). The end that dialed binds and sends; nothing else is exchanged.
 *
 *   header   type u8 | reserved u8 (0) | handle u16 | ticket u64                  (12 bytes)
 *   BIND     header (handle 0) | seq u64 | mac 16                        agent -> server, 36
 *   BIND_OK  header (handle 0) | seq u64 | mac 16                        server -> agent, 36
 *   PAIR     header (handle h) | seq u64 | flen u8 | from | tlen u8 | to | mac 16      dialer ->
 *   PAIR_OK  header (handle h) | seq u64 | mac 16                        server -> agent, 36
 *   DATA     header (handle h) | a data frame (proto/frame.h)                   either way
 *
 * mac: keyed BLAKE2b-128 (the MAC key) over every byte before it; the type byte is covered, so
 * one message cannot pass for another. This codec leaves the MAC to its callers (crypto_mac,
 * crypto_mac_ok: only daemon/crypto/ includes a crypto library): the two functions
 * (rudp_ctl_encode, rudp_ctl_decode) say where it goes. BIND binds the connection's datagrams to
 * the address and port it came from (the server takes a BIND only with a seq above the last it
 * took: no replay); PAIR says the handle h (not 0) names the pair (from, to): from is empty from an
 * agent (it is the connection's identity), and names the sender from a server. In a DATA to the
 * server, h names the pair; in one from the server to an agent, the sender (the receiving
 * agent's handle for it). Answers are never larger than what they answer (no amplification
 * toward a forged source). How many handles one connection may name is its receiver's bound
 * (RUDP_HANDLES_MAX for an agent's, RUDP_LINK_HANDLES for a server's).
 *
 * The first byte tells these apart from data frames (type 1) and reflection (0x10, 0x11) on
 * the same sockets.
 */
#ifndef VERTEX_RELAYUDP_H
#define VERTEX_RELAYUDP_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"

#define RUDP_EXPORT_LABEL "vertex relay udp v1"

enum rudp_type {
	RUDP_BIND = 0x12,
	RUDP_BIND_OK = 0x13,
	RUDP_PAIR = 0x14,
	RUDP_PAIR_OK = 0x15,
	RUDP_DATA = 0x16,
};

enum {
	RUDP_HDR_LEN = 12,
	RUDP_SEQ_LEN = 8,
	RUDP_MAC_LEN = 16,
	RUDP_KEY_LEN = 32,
	RUDP_TICKET_LEN = 8,
	RUDP_EXPORT_LEN = RUDP_TICKET_LEN + RUDP_KEY_LEN,
	RUDP_CTL_LEN = RUDP_HDR_LEN + RUDP_SEQ_LEN + RUDP_MAC_LEN, /* BIND, BIND_OK, PAIR_OK */
	RUDP_ID_MAX = 255,
	RUDP_PAIR_MAX_LEN = RUDP_CTL_LEN + 2 + 2 * RUDP_ID_MAX,
	RUDP_DATA_MIN_LEN = RUDP_HDR_LEN + FRAME_OVERHEAD,
	RUDP_DATA_MAX_LEN = RUDP_HDR_LEN + FRAME_MAX_LEN,
	RUDP_HANDLES_MAX = 64,    /* peers one agent relays to over UDP at once */
	RUDP_LINK_HANDLES = 1024, /* pairs one server relays to another over UDP at once */
};
static_assert(RUDP_CTL_LEN == 36, "relay datagram layout");

struct rudp_hdr {
	uint8_t type;
	uint16_t handle;
	uint64_t ticket;
};

/* BIND, BIND_OK, PAIR, PAIR_OK. */
struct rudp_ctl {
	struct rudp_hdr h;
	uint64_t seq;
	char from[RUDP_ID_MAX + 1]; /* PAIR only, NUL-terminated; "" from an agent */
	char to[RUDP_ID_MAX + 1];   /* PAIR only, NUL-terminated, not empty */
};

/* Is this datagram (its first byte) one of ours rather than a frame or a reflection? */
bool rudp_is_rudp(const uint8_t *buf, size_t len);
/*
 * The header of any of them, checked for what needs no key: a known type, reserved zero, the
 * handle 0 for BIND and BIND_OK and not 0 for the others, the length of the
 * type (DATA: a frame's length bounds). False: a counted drop for the caller.
 */
bool rudp_hdr_decode(const uint8_t *buf, size_t len, struct rudp_hdr *h);
/*
 * m's message into out (RUDP_PAIR_MAX_LEN is enough), its last RUDP_MAC_LEN bytes zero for the
 * MAC the caller writes there, over the bytes before it; its length, 0 if m is bad.
 */
size_t rudp_ctl_encode(uint8_t *out, size_t cap, const struct rudp_ctl *m);
/*
 * A control message's fields, its layout checked; not its MAC (the last RUDP_MAC_LEN bytes,
 * over the bytes before them), which the caller checks before it acts on m. False if bad.
 */
bool rudp_ctl_decode(const uint8_t *buf, size_t len, struct rudp_ctl *m);
/* A DATA header into out; the frame follows it. */
void rudp_data_hdr_encode(uint8_t out[RUDP_HDR_LEN], uint16_t handle, uint64_t ticket);

#endif
