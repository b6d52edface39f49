// SPDX-License-Identifier: MIT
/*
 * The packet path.
 *
 * Outbound: a packet read from the TUN device lands in a pool buffer at PKT_HEADROOM; its
 * destination address gives the peer by arithmetic (peer_by_dst); it is sealed in place and
 * queued for one sendmmsg() per loop turn (the before-sleep flush), so a burst of reads costs
 * one send syscall. If UDP has not been seen working with this peer but a link is open, the frame
 * goes in a FRAME record on the link instead.
 *
 * Inbound: recvmmsg() fills up to AGENT_BATCH buffers; each frame's header is checked (cheap),
 * its receiver index names the keypair, the replay window is consulted before the AEAD, then
 * the inner packet is translated (xlate.c) and written to the TUN device.
 *
 * Nothing here allocates: every buffer comes from the agent's pkt pool, and every failure is a
 * counted drop.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/agent.h"
#include "core/pkt.h"
#include "kernel-iface/tun.h"
#include "proto/frame.h"

/* Sends what is queued. Frames the kernel refuses are dropped (UDP is lossy anyway). */
void
dataplane_flush(struct agent *a)
{
	unsigned sent = 0;

	while (sent < a->ntx) {
		int n = sendmmsg(a->udp_fd, a->tx_msgs + sent, a->ntx - sent, MSG_DONTWAIT);

		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != ENOBUFS &&
			    log_ratelimit_ok(&a->drop_rl, ev_now_ms(a->loop)))
				log_warn("udp send");
			/* Skip the frame that failed (e.g. unreachable) and go on with the rest. */
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
	a->tx_iov[i] = (struct iovec){ .iov_base = pkt_data(p), .iov_len = p->len };
	a->tx_msgs[i] = (struct mmsghdr){ 0 };
	a->tx_msgs[i].msg_hdr.msg_iov = &a->tx_iov[i];
	a->tx_msgs[i].msg_hdr.msg_iovlen = 1;
	a->tx_msgs[i].msg_hdr.msg_name = &a->tx_addr[i];
	a->tx_msgs[i].msg_hdr.msg_namelen = underlay_sockaddr(a, to, &a->tx_addr[i]);
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
	peer_on_rx(peer, from, kp);
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

static void
dataplane_on_udp(struct ev_io *io, uint32_t revents)
{
	struct agent *a = container_of(io, struct agent, udp_io);
	struct mmsghdr msgs[AGENT_BATCH];
	struct iovec iov[AGENT_BATCH];
	struct sockaddr_storage from[AGENT_BATCH];
	struct pkt *pkts[AGENT_BATCH];
	unsigned have = 0;
	int n;

	(void)revents;
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

void
dataplane_on_stream_frame(struct agent *a, struct link *l, const uint8_t *frame, size_t len)
{
	struct pkt *p;

	(void)l;
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
	int err = ev_io_start(a->loop, &a->tun_io, tun_fd(a->tun), EV_READ, dataplane_on_tun);

	if (!err)
		err = ev_io_start(a->loop, &a->udp_io, a->udp_fd, EV_READ, dataplane_on_udp);
	if (!err)
		ev_set_before_sleep(a->loop, dataplane_flush_hook, a);
	return err;
}
