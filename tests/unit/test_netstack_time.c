// SPDX-License-Identifier: MIT
/*
 * The userspace stack's timers (netstack/netstack.c: lwIP's timeouts on our loop), on a clock
 * the test holds: this executable defines sys_now(), lwIP's clock, and exports it
 * (CMakeLists.txt: --export-dynamic-symbol=sys_now), so Debian's liblwip, which calls sys_now
 * through its PLT, reads the test's time; the event loop reads the same clock. Minutes of
 * lwIP's retransmission timers pass in milliseconds.
 *
 * Covers: a dial nobody answers is retransmitted every 3 s and fails with -ETIMEDOUT, its
 * descriptor then reading EOF; data nobody acknowledges is retransmitted, backing off, until
 * keepalive's limit ends it with a RST (EOF for the caller); an idle connection whose peer
 * vanished ends by keepalive, and not before.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ev.h"
#include "netstack/netstack.h"

static uint64_t fake_ms = 1000000;

/*
 * The test's clock advances this much per loop turn: a divisor of lwIP's 250 ms TCP timer.
 * lwIP 2.1 re-arms a cyclic timer from when it ran, not from when it was due, so steps that
 * make it late (100 ms: it runs at 300, 600, ...) slow lwIP's clock down (by 20 %).
 */
enum { TICK_MS = 50 };

/* lwIP's clock (lwip/sys.h: u32_t sys_now(void)), interposed. */
uint32_t sys_now(void);

uint32_t
sys_now(void)
{
	return (uint32_t)fake_ms;
}

static uint64_t
fake_clock(void *arg)
{
	return fake_ms;
}

static const uint8_t A4[4] = { 100, 64, 0, 1 }, B4[4] = { 100, 64, 0, 2 };

struct out {
	unsigned syns, data_segs, total;
	uint32_t first_seq;
	uint64_t times[64]; /* when each SYN or data segment left */
	unsigned ntimes;
	uint8_t last[2048];
	size_t last_len;
};

static void
on_output(void *arg, const uint8_t *pkt, size_t len)
{
	struct out *o = arg;
	size_t ih = (size_t)(pkt[0] & 0x0f) * 4, th = (size_t)(pkt[ih + 12] >> 4) * 4;
	uint8_t flags = pkt[ih + 13];

	o->total++;
	if (len <= sizeof(o->last)) {
		memcpy(o->last, pkt, len);
		o->last_len = len;
	}
	if ((flags & 0x02) || len > ih + th) {
		if (flags & 0x02)
			o->syns++;
		else
			o->data_segs++;
		if (o->ntimes < 64)
			o->times[o->ntimes++] = fake_ms;
	}
}

struct glue {
	struct ev_loop *loop;
	struct netstack *ns;
	struct out out;
};

static void
glue_new(struct glue *g)
{
	struct netstack_config cfg = { .prefix4 = 10, .prefix6 = 48, .mtu = 1420 };
	struct netstack_ops ops = { .output = on_output };

	memset(g, 0, sizeof(*g));
	memcpy(&cfg.addr4, A4, 4);
	cfg.addr6.s6_addr[0] = 0xfd;
	cfg.addr6.s6_addr[15] = 1;
	assert_int_equal(ev_loop_new(&g->loop), 0);
	ev_loop_set_clock(g->loop, fake_clock, NULL);
	assert_int_equal(netstack_new(&g->ns, g->loop, &cfg, &ops, &g->out), 0);
}

static void
glue_free(struct glue *g)
{
	netstack_free(g->ns);
	ev_loop_free(g->loop);
}

/* Advances the clock step_ms at a time, for at most limit_ms, until done(arg). */
static void
run_until(struct glue *g, uint64_t limit_ms, uint64_t step_ms, bool (*done)(void *), void *arg)
{
	for (uint64_t end = fake_ms + limit_ms; fake_ms < end && !done(arg);) {
		fake_ms += step_ms;
		assert_int_equal(ev_run_once(g->loop, 0), 0);
	}
}

static bool
is_answered(void *arg)
{
	return *(int *)arg != 1;
}

static bool
has_no_conns(void *arg)
{
	return netstack_conns(arg) == 0;
}

static void
on_connected(void *arg, int err)
{
	*(int *)arg = err;
}

static void
test_netstack_time_connect_timeout(void **state)
{
	struct sockaddr_storage to = { .ss_family = AF_INET };
	struct glue g;
	int fd, err = 1;
	char buf[4];
	uint64_t start;

	glue_new(&g);
	memcpy(&((struct sockaddr_in *)&to)->sin_addr, B4, 4);
	((struct sockaddr_in *)&to)->sin_port = htons(80);
	assert_int_equal(netstack_connect(g.ns, &to, on_connected, &err, &fd), 0);
	start = fake_ms;
	assert_int_equal(g.out.syns, 1);
	run_until(&g, 10 * 60 * 1000, TICK_MS, is_answered, &err);
	assert_int_equal(err, -ETIMEDOUT);
	/*
	 * lwIP's TCP_SYNMAXRTX (6): the SYN and six retransmissions, every 3 s (lwIP 2.1 does not
	 * back off in SYN_SENT; its slow timer ticks every 500 ms), so a dial gives up after ~18 s.
	 */
	assert_int_equal(g.out.syns, 7);
	for (unsigned i = 1; i < g.out.ntimes; i++) {
		assert_true(g.out.times[i] - g.out.times[i - 1] >= 2500);
		assert_true(g.out.times[i] - g.out.times[i - 1] <= 3000);
	}
	assert_true(fake_ms - start >= 17500 && fake_ms - start <= 19000);
	print_message("dial given up after %" PRIu64 " s\n", (fake_ms - start) / 1000);
	assert_int_equal(netstack_conns(g.ns), 0);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(fd);
	glue_free(&g);
}

/* A segment from B4:port to A4:22, the TCP checksum computed. */
static size_t
segment(uint8_t *b, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint32_t s = 0;
	uint16_t c;

	memset(b, 0, 40);
	b[0] = 0x45;
	b[3] = 40;
	b[8] = 64;
	b[9] = 6;
	memcpy(b + 12, B4, 4);
	memcpy(b + 16, A4, 4);
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	b[10] = (uint8_t)(c >> 8);
	b[11] = (uint8_t)c;
	b[20] = (uint8_t)(sport >> 8);
	b[21] = (uint8_t)sport;
	b[23] = 22;
	for (int i = 0; i < 4; i++) {
		b[24 + i] = (uint8_t)(seq >> (24 - 8 * i));
		b[28 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	b[32] = 5 << 4;
	b[33] = flags;
	b[34] = 0xff;
	b[35] = 0xff;
	s = 0;
	for (int i = 12; i < 20; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	s += 6 + 20;
	for (int i = 20; i < 40; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	b[36] = (uint8_t)(c >> 8);
	b[37] = (uint8_t)c;
	return 40;
}

static void
keep_fd(void *arg, int fd, const struct sockaddr_storage *from, const struct sockaddr_storage *to)
{
	*(int *)arg = fd;
}

static uint32_t
seq_of(const uint8_t *p)
{
	return (uint32_t)p[24] << 24 | (uint32_t)p[25] << 16 | (uint32_t)p[26] << 8 | p[27];
}

static void
test_netstack_time_retransmit_gives_up(void **state)
{
	struct glue g;
	uint8_t pkt[64];
	uint32_t isn;
	int fd = -1;
	char buf[4];
	uint64_t start;

	glue_new(&g);
	assert_int_equal(netstack_listen(g.ns, 22, keep_fd, &fd), 0);
	netstack_input(g.ns, pkt, segment(pkt, 40000, 1000, 0, 0x02));
	isn = seq_of(g.out.last);
	netstack_input(g.ns, pkt, segment(pkt, 40000, 1001, isn + 1, 0x10));
	assert_true(fd >= 0);
	g.out.syns = g.out.data_segs = g.out.ntimes = 0;
	start = fake_ms;
	/* The caller writes; the remote never acknowledges. */
	assert_int_equal(write(fd, "lost", 4), 4);
	run_until(&g, 60 * 60 * 1000, TICK_MS, has_no_conns, g.ns);
	assert_int_equal(netstack_conns(g.ns), 0);
	/*
	 * Retransmitted with backoff until lwIP ends it, with a RST: keepalive counts from the
	 * last segment received and ends it (15 min + 9 x 75 s) before lwIP's own limit of
	 * TCP_MAXRTX (12) retransmissions, which without keepalive took about 38 minutes.
	 */
	print_message("data given up after %" PRIu64 " s, %u sends\n", (fake_ms - start) / 1000,
		      g.out.data_segs);
	assert_true(g.out.data_segs >= 8);
	for (unsigned i = 2; i < g.out.ntimes; i++)
		assert_true(g.out.times[i] - g.out.times[i - 1] >=
			    g.out.times[i - 1] - g.out.times[i - 2]);
	assert_true(g.out.last[33] & 0x04);
	assert_true(fake_ms - start >=
		    NETSTACK_KEEPALIVE_IDLE_MS +
			(uint64_t)NETSTACK_KEEPALIVE_COUNT * NETSTACK_KEEPALIVE_INTVL_MS - 1000);
	assert_true(fake_ms - start <=
		    NETSTACK_KEEPALIVE_IDLE_MS +
			(uint64_t)NETSTACK_KEEPALIVE_COUNT * NETSTACK_KEEPALIVE_INTVL_MS + 1000);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(fd);
	glue_free(&g);
}

/*
 * An idle connection to a peer that vanished: after NETSTACK_KEEPALIVE_IDLE_MS, a probe every
 * NETSTACK_KEEPALIVE_INTVL_MS; after NETSTACK_KEEPALIVE_COUNT unanswered, a RST and the
 * bridge ends (EOF for the caller). Not before.
 */
static void
test_netstack_time_keepalive(void **state)
{
	struct glue g;
	uint8_t pkt[64];
	uint32_t isn;
	int fd = -1;
	char buf[4];
	uint64_t start, gone = NETSTACK_KEEPALIVE_IDLE_MS +
			       (uint64_t)NETSTACK_KEEPALIVE_COUNT * NETSTACK_KEEPALIVE_INTVL_MS;

	glue_new(&g);
	assert_int_equal(netstack_listen(g.ns, 22, keep_fd, &fd), 0);
	netstack_input(g.ns, pkt, segment(pkt, 40001, 5000, 0, 0x02));
	isn = seq_of(g.out.last);
	netstack_input(g.ns, pkt, segment(pkt, 40001, 5001, isn + 1, 0x10));
	assert_true(fd >= 0);
	start = fake_ms;
	g.out.total = 0;
	run_until(&g, NETSTACK_KEEPALIVE_IDLE_MS - 1000, TICK_MS, has_no_conns, g.ns);
	assert_int_equal(g.out.total, 0); /* idle: nothing sent */
	assert_int_equal(netstack_conns(g.ns), 1);
	run_until(&g, gone, TICK_MS, has_no_conns, g.ns);
	assert_int_equal(netstack_conns(g.ns), 0);
	assert_int_equal(g.out.total, NETSTACK_KEEPALIVE_COUNT + 1); /* the probes, the RST */
	assert_true(g.out.last[33] & 0x04);
	assert_true(fake_ms - start >= gone - 1000 && fake_ms - start <= gone + 1000);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(fd);
	glue_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netstack_time_connect_timeout),
		cmocka_unit_test(test_netstack_time_retransmit_gives_up),
		cmocka_unit_test(test_netstack_time_keepalive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
