/* SPDX-License-Identifier: MIT */
/*
 * A lossless packet wire between two processes for unit tests (the two-stack tests of
 * netstack): a SOCK_STREAM socketpair carrying [length u16 big-endian][packet] frames, with
 * 4 MiB kernel buffers. Not SOCK_SEQPACKET: Linux lets only net.unix.max_dgram_qlen (10 by
 * default) packets wait there, so a burst would be dropped and the test would time TCP's
 * retransmissions instead of the code under test.
 */
#ifndef VERTEX_TEST_WIRE_H
#define VERTEX_TEST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { WIRE_RX_BUF = 256 * 1024 };

struct wire {
	int fd;
	uint64_t drops; /* frames not sent (never expected) */
	size_t rxlen;
	uint8_t rx[WIRE_RX_BUF];
};

/* Two connected ends (fds[0], fds[1]): 0 or -errno. */
int wire_pair(int fds[2]);
void wire_init(struct wire *w, int fd);
/* Sends one packet, whole; a failure is counted in drops (not when the other end is gone). */
void wire_send(struct wire *w, const uint8_t *pkt, size_t len);
/*
 * Reads what is there and calls on_packet for each whole packet (borrowed). Returns false
 * at EOF or on an error.
 */
bool wire_recv(struct wire *w, void (*on_packet)(void *arg, const uint8_t *pkt, size_t len),
	       void *arg);

#endif
