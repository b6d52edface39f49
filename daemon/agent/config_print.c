// SPDX-License-Identifier: MIT
/*
 * A configuration, printed and compared (config.h). config_print() writes every setting,
 * defaults included, in a fixed order, so its output parses back to an equal struct config
 * (config_equal); the test suite and the fuzzer check this round trip.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>

#include "agent/config.h"

static void
config_print_prefix(FILE *out, const char *kw, const struct config_prefix *px)
{
	char buf[INET6_ADDRSTRLEN];

	if (!px->family) {
		fprintf(out, "# %s not set: a random ULA /48 is chosen at first start\n", kw);
		return;
	}
	inet_ntop(px->family, px->addr, buf, sizeof(buf));
	fprintf(out, "%-20s %s/%u\n", kw, buf, px->len);
}

static void
config_print_peer(FILE *out, const struct config_peer *peer)
{
	char ep[INET6_ADDRSTRLEN + 16];

	fprintf(out, "\npeer %s {\n", peer->identity);
	for (size_t i = 0; i < peer->nendpoints; i++) {
		sockaddr_format(&peer->endpoints[i], ep, sizeof(ep));
		fprintf(out, "\tendpoint %s\n", ep);
	}
	fprintf(out, "}\n");
}

/* Empty paths and identity are left out: they are "not set", which no value can spell. */
int
config_print(const struct config *c, FILE *out)
{
	if (c->identity[0])
		fprintf(out, "%-20s %s\n", "identity", c->identity);
	if (c->key_path[0])
		fprintf(out, "%-20s %s\n", "key", c->key_path);
	if (c->cert_path[0])
		fprintf(out, "%-20s %s\n", "cert", c->cert_path);
	for (size_t i = 0; i < c->ncas; i++)
		fprintf(out, "%-20s %s %s\n", "ca", c->cas[i].domain, c->cas[i].path);
	fprintf(out, "%-20s %s\n", "interface", c->interface);
	fprintf(out, "%-20s %u\n", "port", c->port);
	if (c->public_tcp)
		fprintf(out, "%-20s %u\n", "public-tcp", c->public_tcp);
	config_print_prefix(out, "pool4", &c->pool4);
	config_print_prefix(out, "pool6", &c->pool6);
	fprintf(out, "%-20s %s\n", "state", c->state_path);
	fprintf(out, "%-20s %s\n", "control", c->control_path);
	fprintf(out, "%-20s %s\n", "app-socket", c->app_path);
	if (c->user[0])
		fprintf(out, "%-20s %s\n", "user", c->user);
	fprintf(out, "%-20s %u\n", "mtu", c->mtu);
	fprintf(out, "%-20s %u\n", "rekey-after-seconds", c->rekey_after_sec);
	fprintf(out, "%-20s %" PRIu64 "\n", "rekey-after-packets", c->rekey_after_packets);
	fprintf(out, "%-20s %u\n", "keepalive-seconds", c->keepalive_sec);
	fprintf(out, "%-20s %u\n", "workers", c->workers);
	fprintf(out, "%-20s %s\n", "cipher", c->chacha_only ? "chacha20-poly1305" : "auto");
	if (c->server.enabled && c->server.discover) {
		fprintf(out, "%-20s auto\n", "server");
	} else if (c->server.enabled) {
		char ep[64];

		sockaddr_format(&c->server.addr, ep, sizeof(ep));
		fprintf(out, "%-20s %s\n", "server", ep);
	}
	fprintf(out, "%-20s %s\n", "privacy", c->privacy ? "on" : "off");
	fprintf(out, "%-20s %s\n", "userspace", c->userspace ? "on" : "off");
	if (c->socks.ss_family) {
		char ep[SOCKADDR_STR_MAX];

		sockaddr_format(&c->socks, ep, sizeof(ep));
		fprintf(out, "%-20s %s\n", "socks", ep);
	}
	for (size_t i = 0; i < c->forwards.n; i++) {
		fprintf(out, "%-20s ", "forward");
		forward_print(&c->forwards.f[i], out);
		fputc('\n', out);
	}
	if (c->hooks_dir[0])
		fprintf(out, "%-20s %s\n", "hooks", c->hooks_dir);
	fprintf(out, "%-20s %u\n", "hook-timeout-seconds", c->hook_timeout_sec);
	for (size_t i = 0; i < c->npurposes; i++) {
		/* One space, no padding: never longer than the line it came from (<= 1024). */
		fprintf(out, "purpose ");
		purpose_print(&c->purposes[i], out);
		fputc('\n', out);
	}
	policy_config_print(&c->firewall, out);
	for (size_t i = 0; i < c->npeers; i++)
		config_print_peer(out, &c->peers[i]);
	return ferror(out) ? -EIO : 0;
}

static bool
config_prefix_equal(const struct config_prefix *a, const struct config_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static bool
config_peer_equal(const struct config_peer *a, const struct config_peer *b)
{
	if (strcmp(a->identity, b->identity) != 0 || a->nendpoints != b->nendpoints)
		return false;
	for (size_t i = 0; i < a->nendpoints; i++) {
		if (!sockaddr_equal(&a->endpoints[i], &b->endpoints[i]))
			return false;
	}
	return true;
}

bool
config_equal(const struct config *a, const struct config *b)
{
	if (strcmp(a->identity, b->identity) || strcmp(a->key_path, b->key_path) ||
	    strcmp(a->cert_path, b->cert_path) || strcmp(a->interface, b->interface) ||
	    strcmp(a->state_path, b->state_path) || strcmp(a->control_path, b->control_path) ||
	    strcmp(a->app_path, b->app_path) || strcmp(a->user, b->user) ||
	    strcmp(a->hooks_dir, b->hooks_dir) || a->hook_timeout_sec != b->hook_timeout_sec)
		return false;
	if (a->port != b->port || a->public_tcp != b->public_tcp || a->mtu != b->mtu ||
	    a->rekey_after_sec != b->rekey_after_sec ||
	    a->rekey_after_packets != b->rekey_after_packets ||
	    a->keepalive_sec != b->keepalive_sec || a->workers != b->workers ||
	    a->chacha_only != b->chacha_only || a->ncas != b->ncas || a->npeers != b->npeers ||
	    a->npurposes != b->npurposes || a->privacy != b->privacy ||
	    a->userspace != b->userspace || a->socks.ss_family != b->socks.ss_family ||
	    (a->socks.ss_family && !sockaddr_equal(&a->socks, &b->socks)) ||
	    a->forwards.n != b->forwards.n || !policy_config_equal(&a->firewall, &b->firewall))
		return false;
	for (size_t i = 0; i < a->npurposes; i++) {
		const struct purpose *x = &a->purposes[i], *y = &b->purposes[i];

		if (strcmp(x->name, y->name) || x->proto != y->proto || x->port != y->port ||
		    x->auto_approve != y->auto_approve || x->nallow != y->nallow ||
		    purpose_has_target(x) != purpose_has_target(y) ||
		    (purpose_has_target(x) && !sockaddr_equal(&x->target, &y->target)))
			return false;
		for (size_t k = 0; k < x->nallow; k++)
			if (strcmp(x->allow[k], y->allow[k]))
				return false;
	}
	if (!config_prefix_equal(&a->pool4, &b->pool4) ||
	    !config_prefix_equal(&a->pool6, &b->pool6))
		return false;
	if (a->server.enabled != b->server.enabled || a->server.discover != b->server.discover ||
	    (a->server.enabled && !a->server.discover &&
	     !sockaddr_equal(&a->server.addr, &b->server.addr)))
		return false;
	for (size_t i = 0; i < a->ncas; i++) {
		if (strcmp(a->cas[i].domain, b->cas[i].domain) ||
		    strcmp(a->cas[i].path, b->cas[i].path))
			return false;
	}
	for (size_t i = 0; i < a->npeers; i++) {
		if (!config_peer_equal(&a->peers[i], &b->peers[i]))
			return false;
	}
	for (size_t i = 0; i < a->forwards.n; i++)
		if (!forward_equal(&a->forwards.f[i], &b->forwards.f[i]))
			return false;
	return true;
}
