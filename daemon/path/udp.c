// SPDX-License-Identifier: MIT
/*
 * The UDP path's socket: batched sends and receives. See udp.h.
 *
 * Send: frames queue in tx_pkts (in order, with their address) until the before-sleep flush,
 * which groups them into messages -- with UDP GSO, a run of frames to one peer, all of one size
 * but the last, is one message the kernel cuts into datagrams -- and sends them with sendmmsg()
 * (core/udpbatch.c, which the servers' relay shares).
 *
 * Receive: recvmmsg() straight into pool buffers, one datagram each; or, with UDP GRO, into a
 * few large buffers of coalesced same-size datagrams from one sender, each then cut back into
 * frames and copied into a pool buffer (a copy is far cheaper than the per-datagram trips
 * through the stack it replaces).
 */
#include "path/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "core/sockaddr.h"
#include "core/udpbatch.h"

enum {
	UDP_BATCH = UDP_BATCH_MAX, /* frames per send batch and per receive call */
	UDP_GRO_BUFS = 8,          /* coalesced datagrams per recvmmsg when UDP GRO is on */
	UDP_SOCKBUF = 4 << 20,
	UDP_AUX_RECV_MAX = 16, /* datagrams read from an extra socket per readiness */
};

/* An extra socket (udp.h, path_udp_aux_open). */
struct udp_aux {
	struct path_udp *u;
	int fd;    /* -1: the slot is free */
	bool pins; /* frames to `to` go out of this socket */
	struct sockaddr_storage to;
	socklen_t tolen;
	struct ev_io io;
};

struct path_udp {
	struct ev_loop *loop;
	struct pkt_pool *pkts;
	struct path_udp_ops ops;
	void *arg;
	int fd, family;
	struct ev_io io;
	bool gro; /* the kernel hands us coalesced datagrams (UDP_GRO) */
	struct log_ratelimit rl;

	/* Frames waiting for the flush, in order (tx.gso: runs of equal frames are segmented). */
	struct pkt *tx_pkts[UDP_BATCH];
	struct udp_batch tx;
	uint8_t *rx_gro;     /* UDP_GRO_BUFS x UDP_GRO_BUF_SIZE, when gro */
	struct udp_aux *aux; /* PATH_UDP_AUX_MAX slots, allocated at the first; NULL: none yet */
	unsigned naux, npins;
};

static void udp_aux_send_pinned(struct path_udp *u, int id, struct pkt *p);

int
path_underlay_family(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return AF_INET;
	close(fd);
	return AF_INET6;
}

int
path_socket_bind(int family, int type, uint16_t port)
{
	int one = 1, zero = 0, fd;
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * The peer port's listener shares its port with our own connections from it (the home
	 * connection, a simultaneous open: core/dial.h dial_socket_from), which Linux allows only
	 * with SO_REUSEPORT on all of them. Only our own user can join the group; the UDP socket
	 * does not, so a second agent still fails to start on the port.
	 */
	if (type == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Frames the kernel refuses are dropped (UDP is lossy anyway). */
void
path_udp_flush(struct path_udp *u)
{
	struct udp_batch_result r;
	unsigned n = u->tx.n;

	udp_batch_send(&u->tx, u->fd, &r);
	if (r.gso_refused)
		log_warnx("udp: segmentation offload refused; sending frames one by one");
	if (r.err && log_ratelimit_ok(&u->rl, ev_now_ms(u->loop))) {
		errno = r.err;
		log_warn("udp send");
	}
	for (unsigned i = 0; i < n; i++)
		pkt_put(u->pkts, u->tx_pkts[i]);
}

void
path_udp_queue(struct path_udp *u, const struct sockaddr_storage *to, struct pkt *p)
{
	if (u->npins) {
		int id = path_udp_aux_pinned(u, to);

		if (id >= 0) {
			udp_aux_send_pinned(u, id, p);
			return;
		}
	}
	struct sockaddr_storage ss;
	socklen_t sl;

	if (udp_batch_full(&u->tx))
		path_udp_flush(u);
	sl = sockaddr_for_family(u->family, to, &ss);
	u->tx_pkts[u->tx.n] = p;
	udp_batch_add(&u->tx, pkt_data(p), p->len, (const struct sockaddr *)&ss, sl);
}

/* Receives straight into pool buffers, one datagram each (no UDP GRO). */
static void
udp_recv_plain(struct path_udp *u)
{
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	struct pkt *pkts[UDP_BATCH];
	unsigned have = 0;
	int n;

	while (have < UDP_BATCH && (pkts[have] = pkt_get(u->pkts))) {
		struct pkt *p = pkts[have];

		iov[have] = (struct iovec){ .iov_base = pkt_data(p),
					    .iov_len = PKT_BUF_SIZE - PKT_HEADROOM };
		msgs[have] = (struct mmsghdr){ 0 };
		msgs[have].msg_hdr.msg_iov = &iov[have];
		msgs[have].msg_hdr.msg_iovlen = 1;
		msgs[have].msg_hdr.msg_name = &from[have];
		msgs[have].msg_hdr.msg_namelen = sizeof(from[have]);
		have++;
	}
	if (!have) {
		u->ops.on_drop(u->arg, PATH_UDP_DROP_NO_BUFFER, "packet pool exhausted");
		return;
	}
	n = recvmmsg(u->fd, msgs, have, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			u->ops.on_drop(u->arg, PATH_UDP_DROP_OVERSIZED, "oversized datagram");
			pkt_put(u->pkts, pkts[i]);
			continue;
		}
		pkts[i]->len = (uint16_t)msgs[i].msg_len;
		u->ops.on_frame(u->arg, pkts[i], &from[i]);
	}
	for (unsigned i = n > 0 ? (unsigned)n : 0; i < have; i++)
		pkt_put(u->pkts, pkts[i]);
}

/* Cuts a coalesced datagram back into frames, each into a pool buffer. */
static void
udp_split(struct path_udp *u, const uint8_t *buf, size_t len, size_t seg,
	  const struct sockaddr_storage *from)
{
	for (size_t off = 0; off < len; off += seg) {
		size_t n = len - off < seg ? len - off : seg;
		struct pkt *p;

		if (n > PKT_BUF_SIZE - PKT_HEADROOM) {
			u->ops.on_drop(u->arg, PATH_UDP_DROP_OVERSIZED, "oversized datagram");
			continue;
		}
		p = pkt_get(u->pkts);
		if (!p) {
			u->ops.on_drop(u->arg, PATH_UDP_DROP_NO_BUFFER, "packet pool exhausted");
			return;
		}
		memcpy(pkt_data(p), buf + off, n);
		p->len = (uint16_t)n;
		u->ops.on_frame(u->arg, p, from);
	}
}

static void
udp_recv_gro(struct path_udp *u)
{
	struct mmsghdr msgs[UDP_GRO_BUFS];
	struct iovec iov[UDP_GRO_BUFS];
	struct sockaddr_storage from[UDP_GRO_BUFS];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg[UDP_GRO_BUFS];
	int n;

	for (unsigned i = 0; i < UDP_GRO_BUFS; i++) {
		iov[i] =
		    (struct iovec){ u->rx_gro + (size_t)i * UDP_GRO_BUF_SIZE, UDP_GRO_BUF_SIZE };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &from[i],
							 .msg_namelen = sizeof(from[i]),
							 .msg_iov = &iov[i],
							 .msg_iovlen = 1,
							 .msg_control = cmsg[i].buf,
							 .msg_controllen = sizeof(cmsg[i].buf) } };
	}
	n = recvmmsg(u->fd, msgs, UDP_GRO_BUFS, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		struct msghdr *m = &msgs[i].msg_hdr;
		size_t len = msgs[i].msg_len;

		if (m->msg_flags & MSG_TRUNC) {
			u->ops.on_drop(u->arg, PATH_UDP_DROP_OVERSIZED, "oversized datagram");
			continue;
		}
		udp_split(u, iov[i].iov_base, len, udp_gro_segment(m, len), &from[i]);
	}
}

static void
udp_on_readable(struct ev_io *io, uint32_t revents)
{
	struct path_udp *u = container_of(io, struct path_udp, io);

	(void)revents;
	if (u->gro)
		udp_recv_gro(u);
	else
		udp_recv_plain(u);
}

/*
 * UDP segmentation and receive offloads (Linux 4.18 / 5.0): GSO is probed with getsockopt, since
 * it is then asked for per message; GRO is a socket option. Either may be missing: the data path
 * works without them, one datagram per frame.
 */
static void
udp_offloads(struct path_udp *u)
{
	udp_offloads_probe(u->fd, &u->tx.gso, &u->gro);
	if (u->gro && !(u->rx_gro = malloc((size_t)UDP_GRO_BUFS * UDP_GRO_BUF_SIZE)))
		u->gro = false;
	log_debug(LOG_DATA, "udp offloads: segmentation %s, receive coalescing %s",
		  u->tx.gso ? "on" : "off", u->gro ? "on" : "off");
}

/* Ownership: *out is the caller's, freed with path_udp_close; loop and pkts are borrowed. */
int
path_udp_open(struct path_udp **out, struct ev_loop *loop, struct pkt_pool *pkts, int family,
	      uint16_t port, const struct path_udp_ops *ops, void *arg)
{
	int buf = UDP_SOCKBUF, err;
	struct path_udp *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->loop = loop;
	u->pkts = pkts;
	u->ops = *ops;
	u->arg = arg;
	u->family = family;
	u->fd = path_socket_bind(family, SOCK_DGRAM, port);
	if (u->fd < 0) {
		err = u->fd;
		errno = -err;
		log_warn("udp port %u", port);
		free(u);
		return err;
	}
	/* Bursts from the TUN side are batched; give the kernel room to hold them. */
	setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	udp_offloads(u);
	err = ev_io_start(loop, &u->io, u->fd, EV_READ, udp_on_readable);
	if (err) {
		close(u->fd);
		free(u->rx_gro);
		free(u);
		return err;
	}
	*out = u;
	return 0;
}

void
path_udp_close(struct path_udp *u)
{
	if (!u)
		return;
	for (int i = 0; u->aux && i < PATH_UDP_AUX_MAX; i++)
		path_udp_aux_close(u, i);
	free(u->aux);
	path_udp_flush(u);
	ev_io_stop(u->loop, &u->io);
	close(u->fd);
	free(u->rx_gro);
	free(u);
}

int
path_udp_family(const struct path_udp *u)
{
	return u->family;
}

/* --- extra sockets (udp.h) ----------------------------------------------------------------- */

/*
 * A frame for a pinned address goes at once, not batched: these paths are rare (a peer behind a
 * NAT only the birthday technique got through) and one send per frame keeps the code apart from
 * the main socket's batches. Takes p.
 */
static void
udp_aux_send_pinned(struct path_udp *u, int id, struct pkt *p)
{
	struct udp_aux *x = &u->aux[id];

	if (send(x->fd, pkt_data(p), p->len, MSG_DONTWAIT) < 0 && errno != EAGAIN &&
	    errno != ENOBUFS && log_ratelimit_ok(&u->rl, ev_now_ms(u->loop)))
		log_warn("udp send (extra socket)");
	pkt_put(u->pkts, p);
}

static void
udp_aux_on_readable(struct ev_io *io, uint32_t revents)
{
	struct udp_aux *x = container_of(io, struct udp_aux, io);
	struct path_udp *u = x->u;
	int id = (int)(x - u->aux);

	(void)revents;
	for (int n = 0; n < UDP_AUX_RECV_MAX && x->fd >= 0; n++) {
		struct pkt *p = pkt_get(u->pkts);
		ssize_t len;

		if (!p) {
			u->ops.on_drop(u->arg, PATH_UDP_DROP_NO_BUFFER, "packet pool exhausted");
			return;
		}
		len =
		    recv(x->fd, pkt_data(p), PKT_BUF_SIZE - PKT_HEADROOM, MSG_DONTWAIT | MSG_TRUNC);
		if (len < 0) {
			pkt_put(u->pkts, p);
			return;
		}
		if ((size_t)len > PKT_BUF_SIZE - PKT_HEADROOM) {
			u->ops.on_drop(u->arg, PATH_UDP_DROP_OVERSIZED, "oversized datagram");
			pkt_put(u->pkts, p);
			continue;
		}
		p->len = (uint16_t)len;
		/* Connected: it came from x->to. The pin first, so the answer takes this way. */
		if (!x->pins && path_udp_aux_pinned(u, &x->to) < 0) {
			x->pins = true;
			u->npins++;
		}
		u->ops.on_frame(u->arg, p, &x->to);
		x = &u->aux[id]; /* on_frame may have closed it (fd -1: the loop ends) */
	}
}

/* Ownership: the socket is u's until path_udp_aux_close or path_udp_close. */
int
path_udp_aux_open(struct path_udp *u, const struct sockaddr_storage *to, const uint8_t *buf,
		  size_t len)
{
	struct udp_aux *x = NULL;
	int id, err;

	if (!u->aux) {
		if (!(u->aux = calloc(PATH_UDP_AUX_MAX, sizeof(*u->aux))))
			return -ENOMEM;
		for (int i = 0; i < PATH_UDP_AUX_MAX; i++)
			u->aux[i].fd = -1;
	}
	for (id = 0; id < PATH_UDP_AUX_MAX && u->aux[id].fd >= 0; id++)
		;
	if (id == PATH_UDP_AUX_MAX)
		return -EMFILE;
	x = &u->aux[id];
	*x = (struct udp_aux){ .u = u, .fd = -1 };
	x->tolen = sockaddr_for_family(u->family, to, &x->to);
	if ((x->fd = path_socket_bind(u->family, SOCK_DGRAM, 0)) < 0) {
		err = x->fd;
		x->fd = -1;
		return err;
	}
	if (connect(x->fd, (const struct sockaddr *)&x->to, x->tolen) < 0 ||
	    send(x->fd, buf, len, MSG_DONTWAIT) < 0) {
		err = -errno;
		goto err_close;
	}
	if ((err = ev_io_start(u->loop, &x->io, x->fd, EV_READ, udp_aux_on_readable)))
		goto err_close;
	u->naux++;
	return id;
err_close:
	close(x->fd);
	x->fd = -1;
	return err;
}

void
path_udp_aux_close(struct path_udp *u, int id)
{
	struct udp_aux *x;

	if (!u->aux || id < 0 || id >= PATH_UDP_AUX_MAX || u->aux[id].fd < 0)
		return;
	x = &u->aux[id];
	ev_io_stop(u->loop, &x->io);
	close(x->fd);
	x->fd = -1;
	u->naux--;
	if (x->pins) {
		x->pins = false;
		u->npins--;
	}
}

int
path_udp_aux_pinned(const struct path_udp *u, const struct sockaddr_storage *to)
{
	for (int i = 0; u->npins && i < PATH_UDP_AUX_MAX; i++)
		if (u->aux[i].fd >= 0 && u->aux[i].pins && sockaddr_same(&u->aux[i].to, to))
			return i;
	return -1;
}

unsigned
path_udp_aux_count(const struct path_udp *u)
{
	return u->naux;
}
