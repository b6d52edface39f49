/* SPDX-License-Identifier: MIT */
/*
 * Inside the domains module (foreign.c, notaries.c, crlkeep.c): its state and what the files
 * share. Not for other modules: they use domains.h.
 */
#ifndef VERTEX_DOMAINS_INT_H
#define VERTEX_DOMAINS_INT_H

#include <limits.h>

#include "domains/domains.h"
#include "trust/pins.h"

struct fdomain;
struct notary_round;

struct domains {
	struct ev_loop *loop;
	struct store *store;
	struct cert_trust *trust;
	struct tls_ctx *tls;
	char identity[IDENTITY_STR_MAX];
	char key_path[PATH_MAX], cert_path[PATH_MAX];
	bool has_home;
	char configured[DOMAINS_CONFIGURED_MAX][IDENTITY_DOMAIN_MAX + 1];
	size_t nconfigured;
	struct domains_ops ops;
	void *arg;
	struct fdomain **fd; /* tracked domains (foreign.c); each allocated, never moves */
	size_t nfd, capfd;
	struct notary_round *rounds; /* running (notaries.c) */
};

/* notaries.c: a round about domain. done runs exactly once (possibly before this returns, if
 * there is no one to ask), then the round is freed; *out is set while it runs. */
int notaries_round_start(struct notary_round **out, struct domains *d, const char *domain,
			 void (*done)(void *arg, const struct pin_notary_answer *answers, size_t n),
			 void *arg);
/* Cancels; done does not run. NULL is ignored. */
void notaries_round_cancel(struct notary_round *r);
/* A round that is still running when the module goes: cancels them all. */
void notaries_cancel_all(struct domains *d);

/* crlkeep.c: the list kept for domain, if it still verifies against domain's anchor. */
void crlkeep_restore(struct domains *d, const char *domain);

/* foreign.c */
void foreign_free_all(struct domains *d);
/* Is domain one whose CA the configuration names? */
bool domains_is_configured(const struct domains *d, const char *domain);

#endif
