// SPDX-License-Identifier: MIT
/*
 * The firewall, wired (wiring.h): at start the table with every peer known (configured ones and
 * the store's approvals); then each approval, revocation and peer coming or going rebuilds that
 * one peer's policy (policy/policy.h) from the config and the store and sends it as one batch
 * (kernel-iface/nft.h). A failed batch is logged and leaves the peer's earlier rules: never more
 * than it was approved for before, since a revocation that fails to apply is retried by the next
 * change of that peer and the peer's session is ended anyway when nothing vouches for it.
 * In userspace mode the same policy goes to wiring_userspace.c instead, which checks each
 * inbound packet against it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/log.h"
#include "kernel-iface/nft.h"
#include "peer/peer.h"
#include "policy/policy.h"
#include "store/store.h"

struct wiring_policy_in {
	char names[PURPOSES_MAX][IDENTITY_PURPOSE_MAX + 1];
	const char *ptr[PURPOSES_MAX];
	size_t n;
};

static int
wiring_policy_collect(const struct store_approval *ap, void *arg)
{
	struct wiring_policy_in *in = arg;

	if (ap->dir != STORE_APPROVAL_IN || in->n == PURPOSES_MAX)
		return 0;
	snprintf(in->names[in->n], sizeof(in->names[0]), "%s", ap->purpose);
	in->ptr[in->n] = in->names[in->n];
	in->n++;
	return 0;
}

static bool
wiring_policy_is_configured(const struct agent *a, const char *identity)
{
	for (size_t i = 0; i < a->cfg.npeers; i++)
		if (!strcmp(a->cfg.peers[i].identity, identity))
			return true;
	return false;
}

int
wiring_policy_build(struct agent *a, const struct peer *p, struct policy_peer *out)
{
	struct wiring_policy_in in = { .n = 0 };
	struct policy_peer_facts f = {
		.identity = p->identity,
		.index = p->index,
		.addr4 = p->map.peer_view4,
		.addr6 = p->map.peer_view6,
		.configured = wiring_policy_is_configured(a, p->identity),
	};
	int err;

	if ((err = store_approval_each(a->store, p->identity, wiring_policy_collect, &in)))
		return err;
	f.approved = in.ptr;
	f.napproved = in.n;
	return policy_peer_build(out, &a->cfg.firewall, a->cfg.purposes, a->cfg.npurposes, &f);
}

void
wiring_policy_peer(struct agent *a, const struct peer *p)
{
	struct policy_peer pp;
	int err;

	if (!a->nft && !a->us)
		return;
	if ((err = wiring_policy_build(a, p, &pp)) ||
	    (a->nft && (err = nft_peer_set(a->nft, &pp)))) {
		log_warnx("firewall: peer %s: cannot update its rules: %s", p->identity,
			  strerror(-err));
		return;
	}
	wiring_userspace_policy(a, &pp);
	log_debug(LOG_NETLINK, "firewall: peer %s: %zu port ranges%s", p->identity, pp.nports,
		  pp.all             ? " (all)"
		  : pp.outbound_only ? " (outbound only)"
				     : "");
}

void
wiring_policy_peer_gone(struct agent *a, const struct peer *p)
{
	struct policy_peer pp = { .index = p->index };
	int err;

	wiring_userspace_peer_gone(a, p);
	if (!a->nft)
		return;
	memcpy(pp.addr4, p->map.peer_view4, 4);
	memcpy(pp.addr6, p->map.peer_view6, 16);
	if ((err = nft_peer_del(a->nft, &pp)))
		log_warnx("firewall: peer %s: cannot remove its rules: %s", p->identity,
			  strerror(-err));
}

static void
wiring_policy_each(struct peer *p, void *arg)
{
	wiring_policy_peer(arg, p);
}

int
wiring_policy_start(struct agent *a)
{
	int err;

	if (a->us) { /* the policy is applied in the daemon (wiring_userspace.c) */
		peer_foreach(a->peers, wiring_policy_each, a);
		return 0;
	}
	if ((err = nft_open(&a->nft, a->cfg.interface, a->cfg.purposes, a->cfg.npurposes))) {
		log_warnx("firewall: cannot install table inet %s: %s", NFT_TABLE_NAME,
			  strerror(-err));
		return err;
	}
	peer_foreach(a->peers, wiring_policy_each, a);
	log_info("firewall: table inet %s on %s", NFT_TABLE_NAME, a->cfg.interface);
	return 0;
}

void
wiring_policy_stop(struct agent *a)
{
	nft_close(a->nft);
	a->nft = NULL;
}
