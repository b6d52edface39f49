/* SPDX-License-Identifier: MIT */
/*
 * What reflection's answers say of our NAT: RFC 4787's behaviours, by tests in the manner of
 * RFC 5780's. Pure (no socket, no clock), so the rules are tested on their own. Each question is
 * a request from the data socket to the home server (proto/reflect.h):
 *
 *   NATQ_BASE          to its address and port: our mapping toward it (the reflexive address)
 *   NATQ_PORT          to its other port: the same mapping?
 *   NATQ_FROM_PORT     to its port, answered from its other port: does that get in?
 *   NATQ_FROM_ADDRESS  to its port, answered from its other address: does that get in?
 *   NATQ_ADDRESS       to its other address: the same mapping?
 *
 * The last two only when the server has another address (it names it in every answer). A
 * question is settled when it was answered, or asked so often that no answer is the answer.
 *
 * Mapping: endpoint-dependent as soon as one mapping answered differs from the base one;
 * endpoint-independent when every settled mapping question that was answered saw the base one
 * and none is pending (at least one answered).
 * Filtering: with another address, open (endpoint-independent) once the answer from it got in;
 * address-dependent if only the answer from the other port did; port-dependent
 * (address-and-port-dependent) if neither did. Without one, the answer from the other port
 * getting in says only "not by port": address-dependent or open.
 */
#ifndef VERTEX_NATCLASS_H
#define VERTEX_NATCLASS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* The values travel in offers (CTL_CAND_NAT's priority): append only. */
enum direct_mapping {
	DIRECT_MAPPING_UNKNOWN,
	DIRECT_MAPPING_INDEPENDENT, /* one mapping for every destination: hole punching works */
	DIRECT_MAPPING_DEPENDENT,   /* one per destination ("symmetric") */
};
enum direct_filtering {
	DIRECT_FILTERING_UNKNOWN,
	DIRECT_FILTERING_OPEN,     /* lets in anyone to a mapping (endpoint-independent) */
	DIRECT_FILTERING_PORT,     /* only the address and port it sent to */
	DIRECT_FILTERING_ADDRESS,  /* any port of an address it sent to */
	DIRECT_FILTERING_NOT_PORT, /* address-dependent or open: the server has one address */
};

enum natq {
	NATQ_BASE,
	NATQ_PORT,
	NATQ_FROM_PORT,
	NATQ_FROM_ADDRESS,
	NATQ_ADDRESS,
	NATQ_COUNT,
};

struct nat_question {
	uint64_t nonce;   /* outstanding; 0: none */
	unsigned sent;    /* this round */
	uint64_t sent_ms; /* when last asked */
	bool answered;
	bool settled; /* answered, or given up on */
	struct sockaddr_storage seen;
};

/*
 * q: this round's questions; alt: the server has another address (the last two are asked).
 * *mapping and *filtering are set where the answers say (left alone where not yet).
 */
void natclass(const struct nat_question q[NATQ_COUNT], bool alt, int *mapping, int *filtering);

const char *natclass_mapping_name(int mapping);
const char *natclass_filtering_name(int filtering);

#endif
