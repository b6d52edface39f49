/* SPDX-License-Identifier: MIT */
/*
 * Direct paths (DESIGN §6): what an agent knows of how it can be reached, told to approved
 * peers, and the probing that turns a peer's candidates into a direct UDP path. The relay
 * stays the path until one validates; it only adds paths.
 *
 * Our candidates: the host's own addresses (every interface that is up, not loopback, not the
 * overlay, no link-local), the address our router maps to the data port (portmap.h: PCP,
 * NAT-PMP or UPnP IGD), and the server-reflexive address: what our home server saw as the
 * source of a reflection request (proto/reflect.h) sent from the data socket itself, so it is the
 * mapping our NAT gave that socket. Asked when the home connection comes up and every
 * DIRECT_REFLECT_EVERY_MS after, so a NAT's new mapping is noticed.
 *
 * Offers: when a session with a peer met by rendezvous comes up and UDP does not work with it
 * yet, it gets a CTL_OFFER of our candidates, through the servers (which forward OFFER only
 * between approved pairs; nothing is offered before approval); again when our reflexive address
 * changes (ops.on_reflexive); and an offer received is answered with ours unless we offered in
 * the last DIRECT_REOFFER_MS, so both sides probe in the same window.
 *
 * Probing: a peer's offer starts a round: each UDP candidate of a kind we know gets an empty
 * data frame sealed with the session's keys (ops.probe) every DIRECT_PROBE_MS for
 * DIRECT_FAST_MS, then every DIRECT_SLOW_PROBE_MS until DIRECT_ROUND_MS, unless UDP works with
 * the peer before (ops.direct_works). Both sides probe at once, which opens the way through
 * NATs that let answers in (simultaneous open). Nothing in a probe can be forged: the path is
 * taken only once an authentic frame arrives over it (path/path.h), never on the word of an
 * offer.
 *
 * Offers also carry what reflection saw of our NAT (a CTL_CAND_NAT candidate: mapping,
 * filtering and the second mapped port), and we offer again when that classification changes.
 * When one side's mapping is endpoint-dependent and the other's filtering lets in only what
 * comes from where it sent to, plain probing cannot work: then the birthday technique
 * (birthday.h) runs alongside the round, the endpoint-dependent side opening extra sockets
 * (ops.aux_open) and the other spraying probes at its public address's ports (ops.probe).
 */
#ifndef VERTEX_DIRECT_H
#define VERTEX_DIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "direct/natclass.h"
#include "proto/ctlmsg.h"

struct direct;
struct ev_loop;

enum {
	DIRECT_REFLECT_EVERY_MS = 60000,
	DIRECT_REFLECT_RETRY_MS = 2000, /* no answer yet: ask again, up to 5 times, */
	DIRECT_REFLECT_TRIES = 5,
	/* The filtering questions (an answer from the other port, or address): asked 3 times,
	 * 500 ms apart, then no answer in 500 ms more is "filtered". */
	DIRECT_FILTER_TRIES = 3,
	DIRECT_FILTER_RETRY_MS = 500,
	DIRECT_REFLECT_UNANSWERED_MS = 15000, /* then this often (UDP may be blocked for now) */
	DIRECT_REOFFER_MS = 10000, /* an offer received is answered with ours, this rarely */
	DIRECT_PROBE_MS = 500,
	DIRECT_FAST_MS = 10000,
	DIRECT_SLOW_PROBE_MS = 5000,
	DIRECT_ROUND_MS = 60000,
	DIRECT_PEERS_MAX = 256, /* peers probed at once */
	DIRECT_HOST_MAX = 8,    /* host candidates offered */
	DIRECT_TCP_MAX = 4,     /* a peer's TCP candidates kept */
	DIRECT_TCP_DEFER_MS = 5000,
	DIRECT_TCP_NEXT_MS = 10000,     /* the next TCP candidate, if the last did not come up */
	DIRECT_SIMOPEN_TRIES = 3,       /* simultaneous opens with a peer per offer, at most */
	DIRECT_SIMOPEN_NEXT_MS = 12000, /* the next one, if the last did not come up */
};

struct direct_ops {
	/* A datagram from the data socket (a reflection request). */
	bool (*send_datagram)(void *arg, const struct sockaddr_storage *to, const uint8_t *buf,
			      size_t len);
	/* An OFFER to the home server. */
	bool (*send_offer)(void *arg, const struct ctlmsg *m);
	/* A probe (an authentic empty frame) to peer at `to`. */
	void (*probe)(void *arg, const char *peer, const struct sockaddr_storage *to);
	/* Does UDP work with peer already (then probing stops)? */
	bool (*direct_works)(void *arg, const char *peer);
	/*
	 * Our candidates changed (the server-reflexive address is new or changed, the host's
	 * addresses did, a router mapping appeared, changed or is gone): offer them again where
	 * it matters.
	 */
	void (*on_reflexive)(void *arg);
	/*
	 * No UDP path to peer: try a direct link to its TCP candidate `to` (who and when:
	 * direct_tcp_plan). Returns > 0: dialed; 0: nothing to do (a direct link is up, or UDP
	 * works): asked again DIRECT_TCP_NEXT_MS later; < 0: not now (a dial runs, the session
	 * is not up): asked again DIRECT_PROBE_MS later. Both with the same candidate. May be
	 * NULL.
	 */
	int (*dial_tcp)(void *arg, const char *peer, const struct sockaddr_storage *to);
	/*
	 * The same for a TCP simultaneous open (direct_simopen_plan): connect from our peer
	 * port to `to` while the peer does the same toward ours; TLS as the client if
	 * tls_client, else as the server. The same answers as dial_tcp. May be NULL.
	 */
	int (*dial_simopen)(void *arg, const char *peer, const struct sockaddr_storage *to,
			    bool tls_client);
	/* Is a direct TCP link with peer up (not the relay's)? May be NULL. */
	bool (*linked)(void *arg, const char *peer);
	/*
	 * The birthday technique's extra sockets (path/udp.h path_udp_aux_*): open one that sends
	 * one datagram to `to` (its id, or -errno), close one, and which one frames to `to` go out
	 * of (-1: the data socket). NULL: the technique is off.
	 */
	int (*aux_open)(void *arg, const struct sockaddr_storage *to);
	void (*aux_close)(void *arg, int id);
	int (*aux_pinned)(void *arg, const struct sockaddr_storage *to);
	/*
	 * The hairpin test's probe (direct/hairpin.h) to our own reflexive address `to`, from an
	 * extra socket (path_udp_aux_open), closed with aux_close once it sent: its id, or -errno.
	 * A second inside endpoint is what a peer behind the same NAT is; from the data socket
	 * itself, the datagram would make a connection whose two directions are the same, which
	 * a NAT need not translate. NULL, or failing: the data socket sends it (send_datagram).
	 */
	int (*hairpin_open)(void *arg, const struct sockaddr_storage *to, const uint8_t *buf,
			    size_t len);
};

struct direct_params {
	const char *self;    /* our identity */
	uint16_t port;       /* the data socket's */
	int family;          /* the data socket's: AF_INET6 (dual-stack) or AF_INET */
	const char *overlay; /* our overlay interface, never a candidate */
	bool portmap;        /* ask the router for mappings of the data port, UDP and TCP */
	/* A TCP port the router forwards to our peer port (config `public-tcp`), offered on our
	 * server-reflexive (else our router's) IPv4 address as a TCP candidate; 0: none. */
	uint16_t public_tcp;
};

struct direct_stats {
	uint64_t reflect_sent, reflect_answers, reflect_bad, offers_sent, offers_received,
	    probes_sent;
	/* The birthday technique: extra sockets opened, probes sprayed, rounds that found a way
	 * (a socket hit and its path validated), openers (empty datagrams) received and ignored. */
	uint64_t bd_sockets, bd_probes, bd_hits, bd_openers;
};

int direct_new(struct direct **out, struct ev_loop *loop, const struct direct_params *params,
	       const struct direct_ops *ops, void *arg);
void direct_free(struct direct *d);

/* Our home server is at `server` (its TCP address; reflection is UDP on the same port). */
void direct_home_up(struct direct *d, const struct sockaddr_storage *server);
void direct_home_down(struct direct *d);
/*
 * A datagram on the data socket that reflect_is_reflect() or hairpin_is_probe() (the hairpin
 * test's, proto/hairpin.h) said is ours (borrowed).
 */
void direct_on_datagram(struct direct *d, const uint8_t *buf, size_t len,
			const struct sockaddr_storage *from);
/* Offers our candidates to peer (an approved one: the caller knows). */
void direct_offer(struct direct *d, const char *peer);
/* An OFFER from an approved peer: a probing round at its candidates. */
void direct_on_offer(struct direct *d, const struct ctlmsg *m);
/*
 * The host's addresses or links changed (kernel-iface/addrwatch.h): if our host candidates are
 * not what they were, a new reflection round at once (the NAT may have a new mapping for us, or
 * we have a new NAT) and offers again (ops.on_reflexive).
 */
void direct_host_changed(struct direct *d);
/* A new reflection round now (a direct path died: has our NAT a new mapping?). */
void direct_reflect_now(struct direct *d);
/* The peer is gone: its round ends. */
void direct_forget(struct direct *d, const char *peer);
/* What reflection told of our NAT, for `vertex netcheck` (the classes: natclass.h). */
struct direct_nat {
	struct sockaddr_storage server, reflexive, reflexive_other, reflexive_alt;
	struct sockaddr_storage server_alt; /* the server's other address, its port; 0: none */
	int mapping, filtering;
	bool answered;
};
void direct_nat(const struct direct *d, struct direct_nat *out);
/* What the router port mapping knows (portmap.h); false if it is off. */
struct portmap_info;
bool direct_portmap_info(const struct direct *d, struct portmap_info *out);
/* The same for the TCP mapping of the peer port. */
bool direct_portmap_tcp_info(const struct direct *d, struct portmap_info *out);

/*
 * Direct TCP: who dials, and when (direct_tcp_plan, on each offer). A candidate list's TCP
 * reachability: 2 if it has a TCP candidate of kind mapped or srflx (a router mapping or a
 * forwarded port), or a host one on the address of its UDP srflx candidate, of its NAT
 * class (CTL_CAND_NAT, which names the reflexive address: a host without NAT offers no srflx,
 * it would repeat the host one) or of its CTL_CAND_SIMOPEN one (the address its server saw of
 * its TCP connection: a public host whose UDP is blocked): no NAT in the way; 1 if it has
 * only other host TCP
 * candidates (behind a NAT, reachable from its LAN only); 0 if none. The side whose list
 * ranks lower dials at once (the other would dial a private address), the other one
 * DIRECT_TCP_DEFER_MS later; equal ranks: the side whose identity sorts first dials at once.
 * Both sides rank the lists as offered (ours with its NAT class), so they agree. When either
 * list has no UDP candidate of kind srflx or mapped and no NAT class (that side's UDP never
 * reached its server: blocked), UDP probing cannot find a way
 * and TCP is due without waiting for the fast phase to end (early). The peer's candidates are
 * dialed mapped first, then srflx, then host ones on the srflx address, then the other host
 * ones (stable), DIRECT_TCP_NEXT_MS apart.
 */
struct direct_tcp_plan {
	int ours, theirs; /* ranks */
	bool dial_first;  /* we dial at once (else after DIRECT_TCP_DEFER_MS) */
	bool early;       /* without waiting for DIRECT_FAST_MS of UDP probing */
};
int direct_tcp_rank(const struct ctl_candidate *c, size_t n);
void direct_tcp_plan(const char *self, const struct ctl_candidate *ours, size_t nours,
		     const char *peer, const struct ctl_candidate *theirs, size_t ntheirs,
		     struct direct_tcp_plan *out);
/* The order in which a TCP candidate of that list is dialed (lower first). */
int direct_tcp_order(const struct ctl_candidate *c, const struct ctl_candidate *all, size_t n);

/*
 * TCP simultaneous open (direct_tcp.c): for two sides that both let in only answers and
 * cannot use UDP. Our home server tells us where our home connection comes from
 * (CTL_OBSERVED); the agent dials it from its peer port, so behind a NAT that keeps ports that
 * is the NAT's TCP mapping of the peer port, which we offer as a CTL_CAND_SIMOPEN candidate
 * (not when the port was not kept: a NAT that picks ports would pick another toward the
 * peer). With a peer that offers one too, and when neither side is reachable by a plain dial
 * (both ranks below 2, direct_tcp_plan: otherwise the plain dial does it), both sides dial
 * each other's from their peer port at about the same time (each at the other's offer: when
 * UDP is blocked on either side at once, else when the fast phase of UDP probing ends; a SYN
 * is retransmitted for seconds, which covers the skew), and the side whose identity sorts
 * first is the TLS client. Up to DIRECT_SIMOPEN_TRIES tries, DIRECT_SIMOPEN_NEXT_MS apart;
 * plain TCP dials of that peer's other candidates wait until they are over.
 */
struct direct_simopen_plan {
	bool on;
	bool tls_client;
	struct sockaddr_storage to; /* the peer's CTL_CAND_SIMOPEN candidate */
};
void direct_simopen_plan(const char *self, const struct ctl_candidate *ours, size_t nours,
			 const char *peer, const struct ctl_candidate *theirs, size_t ntheirs,
			 int family, struct direct_simopen_plan *out);
/*
 * What our home server saw as the source of our home connection (CTL_OBSERVED, borrowed):
 * a change offers our candidates again (ops.on_reflexive). NULL: the home connection is gone.
 */
void direct_on_observed(struct direct *d, const struct sockaddr_storage *seen);
/* The last of it (family 0: none), for `vertex netcheck`. */
const struct sockaddr_storage *direct_observed(const struct direct *d);

/* What the hairpin test found (direct/hairpin.h), for `vertex netcheck`. */
struct hairpin;
const struct hairpin *direct_hairpin(const struct direct *d);
/* Our server-reflexive address (family 0 if not known yet). */
const struct sockaddr_storage *direct_reflexive(const struct direct *d);
const struct direct_stats *direct_stats(const struct direct *d);
/* A peer's candidates, as its last offer gave them (UDP, kinds we know). */
struct direct_cand {
	uint8_t kind;  /* CTL_CAND_* */
	uint8_t proto; /* 17 UDP, 6 TCP */
	bool dialed;   /* TCP: a direct link was tried there */
	struct sockaddr_storage addr;
};
/* Up to max of them into out; how many. *probing: a round with them is running. */
size_t direct_candidates(const struct direct *d, const char *peer, struct direct_cand *out,
			 size_t max, bool *probing);
/*
 * The birthday technique with peer (birthday.h), for `vertex peers`: "" when it is not running,
 * else e.g. "sockets 256" (ours open), "spraying 512/1024", "kept" (a socket hit and carries
 * the path). Into buf (len bytes).
 */
void direct_birthday_state(const struct direct *d, const char *peer, char *buf, size_t len);
/* An empty datagram (another side's birthday opener) reached the data socket: counted. */
void direct_on_opener(struct direct *d);
/* Our candidates now, as an OFFER would carry them; returns how many (at most max). */
size_t direct_gather(const struct direct *d, struct ctl_candidate *out, size_t max);

#endif
