// SPDX-License-Identifier: MIT
/*
 * The bridge of one lwIP TCP connection to one end of a socketpair (netstack.h); the caller
 * holds the other end.
 *
 * States, as flags of struct ns_conn:
 *   connecting  dialed, SYN sent: the descriptor is not read (what the caller writes waits in
 *               the socketpair); lwIP's connected callback ends it (on_connected(0)), its err
 *               callback fails it (on_connected(-errno), the descriptor then reads EOF).
 *   open        lwIP -> fd: the segments lwIP hands up in one loop turn are written to the
 *               descriptor together, in one sendmsg once the turn's I/O is done (`deferred`,
 *               the stack's 0 ms flush timer, which the loop runs after its watchers), or
 *               at once when NS_DEFER_MAX bytes wait; what does not fit
 *               waits in `pending` (at most lwIP's receive window, as data is acknowledged
 *               to lwIP with tcp_recved only once written) and EV_WRITE is watched. fd -> lwIP: the
 * descriptor is read (EV_READ) only while lwIP's send buffer and segment queue have room; lwIP's
 * sent callback re-opens it. fin_in      the remote's FIN: once `pending` is written, shutdown(fd,
 * SHUT_WR) (shut_wr). fin_out     EOF read from the descriptor: tcp_shutdown(tx), a FIN to the
 * remote. released    fin_in and fin_out: tcp_close at once (lwIP finishes the close and TIME_WAIT
 *               on its own), even while `pending` still waits for the caller.
 *   done        fin_out and shut_wr: the descriptor closed, the bridge freed.
 *   reset       lwIP's err callback (a RST, or lwIP gave up: the pcb is already gone), a write
 *               to the caller failing (it closed its end with data still coming: we send a
 *               RST, as a kernel socket would), an unexpected read error: the bridge is freed
 *               at once.
 * No timers of its own: lwIP's retransmission, keepalive and TIME_WAIT timers run in lwIP.
 *
 * Every lwIP callback returns ERR_ABRT exactly when it aborted the pcb (lwIP's rule).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "netstack/netstack_int.h"

enum { NS_IOV_MAX = 64, NS_PUMP_ROUNDS = 8, NS_DEFER_MAX = 32768 };

struct ns_conn {
	struct netstack *ns;
	struct ns_conn *prev, *next;
	struct tcp_pcb *pcb; /* NULL once lwIP freed it or we let it go */
	int fd;              /* our end */
	struct ev_io io;
	struct pbuf *pending, *pending_tail; /* received, not yet written to fd */
	size_t pending_off;                  /* bytes of the first pbuf already written */
	size_t pending_len;                  /* bytes in pending, pending_off included */
	bool connecting, fin_in, fin_out, shut_wr;
	bool deferred; /* pending waits for the end of the loop turn (ns->deferred counts it) */
	netstack_connected_fn *on_connected;
	void *arg;
};

/* What an operation left of the bridge: its callers stop touching it unless ALIVE. */
enum ns_fate { NS_ALIVE, NS_CLOSED, NS_ABORTED };

static void conn_on_io(struct ev_io *io, uint32_t revents);
static void ns_on_flush(struct ev_timer *t);

static struct tcp_pcb *
conn_detach(struct ns_conn *c)
{
	struct tcp_pcb *pcb = c->pcb;

	if (pcb != NULL) {
		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		tcp_sent(pcb, NULL);
		tcp_err(pcb, NULL);
	}
	c->pcb = NULL;
	return pcb;
}

static void
conn_free(struct ns_conn *c)
{
	struct netstack *ns = c->ns;

	if (c->io.active)
		ev_io_stop(ns->loop, &c->io);
	close(c->fd);
	if (c->deferred)
		ns->deferred--;
	if (c->pending != NULL)
		pbuf_free(c->pending);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ns->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ns->nconns--;
	free(c);
}

static enum ns_fate
conn_abort(struct ns_conn *c)
{
	struct tcp_pcb *pcb = conn_detach(c);

	if (pcb != NULL)
		tcp_abort(pcb);
	conn_free(c);
	return NS_ABORTED;
}

/* Bytes tcp_write may take now without failing on the send buffer or the segment queue. */
static size_t
conn_send_room(const struct ns_conn *c)
{
	size_t room = tcp_sndbuf(c->pcb), mss = tcp_mss(c->pcb);
	size_t queued = tcp_sndqueuelen(c->pcb), limit = TCP_SND_QUEUELEN;

	/* A write of n bytes adds at most n / mss + 2 pbufs to the queue. */
	if (mss == 0 || queued + 2 >= limit)
		return 0;
	if (room > (limit - queued - 2) * mss)
		room = (limit - queued - 2) * mss;
	return room < NETSTACK_PUMP_CHUNK ? room : NETSTACK_PUMP_CHUNK;
}

static void
conn_watch(struct ns_conn *c)
{
	uint32_t ev = 0;

	if (c->pcb != NULL && !c->connecting && !c->fin_out && conn_send_room(c) > 0)
		ev |= EV_READ;
	if (c->pending != NULL && !c->deferred)
		ev |= EV_WRITE;
	/*
	 * Stopped, not just emptied, when nothing is wanted: epoll reports a hang-up even for no
	 * events, and the caller's close must not spin the loop while lwIP's buffer is full.
	 */
	if (ev == 0) {
		if (c->io.active)
			ev_io_stop(c->ns->loop, &c->io);
	} else if (!c->io.active) {
		ev_io_start(c->ns->loop, &c->io, c->fd, ev, conn_on_io);
	} else if (c->io.events != ev) {
		ev_io_set_events(c->ns->loop, &c->io, ev);
	}
}

/* Drops n written bytes from `pending` and opens lwIP's window by as much. */
static void
conn_consume(struct ns_conn *c, size_t n)
{
	size_t acked = n;

	c->pending_len -= n;
	while (n > 0) {
		struct pbuf *q = c->pending, *next = q->next;
		size_t avail = q->len - c->pending_off;

		if (n < avail) {
			c->pending_off += n;
			break;
		}
		n -= avail;
		c->pending_off = 0;
		c->pending = next;
		if (next != NULL)
			pbuf_ref(next); /* survives the free of its head */
		else
			c->pending_tail = NULL;
		pbuf_free(q);
	}
	while (acked > 0 && c->pcb != NULL) {
		u16_t step = acked > 0xffff ? 0xffff : (u16_t)acked;

		tcp_recved(c->pcb, step);
		acked -= step;
	}
}

/* pending -> fd, then the FIN after it. */
static enum ns_fate
conn_flush(struct ns_conn *c)
{
	while (c->pending != NULL) {
		struct iovec iov[NS_IOV_MAX];
		struct msghdr msg = { .msg_iov = iov };
		size_t total = 0;
		ssize_t w;

		for (struct pbuf *q = c->pending; q != NULL && msg.msg_iovlen < NS_IOV_MAX;
		     q = q->next) {
			size_t off = q == c->pending ? c->pending_off : 0;

			iov[msg.msg_iovlen].iov_base = (uint8_t *)q->payload + off;
			iov[msg.msg_iovlen].iov_len = q->len - off;
			total += q->len - off;
			msg.msg_iovlen++;
		}
		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w < 0)
			return conn_abort(c); /* the caller closed its end: reset */
		conn_consume(c, (size_t)w);
		if ((size_t)w < total)
			break;
	}
	if (c->pending == NULL && c->fin_in && !c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = true;
	}
	return NS_ALIVE;
}

/* fd -> lwIP, while lwIP has room; EOF becomes our FIN. */
static enum ns_fate
conn_pump(struct ns_conn *c)
{
	uint8_t buf[NETSTACK_PUMP_CHUNK];
	bool sent = false;

	for (int i = 0; i < NS_PUMP_ROUNDS && !c->fin_out; i++) {
		size_t room = conn_send_room(c);
		ssize_t n;

		if (room == 0)
			break;
		n = read(c->fd, buf, room);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0)
			return conn_abort(c);
		if (n == 0) {
			c->fin_out = true;
			if (tcp_shutdown(c->pcb, 0, 1) != ERR_OK)
				return conn_abort(c);
		} else if (tcp_write(c->pcb, buf, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
			return conn_abort(c);
		}
		sent = true;
	}
	if (sent)
		tcp_output(c->pcb);
	return NS_ALIVE;
}

/*
 * Both FINs seen: nothing more comes from lwIP, so the pcb is let go (tcp_close) at once, even
 * while received data still waits for the caller. Holding it longer is unsafe: lwIP frees a
 * pcb at the end of LAST_ACK (with an err callback, which would end the bridge and lose that
 * data) and at the end of TIME_WAIT (silently, leaving us a dangling pointer).
 */
static enum ns_fate
conn_release_pcb(struct ns_conn *c)
{
	struct tcp_pcb *pcb = conn_detach(c);

	if (tcp_close(pcb) != ERR_OK) {
		tcp_abort(pcb);
		return NS_ABORTED;
	}
	return NS_ALIVE;
}

static enum ns_fate
conn_settle(struct ns_conn *c)
{
	enum ns_fate f = NS_ALIVE;

	if (c->fin_in && c->fin_out && c->pcb != NULL)
		f = conn_release_pcb(c);
	if (c->fin_out && c->shut_wr) {
		conn_free(c);
		return f == NS_ABORTED ? NS_ABORTED : NS_CLOSED;
	}
	conn_watch(c);
	return f;
}

static void
conn_on_io(struct ev_io *io, uint32_t revents)
{
	struct ns_conn *c = container_of(io, struct ns_conn, io);
	struct netstack *ns = c->ns;

	if ((revents & EV_WRITE) && conn_flush(c) != NS_ALIVE)
		goto out;
	if ((revents & EV_READ) && c->pcb != NULL && !c->connecting && conn_pump(c) != NS_ALIVE)
		goto out;
	conn_settle(c);
out:
	ns_timer_rearm(ns);
}

static err_t
conn_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct ns_conn *c = arg;
	struct pbuf *last;

	if (p == NULL) {
		c->fin_in = true;
	} else {
		for (last = p; last->next != NULL; last = last->next)
			;
		/* Linked by hand, not pbuf_cat: a chain's 16-bit tot_len is not used here. */
		if (c->pending_tail != NULL)
			c->pending_tail->next = p;
		else
			c->pending = p;
		c->pending_tail = last;
		c->pending_len += p->tot_len;
	}
	/* Written with what else this turn brings, unless it is a FIN or enough to write now. */
	if (p != NULL && c->pending_len < NS_DEFER_MAX) {
		if (!c->deferred) {
			c->deferred = true;
			if (c->ns->deferred++ == 0 && !ev_timer_is_armed(&c->ns->flush_timer))
				ev_timer_start(c->ns->loop, &c->ns->flush_timer, 0, ns_on_flush);
		}
		return conn_settle(c) == NS_ABORTED ? ERR_ABRT : ERR_OK;
	}
	if (c->deferred) {
		c->deferred = false;
		c->ns->deferred--;
	}
	if (conn_flush(c) == NS_ABORTED)
		return ERR_ABRT;
	return conn_settle(c) == NS_ABORTED ? ERR_ABRT : ERR_OK;
}

void
ns_conn_flush_all(struct netstack *ns)
{
	struct ns_conn *c, *next;

	for (c = ns->conns; c != NULL && ns->deferred > 0; c = next) {
		next = c->next;
		if (!c->deferred)
			continue;
		c->deferred = false;
		ns->deferred--;
		if (conn_flush(c) == NS_ALIVE)
			conn_settle(c);
	}
	ns_timer_rearm(ns);
}

static void
ns_on_flush(struct ev_timer *t)
{
	ns_conn_flush_all(container_of(t, struct netstack, flush_timer));
}

static err_t
conn_on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	conn_watch(arg);
	return ERR_OK;
}

static void
conn_on_err(void *arg, err_t err)
{
	struct ns_conn *c = arg;
	netstack_connected_fn *cb = c->connecting ? c->on_connected : NULL;
	void *cb_arg = c->arg;
	int e;

	c->pcb = NULL; /* lwIP has freed it */
	if (err == ERR_RST || err == ERR_CLSD)
		e = -ECONNREFUSED;
	else if (err == ERR_ABRT)
		e = -ETIMEDOUT;
	else
		e = -ECONNABORTED;
	conn_free(c);
	if (cb != NULL)
		cb(cb_arg, e);
}

static err_t
conn_on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct ns_conn *c = arg;
	netstack_connected_fn *cb = c->on_connected;

	c->connecting = false;
	c->on_connected = NULL;
	conn_watch(c);
	if (cb != NULL)
		cb(c->arg, 0);
	return ERR_OK;
}

int
ns_conn_new(struct netstack *ns, struct tcp_pcb *pcb, const ip_addr_t *dial_to, uint16_t dial_port,
	    netstack_connected_fn *on_connected, void *arg, int *fd_out)
{
	struct ns_conn *c;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	c = calloc(1, sizeof(*c));
	if (c == NULL || fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		free(c);
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	*c = (struct ns_conn){ .ns = ns,
			       .pcb = pcb,
			       .fd = sv[0],
			       .next = ns->conns,
			       .on_connected = on_connected,
			       .arg = arg };
	if (ns->conns != NULL)
		ns->conns->prev = c;
	ns->conns = c;
	ns->nconns++;
	tcp_arg(pcb, c);
	tcp_recv(pcb, conn_on_recv);
	tcp_sent(pcb, conn_on_sent);
	tcp_err(pcb, conn_on_err);
	tcp_nagle_disable(pcb); /* our reads already coalesce; keystrokes must not wait */
	ip_set_option(pcb, SOF_KEEPALIVE);
	pcb->keep_idle = NETSTACK_KEEPALIVE_IDLE_MS;
	pcb->keep_intvl = NETSTACK_KEEPALIVE_INTVL_MS;
	pcb->keep_cnt = NETSTACK_KEEPALIVE_COUNT;
	if (dial_to != NULL) {
		c->connecting = true;
		if (tcp_connect(pcb, dial_to, dial_port, conn_on_connected) != ERR_OK) {
			conn_detach(c);
			conn_free(c);
			close(sv[1]);
			return -EHOSTUNREACH;
		}
	}
	conn_watch(c);
	*fd_out = sv[1];
	return 0;
}

size_t
ns_conn_reset_remote(struct netstack *ns, const ip_addr_t *remote)
{
	struct ns_conn *c = ns->conns, *next;
	size_t n = 0;

	for (; c != NULL; c = next) {
		next = c->next; /* conn_abort frees c, and only c */
		if (c->pcb != NULL && ip_addr_cmp(&c->pcb->remote_ip, remote)) {
			conn_abort(c);
			n++;
		}
	}
	return n;
}

void
ns_conn_abort_all(struct netstack *ns)
{
	while (ns->conns != NULL)
		conn_abort(ns->conns);
}
