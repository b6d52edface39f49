/* SPDX-License-Identifier: MIT */
/*
 * Router port mappings (DESIGN §6): the agent asks its home router to forward a public UDP port
 * to its data socket, and offers the mapped address as a candidate (CTL_CAND_MAPPED), which
 * works through routers that let in nothing unsolicited and behind mappings hole punching
 * cannot predict. Three protocols, tried at once: PCP (RFC 6887, MAP) and NAT-PMP (RFC 6886) to
 * the default gateway's UDP port 5351 (portmap_wire.h: our own codecs), and UPnP IGD through
 * libminiupnpc, whose calls block and so run on a thread (core/offload.h; portmap_upnp.c).
 *
 * States (one owner: portmap.c) and its one timer:
 *   ASKING   a PCP MAP and a NAT-PMP address request go to the gateway, again after 250 ms,
 *            doubling, PORTMAP_TRIES times; UPnP discovery runs on a thread meanwhile. The first
 *            protocol that maps wins, in the order PCP, NAT-PMP (a UDP map once it answered
 *            the address request and PCP did not map), UPnP (AddPortMapping on a thread).
 *   MAPPED   the timer fires at half the lifetime: the same request again (the renewal); no
 *            answer by the lifetime's end: the mapping is gone (on_change) and ASKING again.
 *   WAITING  nothing answered: ASKING again after PORTMAP_RETRY_MS, doubling up to
 *            PORTMAP_RETRY_MAX_MS (a router may get the feature, or its daemon start, later).
 * portmap_free deletes the mapping (lifetime 0; UPnP DeletePortMapping, which blocks: at
 * shutdown only, bounded by libminiupnpc's timeouts), after waiting up to 3 s for a UPnP call
 * still running (discovery takes 2 s): a mapping it makes is deleted too, and no thread is
 * left inside libminiupnpc when the process exits.
 *
 * Only answers from the gateway count (the socket is connected to it), PCP answers only with
 * the nonce of our request, and for our internal port: anything else is counted and dropped.
 * IPv4 only, one mapping per instance, of one protocol (portmap_params.protocol): the agent
 * keeps two, the data port's UDP and the peer port's TCP (the same number: it takes both), each
 * with its own socket, nonce, state and timer, so that neither waits for the other; suggested
 * external port the same number. Logs name a TCP instance "portmap tcp:".
 */
#ifndef VERTEX_PORTMAP_H
#define VERTEX_PORTMAP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct portmap;

enum {
	PORTMAP_LIFETIME_SEC = 7200,   /* asked for; the router may give less */
	PORTMAP_MIN_LIFETIME_SEC = 60, /* shorter grants are renewed as if this long (they may
					* lapse until the renewal maps again) */
	PORTMAP_FIRST_MS = 250,
	PORTMAP_TRIES = 4, /* 250 + 500 + 1000 + 2000 ms, then the last one's answer is awaited */
	PORTMAP_RETRY_MS = 60000,
	PORTMAP_RETRY_MAX_MS = 30 * 60000,
	PORTMAP_UPNP_DISCOVER_MS = 2000, /* SSDP search time */
};

/* Protocols, as bits of portmap_info.answered and as portmap_info.proto. */
enum portmap_proto {
	PORTMAP_PCP = 1 << 0,
	PORTMAP_NATPMP = 1 << 1,
	PORTMAP_UPNP = 1 << 2,
};

struct portmap_params {
	uint16_t port;    /* the data socket's: mapped from the same external port if free */
	uint8_t protocol; /* 17 UDP (0 means it too) or 6 TCP */
	/* Test hooks: the gateway (0: the default route's) and its port (0: 5351); no UPnP. */
	struct in_addr gateway;
	uint16_t server_port;
	bool no_upnp;
};

struct portmap_ops {
	/* The mapping appeared, changed, or is gone (portmap_info says which). */
	void (*on_change)(void *arg);
};

struct portmap_info {
	struct in_addr gateway; /* 0: none known */
	unsigned answered;      /* protocols that answered (bits), since the last round began */
	unsigned proto;         /* the one that holds our mapping; 0: none */
	struct sockaddr_in external;
	uint32_t lifetime;   /* seconds granted */
	uint64_t expires_ms; /* monotonic */
	bool asking;         /* a round is running */
};

struct portmap_stats {
	uint64_t sent, answers, bad, renewals, lost;
};

/* Starts at once (ASKING). Owned by the caller; portmap_free deletes the mapping. */
int portmap_new(struct portmap **out, struct ev_loop *loop, const struct portmap_params *params,
		const struct portmap_ops *ops, void *arg);
void portmap_free(struct portmap *pm);
void portmap_info(const struct portmap *pm, struct portmap_info *out);
/* Our mapped address (family 0 if none). */
const struct sockaddr_in *portmap_external(const struct portmap *pm);
const struct portmap_stats *portmap_stats(const struct portmap *pm);
/* "pcp", "nat-pmp", "upnp". */
const char *portmap_proto_name(unsigned proto);

/* --- portmap_upnp.c: UPnP IGD through libminiupnpc, on a thread (for portmap.c only) ------- */

enum portmap_upnp_op { PORTMAP_UPNP_DISCOVER, PORTMAP_UPNP_MAP, PORTMAP_UPNP_DELETE };

struct portmap_upnp_job {
	enum portmap_upnp_op op;
	uint16_t port;
	uint8_t protocol; /* 17 or 6 */
	uint32_t lifetime;
	/* From DISCOVER, given back to MAP and DELETE. */
	char control_url[512], service[256], lan_addr[INET_ADDRSTRLEN];
	/* Results. */
	bool ok;
	struct in_addr external;
	int igd; /* UPNP_GetValidIGD's answer */
	char error[96];
	struct portmap *pm; /* touched on the loop only (done) */
};

/* The blocking part (runs on the offload thread, or inline at shutdown). */
void portmap_upnp_work(void *job);

#endif
