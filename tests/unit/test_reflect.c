// SPDX-License-Identifier: MIT
/*
 * The reflection codec (proto/reflect.h): round trips for IPv4 and IPv6 (a v4-mapped address
 * written as IPv4), the server's other address, the fixed length in both directions, and every
 * byte that must be zero.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/sockaddr.h"
#include "proto/reflect.h"

static void
test_request(void **state)
{
	uint8_t buf[REFLECT_LEN + 1], flags = 9;
	uint64_t nonce = 0;

	(void)state;
	reflect_request_encode(buf, 0x0102030405060708ull, 0);
	assert_int_equal(buf[0], REFLECT_REQUEST);
	assert_true(reflect_is_reflect(buf, REFLECT_LEN));
	assert_true(reflect_request_decode(buf, REFLECT_LEN, &nonce, &flags));
	assert_true(nonce == 0x0102030405060708ull);
	assert_int_equal(flags, 0);
	reflect_request_encode(buf, 5, REFLECT_OTHER_PORT);
	assert_true(reflect_request_decode(buf, REFLECT_LEN, &nonce, &flags));
	assert_int_equal(flags, REFLECT_OTHER_PORT);
	reflect_request_encode(buf, 5, REFLECT_OTHER_ADDRESS);
	assert_true(reflect_request_decode(buf, REFLECT_LEN, &nonce, &flags));
	assert_int_equal(flags, REFLECT_OTHER_ADDRESS);
	buf[1] = REFLECT_OTHER_PORT | REFLECT_OTHER_ADDRESS; /* one change a request */
	assert_false(reflect_request_decode(buf, REFLECT_LEN, &nonce, &flags));
	buf[1] = 4; /* an unknown flag */
	assert_false(reflect_request_decode(buf, REFLECT_LEN, &nonce, &flags));
	buf[1] = 0;
	assert_false(reflect_request_decode(buf, REFLECT_LEN - 1, &nonce, &flags));
	buf[REFLECT_LEN] = 0;
	assert_false(reflect_request_decode(buf, REFLECT_LEN + 1, &nonce, &flags));
	buf[47] = 1;
	assert_false(reflect_request_decode(buf, REFLECT_LEN, &nonce, &flags));
	buf[47] = 0;
	buf[2] = 1;
	assert_false(reflect_request_decode(buf, REFLECT_LEN, &nonce, &flags));
	buf[2] = 0;
	buf[0] = REFLECT_RESPONSE;
	assert_false(reflect_request_decode(buf, REFLECT_LEN, &nonce, &flags));
	buf[0] = 1; /* a data frame's type */
	assert_false(reflect_is_reflect(buf, REFLECT_LEN));
	assert_false(reflect_is_reflect(buf, 0));
}

static void
test_response(void **state)
{
	struct sockaddr_storage in, out, mapped, other, alt;
	uint8_t buf[REFLECT_LEN];
	uint64_t nonce = 0;

	(void)state;
	assert_int_equal(sockaddr_parse("198.18.0.201:41641", &in), 0);
	assert_true(reflect_response_encode(buf, 99, &in, NULL));
	assert_true(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	assert_true(nonce == 99);
	assert_true(sockaddr_equal(&in, &out));
	assert_int_equal(other.ss_family, 0); /* no other address */
	/* The server's other address, of the same family, without its port. */
	assert_int_equal(sockaddr_parse("198.18.0.11:4801", &alt), 0);
	assert_true(reflect_response_encode(buf, 99, &in, &alt));
	assert_true(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	assert_true(sockaddr_equal(&in, &out));
	assert_int_equal(other.ss_family, AF_INET);
	assert_true(((struct sockaddr_in *)&other)->sin_addr.s_addr ==
		    ((struct sockaddr_in *)&alt)->sin_addr.s_addr);
	assert_int_equal(((struct sockaddr_in *)&other)->sin_port, 0);
	buf[28] = 6; /* another family than the address's */
	assert_false(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	buf[28] = 0; /* said none, but the field is not zero */
	assert_false(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	assert_int_equal(sockaddr_parse("[fd00:1::53]:4801", &alt), 0);
	assert_false(reflect_response_encode(buf, 99, &in, &alt)); /* families differ */
	/* A dual-stack socket's v4-mapped source is written as IPv4. */
	assert_int_equal(sockaddr_parse("[::ffff:198.18.0.201]:41641", &mapped), 0);
	assert_true(reflect_response_encode(buf, 99, &mapped, NULL));
	assert_int_equal(buf[1], 4);
	assert_true(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	assert_true(sockaddr_equal(&in, &out));
	assert_int_equal(sockaddr_parse("[fd00:1::2]:4800", &in), 0);
	assert_true(reflect_response_encode(buf, 7, &in, NULL));
	assert_true(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	assert_true(sockaddr_equal(&in, &out));
	/* What must be zero, is. */
	buf[30] = 1;
	assert_false(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	buf[30] = 0;
	buf[40] = 1;
	assert_false(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	buf[40] = 0;
	buf[1] = 5;
	assert_false(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	assert_int_equal(sockaddr_parse("198.18.0.201:41641", &in), 0);
	assert_true(reflect_response_encode(buf, 7, &in, NULL));
	buf[20] = 1; /* after an IPv4 address */
	assert_false(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	assert_true(reflect_response_encode(buf, 7, &in, NULL));
	buf[2] = buf[3] = 0; /* port 0 */
	assert_false(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	/* A v4-mapped address in an IPv6 response has another spelling: refused. */
	assert_true(reflect_response_encode(buf, 7, &in, NULL));
	buf[1] = 6;
	memset(buf + 12, 0, 16);
	buf[22] = buf[23] = 0xff;
	buf[24] = 198;
	assert_false(reflect_response_decode(buf, sizeof(buf), &nonce, &out, &other));
	assert_false(reflect_response_decode(buf, sizeof(buf) - 1, &nonce, &out, &other));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
