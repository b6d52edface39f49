/* SPDX-License-Identifier: MIT */
/*
 * A purpose the agent offers (docs/rendezvous.md): a name by the identity grammar's purpose rule
 * ([a-z0-9-]{1,32}), a protocol and port, who may ask for it, and whether a request is approved
 * without asking the person. In the config:
 *
 *   purpose NAME tcp/PORT|udp/PORT [-> ADDR:PORT] [allow WHO[,WHO...]] [auto-approve]
 *
 * `-> ADDR:PORT` (e.g. `-> 127.0.0.1:8080`, `-> [::1]:8080`) is a local target: what an approved
 * peer sends to the purpose's port is delivered there instead (by DNAT, docs/firewall.md).
 *
 * WHO is `anyone`, `@DOMAIN` (every user of a domain) or `USER@DOMAIN`; at most
 * PURPOSE_ALLOW_MAX of them; without `allow`, anyone may ask (and a person still approves,
 * unless auto-approve).
 */
#ifndef VERTEX_PURPOSE_H
#define VERTEX_PURPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "trust/identity.h"

enum {
	PURPOSE_ALLOW_MAX = 16,
	PURPOSES_MAX = 64,
	PURPOSE_TCP = 6,
	PURPOSE_UDP = 17,
};

struct purpose {
	char name[IDENTITY_PURPOSE_MAX + 1];
	uint8_t proto; /* PURPOSE_TCP or PURPOSE_UDP */
	uint16_t port;
	char allow[PURPOSE_ALLOW_MAX][IDENTITY_STR_MAX]; /* "user@domain" or "@domain" */
	size_t nallow;                                   /* 0: anyone */
	bool auto_approve;
	struct sockaddr_storage target; /* ss_family AF_UNSPEC: none */
};

/*
 * Parses the arguments after the keyword (argv[0] is the name). 0, or -EINVAL with a static
 * reason in *why ("unknown protocol 'sctp' (tcp or udp)", ...).
 */
int purpose_parse(struct purpose *p, char **argv, size_t argc, const char **why);
/* May identity (a canonical user@domain) ask for p? */
bool purpose_allows(const struct purpose *p, const char *identity);
/* The config line's arguments, normalised: "ssh tcp/22 allow @a.example.com auto-approve". */
void purpose_print(const struct purpose *p, FILE *f);
const struct purpose *purpose_find(const struct purpose *list, size_t n, const char *name);
/* "tcp" or "udp" */
const char *purpose_proto_name(uint8_t proto);
bool purpose_name_is_valid(const char *name);
/* Has p a local target (`-> ADDR:PORT`)? */
bool purpose_has_target(const struct purpose *p);

#endif
