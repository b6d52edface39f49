/* SPDX-License-Identifier: MIT */
/*
 * The firewall's policy (docs/firewall.md), pure: no kernel. From the config's purposes and
 * extra rules and from what each peer was approved for (the store's STORE_APPROVAL_IN rows), it
 * says exactly what a peer may reach here, at the peer's overlay addresses as we see them (its
 * peer_view, docs/overlay-addressing.md). kernel-iface/nft.c turns one struct policy_peer into
 * one chain of the table, so one peer's change is one small batch.
 *
 * The extra rules, one per config line after the keyword `firewall`:
 *
 *   firewall icmp-echo on|off            ICMP echo from peers that may reach something (on)
 *   firewall allow WHO tcp|udp/PORT[-PORT] WHO may reach these ports too, approved or not
 *   firewall outbound-only WHO           nothing from WHO but replies to what we opened,
 *                                        whatever it was approved for
 *
 * WHO is USER@DOMAIN or @DOMAIN (every user of that domain).
 */
#ifndef VERTEX_POLICY_H
#define VERTEX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rendezvous/purpose.h"
#include "trust/identity.h"

enum {
	POLICY_RULES_MAX = 64,  /* firewall lines in a config */
	POLICY_PORTS_MAX = 128, /* port ranges of one peer: PURPOSES_MAX + POLICY_RULES_MAX */
};

enum policy_rule_kind { POLICY_RULE_ALLOW = 1, POLICY_RULE_OUTBOUND_ONLY = 2 };

struct policy_rule {
	int kind;                   /* enum policy_rule_kind */
	char who[IDENTITY_STR_MAX]; /* "user@domain" or "@domain", normalised */
	uint8_t proto;              /* PURPOSE_TCP or PURPOSE_UDP (allow) */
	uint16_t lo, hi;            /* the port range, lo <= hi (allow) */
};

struct policy_config {
	bool icmp_echo_off;
	struct policy_rule rules[POLICY_RULES_MAX];
	size_t nrules;
};

/* What one peer may reach: one chain of the table. */
struct policy_port {
	uint8_t proto;
	uint16_t lo, hi;
	char source[IDENTITY_PURPOSE_MAX +
		    1]; /* the purpose that allows it; "" for a firewall rule */
};

struct policy_peer {
	char identity[IDENTITY_STR_MAX];
	uint32_t index;              /* its overlay index: the chain's name */
	uint8_t addr4[4], addr6[16]; /* its addresses as we see them */
	bool all;                    /* a peer of the config (a `peer` block): everything */
	bool outbound_only;          /* nothing but replies */
	bool icmp_echo;              /* echo requests accepted */
	struct policy_port ports[POLICY_PORTS_MAX]; /* sorted by (proto, lo, hi), no duplicates */
	size_t nports;
};

/*
 * One `firewall` line's arguments (argv[0] is the first word after the keyword), added to pc.
 * 0, or -EINVAL with a static reason in *why; pc unchanged on error.
 */
int policy_config_parse(struct policy_config *pc, char **argv, size_t argc, const char **why);
/* Every line of pc, normalised, each "firewall ...\n"; what parses back to an equal pc. */
void policy_config_print(const struct policy_config *pc, FILE *f);
bool policy_config_equal(const struct policy_config *a, const struct policy_config *b);

/* Does who ("user@domain" or "@domain") name identity? */
bool policy_who_matches(const char *who, const char *identity);

/*
 * The facts of one peer, what policy_peer_build reads: approved names the purposes it was
 * approved for (IN); an approval of a purpose the config no longer has allows nothing.
 */
struct policy_peer_facts {
	const char *identity;
	uint32_t index;
	const uint8_t *addr4, *addr6; /* 4 and 16 bytes */
	bool configured;              /* it has a `peer` block */
	const char *const *approved;
	size_t napproved;
};

/* Fills *out. 0, or -E2BIG if the ports do not fit (cannot happen within the limits). */
int policy_peer_build(struct policy_peer *out, const struct policy_config *pc,
		      const struct purpose *purposes, size_t npurposes,
		      const struct policy_peer_facts *facts);
/* The peer's chain as nft would list it, one rule a line ("tcp dport 22 accept # ssh"). */
void policy_peer_print(const struct policy_peer *pp, FILE *f);
bool policy_peer_equal(const struct policy_peer *a, const struct policy_peer *b);

#endif
