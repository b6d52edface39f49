// SPDX-License-Identifier: MIT
/*
 * Router port mappings: the state machine (portmap.h), PCP and NAT-PMP over one UDP socket
 * connected to the gateway, UPnP through portmap_upnp.c on an offload thread.
 *
 * While ASKING, `want` holds the UDP requests still unanswered (sent again on each try);
 * `answered` and `failed` the protocols that answered, and that will not map this round. The
 * choice (portmap_decide) runs after every event: it waits for PCP first, then NAT-PMP, then
 * UPnP, so the mapping is the best protocol's that works, and one mapping only.
 */
#include "direct/portmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/offload.h"
#include "crypto/aead.h"
#include "direct/portmap_wire.h"

enum portmap_state { PM_ASKING, PM_MAPPED, PM_WAITING };

/* UDP requests (bits of `want`). */
enum { WANT_PCP_MAP = 1 << 0, WANT_NATPMP_ADDR = 1 << 1, WANT_NATPMP_MAP = 1 << 2 };

enum {
	PORTMAP_RX_BURST = 8,
	PORTMAP_ROUTE_FILE_MAX = 16384,
	PORTMAP_RENEW_MIN_MS = 10000,
	PORTMAP_STOP_WAIT_MS = 3000, /* for a UPnP call still running when we are freed */
};

/* A UPnP job as the offload thread holds it: `finished` is set when the call returned. */
struct portmap_upnp_run {
	struct portmap_upnp_job job;
	atomic_bool finished;
};

struct portmap {
	struct ev_loop *loop;
	struct portmap_params params;
	const char *name; /* for logs: "portmap", "portmap tcp" */
	struct portmap_ops ops;
	void *arg;

	int fd;
	struct ev_io io;
	struct ev_timer timer;
	struct in_addr gateway, client;
	uint8_t nonce[PCP_NONCE_LEN];

	enum portmap_state state;
	unsigned want, tries, answered, failed;
	bool natpmp_map_tried, renewing;
	uint64_t next_send_ms, retry_at_ms, retry_ms;
	struct in_addr natpmp_external;

	unsigned proto; /* of the mapping; 0: none */
	struct sockaddr_in external;
	uint32_t lifetime;
	uint64_t expires_ms, renew_ms;

	struct offload *job;
	struct portmap_upnp_run *run; /* while job runs: borrowed (the job owns it) */
	struct portmap_upnp_job upnp; /* what discovery found (URLs, our LAN address) */
	bool upnp_found;
	struct portmap_stats stats;
};

static void portmap_decide(struct portmap *pm);
static void portmap_arm(struct portmap *pm);

const char *
portmap_proto_name(unsigned proto)
{
	return proto == PORTMAP_PCP ? "pcp" : proto == PORTMAP_NATPMP ? "nat-pmp" : "upnp";
}

/* The protocols' own spelling, for logs. */
static const char *
portmap_proto_title(unsigned proto)
{
	return proto == PORTMAP_PCP ? "PCP" : proto == PORTMAP_NATPMP ? "NAT-PMP" : "UPnP";
}

static const char *
portmap_gw_str(const struct portmap *pm, char *buf, size_t len)
{
	return inet_ntop(AF_INET, &pm->gateway, buf, (socklen_t)len) ? buf : "?";
}

/* --- the socket to the gateway ------------------------------------------------------------- */

static bool
portmap_find_gateway(struct portmap *pm)
{
	char *text;
	ssize_t n;
	int fd;
	bool ok;

	if (pm->params.gateway.s_addr) {
		pm->gateway = pm->params.gateway;
		return true;
	}
	if ((fd = open("/proc/net/route", O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	if (!(text = malloc(PORTMAP_ROUTE_FILE_MAX))) {
		close(fd);
		return false;
	}
	n = read(fd, text, PORTMAP_ROUTE_FILE_MAX);
	close(fd);
	ok = n > 0 && portmap_gateway_parse(text, (size_t)n, &pm->gateway);
	free(text);
	return ok;
}

static void portmap_on_readable(struct ev_io *io, uint32_t revents);

/* A fresh socket connected to the gateway: the kernel lets in only what comes from there. */
static int
portmap_open(struct portmap *pm)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = pm->gateway };
	struct sockaddr_in self;
	socklen_t slen = sizeof(self);
	int fd;

	to.sin_port = htons(pm->params.server_port ? pm->params.server_port : PORTMAP_SERVER_PORT);
	if (pm->fd >= 0) {
		ev_io_stop(pm->loop, &pm->io);
		close(pm->fd);
		pm->fd = -1;
	}
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&self, &slen) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	pm->client = self.sin_addr;
	pm->fd = fd;
	return ev_io_start(pm->loop, &pm->io, fd, EV_READ, portmap_on_readable);
}

static void
portmap_send(struct portmap *pm, const uint8_t *buf, size_t len)
{
	if (pm->fd >= 0 && len && send(pm->fd, buf, len, 0) == (ssize_t)len)
		pm->stats.sent++;
}

static void
portmap_send_want(struct portmap *pm)
{
	uint8_t buf[PCP_MAP_LEN];

	if (pm->want & WANT_PCP_MAP)
		portmap_send(pm, buf,
			     portmap_pcp_map_encode(buf, sizeof(buf), &pm->client, pm->nonce,
						    pm->params.protocol, pm->params.port,
						    pm->params.port, PORTMAP_LIFETIME_SEC));
	if (pm->want & WANT_NATPMP_ADDR)
		portmap_send(pm, buf, portmap_natpmp_address_encode(buf, sizeof(buf)));
	if (pm->want & WANT_NATPMP_MAP)
		portmap_send(pm, buf,
			     portmap_natpmp_map_encode(buf, sizeof(buf), pm->params.protocol,
						       pm->params.port, pm->params.port,
						       PORTMAP_LIFETIME_SEC));
	pm->next_send_ms = ev_now_ms(pm->loop) + ((uint64_t)PORTMAP_FIRST_MS << pm->tries);
	pm->tries++;
}

/* Requests (bits) to send now and again until answered or PORTMAP_TRIES are out. */
static void
portmap_ask(struct portmap *pm, unsigned want)
{
	pm->want = want;
	pm->tries = 0;
	portmap_send_want(pm);
}

/* --- UPnP on a thread ---------------------------------------------------------------------- */

static void portmap_upnp_done(void *arg);

static void
portmap_upnp_run_work(void *arg)
{
	struct portmap_upnp_run *run = arg;

	portmap_upnp_work(&run->job);
	atomic_store(&run->finished, true);
}

/* The job owns its copy of what discovery found; the result comes back in portmap_upnp_done. */
static void
portmap_upnp_start(struct portmap *pm, enum portmap_upnp_op op)
{
	struct portmap_upnp_run *run;
	struct portmap_upnp_job *j;
	int err;

	if (pm->params.no_upnp || pm->job || !(run = calloc(1, sizeof(*run))))
		return;
	j = &run->job;
	*j = pm->upnp;
	j->op = op;
	j->port = pm->params.port;
	j->protocol = pm->params.protocol;
	j->lifetime = PORTMAP_LIFETIME_SEC;
	j->pm = pm;
	atomic_init(&run->finished, false);
	if ((err = offload_start(&pm->job, pm->loop, portmap_upnp_run_work, portmap_upnp_done, free,
				 run))) {
		log_warnx("%s: UPnP not asked: %s", pm->name, strerror(-err));
		free(run);
		pm->failed |= PORTMAP_UPNP;
		return;
	}
	pm->run = run;
}

/* --- the mapping --------------------------------------------------------------------------- */

static void
portmap_mapped(struct portmap *pm, unsigned proto, struct in_addr ext, uint16_t port,
	       uint32_t lifetime)
{
	uint64_t now = ev_now_ms(pm->loop), life_ms;
	bool changed = proto != pm->proto || ext.s_addr != pm->external.sin_addr.s_addr ||
		       htons(port) != pm->external.sin_port;
	char gw[INET_ADDRSTRLEN], addr[INET_ADDRSTRLEN];

	life_ms =
	    (uint64_t)(lifetime < PORTMAP_MIN_LIFETIME_SEC ? PORTMAP_MIN_LIFETIME_SEC : lifetime) *
	    1000;
	pm->proto = proto;
	pm->external =
	    (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = ext };
	pm->lifetime = lifetime;
	/* A grant under PORTMAP_MIN_LIFETIME_SEC is treated as that long: no renewal storm. */
	pm->expires_ms = now + life_ms;
	pm->renew_ms = now + life_ms / 2;
	pm->state = PM_MAPPED;
	pm->want &= WANT_NATPMP_ADDR; /* still asked: netcheck tells whether NAT-PMP answers */
	pm->retry_ms = PORTMAP_RETRY_MS;
	inet_ntop(AF_INET, &ext, addr, sizeof(addr));
	if (pm->renewing && !changed) {
		pm->stats.renewals++;
		log_debug(LOG_PATH, "%s: %s at %s: renewed %s:%u for %u s", pm->name,
			  portmap_proto_title(proto), portmap_gw_str(pm, gw, sizeof(gw)), addr,
			  port, lifetime);
	} else {
		log_info("%s: %s at %s: mapped %s:%u for %u s", pm->name,
			 portmap_proto_title(proto), portmap_gw_str(pm, gw, sizeof(gw)), addr, port,
			 lifetime);
	}
	pm->renewing = false;
	if (changed && pm->ops.on_change)
		pm->ops.on_change(pm->arg);
}

static void
portmap_start_round(struct portmap *pm)
{
	char gw[INET_ADDRSTRLEN];
	int err;

	pm->state = PM_ASKING;
	pm->answered = pm->failed = 0;
	pm->natpmp_map_tried = pm->renewing = false;
	pm->want = 0;
	if (!portmap_find_gateway(pm)) {
		log_debug(LOG_PATH, "%s: no default IPv4 gateway: nothing to ask", pm->name);
		pm->failed = PORTMAP_PCP | PORTMAP_NATPMP | PORTMAP_UPNP;
		portmap_decide(pm);
		return;
	}
	if ((err = portmap_open(pm))) {
		log_warnx("%s: no socket to the gateway %s: %s", pm->name,
			  portmap_gw_str(pm, gw, sizeof(gw)), strerror(-err));
		pm->failed = PORTMAP_PCP | PORTMAP_NATPMP;
	} else {
		crypto_random(pm->nonce, sizeof(pm->nonce));
		portmap_ask(pm, WANT_PCP_MAP | WANT_NATPMP_ADDR);
	}
	if (pm->params.no_upnp)
		pm->failed |= PORTMAP_UPNP;
	else if (!pm->job)
		portmap_upnp_start(pm, PORTMAP_UPNP_DISCOVER);
	portmap_decide(pm);
}

/* The mapping is gone (not renewed in time): said, then a new round. */
static void
portmap_lost(struct portmap *pm, const char *why)
{
	char gw[INET_ADDRSTRLEN];

	log_info("%s: %s at %s: the mapping is gone (%s)", pm->name, portmap_proto_title(pm->proto),
		 portmap_gw_str(pm, gw, sizeof(gw)), why);
	pm->stats.lost++;
	pm->proto = 0;
	memset(&pm->external, 0, sizeof(pm->external));
	pm->lifetime = 0;
	if (pm->ops.on_change)
		pm->ops.on_change(pm->arg);
	portmap_start_round(pm);
}

static void
portmap_renew(struct portmap *pm)
{
	pm->renewing = true;
	if (pm->proto == PORTMAP_PCP)
		portmap_ask(pm, WANT_PCP_MAP);
	else if (pm->proto == PORTMAP_NATPMP)
		portmap_ask(pm, WANT_NATPMP_MAP);
	else
		portmap_upnp_start(pm, PORTMAP_UPNP_MAP);
}

/* A renewal got no answer: again at half the time left, while that is worth it. */
static void
portmap_renew_unanswered(struct portmap *pm)
{
	uint64_t now = ev_now_ms(pm->loop);

	pm->want = 0;
	pm->renewing = false;
	if (pm->expires_ms > now + PORTMAP_RENEW_MIN_MS)
		pm->renew_ms = now + (pm->expires_ms - now) / 2;
	else
		pm->renew_ms = pm->expires_ms;
}

static void
portmap_decide(struct portmap *pm)
{
	char gw[INET_ADDRSTRLEN];

	if (pm->state != PM_ASKING || (pm->want & (WANT_PCP_MAP | WANT_NATPMP_ADDR)))
		return; /* mapped, or PCP (the best) may still answer, or NAT-PMP's address */
	if ((pm->answered & PORTMAP_NATPMP) && !(pm->failed & PORTMAP_NATPMP) &&
	    !pm->natpmp_map_tried) {
		pm->natpmp_map_tried = true;
		portmap_ask(pm, WANT_NATPMP_MAP);
		return;
	}
	if (pm->want)
		return;
	if (pm->upnp_found && !pm->job && !(pm->failed & PORTMAP_UPNP)) {
		pm->failed |= PORTMAP_UPNP; /* tried once this round: its answer maps or fails */
		portmap_upnp_start(pm, PORTMAP_UPNP_MAP);
	}
	if (pm->job)
		return;
	pm->state = PM_WAITING;
	pm->retry_at_ms = ev_now_ms(pm->loop) + pm->retry_ms;
	log_info("%s: no mapping from the router at %s (%s answered); again in %llu s", pm->name,
		 pm->gateway.s_addr ? portmap_gw_str(pm, gw, sizeof(gw)) : "-",
		 pm->answered ? "only what could not map" : "nothing",
		 (unsigned long long)(pm->retry_ms / 1000));
	pm->retry_ms =
	    pm->retry_ms * 2 > PORTMAP_RETRY_MAX_MS ? PORTMAP_RETRY_MAX_MS : pm->retry_ms * 2;
}

static void
portmap_upnp_done(void *arg)
{
	struct portmap_upnp_job *j = &((struct portmap_upnp_run *)arg)->job;
	struct portmap *pm = j->pm;
	char gw[INET_ADDRSTRLEN];

	pm->run = NULL;
	if (j->op == PORTMAP_UPNP_DISCOVER) {
		if (j->ok) {
			pm->upnp = *j;
			pm->upnp_found = true;
			pm->answered |= PORTMAP_UPNP;
			log_info("%s: UPnP IGD at %s answered (external %s%s)", pm->name,
				 j->control_url, inet_ntop(AF_INET, &j->external, gw, sizeof(gw)),
				 j->igd == 2 ? ", says not connected" : "");
		} else {
			pm->failed |= PORTMAP_UPNP;
			log_debug(LOG_PATH, "%s: UPnP: %s", pm->name, j->error);
		}
	} else if (j->op == PORTMAP_UPNP_MAP) {
		if (j->ok) {
			pm->answered |= PORTMAP_UPNP;
			portmap_mapped(pm, PORTMAP_UPNP, pm->upnp.external, j->port, j->lifetime);
		} else {
			log_info("%s: UPnP at %s: %s", pm->name, pm->upnp.control_url, j->error);
			if (pm->renewing)
				portmap_renew_unanswered(pm);
		}
	}
	portmap_decide(pm);
	portmap_arm(pm);
}

/* --- answers from the gateway -------------------------------------------------------------- */

static void
portmap_on_pcp(struct portmap *pm, const struct portmap_reply *r)
{
	char gw[INET_ADDRSTRLEN];

	if (r->opcode != PCP_OP_MAP || memcmp(r->nonce, pm->nonce, PCP_NONCE_LEN) ||
	    r->protocol != pm->params.protocol || r->internal_port != pm->params.port) {
		pm->stats.bad++;
		log_debug(LOG_PATH, "%s: a PCP answer to no request of ours: dropped", pm->name);
		return;
	}
	pm->answered |= PORTMAP_PCP;
	if (!(pm->want & WANT_PCP_MAP))
		return; /* a late copy */
	pm->want &= ~(unsigned)WANT_PCP_MAP;
	if (r->result == PORTMAP_RESULT_SUCCESS && r->has_external && r->external.s_addr &&
	    r->lifetime && r->external_port) {
		portmap_mapped(pm, PORTMAP_PCP, r->external, r->external_port, r->lifetime);
		return;
	}
	pm->failed |= PORTMAP_PCP;
	log_info("%s: PCP at %s: %s", pm->name, portmap_gw_str(pm, gw, sizeof(gw)),
		 r->result ? portmap_result_name(PCP_VERSION, r->result) : "no IPv4 mapping");
	if (pm->renewing)
		portmap_lost(pm, "the renewal was refused");
}

static void
portmap_on_natpmp(struct portmap *pm, const struct portmap_reply *r)
{
	char gw[INET_ADDRSTRLEN];

	if (r->result == PORTMAP_RESULT_UNSUPP_VERSION && (pm->want & WANT_PCP_MAP) &&
	    !(pm->want & WANT_NATPMP_MAP)) {
		/* A NAT-PMP server's answer to our PCP request: no PCP here. */
		pm->answered |= PORTMAP_NATPMP;
		pm->failed |= PORTMAP_PCP;
		pm->want &= ~(unsigned)WANT_PCP_MAP;
		log_debug(LOG_PATH, "%s: the gateway speaks NAT-PMP, not PCP", pm->name);
		return;
	}
	if (r->opcode == NATPMP_OP_ADDRESS && (pm->want & WANT_NATPMP_ADDR)) {
		pm->answered |= PORTMAP_NATPMP;
		pm->want &= ~(unsigned)WANT_NATPMP_ADDR;
		if (r->result == PORTMAP_RESULT_SUCCESS && r->external.s_addr)
			pm->natpmp_external = r->external;
		else
			pm->failed |= PORTMAP_NATPMP;
		return;
	}
	if (r->opcode == portmap_natpmp_map_opcode(pm->params.protocol) &&
	    (pm->want & WANT_NATPMP_MAP) && (r->result || r->internal_port == pm->params.port)) {
		pm->answered |= PORTMAP_NATPMP;
		pm->want &= ~(unsigned)WANT_NATPMP_MAP;
		if (r->result == PORTMAP_RESULT_SUCCESS && r->lifetime && r->external_port) {
			portmap_mapped(pm, PORTMAP_NATPMP, pm->natpmp_external, r->external_port,
				       r->lifetime);
			return;
		}
		pm->failed |= PORTMAP_NATPMP;
		log_info("%s: NAT-PMP at %s: %s", pm->name, portmap_gw_str(pm, gw, sizeof(gw)),
			 portmap_result_name(NATPMP_VERSION, r->result));
		if (pm->renewing)
			portmap_lost(pm, "the renewal was refused");
		return;
	}
	pm->stats.bad++;
	log_debug(LOG_PATH, "%s: a NAT-PMP answer to no request of ours: dropped", pm->name);
}

/* Nothing listens on the gateway's port (ICMP port unreachable): neither protocol is there. */
static void
portmap_refused(struct portmap *pm)
{
	char gw[INET_ADDRSTRLEN];

	if (pm->state != PM_ASKING || !pm->want)
		return;
	log_debug(LOG_PATH, "%s: nothing listens on %s:%u (no PCP, no NAT-PMP)", pm->name,
		  portmap_gw_str(pm, gw, sizeof(gw)), PORTMAP_SERVER_PORT);
	pm->want = 0;
	pm->failed |= PORTMAP_PCP | PORTMAP_NATPMP;
}

static void
portmap_on_readable(struct ev_io *io, uint32_t revents)
{
	struct portmap *pm = container_of(io, struct portmap, io);

	(void)revents;
	for (int i = 0; i < PORTMAP_RX_BURST; i++) {
		uint8_t buf[PCP_MAX_LEN + 4];
		struct portmap_reply r;
		ssize_t n = recv(pm->fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == ECONNREFUSED)
				portmap_refused(pm);
			break;
		}
		if (!portmap_reply_decode(buf, (size_t)n, &r)) {
			pm->stats.bad++;
			log_debug(LOG_PATH, "%s: a malformed answer (%zd bytes): dropped", pm->name,
				  n);
			continue;
		}
		pm->stats.answers++;
		if (r.version == PCP_VERSION)
			portmap_on_pcp(pm, &r);
		else
			portmap_on_natpmp(pm, &r);
	}
	portmap_decide(pm);
	portmap_arm(pm);
}

/* --- the timer ----------------------------------------------------------------------------- */

/* The requests still unanswered after the last try: their protocols are out. */
static void
portmap_unanswered(struct portmap *pm)
{
	if (pm->renewing) {
		portmap_renew_unanswered(pm);
		return;
	}
	if (pm->want & WANT_PCP_MAP)
		pm->failed |= PORTMAP_PCP;
	if (pm->want & (WANT_NATPMP_ADDR | WANT_NATPMP_MAP))
		pm->failed |= PORTMAP_NATPMP;
	pm->want = 0;
}

static void
portmap_on_timer(struct ev_timer *t)
{
	struct portmap *pm = container_of(t, struct portmap, timer);
	uint64_t now = ev_now_ms(pm->loop);

	if (pm->want && now >= pm->next_send_ms) {
		if (pm->tries < PORTMAP_TRIES)
			portmap_send_want(pm);
		else
			portmap_unanswered(pm);
	}
	if (pm->state == PM_MAPPED && now >= pm->expires_ms)
		portmap_lost(pm, "not renewed in time");
	else if (pm->state == PM_MAPPED && !pm->want && !pm->job && !pm->renewing &&
		 now >= pm->renew_ms)
		portmap_renew(pm);
	else if (pm->state == PM_WAITING && now >= pm->retry_at_ms)
		portmap_start_round(pm);
	portmap_decide(pm);
	portmap_arm(pm);
}

static void
portmap_arm(struct portmap *pm)
{
	uint64_t now = ev_now_ms(pm->loop), at = UINT64_MAX;

	if (pm->want)
		at = pm->next_send_ms;
	if (pm->state == PM_MAPPED) {
		uint64_t next = pm->renewing ? pm->expires_ms : pm->renew_ms;

		at = next < at ? next : at;
	}
	if (pm->state == PM_WAITING)
		at = pm->retry_at_ms < at ? pm->retry_at_ms : at;
	ev_timer_stop(pm->loop, &pm->timer);
	if (at != UINT64_MAX)
		ev_timer_start(pm->loop, &pm->timer, at > now ? at - now : 0, portmap_on_timer);
}

/* --- the rest ------------------------------------------------------------------------------ */

int
portmap_new(struct portmap **out, struct ev_loop *loop, const struct portmap_params *params,
	    const struct portmap_ops *ops, void *arg)
{
	struct portmap *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return -ENOMEM;
	pm->loop = loop;
	pm->params = *params;
	if (pm->params.protocol != PORTMAP_IPPROTO_TCP)
		pm->params.protocol = PORTMAP_IPPROTO_UDP;
	pm->name = pm->params.protocol == PORTMAP_IPPROTO_TCP ? "portmap tcp" : "portmap";
	if (ops)
		pm->ops = *ops;
	pm->arg = arg;
	pm->fd = -1;
	pm->retry_ms = PORTMAP_RETRY_MS;
	portmap_start_round(pm);
	portmap_arm(pm);
	*out = pm;
	return 0;
}

/* Lifetime 0: the router drops the mapping now rather than at its expiry. */
static void
portmap_delete(struct portmap *pm)
{
	uint8_t buf[PCP_MAP_LEN];
	char gw[INET_ADDRSTRLEN];

	if (pm->proto == PORTMAP_PCP)
		portmap_send(pm, buf,
			     portmap_pcp_map_encode(buf, sizeof(buf), &pm->client, pm->nonce,
						    pm->params.protocol, pm->params.port, 0, 0));
	else if (pm->proto == PORTMAP_NATPMP)
		portmap_send(pm, buf,
			     portmap_natpmp_map_encode(buf, sizeof(buf), pm->params.protocol,
						       pm->params.port, 0, 0));
	else if (pm->proto == PORTMAP_UPNP) {
		pm->upnp.op = PORTMAP_UPNP_DELETE;
		pm->upnp.port = pm->params.port;
		pm->upnp.protocol = pm->params.protocol;
		portmap_upnp_work(&pm->upnp); /* blocks: shutdown only */
		if (!pm->upnp.ok)
			log_info("%s: UPnP: %s", pm->name, pm->upnp.error);
	}
	if (pm->proto)
		log_info("%s: %s at %s: mapping deleted", pm->name, portmap_proto_title(pm->proto),
			 portmap_gw_str(pm, gw, sizeof(gw)));
}

/*
 * A UPnP call still running: waited for (bounded), so that a mapping it makes is deleted too
 * and no thread outlives us in the middle of libminiupnpc. Blocks: at shutdown only.
 */
static void
portmap_stop_upnp(struct portmap *pm)
{
	struct portmap_upnp_run *run = pm->run;
	uint64_t until = ev_clock_ms() + PORTMAP_STOP_WAIT_MS;

	if (!pm->job)
		return;
	while (!atomic_load(&run->finished) && ev_clock_ms() < until)
		usleep(10000);
	if (atomic_load(&run->finished) && run->job.op == PORTMAP_UPNP_MAP && run->job.ok)
		pm->proto = PORTMAP_UPNP; /* so portmap_delete undoes it */
	else if (!atomic_load(&run->finished))
		log_info("%s: a UPnP call still runs after %d ms: left to end alone", pm->name,
			 PORTMAP_STOP_WAIT_MS);
	offload_cancel(pm->job); /* the job frees run */
	pm->job = NULL;
	pm->run = NULL;
}

void
portmap_free(struct portmap *pm)
{
	if (!pm)
		return;
	portmap_stop_upnp(pm);
	portmap_delete(pm);
	ev_timer_stop(pm->loop, &pm->timer);
	if (pm->fd >= 0) {
		ev_io_stop(pm->loop, &pm->io);
		close(pm->fd);
	}
	free(pm);
}

void
portmap_info(const struct portmap *pm, struct portmap_info *out)
{
	memset(out, 0, sizeof(*out));
	out->gateway = pm->gateway;
	out->answered = pm->answered;
	out->proto = pm->proto;
	out->external = pm->external;
	out->lifetime = pm->lifetime;
	out->expires_ms = pm->expires_ms;
	out->asking = pm->state == PM_ASKING;
}

const struct sockaddr_in *
portmap_external(const struct portmap *pm)
{
	return &pm->external;
}

const struct portmap_stats *
portmap_stats(const struct portmap *pm)
{
	return &pm->stats;
}
