// SPDX-License-Identifier: MIT
/*
 * The control socket's verbs (ctl_verbs.h): a request line is split into words, matched
 * against the table of verbs (with its argument count and whether only root may use it), and
 * answered with facts gathered from the agent. The CLI owns presentation (text or --json); the
 * daemon only gathers data (STYLE §23). Arguments are checked (identity grammar,
 * cert_fpr_parse) before anything is looked up or changed.
 */
#include "agent/ctl_verbs.h"
#include "agent/wiring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/ctl_policy.h"
#include "agent/ctl_proxy.h"
#include "agent/ctl_rdv.h"
#include "core/log.h"
#include "core/ev.h"
#include "core/sockaddr.h"
#include "crypto/aead.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "dataplane/dataplane.h"
#include "dataplane/tundev.h"
#include "relay/relay.h"
#include "session/session.h"
#include "domains/domains.h"
#include "home/home.h"
#include "link/link.h"
#include "path/path.h"
#include "peer/peer.h"
#include "store/store.h"
#include "trust/pins.h"

enum {
	CTL_MAX_WORDS = 8, /* more than any verb takes, so a surplus is reported as such */
	CTL_FPR_STR_MAX = 64,
};
_Static_assert(CTL_MAX_WORDS >= 2 + CTL_ARGS_MAX, "a request of the longest verb fits");

static void
ctl_fmt_addr(int family, const void *addr, char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static void
ctl_count_up(struct peer *p, void *arg)
{
	*(size_t *)arg += p->state == PEER_UP;
}

static void
ctl_status(struct agent *a, FILE *f)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	size_t up = 0;

	peer_foreach(a->peers, ctl_count_up, &up);
	ctl_fmt_addr(AF_INET, a->own4, a4, sizeof(a4));
	ctl_fmt_addr(AF_INET6, a->own6, a6, sizeof(a6));
	fprintf(f, "identity %s\n", a->cfg.identity);
	wiring_userspace_facts(a, f); /* mode tun|userspace, and userspace's counters */
	fprintf(f, "interface %s\nmtu %u\noverlay4 %s\noverlay6 %s\nport %u\n",
		a->us ? "(none)" : a->cfg.interface, a->mtu, a4, a6, a->cfg.port);
	fprintf(f, "peers %zu\npeers_up %zu\n", peer_count(a->peers), up);
	for (int d = 0; d < DATAPLANE_DROP_COUNT; d++)
		fprintf(f, "drop.%s %llu\n", dataplane_drop_name(d),
			(unsigned long long)dataplane_drops(a->dp, d));
	fprintf(f, "drop.link_refused %llu\n", (unsigned long long)links_refused(a->links));
	tundev_status(a->tundev, f);
	dataplane_status(a->dp, f);
	fprintf(f, "cert_not_after %lld\n", (long long)tls_ctx_cert(a->tls)->not_after);
	if (a->home)
		home_status(a->home, f);
	wiring_app_facts(a, f);
	wiring_proxy_facts(a, f);
}

struct ctl_peer_ctx {
	struct agent *a;
	FILE *f;
};

/* One UDP endpoint as `udp_endpoint ADDRESS STATE rtt R ms loss L %` (R "?" if untimed). */
static void
ctl_udp_endpoint(FILE *f, const struct sockaddr_storage *addr, const char *state, uint32_t rtt_n,
		 uint32_t srtt8, uint16_t loss_pm)
{
	char ep[SOCKADDR_STR_MAX], rtt[16];

	sockaddr_show(addr, ep, sizeof(ep));
	path_rtt_show(srtt8, rtt, sizeof(rtt));
	fprintf(f, "udp_endpoint %s %s rtt %s ms loss %u.%u %%\n", ep, state, rtt_n ? rtt : "?",
		loss_pm / 10, loss_pm % 10);
}

/*
 * The peer's UDP endpoints (path/path.h): the current one first, `in-use` while frames take it
 * (else `current`, and `failed` once it stopped answering), then each alternate: `validated`
 * (answers our probes), `lost` (stopped answering), `unproven` (never answered).
 */
static void
ctl_udp_endpoints(const struct peer *p, enum path_kind k, FILE *f)
{
	const struct path_set *s = &p->paths;
	uint64_t now = ev_now_ms(peer_loop(p)), dead = peer_dead_after_ms(p);

	if (!s->endpoint.ss_family)
		return;
	ctl_udp_endpoint(f, &s->endpoint,
			 s->failed_ms                           ? "failed"
			 : k == PATH_UDP && p->state == PEER_UP ? "in-use"
								: "current",
			 s->rtt_n, s->srtt8, s->loss_pm);
	for (size_t i = 0; i < PATH_ALT_MAX; i++) {
		const struct path_alt *a = &s->alt[i];

		if (!a->addr.ss_family)
			continue;
		ctl_udp_endpoint(f, &a->addr,
				 path_set_alt_alive(s, &a->addr, now, dead) ? "validated"
				 : a->validated_ms                          ? "lost"
									    : "unproven",
				 a->rtt_n, a->srtt8, a->loss_pm);
	}
	fprintf(f, "udp_switches %llu\nudp_alt_failovers %llu\n", (unsigned long long)s->switches,
		(unsigned long long)s->alt_failovers);
}

static void
ctl_peer(struct peer *p, void *arg)
{
	struct ctl_peer_ctx *c = arg;
	FILE *f = c->f;
	bool udp_alive =
	    path_set_udp_is_alive(&p->paths, ev_now_ms(peer_loop(p)), peer_dead_after_ms(p));
	enum path_kind k = path_choose(&p->paths, ev_now_ms(peer_loop(p)), peer_dead_after_ms(p));
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN], ep[64];
	const struct peer_stats *s = &p->stats;

	ctl_fmt_addr(AF_INET, p->map.peer_view4, a4, sizeof(a4));
	ctl_fmt_addr(AF_INET6, p->map.peer_view6, a6, sizeof(a6));
	sockaddr_show(&p->paths.endpoint, ep, sizeof(ep));
	fprintf(f, "peer %s\noverlay4 %s\noverlay6 %s\nendpoint %s\nstate %s\n", p->identity, a4,
		a6, ep, peer_state_name(p->state));
	fprintf(f, "path %s\n",
		p->state != PEER_UP ? "none"
		: udp_alive         ? "udp"
		: k == PATH_RELAY   ? "relay"
		: p->paths.stream   ? "tcp"
				    : "udp");
	if (p->state == PEER_UP && k == PATH_RELAY) {
		const char *ours = identity_domain_of(c->a->cfg.identity);
		const char *theirs = identity_domain_of(p->identity);

		fprintf(f, "via %s%s%s\n", ours, strcmp(ours, theirs) ? " " : "",
			strcmp(ours, theirs) ? theirs : "");
		/* How our frames reach our server (relay.h): datagrams, or the TLS connection. */
		fprintf(f, "relay_transport %s\n",
			c->a->relay && relay_udp_works(c->a->relay) ? "udp" : "tls");
	}
	/* Where the session's TLS link goes (the TCP path's endpoint), dialed or accepted. */
	if (p->paths.stream && link_remote(p->paths.stream)->ss_family) {
		sockaddr_show(link_remote(p->paths.stream), ep, sizeof(ep));
		fprintf(f, "tcp_endpoint %s\n", ep);
	}
	fprintf(f, "rx_path %s\n", p->state == PEER_UP ? path_kind_name(p->paths.last_rx) : "none");
	fprintf(f,
		"udp_rtt_ms %u\nudp_rtt_last_ms %u\nudp_probes %llu\nudp_probes_answered %llu\n"
		"udp_failed %s\nudp_failovers %llu\n",
		p->paths.srtt_ms, p->paths.rtt_ms, (unsigned long long)p->paths.probes_sent,
		(unsigned long long)p->paths.probes_answered, p->paths.failed_ms ? "yes" : "no",
		(unsigned long long)p->paths.failovers);
	ctl_udp_endpoints(p, k, f);
	ctl_rdv_peer_facts(c->a, p, f);
	ctl_direct_peer_facts(c->a, p, f);
	fprintf(f, "last_handshake %lld\nhandshakes %llu\n", (long long)p->last_handshake,
		(unsigned long long)p->handshakes);
	/* The AEAD of the frames we seal now (session.h); "none" without a session. */
	fprintf(f, "cipher %s\n",
		p->current ? aead_cipher_name(session_send_cipher(p->current)) : "none");
	fprintf(f, "rx_bytes %llu\ntx_bytes %llu\nrx_packets %llu\ntx_packets %llu\n",
		(unsigned long long)s->rx_bytes, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->rx_packets, (unsigned long long)s->tx_packets);
	for (int d = 0; d < PEER_DROP_COUNT; d++)
		fprintf(f, "drop.%s %llu\n", peer_drop_name(d), (unsigned long long)s->drops[d]);
}

static void
ctl_peers(struct agent *a, FILE *f)
{
	struct ctl_peer_ctx c = { a, f };

	peer_foreach(a->peers, ctl_peer, &c);
}

/* --- trust: the pins of other domains' CAs (trust/pins.h) --- */

static int
ctl_pin_print(const struct pin *p, void *arg)
{
	char fpr[CTL_FPR_STR_MAX];

	cert_fpr_format(p->fpr, fpr, sizeof(fpr));
	fprintf(arg, "pin %s\nfingerprint %s\nfirst_seen %lld\nhow %s\n", p->domain, fpr,
		(long long)p->first_seen, p->how);
	return 0;
}

/*
 * domains_status() describes every tracked domain; for one domain only the block that starts
 * with "domain DOMAIN" (up to the next "domain " line) is kept.
 */
static void
ctl_foreign_status(struct agent *a, const char *domain, FILE *f)
{
	char *buf = NULL, *line, *nl;
	size_t len = 0, dlen = domain ? strlen(domain) : 0;
	FILE *m = open_memstream(&buf, &len);
	bool keep = !domain;

	if (!m)
		return;
	domains_status(a->domains, m);
	if (fclose(m)) {
		free(buf);
		return;
	}
	for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
		if (domain && !strncmp(line, "domain ", 7))
			keep = (size_t)(nl - line) == 7 + dlen && !strncmp(line + 7, domain, dlen);
		if (keep)
			fwrite(line, 1, (size_t)(nl - line) + 1, f);
	}
	free(buf);
}

/* Checks and lower-cases a domain argument into out; false with the error written to f. */
static bool
ctl_arg_domain(const char *arg, char out[IDENTITY_DOMAIN_MAX + 1], FILE *f)
{
	const char *why;

	/* The argument is not echoed: it may hold bytes a terminal would interpret. */
	if (identity_domain_canon(arg, out, &why))
		return true;
	fprintf(f, "error invalid domain: %s\n", why);
	return false;
}

static void
ctl_trust_list(struct agent *a, char **arg, FILE *f)
{
	(void)arg;
	if (store_pin_each(a->store, ctl_pin_print, f)) {
		fputs("error cannot read the pins from the state store\n", f);
		return;
	}
	ctl_foreign_status(a, NULL, f);
}

static void
ctl_trust_show(struct agent *a, char **arg, FILE *f)
{
	char domain[IDENTITY_DOMAIN_MAX + 1];
	struct pin p;
	int err;

	if (!ctl_arg_domain(arg[0], domain, f))
		return;
	err = store_pin_get(a->store, domain, &p);
	if (err == -ENOENT) {
		fprintf(f, "error no pin for %s\n", domain);
		return;
	}
	if (err) {
		fprintf(f, "error cannot read the pin for %s: %s\n", domain, strerror(-err));
		return;
	}
	ctl_pin_print(&p, f);
	ctl_foreign_status(a, domain, f);
}

/*
 * The CA this agent trusts for a domain right now, however it came to (its own domain's, a ca
 * line, a pin): what `vertex register` cross-checks a CA it is offered against ("ca none" if
 * none). Any local user may ask: a CA is public.
 */
static void
ctl_trust_ca(struct agent *a, char **arg, FILE *f)
{
	char domain[IDENTITY_DOMAIN_MAX + 1], fpr[CTL_FPR_STR_MAX];
	const uint8_t *der;
	struct cert_info ci;
	size_t len = 0;

	if (!ctl_arg_domain(arg[0], domain, f))
		return;
	fprintf(f, "domain %s\n", domain);
	der = cert_trust_anchor_der(a->trust, domain, &len);
	if (!der || cert_info_from_der(der, len, &ci)) {
		fputs("ca none\n", f);
		return;
	}
	cert_fpr_format(ci.fpr, fpr, sizeof(fpr));
	fprintf(f, "ca %s\n", fpr);
}

/* After a pin changes, the domains module decides again; -ENOENT (no peer there) is fine. */
static void
ctl_trust_reevaluate(struct agent *a, const char *domain)
{
	int err = domains_reevaluate(a->domains, domain);

	if (err && err != -ENOENT)
		log_warnx("trust: re-evaluating %s after a pin change: %s", domain, strerror(-err));
}

static void
ctl_trust_forget(struct agent *a, char **arg, FILE *f)
{
	char domain[IDENTITY_DOMAIN_MAX + 1];
	int err;

	if (!ctl_arg_domain(arg[0], domain, f))
		return;
	err = store_pin_delete(a->store, domain);
	if (err == -ENOENT) {
		fprintf(f, "error no pin for %s\n", domain);
		return;
	}
	if (err) {
		fprintf(f, "error cannot delete the pin for %s: %s\n", domain, strerror(-err));
		return;
	}
	log_info("trust: the user forgot the pin of %s", domain);
	ctl_trust_reevaluate(a, domain);
	fprintf(f, "forgot %s\n", domain);
}

static void
ctl_trust_pin(struct agent *a, char **arg, FILE *f)
{
	struct pin p = { .first_seen = time(NULL) };
	char fpr[CTL_FPR_STR_MAX];
	int err;

	if (!ctl_arg_domain(arg[0], p.domain, f))
		return;
	if (cert_fpr_parse(arg[1], p.fpr)) {
		fputs("error invalid fingerprint: expected SHA256: and 43 base64 characters, as "
		      "vertex cert show prints it\n",
		      f);
		return;
	}
	snprintf(p.how, sizeof(p.how), "pinned by the user");
	err = store_pin_put(a->store, &p);
	if (err) {
		fprintf(f, "error cannot store the pin for %s: %s\n", p.domain, strerror(-err));
		return;
	}
	cert_fpr_format(p.fpr, fpr, sizeof(fpr));
	log_info("trust: the user pinned %s to %s", p.domain, fpr);
	ctl_trust_reevaluate(a, p.domain);
	fprintf(f, "pinned %s\n", p.domain);
}

struct ctl_verb {
	const char *word[2];                              /* the verb: one or two words */
	size_t nargs;                                     /* arguments after the verb */
	bool root_only;                                   /* changes trust: root alone */
	void (*fn)(struct agent *a, char **arg, FILE *f); /* facts, or one error line */
};

static void
ctl_status_verb(struct agent *a, char **arg, FILE *f)
{
	(void)arg;
	ctl_status(a, f);
}

/* echo IDENTITY: an ICMP echo request from lwIP to the peer (userspace mode): "seq N". */
static void
ctl_echo_verb(struct agent *a, char **arg, FILE *f)
{
	struct identity id;
	char name[IDENTITY_STR_MAX];
	const char *why = "?";
	struct peer *p;
	uint16_t seq;
	int err;

	if (identity_parse(arg[0], IDENTITY_PURPOSE_FORBIDDEN, &id, &why) ||
	    identity_format(&id, name, sizeof(name))) {
		fprintf(f, "error %s\n", why);
		return;
	}
	if (!(p = peer_find(a->peers, name))) {
		fprintf(f, "error %s is not a peer of this agent\n", name);
		return;
	}
	if ((err = wiring_userspace_echo(a, p, &seq))) {
		fprintf(f, "error %s\n",
			err == -EOPNOTSUPP
			    ? "TUN mode: ping the peer's address through the interface"
			    : strerror(-err));
		return;
	}
	fprintf(f, "seq %u\n", seq);
}

/* echo-reply SEQ: "rtt_us N" once the reply came, "rtt_us pending" before. */
static void
ctl_echo_reply_verb(struct agent *a, char **arg, FILE *f)
{
	char *end;
	unsigned long seq = strtoul(arg[0], &end, 10);
	uint64_t rtt;
	int err;

	if (*end || !*arg[0] || seq < 1 || seq > 65535) {
		fprintf(f, "error %s is not a sequence number\n", arg[0]);
		return;
	}
	err = wiring_userspace_echo_rtt(a, (uint16_t)seq, &rtt);
	if (err == -EAGAIN)
		fprintf(f, "rtt_us pending\n");
	else if (!err)
		fprintf(f, "rtt_us %llu\n", (unsigned long long)rtt);
	else
		fprintf(f, "error no echo request %lu\n", seq);
}

static void
ctl_peers_verb(struct agent *a, char **arg, FILE *f)
{
	(void)arg;
	ctl_peers(a, f);
}

static const struct ctl_verb ctl_verbs[] = {
	{ { "status", NULL }, 0, false, ctl_status_verb },
	{ { "peers", NULL }, 0, false, ctl_peers_verb },
	{ { "trust", "list" }, 0, false, ctl_trust_list },
	{ { "trust", "show" }, 1, false, ctl_trust_show },
	{ { "trust", "ca" }, 1, false, ctl_trust_ca },
	{ { "trust", "forget" }, 1, true, ctl_trust_forget },
	{ { "trust", "pin" }, 2, true, ctl_trust_pin },
	{ { "connect", NULL }, 3, false, ctl_rdv_connect },
	{ { "request", NULL }, 2, false, ctl_rdv_request },
	{ { "requests", NULL }, 0, false, ctl_rdv_requests },
	{ { "approve", NULL }, 2, false, ctl_rdv_approve },
	{ { "deny", NULL }, 2, false, ctl_rdv_deny },
	{ { "revoke", NULL }, 2, false, ctl_rdv_revoke },
	{ { "resolve", NULL }, 2, false, ctl_rdv_resolve },
	{ { "netcheck", NULL }, 0, false, ctl_direct_netcheck },
	{ { "firewall", NULL }, 0, false, ctl_policy_firewall },
	{ { "forward", NULL }, 2, false, ctl_proxy_forward },
	{ { "unforward", NULL }, 1, false, ctl_proxy_unforward },
	{ { "forwards", NULL }, 0, false, ctl_proxy_forwards },
	{ { "echo", NULL }, 1, false, ctl_echo_verb },
	{ { "echo-reply", NULL }, 1, false, ctl_echo_reply_verb },
};

/* Splits line in place at single spaces; -1 for an empty word (leading, trailing, double). */
static int
ctl_split(char *line, char **word, size_t max)
{
	size_t n = 0;

	for (char *w = line;; w++) {
		char *sp = strchr(w, ' ');

		if (n == max)
			return -1;
		word[n++] = w;
		if (sp)
			*sp = '\0';
		if (!*w)
			return -1;
		if (!sp)
			return (int)n;
		w = sp;
	}
}

static const struct ctl_verb *
ctl_verb_find(char **word, size_t n, FILE *f)
{
	for (size_t i = 0; i < sizeof(ctl_verbs) / sizeof(ctl_verbs[0]); i++) {
		const struct ctl_verb *v = &ctl_verbs[i];
		size_t nw = v->word[1] ? 2 : 1;

		if (strcmp(word[0], v->word[0]) ||
		    (nw == 2 && (n < 2 || strcmp(word[1], v->word[1]))))
			continue;
		if (n - nw != v->nargs) {
			fprintf(f, "error %s%s%s takes %zu argument%s\n", v->word[0],
				nw == 2 ? " " : "", nw == 2 ? v->word[1] : "", v->nargs,
				v->nargs == 1 ? "" : "s");
			return NULL;
		}
		return v;
	}
	fputs("error unknown request (expected status, peers, trust list|show|ca|forget|pin, "
	      "connect, request, requests, approve, deny, revoke, resolve, netcheck or firewall)\n",
	      f);
	return NULL;
}

int
ctl_request_parse(char *line, uid_t uid, struct ctl_request *req, FILE *err)
{
	char *word[CTL_MAX_WORDS];
	const struct ctl_verb *v;
	int n = ctl_split(line, word, CTL_MAX_WORDS);
	size_t nw;

	if (n < 0) {
		fputs("error malformed request (words separated by single spaces)\n", err);
		return -1;
	}
	v = ctl_verb_find(word, (size_t)n, err);
	if (!v)
		return -1;
	if (v->root_only && uid != 0) {
		fputs("error permission denied: only root may change pins\n", err);
		return -1;
	}
	nw = v->word[1] ? 2 : 1;
	req->verb = v;
	req->nargs = v->nargs;
	req->root_only = v->root_only;
	for (size_t i = 0; i < v->nargs && i < CTL_ARGS_MAX; i++)
		req->arg[i] = word[nw + i];
	return 0;
}

char *
ctl_respond(struct agent *a, uid_t uid, char *line, size_t *len)
{
	struct ctl_request req;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	if (ctl_request_parse(line, uid, &req, f) == 0) {
		req.verb->fn(a, req.arg, f);
		fflush(f);
		if (strncmp(buf, "error ", 6))
			fputs("end\n", f);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
