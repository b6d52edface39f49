// SPDX-License-Identifier: MIT
/*
 * vertexd: the agent. Start-up happens in a fixed order, each step undone in reverse on
 * shutdown (SIGTERM/SIGINT): state store and addresses, identity and trust, kernel state (stale
 * leftovers cleared first), sockets, control socket, privileges dropped to CAP_NET_ADMIN, then
 * the peers. A start-up failure says
 * which step failed and why, and leaves nothing behind.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "domains/domains.h"
#include "proto/ctlmsg.h"
#include "core/addrcount.h"
#include "core/listener.h"
#include "core/pkt.h"
#include "dataplane/dataplane.h"
#include "dataplane/tundev.h"
#include "path/udp.h"
#include "peer/peer.h"
#include "session/session.h"
#include "crypto/aead.h"
#include "crypto/tls.h"
#include "kernel-iface/netlink.h"
#include "kernel-iface/tun.h"
#include "store/store.h"

static const char vertexd_usage[] =
    "Usage: vertexd [-c FILE] [-d CATEGORIES] [-n]\n"
    "\n"
    "Runs the Vertex agent in the foreground: creates the overlay interface, connects to the\n"
    "peers in the configuration and carries their traffic, end-to-end encrypted. Logs go to\n"
    "standard error. SIGTERM or SIGINT shut it down cleanly, removing the interface.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE       configuration file (default /etc/vertex/vertexd.conf)\n"
    "  -d, --debug CATEGORIES  debug logging, comma separated: peer, path, handshake, ctl,\n"
    "                          netlink, data, config, or all\n"
    "  -n, --check             check the configuration, print its normalised form, and exit\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit status: 0 after a clean shutdown or a valid -n check, 1 on a start-up failure,\n"
    "2 on a usage error. The configuration format is described in docs/config.md.\n";

static void
vertexd_on_signal(int signo, void *arg)
{
	struct agent *a = arg;

	log_info("signal %d: shutting down", signo);
	ev_loop_break(a->loop);
}

/* The IPv6 pool: configured, or the random ULA /48 (RFC 4193) chosen at first start. */
static int
vertexd_pool6(struct agent *a, uint8_t base6[16], unsigned *len6)
{
	size_t n;
	int err;

	if (a->cfg.pool6.family) {
		memcpy(base6, a->cfg.pool6.addr, 16);
		*len6 = a->cfg.pool6.len;
		return 0;
	}
	*len6 = 48;
	err = store_meta_get(a->store, "pool6", base6, 16, &n);
	if (!err && n == 16)
		return 0;
	memset(base6, 0, 16);
	base6[0] = 0xfd;
	if (crypto_random(base6 + 1, 5))
		return -EIO;
	return store_meta_set(a->store, "pool6", base6, 16);
}

static int
vertexd_addressing(struct agent *a)
{
	uint8_t base6[16];
	unsigned len6;
	int err;

	err = store_open(&a->store, a->cfg.state_path);
	if (err)
		return err;
	err = vertexd_pool6(a, base6, &len6);
	if (err)
		return err;
	err = pool_init(&a->pool, a->cfg.pool4.addr, a->cfg.pool4.len, base6, len6);
	if (err) {
		log_warnx("overlay pools are unusable (pool4 must be /8../30, pool6 /16../96)");
		return err;
	}
	pool_addr4(&a->pool, POOL_SELF_INDEX, a->own4);
	pool_addr6(&a->pool, POOL_SELF_INDEX, a->own6);
	return 0;
}

static int
vertexd_identity(struct agent *a)
{
	const struct cert_info *own;
	int err = cert_trust_new(&a->trust);

	for (size_t i = 0; !err && i < a->cfg.ncas; i++) {
		err = cert_trust_add(a->trust, a->cfg.cas[i].domain, a->cfg.cas[i].path);
		if (err)
			log_warnx("ca %s %s: not usable as the CA of that domain",
				  a->cfg.cas[i].domain, a->cfg.cas[i].path);
	}
	if (err)
		return err;
	err = tls_ctx_new(&a->tls, a->cfg.key_path, a->cfg.cert_path, a->trust);
	if (err) {
		log_warnx("cannot load key %s and certificate %s", a->cfg.key_path,
			  a->cfg.cert_path);
		return err;
	}
	if (strcmp(tls_ctx_identity(a->tls), a->cfg.identity)) {
		log_warnx("certificate %s names %s, but the configured identity is %s",
			  a->cfg.cert_path, tls_ctx_identity(a->tls), a->cfg.identity);
		return -EINVAL;
	}
	own = tls_ctx_cert(a->tls);
	if (own->not_after < time(NULL))
		log_warnx("our certificate %s has expired: peers will refuse us", a->cfg.cert_path);
	return 0;
}

static int
vertexd_kernel(struct agent *a)
{
	int err, removed, ifindex;

	err = netlink_open(&a->nl);
	if (err)
		return err;
	removed = netlink_cleanup_stale(a->nl, a->cfg.interface);
	if (removed < 0)
		return removed;
	if (removed > 0)
		log_info("removed %s, left over by an earlier run", a->cfg.interface);
	err = tun_open(&a->tun, a->cfg.interface, 0);
	if (err)
		return err;
	ifindex = tun_ifindex(a->tun);
	a->mtu = a->cfg.mtu;
	err = netlink_link_up(a->nl, ifindex, a->mtu);
	if (!err)
		err = netlink_addr_add(a->nl, ifindex, AF_INET, a->own4, 32);
	if (!err)
		err = netlink_addr_add(a->nl, ifindex, AF_INET6, a->own6, 128);
	if (!err)
		err = netlink_route_add(a->nl, ifindex, AF_INET, a->pool.base4, a->pool.len4);
	if (!err)
		err = netlink_route_add(a->nl, ifindex, AF_INET6, a->pool.base6, a->pool.len6);
	return err;
}

/* --- what the modules ask for, wired to who does it ------------------------------------ */

static int
vertexd_dial(void *arg, struct peer *p, const struct sockaddr_storage *to)
{
	return link_dial(arg, p, to);
}

static void
vertexd_send_keepalive(void *arg, struct peer *p)
{
	struct agent *a = arg;

	dataplane_send_keepalive(a->dp, p);
}

static void
vertexd_close_links(void *arg, struct peer *p)
{
	link_close_peer(arg, p);
}

static const struct peer_ops vertexd_peer_ops = {
	.dial = vertexd_dial,
	.send_keepalive = vertexd_send_keepalive,
	.close_links = vertexd_close_links,
};

static void
vertexd_on_udp_frame(void *arg, struct pkt *p, const struct sockaddr_storage *from)
{
	struct agent *a = arg;

	dataplane_on_udp(a->dp, p, from);
}

static void
vertexd_on_udp_drop(void *arg, enum path_udp_drop why, const char *detail)
{
	struct agent *a = arg;

	dataplane_count_drop(a->dp,
			     why == PATH_UDP_DROP_NO_BUFFER ? DATAPLANE_DROP_NO_BUFFER
							    : DATAPLANE_DROP_MALFORMED,
			     detail);
}

static const struct path_udp_ops vertexd_udp_ops = {
	.on_frame = vertexd_on_udp_frame,
	.on_drop = vertexd_on_udp_drop,
};

static bool
vertexd_send_stream(void *arg, struct link *l, const uint8_t *frame, size_t len)
{
	(void)arg;
	return link_send_record(l, RECORD_FRAME, frame, len);
}

static const struct dataplane_ops vertexd_dataplane_ops = {
	.send_stream = vertexd_send_stream,
};

static void
vertexd_on_accept(void *arg, int fd, const struct sockaddr_storage *from)
{
	link_accept(arg, fd, from);
}

static const struct listener_ops vertexd_listener_ops = {
	.on_accept = vertexd_on_accept,
};

/* The before-sleep hook: what a turn queued goes out in one batch. */
static void
vertexd_before_sleep(void *arg)
{
	struct agent *a = arg;

	path_udp_flush(a->udp);
}

static void
vertexd_on_trusted(void *arg, const char *domain)
{
	struct agent *a = arg;

	peer_on_trust(a->peers, domain);
}

static void
vertexd_on_distrusted(void *arg, const char *domain, const char *why)
{
	struct agent *a = arg;

	peer_on_distrust(a->peers, domain, why);
}

static void
vertexd_on_revoked(void *arg, const struct crl *list)
{
	struct agent *a = arg;

	if (a->peers) /* none yet while the kept lists are restored at start */
		peer_on_revocation(a->peers, list);
}

static bool
vertexd_ask_home(void *arg, const char *domain)
{
	return home_ask_notary(arg, domain);
}

struct vertexd_each {
	void (*fn)(void *ctx, const char *identity);
	void *ctx;
};

static void
vertexd_each_session_peer(struct peer *p, void *arg)
{
	struct vertexd_each *e = arg;

	if (p->paths.stream && p->paths.stream->state == LINK_UP)
		e->fn(e->ctx, p->identity);
}

static void
vertexd_foreach_session_peer(void *arg, void (*fn)(void *ctx, const char *identity), void *ctx)
{
	struct agent *a = arg;
	struct vertexd_each e = { fn, ctx };

	peer_foreach(a->peers, vertexd_each_session_peer, &e);
}

/* A control message on a peer link (NOTARY_REQ and NOTARY are small: 512 bytes hold them). */
static bool
vertexd_send_ctlmsg(struct link *l, const struct ctlmsg *m)
{
	uint8_t body[512];
	int n = ctlmsg_encode(m, body, sizeof(body));

	return n >= 0 && link_send_record(l, m->type, body, (size_t)n);
}

static bool
vertexd_ask_peer(void *arg, const char *identity, const struct ctlmsg *req)
{
	struct agent *a = arg;
	struct peer *p = peer_find(a->peers, identity);

	return p && p->paths.stream && vertexd_send_ctlmsg(p->paths.stream, req);
}

static const struct domains_ops vertexd_domains_ops = {
	.on_trusted = vertexd_on_trusted,
	.on_distrusted = vertexd_on_distrusted,
	.on_revoked = vertexd_on_revoked,
	.ask_home = vertexd_ask_home,
	.foreach_session_peer = vertexd_foreach_session_peer,
	.ask_peer = vertexd_ask_peer,
};

/*
 * A peer asks what we see for a domain, or answers our question: answers go to the round,
 * questions are answered from what we trust, at the peer's rate (DOMAINS_PEER_QUESTION_*).
 */
void
agent_on_peer_notary(struct link *l, uint16_t type, const uint8_t *body, size_t len)
{
	struct agent *a = l->agent;
	struct ctlmsg m, answer;

	if (!ctlmsg_decode(type, body, len, &m)) {
		peer_count_drop(l->peer, PEER_DROP_MALFORMED,
				"malformed notary message on the link");
		return;
	}
	if (type == CTL_NOTARY) {
		domains_on_notary_answer(a->domains, l->peer->identity, &m);
		return;
	}
	if (!ratelimit_bucket_take(&l->peer->notary_rl, ev_now_ms(a->loop))) {
		peer_count_drop(l->peer, PEER_DROP_RATE_LIMITED, "notary question over the rate");
		return;
	}
	domains_notary_view(a->domains, m.u.req.domain, &answer);
	log_debug(LOG_HANDSHAKE, "peer %s asks what we see for %s: %s", l->peer->identity,
		  m.u.req.domain, answer.u.notary.status == CTL_NOTARY_KNOWN ? "known" : "unknown");
	vertexd_send_ctlmsg(l, &answer);
}

static void
vertexd_track_domain(struct peer *p, void *arg)
{
	struct agent *a = arg;

	if (domains_track(a->domains, identity_domain_of(p->identity)))
		log_warnx("peer %s: cannot track its domain: out of memory", p->identity);
}

/* Other domains, and the lists of every domain we trust (domains.h). */
static int
vertexd_domains(struct agent *a)
{
	struct domains_params params = {
		.loop = a->loop,
		.store = a->store,
		.trust = a->trust,
		.tls = a->tls,
		.identity = a->cfg.identity,
		.key_path = a->cfg.key_path,
		.cert_path = a->cfg.cert_path,
		.has_home = a->cfg.server.enabled,
	};

	for (size_t i = 0; i < a->cfg.ncas && i < DOMAINS_CONFIGURED_MAX; i++)
		params.configured[params.nconfigured++] = a->cfg.cas[i].domain;
	return domains_new(&a->domains, &params, &vertexd_domains_ops, a);
}

/* --- start and stop --------------------------------------------------------------------- */

/* The configured peers, each at its stable overlay index (store/store.h). */
static int
vertexd_peers(struct agent *a)
{
	struct peer_params params = {
		.self = a->cfg.identity,
		.keepalive_sec = a->cfg.keepalive_sec,
		.rekey_after_sec = a->cfg.rekey_after_sec,
		.rekey_after_packets = a->cfg.rekey_after_packets,
		.notary_rate = DOMAINS_PEER_QUESTION_RATE,
		.notary_burst = DOMAINS_PEER_QUESTION_BURST,
	};
	int err = peer_table_new(&a->peers, a->loop, a->index, &params, &vertexd_peer_ops, a);

	for (size_t i = 0; !err && i < a->cfg.npeers; i++) {
		const struct config_peer *cp = &a->cfg.peers[i];
		struct xlate_map map = { 0 };
		struct peer *p;
		uint32_t index;

		if ((err = store_peer_index(a->store, cp->identity, POOL_FIRST_PEER_INDEX, &index)))
			break;
		if (index > a->pool.max_index) {
			log_warnx("peer %s: overlay pool is full (index %u)", cp->identity, index);
			return -ENOSPC;
		}
		pool_addr4(&a->pool, index, map.peer_view4);
		pool_addr6(&a->pool, index, map.peer_view6);
		memcpy(map.own4, a->own4, 4);
		memcpy(map.own6, a->own6, 16);
		err = peer_add(a->peers, cp->identity, index, &map, cp->endpoints, cp->nendpoints,
			       &p);
	}
	return err;
}

/* The underlay: the UDP path's socket and the peer port's TCP listener. */
static int
vertexd_underlay(struct agent *a)
{
	int fd, err;

	a->underlay_family = path_underlay_family();
	if ((err = path_udp_open(&a->udp, a->loop, a->pkts, a->underlay_family, a->cfg.port,
				 &vertexd_udp_ops, a)))
		return err;
	if ((err = addrcount_new(&a->inbound, AGENT_MAX_LINKS)))
		return err;
	fd = path_socket_bind(a->underlay_family, SOCK_STREAM, a->cfg.port);
	if (fd < 0) {
		errno = -fd;
		log_warn("tcp port %u", a->cfg.port);
		return fd;
	}
	err = listener_new(&a->tcp, a->loop, fd, 64, AGENT_ACCEPT_PER_TURN, AGENT_ACCEPT_PAUSE_MS,
			   &vertexd_listener_ops, a);
	if (err) {
		errno = -err;
		log_warn("listen on tcp port %u", a->cfg.port);
	}
	return err;
}

static int
vertexd_dataplane(struct agent *a)
{
	struct pktdev dev;
	int err;

	tundev_pktdev(a->tun, &dev);
	if ((err = dataplane_new(&a->dp, a->loop, a->pkts, &a->pool, a->index, a->peers, a->udp,
				 &dev, &vertexd_dataplane_ops, a)) ||
	    (err = tundev_new(&a->tundev, a->loop, a->tun, a->pkts, a->dp, a->udp)))
		return err;
	ev_set_before_sleep(a->loop, vertexd_before_sleep, a);
	return 0;
}

static void
vertexd_need_session(struct peer *p, void *arg)
{
	(void)arg;
	peer_need_session(p);
}

static int
vertexd_start(struct agent *a)
{
	int err;

	if ((err = ev_loop_new(&a->loop)) || (err = vertexd_addressing(a)) ||
	    (err = vertexd_identity(a)) || (err = pkt_pool_new(&a->pkts, AGENT_PKT_POOL)) ||
	    (err = session_index_new(&a->index)) || (err = vertexd_peers(a)) ||
	    (err = vertexd_domains(a)))
		return err;
	if ((err = vertexd_kernel(a)) || (err = vertexd_underlay(a)) ||
	    (err = vertexd_dataplane(a)) || (err = ctl_open(a)))
		return err;
	if ((err = ev_signal_add(a->loop, SIGTERM, vertexd_on_signal, a)) ||
	    (err = ev_signal_add(a->loop, SIGINT, vertexd_on_signal, a)))
		return err;
	if ((err = privs_drop(&a->cfg))) {
		log_warnx("cannot drop privileges: %s", strerror(-err));
		return err;
	}
	peer_foreach(a->peers, vertexd_need_session, NULL);
	if ((err = home_start(a)))
		return err;
	peer_foreach(a->peers, vertexd_track_domain, a);
	return 0;
}

static void
vertexd_stop(struct agent *a)
{
	if (a->loop) {
		domains_free(a->domains);
		home_stop(a);
		link_close_all(a, true);
		ctl_close(a);
		listener_free(a->tcp);
		addrcount_free(a->inbound);
		tundev_free(a->tundev);
		path_udp_close(a->udp); /* after the last sends: it flushes */
		dataplane_free(a->dp);
		peer_table_free(a->peers);
	}
	if (a->nl && a->tun)
		netlink_routes_flush(a->nl, tun_ifindex(a->tun));
	tun_close(a->tun);
	netlink_close(a->nl);
	tls_ctx_free(a->tls);
	cert_trust_free(a->trust);
	session_index_free(a->index);
	pkt_pool_free(a->pkts);
	store_close(a->store);
	ev_loop_free(a->loop);
	config_free(&a->cfg);
}

static int
vertexd_load_config(struct agent *a, const char *path, bool check_only)
{
	char err[512];

	if (config_parse_file(path, &a->cfg, err, sizeof(err)) ||
	    config_validate(&a->cfg, err, sizeof(err))) {
		fprintf(stderr, "vertexd: %s\n", err);
		return -EINVAL;
	}
	if (check_only)
		config_print(&a->cfg, stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", required_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = "/etc/vertex/vertexd.conf";
	static struct agent agent;
	bool check_only = false;
	int c, err;

	log_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:d:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			if (log_set_debug(optarg)) {
				fprintf(stderr, "vertexd: unknown debug category in '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			check_only = true;
			break;
		case 'h':
			fputs(vertexd_usage, stdout);
			return 0;
		default:
			fputs(vertexd_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vertexd: unexpected argument '%s'\n%s", argv[optind],
			vertexd_usage);
		return 2;
	}
	if (vertexd_load_config(&agent, config_path, check_only))
		return 1;
	if (check_only) {
		config_free(&agent.cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	err = vertexd_start(&agent);
	if (err) {
		log_warnx("start-up failed: %s", strerror(-err));
		vertexd_stop(&agent);
		return 1;
	}
	log_info("%s up on %s (mtu %u), port %u, %zu peer(s)", agent.cfg.identity,
		 agent.cfg.interface, agent.mtu, agent.cfg.port, peer_count(agent.peers));
	err = ev_run(agent.loop);
	if (err)
		log_warnx("event loop failed: %s", strerror(-err));
	vertexd_stop(&agent);
	log_info("stopped; interface %s and its routes removed", agent.cfg.interface);
	return err ? 1 : 0;
}
