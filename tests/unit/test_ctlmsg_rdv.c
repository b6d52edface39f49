// SPDX-License-Identifier: MIT
/*
 * The rendezvous and relay records of proto/ctlmsg.h (CONTACT, ANSWER, RELAY, RELAY_FRAME,
 * OFFER): round trips at their largest, the exact body limits, and every rule a forger or a
 * confused peer could break (identities not canonical or equal, purposes outside the grammar,
 * ttl, verdicts, a port on a refusal, unknown flags, empty data, candidates).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ctlmsg.h"
#include "proto/record.h"

static uint8_t pool[CTL_BLOB_MAX];

static bool
round_trip(const struct ctlmsg *m, int *len_out)
{
	static uint8_t buf[RECORD_BODY_MAX];
	struct ctlmsg out;
	int len = ctlmsg_encode(m, buf, sizeof(buf));

	if (len_out)
		*len_out = len;
	if (len < 0 || !ctlmsg_decode(m->type, buf, (size_t)len, &out))
		return false;
	static uint8_t again[RECORD_BODY_MAX];
	return ctlmsg_encode(&out, again, sizeof(again)) == len && !memcmp(buf, again, (size_t)len);
}

/* A valid identity exactly CTL_STR_MAX long: 64-character user, a 190-character domain. */
static void
longest_identity(char out[CTL_STR_MAX + 1], char c)
{
	memset(out, c, 64);
	out[64] = '@';
	/* labels of 63 + '.' + 63 + '.' + 62 = 190 characters */
	memset(out + 65, 'd', 63);
	out[128] = '.';
	memset(out + 129, 'e', 63);
	out[192] = '.';
	memset(out + 193, 'f', 62);
	out[255] = '\0';
}

static struct ctlmsg
contact(void)
{
	struct ctlmsg m = { .type = CTL_CONTACT };

	m.u.contact.id = 7;
	strcpy(m.u.contact.from, "alice@a.example.com");
	strcpy(m.u.contact.to, "bob@b.example.com");
	strcpy(m.u.contact.purpose, "ssh");
	m.u.contact.ttl = 60;
	return m;
}

static struct ctlmsg
answer(uint8_t verdict)
{
	struct ctlmsg m = { .type = CTL_ANSWER };

	m.u.answer.id = 7;
	strcpy(m.u.answer.from, "bob@b.example.com");
	strcpy(m.u.answer.to, "alice@a.example.com");
	strcpy(m.u.answer.purpose, "ssh");
	m.u.answer.verdict = verdict;
	if (verdict == CTL_VERDICT_APPROVED) {
		m.u.answer.proto = 6;
		m.u.answer.port = 22;
	}
	return m;
}

static void
test_largest_bodies_are_the_limits(void **state)
{
	struct ctlmsg m;
	int len;
	char a[CTL_STR_MAX + 1], b[CTL_STR_MAX + 1];

	(void)state;
	longest_identity(a, 'a');
	longest_identity(b, 'b');

	m = contact();
	strcpy(m.u.contact.from, a);
	strcpy(m.u.contact.to, b);
	memset(m.u.contact.purpose, 'p', 32);
	m.u.contact.purpose[32] = '\0';
	memset(m.u.contact.fpr, 0xab, 32);
	assert_true(round_trip(&m, &len));
	assert_int_equal(len, ctlmsg_body_max(CTL_CONTACT));

	m = answer(CTL_VERDICT_APPROVED);
	strcpy(m.u.answer.from, a);
	strcpy(m.u.answer.to, b);
	memset(m.u.answer.purpose, 'p', 32);
	m.u.answer.purpose[32] = '\0';
	assert_true(round_trip(&m, &len));
	assert_int_equal(len, ctlmsg_body_max(CTL_ANSWER));

	memset(&m, 0, sizeof(m));
	m.type = CTL_RELAY;
	strcpy(m.u.relay.from, a);
	strcpy(m.u.relay.to, b);
	m.u.relay.channel = 0xffffffff;
	m.u.relay.flags = CTL_RELAY_DIALER;
	m.u.relay.data = pool;
	m.u.relay.data_len = CTL_RELAY_DATA_MAX;
	assert_true(round_trip(&m, &len));
	assert_int_equal(len, ctlmsg_body_max(CTL_RELAY));

	memset(&m, 0, sizeof(m));
	m.type = CTL_RELAY_FRAME;
	strcpy(m.u.frame.from, a);
	strcpy(m.u.frame.to, b);
	m.u.frame.frame = pool;
	m.u.frame.frame_len = CTL_BLOB_MAX;
	assert_true(round_trip(&m, &len));
	assert_int_equal(len, ctlmsg_body_max(CTL_RELAY_FRAME));

	memset(&m, 0, sizeof(m));
	m.type = CTL_OFFER;
	strcpy(m.u.offer.from, a);
	strcpy(m.u.offer.to, b);
	m.u.offer.count = CTL_CANDIDATES_MAX;
	for (int i = 0; i < CTL_CANDIDATES_MAX; i++) {
		m.u.offer.cand[i].kind = (uint8_t)(1 + i); /* unknown kinds travel too */
		/* a CTL_CAND_NAT must say UDP, a CTL_CAND_SIMOPEN TCP */
		m.u.offer.cand[i].proto = m.u.offer.cand[i].kind == CTL_CAND_SIMOPEN ? 6 : 17;
		m.u.offer.cand[i].family = 6;
		m.u.offer.cand[i].addr[15] = (uint8_t)i;
		m.u.offer.cand[i].port = 41641;
	}
	assert_true(round_trip(&m, &len));
	assert_int_equal(len, ctlmsg_body_max(CTL_OFFER));
	memset(&m, 0, sizeof(m));
	m.type = CTL_OBSERVED;
	m.u.observed.family = 6;
	m.u.observed.addr[0] = 0xfd;
	m.u.observed.port = 4800;
	assert_true(round_trip(&m, &len));
	assert_int_equal(len, ctlmsg_body_max(CTL_OBSERVED));
	for (uint16_t t = CTL_CONTACT; t <= CTL_OBSERVED; t++) {
		assert_true(ctlmsg_body_max(t) <= 40000);
		assert_int_equal(record_body_max(t), ctlmsg_body_max(t));
	}
}

static void
test_contact_rules(void **state)
{
	struct ctlmsg m;

	(void)state;
	m = contact();
	assert_true(round_trip(&m, NULL));
	m.u.contact.id = 0;
	assert_false(round_trip(&m, NULL));
	m = contact();
	strcpy(m.u.contact.from, "Alice@a.example.com"); /* not canonical */
	assert_false(round_trip(&m, NULL));
	m = contact();
	strcpy(m.u.contact.from, "alice@a.example.com/ssh"); /* a purpose in an end */
	assert_false(round_trip(&m, NULL));
	m = contact();
	strcpy(m.u.contact.to, m.u.contact.from); /* asking oneself */
	assert_false(round_trip(&m, NULL));
	m = contact();
	strcpy(m.u.contact.to, "bob@localhost"); /* one label */
	assert_false(round_trip(&m, NULL));
	m = contact();
	strcpy(m.u.contact.purpose, "SSH");
	assert_false(round_trip(&m, NULL));
	m = contact();
	m.u.contact.purpose[0] = '\0';
	assert_false(round_trip(&m, NULL));
	m = contact();
	m.u.contact.ttl = 0;
	assert_false(round_trip(&m, NULL));
	m.u.contact.ttl = CTL_CONTACT_TTL_MAX + 1;
	assert_false(round_trip(&m, NULL));
	m.u.contact.ttl = CTL_CONTACT_TTL_MAX;
	assert_true(round_trip(&m, NULL));
}

/* A purpose of 33 characters is refused by the decoder even though str8 could carry it. */
static void
test_purpose_too_long_on_the_wire(void **state)
{
	uint8_t body[256];
	size_t n = 0;
	struct ctlmsg m;
	const char *from = "alice@a.example.com", *to = "bob@b.example.com";

	(void)state;
	memset(body, 0, sizeof(body));
	body[7] = 1; /* id 1 */
	n = 8;
	body[n++] = (uint8_t)strlen(from);
	memcpy(body + n, from, strlen(from));
	n += strlen(from);
	body[n++] = (uint8_t)strlen(to);
	memcpy(body + n, to, strlen(to));
	n += strlen(to);
	body[n++] = 33;
	memset(body + n, 'p', 33);
	n += 33;
	body[n++] = 0;
	body[n++] = 10; /* ttl */
	n += 32;
	assert_false(ctlmsg_decode(CTL_CONTACT, body, n, &m));
	body[n - 32 - 2 - 33 - 1] = 32; /* now 32 and one byte too many before ttl: still refused */
	assert_false(ctlmsg_decode(CTL_CONTACT, body, n, &m));
}

static void
test_answer_rules(void **state)
{
	struct ctlmsg m;

	(void)state;
	for (uint8_t v = 1; v <= CTL_VERDICT_LAST; v++) {
		m = answer(v);
		assert_true(round_trip(&m, NULL));
		assert_string_not_equal(ctlmsg_verdict_name(v), "other");
	}
	assert_string_equal(ctlmsg_verdict_name(0), "other");
	assert_string_equal(ctlmsg_verdict_name(CTL_VERDICT_LAST + 1), "other");
	m = answer(0);
	assert_false(round_trip(&m, NULL));
	m = answer(CTL_VERDICT_LAST + 1);
	assert_false(round_trip(&m, NULL));
	m = answer(CTL_VERDICT_DENIED);
	m.u.answer.port = 22; /* a refusal tells no port */
	assert_false(round_trip(&m, NULL));
	m = answer(CTL_VERDICT_APPROVED);
	m.u.answer.proto = 1;
	assert_false(round_trip(&m, NULL));
	m = answer(CTL_VERDICT_APPROVED);
	m.u.answer.port = 0;
	assert_false(round_trip(&m, NULL));
	m = answer(CTL_VERDICT_REVOKED);
	m.u.answer.purpose[0] = '\0'; /* every purpose */
	assert_true(round_trip(&m, NULL));
	m = answer(CTL_VERDICT_DENIED);
	m.u.answer.purpose[0] = '\0';
	assert_false(round_trip(&m, NULL));
	m = answer(CTL_VERDICT_DENIED);
	assert_string_equal(ctlmsg_from(&m), "bob@b.example.com");
	assert_string_equal(ctlmsg_to(&m), "alice@a.example.com");
}

static void
test_relay_rules(void **state)
{
	struct ctlmsg m = { .type = CTL_RELAY };

	(void)state;
	strcpy(m.u.relay.from, "alice@a.example.com");
	strcpy(m.u.relay.to, "bob@b.example.com");
	m.u.relay.channel = 1;
	m.u.relay.data = pool;
	m.u.relay.data_len = 10;
	assert_true(round_trip(&m, NULL));
	m.u.relay.channel = 0;
	assert_false(round_trip(&m, NULL));
	m.u.relay.channel = 1;
	m.u.relay.flags = 4; /* unknown flag */
	assert_false(round_trip(&m, NULL));
	m.u.relay.flags = 0;
	m.u.relay.data_len = 0; /* empty only with FIN */
	assert_false(round_trip(&m, NULL));
	m.u.relay.flags = CTL_RELAY_FIN;
	assert_true(round_trip(&m, NULL));
	assert_string_equal(ctlmsg_to(&m), "bob@b.example.com");

	memset(&m, 0, sizeof(m));
	m.type = CTL_RELAY_FRAME;
	strcpy(m.u.frame.from, "alice@a.example.com");
	strcpy(m.u.frame.to, "bob@b.example.com");
	assert_false(round_trip(&m, NULL)); /* an empty frame */
	m.u.frame.frame = pool;
	m.u.frame.frame_len = 100;
	assert_true(round_trip(&m, NULL));
	assert_string_equal(ctlmsg_from(&m), "alice@a.example.com");
	strcpy(m.u.frame.to, "bob@b.example.com.");
	assert_false(round_trip(&m, NULL));
}

static void
test_offer_rules(void **state)
{
	struct ctlmsg m = { .type = CTL_OFFER };

	(void)state;
	strcpy(m.u.offer.from, "alice@a.example.com");
	strcpy(m.u.offer.to, "bob@b.example.com");
	assert_true(round_trip(&m, NULL)); /* no candidates: the relay only */
	m.u.offer.count = 1;
	m.u.offer.cand[0] = (struct ctl_candidate){ .kind = CTL_CAND_HOST,
						    .proto = 17,
						    .family = 4,
						    .addr = { 198, 18, 0, 1 },
						    .port = 4800,
						    .priority = 100 };
	assert_true(round_trip(&m, NULL));
	m.u.offer.cand[0].addr[4] = 1; /* IPv4 with junk after it */
	assert_false(round_trip(&m, NULL));
	m.u.offer.cand[0].addr[4] = 0;
	m.u.offer.cand[0].family = 5;
	assert_false(round_trip(&m, NULL));
	m.u.offer.cand[0].family = 4;
	m.u.offer.cand[0].kind = 0;
	assert_false(round_trip(&m, NULL));
	m.u.offer.cand[0].kind = 200; /* a kind from the future: carried, ignored by receivers */
	assert_true(round_trip(&m, NULL));
	m.u.offer.count = CTL_CANDIDATES_MAX + 1;
	assert_false(round_trip(&m, NULL));
}

/* The simultaneous-open candidate (CTL_CAND_SIMOPEN): TCP, with a port. */
static void
test_offer_simopen_rules(void **state)
{
	struct ctlmsg m = { .type = CTL_OFFER }, got;
	uint8_t buf[4096];
	int len;

	(void)state;
	strcpy(m.u.offer.from, "alice@a.example.com");
	strcpy(m.u.offer.to, "bob@b.example.com");
	m.u.offer.count = 1;
	m.u.offer.cand[0] = (struct ctl_candidate){ .kind = CTL_CAND_SIMOPEN,
						    .proto = 6,
						    .family = 4,
						    .addr = { 198, 18, 0, 201 },
						    .port = 4800,
						    .priority = 70 };
	len = ctlmsg_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, 1 + 19 + 1 + 17 + 4 + 1 + 25);
	assert_true(ctlmsg_decode(CTL_OFFER, buf, (size_t)len, &got));
	assert_int_equal(got.u.offer.cand[0].kind, CTL_CAND_SIMOPEN);
	assert_int_equal(got.u.offer.cand[0].port, 4800);
	assert_memory_equal(got.u.offer.cand[0].addr, m.u.offer.cand[0].addr, 16);
	m.u.offer.cand[0].proto = 17; /* UDP: not what it is */
	assert_false(round_trip(&m, NULL));
	buf[len - 25 + 1] = 17; /* the same on the wire */
	assert_false(ctlmsg_decode(CTL_OFFER, buf, (size_t)len, &got));
	m.u.offer.cand[0].proto = 6;
	m.u.offer.cand[0].port = 0; /* no port */
	assert_false(round_trip(&m, NULL));
}

/* What the server saw of the connection (CTL_OBSERVED): one encoding, every rule. */
static void
test_observed_rules(void **state)
{
	static const uint8_t want[] = { 4, 198, 18, 0, 201, 0, 0, 0,    0,   0,
					0, 0,   0,  0, 0,   0, 0, 0x12, 0xc0 };
	struct ctlmsg m = { .type = CTL_OBSERVED }, got;
	uint8_t buf[64], bad[sizeof(want)];
	int len;

	(void)state;
	m.u.observed.family = 4;
	memcpy(m.u.observed.addr, (uint8_t[]){ 198, 18, 0, 201 }, 4);
	m.u.observed.port = 4800;
	len = ctlmsg_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_true(ctlmsg_decode(CTL_OBSERVED, want, sizeof(want), &got));
	assert_int_equal(got.u.observed.family, 4);
	assert_int_equal(got.u.observed.port, 4800);
	assert_memory_equal(got.u.observed.addr, m.u.observed.addr, 16);
	assert_string_equal(ctlmsg_type_name(CTL_OBSERVED), "observed");
	assert_null(ctlmsg_from(&got));
	/* Short, long, another family, junk after an IPv4 address, port 0: all refused. */
	assert_false(ctlmsg_decode(CTL_OBSERVED, want, sizeof(want) - 1, &got));
	assert_false(ctlmsg_decode(CTL_OBSERVED, (uint8_t[20]){ 4 }, 20, &got));
	memcpy(bad, want, sizeof(bad));
	bad[0] = 5;
	assert_false(ctlmsg_decode(CTL_OBSERVED, bad, sizeof(bad), &got));
	memcpy(bad, want, sizeof(bad));
	bad[5] = 1;
	assert_false(ctlmsg_decode(CTL_OBSERVED, bad, sizeof(bad), &got));
	bad[0] = 6; /* the same bytes are an IPv6 address */
	assert_true(ctlmsg_decode(CTL_OBSERVED, bad, sizeof(bad), &got));
	memcpy(bad, want, sizeof(bad));
	bad[17] = bad[18] = 0;
	assert_false(ctlmsg_decode(CTL_OBSERVED, bad, sizeof(bad), &got));
	m.u.observed.port = 0;
	assert_int_equal(ctlmsg_encode(&m, buf, sizeof(buf)), -EINVAL);
}

/* The NAT's classification (CTL_CAND_NAT): mapping 0..2 | filtering 0..4 << 8, over UDP. */
static void
test_offer_nat_rules(void **state)
{
	struct ctlmsg m = { .type = CTL_OFFER }, got;
	uint8_t buf[4096];
	int len;

	(void)state;
	strcpy(m.u.offer.from, "alice@a.example.com");
	strcpy(m.u.offer.to, "bob@b.example.com");
	m.u.offer.count = 1;
	m.u.offer.cand[0] = (struct ctl_candidate){ .kind = CTL_CAND_NAT,
						    .proto = 17,
						    .family = 4,
						    .addr = { 198, 18, 0, 101 },
						    .port = 40123,
						    .priority = 2 | 2 << 8 };
	len = ctlmsg_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	assert_true(ctlmsg_decode(CTL_OFFER, buf, (size_t)len, &got));
	assert_int_equal(got.u.offer.cand[0].kind, CTL_CAND_NAT);
	assert_int_equal(got.u.offer.cand[0].port, 40123);
	assert_int_equal(got.u.offer.cand[0].priority, 2 | 2 << 8);
	m.u.offer.cand[0].port = 0; /* the other port not seen yet */
	m.u.offer.cand[0].priority = 0;
	assert_true(round_trip(&m, NULL));
	m.u.offer.cand[0].priority = 3; /* no such mapping */
	assert_false(round_trip(&m, NULL));
	m.u.offer.cand[0].priority = 1 | 3 << 8; /* address-dependent */
	assert_true(round_trip(&m, NULL));
	m.u.offer.cand[0].priority = 1 | 4 << 8; /* address-dependent or open */
	assert_true(round_trip(&m, NULL));
	m.u.offer.cand[0].priority = 5 << 8; /* no such filtering */
	assert_false(round_trip(&m, NULL));
	m.u.offer.cand[0].priority = 1 << 16; /* bits that mean nothing */
	assert_false(round_trip(&m, NULL));
	m.u.offer.cand[0].priority = 1;
	m.u.offer.cand[0].proto = 6;
	assert_false(round_trip(&m, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_largest_bodies_are_the_limits),
		cmocka_unit_test(test_contact_rules),
		cmocka_unit_test(test_purpose_too_long_on_the_wire),
		cmocka_unit_test(test_answer_rules),
		cmocka_unit_test(test_relay_rules),
		cmocka_unit_test(test_offer_rules),
		cmocka_unit_test(test_offer_nat_rules),
		cmocka_unit_test(test_offer_simopen_rules),
		cmocka_unit_test(test_observed_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
