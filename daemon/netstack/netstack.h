/* SPDX-License-Identifier: MIT */
/*
 * The userspace TCP/IP stack (DESIGN §9, docs/userspace.md): lwIP standing in for the kernel
 * when there is no TUN device. This header is lwIP-free; only the files of daemon/netstack/ include
 * lwIP's headers.
 *
 * Packets: the stack has one network interface holding our overlay addresses (the IPv4 /10
 * and the IPv6 ULA /48 as the agent has them). netstack_input() takes an inner IP packet the
 * session layer decrypted for us; every packet lwIP sends goes to ops->output (the agent hands
 * it to dataplane_send, as it would a packet read from the TUN device).
 *
 * Connections: every TCP connection, accepted (netstack_listen) or dialed (netstack_connect),
 * is bridged to one end of an AF_UNIX socketpair; the caller gets the other end, an ordinary
 * stream descriptor, so the SOCKS5 server, port forwards and the application interface work
 * on plain descriptors in both TUN and userspace modes. The bridge (tcpfd.c) pumps on the
 * event loop with flow control both ways: it reads the descriptor only while lwIP's send
 * buffer has room, and acknowledges received data to lwIP (opening its window) only once it
 * was written to the descriptor. EOF on the descriptor sends a FIN; a FIN received shuts the
 * descriptor's writing side; a connection ends when both directions have. A reset from the
 * remote closes our end (the caller reads EOF, or ECONNRESET if it had written data the bridge
 * had not yet read); data arriving for a caller that closed its end resets the connection.
 *
 * Threading: Debian's liblwip is built with NO_SYS=0 and LWIP_TCPIP_CORE_LOCKING (a tcpip
 * thread and a core lock, for lwIP's sockets and netconn APIs). We never start that thread
 * (no tcpip_init) and use only the raw, callback API, on the loop's thread: lwip_init() once
 * per process, packets in through ip_input(), lwIP's timers run by sys_check_timeouts() from an
 * ev_timer armed to sys_timeouts_sleeptime(). lwIP's core-lock assertion passes by design when
 * no tcpip thread exists. Consequences: lwIP's globals make this one stack per process
 * (netstack_new refuses a second one with -EBUSY), lwIP's sockets/netconn APIs must never be
 * called, and nothing may make lwIP post to the tcpip thread's mailbox (its loopback path:
 * so packets from or to our own addresses are refused here).
 *
 * Bounds: cfg->conns_max bridged connections (0: NETSTACK_CONNS_DEFAULT); a SYN is dropped
 * (counted) while lwIP holds that many connections in any state; at most NETSTACK_TIMEWAIT_MAX
 * TIME_WAIT connections (the oldest is dropped); per connection, lwIP's 64 KiB send buffer and
 * receive window (Debian's TCP_SND_BUF, TCP_WND) plus the socketpair's kernel buffers.
 */
#ifndef VERTEX_NETSTACK_H
#define VERTEX_NETSTACK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct netstack;

enum {
	NETSTACK_CONNS_DEFAULT = 1024,
	NETSTACK_TIMEWAIT_MAX = 1024,
	NETSTACK_LISTENERS_MAX = 64,
	NETSTACK_MTU_MIN = 1280, /* IPv6's minimum */
	NETSTACK_MTU_MAX = 65535,
	NETSTACK_PUMP_CHUNK = 16384, /* bytes read from a bridged descriptor at a time */
	/*
	 * TCP keepalive on every bridged connection (the caller's descriptor cannot ask for it):
	 * after this long idle, probes; a peer that vanished is given up 9 probes later.
	 */
	NETSTACK_KEEPALIVE_IDLE_MS = 15 * 60 * 1000,
	NETSTACK_KEEPALIVE_INTVL_MS = 75 * 1000,
	NETSTACK_KEEPALIVE_COUNT = 9,
};

enum netstack_drop {
	NETSTACK_DROP_MALFORMED,   /* not an IPv4/IPv6 packet of a sane length */
	NETSTACK_DROP_PROTO,       /* not TCP, UDP or ICMP (UDP-Lite, IGMP, IPv6 options, ...) */
	NETSTACK_DROP_OWN_SOURCE,  /* from one of our own addresses (never from a peer) */
	NETSTACK_DROP_CONNS_FULL,  /* a SYN while the stack holds conns_max connections */
	NETSTACK_DROP_NOMEM,       /* lwIP could not allocate */
	NETSTACK_DROP_OUT_MCAST,   /* lwIP sent multicast (router solicitation, MLD): no peer */
	NETSTACK_DROP_OUT_TOO_BIG, /* lwIP sent more than the MTU (never expected) */
	NETSTACK_DROP_MAX
};

struct netstack_config {
	struct in_addr addr4; /* our overlay IPv4 address */
	uint8_t prefix4;      /* its pool's prefix length (10) */
	struct in6_addr addr6;
	uint8_t prefix6; /* 48 */
	uint16_t mtu;    /* the overlay MTU, NETSTACK_MTU_MIN..NETSTACK_MTU_MAX */
	unsigned conns_max;
};

struct netstack_ops {
	/* A complete IP packet lwIP sends (borrowed for the call). */
	void (*output)(void *arg, const uint8_t *pkt, size_t len);
	/* An ICMP echo reply to us (netstack_echo's, or anyone's); NULL: none wanted. */
	void (*echo_reply)(void *arg, const struct in_addr *from, uint16_t id, uint16_t seq);
};

/*
 * Constructor: *out owned by the caller, freed with netstack_free. Borrows loop, cfg is copied,
 * ops and arg are kept. 0, -EINVAL (bad config), -EBUSY (a stack exists), -ENOMEM.
 */
int netstack_new(struct netstack **out, struct ev_loop *loop, const struct netstack_config *cfg,
		 const struct netstack_ops *ops, void *arg);
/*
 * Not from within one of the stack's own callbacks (output, accept, connected), which run
 * inside lwIP. Resets every connection (no output is sent), closes listeners, and drops what lwIP
 * still holds (connections it was closing, TIME_WAIT), so a later netstack_new starts clean. NULL
 * is fine.
 */
void netstack_free(struct netstack *ns);

/* A decrypted inner IP packet for us (borrowed; copied into lwIP). Bad ones are counted. */
void netstack_input(struct netstack *ns, const uint8_t *pkt, size_t len);

/*
 * Called with each connection accepted on a listening port: fd is the caller's own (blocking,
 * close-on-exec) and stays valid after the call; from is the remote (the peer's overlay
 * address as we see it), to our address and the port.
 */
typedef void netstack_accept_fn(void *arg, int fd, const struct sockaddr_storage *from,
				const struct sockaddr_storage *to);

/* Listens on TCP port on both our addresses. 0, -EADDRINUSE, -ENOSPC (too many), -ENOMEM. */
int netstack_listen(struct netstack *ns, uint16_t port, netstack_accept_fn *on_accept, void *arg);
/* Stops listening; accepted connections go on. -ENOENT if port is not listened on. */
int netstack_unlisten(struct netstack *ns, uint16_t port);

/*
 * Called once when a dialed connection is up (err 0) or failed: -ECONNREFUSED (reset),
 * -ETIMEDOUT, -ECONNABORTED. After a failure the caller's descriptor reads EOF.
 */
typedef void netstack_connected_fn(void *arg, int err);

/*
 * Dials to (AF_INET or AF_INET6, address and port) from our address of that family. *fd_out
 * is the caller's at once (blocking, close-on-exec); what is written to it before the
 * connection is up waits in the socketpair. on_connected is called later, never from within
 * this call, unless netstack_free comes first. 0, -EINVAL, -EAFNOSUPPORT, -EADDRNOTAVAIL (to
 * is our own address), -EMFILE (conns_max), -ENOMEM, or -errno of socketpair().
 */
int netstack_connect(struct netstack *ns, const struct sockaddr_storage *to,
		     netstack_connected_fn *on_connected, void *arg, int *fd_out);

/*
 * Resets (RST) every TCP connection with the remote address of addr (its port is ignored),
 * bridged or still in lwIP's hands, e.g. when the agent removes or revokes that peer. Returns
 * how many.
 */
size_t netstack_reset_peer(struct netstack *ns, const struct sockaddr_storage *addr);

/*
 * An ICMP echo request from our IPv4 address to `to` with id and seq (a fixed 24-byte payload),
 * for `vertex ping` in userspace mode; its reply comes to ops->echo_reply. 0, -EINVAL (no
 * echo_reply op), -EADDRNOTAVAIL (to is our own address), -ENOMEM, -EHOSTUNREACH.
 */
int netstack_echo(struct netstack *ns, const struct in_addr *to, uint16_t id, uint16_t seq);

/* Bridged connections now (not counting those lwIP still closes on its own). */
size_t netstack_conns(const struct netstack *ns);
uint64_t netstack_drops(const struct netstack *ns, enum netstack_drop d);
const char *netstack_drop_name(enum netstack_drop d);

#endif
