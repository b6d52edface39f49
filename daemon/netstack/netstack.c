// SPDX-License-Identifier: MIT
/*
 * The stack (netstack.h): lwIP's one network interface, packets in and out, lwIP's timers on
 * our event loop, and the listening ports. The bridge of each connection is tcpfd.c.
 *
 * The interface is point-to-point in spirit: no ARP, no neighbour discovery (lwIP calls
 * output/output_ip6 directly for an interface without NETIF_FLAG_ETHARP), no MLD, no router
 * solicitations, our IPv6 address marked preferred at once (no duplicate detection: the
 * address is ours by construction). It is lwIP's default interface, so every destination
 * routes through it.
 *
 * Timer: one ev_timer, armed after every call into lwIP for sys_timeouts_sleeptime() ms (the
 * next of lwIP's timeouts: TCP's 250 ms timer while connections exist, IP reassembly), which
 * runs sys_check_timeouts() when it fires and re-arms itself; disarmed when lwIP has none.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <lwip/init.h>
#include <lwip/ip4_frag.h>
#include <lwip/ip6_frag.h>
#include <lwip/ip.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/timeouts.h>

#include "core/log.h"
#include "netstack/netstack_int.h"

static struct netstack *ns_live; /* lwIP's globals: one stack per process */
static bool ns_lwip_ready;

static const char *const ns_drop_names[NETSTACK_DROP_MAX] = {
	[NETSTACK_DROP_MALFORMED] = "malformed",
	[NETSTACK_DROP_PROTO] = "protocol",
	[NETSTACK_DROP_OWN_SOURCE] = "own-source",
	[NETSTACK_DROP_CONNS_FULL] = "conns-full",
	[NETSTACK_DROP_NOMEM] = "nomem",
	[NETSTACK_DROP_OUT_MCAST] = "out-multicast",
	[NETSTACK_DROP_OUT_TOO_BIG] = "out-too-big",
};

static void
ns_on_timer(struct ev_timer *t)
{
	struct netstack *ns = container_of(t, struct netstack, timer);

	sys_check_timeouts();
	ns_timer_rearm(ns);
}

void
ns_timer_rearm(struct netstack *ns)
{
	u32_t ms = sys_timeouts_sleeptime();

	if (ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE) {
		ev_timer_stop(ns->loop, &ns->timer);
		return;
	}
	if (ev_timer_start(ns->loop, &ns->timer, ms, ns_on_timer) < 0)
		log_warnx("netstack: cannot arm lwIP's timer");
}

static void
ns_emit(struct netstack *ns, struct pbuf *p)
{
	if (ns->freeing)
		return;
	if (p->tot_len > ns->cfg.mtu) {
		ns->drops[NETSTACK_DROP_OUT_TOO_BIG]++;
		return;
	}
	if (p->next == NULL) {
		ns->ops.output(ns->arg, p->payload, p->len);
		return;
	}
	pbuf_copy_partial(p, ns->txbuf, p->tot_len, 0);
	ns->ops.output(ns->arg, ns->txbuf, p->tot_len);
}

static err_t
ns_output4(struct netif *netif, struct pbuf *p, const ip4_addr_t *to)
{
	ns_emit(netif->state, p);
	return ERR_OK;
}

static err_t
ns_output6(struct netif *netif, struct pbuf *p, const ip6_addr_t *to)
{
	struct netstack *ns = netif->state;

	if (ip6_addr_ismulticast(to)) {
		ns->drops[NETSTACK_DROP_OUT_MCAST]++;
		return ERR_OK;
	}
	ns_emit(ns, p);
	return ERR_OK;
}

static err_t
ns_netif_init(struct netif *netif)
{
	struct netstack *ns = netif->state;

	netif->name[0] = 'v';
	netif->name[1] = 'x';
	netif->output = ns_output4;
	netif->output_ip6 = ns_output6;
	netif->mtu = ns->cfg.mtu;
	netif->mtu6 = ns->cfg.mtu;
	netif->flags = 0; /* no ARP, no broadcast, no MLD: a point-to-point device */
	return ERR_OK;
}

static bool
ns_config_ok(const struct netstack_config *cfg)
{
	return cfg->prefix4 >= 1 && cfg->prefix4 <= 30 && cfg->prefix6 >= 8 &&
	       cfg->prefix6 <= 126 && cfg->mtu >= NETSTACK_MTU_MIN && cfg->addr4.s_addr != 0;
}

static void
ns_lwip_init_once(void)
{
	unsigned seed;

	if (ns_lwip_ready)
		return;
	/* lwIP's LWIP_RAND is rand(): its first local port is drawn in lwip_init(). */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (unsigned)ev_clock_ms();
	srand(seed);
	lwip_init();
	ns_lwip_ready = true;
}

static void
ns_netif_setup(struct netstack *ns)
{
	ip4_addr_t mask, gw;
	struct netif *n = &ns->netif;

	ip4_addr_set_u32(&mask, htonl(~0u << (32 - ns->cfg.prefix4)));
	ip4_addr_set_zero(&gw);
	netif_add(n, ip_2_ip4(&ns->ip4), &mask, &gw, ns, ns_netif_init, ip_input);
	netif_ip6_addr_set(n, 0, ip_2_ip6(&ns->ip6));
	netif_ip6_addr_set_state(n, 0, IP6_ADDR_PREFERRED);
	netif_set_ip6_autoconfig_enabled(n, 0);
	netif_set_default(n);
	netif_set_link_up(n);
	netif_set_up(n);
	n->rs_count = 0; /* no router solicitations: there is no router */
}

int
netstack_new(struct netstack **out, struct ev_loop *loop, const struct netstack_config *cfg,
	     const struct netstack_ops *ops, void *arg)
{
	struct netstack *ns;

	if (!ns_config_ok(cfg) || ops->output == NULL)
		return -EINVAL;
	if (ns_live != NULL)
		return -EBUSY;
	ns = calloc(1, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	ns->loop = loop;
	ns->cfg = *cfg;
	if (ns->cfg.conns_max == 0)
		ns->cfg.conns_max = NETSTACK_CONNS_DEFAULT;
	ns->ops = *ops;
	ns->arg = arg;
	IP_ADDR4(&ns->ip4, 0, 0, 0, 0);
	ip_2_ip4(&ns->ip4)->addr = cfg->addr4.s_addr;
	IP_ADDR6(&ns->ip6, 0, 0, 0, 0);
	memcpy(ip_2_ip6(&ns->ip6)->addr, &cfg->addr6, 16);
	ip6_addr_clear_zone(ip_2_ip6(&ns->ip6));
	ns_lwip_init_once();
	ns_netif_setup(ns);
	if (ns_echo_open(ns)) {
		netif_remove(&ns->netif);
		free(ns);
		return -ENOMEM;
	}
	ns_live = ns;
	ns_timer_rearm(ns);
	*out = ns;
	return 0;
}

void
netstack_free(struct netstack *ns)
{
	if (ns == NULL)
		return;
	ns->freeing = true;
	ns_echo_close(ns);
	ns_conn_abort_all(ns);
	for (size_t i = 0; i < NETSTACK_LISTENERS_MAX; i++)
		if (ns->listeners[i].pcb != NULL)
			netstack_unlisten(ns, ns->listeners[i].port);
	/*
	 * What lwIP still holds (connections we closed and it was finishing, half-open ones of
	 * our listeners, TIME_WAIT) is all ours, lwIP being one per process: dropped, so a stack
	 * made later starts clean and nothing sends from a stack that is gone.
	 */
	while (tcp_active_pcbs != NULL)
		tcp_abort(tcp_active_pcbs);
	while (tcp_tw_pcbs != NULL)
		tcp_abort(tcp_tw_pcbs);
	/* Fragments waiting for reassembly, aged out: lwIP has no call to drop them at once. */
	for (int i = 0; i <= IP_REASS_MAXAGE; i++)
		ip_reass_tmr();
	for (int i = 0; i <= IPV6_REASS_MAXAGE; i++)
		ip6_reass_tmr();
	netif_remove(&ns->netif);
	ev_timer_stop(ns->loop, &ns->timer);
	ev_timer_stop(ns->loop, &ns->flush_timer);
	ns_live = NULL;
	free(ns);
}

/* ---- packets in ---------------------------------------------------------------------- */

enum {
	NS_IP4_HDR = 20,
	NS_IP6_HDR = 40,
	NS_TCP_FLAGS = 13,
	NS_TCP_SYN = 0x02,
	NS_TCP_ACK = 0x10,
	NS_PROTO_ICMP = 1,
	NS_PROTO_TCP = 6,
	NS_PROTO_UDP = 17,
	NS_PROTO_FRAG6 = 44,
	NS_PROTO_ICMP6 = 58,
};

/*
 * Whether pkt could make lwIP allocate a connection: a TCP SYN without ACK, or anything whose
 * transport header is not plainly in view (IPv4 and IPv6 fragments), which
 * lwIP might reassemble into one. Only consulted while the stack is full.
 */
static bool
ns_could_open(const uint8_t *pkt, size_t len)
{
	size_t off;
	uint8_t proto;

	if (pkt[0] >> 4 == 4) {
		if ((pkt[6] & 0x3f) != 0 || pkt[7] != 0) /* MF or an offset */
			return true;
		off = (size_t)(pkt[0] & 0x0f) * 4;
		proto = pkt[9];
	} else {
		off = NS_IP6_HDR;
		proto = pkt[6];
		if (proto == NS_PROTO_FRAG6)
			return true;
	}
	if (proto != NS_PROTO_TCP)
		return false;
	if (off + NS_TCP_FLAGS >= len)
		return false; /* lwIP drops a truncated header */
	return (pkt[off + NS_TCP_FLAGS] & (NS_TCP_SYN | NS_TCP_ACK)) == NS_TCP_SYN;
}

static size_t
ns_pcb_count(struct tcp_pcb *list, struct tcp_pcb **last)
{
	size_t n = 0;

	for (struct tcp_pcb *p = list; p != NULL; p = p->next) {
		n++;
		*last = p;
	}
	return n;
}

/* lwIP's connection lists (tcp_priv.h): bounded here, since Debian's lwIP mallocs freely. */
static bool
ns_has_room(struct netstack *ns)
{
	struct tcp_pcb *oldest = NULL;

	/* TIME_WAIT connections are pushed at the head: the last one is the oldest. */
	if (ns_pcb_count(tcp_tw_pcbs, &oldest) >= NETSTACK_TIMEWAIT_MAX)
		tcp_abort(oldest);
	return ns_pcb_count(tcp_active_pcbs, &oldest) < ns->cfg.conns_max;
}

/*
 * Only what the overlay carries reaches lwIP: TCP, UDP and ICMP, for IPv6 possibly in a
 * fragment. Everything else Debian's build would parse is refused here, not only for being
 * useless: a UDP-Lite packet with a large checksum coverage trips an assertion in lwIP's
 * checksum code (inet_chksum.c, "delete me"), which aborts the process (found by
 * fuzz_netstack). IPv6 extension headers other than a fragment's are refused for the same
 * reason: they would hide the protocol from this check.
 */
static bool
ns_proto_is_served(const uint8_t *pkt, size_t len)
{
	uint8_t p;

	if (pkt[0] >> 4 == 4) {
		p = pkt[9];
		return p == NS_PROTO_ICMP || p == NS_PROTO_TCP || p == NS_PROTO_UDP;
	}
	p = pkt[6];
	if (p == NS_PROTO_FRAG6) {
		if (len < NS_IP6_HDR + 8)
			return false;
		p = pkt[NS_IP6_HDR]; /* the fragment header's next header */
	}
	return p == NS_PROTO_ICMP6 || p == NS_PROTO_TCP || p == NS_PROTO_UDP;
}

static bool
ns_is_own_source(const struct netstack *ns, const uint8_t *pkt)
{
	if (pkt[0] >> 4 == 4)
		return memcmp(pkt + 12, &ns->cfg.addr4, 4) == 0;
	return memcmp(pkt + 8, &ns->cfg.addr6, 16) == 0;
}

static bool
ns_is_well_formed(const uint8_t *pkt, size_t len)
{
	if (len < NS_IP4_HDR || len > NETSTACK_MTU_MAX)
		return false;
	if (pkt[0] >> 4 == 4)
		return (pkt[0] & 0x0f) >= 5 && (size_t)(pkt[0] & 0x0f) * 4 <= len;
	return pkt[0] >> 4 == 6 && len >= NS_IP6_HDR;
}

void
netstack_input(struct netstack *ns, const uint8_t *pkt, size_t len)
{
	struct pbuf *p;

	if (!ns_is_well_formed(pkt, len)) {
		ns->drops[NETSTACK_DROP_MALFORMED]++;
		return;
	}
	if (!ns_proto_is_served(pkt, len)) {
		ns->drops[NETSTACK_DROP_PROTO]++;
		return;
	}
	/* lwIP would answer through its loopback, which posts to the tcpip thread we never run. */
	if (ns_is_own_source(ns, pkt)) {
		ns->drops[NETSTACK_DROP_OWN_SOURCE]++;
		return;
	}
	if (ns_could_open(pkt, len) && !ns_has_room(ns)) {
		ns->drops[NETSTACK_DROP_CONNS_FULL]++;
		return;
	}
	p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
	if (p == NULL) {
		ns->drops[NETSTACK_DROP_NOMEM]++;
		return;
	}
	pbuf_take(p, pkt, (u16_t)len);
	if (ns->netif.input(p, &ns->netif) != ERR_OK)
		pbuf_free(p);
	ns_timer_rearm(ns);
}

/* ---- listening ports ------------------------------------------------------------------- */

static void
ns_ip_to_sa(const ip_addr_t *ip, uint16_t port, struct sockaddr_storage *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (IP_IS_V4(ip)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = ip_2_ip4(ip)->addr;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, ip_2_ip6(ip)->addr, 16);
	}
}

static err_t
ns_on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct ns_listener *l = arg;
	struct sockaddr_storage from, to;
	int fd;

	if (err != ERR_OK || pcb == NULL)
		return ERR_VAL;
	if (l->ns->nconns >= l->ns->cfg.conns_max ||
	    ns_conn_new(l->ns, pcb, NULL, 0, NULL, NULL, &fd) < 0) {
		l->ns->drops[NETSTACK_DROP_CONNS_FULL]++;
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	ns_ip_to_sa(&pcb->remote_ip, pcb->remote_port, &from);
	ns_ip_to_sa(&pcb->local_ip, pcb->local_port, &to);
	l->on_accept(l->arg, fd, &from, &to);
	return ERR_OK;
}

static struct ns_listener *
ns_listener_find(struct netstack *ns, uint16_t port)
{
	for (size_t i = 0; i < NETSTACK_LISTENERS_MAX; i++)
		if (ns->listeners[i].pcb != NULL && ns->listeners[i].port == port)
			return &ns->listeners[i];
	return NULL;
}

int
netstack_listen(struct netstack *ns, uint16_t port, netstack_accept_fn *on_accept, void *arg)
{
	struct ns_listener *l = NULL;
	struct tcp_pcb *pcb, *lpcb;
	err_t err;

	if (port == 0 || ns_listener_find(ns, port) != NULL)
		return -EADDRINUSE;
	for (size_t i = 0; i < NETSTACK_LISTENERS_MAX && l == NULL; i++)
		if (ns->listeners[i].pcb == NULL)
			l = &ns->listeners[i];
	if (l == NULL)
		return -ENOSPC;
	pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
	if (pcb == NULL)
		return -ENOMEM;
	if (tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK) {
		tcp_close(pcb);
		return -EADDRINUSE;
	}
	lpcb = tcp_listen_with_backlog_and_err(pcb, TCP_DEFAULT_LISTEN_BACKLOG, &err);
	if (lpcb == NULL) {
		tcp_close(pcb);
		return -ENOMEM;
	}
	*l = (struct ns_listener){
		.ns = ns, .pcb = lpcb, .port = port, .on_accept = on_accept, .arg = arg
	};
	tcp_arg(lpcb, l);
	tcp_accept(lpcb, ns_on_accept);
	return 0;
}

int
netstack_unlisten(struct netstack *ns, uint16_t port)
{
	struct ns_listener *l = ns_listener_find(ns, port);

	if (l == NULL)
		return -ENOENT;
	tcp_arg(l->pcb, NULL);
	tcp_accept(l->pcb, NULL);
	tcp_close(l->pcb); /* a listening pcb closes at once */
	l->pcb = NULL;
	return 0;
}

/* ---- dialing --------------------------------------------------------------------------- */

static int
ns_sa_to_ip(const struct sockaddr_storage *sa, ip_addr_t *ip, uint16_t *port)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		IP_ADDR4(ip, 0, 0, 0, 0);
		ip_2_ip4(ip)->addr = s4->sin_addr.s_addr;
		*port = ntohs(s4->sin_port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		IP_ADDR6(ip, 0, 0, 0, 0);
		memcpy(ip_2_ip6(ip)->addr, &s6->sin6_addr, 16);
		ip6_addr_clear_zone(ip_2_ip6(ip));
		*port = ntohs(s6->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	return *port == 0 ? -EINVAL : 0;
}

int
netstack_connect(struct netstack *ns, const struct sockaddr_storage *to,
		 netstack_connected_fn *on_connected, void *arg, int *fd_out)
{
	ip_addr_t dst;
	const ip_addr_t *src;
	struct tcp_pcb *pcb;
	uint16_t port;
	int err;

	err = ns_sa_to_ip(to, &dst, &port);
	if (err < 0)
		return err;
	src = IP_IS_V4(&dst) ? &ns->ip4 : &ns->ip6;
	if (ip_addr_cmp(&dst, src))
		return -EADDRNOTAVAIL; /* lwIP's loopback needs its tcpip thread */
	if (ns->nconns >= ns->cfg.conns_max)
		return -EMFILE;
	pcb = tcp_new_ip_type(IP_GET_TYPE(&dst));
	if (pcb == NULL)
		return -ENOMEM;
	if (tcp_bind(pcb, src, 0) != ERR_OK) {
		tcp_abort(pcb);
		return -EADDRNOTAVAIL;
	}
	/* Once dialed, the bridge owns pcb: a failed connect reaches it by its err callback. */
	err = ns_conn_new(ns, pcb, &dst, port, on_connected, arg, fd_out);
	if (err < 0) {
		tcp_abort(pcb);
		return err;
	}
	ns_timer_rearm(ns);
	return 0;
}

size_t
netstack_reset_peer(struct netstack *ns, const struct sockaddr_storage *addr)
{
	ip_addr_t ip;
	uint16_t port;
	size_t n;
	struct tcp_pcb *p;
	struct sockaddr_storage any = *addr;

	/* ns_sa_to_ip refuses port 0, which is what a caller naming a peer may well pass. */
	if (any.ss_family == AF_INET)
		((struct sockaddr_in *)&any)->sin_port = htons(1);
	else if (any.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&any)->sin6_port = htons(1);
	if (ns_sa_to_ip(&any, &ip, &port) < 0)
		return 0;
	n = ns_conn_reset_remote(ns, &ip);
	/* What lwIP holds alone (half-open, closing): none of our callbacks, abort as is. */
	for (p = tcp_active_pcbs; p != NULL;) {
		if (ip_addr_cmp(&p->remote_ip, &ip)) {
			tcp_abort(p);
			n++;
			p = tcp_active_pcbs; /* the list changed */
		} else {
			p = p->next;
		}
	}
	ns_timer_rearm(ns);
	return n;
}

size_t
netstack_conns(const struct netstack *ns)
{
	return ns->nconns;
}

uint64_t
netstack_drops(const struct netstack *ns, enum netstack_drop d)
{
	return d < NETSTACK_DROP_MAX ? ns->drops[d] : 0;
}

const char *
netstack_drop_name(enum netstack_drop d)
{
	return d < NETSTACK_DROP_MAX ? ns_drop_names[d] : "?";
}
