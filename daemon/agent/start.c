// SPDX-License-Identifier: MIT
/*
 * Start-up and shutdown of the agent (agent.h), in a fixed order, each step undone in reverse
 * on shutdown: state store and addresses, identity and trust, the peers and the other domains,
 * kernel state (stale leftovers cleared first), sockets and the data plane, control socket,
 * privileges dropped to CAP_NET_ADMIN, then the sessions and the home channel. In userspace
 * mode (docs/userspace.md) there is no kernel state: lwIP is the packet device, the policy is
 * applied in the daemon, and no capability is kept. A start-up
 * failure says which step failed and why, and agent_stop leaves nothing behind.
 *
 * Who owns what: every handle in struct agent is created here and freed here, by agent_stop;
 * the modules own everything inside their handles (timers, sockets, buffers).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "crypto/aead.h"
#include "crypto/cert.h"
#include "crypto/tls.h"
#include "dataplane/crypto_pool.h"
#include "dataplane/tundev.h"
#include "kernel-iface/netlink.h"
#include "kernel-iface/tun.h"
#include "link/link.h"
#include "relay/relay.h"
#include "rendezvous/rendezvous.h"
#include "session/session.h"
#include "store/store.h"
#include "trust/identity.h"

static void
agent_on_signal(int signo, void *arg)
{
	struct agent *a = arg;

	log_info("signal %d: shutting down", signo);
	ev_loop_break(a->loop);
}

/* The IPv6 pool: configured, or the random ULA /48 (RFC 4193) chosen at first start. */
static int
agent_pool6(struct agent *a, uint8_t base6[16], unsigned *len6)
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
agent_addressing(struct agent *a)
{
	uint8_t base6[16];
	unsigned len6;
	int err;

	err = store_open(&a->store, a->cfg.state_path);
	if (err)
		return err;
	err = agent_pool6(a, base6, &len6);
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
agent_identity(struct agent *a)
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

/* TUN offloads are on unless VERTEX_TUN_OFFLOAD=0 (docs/performance.md). */
static unsigned
agent_tun_flags(void)
{
	const char *v = getenv("VERTEX_TUN_OFFLOAD");

	return v && !strcmp(v, "0") ? 0 : TUN_OFFLOAD;
}

/*
 * AEAD worker threads: the config's `workers`, or VERTEX_WORKERS=N in the environment (tests
 * and benchmarks; docs/performance.md). None in userspace mode: lwIP sends from inside the
 * delivery of a received batch, and the pool does not take a send from there yet (frames
 * failed authentication in userspace.sh with two workers).
 */
static unsigned
agent_workers(const struct agent *a)
{
	const char *v = getenv("VERTEX_WORKERS");
	char *end;
	unsigned long n;

	if (a->cfg.userspace)
		return 0;
	if (!v || !*v)
		return a->cfg.workers;
	n = strtoul(v, &end, 10);
	if (*end || n > CONFIG_MAX_WORKERS) {
		log_warnx("VERTEX_WORKERS=%s is not 0..%d: using %u", v, CONFIG_MAX_WORKERS,
			  a->cfg.workers);
		return a->cfg.workers;
	}
	return (unsigned)n;
}

static int
agent_kernel(struct agent *a)
{
	int err, removed, ifindex;

	a->mtu = a->cfg.mtu;
	if (a->cfg.userspace)
		return 0; /* no interface, no routes: lwIP holds our addresses */
	err = netlink_open(&a->nl);
	if (err)
		return err;
	removed = netlink_cleanup_stale(a->nl, a->cfg.interface);
	if (removed < 0)
		return removed;
	if (removed > 0)
		log_info("removed %s, left over by an earlier run", a->cfg.interface);
	err = tun_open(&a->tun, a->cfg.interface, agent_tun_flags());
	if (err)
		return err;
	if (tun_has_vnet_hdr(a->tun))
		log_info("%s: TUN offloads on (TUNSETOFFLOAD %#x)", a->cfg.interface,
			 tun_offloads(a->tun));
	else
		log_info("%s: TUN offloads off (VERTEX_TUN_OFFLOAD=0)", a->cfg.interface);
	ifindex = tun_ifindex(a->tun);
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

static void
agent_track_domain(struct peer *p, void *arg)
{
	struct agent *a = arg;

	if (domains_track(a->domains, identity_domain_of(p->identity)))
		log_warnx("peer %s: cannot track its domain: out of memory", p->identity);
}

/* Other domains, and the lists of every domain we trust (domains.h). */
static int
agent_domains(struct agent *a)
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
	return domains_new(&a->domains, &params, &wiring_domains_ops, a);
}

int
agent_add_peer(struct agent *a, const char *identity, const struct sockaddr_storage *endpoints,
	       size_t n, struct peer **out)
{
	struct xlate_map map = { 0 };
	uint32_t index;
	int err;

	if ((err = store_peer_index(a->store, identity, POOL_FIRST_PEER_INDEX, &index)))
		return err;
	if (index > a->pool.max_index) {
		log_warnx("peer %s: overlay pool is full (index %u)", identity, index);
		return -ENOSPC;
	}
	pool_addr4(&a->pool, index, map.peer_view4);
	pool_addr6(&a->pool, index, map.peer_view6);
	memcpy(map.own4, a->own4, 4);
	memcpy(map.own6, a->own6, 16);
	return peer_add(a->peers, identity, index, &map, endpoints, n, out);
}

/* The configured peers, each at its stable overlay index (store/store.h). */
static int
agent_peers(struct agent *a)
{
	struct peer_params params = {
		.self = a->cfg.identity,
		.keepalive_sec = a->cfg.keepalive_sec,
		.rekey_after_sec = a->cfg.rekey_after_sec,
		.rekey_after_packets = a->cfg.rekey_after_packets,
		.notary_rate = DOMAINS_PEER_QUESTION_RATE,
		.notary_burst = DOMAINS_PEER_QUESTION_BURST,
	};
	int err = peer_table_new(&a->peers, a->loop, a->index, &params, &wiring_peer_ops, a);

	for (size_t i = 0; !err && i < a->cfg.npeers; i++) {
		const struct config_peer *cp = &a->cfg.peers[i];
		struct peer *p;

		err = agent_add_peer(a, cp->identity, cp->endpoints, cp->nendpoints, &p);
	}
	return err;
}

/*
 * Offer AES-256-GCM to peers? Where the CPU has it (then about twice ChaCha20-Poly1305's speed,
 * docs/performance.md) unless `cipher chacha20-poly1305`, or VERTEX_CIPHER=chacha20-poly1305 in
 * the environment (tests and benchmarks), says no.
 */
static bool
agent_offers_aes(const struct agent *a)
{
	const char *v = getenv("VERTEX_CIPHER");

	if (v && *v && strcmp(v, "chacha20-poly1305") && strcmp(v, "auto"))
		log_warnx("VERTEX_CIPHER=%s is neither auto nor chacha20-poly1305: ignored", v);
	if (a->cfg.chacha_only || (v && !strcmp(v, "chacha20-poly1305")))
		return false;
	return aead_aes256gcm_available();
}

/* The links to peers, and the record types they carry for the modules above (link.h). */
static int
agent_links(struct agent *a)
{
	struct link_params params = {
		.family = a->underlay_family,
		.max_links = AGENT_MAX_LINKS,
		.inbound_per_source = AGENT_INBOUND_PER_SOURCE,
		.handshake_rate = AGENT_HANDSHAKE_RATE,
		.handshake_burst = AGENT_HANDSHAKE_BURST,
		.source_handshake_rate = AGENT_SOURCE_HANDSHAKE_RATE,
		.source_handshake_burst = AGENT_SOURCE_HANDSHAKE_BURST,
		.aes = agent_offers_aes(a),
	};
	int err;

	memcpy(params.own4, a->own4, 4);
	memcpy(params.own6, a->own6, 16);
	if ((err = links_new(&a->links, a->loop, a->tls, a->index, a->peers, &params)))
		return err;
	log_info("data frames: %s", params.aes ? "aes-256-gcm with peers that have it, else "
						 "chacha20-poly1305"
					       : "chacha20-poly1305");
	return wiring_handle_links(a);
}

/* The channel to the home server, if the config names one (home.h); started last. */
static int
agent_home(struct agent *a)
{
	struct home_params params = {
		.identity = a->cfg.identity,
		.key_path = a->cfg.key_path,
		.cert_path = a->cfg.cert_path,
		.discover = a->cfg.server.discover,
		.addr = a->cfg.server.addr,
		.local_port = a->cfg.port, /* our NAT's TCP mapping of it: CTL_OBSERVED */
	};
	int err;

	struct direct_params dp = {
		.self = a->cfg.identity,
		.port = a->cfg.port,
		.family = a->underlay_family,
		.overlay = a->cfg.interface,
		.portmap = true,
		.public_tcp = a->cfg.public_tcp,
	};
	struct rdv_params rp = {
		.self = a->cfg.identity,
		.purposes = a->cfg.purposes,
		.npurposes = a->cfg.npurposes,
		.privacy = a->cfg.privacy,
	};

	if (!a->cfg.server.enabled)
		return 0;
	if ((err = home_new(&a->home, a->loop, a->tls, a->trust, &params, &wiring_home_ops, a)) ||
	    (err = wiring_handle_home(a)))
		return err;
	/* Rendezvous and the relay go through the home server: only with one. */
	if ((err = rdv_new(&a->rdv, a->loop, a->store, &rp, &wiring_rdv_ops, a)) ||
	    (err = relay_new(&a->relay, a->loop, a->cfg.identity, &wiring_relay_ops, a)) ||
	    (err = direct_new(&a->direct, a->loop, &dp, &wiring_direct_ops, a)) ||
	    (err = wiring_handle_rdv(a)) || (err = wiring_handle_direct(a)) ||
	    (err = wiring_direct_watch(a)))
		return err;
	return wiring_rdv_restore(a);
}

/* The underlay: the UDP path's socket and the peer port's TCP listener. */
static int
agent_underlay(struct agent *a)
{
	int fd, err;

	a->underlay_family = path_underlay_family();
	if ((err = path_udp_open(&a->udp, a->loop, a->pkts, a->underlay_family, a->cfg.port,
				 &wiring_udp_ops, a)))
		return err;
	fd = path_socket_bind(a->underlay_family, SOCK_STREAM, a->cfg.port);
	if (fd < 0) {
		errno = -fd;
		log_warn("tcp port %u", a->cfg.port);
		return fd;
	}
	err = listener_new(&a->tcp, a->loop, fd, 64, AGENT_ACCEPT_PER_TURN, AGENT_ACCEPT_PAUSE_MS,
			   &wiring_listener_ops, a);
	if (err) {
		errno = -err;
		log_warn("listen on tcp port %u", a->cfg.port);
	}
	return err;
}

/* The packet device: the TUN device, or in userspace mode lwIP (wiring_userspace.c). */
static int
agent_dataplane(struct agent *a)
{
	struct pktdev dev;
	int err;

	if (a->cfg.userspace)
		err = wiring_userspace_open(a, &dev);
	else if (!(err = tundev_new(&a->tundev, a->loop, a->tun, a->pkts, a->udp)))
		tundev_pktdev(a->tundev, &dev);
	if (err)
		return err;
	if ((err = dataplane_new(&a->dp, a->loop, a->pkts, &a->pool, a->index, a->peers, a->udp,
				 &dev, &wiring_dataplane_ops, a)) ||
	    (a->tundev && (err = tundev_start(a->tundev, a->dp))))
		return err;
	ev_set_before_sleep(a->loop, wiring_before_sleep, a);
	return 0;
}

static void
agent_need_session(struct peer *p, void *arg)
{
	(void)arg;
	peer_need_session(p);
}

int
agent_start(struct agent *a)
{
	int err;

	if ((err = ev_loop_new(&a->loop)) || (err = agent_addressing(a)) ||
	    (err = agent_identity(a)) ||
	    (err = pkt_pool_new(&a->pkts,
				AGENT_PKT_POOL + (agent_workers(a) ? 2 * CRYPTO_POOL_PKTS : 0))) ||
	    (err = session_index_new(&a->index)) || (err = agent_peers(a)) ||
	    (err = agent_domains(a)))
		return err;
	if ((err = agent_kernel(a)) || (err = agent_underlay(a)) || (err = agent_links(a)) ||
	    (err = agent_dataplane(a)) || (err = agent_home(a)) || (err = wiring_policy_start(a)) ||
	    (err = ctl_open(a)) || (err = wiring_app_open(a)) ||
	    (err = wiring_userspace_start(a)) || (err = wiring_proxy_open(a)))
		return err;
	if ((err = ev_signal_add(a->loop, SIGTERM, agent_on_signal, a)) ||
	    (err = ev_signal_add(a->loop, SIGINT, agent_on_signal, a)))
		return err;
	if ((err = privs_drop(&a->cfg))) {
		log_warnx("cannot drop privileges: %s", strerror(-err));
		return err;
	}
	/* After privs_drop: a thread keeps the capabilities it was started with. */
	if (agent_workers(a) && (err = dataplane_start_workers(a->dp, agent_workers(a)))) {
		log_warnx("cannot start %u AEAD workers: %s", agent_workers(a), strerror(-err));
		return err;
	}
	if (agent_workers(a))
		log_info("sealing and opening on %u worker threads", agent_workers(a));
	else if (a->cfg.userspace && (a->cfg.workers || getenv("VERTEX_WORKERS")))
		log_info("userspace mode: no AEAD worker threads (not yet with lwIP), on the loop");
	/* Hooks run with the privileges left now; vertex-up once the interface is up. */
	if ((err = wiring_hooks_open(a)))
		return err;
	peer_foreach(a->peers, agent_need_session, NULL);
	if (a->home)
		home_start(a->home);
	peer_foreach(a->peers, agent_track_domain, a);
	return 0;
}

void
agent_stop(struct agent *a)
{
	if (a->loop) {
		wiring_hooks_close(a); /* vertex-down first: everything is still up */
		domains_free(a->domains);
		links_free(a->links, true); /* CLOSE records go out through the relay too */
		relay_free(a->relay);
		wiring_direct_unwatch(a);
		direct_free(a->direct);
		rdv_free(a->rdv);
		home_free(a->home);
		wiring_proxy_close(a);
		wiring_app_close(a);
		ctl_close(a);
		listener_free(a->tcp);
		tundev_free(a->tundev);
		wiring_userspace_close(a); /* no output: before the data plane goes */
		wiring_connect_close(a);
		path_udp_close(a->udp); /* after the last sends: it flushes */
		dataplane_free(a->dp);
		peer_table_free(a->peers);
	}
	wiring_policy_stop(a);
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
