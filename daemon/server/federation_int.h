/* SPDX-License-Identifier: MIT */
/*
 * Inside the server's federation (federation.c): its state, shared with crosscheck.c, which
 * cross-checks a first use of another domain's CA before federation.c pins it. Not for other
 * modules: they use server.h's federation_* verbs.
 */
#ifndef VERTEX_FEDERATION_INT_H
#define VERTEX_FEDERATION_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ev.h"
#include "core/log.h"
#include "crypto/cert.h"
#include "trust/identity.h"
#include "trust/pins.h"

struct cafetch;
struct cafetch_result;
struct notary_query;
struct ratelimit;
struct sconn;
struct server;
struct store;

enum {
	FEDERATION_MAX_PENDING = 256,
	/* Of the queries waiting for a fetch, at most this many from one source network. */
	FEDERATION_PENDING_PER_SOURCE = 16,
	FEDERATION_MAX_DOMAINS = 1024,
	FEDERATION_REFRESH_MS = 30000,
	FEDERATION_CACHE_KEY_MAX = IDENTITY_DOMAIN_MAX + 4,
	FEDERATION_NOTARIES = 8,
	/*
	 * First contacts (a fetch or cross-check for a domain not pinned yet) cost us a DNS lookup
	 * and outbound connections, and anyone can cause one by presenting a certificate that names
	 * some domain. So: at most FEDERATION_FIRST_MAX at once (half of the lookups' share of the
	 * offload threads, OFFLOAD_LOOKUP_MAX, so that list refreshes still find threads and
	 * password checks never compete: offload.h), and per source network (an IPv4 address, an
	 * IPv6 /64: addrcount_net) a burst of FEDERATION_FIRST_BURST, then one per
	 * FEDERATION_FIRST_EVERY_S seconds. A domain that fails its first contact is forgotten, so
	 * junk domains cannot fill the table.
	 */
	FEDERATION_FIRST_MAX = 12,
	FEDERATION_FIRST_BURST = 10,
	FEDERATION_FIRST_EVERY_S = 10,
	FEDERATION_FIRST_KEYS = 4096,
};

enum federation_kind { FED_NOTARY, FED_FOREIGN_CERT };

struct federation_query {
	struct sconn *c;
	enum federation_kind kind;
	char domain[IDENTITY_DOMAIN_MAX + 1];
};

struct federation_check;

/* A slot of the domain table; an empty name is a free slot (slots never move: crosscheck.c
 * holds a pointer to its domain). */
struct federation_domain {
	char name[IDENTITY_DOMAIN_MAX + 1];
	struct cafetch *fetch;          /* running, or NULL */
	struct federation_check *check; /* a first use being cross-checked, or NULL */
	bool anchored;
};

struct federation {
	struct server *srv;
	struct store *pins;
	struct federation_query pending[FEDERATION_MAX_PENDING];
	size_t npending;
	struct federation_domain domains[FEDERATION_MAX_DOMAINS];
	size_t ndomains;            /* slots ever used; some may be free again */
	struct ratelimit *rl_first; /* first contacts per source address */
	struct ev_timer refresh;
	char key[PATH_MAX], cert[PATH_MAX]; /* presented to other domains' servers */
	char self[IDENTITY_STR_MAX + 8];
	uint64_t pins_serial; /* SERVER_PINS_SERIAL as last seen */
};

/*
 * Federation log lines name the domain they speak for ("federation of a.example.com: ..."):
 * one process may serve several (run --also), and they share a log.
 */
#define fed_info(f, fmt, ...) log_info("federation of %s: " fmt, (f)->srv->domain, __VA_ARGS__)
#define fed_warn(f, fmt, ...) log_warnx("federation of %s: " fmt, (f)->srv->domain, __VA_ARGS__)
#define fed_debug(f, fmt, ...)                                                                     \
	log_debug(LOG_CTL, "federation of %s: " fmt, (f)->srv->domain, __VA_ARGS__)

/* federation.c, for crosscheck.c */
void federation_settle(struct federation *f, const char *domain, uint8_t status, const uint8_t *fpr,
		       int64_t first_seen, bool anchored);
int federation_anchor(struct federation *f, struct federation_domain *d, const uint8_t *der,
		      size_t len);
void federation_apply_crl(struct federation *f, const struct cert_info *ca, const uint8_t *buf,
			  size_t len);
/* Frees d's slot if it is neither anchored nor being fetched or cross-checked. */
void federation_release(struct federation_domain *d);

/*
 * crosscheck.c: a CA fetched for d (r, described by ci), no pin yet. Asks the servers of the
 * other anchored domains what they see, then pins and anchors it and settles everything waiting
 * for d as KNOWN, or, if one disagrees, settles it as DISPUTED without pinning. d->check is set
 * while it runs.
 */
void crosscheck_start(struct federation *f, struct federation_domain *d,
		      const struct cafetch_result *r, const struct cert_info *ci);
void crosscheck_free(struct federation_check *k);

#endif
