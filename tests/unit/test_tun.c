// SPDX-License-Identifier: MIT
/*
 * Tests of kernel-iface/tun.c against the real kernel, in a private network namespace the test
 * process makes for itself (unshare), so nothing leaks out and nothing needs cleaning up.
 * Without root or /dev/net/tun the kernel tests are skipped; argument checks run everywhere.
 *
 * The echo test is the proof that the device works end to end: we write an ICMP echo request
 * from a pretend peer (100.64.0.2) into the TUN and expect the kernel's reply to come back out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"
#include "dataplane/gro.h"
#include "dataplane/gso.h"
#include "kernel-iface/netlink.h"
#include "overlay/csum.h"
#include "kernel-iface/tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

static bool have_netns;

enum { ICMP_ID = 0x5654, ICMP_SEQ = 7, IP_HDR_LEN = 20, ICMP_HDR_LEN = 8, PAYLOAD_LEN = 16 };

static int
group_setup(void **state)
{
	log_init("test_tun");
	if (geteuid() != 0 || access("/dev/net/tun", F_OK) != 0)
		return 0;
	have_netns = unshare(CLONE_NEWNET) == 0;
	return 0;
}

/* The Internet checksum (RFC 1071) over an even-length buffer. */
static uint16_t
inet_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t
build_echo_request(uint8_t *pkt, const char *src, const char *dst)
{
	uint8_t *icmp = pkt + IP_HDR_LEN;
	size_t len = IP_HDR_LEN + ICMP_HDR_LEN + PAYLOAD_LEN;

	memset(pkt, 0, len);
	pkt[0] = 0x45; /* IPv4, 5 words */
	put_u16(pkt + 2, (uint16_t)len);
	put_u16(pkt + 4, 0x1234);
	pkt[8] = 64; /* TTL */
	pkt[9] = 1;  /* ICMP */
	inet_pton(AF_INET, src, pkt + 12);
	inet_pton(AF_INET, dst, pkt + 16);
	put_u16(pkt + 10, inet_csum(pkt, IP_HDR_LEN));
	icmp[0] = 8; /* echo request */
	put_u16(icmp + 4, ICMP_ID);
	put_u16(icmp + 6, ICMP_SEQ);
	for (int i = 0; i < PAYLOAD_LEN; i++)
		icmp[ICMP_HDR_LEN + i] = (uint8_t)('a' + i);
	put_u16(icmp + 2, inet_csum(icmp, ICMP_HDR_LEN + PAYLOAD_LEN));
	return len;
}

static bool
is_echo_reply(const uint8_t *p, ssize_t n)
{
	return n >= IP_HDR_LEN + ICMP_HDR_LEN && p[0] == 0x45 && p[9] == 1 && p[IP_HDR_LEN] == 0 &&
	       (p[IP_HDR_LEN + 4] << 8 | p[IP_HDR_LEN + 5]) == ICMP_ID;
}

/* Reads until an echo reply arrives; the kernel may send other packets (IPv6 MLD) first. */
static ssize_t
read_echo_reply(struct tun *t, uint8_t *buf, size_t len)
{
	struct pollfd pfd = { .fd = tun_fd(t), .events = POLLIN };

	for (int tries = 0; tries < 50; tries++) {
		ssize_t n = tun_read(t, buf, len);

		if (n == -EAGAIN) {
			if (poll(&pfd, 1, 2000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0 || is_echo_reply(buf, n))
			return n;
	}
	return -ETIMEDOUT;
}

static void
setup_overlay(struct netlink *nl, struct tun *t)
{
	uint8_t a4[4], p4[4];

	inet_pton(AF_INET, "100.64.0.1", a4);
	inet_pton(AF_INET, "100.64.0.0", p4);
	assert_int_equal(netlink_link_up(nl, tun_ifindex(t), 1420), 0);
	assert_int_equal(netlink_addr_add(nl, tun_ifindex(t), AF_INET, a4, 32), 0);
	assert_int_equal(netlink_route_add(nl, tun_ifindex(t), AF_INET, p4, 10), 0);
}

static void
test_tun_open_name_too_long(void **state)
{
	struct tun *t = NULL;

	assert_int_equal(tun_open(&t, "vtx0123456789abcd", 0), -EINVAL);
	assert_int_equal(tun_open(&t, "", 0), -EINVAL);
	assert_null(t);
}

static void
test_tun_open_creates_device(void **state)
{
	struct tun *t;
	uint8_t buf[64];

	if (!have_netns)
		skip();
	assert_int_equal(tun_open(&t, "vtxk0", 0), 0);
	assert_string_equal(tun_name(t), "vtxk0");
	assert_int_equal(tun_ifindex(t), (int)if_nametoindex("vtxk0"));
	assert_true(tun_fd(t) >= 0);
	/* Non-blocking: an empty queue is -EAGAIN, not a hang. */
	assert_int_equal(tun_read(t, buf, sizeof(buf)), -EAGAIN);
	tun_close(t);
}

static void
test_tun_write_echo_reply(void **state)
{
	struct netlink *nl;
	struct tun *t;
	uint8_t req[128], rep[2048];
	size_t len;
	ssize_t n;

	if (!have_netns)
		skip();
	assert_int_equal(netlink_open(&nl), 0);
	assert_int_equal(tun_open(&t, "vtxk1", 0), 0);
	setup_overlay(nl, t);
	len = build_echo_request(req, "100.64.0.2", "100.64.0.1");
	assert_int_equal(tun_write(t, req, len), (ssize_t)len);
	n = read_echo_reply(t, rep, sizeof(rep));
	assert_int_equal(n, (ssize_t)len);
	/* Addresses swapped, same payload, and both checksums valid. */
	assert_memory_equal(rep + 12, req + 16, 4);
	assert_memory_equal(rep + 16, req + 12, 4);
	assert_int_equal(inet_csum(rep, IP_HDR_LEN), 0);
	assert_int_equal(inet_csum(rep + IP_HDR_LEN, (size_t)n - IP_HDR_LEN), 0);
	assert_memory_equal(rep + IP_HDR_LEN + 4, req + IP_HDR_LEN + 4,
			    ICMP_HDR_LEN - 4 + PAYLOAD_LEN);
	tun_close(t);
	netlink_close(nl);
}

/* With TUN_OFFLOAD: the offloads are taken, and a packet goes in and out behind a header. */
static void
test_tun_offload_echo(void **state)
{
	struct netlink *nl;
	struct tun *t;
	uint8_t req[128], rep[2048], vnet[VNET_HDR_LEN] = { 0 };
	struct iovec iov[2] = { { vnet, sizeof(vnet) }, { req, 0 } };
	struct vnet_hdr h;
	size_t len;
	ssize_t n;

	if (!have_netns)
		skip();
	assert_int_equal(netlink_open(&nl), 0);
	assert_int_equal(tun_open(&t, "vtxk5", TUN_OFFLOAD), 0);
	assert_true(tun_has_vnet_hdr(t));
	assert_int_equal(tun_offloads(t) & 0x7, 0x7); /* checksum, TSO4, TSO6 */
	setup_overlay(nl, t);
	len = build_echo_request(req, "100.64.0.2", "100.64.0.1");
	iov[1].iov_len = len;
	assert_int_equal(tun_writev(t, iov, 2), (ssize_t)(VNET_HDR_LEN + len));
	/* As read_echo_reply, with the header in front of each packet. */
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd pfd = { .fd = tun_fd(t), .events = POLLIN };

		n = tun_read(t, rep, sizeof(rep));
		if (n == -EAGAIN && poll(&pfd, 1, 2000) > 0)
			continue;
		if (n < VNET_HDR_LEN || is_echo_reply(rep + VNET_HDR_LEN, n - VNET_HDR_LEN))
			break;
	}
	assert_int_equal(n, (ssize_t)(VNET_HDR_LEN + len));
	assert_true(vnet_hdr_decode(rep, (size_t)n, &h));
	assert_int_equal(h.gso_type, VNET_GSO_NONE);
	assert_int_equal(inet_csum(rep + VNET_HDR_LEN, IP_HDR_LEN), 0);
	tun_close(t);
	netlink_close(nl);
}

enum { TCP_PORT = 5555, PEER_PORT = 40000, SEG = 1000, PEER_ISN = 1000 };

/* A TCP segment from the pretend peer 100.64.0.2 to us, with a full checksum. */
static size_t
build_tcp(uint8_t *p, uint16_t id, uint32_t seq, uint32_t ack, uint8_t flags, size_t plen)
{
	struct gso_ip ip = { .family = 4, .proto = IPPROTO_TCP, .ip_hlen = 20, .l4_hlen = 20 };
	uint8_t *tcp = p + 20;
	size_t len = 40 + plen;

	memset(p, 0, 40);
	p[0] = 0x45;
	put_u16(p + 2, (uint16_t)len);
	put_u16(p + 4, id);
	p[6] = 0x40;
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	inet_pton(AF_INET, "100.64.0.2", p + 12);
	inet_pton(AF_INET, "100.64.0.1", p + 16);
	put_u16(p + 10, inet_csum(p, 20));
	put_u16(tcp, PEER_PORT);
	put_u16(tcp + 2, TCP_PORT);
	put_u16(tcp, PEER_PORT);
	put_u16(tcp + 4, (uint16_t)(seq >> 16));
	put_u16(tcp + 6, (uint16_t)seq);
	put_u16(tcp + 8, (uint16_t)(ack >> 16));
	put_u16(tcp + 10, (uint16_t)ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put_u16(tcp + 14, 65535);
	for (size_t i = 0; i < plen; i++)
		tcp[20 + i] = (uint8_t)(seq + i);
	ip.ip_len = (uint32_t)len;
	put_u16(tcp + 16,
		csum_fold(csum_partial(tcp, 20 + plen, gso_pseudo_sum(p, &ip, 20 + plen))));
	return len;
}

static int
tun_gro_write(void *arg, const uint8_t *vnet, const uint8_t *pkt, size_t len)
{
	struct iovec iov[2] = { { (void *)vnet, VNET_HDR_LEN }, { (void *)pkt, len } };

	return tun_writev(arg, iov, 2) == (ssize_t)(VNET_HDR_LEN + len) ? 0 : -EIO;
}

struct one_seg {
	uint8_t buf[2048];
	size_t len;
};

static uint8_t *
one_get(void *arg)
{
	return ((struct one_seg *)arg)->buf;
}

static void
one_put(void *arg, size_t len)
{
	((struct one_seg *)arg)->len = len;
}

/* Reads until the kernel's SYN-ACK to the pretend peer; returns its sequence number. */
static uint32_t
read_syn_ack(struct tun *t)
{
	struct pollfd pfd = { .fd = tun_fd(t), .events = POLLIN };
	struct one_seg s;
	const struct gso_sink sink = { .get = one_get, .put = one_put, .cap = 2048, .arg = &s };
	uint8_t buf[4096];
	unsigned nseg;

	for (int tries = 0; tries < 50; tries++) {
		ssize_t n = tun_read(t, buf, sizeof(buf));
		const uint8_t *p = s.buf, *tcp = s.buf + 20;

		if (n == -EAGAIN) {
			assert_true(poll(&pfd, 1, 2000) > 0);
			continue;
		}
		assert_true(n > 0);
		/* The kernel leaves the checksum to us (NEEDS_CSUM); gso_split completes it. */
		assert_int_equal(gso_split(buf, (size_t)n, &sink, &nseg), GSO_OK);
		if (s.len < 40 || p[0] != 0x45 || p[9] != IPPROTO_TCP || tcp[13] != 0x12)
			continue;
		assert_int_equal(inet_csum(p, 20), 0);
		assert_int_equal(
		    csum_fold(csum_partial(
			tcp, s.len - 20,
			gso_pseudo_sum(
			    p, &(struct gso_ip){ .family = 4, .proto = IPPROTO_TCP, .ip_hlen = 20 },
			    s.len - 20))),
		    0);
		return (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 |
		       tcp[7];
	}
	fail_msg("no SYN-ACK");
	return 0;
}

/*
 * The kernel takes our coalesced super-packet: a TCP connection from a pretend peer, whose
 * data arrives as segments merged by gro into one write, reads back whole on the socket.
 */
static void
test_tun_offload_gro_accepted(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(TCP_PORT) };
	const struct gro_sink sink = { .write = tun_gro_write };
	struct gro_sink s = sink;
	struct netlink *nl;
	struct gro *g;
	struct tun *t;
	struct pollfd pfd;
	uint8_t pkt[2048], got[4 * SEG];
	uint32_t isn;
	size_t len, have = 0;
	int lfd, cfd, one = 1;

	if (!have_netns)
		skip();
	assert_int_equal(netlink_open(&nl), 0);
	assert_int_equal(tun_open(&t, "vtxk6", TUN_OFFLOAD), 0);
	setup_overlay(nl, t);
	s.arg = t;
	assert_int_equal(gro_new(&g, &s), 0);
	inet_pton(AF_INET, "100.64.0.1", &sa.sin_addr);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	len = build_tcp(pkt, 1, PEER_ISN, 0, 0x02, 0);
	gro_add(g, pkt, len);
	isn = read_syn_ack(t);
	len = build_tcp(pkt, 2, PEER_ISN + 1, isn + 1, 0x10, 0);
	gro_add(g, pkt, len);
	for (unsigned i = 0; i < 4; i++) {
		len = build_tcp(pkt, (uint16_t)(3 + i), PEER_ISN + 1 + i * SEG, isn + 1,
				i == 3 ? 0x18 : 0x10, SEG);
		gro_add(g, pkt, len);
	}
	gro_flush(g);
	assert_int_equal(gro_count(g, GRO_SUPER_WRITTEN), 1);
	assert_int_equal(gro_count(g, GRO_SEGMENTS_MERGED), 4);
	assert_int_equal(gro_count(g, GRO_WRITE_ERRORS), 0);
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	assert_true(poll(&pfd, 1, 2000) > 0);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	while (have < sizeof(got)) {
		ssize_t n;

		pfd = (struct pollfd){ .fd = cfd, .events = POLLIN };
		assert_true(poll(&pfd, 1, 2000) > 0);
		n = recv(cfd, got + have, sizeof(got) - have, 0);
		assert_true(n > 0);
		have += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], (uint8_t)(PEER_ISN + 1 + i));
	close(cfd);
	close(lfd);
	gro_free(g);
	tun_close(t);
	netlink_close(nl);
}

static bool
has_route_on(struct nl_sock *sk, int ifindex)
{
	struct nl_cache *cache;
	bool found = false;

	assert_int_equal(rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &cache), 0);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;

		for (int i = 0; i < rtnl_route_get_nnexthops(r); i++)
			if (rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, i)) == ifindex)
				found = true;
	}
	nl_cache_free(cache);
	return found;
}

/* Non-persistent: closing the descriptor removes the device and every route through it. */
static void
test_tun_close_removes_device(void **state)
{
	struct nl_sock *sk;
	struct rtnl_link *link = NULL;
	struct netlink *nl;
	struct tun *t;
	int ifindex;

	if (!have_netns)
		skip();
	sk = nl_socket_alloc();
	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	assert_int_equal(netlink_open(&nl), 0);
	assert_int_equal(tun_open(&t, "vtxk2", 0), 0);
	ifindex = tun_ifindex(t);
	setup_overlay(nl, t);
	assert_true(has_route_on(sk, ifindex));
	tun_close(t);
	assert_int_not_equal(rtnl_link_get_kernel(sk, ifindex, NULL, &link), 0);
	assert_null(link);
	assert_false(has_route_on(sk, ifindex));
	netlink_close(nl);
	nl_socket_free(sk);
}

/* Multi-queue: a second descriptor attaches another queue to the same device. */
static void
test_tun_open_multi_queue(void **state)
{
	struct tun *q1, *q2, *single;

	if (!have_netns)
		skip();
	assert_int_equal(tun_open(&q1, "vtxk3", TUN_MULTI_QUEUE), 0);
	assert_int_equal(tun_open(&q2, "vtxk3", TUN_MULTI_QUEUE), 0);
	assert_int_equal(tun_ifindex(q1), tun_ifindex(q2));
	/* A single-queue open of a multi-queue device is refused, not silently mixed. */
	assert_int_equal(tun_open(&single, "vtxk3", 0), -EINVAL);
	tun_close(q1);
	tun_close(q2);
	assert_int_equal(if_nametoindex("vtxk3"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tun_open_name_too_long),
		cmocka_unit_test(test_tun_open_creates_device),
		cmocka_unit_test(test_tun_write_echo_reply),
		cmocka_unit_test(test_tun_offload_echo),
		cmocka_unit_test(test_tun_offload_gro_accepted),
		cmocka_unit_test(test_tun_close_removes_device),
		cmocka_unit_test(test_tun_open_multi_queue),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
