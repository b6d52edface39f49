// SPDX-License-Identifier: MIT
/*
 * Userspace mode, wired (docs/userspace.md): lwIP (netstack/) is the packet device the data
 * plane delivers to, in place of the TUN device, and what lwIP sends goes to dataplane_send as a
 * packet read from the TUN device would.
 *
 * The firewall's policy is applied here, to each packet before lwIP sees it
 * (policy/inbound.h), from the same struct policy_peer nftables gets in TUN mode: each peer's
 * is kept by its overlay index and replaced whenever wiring_policy.c rebuilds it (start, an
 * approval, a revocation). lwIP answers a SYN to a listening port before any accept callback
 * runs, so a check at accept time alone would be too late.
 *
 * Inbound purposes: every tcp purpose is listened on in lwIP at its port. Each connection
 * accepted is checked again against the peer's policy, offered to a program listening on that
 * purpose through the application socket (wiring_app_take), and otherwise proxied to the
 * purpose's local target, `-> ADDR:PORT`, or 127.0.0.1 at the purpose's port when it has none
 * (what a kernel service listening on that port would get in TUN mode).
 *
 * Re-entry: lwIP sends from inside the calls into it. Its output runs within netstack_input,
 * hence within this file's deliver, within the data plane's receive path; dataplane_send only
 * queues to the UDP batch or writes a record, and dataplane_receive holds nothing across
 * deliver, so sending from there is safe.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/dial.h"
#include "core/log.h"
#include "core/pkt.h"
#include "core/splice.h"
#include "netstack/netstack.h"
#include "peer/peer.h"
#include "policy/inbound.h"
#include "policy/policy.h"

enum {
	WIRING_US_TARGET_MS = 10000, /* a purpose's local target answers within this */
	WIRING_US_TARGETS_MAX = 256, /* connects to local targets under way at once */
	WIRING_US_ECHOES = 64,       /* echo requests remembered (`vertex ping`) */
	WIRING_US_ECHO_ID = 0x7678,  /* our echo requests' ICMP id */
};

/* An echo request sent for `vertex ping`, and its answer. */
struct wiring_us_echo {
	uint16_t seq;
	struct in_addr to;
	uint64_t sent_us, rtt_us; /* rtt 0: no reply yet */
};

struct wiring_us;

/* A purpose listened on in lwIP. */
struct wiring_us_purpose {
	struct wiring_us *w;
	const struct purpose *pu;
	struct sockaddr_storage target;
};

/* An accepted connection waiting for its local target to answer. */
struct wiring_us_target {
	struct wiring_us *w;
	struct wiring_us_target *prev, *next;
	int fd; /* the peer's connection (lwIP's bridge) */
	struct dial *dial;
	char peer[IDENTITY_STR_MAX];
	const struct wiring_us_purpose *up;
};

struct wiring_us {
	struct agent *a;
	struct netstack *ns;
	struct splicer *splice;
	struct policy_peer **policy; /* by overlay index; NULL: none known */
	size_t npolicy;
	struct wiring_us_purpose purposes[PURPOSES_MAX];
	size_t npurposes;
	struct wiring_us_target *targets;
	size_t ntargets;
	struct wiring_us_echo echoes[WIRING_US_ECHOES]; /* by seq % WIRING_US_ECHOES */
	uint16_t echo_seq;
	uint64_t drops[POLICY_VERDICT_COUNT];
	uint64_t no_peer, no_buffer, refused_unapproved, target_failed, proxied;
	struct log_ratelimit rl;
};

/* --- packets --- */

/* lwIP's packet, to the peer its destination names. */
static void
wiring_us_output(void *arg, const uint8_t *pkt, size_t len)
{
	struct wiring_us *w = arg;
	struct pkt *p;

	if (len > PKT_DATA_MAX || !(p = pkt_get(w->a->pkts))) {
		w->no_buffer++;
		return;
	}
	memcpy(pkt_data(p), pkt, len);
	p->len = (uint16_t)len;
	dataplane_send(w->a->dp, p);
}

/* The peer whose address (in our view) is the packet's source, by its overlay index. */
static uint32_t
wiring_us_source_index(const struct wiring_us *w, const uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4)
		return pool_index4(&w->a->pool, pkt + 12);
	if (len >= 40 && pkt[0] >> 4 == 6)
		return pool_index6(&w->a->pool, pkt + 8);
	return 0;
}

/* The data plane's delivery: a decrypted, translated packet from a peer. */
static int
wiring_us_deliver(void *dev, const uint8_t *pkt, size_t len)
{
	struct wiring_us *w = dev;
	uint32_t index = wiring_us_source_index(w, pkt, len);
	const struct policy_peer *pp = index < w->npolicy ? w->policy[index] : NULL;
	enum policy_verdict v;

	if (!pp) {
		w->no_peer++;
		return 0;
	}
	v = policy_inbound(pp, pkt, len);
	if (v != POLICY_ACCEPT) {
		w->drops[v]++;
		if (log_ratelimit_ok(&w->rl, ev_now_ms(w->a->loop)))
			log_debug(LOG_DATA, "userspace: a packet from %s dropped: %s", pp->identity,
				  policy_verdict_name(v));
		return 0;
	}
	netstack_input(w->ns, pkt, len);
	return 0;
}

/* --- echo, for `vertex ping` --- */

static uint64_t
wiring_us_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
wiring_us_echo_reply(void *arg, const struct in_addr *from, uint16_t id, uint16_t seq)
{
	struct wiring_us *w = arg;
	struct wiring_us_echo *e = &w->echoes[seq % WIRING_US_ECHOES];

	if (id == WIRING_US_ECHO_ID && e->seq == seq && e->sent_us && !e->rtt_us &&
	    e->to.s_addr == from->s_addr)
		e->rtt_us = wiring_us_now_us() - e->sent_us + 1; /* never 0 */
}

int
wiring_userspace_echo(struct agent *a, const struct peer *p, uint16_t *seq)
{
	struct wiring_us *w = a->us;
	struct wiring_us_echo *e;
	int err;

	if (!w)
		return -EOPNOTSUPP;
	*seq = ++w->echo_seq ? w->echo_seq : ++w->echo_seq; /* 0 stays unused */
	e = &w->echoes[*seq % WIRING_US_ECHOES];
	memset(e, 0, sizeof(*e));
	e->seq = *seq;
	memcpy(&e->to, p->map.peer_view4, 4);
	e->sent_us = wiring_us_now_us();
	if ((err = netstack_echo(w->ns, &e->to, WIRING_US_ECHO_ID, *seq)))
		e->sent_us = 0;
	return err;
}

int
wiring_userspace_echo_rtt(const struct agent *a, uint16_t seq, uint64_t *rtt_us)
{
	const struct wiring_us *w = a->us;
	const struct wiring_us_echo *e;

	if (!w)
		return -EOPNOTSUPP;
	e = &w->echoes[seq % WIRING_US_ECHOES];
	if (e->seq != seq || !e->sent_us)
		return -ENOENT;
	if (!e->rtt_us)
		return -EAGAIN;
	*rtt_us = e->rtt_us;
	return 0;
}

/* --- the policy of each peer --- */

void
wiring_userspace_policy(struct agent *a, const struct policy_peer *pp)
{
	struct wiring_us *w = a->us;

	if (!w)
		return;
	if (pp->index >= w->npolicy) {
		size_t n = w->npolicy ? w->npolicy : 16;
		struct policy_peer **np;

		while (n <= pp->index)
			n *= 2;
		if (!(np = realloc(w->policy, n * sizeof(*np)))) {
			log_warnx("userspace: peer %s: out of memory for its policy: its packets "
				  "are dropped",
				  pp->identity);
			return;
		}
		memset(np + w->npolicy, 0, (n - w->npolicy) * sizeof(*np));
		w->policy = np;
		w->npolicy = n;
	}
	if (!w->policy[pp->index] && !(w->policy[pp->index] = malloc(sizeof(*pp)))) {
		log_warnx("userspace: peer %s: out of memory for its policy", pp->identity);
		return;
	}
	*w->policy[pp->index] = *pp;
}

void
wiring_userspace_peer_gone(struct agent *a, const struct peer *p)
{
	struct wiring_us *w = a->us;
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	size_t n;

	if (!w)
		return;
	if (p->index < w->npolicy) {
		free(w->policy[p->index]);
		w->policy[p->index] = NULL;
	}
	memcpy(&s4.sin_addr, p->map.peer_view4, 4);
	memcpy(&s6.sin6_addr, p->map.peer_view6, 16);
	n = netstack_reset_peer(w->ns, (const void *)&s4) +
	    netstack_reset_peer(w->ns, (const void *)&s6);
	if (n)
		log_info("userspace: peer %s is gone: %zu connection(s) reset", p->identity, n);
}

/* --- inbound purposes --- */

static void
wiring_us_target_free(struct wiring_us_target *t)
{
	struct wiring_us *w = t->w;

	dial_cancel(t->dial);
	if (t->fd >= 0)
		close(t->fd);
	if (t->prev)
		t->prev->next = t->next;
	else
		w->targets = t->next;
	if (t->next)
		t->next->prev = t->prev;
	w->ntargets--;
	free(t);
}

static void
wiring_us_on_target(void *arg, int fd, int err)
{
	struct wiring_us_target *t = arg;
	struct wiring_us *w = t->w;
	char to[SOCKADDR_STR_MAX];

	t->dial = NULL; /* answered: freed by dial.c */
	sockaddr_format(&t->up->target, to, sizeof(to));
	if (err) {
		w->target_failed++;
		log_info("userspace: %s from %s: its target %s: %s", t->up->pu->name, t->peer, to,
			 strerror(err));
		wiring_us_target_free(t);
		return;
	}
	if (!splicer_add(w->splice, t->fd, fd)) {
		w->proxied++;
		log_debug(LOG_DATA, "userspace: %s from %s proxied to %s", t->up->pu->name, t->peer,
			  to);
	}
	t->fd = -1; /* the splicer's now (or closed by it) */
	wiring_us_target_free(t);
}

static void
wiring_us_on_accept(void *arg, int fd, const struct sockaddr_storage *from,
		    const struct sockaddr_storage *to)
{
	const struct wiring_us_purpose *up = arg;
	struct wiring_us *w = up->w;
	char addr[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	struct peer *p = wiring_app_peer_of(w->a, from, addr, &port);
	const struct policy_peer *pp = p && p->index < w->npolicy ? w->policy[p->index] : NULL;
	struct wiring_us_target *t;
	int err;

	(void)to;
	if (!pp || !policy_peer_allows(pp, PURPOSE_TCP, up->pu->port)) {
		w->refused_unapproved++;
		log_info("userspace: %s: a connection from %s, not approved for it: closed",
			 up->pu->name, p ? p->identity : addr);
		close(fd);
		return;
	}
	if (wiring_app_take(w->a, up->pu->name, fd, p, addr, port))
		return;
	if (w->ntargets >= WIRING_US_TARGETS_MAX || !(t = calloc(1, sizeof(*t)))) {
		log_info("userspace: %s from %s: too many connections waiting for their target",
			 up->pu->name, p->identity);
		close(fd);
		return;
	}
	t->w = w;
	t->fd = fd;
	t->up = up;
	snprintf(t->peer, sizeof(t->peer), "%s", p->identity);
	t->next = w->targets;
	if (w->targets)
		w->targets->prev = t;
	w->targets = t;
	w->ntargets++;
	if ((err = dial_tcp(&t->dial, w->a->loop, &up->target, WIRING_US_TARGET_MS,
			    wiring_us_on_target, t))) {
		t->dial = NULL;
		wiring_us_on_target(t, -1, -err);
	}
}

/* Every tcp purpose, listened on in lwIP. */
static int
wiring_us_listen(struct wiring_us *w)
{
	const struct config *c = &w->a->cfg;

	for (size_t i = 0; i < c->npurposes; i++) {
		const struct purpose *pu = &c->purposes[i];
		struct wiring_us_purpose *up = &w->purposes[w->npurposes];
		struct sockaddr_in *s4 = (void *)&up->target;
		char to[SOCKADDR_STR_MAX];
		int err;

		if (pu->proto != PURPOSE_TCP) {
			log_warnx("userspace: purpose %s is udp/%u: not served in userspace mode "
				  "(tcp only)",
				  pu->name, pu->port);
			continue;
		}
		up->w = w;
		up->pu = pu;
		if (purpose_has_target(pu)) {
			up->target = pu->target;
		} else {
			s4->sin_family = AF_INET;
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			s4->sin_port = htons(pu->port);
		}
		if ((err = netstack_listen(w->ns, pu->port, wiring_us_on_accept, up))) {
			log_warnx("userspace: purpose %s: cannot listen on tcp/%u: %s", pu->name,
				  pu->port, strerror(-err));
			return err;
		}
		w->npurposes++;
		sockaddr_format(&up->target, to, sizeof(to));
		log_info("userspace: purpose %s on tcp/%u -> %s (or a program on the app socket)",
			 pu->name, pu->port, to);
	}
	return 0;
}

/* --- start and stop --- */

int
wiring_userspace_open(struct agent *a, struct pktdev *dev)
{
	struct netstack_ops ops = { .output = wiring_us_output,
				    .echo_reply = wiring_us_echo_reply };
	struct netstack_config nc = {
		.prefix4 = (uint8_t)a->pool.len4,
		.prefix6 = (uint8_t)a->pool.len6,
		.mtu = (uint16_t)a->mtu,
	};
	struct wiring_us *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->a = a;
	memcpy(&nc.addr4, a->own4, 4);
	memcpy(&nc.addr6, a->own6, 16);
	if ((err = splicer_new(&w->splice, a->loop, 0)) ||
	    (err = netstack_new(&w->ns, a->loop, &nc, &ops, w))) {
		log_warnx("userspace: cannot start the TCP/IP stack: %s", strerror(-err));
		splicer_free(w->splice);
		free(w);
		return err;
	}
	a->us = w;
	dev->deliver = wiring_us_deliver;
	dev->dev = w;
	return 0;
}

int
wiring_userspace_start(struct agent *a)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	if (!a->us)
		return 0;
	inet_ntop(AF_INET, a->own4, a4, sizeof(a4));
	inet_ntop(AF_INET6, a->own6, a6, sizeof(a6));
	log_info("userspace: lwIP stack with %s/%u and %s/%u, mtu %u: no TUN device, no "
		 "firewall table (the policy is applied in the daemon)",
		 a4, a->pool.len4, a6, a->pool.len6, a->mtu);
	return wiring_us_listen(a->us);
}

struct netstack *
wiring_userspace_netstack(const struct agent *a)
{
	return a->us ? a->us->ns : NULL;
}

void
wiring_userspace_close(struct agent *a)
{
	struct wiring_us *w = a->us;

	if (!w)
		return;
	while (w->targets)
		wiring_us_target_free(w->targets);
	splicer_free(w->splice);
	netstack_free(w->ns);
	for (size_t i = 0; i < w->npolicy; i++)
		free(w->policy[i]);
	free(w->policy);
	free(w);
	a->us = NULL;
}

void
wiring_userspace_facts(const struct agent *a, FILE *f)
{
	const struct wiring_us *w = a->us;
	const struct splicer_stats *s;

	fprintf(f, "mode %s\n", w ? "userspace" : "tun");
	if (!w)
		return;
	s = splicer_stats(w->splice);
	fprintf(f, "netstack_conns %zu\nproxied %llu\nproxy_bytes_in %llu\nproxy_bytes_out %llu\n",
		netstack_conns(w->ns), (unsigned long long)w->proxied,
		(unsigned long long)s->bytes_ab, (unsigned long long)s->bytes_ba);
	fprintf(f, "userspace_refused_unapproved %llu\nuserspace_target_failed %llu\n",
		(unsigned long long)w->refused_unapproved, (unsigned long long)w->target_failed);
	for (int v = 1; v < POLICY_VERDICT_COUNT; v++)
		fprintf(f, "policy_drop.%s %llu\n", policy_verdict_name(v),
			(unsigned long long)w->drops[v]);
	fprintf(f, "policy_drop.no-peer %llu\n", (unsigned long long)w->no_peer);
	for (int d = 0; d < NETSTACK_DROP_MAX; d++)
		fprintf(f, "netstack_drop.%s %llu\n", netstack_drop_name(d),
			(unsigned long long)netstack_drops(w->ns, d));
	fprintf(f, "netstack_no_buffer %llu\n", (unsigned long long)w->no_buffer);
}
