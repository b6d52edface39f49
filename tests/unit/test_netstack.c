// SPDX-License-Identifier: MIT
/*
 * The userspace stack (netstack/netstack.h) with the real lwIP, no mocks.
 *
 * The netif glue, packet in -> packet out: a TCP SYN to a listening port gives a SYN-ACK on the
 * output callback, addressed back with valid IP and TCP checksums and acknowledging the SYN;
 * to a closed port a RST; packets from our own address and malformed ones are dropped and
 * counted. IPv4 and IPv6.
 *
 * Two stacks back to back: lwIP's globals allow one stack per process, so the second runs in
 * a forked child, the two wired by a lossless packet wire (support/wire.h: A's output is B's
 * input and the reverse). A dials B through the bridge; each side's "user"
 * writes 4 MiB of seeded random bytes and shuts down its writing side, and reads the other's
 * 4 MiB, checked byte for byte, then EOF; both bridges are gone at the end (the close went
 * through). IPv4 and IPv6; and IPv4 over a wire losing every 50th packet each way. The child
 * reports on a pipe and by its exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ev.h"
#include "netstack/netstack.h"
#include "support/wire.h"

enum { MAXOUT = 16, XFER_BYTES = 4 << 20, DEADLINE_MS = 60000 };

/* The two-stack transfer: its size, and every how many packets the wire loses one (0: none). */
static size_t xfer_bytes = XFER_BYTES;
static unsigned wire_loss_every;

/* ---- packets captured from the output callback ---------------------------------------- */

struct capture {
	size_t n, total;
	size_t len[MAXOUT];
	uint8_t pkt[MAXOUT][2048];
	size_t last_len; /* the latest packet, kept past MAXOUT */
	uint8_t last[2048];
};

static void
capture_output(void *arg, const uint8_t *pkt, size_t len)
{
	struct capture *c = arg;

	if (len > sizeof(c->last))
		return;
	c->total++;
	memcpy(c->last, pkt, len);
	c->last_len = len;
	if (c->n < MAXOUT) {
		memcpy(c->pkt[c->n], pkt, len);
		c->len[c->n++] = len;
	}
}

static uint32_t
sum16(const uint8_t *b, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The TCP checksum over the pseudo header; 0 when the segment's own checksum is right. */
static uint16_t
tcp_check(const uint8_t *ip, size_t len)
{
	uint32_t s;
	size_t off;
	uint8_t ph[4];

	if (ip[0] >> 4 == 4) {
		off = (size_t)(ip[0] & 0x0f) * 4;
		s = sum16(ip + 12, 8, 0);
	} else {
		off = 40;
		s = sum16(ip + 8, 32, 0);
	}
	ph[0] = 0;
	ph[1] = 6;
	ph[2] = (uint8_t)((len - off) >> 8);
	ph[3] = (uint8_t)(len - off);
	s = sum16(ph, 4, s);
	return fold(sum16(ip + off, len - off, s));
}

static const uint8_t A4[4] = { 100, 64, 0, 1 }, B4[4] = { 100, 64, 0, 2 };
static const uint8_t A6[16] = { 0xfd, 0, 0x12, 0x34, 0x56, 0x78, [15] = 1 };
static const uint8_t B6[16] = { 0xfd, 0, 0x12, 0x34, 0x56, 0x78, [15] = 2 };

enum { SYN_SPORT = 40000, SYN_ISN = 0x01020304 };

struct seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const void *data;
	size_t dlen;
};

enum { F_FIN = 0x01, F_SYN = 0x02, F_RST = 0x04, F_PSH = 0x08, F_ACK = 0x10 };

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A TCP segment from `from` to `to` (a SYN carries an MSS option of 1200); returns its length. */
static size_t
make_seg(uint8_t *b, bool v6, const uint8_t *from, const uint8_t *to, const struct seg *s)
{
	size_t ih = v6 ? 40 : 20, th = s->flags & F_SYN ? 24 : 20, len = ih + th + s->dlen;
	uint8_t *t = b + ih;
	uint16_t c;

	memset(b, 0, ih + th);
	if (v6) {
		b[0] = 0x60;
		b[4] = (uint8_t)((len - 40) >> 8);
		b[5] = (uint8_t)(len - 40);
		b[6] = 6;
		b[7] = 64;
		memcpy(b + 8, from, 16);
		memcpy(b + 24, to, 16);
	} else {
		b[0] = 0x45;
		b[2] = (uint8_t)(len >> 8);
		b[3] = (uint8_t)len;
		b[8] = 64;
		b[9] = 6;
		memcpy(b + 12, from, 4);
		memcpy(b + 16, to, 4);
		c = fold(sum16(b, 20, 0));
		b[10] = (uint8_t)(c >> 8);
		b[11] = (uint8_t)c;
	}
	t[0] = (uint8_t)(s->sport >> 8);
	t[1] = (uint8_t)s->sport;
	t[2] = (uint8_t)(s->dport >> 8);
	t[3] = (uint8_t)s->dport;
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)(th / 4) << 4;
	t[13] = s->flags;
	t[14] = 0xff; /* window */
	t[15] = 0xff;
	if (s->flags & F_SYN) {
		t[20] = 2; /* MSS 1200 */
		t[21] = 4;
		t[22] = 1200 >> 8;
		t[23] = 1200 & 0xff;
	}
	if (s->dlen > 0)
		memcpy(t + th, s->data, s->dlen);
	c = tcp_check(b, len); /* over a zero checksum field: the value to put there */
	t[16] = (uint8_t)(c >> 8);
	t[17] = (uint8_t)c;
	return len;
}

static size_t
make_syn(uint8_t *b, bool v6, const uint8_t *from, const uint8_t *to, uint16_t dport)
{
	struct seg s = { .sport = SYN_SPORT, .dport = dport, .seq = SYN_ISN, .flags = F_SYN };

	return make_seg(b, v6, from, to, &s);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
fill_config(struct netstack_config *cfg, const uint8_t *a4, const uint8_t *a6)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(&cfg->addr4, a4, 4);
	cfg->prefix4 = 10;
	memcpy(&cfg->addr6, a6, 16);
	cfg->prefix6 = 48;
	cfg->mtu = 1420;
}

static void
ignore_accept(void *arg, int fd, const struct sockaddr_storage *from,
	      const struct sockaddr_storage *to)
{
	int *accepted = arg;

	(*accepted)++;
	close(fd);
}

struct glue {
	struct ev_loop *loop;
	struct netstack *ns;
	struct capture cap;
	int accepted;
};

static void
glue_new(struct glue *g)
{
	struct netstack_config cfg;
	struct netstack_ops ops = { .output = capture_output };

	memset(g, 0, sizeof(*g));
	fill_config(&cfg, A4, A6);
	assert_int_equal(ev_loop_new(&g->loop), 0);
	assert_int_equal(netstack_new(&g->ns, g->loop, &cfg, &ops, &g->cap), 0);
}

static void
glue_free(struct glue *g)
{
	netstack_free(g->ns);
	ev_loop_free(g->loop);
}

/* Feeds a SYN to port and returns the one packet lwIP answered with. */
static const uint8_t *
syn_answer(struct glue *g, bool v6, uint16_t port, size_t *len)
{
	uint8_t syn[64];
	size_t n = make_syn(syn, v6, v6 ? B6 : B4, v6 ? A6 : A4, port);

	assert_int_equal(tcp_check(syn, n), 0);
	netstack_input(g->ns, syn, n);
	assert_int_equal(g->cap.n, 1);
	*len = g->cap.len[0];
	return g->cap.pkt[0];
}

/* Checks addresses, ports, checksums and the acknowledgement; returns the TCP flags. */
static uint8_t
check_answer(const uint8_t *p, size_t len, bool v6, uint16_t port)
{
	size_t ih = v6 ? 40 : 20;
	const uint8_t *t = p + ih;

	assert_true(len >= ih + 20);
	if (v6) {
		assert_int_equal(p[0] >> 4, 6);
		assert_int_equal(p[6], 6);
		assert_int_equal((size_t)(p[4] << 8 | p[5]), len - 40);
		assert_memory_equal(p + 8, A6, 16);
		assert_memory_equal(p + 24, B6, 16);
	} else {
		assert_int_equal(p[0], 0x45);
		assert_int_equal(p[9], 6);
		assert_int_equal((size_t)(p[2] << 8 | p[3]), len);
		assert_int_equal(fold(sum16(p, 20, 0)), 0);
		assert_memory_equal(p + 12, A4, 4);
		assert_memory_equal(p + 16, B4, 4);
	}
	assert_int_equal(tcp_check(p, len), 0);
	assert_int_equal(t[0] << 8 | t[1], port);
	assert_int_equal(t[2] << 8 | t[3], SYN_SPORT);
	assert_int_equal(be32(t + 8), SYN_ISN + 1);
	return t[13];
}

static void
synack_case(bool v6)
{
	struct glue g;
	const uint8_t *p;
	size_t len;

	glue_new(&g);
	assert_int_equal(netstack_listen(g.ns, 22, ignore_accept, &g.accepted), 0);
	assert_int_equal(netstack_listen(g.ns, 22, ignore_accept, &g.accepted), -EADDRINUSE);
	p = syn_answer(&g, v6, 22, &len);
	assert_int_equal(check_answer(p, len, v6, 22), 0x12); /* SYN|ACK */
	/* Our MSS option fits the MTU, not Debian's TCP_MSS of 1460. */
	assert_int_equal(p[(v6 ? 40 : 20) + 20], 2);
	assert_int_equal(p[(v6 ? 40 : 20) + 22] << 8 | p[(v6 ? 40 : 20) + 23],
			 1420 - (v6 ? 60 : 40));
	assert_int_equal(g.accepted, 0); /* not before the handshake completes */
	glue_free(&g);
}

static void
test_netstack_input_syn_listening_v4(void **state)
{
	synack_case(false);
}

static void
test_netstack_input_syn_listening_v6(void **state)
{
	synack_case(true);
}

static void
rst_case(bool v6)
{
	struct glue g;
	const uint8_t *p;
	size_t len;

	glue_new(&g);
	p = syn_answer(&g, v6, 23, &len);
	assert_int_equal(check_answer(p, len, v6, 23), 0x14); /* RST|ACK */
	glue_free(&g);
}

static void
test_netstack_input_syn_closed_v4(void **state)
{
	rst_case(false);
}

static void
test_netstack_input_syn_closed_v6(void **state)
{
	rst_case(true);
}

static void
test_netstack_input_drops(void **state)
{
	struct glue g;
	uint8_t pkt[64];
	size_t n;

	glue_new(&g);
	assert_int_equal(netstack_listen(g.ns, 22, ignore_accept, &g.accepted), 0);
	/* From our own address: lwIP would answer through its loopback (its tcpip thread). */
	n = make_syn(pkt, false, A4, A4, 22);
	netstack_input(g.ns, pkt, n);
	n = make_syn(pkt, true, A6, A6, 22);
	netstack_input(g.ns, pkt, n);
	assert_int_equal(netstack_drops(g.ns, NETSTACK_DROP_OWN_SOURCE), 2);
	netstack_input(g.ns, pkt, 10);
	pkt[0] = 0x75;
	netstack_input(g.ns, pkt, n);
	pkt[0] = 0x41; /* IHL 4 */
	netstack_input(g.ns, pkt, n);
	assert_int_equal(netstack_drops(g.ns, NETSTACK_DROP_MALFORMED), 3);
	/*
	 * UDP-Lite over IPv6 with a checksum coverage over 0x7fff: Debian's lwIP asserts (and
	 * aborts) in its checksum code. Refused before lwIP, with IGMP and IPv6 options.
	 */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x60;
	pkt[5] = 8;
	pkt[6] = 136; /* UDP-Lite */
	pkt[7] = 64;
	memcpy(pkt + 8, B6, 16);
	memcpy(pkt + 24, A6, 16);
	pkt[40 + 4] = 0x88; /* coverage */
	pkt[40 + 5] = 0x88;
	netstack_input(g.ns, pkt, 48);
	pkt[6] = 0; /* hop-by-hop options */
	netstack_input(g.ns, pkt, 48);
	n = make_syn(pkt, false, B4, A4, 22);
	pkt[9] = 2; /* IGMP */
	netstack_input(g.ns, pkt, n);
	assert_int_equal(netstack_drops(g.ns, NETSTACK_DROP_PROTO), 3);
	assert_int_equal(g.cap.n, 0);
	glue_free(&g);
}

static void
test_netstack_input_conns_full(void **state)
{
	struct netstack_config cfg;
	struct netstack_ops ops = { .output = capture_output };
	struct glue g;
	uint8_t syn[64];
	size_t n;

	memset(&g, 0, sizeof(g));
	fill_config(&cfg, A4, A6);
	cfg.conns_max = 1;
	assert_int_equal(ev_loop_new(&g.loop), 0);
	assert_int_equal(netstack_new(&g.ns, g.loop, &cfg, &ops, &g.cap), 0);
	assert_int_equal(netstack_listen(g.ns, 22, ignore_accept, &g.accepted), 0);
	n = make_syn(syn, false, B4, A4, 22);
	netstack_input(g.ns, syn, n); /* one half-open connection: the limit */
	assert_int_equal(g.cap.n, 1);
	syn[(size_t)20 + 1] ^= 1; /* another source port (the checksum no longer matters) */
	netstack_input(g.ns, syn, n);
	assert_int_equal(netstack_drops(g.ns, NETSTACK_DROP_CONNS_FULL), 1);
	assert_int_equal(g.cap.n, 1);
	glue_free(&g);
}

static void
test_netstack_new_refuses_second(void **state)
{
	struct glue g;
	struct netstack *other;
	struct netstack_config cfg;
	struct netstack_ops ops = { .output = capture_output };

	glue_new(&g);
	fill_config(&cfg, B4, B6);
	assert_int_equal(netstack_new(&other, g.loop, &cfg, &ops, NULL), -EBUSY);
	cfg.mtu = 100;
	glue_free(&g);
	assert_int_equal(ev_loop_new(&g.loop), 0);
	assert_int_equal(netstack_new(&other, g.loop, &cfg, &ops, NULL), -EINVAL);
	ev_loop_free(g.loop);
}

/* ---- one connection driven packet by packet (IPv4) ------------------------------------ */

struct tcpview {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t sport, dport;
	const uint8_t *data;
	size_t dlen;
};

static struct tcpview
view(const uint8_t *p, size_t len)
{
	size_t ih = (size_t)(p[0] & 0x0f) * 4, th = (size_t)(p[ih + 12] >> 4) * 4;
	struct tcpview v = {
		.flags = p[ih + 13],
		.seq = be32(p + ih + 4),
		.ack = be32(p + ih + 8),
		.sport = (uint16_t)(p[ih] << 8 | p[ih + 1]),
		.dport = (uint16_t)(p[ih + 2] << 8 | p[ih + 3]),
		.data = p + ih + th,
		.dlen = len - ih - th,
	};

	assert_int_equal(tcp_check(p, len), 0);
	return v;
}

static void
keep_accept(void *arg, int fd, const struct sockaddr_storage *from,
	    const struct sockaddr_storage *to)
{
	int *out = arg;
	const struct sockaddr_in *f = (const struct sockaddr_in *)from;
	const struct sockaddr_in *t = (const struct sockaddr_in *)to;

	assert_int_equal(f->sin_family, AF_INET);
	assert_memory_equal(&f->sin_addr, B4, 4);
	assert_int_equal(ntohs(f->sin_port), SYN_SPORT);
	assert_memory_equal(&t->sin_addr, A4, 4);
	assert_int_equal(ntohs(t->sin_port), 22);
	*out = fd;
}

/* Feeds the remote's segment s. */
static void
feed(struct glue *g, const struct seg *s)
{
	uint8_t pkt[2048];

	netstack_input(g->ns, pkt, make_seg(pkt, false, B4, A4, s));
}

static void
step(struct glue *g)
{
	for (int i = 0; i < 8; i++)
		ev_run_once(g->loop, 0);
}

/* A connection from B4:40000 to A4:22 up to the accept; *isn is the stack's ISN. */
static int
establish(struct glue *g, uint32_t *isn)
{
	int fd = -1;
	uint8_t syn[64];
	struct tcpview v;

	assert_int_equal(netstack_listen(g->ns, 22, keep_accept, &fd), 0);
	netstack_input(g->ns, syn, make_syn(syn, false, B4, A4, 22));
	assert_int_equal(g->cap.n, 1);
	v = view(g->cap.pkt[0], g->cap.len[0]);
	*isn = v.seq;
	feed(g, &(struct seg){ .sport = SYN_SPORT,
			       .dport = 22,
			       .seq = SYN_ISN + 1,
			       .ack = *isn + 1,
			       .flags = F_ACK });
	assert_true(fd >= 0);
	assert_int_equal(netstack_conns(g->ns), 1);
	g->cap.n = 0;
	return fd;
}

static void
test_netstack_bridge_data_and_close(void **state)
{
	struct glue g;
	uint32_t isn, rseq = SYN_ISN + 1;
	char buf[16];
	struct tcpview v;
	int fd;

	glue_new(&g);
	fd = establish(&g, &isn);
	/* Remote -> caller. */
	feed(&g, &(struct seg){ .sport = SYN_SPORT,
				.dport = 22,
				.seq = rseq,
				.ack = isn + 1,
				.flags = F_ACK | F_PSH,
				.data = "hello",
				.dlen = 5 });
	rseq += 5;
	step(&g); /* what arrives in a turn is written at its end */
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 5);
	assert_memory_equal(buf, "hello", 5);
	/* Caller -> remote: one segment with the bytes, acknowledging ours. */
	assert_int_equal(write(fd, "world!", 6), 6);
	step(&g);
	assert_int_equal(g.cap.n, 1);
	v = view(g.cap.pkt[0], g.cap.len[0]);
	assert_int_equal(v.dlen, 6);
	assert_memory_equal(v.data, "world!", 6);
	assert_int_equal(v.seq, isn + 1);
	assert_int_equal(v.ack, rseq);
	assert_int_equal(v.sport, 22);
	assert_int_equal(v.dport, SYN_SPORT);
	/* The remote's FIN: the caller reads EOF, the bridge stays for the other direction. */
	feed(&g, &(struct seg){ .sport = SYN_SPORT,
				.dport = 22,
				.seq = rseq,
				.ack = isn + 7,
				.flags = F_ACK | F_FIN });
	rseq++;
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	assert_int_equal(netstack_conns(g.ns), 1);
	/* The caller's shutdown: our FIN after the data; the bridge is gone. */
	g.cap.n = 0;
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	step(&g);
	assert_true(g.cap.n >= 1);
	v = view(g.cap.pkt[g.cap.n - 1], g.cap.len[g.cap.n - 1]);
	assert_true(v.flags & F_FIN);
	assert_int_equal(v.seq, isn + 7);
	assert_int_equal(v.ack, rseq);
	assert_int_equal(netstack_conns(g.ns), 0);
	close(fd);
	glue_free(&g);
}

static void
test_netstack_bridge_remote_reset(void **state)
{
	struct glue g;
	uint32_t isn;
	char buf[4];
	int fd;

	glue_new(&g);
	fd = establish(&g, &isn);
	feed(&g,
	     &(struct seg){ .sport = SYN_SPORT, .dport = 22, .seq = SYN_ISN + 1, .flags = F_RST });
	assert_int_equal(netstack_conns(g.ns), 0);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0); /* our end closed */
	assert_int_equal(g.cap.n, 0);
	close(fd);
	glue_free(&g);
}

static void
test_netstack_bridge_caller_close_resets(void **state)
{
	struct glue g;
	uint32_t isn;
	struct tcpview v;
	int fd;

	glue_new(&g);
	fd = establish(&g, &isn);
	close(fd); /* EOF to the bridge: a FIN */
	step(&g);
	assert_int_equal(g.cap.n, 1);
	assert_true(view(g.cap.pkt[0], g.cap.len[0]).flags & F_FIN);
	/* Data for a caller that is gone: a reset, as from a kernel socket. */
	g.cap.n = 0;
	feed(&g, &(struct seg){ .sport = SYN_SPORT,
				.dport = 22,
				.seq = SYN_ISN + 1,
				.ack = isn + 2,
				.flags = F_ACK | F_PSH,
				.data = "late",
				.dlen = 4 });
	step(&g);                  /* written at the turn's end: the write fails */
	assert_true(g.cap.n >= 1); /* lwIP's ACK of "late" may come first */
	v = view(g.cap.pkt[g.cap.n - 1], g.cap.len[g.cap.n - 1]);
	assert_true(v.flags & F_RST);
	assert_int_equal(netstack_conns(g.ns), 0);
	glue_free(&g);
}

/*
 * A stack freed with a connection in TIME_WAIT leaves nothing in lwIP: a segment of that
 * connection to a new stack gets a RST, not TIME_WAIT's ACK. (lwIP itself drops the other
 * connections of a netif that goes away, but not those in TIME_WAIT.)
 */
static void
test_netstack_free_drops_lwip_state(void **state)
{
	struct glue g;
	uint32_t isn;
	int fd;

	glue_new(&g);
	fd = establish(&g, &isn);
	close(fd);
	step(&g);
	assert_true(view(g.cap.last, g.cap.last_len).flags & F_FIN);
	/* The remote acknowledges our FIN and sends its own: TIME_WAIT. */
	feed(&g, &(struct seg){ .sport = SYN_SPORT,
				.dport = 22,
				.seq = SYN_ISN + 1,
				.ack = isn + 2,
				.flags = F_FIN | F_ACK });
	assert_int_equal(netstack_conns(g.ns), 0);
	glue_free(&g);
	glue_new(&g);
	feed(&g, &(struct seg){ .sport = SYN_SPORT,
				.dport = 22,
				.seq = SYN_ISN + 2,
				.ack = isn + 2,
				.flags = F_ACK });
	assert_int_equal(g.cap.n, 1);
	assert_true(view(g.cap.pkt[0], g.cap.len[0]).flags & F_RST);
	glue_free(&g);
}

static uint16_t
adv_window(const uint8_t *p)
{
	size_t ih = (size_t)(p[0] & 0x0f) * 4;

	return (uint16_t)(p[ih + 14] << 8 | p[ih + 15]);
}

/*
 * Flow control toward a caller that does not read: the remote sends 1 MB in 1000-byte segments
 * at once; lwIP takes only what the socketpair and its window hold, advertising a zero window,
 * and the rest is refused (out of window). When the caller reads, the bridge writes what waited
 * and opens the window (an immediate window update acknowledging all of it); the caller gets
 * exactly the in-order prefix.
 */
static void
test_netstack_bridge_flow_control(void **state)
{
	enum { SEGS = 1000, SEG = 1000 };
	struct glue g;
	uint32_t isn, rseq = SYN_ISN + 1;
	uint8_t data[SEG], buf[65536];
	size_t total = 0;
	struct tcpview v;
	int fd;

	glue_new(&g);
	fd = establish(&g, &isn);
	for (size_t i = 0; i < SEGS; i++) {
		for (size_t j = 0; j < SEG; j++)
			data[j] = (uint8_t)((i * SEG + j) % 251);
		feed(&g, &(struct seg){ .sport = SYN_SPORT,
					.dport = 22,
					.seq = rseq + i * SEG,
					.ack = isn + 1,
					.flags = F_ACK,
					.data = data,
					.dlen = SEG });
	}
	v = view(g.cap.last, g.cap.last_len);
	assert_int_equal(adv_window(g.cap.last), 0);
	assert_true(v.ack - rseq >= 65535); /* at least a window was taken */
	assert_true(v.ack - rseq < SEGS * SEG / 2);
	/* The caller reads; the bridge refills the socketpair from what waits. */
	for (int i = 0; i < 1000; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n <= 0) {
			size_t before = g.cap.total;

			step(&g);
			if (g.cap.total == before && recv(fd, buf, 1, MSG_DONTWAIT | MSG_PEEK) <= 0)
				break;
			continue;
		}
		for (ssize_t j = 0; j < n; j++)
			assert_int_equal(buf[j], (uint8_t)((total + (size_t)j) % 251));
		total += (size_t)n;
	}
	v = view(g.cap.last, g.cap.last_len);
	assert_int_equal(v.ack, rseq + total); /* everything taken was delivered, nothing more */
	assert_true(adv_window(g.cap.last) > 0);
	assert_true(total < SEGS * SEG / 2);
	close(fd);
	glue_free(&g);
}

/* Reads everything the bridge delivers, stepping the loop; checks the pattern; the total. */
static size_t
drain_pattern(struct glue *g, int fd, size_t total, size_t max, bool *eof)
{
	uint8_t buf[65536];

	*eof = false;
	for (int i = 0; i < 1000 && !*eof && total < max; i++) {
		size_t want = max - total < sizeof(buf) ? max - total : sizeof(buf);
		ssize_t n = recv(fd, buf, want, MSG_DONTWAIT);

		if (n == 0) {
			*eof = true;
		} else if (n < 0) {
			size_t before = g->cap.total;

			step(g);
			if (g->cap.total == before && recv(fd, buf, 1, MSG_DONTWAIT | MSG_PEEK) < 0)
				break;
		} else {
			for (ssize_t j = 0; j < n; j++)
				assert_int_equal(buf[j], (uint8_t)((total + (size_t)j) % 251));
			total += (size_t)n;
		}
	}
	return total;
}

/* The remote's segments of 1000 bytes, from byte `from` of the pattern up to `to`. */
static void
feed_pattern(struct glue *g, uint32_t rseq, uint32_t isn, size_t from, size_t to, bool fin)
{
	uint8_t data[1000];

	for (size_t off = from; off < to; off += sizeof(data)) {
		size_t n = to - off < sizeof(data) ? to - off : sizeof(data);

		for (size_t j = 0; j < n; j++)
			data[j] = (uint8_t)((off + j) % 251);
		feed(g, &(struct seg){ .sport = SYN_SPORT,
				       .dport = 22,
				       .seq = rseq + (uint32_t)off,
				       .ack = isn + 1,
				       .flags = F_ACK | (fin && off + n == to ? F_FIN : 0),
				       .data = data,
				       .dlen = n });
	}
}

/*
 * Data still waiting in the bridge when lwIP ends the connection: the remote's last bytes and
 * FIN arrive while the caller is behind (the socketpair full, some bytes held by the bridge,
 * the window still open); the caller shuts its side down (our FIN) and the remote acknowledges
 * it, which ends lwIP's connection (LAST_ACK -> CLOSED). Everything must still reach the
 * caller, then EOF. Phase one measures what the socketpair holds (the window closes at that
 * plus one window), phase two sends that plus 20000 bytes and the FIN.
 */
static void
test_netstack_bridge_close_with_data_waiting(void **state)
{
	struct glue g;
	uint32_t isn, rseq = SYN_ISN + 1;
	size_t full, held, end;
	struct tcpview v;
	bool eof;
	int fd;

	glue_new(&g);
	fd = establish(&g, &isn);
	feed_pattern(&g, rseq, isn, 0, 600000, false);
	v = view(g.cap.last, g.cap.last_len);
	assert_int_equal(adv_window(g.cap.last), 0);
	full = v.ack - rseq;
	held = full - 65535; /* what the socketpair held */
	assert_int_equal(drain_pattern(&g, fd, 0, full, &eof), full);
	assert_int_equal(view(g.cap.last, g.cap.last_len).ack, rseq + full);
	end = full + held + 20000;
	feed_pattern(&g, rseq, isn, full, end, true);
	v = view(g.cap.last, g.cap.last_len);
	assert_int_equal(v.ack, rseq + end + 1); /* all of it and the FIN taken */
	assert_true(adv_window(g.cap.last) > 0 && adv_window(g.cap.last) < 65535);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	step(&g);
	v = view(g.cap.last, g.cap.last_len);
	assert_true(v.flags & F_FIN);
	feed(&g, &(struct seg){ .sport = SYN_SPORT,
				.dport = 22,
				.seq = rseq + end + 1,
				.ack = v.seq + 1,
				.flags = F_ACK });
	assert_int_equal(drain_pattern(&g, fd, full, SIZE_MAX, &eof), end);
	assert_true(eof);
	assert_int_equal(netstack_conns(g.ns), 0);
	close(fd);
	glue_free(&g);
}

/* The agent drops a peer: its connections are reset, our caller reads EOF. */
static void
test_netstack_reset_peer(void **state)
{
	struct sockaddr_storage peer = { .ss_family = AF_INET };
	struct glue g;
	uint32_t isn;
	char buf[4];
	int fd;

	glue_new(&g);
	fd = establish(&g, &isn);
	/* And a half-open one from the same peer, still in lwIP's hands. */
	feed(&g,
	     &(struct seg){ .sport = SYN_SPORT + 1, .dport = 22, .seq = SYN_ISN, .flags = F_SYN });
	assert_int_equal(g.cap.n, 1); /* its SYN-ACK */
	memcpy(&((struct sockaddr_in *)&peer)->sin_addr, A4, 4);
	assert_int_equal(netstack_reset_peer(g.ns, &peer), 0); /* not a remote of ours */
	memcpy(&((struct sockaddr_in *)&peer)->sin_addr, B4, 4);
	g.cap.n = 0;
	assert_int_equal(netstack_reset_peer(g.ns, &peer), 2);
	assert_int_equal(g.cap.n, 2);
	assert_true(view(g.cap.pkt[0], g.cap.len[0]).flags & F_RST);
	assert_true(view(g.cap.pkt[1], g.cap.len[1]).flags & F_RST);
	assert_int_equal(netstack_conns(g.ns), 0);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(fd);
	glue_free(&g);
}

static void
on_connected_store(void *arg, int err)
{
	*(int *)arg = err;
}

static void
test_netstack_connect_refused(void **state)
{
	struct sockaddr_storage to;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&to;
	struct glue g;
	struct tcpview v;
	int fd, err = 1;
	char buf[4];

	glue_new(&g);
	memset(&to, 0, sizeof(to));
	s4->sin_family = AF_INET;
	memcpy(&s4->sin_addr, A4, 4);
	s4->sin_port = htons(80);
	assert_int_equal(netstack_connect(g.ns, &to, on_connected_store, &err, &fd),
			 -EADDRNOTAVAIL);
	memcpy(&s4->sin_addr, B4, 4);
	assert_int_equal(netstack_connect(g.ns, &to, on_connected_store, &err, &fd), 0);
	assert_int_equal(err, 1); /* never from within the call */
	assert_int_equal(g.cap.n, 1);
	v = view(g.cap.pkt[0], g.cap.len[0]);
	assert_int_equal(v.flags, F_SYN);
	assert_int_equal(v.dport, 80);
	assert_memory_equal(g.cap.pkt[0] + 12, A4, 4);
	assert_memory_equal(g.cap.pkt[0] + 16, B4, 4);
	feed(&g, &(struct seg){
		     .sport = 80, .dport = v.sport, .ack = v.seq + 1, .flags = F_RST | F_ACK });
	assert_int_equal(err, -ECONNREFUSED);
	assert_int_equal(netstack_conns(g.ns), 0);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(fd);
	glue_free(&g);
}

/* ---- two stacks back to back ------------------------------------------------------------ */

struct user {
	int fd;
	uint64_t wgen, rgen; /* the seeded streams: ours, and the one we expect */
	size_t sent, got;
	bool shut, eof, bad;
	size_t wlen, woff;
	uint8_t wbuf[65536];
};

struct side {
	struct ev_loop *loop;
	struct netstack *ns;
	struct wire wire;
	struct ev_io wire_io;
	struct ev_io user_io;
	struct user u;
	bool have_user;
	int connect_err; /* 1: not called yet */
	uint64_t wire_sent;
};

static uint8_t
gen_byte(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint8_t)(*s >> 24);
}

static void
wire_output(void *arg, const uint8_t *pkt, size_t len)
{
	struct side *s = arg;

	if (wire_loss_every != 0 && ++s->wire_sent % wire_loss_every == 0)
		return; /* lost */
	wire_send(&s->wire, pkt, len);
}

static void
wire_on_packet(void *arg, const uint8_t *pkt, size_t len)
{
	struct side *s = arg;

	netstack_input(s->ns, pkt, len);
}

static void
wire_on_ready(struct ev_io *io, uint32_t revents)
{
	struct side *s = container_of(io, struct side, wire_io);

	for (int i = 0; i < 16; i++) {
		if (!wire_recv(&s->wire, wire_on_packet, s)) {
			ev_io_stop(s->loop, io); /* the other side is gone */
			break;
		}
	}
}

static void
user_write(struct user *u)
{
	while (u->sent < xfer_bytes) {
		ssize_t n;

		if (u->woff == u->wlen) {
			u->wlen = sizeof(u->wbuf);
			if (u->wlen > xfer_bytes - u->sent)
				u->wlen = xfer_bytes - u->sent;
			for (size_t i = 0; i < u->wlen; i++)
				u->wbuf[i] = gen_byte(&u->wgen);
			u->woff = 0;
		}
		n = write(u->fd, u->wbuf + u->woff, u->wlen - u->woff);
		if (n <= 0)
			return;
		u->woff += (size_t)n;
		u->sent += (size_t)n;
	}
	if (!u->shut) {
		shutdown(u->fd, SHUT_WR);
		u->shut = true;
	}
}

static void
user_read(struct user *u)
{
	uint8_t buf[65536];
	ssize_t n;

	while (!u->eof) {
		n = read(u->fd, buf, sizeof(buf));
		if (n < 0)
			return;
		if (n == 0) {
			u->eof = true;
			return;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != gen_byte(&u->rgen))
				u->bad = true;
		u->got += (size_t)n;
	}
}

static void
user_on_ready(struct ev_io *io, uint32_t revents)
{
	struct side *s = container_of(io, struct side, user_io);

	if (revents & EV_WRITE)
		user_write(&s->u);
	if (revents & EV_READ)
		user_read(&s->u);
	if (s->u.shut)
		ev_io_set_events(s->loop, io, s->u.eof ? 0 : EV_READ);
}

static void
user_start(struct side *s, int fd, uint64_t wseed, uint64_t rseed)
{
	s->u.fd = fd;
	s->u.wgen = wseed;
	s->u.rgen = rseed;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	s->have_user = true;
	ev_io_start(s->loop, &s->user_io, fd, EV_READ | EV_WRITE, user_on_ready);
}

enum { SEED_A = 0x1234567887654321ull, SEED_B = 0x0fedcba987654321ull, XFER_PORT = 5000 };

static void
side_on_accept(void *arg, int fd, const struct sockaddr_storage *from,
	       const struct sockaddr_storage *to)
{
	struct side *s = arg;

	if (s->have_user) {
		close(fd);
		return;
	}
	user_start(s, fd, SEED_B, SEED_A);
}

static void
side_on_connected(void *arg, int err)
{
	struct side *s = arg;

	s->connect_err = err;
}

static int
side_new(struct side *s, int wire, const uint8_t *a4, const uint8_t *a6)
{
	struct netstack_config cfg;
	struct netstack_ops ops = { .output = wire_output };

	memset(s, 0, sizeof(*s));
	wire_init(&s->wire, wire);
	s->connect_err = 1;
	fill_config(&cfg, a4, a6);
	if (ev_loop_new(&s->loop) < 0 || netstack_new(&s->ns, s->loop, &cfg, &ops, s) < 0)
		return -1;
	return ev_io_start(s->loop, &s->wire_io, wire, EV_READ, wire_on_ready);
}

static void
side_free(struct side *s)
{
	if (s->have_user) {
		ev_io_stop(s->loop, &s->user_io);
		close(s->u.fd);
	}
	ev_io_stop(s->loop, &s->wire_io);
	netstack_free(s->ns);
	ev_loop_free(s->loop);
}

static bool
side_done(const struct side *s)
{
	return s->have_user && s->u.shut && s->u.eof && netstack_conns(s->ns) == 0;
}

/* Runs s until its transfer is done or the deadline; true if done. */
static bool
side_run(struct side *s)
{
	uint64_t end = ev_clock_ms() + DEADLINE_MS;

	while (!side_done(s) && ev_clock_ms() < end)
		ev_run_once(s->loop, 100);
	return side_done(s);
}

/* The child: stack B, a listener; exit 0 if its user got A's bytes intact and all closed. */
/*
 * Each process keeps running its stack after its own side is done, until the other is done
 * too: lwIP still retransmits what the other has not acknowledged (on a lossy wire, the last
 * data and the FIN). The child reports its result on `report` and runs until the parent
 * closes the wire; the parent runs until it has the child's report.
 */
static void __attribute__((noreturn)) child_b(int wire, int report)
{
	struct side s;
	int rc = 10;

	if (side_new(&s, wire, B4, B6) < 0)
		_exit(2);
	if (netstack_listen(s.ns, XFER_PORT, side_on_accept, &s) < 0)
		_exit(3);
	if (!side_run(&s))
		rc = 4;
	else if (s.u.bad || s.u.got != xfer_bytes || s.u.sent != xfer_bytes)
		rc = 5;
	else
		rc = 0;
	if (rc != 0)
		fprintf(stderr,
			"child: got %zu sent %zu bad %d eof %d conns %zu drops %" PRIu64 "\n",
			s.u.got, s.u.sent, s.u.bad, s.u.eof, netstack_conns(s.ns), s.wire.drops);
	if (write(report, &(uint8_t){ (uint8_t)rc }, 1) != 1)
		rc = 6;
	for (uint64_t end = ev_clock_ms() + DEADLINE_MS; s.wire_io.active && ev_clock_ms() < end;)
		ev_run_once(s.loop, 100);
	side_free(&s);
	_exit(rc);
}

static void
transfer_case(bool v6)
{
	struct sockaddr_storage to;
	struct side s;
	int wire[2], report[2], status, fd;
	uint8_t child_rc = 0xff;
	pid_t pid;

	assert_int_equal(wire_pair(wire), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC | O_NONBLOCK), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(wire[0]);
		close(report[0]);
		child_b(wire[1], report[1]);
	}
	close(wire[1]);
	close(report[1]);
	assert_int_equal(side_new(&s, wire[0], A4, A6), 0);
	memset(&to, 0, sizeof(to));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&to;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, B6, 16);
		s6->sin6_port = htons(XFER_PORT);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&to;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, B4, 4);
		s4->sin_port = htons(XFER_PORT);
	}
	/* The child may not listen yet: a refused dial is retried (bounded by the deadline). */
	for (uint64_t end = ev_clock_ms() + DEADLINE_MS; ev_clock_ms() < end;) {
		s.connect_err = 1;
		assert_int_equal(netstack_connect(s.ns, &to, side_on_connected, &s, &fd), 0);
		while (s.connect_err == 1 && ev_clock_ms() < end)
			ev_run_once(s.loop, 100);
		if (s.connect_err == 0)
			break;
		close(fd);
	}
	assert_int_equal(s.connect_err, 0);
	user_start(&s, fd, SEED_A, SEED_B);
	if (!side_run(&s))
		fprintf(stderr, "parent: got %zu sent %zu eof %d conns %zu drops %" PRIu64 "\n",
			s.u.got, s.u.sent, s.u.eof, netstack_conns(s.ns), s.wire.drops);
	for (uint64_t end = ev_clock_ms() + DEADLINE_MS;
	     read(report[0], &child_rc, 1) != 1 && ev_clock_ms() < end;)
		ev_run_once(s.loop, 20);
	ev_io_stop(s.loop, &s.wire_io);
	close(wire[0]); /* the child ends */
	close(report[0]);
	assert_int_equal(child_rc, 0);
	assert_true(side_done(&s));
	assert_int_equal(s.wire.drops, 0);
	assert_false(s.u.bad);
	assert_int_equal(s.u.got, xfer_bytes);
	assert_int_equal(s.u.sent, xfer_bytes);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	side_free(&s);
}

static void
test_netstack_transfer_v4(void **state)
{
	transfer_case(false);
}

static void
test_netstack_transfer_v6(void **state)
{
	transfer_case(true);
}

/*
 * A lossy path: every 50th packet lost each way (data, ACKs, the handshake alike); 1 MiB each
 * way still arrives intact, by lwIP's retransmissions, within the deadline.
 */
static void
test_netstack_transfer_lossy(void **state)
{
	uint64_t start = ev_clock_ms();

	xfer_bytes = 1 << 20;
	wire_loss_every = 50;
	transfer_case(false);
	xfer_bytes = XFER_BYTES;
	wire_loss_every = 0;
	print_message("lossy transfer: %" PRIu64 " ms\n", ev_clock_ms() - start);
}

/* --- ICMP echo (netstack_echo, ops.echo_reply) --- */

static struct {
	int n;
	struct in_addr from;
	uint16_t id, seq;
} echo_got;

static void
echo_reply(void *arg, const struct in_addr *from, uint16_t id, uint16_t seq)
{
	(void)arg;
	echo_got.n++;
	echo_got.from = *from;
	echo_got.id = id;
	echo_got.seq = seq;
}

/*
 * An echo request goes out from our address with the id, seq and a valid checksum; the peer's
 * reply (the same packet turned around, type 0) reaches echo_reply; an echo request to us is
 * still lwIP's to answer; our own address is refused.
 */
static void
test_netstack_echo(void **state)
{
	struct netstack_config cfg;
	struct netstack_ops ops = { .output = capture_output, .echo_reply = echo_reply };
	struct ev_loop *loop;
	struct netstack *ns;
	struct capture *cap = calloc(1, sizeof(*cap));
	struct in_addr to, self;
	uint8_t pkt[128];
	size_t len;

	(void)state;
	assert_non_null(cap);
	memset(&echo_got, 0, sizeof(echo_got));
	fill_config(&cfg, A4, A6);
	assert_int_equal(ev_loop_new(&loop), 0);
	assert_int_equal(netstack_new(&ns, loop, &cfg, &ops, cap), 0);
	memcpy(&to, B4, 4);
	memcpy(&self, A4, 4);
	assert_int_equal(netstack_echo(ns, &self, 7, 1), -EADDRNOTAVAIL);
	assert_int_equal(netstack_echo(ns, &to, 0x7678, 42), 0);
	assert_int_equal(cap->n, 1);
	len = cap->len[0];
	memcpy(pkt, cap->pkt[0], len);
	assert_int_equal(pkt[9], 1); /* ICMP */
	assert_memory_equal(pkt + 12, A4, 4);
	assert_memory_equal(pkt + 16, B4, 4);
	assert_int_equal(pkt[20], 8); /* echo request */
	assert_int_equal(pkt[24] << 8 | pkt[25], 0x7678);
	assert_int_equal(pkt[26] << 8 | pkt[27], 42);
	assert_int_equal(fold(sum16(pkt + 20, len - 20, 0)), 0); /* its checksum is right */
	/* The reply: addresses swapped, type 0, checksum fixed by the difference (8 << 8). */
	memcpy(pkt + 12, B4, 4);
	memcpy(pkt + 16, A4, 4);
	pkt[20] = 0;
	pkt[22] = pkt[23] = 0;
	{
		uint16_t c = fold(sum16(pkt + 20, len - 20, 0));

		pkt[22] = (uint8_t)(c >> 8);
		pkt[23] = (uint8_t)c;
	}
	pkt[10] = pkt[11] = 0;
	{
		uint16_t c = fold(sum16(pkt, 20, 0));

		pkt[10] = (uint8_t)(c >> 8);
		pkt[11] = (uint8_t)c;
	}
	netstack_input(ns, pkt, len);
	assert_int_equal(echo_got.n, 1);
	assert_int_equal(echo_got.id, 0x7678);
	assert_int_equal(echo_got.seq, 42);
	assert_memory_equal(&echo_got.from, B4, 4);
	/* A request to us: lwIP answers it (one more packet out), no callback. */
	cap->n = 0;
	pkt[20] = 8;
	pkt[22] = pkt[23] = 0;
	{
		uint16_t c = fold(sum16(pkt + 20, len - 20, 0));

		pkt[22] = (uint8_t)(c >> 8);
		pkt[23] = (uint8_t)c;
	}
	netstack_input(ns, pkt, len);
	assert_int_equal(echo_got.n, 1);
	assert_int_equal(cap->n, 1);
	assert_int_equal(cap->pkt[0][20], 0); /* lwIP's echo reply */
	netstack_free(ns);
	ev_loop_free(loop);
	free(cap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netstack_echo),
		cmocka_unit_test(test_netstack_input_syn_listening_v4),
		cmocka_unit_test(test_netstack_input_syn_listening_v6),
		cmocka_unit_test(test_netstack_input_syn_closed_v4),
		cmocka_unit_test(test_netstack_input_syn_closed_v6),
		cmocka_unit_test(test_netstack_input_drops),
		cmocka_unit_test(test_netstack_input_conns_full),
		cmocka_unit_test(test_netstack_new_refuses_second),
		cmocka_unit_test(test_netstack_free_drops_lwip_state),
		cmocka_unit_test(test_netstack_bridge_data_and_close),
		cmocka_unit_test(test_netstack_bridge_remote_reset),
		cmocka_unit_test(test_netstack_bridge_caller_close_resets),
		cmocka_unit_test(test_netstack_connect_refused),
		cmocka_unit_test(test_netstack_bridge_flow_control),
		cmocka_unit_test(test_netstack_reset_peer),
		cmocka_unit_test(test_netstack_bridge_close_with_data_waiting),
		cmocka_unit_test(test_netstack_transfer_v4),
		cmocka_unit_test(test_netstack_transfer_v6),
		cmocka_unit_test(test_netstack_transfer_lossy),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
