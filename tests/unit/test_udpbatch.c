// SPDX-License-Identifier: MIT
/*
 * Tests of the UDP send batches (core/udpbatch.c): how queued datagrams are grouped into
 * messages. A group is what the kernel then cuts back into datagrams with UDP GSO, so a wrong
 * group puts datagrams on the wire with the wrong sizes or to the wrong address: each case
 * checks the groups against a naive reading of the rule (one destination, every datagram of
 * the first one's size but the last, at most 64 and 65,000 bytes), and that the iovecs in order
 * are the datagrams queued, unchanged. Nothing is sent (that needs a network namespace: the
 * relay_udp and overlay scenarios send through it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include "core/udpbatch.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static uint8_t data[UDP_BATCH_MAX][1500];

static struct sockaddr_in
dest(uint8_t last, uint16_t port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };

	s.sin_addr.s_addr = htonl(0xc6120000u | last); /* 198.18.0.last */
	return s;
}

static void
add(struct udp_batch *b, size_t len, uint8_t last, uint16_t port)
{
	struct sockaddr_in to = dest(last, port);

	udp_batch_add(b, data[b->n], len, (const struct sockaddr *)&to, sizeof(to));
}

/* The segment size a message asks for, or 0 if none. */
static unsigned
seg_of(const struct msghdr *m)
{
	struct cmsghdr *c;
	uint16_t gso;

	if (!m->msg_control)
		return 0;
	c = CMSG_FIRSTHDR((struct msghdr *)m);
	assert_non_null(c);
	assert_int_equal(c->cmsg_level, SOL_UDP);
	assert_int_equal(c->cmsg_type, UDP_SEGMENT);
	memcpy(&gso, CMSG_DATA(c), sizeof(gso));
	return gso;
}

/*
 * Checks b's messages: `want` lists each message's datagram count; every message sends to the
 * address of its first datagram, asks for the first one's size when it has more than one, and
 * its datagrams are the queued ones in order.
 */
static void
check(struct udp_batch *b, const unsigned *want, unsigned nwant)
{
	unsigned n = b->n, nmsg = udp_batch_build(b), at = 0;

	assert_int_equal(nmsg, nwant);
	for (unsigned i = 0; i < nmsg; i++) {
		const struct msghdr *m = &b->msgs[i].msg_hdr;
		size_t total = 0;

		assert_int_equal(m->msg_iovlen, want[i]);
		assert_ptr_equal(m->msg_iov, &b->iov[at]);
		assert_ptr_equal(m->msg_name, &b->addr[at]);
		for (unsigned k = 0; k < m->msg_iovlen; k++) {
			assert_ptr_equal(m->msg_iov[k].iov_base, data[at + k]);
			assert_int_equal(b->addrlen[at + k], m->msg_namelen);
			assert_memory_equal(&b->addr[at + k], m->msg_name, m->msg_namelen);
			if (k + 1 < m->msg_iovlen)
				assert_int_equal(m->msg_iov[k].iov_len, m->msg_iov[0].iov_len);
			else
				assert_true(m->msg_iov[k].iov_len <= m->msg_iov[0].iov_len);
			total += m->msg_iov[k].iov_len;
		}
		assert_true(m->msg_iovlen <= UDP_GSO_MAX_SEGS);
		if (m->msg_iovlen > 1) {
			assert_int_equal(seg_of(m), m->msg_iov[0].iov_len);
			assert_true(total <= UDP_GSO_MAX_BYTES);
		} else {
			assert_int_equal(seg_of(m), 0);
		}
		at += (unsigned)m->msg_iovlen;
	}
	assert_int_equal(at, n);
}

static void
test_runs_to_one_peer(void **state)
{
	struct udp_batch b = { .gso = true };
	const unsigned want[] = { 5 };

	(void)state;
	for (int i = 0; i < 4; i++)
		add(&b, 1400, 1, 4801);
	add(&b, 600, 1, 4801); /* the last one shorter: same message */
	check(&b, want, 1);
}

static void
test_breaks(void **state)
{
	struct udp_batch b = { .gso = true };
	/* a short one ends its message | other address | other port | larger than the run's */
	const unsigned want[] = { 4, 2, 2, 1, 1 };

	(void)state;
	add(&b, 1400, 1, 4801);
	add(&b, 1400, 1, 4801);
	add(&b, 1400, 1, 4801);
	add(&b, 200, 1, 4801); /* short: the last of this message, nothing after it */
	add(&b, 1400, 1, 4801);
	add(&b, 1400, 1, 4801);
	add(&b, 1400, 2, 4801);
	add(&b, 1400, 2, 4801);
	add(&b, 1400, 2, 4802);
	add(&b, 1500, 2, 4802);
	check(&b, want, 5);
}

static void
test_bounds(void **state)
{
	struct udp_batch b = { .gso = true };
	const unsigned by_count[] = { 64 };
	/* 65,000 bytes: 46 of 1400 (64,400), then the other 18 */
	const unsigned by_bytes[] = { 46, 18 };

	(void)state;
	for (int i = 0; i < 64; i++)
		add(&b, 100, 1, 4801);
	assert_true(udp_batch_full(&b));
	check(&b, by_count, 1);
	b.n = 0;
	for (int i = 0; i < 64; i++)
		add(&b, 1400, 1, 4801);
	check(&b, by_bytes, 2);
}

static void
test_without_gso_one_message_each(void **state)
{
	struct udp_batch b = { .gso = false };
	const unsigned want[] = { 1, 1, 1 };

	(void)state;
	for (int i = 0; i < 3; i++)
		add(&b, 1400, 1, 4801);
	check(&b, want, 3);
}

static void
test_interleaved_peers(void **state)
{
	struct udp_batch b = { .gso = true };
	const unsigned want[] = { 1, 1, 1, 1, 2 };

	(void)state;
	/* Order is kept: interleaved destinations are not regrouped. */
	add(&b, 1400, 1, 4801);
	add(&b, 1400, 2, 4801);
	add(&b, 1400, 1, 4801);
	add(&b, 1400, 2, 4801);
	add(&b, 1400, 1, 4801);
	add(&b, 1400, 1, 4801);
	check(&b, want, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_to_one_peer),
		cmocka_unit_test(test_breaks),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_without_gso_one_message_each),
		cmocka_unit_test(test_interleaved_peers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
