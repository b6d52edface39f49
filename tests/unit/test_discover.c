// SPDX-License-Identifier: MIT
/*
 * Unit tests for the SRV answer parser (control/discover.c): hand-built DNS answers (the bytes
 * are spelled out below, offsets in the comments) with two priorities, name compression, other
 * record types, every truncation, compression loops and bad names; then seeded random answers
 * checked against a naive reference of the order (priority up, weight down, answer order).
 * discover_server itself needs a DNS server and is covered by tests/integration/discover.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/discover.h"

/* Header (id 0x1234, response + RD + RA, 1 question, ANCOUNT as given), then the question
 * _vertex._tcp.a.example.com SRV IN: the name sits at offset 12, "a.example.com" at 25 (0x19),
 * and the question ends at 44, where the answers start. */
#define HDR(ancount) 0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, (ancount), 0x00, 0x00, 0x00, 0x00
#define QUESTION                                                                                   \
	7, '_', 'v', 'e', 'r', 't', 'e', 'x', 4, '_', 't', 'c', 'p', 1, 'a', 7, 'e', 'x', 'a',     \
	    'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x21, 0x00, 0x01
/* Owner = pointer to the question name; TYPE, CLASS IN, TTL 3600, RDLENGTH. */
#define RR(type, rdlen) 0xc0, 0x0c, 0x00, (type), 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, (rdlen)

/* Priority 20 -> vx2.a.example.com:4801, then priority 10 -> vx.a.example.com:4802; both
 * targets end in a pointer to "a.example.com" in the question. */
static const uint8_t two_prio[] = {
	HDR(2), QUESTION, RR(0x21, 12), 0x00, 20,           0x00, 0,  0x12, 0xc1, 3,    'v',
	'x',    '2',      0xc0,         0x19, RR(0x21, 11), 0x00, 10, 0x00, 5,    0x12, 0xc2,
	2,      'v',      'x',          0xc0, 0x19,
};

static void
test_discover_parse_srv_two_priorities(void **state)
{
	struct discover_result out[4];

	assert_int_equal(discover_parse_srv(two_prio, sizeof(two_prio), out, 4), 2);
	assert_string_equal(out[0].host, "vx.a.example.com");
	assert_int_equal(out[0].priority, 10);
	assert_int_equal(out[0].weight, 5);
	assert_int_equal(out[0].port, 4802);
	assert_int_equal(out[0].addr.ss_family, AF_UNSPEC);
	assert_string_equal(out[1].host, "vx2.a.example.com");
	assert_int_equal(out[1].priority, 20);
	assert_int_equal(out[1].weight, 0);
	assert_int_equal(out[1].port, 4801);
}

static void
test_discover_parse_srv_max_keeps_best(void **state)
{
	struct discover_result out[1];

	assert_int_equal(discover_parse_srv(two_prio, sizeof(two_prio), out, 1), 1);
	assert_string_equal(out[0].host, "vx.a.example.com");
	assert_int_equal(discover_parse_srv(two_prio, sizeof(two_prio), NULL, 0), 0);
}

static void
test_discover_parse_srv_truncated(void **state)
{
	struct discover_result out[4];

	for (size_t len = 0; len < sizeof(two_prio); len++) {
		uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees any over-read */

		assert_non_null(copy);
		memcpy(copy, two_prio, len);
		assert_int_equal(discover_parse_srv(copy, len, out, 4), -EINVAL);
		free(copy);
	}
	assert_int_equal(discover_parse_srv(NULL, 0, out, 4), -EINVAL);
}

/* A CNAME, an A record, an SRV of class CH and an SRV of class IN: only the last counts. */
static const uint8_t other_types[] = {
	HDR(4), QUESTION, RR(0x05, 2),  0xc0, 0x19, RR(0x01, 4), 198,  18,   0,    10,
	0xc0,   0x0c,     0x00,         0x21, 0x00, 0x03,        0x00, 0x00, 0x0e, 0x10,
	0x00,   10,       0x00,         0,    0x00, 0,           0x12, 0xc1, 2,    'c',
	'h',    0,        RR(0x21, 11), 0x00, 0,    0x00,        0,    0x12, 0xc1, 2,
	'v',    'x',      0xc0,         0x19,
};

static void
test_discover_parse_srv_other_types_ignored(void **state)
{
	struct discover_result out[4];

	assert_int_equal(discover_parse_srv(other_types, sizeof(other_types), out, 4), 1);
	assert_string_equal(out[0].host, "vx.a.example.com");
	assert_int_equal(out[0].port, 4801);
}

/* The owner name of the answer (at offset 44) is a pointer to itself. */
static const uint8_t self_loop[] = {
	HDR(1), QUESTION, 0xc0, 44, 0x00, 0x21, 0x00, 0x01, 0,    0, 0,
	0,      0x00,     7,    0,  0,    0,    0,    0x12, 0xc1, 0,
};

/* The owner name points forward, to a pointer that points back to it: a two-step loop. */
static const uint8_t forward_loop[] = {
	HDR(1), QUESTION, 0xc0, 57, 0x00, 0x21, 0x00, 0x01, 0,    0,  0, 0,
	0x00,   9,        0,    0,  0,    0,    0x12, 0xc1, 0xc0, 44, 0,
};

static void
test_discover_parse_srv_compression_loop_refused(void **state)
{
	struct discover_result out[4];

	assert_int_equal(discover_parse_srv(self_loop, sizeof(self_loop), out, 4), -EINVAL);
	assert_int_equal(discover_parse_srv(forward_loop, sizeof(forward_loop), out, 4), -EINVAL);
}

/* A chain of backward pointers longer than any name needs: refused, not followed forever. The
 * chain is the RDATA of a CNAME (skipped by length), and the SRV's owner name enters it. */
static void
test_discover_parse_srv_pointer_chain_refused(void **state)
{
	const uint8_t head[] = { HDR(2), QUESTION, RR(0x05, 80) };
	/* after the owner: TYPE SRV, CLASS IN, TTL, RDLENGTH 8, port 1, target "a.example.com" */
	const uint8_t srv[] = { 0x00, 0x21, 0x00, 0x01, 0, 0, 0, 0,    0x00,
				8,    0,    0,    0,    0, 0, 1, 0xc0, 0x19 };
	uint8_t buf[256];
	struct discover_result out[1];
	size_t len = sizeof(head), chain = sizeof(head), owner;

	memcpy(buf, head, len);
	for (size_t i = 0; i < 40; i++) { /* pointer i -> pointer i-1, pointer 0 -> question */
		size_t to = i == 0 ? 12 : chain + 2 * (i - 1);

		buf[len++] = (uint8_t)(0xc0 | to >> 8);
		buf[len++] = (uint8_t)to;
	}
	owner = len;
	buf[len++] = 0xc0;
	buf[len++] = (uint8_t)(chain + 2 * 39); /* 41 hops to the question name */
	memcpy(buf + len, srv, sizeof(srv));
	len += sizeof(srv);
	assert_true(chain + 2 * 39 < 256);
	assert_int_equal(discover_parse_srv(buf, len, out, 1), -EINVAL);
	buf[owner + 1] = (uint8_t)(chain + 2 * 2); /* 4 hops: fine */
	assert_int_equal(discover_parse_srv(buf, len, out, 1), 1);
	assert_string_equal(out[0].host, "a.example.com");
	assert_int_equal(out[0].port, 1);
}

static void
test_discover_parse_srv_root_target_refuses(void **state)
{
	/* RFC 2782: target "." means no service; it is not a result. */
	const uint8_t root[] = { HDR(1), QUESTION, RR(0x21, 7), 0, 0, 0, 0, 0, 0, 0 };
	struct discover_result out[2];

	assert_int_equal(discover_parse_srv(root, sizeof(root), out, 2), 0);
}

static void
test_discover_parse_srv_bad_input(void **state)
{
	/* not a response (QR clear) */
	const uint8_t query[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, QUESTION };
	/* RDLENGTH 12 but the target ends after 11 bytes */
	const uint8_t rdlen_long[] = { HDR(1), QUESTION, RR(0x21, 12), 0,   0,    0,    0, 0x12,
				       0xc1,   2,        'v',          'x', 0xc0, 0x19, 0 };
	/* a space in the target */
	const uint8_t bad_char[] = { HDR(1), QUESTION, RR(0x21, 11), 0,   0,    0,   0, 0x12,
				     0xc1,   2,        'v',          ' ', 0xc0, 0x19 };
	/* label type 0x40 (extended, RFC 6891 made it obsolete) */
	const uint8_t ext_label[] = { HDR(1), QUESTION, RR(0x21, 9), 0,    0,   0,
				      0,      0x12,     0xc1,        0x41, 'x', 0 };
	struct discover_result out[2];

	assert_int_equal(discover_parse_srv(query, sizeof(query), out, 2), -EINVAL);
	assert_int_equal(discover_parse_srv(rdlen_long, sizeof(rdlen_long), out, 2), -EINVAL);
	assert_int_equal(discover_parse_srv(bad_char, sizeof(bad_char), out, 2), -EINVAL);
	assert_int_equal(discover_parse_srv(ext_label, sizeof(ext_label), out, 2), -EINVAL);
}

/* A target name of 256 wire octets (three labels of 63, one of 62, the root) is too long; one
 * octet less is the longest name there is. */
static void
test_discover_parse_srv_name_too_long(void **state)
{
	const uint8_t head[] = { HDR(1), QUESTION, RR(0x21, 0), 0, 0, 0, 0, 0x12, 0xc1 };
	uint8_t buf[512];
	size_t len = sizeof(head), rdlen_at = sizeof(head) - 8, last;
	struct discover_result out[1];

	memcpy(buf, head, len);
	for (int i = 0; i < 4; i++) {
		last = len;
		buf[len++] = i < 3 ? 63 : 62;
		memset(buf + len, 'x', buf[last]);
		len += buf[last];
	}
	buf[len++] = 0;
	buf[rdlen_at] = (uint8_t)((len - rdlen_at - 2) >> 8);
	buf[rdlen_at + 1] = (uint8_t)(len - rdlen_at - 2);
	assert_int_equal(len - sizeof(head), 256);
	assert_int_equal(discover_parse_srv(buf, len, out, 1), -EINVAL);
	buf[last] = 61;
	buf[len - 2] = 0;
	len--;
	buf[rdlen_at + 1]--;
	assert_int_equal(discover_parse_srv(buf, len, out, 1), 1);
	assert_int_equal(strlen(out[0].host), 3 * 64 + 61);
}

/* --- seeded random answers against a naive reference --------------------------------------- */

struct ref_rec {
	uint16_t priority, weight, port;
	char host[16];
};

static size_t
build_answer(uint8_t *buf, const struct ref_rec *recs, size_t n)
{
	const uint8_t head[] = { HDR(0), QUESTION };
	size_t len = sizeof(head);

	memcpy(buf, head, len);
	buf[6] = (uint8_t)(n >> 8);
	buf[7] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		size_t hl = strlen(recs[i].host);
		const uint8_t rr[] = { RR(0x21, (uint8_t)(6 + 1 + hl + 2)) };

		memcpy(buf + len, rr, sizeof(rr));
		len += sizeof(rr);
		buf[len++] = (uint8_t)(recs[i].priority >> 8);
		buf[len++] = (uint8_t)recs[i].priority;
		buf[len++] = (uint8_t)(recs[i].weight >> 8);
		buf[len++] = (uint8_t)recs[i].weight;
		buf[len++] = (uint8_t)(recs[i].port >> 8);
		buf[len++] = (uint8_t)recs[i].port;
		buf[len++] = (uint8_t)hl;
		memcpy(buf + len, recs[i].host, hl);
		len += hl;
		buf[len++] = 0xc0;
		buf[len++] = 0x19;
	}
	return len;
}

/* The reference: pick the best remaining record, first in answer order on ties, max times. */
static size_t
reference_order(const struct ref_rec *recs, size_t n, size_t max, size_t *order)
{
	bool used[32] = { false };
	size_t k;

	for (k = 0; k < max && k < n; k++) {
		size_t best = SIZE_MAX;

		for (size_t i = 0; i < n; i++) {
			if (used[i])
				continue;
			if (best == SIZE_MAX || recs[i].priority < recs[best].priority ||
			    (recs[i].priority == recs[best].priority &&
			     recs[i].weight > recs[best].weight))
				best = i;
		}
		used[best] = true;
		order[k] = best;
	}
	return k;
}

static void
test_discover_parse_srv_random_order(void **state)
{
	uint8_t buf[2048];
	struct ref_rec recs[32];
	struct discover_result out[DISCOVER_MAX];
	size_t order[DISCOVER_MAX];

	srand(4801);
	for (int iter = 0; iter < 3000; iter++) {
		size_t n = (size_t)(rand() % 25), max = 1 + (size_t)(rand() % DISCOVER_MAX), want;
		char name[80];

		for (size_t i = 0; i < n; i++) {
			recs[i].priority = (uint16_t)(rand() % 4);
			recs[i].weight = (uint16_t)(rand() % 3 == 0 ? 0 : rand() % 100);
			recs[i].port = (uint16_t)rand();
			snprintf(recs[i].host, sizeof(recs[i].host), "s%u", (unsigned)i % 100);
		}
		want = reference_order(recs, n, max, order);
		assert_int_equal(discover_parse_srv(buf, build_answer(buf, recs, n), out, max),
				 (int)want);
		for (size_t k = 0; k < want; k++) {
			const struct ref_rec *r = &recs[order[k]];

			snprintf(name, sizeof(name), "%s.a.example.com", r->host);
			assert_string_equal(out[k].host, name);
			assert_int_equal(out[k].priority, r->priority);
			assert_int_equal(out[k].weight, r->weight);
			assert_int_equal(out[k].port, r->port);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discover_parse_srv_two_priorities),
		cmocka_unit_test(test_discover_parse_srv_max_keeps_best),
		cmocka_unit_test(test_discover_parse_srv_truncated),
		cmocka_unit_test(test_discover_parse_srv_other_types_ignored),
		cmocka_unit_test(test_discover_parse_srv_compression_loop_refused),
		cmocka_unit_test(test_discover_parse_srv_pointer_chain_refused),
		cmocka_unit_test(test_discover_parse_srv_root_target_refuses),
		cmocka_unit_test(test_discover_parse_srv_bad_input),
		cmocka_unit_test(test_discover_parse_srv_name_too_long),
		cmocka_unit_test(test_discover_parse_srv_random_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
