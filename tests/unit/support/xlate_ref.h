/* SPDX-License-Identifier: MIT */
/*
 * The reference the edge-translation tests (test_xlate.c) compare against: a packet builder that
 * computes every checksum from scratch, byte by byte, and an independent checker that
 * recomputes every checksum visible in a packet, quotes of ICMP errors included. Deliberately
 * naive and separate from daemon/overlay/xlate.c and csum.c, so that a mistake shared by both
 * would have to be made twice.
 */
#ifndef VERTEX_TEST_XLATE_REF_H
#define VERTEX_TEST_XLATE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "overlay/xlate.h"

enum { BUF = 4096, P_ICMP = 1, P_TCP = 6, P_UDP = 17, P_FRAG = 44, P_ICMP6 = 58, P_DSTOPTS = 60 };
enum { P_HOPOPTS = 0, P_ROUTING = 43 };

enum kind { K_TCP, K_UDP, K_ECHO, K_ERROR, K_LATER_FRAG, K_COUNT };

struct spec {
	int fam; /* 4 or 6 */
	enum kind kind;
	enum kind inner_kind; /* K_ERROR: what the quoted packet is */
	size_t payload_len;
	size_t inner_payload_len;
	size_t quote_len;      /* K_ERROR: quoted bytes of the inner packet; SIZE_MAX = all */
	size_t first_frag_len; /* nonzero: only this many L4 bytes, more-fragments set */
	bool udp_no_csum;
	int n_ext; /* IPv4: option words; IPv6: destination options headers */
	int inner_ext;
	uint8_t err_type; /* K_ERROR: ICMP type, 0 = fragmentation needed / packet too big */
	uint32_t seed;
};

struct addrs {
	const uint8_t *src, *dst, *qsrc, *qdst;
};

/* The ones'-complement sum of n bytes added to acc, unfolded. */
uint64_t ref_add(uint64_t acc, const uint8_t *p, size_t n);
/* acc folded to 16 bits. */
uint16_t ref_fold(uint64_t acc);
/* The pseudo-header sum of an upper-layer packet of len bytes. */
uint64_t ref_pseudo(int fam, const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t len);
/* Big-endian 16-bit store and load. */
void put16(uint8_t *p, unsigned v);
unsigned get16(const uint8_t *p);
/* xorshift32: the tests' seeded pseudo-random numbers. */
uint32_t rnd(uint32_t *s);
/* n pseudo-random bytes. */
void fill(uint8_t *p, size_t n, uint32_t *s);
/*
 * The packet s describes as it arrives from the peer (in), and as it must leave the translation
 * (want): outer src -> the peer as we view it, dst -> our own; quoted src -> our own, quoted
 * dst -> the peer as we view it. peer_view_of_us: how the peer addresses us.
 */
void build_pair(const struct spec *s, const struct xlate_map *m, const uint8_t *peer_view_of_us,
		uint8_t *in, size_t *in_len, uint8_t *want, size_t *want_len);
/* Asserts every checksum p shows is right; a quote may be truncated (is_quote). */
void check_packet(const uint8_t *p, size_t len, bool is_quote);

#endif
