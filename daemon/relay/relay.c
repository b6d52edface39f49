// SPDX-License-Identifier: MIT
/*
 * The agent's end of the relay: channels pumped between a socketpair and RELAY records, frames
 * in RELAY_FRAME records (relay.h).
 */
#include "relay/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "core/sockaddr.h"
#include "crypto/aead.h"
#include "proto/ctlmsg.h"
#include "proto/relayudp.h"

enum { RELAY_READS_PER_TURN = 8 };

struct relay_chan {
	struct relay *r;
	struct relay_chan *next;
	char peer[CTL_STR_MAX + 1];
	uint32_t id;
	bool ours; /* we opened it (our records carry CTL_RELAY_DIALER) */
	int fd;    /* our end of the socketpair */
	struct ev_io io;
	uint8_t *wbuf; /* toward the link, when it does not take everything at once */
	size_t wlen;
	uint64_t opened_ms;
};

/* A peer we relay to over UDP: its handle is its index in struct relay_udp's peer[]. */
struct relay_udp_peer {
	char peer[CTL_STR_MAX + 1]; /* "" when the handle is free */
	bool acked;                 /* the server took our PAIR */
	uint64_t seq;               /* of the PAIR last sent */
};

/* Frames over UDP to the home server (relay.h); on only between relay_udp_up and home down. */
struct relay_udp {
	bool on;
	struct sockaddr_storage server;
	uint64_t ticket;
	uint8_t key[RUDP_KEY_LEN];
	uint64_t seq;        /* the last BIND or PAIR sent */
	uint64_t ok_seq;     /* the BIND the last BIND_OK answered */
	uint64_t ok_ms;      /* when that came; 0: never */
	bool works;          /* as last said in the log */
	unsigned last_found; /* the handle the last lookup found */
	struct ev_timer timer;
	struct relay_udp_peer p[RUDP_HANDLES_MAX + 1]; /* [0] unused */
};

struct relay {
	struct ev_loop *loop;
	struct relay_udp udp;
	char self[CTL_STR_MAX + 1];
	struct relay_ops ops;
	void *arg;
	struct relay_chan *chans;
	size_t nchans;
	uint32_t next_id;
	struct relay_stats stats;
};

static bool
relay_send_record(struct relay *r, const struct relay_chan *c, uint8_t flags, const uint8_t *data,
		  size_t len)
{
	struct ctlmsg m = { .type = CTL_RELAY };

	snprintf(m.u.relay.from, sizeof(m.u.relay.from), "%s", r->self);
	snprintf(m.u.relay.to, sizeof(m.u.relay.to), "%s", c->peer);
	m.u.relay.channel = c->id;
	m.u.relay.flags = (uint8_t)(flags | (c->ours ? CTL_RELAY_DIALER : 0));
	m.u.relay.data = data;
	m.u.relay.data_len = len;
	return r->ops.send(r->arg, &m);
}

/* Ends c: a FIN to the peer if say_fin, our end closed (the link sees its stream end). */
static void
relay_chan_end(struct relay_chan *c, bool say_fin, const char *why)
{
	struct relay *r = c->r;

	for (struct relay_chan **pp = &r->chans; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	r->nchans--;
	if (say_fin)
		relay_send_record(r, c, CTL_RELAY_FIN, NULL, 0);
	log_debug(LOG_PEER, "relay: channel %08x with %s ended: %s", c->id, c->peer, why);
	ev_io_stop(r->loop, &c->io);
	close(c->fd);
	free(c->wbuf);
	free(c);
}

static void
relay_chan_events(struct relay_chan *c)
{
	ev_io_set_events(c->r->loop, &c->io, EV_READ | (c->wlen ? EV_WRITE : 0));
}

/* Writes what waits toward the link; false if the channel ended. */
static bool
relay_chan_flush(struct relay_chan *c)
{
	while (c->wlen) {
		ssize_t n = write(c->fd, c->wbuf, c->wlen);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			relay_chan_end(c, true, "the link's end is closed");
			return false;
		}
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (size_t)n;
	}
	relay_chan_events(c);
	return true;
}

/* Bytes from the peer, toward the link. */
static bool
relay_chan_write(struct relay_chan *c, const uint8_t *data, size_t len)
{
	if (!c->wlen) {
		ssize_t n = write(c->fd, data, len);

		if (n < 0 && errno != EAGAIN) {
			relay_chan_end(c, true, "the link's end is closed");
			return false;
		}
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		}
	}
	if (!len)
		return true;
	if (c->wlen + len > RELAY_CHANNEL_WBUF) {
		c->r->stats.records_dropped++;
		relay_chan_end(c, true, "the link does not read what the peer sends");
		return false;
	}
	if (!c->wbuf && !(c->wbuf = malloc(RELAY_CHANNEL_WBUF))) {
		relay_chan_end(c, true, "out of memory");
		return false;
	}
	memcpy(c->wbuf + c->wlen, data, len);
	c->wlen += len;
	relay_chan_events(c);
	return true;
}

/* What the link wrote goes to the peer. */
static void
relay_chan_read(struct relay_chan *c)
{
	static uint8_t buf[CTL_RELAY_DATA_MAX];

	for (int i = 0; i < RELAY_READS_PER_TURN; i++) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			relay_chan_end(c, true, "closed by the link");
			return;
		}
		if (!relay_send_record(c->r, c, 0, buf, (size_t)n)) {
			c->r->stats.records_dropped++;
			relay_chan_end(c, false, "the home server cannot take it");
			return;
		}
		c->r->stats.bytes_tx += (uint64_t)n;
	}
}

static void
relay_chan_on_io(struct ev_io *io, uint32_t revents)
{
	struct relay_chan *c = container_of(io, struct relay_chan, io);

	if ((revents & EV_WRITE) && !relay_chan_flush(c))
		return;
	if (revents & EV_READ)
		relay_chan_read(c);
}

static size_t
relay_peer_channels(const struct relay *r, const char *peer, struct relay_chan **oldest)
{
	size_t n = 0;

	*oldest = NULL;
	for (struct relay_chan *c = r->chans; c; c = c->next)
		if (!strcmp(c->peer, peer)) {
			n++;
			if (!*oldest || c->opened_ms <= (*oldest)->opened_ms)
				*oldest = c;
		}
	return n;
}

/* A new channel with peer; *theirs is the link's end. NULL with *err on failure. */
static struct relay_chan *
relay_chan_new(struct relay *r, const char *peer, uint32_t id, bool ours, int *theirs, int *err)
{
	struct relay_chan *c, *oldest;
	int sv[2];

	if (strlen(peer) > CTL_STR_MAX) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	if (relay_peer_channels(r, peer, &oldest) >= RELAY_CHANNELS_PER_PEER)
		relay_chan_end(oldest, true, "too many channels with the peer");
	if (r->nchans >= RELAY_CHANNELS_MAX) {
		*err = -ENOSPC;
		return NULL;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		*err = -ENOMEM;
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) {
		*err = -errno;
		free(c);
		return NULL;
	}
	c->r = r;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->id = id;
	c->ours = ours;
	c->fd = sv[0];
	c->opened_ms = ev_now_ms(r->loop);
	if ((*err = ev_io_start(r->loop, &c->io, c->fd, EV_READ, relay_chan_on_io))) {
		close(sv[0]);
		close(sv[1]);
		free(c);
		return NULL;
	}
	c->next = r->chans;
	r->chans = c;
	r->nchans++;
	r->stats.channels_opened++;
	*theirs = sv[1];
	return c;
}

int
relay_dial(struct relay *r, const char *peer, int *fd)
{
	int err;

	if (++r->next_id == 0)
		r->next_id = 1;
	if (!relay_chan_new(r, peer, r->next_id, true, fd, &err))
		return err;
	log_debug(LOG_PEER, "relay: channel %08x to %s opened", r->next_id, peer);
	return 0;
}

static struct relay_chan *
relay_chan_find(struct relay *r, const char *peer, uint32_t id, bool ours)
{
	for (struct relay_chan *c = r->chans; c; c = c->next)
		if (c->id == id && c->ours == ours && !strcmp(c->peer, peer))
			return c;
	return NULL;
}

static void
relay_on_channel_msg(struct relay *r, const struct ctlmsg *m)
{
	const char *from = m->u.relay.from;
	bool theirs = m->u.relay.flags & CTL_RELAY_DIALER, fin = m->u.relay.flags & CTL_RELAY_FIN;
	struct relay_chan *c = relay_chan_find(r, from, m->u.relay.channel, !theirs);
	int fd, err;

	if (!c) {
		if (!theirs || fin) {
			r->stats.records_dropped++; /* the rest of a channel already ended */
			return;
		}
		if (!(c = relay_chan_new(r, from, m->u.relay.channel, false, &fd, &err))) {
			r->stats.channels_refused++;
			log_warnx("relay: cannot open a channel for %s: %s", from, strerror(-err));
			return;
		}
		if (!r->ops.on_channel(r->arg, from, fd)) {
			r->stats.channels_refused++;
			relay_chan_end(c, true, "refused: no approval with that peer");
			return;
		}
		log_debug(LOG_PEER, "relay: channel %08x from %s opened", c->id, from);
	}
	r->stats.bytes_rx += m->u.relay.data_len;
	if (m->u.relay.data_len && !relay_chan_write(c, m->u.relay.data, m->u.relay.data_len))
		return;
	if (fin) {
		/* What waits still goes: the link reads it, then the end. */
		if (c->wlen)
			relay_chan_flush(c);
		if ((c = relay_chan_find(r, from, m->u.relay.channel, !theirs)))
			relay_chan_end(c, false, "closed by the peer");
	}
}

void
relay_on_msg(struct relay *r, const struct ctlmsg *m)
{
	if (m->type == CTL_RELAY && !strcmp(m->u.relay.to, r->self)) {
		relay_on_channel_msg(r, m);
	} else if (m->type == CTL_RELAY_FRAME && !strcmp(m->u.frame.to, r->self)) {
		r->stats.frames_rx++;
		r->ops.on_frame(r->arg, m->u.frame.from, m->u.frame.frame, m->u.frame.frame_len);
	} else {
		r->stats.records_dropped++;
	}
}

bool
relay_send_frame(struct relay *r, const char *peer, const uint8_t *frame, size_t len)
{
	struct ctlmsg m = { .type = CTL_RELAY_FRAME };

	if (strlen(peer) > CTL_STR_MAX || len > CTL_BLOB_MAX ||
	    r->ops.backlog(r->arg) > RELAY_FRAME_BACKLOG) {
		r->stats.frames_dropped++;
		return false;
	}
	snprintf(m.u.frame.from, sizeof(m.u.frame.from), "%s", r->self);
	snprintf(m.u.frame.to, sizeof(m.u.frame.to), "%s", peer);
	m.u.frame.frame = frame;
	m.u.frame.frame_len = len;
	if (!r->ops.send(r->arg, &m)) {
		r->stats.frames_dropped++;
		return false;
	}
	r->stats.frames_tx++;
	return true;
}

/* A control datagram with its MAC (proto/relayudp.h leaves the MAC to us); 0 if m is bad. */
static size_t
relay_udp_seal(uint8_t *out, size_t cap, const struct rudp_ctl *m, const uint8_t key[RUDP_KEY_LEN])
{
	size_t len = rudp_ctl_encode(out, cap, m);

	if (len)
		crypto_mac(out + len - RUDP_MAC_LEN, key, out, len - RUDP_MAC_LEN);
	return len;
}

/* A control datagram's fields, once its layout and its MAC under key are right. */
static bool
relay_udp_open(const uint8_t *buf, size_t len, const uint8_t key[RUDP_KEY_LEN], struct rudp_ctl *m)
{
	return rudp_ctl_decode(buf, len, m) &&
	       crypto_mac_ok(buf + len - RUDP_MAC_LEN, key, buf, len - RUDP_MAC_LEN);
}

/* --- frames over UDP ------------------------------------------------------------------------ */

bool
relay_udp_works(const struct relay *r)
{
	uint64_t now = ev_now_ms(r->loop);

	return r->udp.on && r->udp.ok_ms && now - r->udp.ok_ms < RELAY_UDP_DEAD_MS;
}

static void
relay_udp_send_ctl(struct relay *r, uint8_t type, uint16_t handle, const char *peer)
{
	struct rudp_ctl m = { .h = { .type = type, .handle = handle, .ticket = r->udp.ticket } };
	uint8_t buf[RUDP_PAIR_MAX_LEN];
	size_t len;

	m.seq = ++r->udp.seq;
	if (peer) {
		snprintf(m.to, sizeof(m.to), "%s", peer);
		r->udp.p[handle].seq = m.seq;
	}
	if (!(len = relay_udp_seal(buf, sizeof(buf), &m, r->udp.key)))
		return;
	if (type == RUDP_BIND)
		r->stats.udp_binds_sent++;
	r->ops.send_udp(r->arg, &r->udp.server, buf, len, NULL, 0);
}

/* Says in the log when UDP starts or stops carrying our frames. */
static void
relay_udp_note(struct relay *r)
{
	bool works = relay_udp_works(r);

	if (works == r->udp.works)
		return;
	r->udp.works = works;
	if (works)
		log_info("relay: frames go over udp to the home server now");
	else
		log_info("relay: the home server stopped answering over udp: frames go over tls");
}

static void
relay_udp_on_timer(struct ev_timer *t)
{
	struct relay *r = container_of(t, struct relay, udp.timer);

	relay_udp_note(r);
	relay_udp_send_ctl(r, RUDP_BIND, 0, NULL);
	for (unsigned h = 1; h <= RUDP_HANDLES_MAX; h++)
		if (r->udp.p[h].peer[0] && !r->udp.p[h].acked)
			relay_udp_send_ctl(r, RUDP_PAIR, (uint16_t)h, r->udp.p[h].peer);
	ev_timer_start(r->loop, &r->udp.timer, RELAY_UDP_BIND_MS, relay_udp_on_timer);
}

void
relay_udp_up(struct relay *r, const struct sockaddr_storage *server, const uint8_t exported[40])
{
	static_assert(RUDP_EXPORT_LEN == 40, "relay.h's exported[40]");
	uint64_t ticket = 0;

	for (int i = 0; i < RUDP_TICKET_LEN; i++)
		ticket = ticket << 8 | exported[i];
	if (r->udp.on)
		ev_timer_stop(r->loop, &r->udp.timer);
	memset(r->udp.p, 0, sizeof(r->udp.p));
	r->udp.on = true;
	r->udp.server = *server;
	r->udp.ticket = ticket;
	memcpy(r->udp.key, exported + RUDP_TICKET_LEN, RUDP_KEY_LEN);
	r->udp.seq = r->udp.ok_seq = r->udp.ok_ms = 0;
	relay_udp_on_timer(&r->udp.timer);
}

/*
 * Tells the server, over TLS, to send our frames over TLS until our next BIND: a RELAY_FRAME of
 * one zero byte, which no data frame is (docs/protocol.md, "Relay datagrams"), to a peer.
 */
static void
relay_udp_say_tls(struct relay *r)
{
	static const uint8_t none[1];
	struct ctlmsg m = { .type = CTL_RELAY_FRAME };
	unsigned h = 1;

	while (h <= RUDP_HANDLES_MAX && !r->udp.p[h].peer[0])
		h++;
	if (h > RUDP_HANDLES_MAX)
		return; /* no peer over UDP: nothing comes to us that way */
	snprintf(m.u.frame.from, sizeof(m.u.frame.from), "%s", r->self);
	snprintf(m.u.frame.to, sizeof(m.u.frame.to), "%s", r->udp.p[h].peer);
	m.u.frame.frame = none;
	m.u.frame.frame_len = sizeof(none);
	r->ops.send(r->arg, &m);
}

void
relay_udp_recheck(struct relay *r)
{
	if (!r->udp.on || !r->udp.ok_ms)
		return;
	r->udp.ok_ms = 0;
	r->udp.ok_seq = r->udp.seq; /* only an answer to what we send from now on counts */
	relay_udp_note(r);
	relay_udp_send_ctl(r, RUDP_BIND, 0, NULL);
	relay_udp_say_tls(r);
}

static void
relay_udp_down(struct relay *r)
{
	if (!r->udp.on)
		return;
	ev_timer_stop(r->loop, &r->udp.timer);
	crypto_wipe(r->udp.key, sizeof(r->udp.key));
	r->udp.on = false;
	r->udp.ok_ms = 0;
	relay_udp_note(r);
}

/* peer's handle, a new one (its PAIR sent) if it has none; 0 if the table is full. */
static unsigned
relay_udp_handle(struct relay *r, const char *peer)
{
	unsigned h = r->udp.last_found, free_h = 0;

	if (h && !strcmp(r->udp.p[h].peer, peer))
		return h;
	for (h = 1; h <= RUDP_HANDLES_MAX; h++) {
		if (!strcmp(r->udp.p[h].peer, peer))
			return r->udp.last_found = h;
		if (!free_h && !r->udp.p[h].peer[0])
			free_h = h;
	}
	if (!free_h || strlen(peer) > RUDP_ID_MAX)
		return 0;
	snprintf(r->udp.p[free_h].peer, sizeof(r->udp.p[free_h].peer), "%s", peer);
	r->udp.p[free_h].acked = false;
	relay_udp_send_ctl(r, RUDP_PAIR, (uint16_t)free_h, peer);
	return free_h;
}

static void
relay_udp_forget(struct relay *r, const char *peer)
{
	for (unsigned h = 1; h <= RUDP_HANDLES_MAX; h++)
		if (!strcmp(r->udp.p[h].peer, peer))
			memset(&r->udp.p[h], 0, sizeof(r->udp.p[h]));
	r->udp.last_found = 0;
}

bool
relay_udp_frame(struct relay *r, const char *peer, struct pkt *p, struct sockaddr_storage *to)
{
	uint8_t *hdr;
	unsigned h;

	if (!relay_udp_works(r) || p->len > FRAME_MAX_LEN || !(h = relay_udp_handle(r, peer)) ||
	    !r->udp.p[h].acked || !(hdr = pkt_push(p, RUDP_HDR_LEN)))
		return false;
	rudp_data_hdr_encode(hdr, (uint16_t)h, r->udp.ticket);
	*to = r->udp.server;
	r->stats.udp_frames_tx++;
	r->stats.frames_tx++;
	return true;
}

static void
relay_udp_on_ctl(struct relay *r, const uint8_t *buf, size_t len)
{
	struct rudp_ctl m;
	struct relay_udp_peer *p;

	if (!relay_udp_open(buf, len, r->udp.key, &m) || m.h.ticket != r->udp.ticket ||
	    m.h.handle > RUDP_HANDLES_MAX) {
		r->stats.udp_dropped++;
		return;
	}
	if (m.h.type == RUDP_BIND_OK && m.seq > r->udp.ok_seq && m.seq <= r->udp.seq) {
		r->udp.ok_seq = m.seq;
		r->udp.ok_ms = ev_now_ms(r->loop);
		r->stats.udp_bind_ok++;
		relay_udp_note(r);
		return;
	}
	p = &r->udp.p[m.h.handle];
	if (m.h.type == RUDP_PAIR_OK && p->peer[0] && m.seq == p->seq) {
		if (!p->acked)
			log_debug(LOG_PEER, "relay: %s has udp handle %u at the home server",
				  p->peer, m.h.handle);
		p->acked = true;
		return;
	}
	r->stats.udp_dropped++; /* a stale answer, or one to nothing we asked */
}

enum relay_dgram
relay_on_datagram(struct relay *r, const uint8_t *buf, size_t len,
		  const struct sockaddr_storage *from, const char **peer)
{
	struct rudp_hdr h;

	if (!rudp_is_rudp(buf, len))
		return RELAY_DGRAM_NOT_OURS;
	if (!r->udp.on || !sockaddr_same(from, &r->udp.server) || !rudp_hdr_decode(buf, len, &h) ||
	    h.ticket != r->udp.ticket || h.handle > RUDP_HANDLES_MAX) {
		r->stats.udp_dropped++;
		return RELAY_DGRAM_TAKEN;
	}
	if (h.type != RUDP_DATA) {
		relay_udp_on_ctl(r, buf, len);
		return RELAY_DGRAM_TAKEN;
	}
	if (!(*peer = r->udp.p[h.handle].peer)[0]) {
		r->stats.udp_dropped++;
		return RELAY_DGRAM_TAKEN;
	}
	r->stats.udp_frames_rx++;
	r->stats.frames_rx++;
	return RELAY_DGRAM_FRAME;
}

void
relay_home_down(struct relay *r)
{
	relay_udp_down(r);
	while (r->chans)
		relay_chan_end(r->chans, false, "the home server connection is gone");
}

void
relay_close_peer(struct relay *r, const char *peer)
{
	struct relay_chan *c, *next;

	relay_udp_forget(r, peer);
	for (c = r->chans; c; c = next) {
		next = c->next;
		if (!strcmp(c->peer, peer))
			relay_chan_end(c, true, "no approval with the peer any more");
	}
}

int
relay_new(struct relay **out, struct ev_loop *loop, const char *self, const struct relay_ops *ops,
	  void *arg)
{
	struct relay *r;

	if (strlen(self) > CTL_STR_MAX)
		return -ENAMETOOLONG;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->loop = loop;
	snprintf(r->self, sizeof(r->self), "%s", self);
	r->ops = *ops;
	r->arg = arg;
	*out = r;
	return 0;
}

void
relay_free(struct relay *r)
{
	if (!r)
		return;
	relay_udp_down(r);
	/* What the links wrote last (their CLOSE records) still goes, then the ends. */
	while (r->chans) {
		struct relay_chan *c = r->chans;

		relay_chan_read(c);
		if (r->chans == c)
			relay_chan_end(c, true, "shutting down");
	}
	free(r);
}

const struct relay_stats *
relay_stats(const struct relay *r)
{
	return &r->stats;
}

size_t
relay_channels(const struct relay *r)
{
	return r->nchans;
}
