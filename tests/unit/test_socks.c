// SPDX-License-Identifier: MIT
/*
 * SOCKS5 messages (socks/socks.h): greetings with and without "no authentication", CONNECT to
 * IPv4, IPv6 and both name forms, every prefix of each (partial reads) needing more, the bytes
 * behind a message left alone, each refusal with its reply code, and every reply code encoded.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "socks/socks.h"

/* Every strict prefix of msg needs more; msg itself (and msg plus trailing bytes) is `want`. */
static enum socks_reply
parse_request_all_ways(const uint8_t *msg, size_t len, enum socks_status want,
		       struct socks_request *r)
{
	uint8_t buf[SOCKS_REQUEST_MAX + 8];
	enum socks_reply rep;
	size_t used = 0;

	assert_true(len + 3 <= sizeof(buf));
	for (size_t n = 0; n < len; n++) {
		enum socks_status st = socks_parse_request(msg, n, r, &used, &rep);

		/* A refusal may show early (a bad command), never a success. */
		assert_true(st == SOCKS_NEED_MORE || (want == SOCKS_BAD && st == SOCKS_BAD));
	}
	memcpy(buf, msg, len);
	memcpy(buf + len, "xyz", 3);
	assert_int_equal(socks_parse_request(buf, len + 3, r, &used, &rep), want);
	if (want == SOCKS_DONE) {
		assert_int_equal(used, len);
		assert_int_equal(rep, SOCKS_REP_SUCCEEDED);
	}
	assert_int_equal(socks_parse_request(msg, len, r, &used, &rep), want);
	return rep;
}

static void
test_socks_parse_greeting_noauth(void **state)
{
	const uint8_t g[] = { 5, 3, 2, 1, 0, 5, 1 }; /* methods 2, 1, 0; then the request starts */
	struct socks_greeting gr;
	size_t used;
	uint8_t out[SOCKS_METHOD_LEN];

	for (size_t n = 0; n < 5; n++)
		assert_int_equal(socks_parse_greeting(g, n, &gr, &used), SOCKS_NEED_MORE);
	assert_int_equal(socks_parse_greeting(g, sizeof(g), &gr, &used), SOCKS_DONE);
	assert_int_equal(used, 5);
	assert_true(gr.noauth);
	socks_encode_method(out, SOCKS_METHOD_NOAUTH);
	assert_memory_equal(out, ((uint8_t[]){ 5, 0 }), 2);
}

static void
test_socks_parse_greeting_refusals(void **state)
{
	const uint8_t userpass[] = { 5, 1, 2 }, v4[] = { 4, 1, 0 }, none[] = { 5, 0 };
	struct socks_greeting gr;
	size_t used;
	uint8_t out[SOCKS_METHOD_LEN];

	assert_int_equal(socks_parse_greeting(userpass, 3, &gr, &used), SOCKS_DONE);
	assert_false(gr.noauth);
	socks_encode_method(out, SOCKS_METHOD_NONE);
	assert_memory_equal(out, ((uint8_t[]){ 5, 0xff }), 2);
	assert_int_equal(socks_parse_greeting(v4, 3, &gr, &used), SOCKS_BAD);
	assert_int_equal(socks_parse_greeting(none, 2, &gr, &used), SOCKS_BAD);
}

static void
test_socks_parse_request_ipv4(void **state)
{
	const uint8_t m[] = { 5, 1, 0, 1, 100, 64, 0, 2, 0, 22 };
	struct socks_request r;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&r.addr;

	parse_request_all_ways(m, sizeof(m), SOCKS_DONE, &r);
	assert_int_equal(r.atyp, SOCKS_ATYP_IPV4);
	assert_int_equal(r.port, 22);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 22);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0x64400002);
}

static void
test_socks_parse_request_ipv6(void **state)
{
	uint8_t m[22] = { 5,    1,    0,    4,        0xfd,        0,          0x12,
			  0x34, 0x56, 0x78, [19] = 2, [20] = 0x1f, [21] = 0x90 };
	struct socks_request r;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&r.addr;

	parse_request_all_ways(m, sizeof(m), SOCKS_DONE, &r);
	assert_int_equal(r.atyp, SOCKS_ATYP_IPV6);
	assert_int_equal(r.port, 8080);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 8080);
	assert_memory_equal(&s6->sin6_addr, m + 4, 16);
}

/* A CONNECT to name:port, parsed. */
static enum socks_reply
name_request(const char *name, enum socks_status want, struct socks_request *r)
{
	uint8_t m[SOCKS_REQUEST_MAX];
	size_t n = strlen(name);

	m[0] = 5;
	m[1] = 1;
	m[2] = 0;
	m[3] = 3;
	m[4] = (uint8_t)n;
	memcpy(m + 5, name, n);
	m[5 + n] = 0;
	m[6 + n] = 22;
	return parse_request_all_ways(m, n + 7, want, r);
}

static void
test_socks_parse_request_names(void **state)
{
	struct socks_request r;

	name_request("bob@b.example.com/ssh", SOCKS_DONE, &r);
	assert_int_equal(r.atyp, SOCKS_ATYP_NAME);
	assert_string_equal(r.name.user, "bob");
	assert_string_equal(r.name.domain, "b.example.com");
	assert_string_equal(r.name.purpose, "ssh");
	assert_int_equal(r.port, 22);
	name_request("Bob@B.Example.com", SOCKS_DONE, &r);
	assert_string_equal(r.name.user, "bob");
	assert_string_equal(r.name.purpose, "");
	/* The DNS-safe form, as curl --socks5-hostname and nc -X 5 pass a host name. */
	name_request("bob.at.b.example.com", SOCKS_DONE, &r);
	assert_string_equal(r.name.user, "bob");
	assert_string_equal(r.name.domain, "b.example.com");
	assert_string_equal(r.name.purpose, "");
	name_request("Bob.Smith.AT.b.example.com.", SOCKS_DONE, &r);
	assert_string_equal(r.name.user, "bob.smith");
	assert_string_equal(r.name.domain, "b.example.com");
}

static void
test_socks_parse_request_bad_names(void **state)
{
	static const char *const bad[] = {
		"",                         /* empty */
		"b.example.com",            /* no user */
		"at.b.example.com",         /* no user before the label */
		"bob.at.localhost",         /* a one-label domain */
		"bob.at.b.example.com/ssh", /* no purpose in the DNS form */
		"bob@b.example.com/",       /* empty purpose */
		"bob@@b.example.com",
		"b\xc3\xb6"
		"b@b.example.com", /* not ASCII */
	};
	struct socks_request r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(name_request(bad[i], SOCKS_BAD, &r), SOCKS_REP_HOST_UNREACH);
}

static void
test_socks_parse_request_refusals(void **state)
{
	const uint8_t bind[] = { 5, 2, 0, 1, 0, 0, 0, 0, 0, 0 };
	const uint8_t udp[] = { 5, 3, 0, 1, 0, 0, 0, 0, 0, 0 };
	const uint8_t atyp[] = { 5, 1, 0, 2, 0, 0, 0, 0, 0, 0 };
	const uint8_t ver[] = { 4, 1, 0, 1, 0, 0, 0, 0, 0, 0 };
	const uint8_t rsv[] = { 5, 1, 1, 1, 0, 0, 0, 0, 0, 0 };
	const uint8_t nul[] = { 5, 1, 0, 3, 3, 'a', 0, 'b', 0, 22 };
	struct socks_request r;

	assert_int_equal(parse_request_all_ways(bind, sizeof(bind), SOCKS_BAD, &r),
			 SOCKS_REP_CMD_UNSUPPORTED);
	assert_int_equal(parse_request_all_ways(udp, sizeof(udp), SOCKS_BAD, &r),
			 SOCKS_REP_CMD_UNSUPPORTED);
	assert_int_equal(parse_request_all_ways(atyp, sizeof(atyp), SOCKS_BAD, &r),
			 SOCKS_REP_ATYP_UNSUPPORTED);
	assert_int_equal(parse_request_all_ways(ver, sizeof(ver), SOCKS_BAD, &r),
			 SOCKS_REP_GENERAL_FAILURE);
	assert_int_equal(parse_request_all_ways(rsv, sizeof(rsv), SOCKS_BAD, &r),
			 SOCKS_REP_GENERAL_FAILURE);
	assert_int_equal(parse_request_all_ways(nul, sizeof(nul), SOCKS_BAD, &r),
			 SOCKS_REP_HOST_UNREACH);
}

static void
test_socks_encode_reply_every_code(void **state)
{
	uint8_t out[SOCKS_REPLY_MAX];
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	for (unsigned rep = 0; rep <= SOCKS_REP_MAX; rep++) {
		const uint8_t want[] = { 5, (uint8_t)rep, 0, 1, 0, 0, 0, 0, 0, 0 };

		assert_int_equal(socks_encode_reply(out, rep, NULL), sizeof(want));
		assert_memory_equal(out, want, sizeof(want));
		assert_string_not_equal(socks_reply_name(rep), "?");
	}
	assert_int_equal(socks_encode_reply(out, SOCKS_REP_MAX + 1, NULL), 0);
	assert_string_equal(socks_reply_name(SOCKS_REP_MAX + 1), "?");

	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(0x64400001);
	s4->sin_port = htons(40000);
	assert_int_equal(socks_encode_reply(out, SOCKS_REP_SUCCEEDED, &ss), 10);
	assert_memory_equal(out, ((uint8_t[]){ 5, 0, 0, 1, 100, 64, 0, 1, 0x9c, 0x40 }), 10);

	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_addr.s6_addr[0] = 0xfd;
	s6->sin6_addr.s6_addr[15] = 1;
	s6->sin6_port = htons(1);
	assert_int_equal(socks_encode_reply(out, SOCKS_REP_CONN_REFUSED, &ss), SOCKS_REPLY_MAX);
	assert_memory_equal(out, ((uint8_t[]){ 5, 5, 0, 4, 0xfd }), 5);
	assert_int_equal(out[19], 1);
	assert_int_equal(out[20], 0);
	assert_int_equal(out[21], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socks_parse_greeting_noauth),
		cmocka_unit_test(test_socks_parse_greeting_refusals),
		cmocka_unit_test(test_socks_parse_request_ipv4),
		cmocka_unit_test(test_socks_parse_request_ipv6),
		cmocka_unit_test(test_socks_parse_request_names),
		cmocka_unit_test(test_socks_parse_request_bad_names),
		cmocka_unit_test(test_socks_parse_request_refusals),
		cmocka_unit_test(test_socks_encode_reply_every_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
