/* SPDX-License-Identifier: MIT */
/*
 * Reflection (DESIGN §6, "server-discovered public addresses"): over UDP, an agent asks its
 * server which address and port its datagram came from -- the mapping its NAT made for the
 * agent's data socket, so the same socket's frames to a peer are likely to leave from it too.
 * The server answers on its TCP port's number (4801) and the next (4802), and, when it has one,
 * from a second address of the same family (vertex-server run --alt-address), in the manner
 * of RFC 5780's tests: requests to both ports and both addresses tell whether the NAT keeps one
 * mapping for every destination (endpoint-independent mapping) or makes one per destination;
 * a request asking for the answer from the other port, or from the other address, tells
 * whether the NAT lets in what comes from a port, or an address, it did not send to
 * (filtering: address-and-port-dependent, address-dependent or endpoint-independent). Both
 * datagrams are REFLECT_LEN bytes, so a forged source address gets the victim no more bytes
 * than the forger sent (no amplification).
 *
 *   request   type u8 (0x10) | flags u8 | reserved 2 bytes (0) | nonce 8 | zero 36
 *             flags: REFLECT_OTHER_PORT (answer from the server's other port) or
 *             REFLECT_OTHER_ADDRESS (answer from its other address, same port), not both
 *   response  type u8 (0x11) | family u8 (4 or 6) | port u16 | nonce 8 | address 16
 *             | other family u8 (0, or the family above) | zero 3 | other address 16
 *             (IPv4 in the first 4 bytes of an address field, the rest zero; other family 0:
 *             the server has no other address of this family, and the field is zero)
 *
 * The first byte is the data frame's type field (proto/frame.h): 0x10 and 0x11 are not frame
 * types, so one socket carries both and a datagram is told apart by its first byte alone. The
 * nonce is random per request; a response whose nonce is not the one outstanding is dropped,
 * so only an on-path attacker can lie about the address (and then the lie costs a probe that
 * fails: every path is validated by frames under the session's keys before use).
 */
#ifndef VERTEX_REFLECT_H
#define VERTEX_REFLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	REFLECT_REQUEST = 0x10,
	REFLECT_RESPONSE = 0x11,
	REFLECT_LEN = 48,
	REFLECT_OTHER_PORT = 1 << 0,
	REFLECT_OTHER_ADDRESS = 1 << 1,
};

void reflect_request_encode(uint8_t out[REFLECT_LEN], uint64_t nonce, uint8_t flags);
/* False unless exactly a request (length, type, known flags and not both, zeros). */
bool reflect_request_decode(const uint8_t *buf, size_t len, uint64_t *nonce, uint8_t *flags);
/*
 * addr: AF_INET or AF_INET6 (a v4-mapped IPv6 address is written as IPv4); other: the server's
 * other address, of addr's family once unmapped (its port is not sent), or NULL or family 0 for
 * none. False otherwise (other of another family included).
 */
bool reflect_response_encode(uint8_t out[REFLECT_LEN], uint64_t nonce,
			     const struct sockaddr_storage *addr,
			     const struct sockaddr_storage *other);
/* other: the server's other address with port 0, or family 0 if it said none. */
bool reflect_response_decode(const uint8_t *buf, size_t len, uint64_t *nonce,
			     struct sockaddr_storage *addr, struct sockaddr_storage *other);
/* Is this datagram (its first byte) a reflection message rather than a data frame? */
bool reflect_is_reflect(const uint8_t *buf, size_t len);

#endif
