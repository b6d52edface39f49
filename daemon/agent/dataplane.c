// SPDX-License-Identifier: MIT
/*
 * The packet path.
 *
 * Outbound: a packet read from the TUN device lands in a pool buffer at PKT_HEADROOM; its
 * destination address gives the peer by arithmetic (peer_by_dst); it is sealed in place and
 * queued for one sendmmsg() per loop turn (the before-sleep flush), so a burst of reads costs
 * one send syscall; with UDP GSO, a run of equal-size frames to one peer is also one trip through
 * the kernel's UDP/IP stack. If UDP has not been seen working with this peer but a link is open,
 * the frame goes in a FRAME record on the link instead.
 *
 * Inbound: recvmmsg() fills up to AGENT_BATCH buffers (or, with UDP GRO, a few large buffers of
 * coalesced datagrams, cut back into frames); each frame's header is checked (cheap),
 * its receiver index names the keypair, the replay window is consulted before the AEAD, then
 * the inner packet is translated (xlate.c) and written to the TUN device.
 *
 * Nothing here allocates: every buffer comes from the agent's pkt pool, and every failure is a
 * counted drop.
 */
#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/agent.h"
#include "core/pkt.h"
#include "kernel-iface/tun.h"
#include "proto/frame.h"

/* True if queued frames i and j go to the same address. */
static bool
dataplane_same_dest(const struct agent *a, unsigned i, unsigned j)
{
	return a->tx_addrlen[i] == a->tx_addrlen[j] &&
	       !memcmp(&a->tx_addr[i], &a->tx_addr[j], a->tx_addrlen[i]);
}

/*
 * Groups the queue into messages: with UDP GSO, a run of frames to one peer, all of one size but
 * the last (which may be shorter), becomes one message the kernel cuts into datagrams after the
 * UDP/IP stack has been traversed once (UDP_SEGMENT). Returns the number of messages.
 */
static unsigned
dataplane_build_msgs(struct agent *a)
{
	unsigned nmsg = 0;

	for (unsigned i = 0; i < a->ntx;) {
		unsigned start = i;
		size_t seg = a->tx_pkts[i]->len, total = seg;
		struct msghdr *m = &a->tx_msgs[nmsg].msg_hdr;

		a->tx_iov[i] = (struct iovec){ pkt_data(a->tx_pkts[i]), a->tx_pkts[i]->len };
		for (i++; a->udp_gso && i < a->ntx && i - start < AGENT_GSO_MAX_SEGS; i++) {
			size_t len = a->tx_pkts[i]->len;

			if (len > seg || total + len > AGENT_GSO_MAX_BYTES ||
			    !dataplane_same_dest(a, start, i) || a->tx_pkts[i - 1]->len < seg)
				break;
			a->tx_iov[i] = (struct iovec){ pkt_data(a->tx_pkts[i]), len };
			total += len;
		}
		*m = (struct msghdr){ .msg_name = &a->tx_addr[start],
				      .msg_namelen = a->tx_addrlen[start],
				      .msg_iov = &a->tx_iov[start],
				      .msg_iovlen = i - start };
		if (i - start > 1) {
			struct cmsghdr *c = &a->tx_cmsg[nmsg].align;
			uint16_t gso = (uint16_t)seg;

			m->msg_control = a->tx_cmsg[nmsg].buf;
			m->msg_controllen = sizeof(a->tx_cmsg[nmsg].buf);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(gso));
			memcpy(CMSG_DATA(c), &gso, sizeof(gso));
		}
		nmsg++;
	}
	return nmsg;
}

/* Sends what is queued. Frames the kernel refuses are dropped (UDP is lossy anyway). */
void
dataplane_flush(struct agent *a)
{
	unsigned nmsg = dataplane_build_msgs(a), sent = 0;

	while (sent < nmsg) {
		int n = sendmmsg(a->udp_fd, a->tx_msgs + sent, nmsg - sent, MSG_DONTWAIT);

		if (n <= 0) {
			if (n < 0 && errno == EIO && a->udp_gso) {
				/* The route's device cannot take GSO after all: stop using it. */
				log_warnx(
				    "udp: segmentation offload refused; sending frames one by one");
				a->udp_gso = false;
			} else if (n < 0 && errno != EAGAIN && errno != ENOBUFS &&
				   log_ratelimit_ok(&a->drop_rl, ev_now_ms(a->loop))) {
				log_warn("udp send");
			}
			/* Skip the message that failed (e.g. unreachable) and go on with the rest.
			 */
			sent++;
			continue;
		}
		sent += (unsigned)n;
	}
	for (unsigned i = 0; i < a->ntx; i++)
		pkt_put(a->pkts, a->tx_pkts[i]);
	a->ntx = 0;
}

static void
dataplane_flush_hook(void *arg)
{
	dataplane_flush(arg);
}

static void
dataplane_queue_udp(struct agent *a, const struct sockaddr_storage *to, struct pkt *p)
{
	unsigned i;

	if (a->ntx == AGENT_BATCH)
		dataplane_flush(a);
	i = a->ntx++;
	a->tx_pkts[i] = p;
	a->tx_addrlen[i] = sockaddr_for_family(a->underlay_family, to, &a->tx_addr[i]);
}

/* Sends a sealed frame on the best path we have for the peer; takes ownership of p. */
static void
dataplane_output(struct agent *a, struct peer *peer, struct pkt *p)
{
	if (peer->endpoint.ss_family && (peer_udp_is_alive(peer) || !peer->link)) {
		dataplane_queue_udp(a, &peer->endpoint, p);
		return;
	}
	if (!peer->link || !link_send_record(peer->link, RECORD_FRAME, pkt_data(p), p->len))
		peer_count_drop(peer, PEER_DROP_NO_SESSION, "no path to the peer");
	pkt_put(a->pkts, p);
}

static void
dataplane_send(struct agent *a, struct pkt *p)
{
	struct peer *peer = peer_by_dst(a, pkt_data(p), p->len);
	struct keypair *kp;
	size_t len = p->len;

	if (!peer) {
		agent_count_drop(a, AGENT_DROP_NO_ROUTE, "destination is no peer's address");
		pkt_put(a->pkts, p);
		return;
	}
	kp = peer->current;
	if (!kp || !session_seal(kp, p)) {
		peer->stats.drops[PEER_DROP_NO_SESSION]++;
		peer_need_session(peer);
		pkt_put(a->pkts, p);
		return;
	}
	peer->stats.tx_packets++;
	peer->stats.tx_bytes += len;
	peer_on_tx(peer, kp);
	dataplane_output(a, peer, p);
}

static void
dataplane_on_tun(struct ev_io *io, uint32_t revents)
{
	struct agent *a = container_of(io, struct agent, tun_io);

	(void)revents;
	for (int i = 0; i < AGENT_BATCH; i++) {
		struct pkt *p = pkt_get(a->pkts);
		ssize_t n;

		if (!p) {
			/* Leave the packet in the TUN queue; the flush frees buffers. */
			agent_count_drop(a, AGENT_DROP_NO_BUFFER, "packet pool exhausted");
			dataplane_flush(a);
			return;
		}
		n = tun_read(a->tun, pkt_data(p), PKT_DATA_MAX);
		if (n <= 0) {
			if (n < 0 && n != -EAGAIN) {
				errno = (int)-n;
				log_warn("tun read");
			}
			pkt_put(a->pkts, p);
			return;
		}
		p->len = (uint16_t)n;
		dataplane_send(a, p);
	}
}

/* The length the inner IP header claims, bounded by what arrived. */
static size_t
dataplane_ip_len(const uint8_t *ip, size_t len)
{
	size_t claimed = len;

	if (len >= 20 && ip[0] >> 4 == 4)
		claimed = (size_t)ip[2] << 8 | ip[3];
	else if (len >= 40 && ip[0] >> 4 == 6)
		claimed = 40 + ((size_t)ip[4] << 8 | ip[5]);
	return claimed < len ? claimed : len;
}

static enum peer_drop
dataplane_xlate_drop(enum xlate_result r)
{
	return r == XLATE_BAD_SOURCE ? PEER_DROP_BAD_SOURCE : PEER_DROP_MALFORMED;
}

/* Handles one received frame in p (UDP when from is set, a link otherwise); consumes p. */
static void
dataplane_receive(struct agent *a, struct pkt *p, const struct sockaddr_storage *from)
{
	struct frame_hdr h;
	struct keypair *kp;
	struct peer *peer;
	enum session_open_result o;
	enum xlate_result x;
	size_t len;

	if (!frame_hdr_decode(pkt_data(p), p->len, &h)) {
		agent_count_drop(a, AGENT_DROP_MALFORMED, "bad frame header");
		goto out;
	}
	kp = session_index_find(a->index, h.receiver);
	if (!kp) {
		agent_count_drop(a, AGENT_DROP_UNKNOWN_RECEIVER, "no session has this index");
		goto out;
	}
	peer = kp->owner;
	o = session_open(kp, p, h.counter);
	if (o != SESSION_OPEN_OK) {
		peer_count_drop(peer, o == SESSION_OPEN_REPLAY ? PEER_DROP_REPLAY : PEER_DROP_AUTH,
				o == SESSION_OPEN_REPLAY ? "counter already seen or too old"
							 : "authentication failed");
		goto out;
	}
	peer_on_rx(peer, from);
	if (!p->len)
		goto out; /* keepalive */
	x = xlate_inbound(pkt_data(p), p->len, &peer->map);
	if (x != XLATE_OK) {
		peer_count_drop(peer, dataplane_xlate_drop(x), xlate_result_name(x));
		goto out;
	}
	len = dataplane_ip_len(pkt_data(p), p->len);
	peer->stats.rx_packets++;
	peer->stats.rx_bytes += len;
	if (tun_write(a->tun, pkt_data(p), len) < 0 &&
	    log_ratelimit_ok(&a->drop_rl, ev_now_ms(a->loop)))
		log_warnx("tun write failed");
out:
	pkt_put(a->pkts, p);
}

/* Receives straight into pool buffers, one datagram each (no UDP GRO). */
static void
dataplane_recv_plain(struct agent *a)
{
	struct mmsghdr msgs[AGENT_BATCH];
	struct iovec iov[AGENT_BATCH];
	struct sockaddr_storage from[AGENT_BATCH];
	struct pkt *pkts[AGENT_BATCH];
	unsigned have = 0;
	int n;

	while (have < AGENT_BATCH && (pkts[have] = pkt_get(a->pkts))) {
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
		agent_count_drop(a, AGENT_DROP_NO_BUFFER, "packet pool exhausted");
		return;
	}
	n = recvmmsg(a->udp_fd, msgs, have, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			agent_count_drop(a, AGENT_DROP_MALFORMED, "oversized datagram");
			pkt_put(a->pkts, pkts[i]);
			continue;
		}
		pkts[i]->len = (uint16_t)msgs[i].msg_len;
		dataplane_receive(a, pkts[i], &from[i]);
	}
	for (unsigned i = n > 0 ? (unsigned)n : 0; i < have; i++)
		pkt_put(a->pkts, pkts[i]);
}

/* The segment size of a coalesced datagram, or its whole length if it was not coalesced. */
static size_t
dataplane_gro_size(struct msghdr *m, size_t len)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		int gso;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(gso)))
			continue;
		memcpy(&gso, CMSG_DATA(c), sizeof(gso));
		if (gso > 0 && (size_t)gso < len)
			return (size_t)gso;
	}
	return len;
}

/* Cuts a coalesced datagram back into frames, each into a pool buffer. */
static void
dataplane_split(struct agent *a, const uint8_t *buf, size_t len, size_t seg,
		const struct sockaddr_storage *from)
{
	for (size_t off = 0; off < len; off += seg) {
		size_t n = len - off < seg ? len - off : seg;
		struct pkt *p;

		if (n > PKT_BUF_SIZE - PKT_HEADROOM) {
			agent_count_drop(a, AGENT_DROP_MALFORMED, "oversized datagram");
			continue;
		}
		p = pkt_get(a->pkts);
		if (!p) {
			agent_count_drop(a, AGENT_DROP_NO_BUFFER, "packet pool exhausted");
			return;
		}
		memcpy(pkt_data(p), buf + off, n);
		p->len = (uint16_t)n;
		dataplane_receive(a, p, from);
	}
}

/*
 * With UDP GRO the kernel may hand us up to 64 KiB of same-size datagrams from one sender in one
 * buffer, so we receive into large buffers and copy each frame into a pool buffer: a copy is far
 * cheaper than the per-datagram trips through the stack it replaces.
 */
static void
dataplane_recv_gro(struct agent *a)
{
	struct mmsghdr msgs[AGENT_GRO_BUFS];
	struct iovec iov[AGENT_GRO_BUFS];
	struct sockaddr_storage from[AGENT_GRO_BUFS];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cmsg[AGENT_GRO_BUFS];
	int n;

	for (unsigned i = 0; i < AGENT_GRO_BUFS; i++) {
		iov[i] = (struct iovec){ a->rx_gro + (size_t)i * AGENT_GRO_BUF_SIZE,
					 AGENT_GRO_BUF_SIZE };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &from[i],
							 .msg_namelen = sizeof(from[i]),
							 .msg_iov = &iov[i],
							 .msg_iovlen = 1,
							 .msg_control = cmsg[i].buf,
							 .msg_controllen = sizeof(cmsg[i].buf) } };
	}
	n = recvmmsg(a->udp_fd, msgs, AGENT_GRO_BUFS, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		struct msghdr *m = &msgs[i].msg_hdr;
		size_t len = msgs[i].msg_len;

		if (m->msg_flags & MSG_TRUNC) {
			agent_count_drop(a, AGENT_DROP_MALFORMED, "oversized datagram");
			continue;
		}
		dataplane_split(a, iov[i].iov_base, len, dataplane_gro_size(m, len), &from[i]);
	}
}

static void
dataplane_on_udp(struct ev_io *io, uint32_t revents)
{
	struct agent *a = container_of(io, struct agent, udp_io);

	(void)revents;
	if (a->udp_gro)
		dataplane_recv_gro(a);
	else
		dataplane_recv_plain(a);
}

void
dataplane_on_stream_frame(struct agent *a, const uint8_t *frame, size_t len)
{
	struct pkt *p;

	if (len > FRAME_MAX_LEN || len > PKT_BUF_SIZE - PKT_HEADROOM) {
		agent_count_drop(a, AGENT_DROP_MALFORMED, "oversized frame record");
		return;
	}
	p = pkt_get(a->pkts);
	if (!p) {
		agent_count_drop(a, AGENT_DROP_NO_BUFFER, "packet pool exhausted");
		return;
	}
	memcpy(pkt_data(p), frame, len);
	p->len = (uint16_t)len;
	dataplane_receive(a, p, NULL);
}

void
dataplane_send_keepalive(struct peer *peer)
{
	struct agent *a = peer->agent;
	bool udp_alive = peer_udp_is_alive(peer);
	struct pkt *p;

	if (!peer->current)
		return;
	/*
	 * Over UDP always, when we know where: a keepalive is also how UDP is found to work. Over
	 * the link too while UDP is not proven, so a peer behind a UDP block does not look dead.
	 */
	if (peer->endpoint.ss_family && (p = pkt_get(a->pkts))) {
		if (session_seal(peer->current, p))
			dataplane_queue_udp(a, &peer->endpoint, p);
		else
			pkt_put(a->pkts, p);
	}
	if (!udp_alive && peer->link && (p = pkt_get(a->pkts))) {
		if (session_seal(peer->current, p))
			link_send_record(peer->link, RECORD_FRAME, pkt_data(p), p->len);
		pkt_put(a->pkts, p);
	}
	peer->last_tx_ms = ev_now_ms(a->loop);
}

int
dataplane_start(struct agent *a)
{
	int err;

	if (a->udp_gro && !(a->rx_gro = malloc((size_t)AGENT_GRO_BUFS * AGENT_GRO_BUF_SIZE)))
		a->udp_gro = false;
	err = ev_io_start(a->loop, &a->tun_io, tun_fd(a->tun), EV_READ, dataplane_on_tun);

	if (!err)
		err = ev_io_start(a->loop, &a->udp_io, a->udp_fd, EV_READ, dataplane_on_udp);
	if (!err)
		ev_set_before_sleep(a->loop, dataplane_flush_hook, a);
	return err;
}
