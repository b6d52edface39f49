// SPDX-License-Identifier: MIT
/*
 * The port-mapping state machine (direct/portmap.h) on an injected clock, against a fake router
 * on a loopback UDP socket (no UPnP): PCP maps at once and is renewed at half the lifetime
 * with the same nonce; an answer with another nonce is dropped; a NAT-PMP-only router (it
 * answers PCP with "unsupported version") maps by NAT-PMP once its address is known; nothing
 * answering means a retry later; a mapping not renewed in time is gone; a grant shorter
 * than PORTMAP_MIN_LIFETIME_SEC is renewed as if that long; free deletes it (lifetime 0).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ev.h"
#include "direct/portmap.h"
#include "direct/portmap_wire.h"

struct fx {
	uint64_t now;
	struct ev_loop *loop;
	struct portmap *pm;
	int router; /* the fake router's socket */
	uint16_t router_port;
	unsigned changes;
	struct sockaddr_in client; /* where the last request came from */
};

static uint64_t
fx_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static void
fx_on_change(void *arg)
{
	((struct fx *)arg)->changes++;
}

static const struct portmap_ops fx_ops = { .on_change = fx_on_change };

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	assert_non_null(f);
	assert_int_equal(ev_loop_new(&f->loop), 0);
	f->now = 1000000;
	ev_loop_set_clock(f->loop, fx_clock, f);
	f->router = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(f->router >= 0);
	assert_int_equal(bind(f->router, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(f->router, (struct sockaddr *)&a, &len), 0);
	f->router_port = ntohs(a.sin_port);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	portmap_free(f->pm);
	close(f->router);
	ev_loop_free(f->loop);
	free(f);
	return 0;
}

static void
start_proto(struct fx *f, uint8_t protocol)
{
	struct portmap_params p = {
		.port = 4800, .protocol = protocol, .server_port = f->router_port, .no_upnp = true
	};

	p.gateway.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(portmap_new(&f->pm, f->loop, &p, &fx_ops, f), 0);
}

static void
start(struct fx *f)
{
	struct portmap_params p = { .port = 4800, .server_port = f->router_port, .no_upnp = true };

	p.gateway.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(portmap_new(&f->pm, f->loop, &p, &fx_ops, f), 0);
}

static void
advance(struct fx *f, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 50) {
		f->now += 50;
		assert_int_equal(ev_run_once(f->loop, 0), 0);
	}
}

/* The next request at the router, or 0 if none is waiting. */
static size_t
next_request(struct fx *f, uint8_t *buf, size_t cap)
{
	socklen_t len = sizeof(f->client);
	ssize_t n = recvfrom(f->router, buf, cap, 0, (struct sockaddr *)&f->client, &len);

	return n < 0 ? 0 : (size_t)n;
}

/* Drains the router's queue; returns how many PCP MAP requests were in it (last one in req). */
static unsigned
pcp_requests(struct fx *f, uint8_t req[PCP_MAP_LEN], unsigned *natpmp)
{
	uint8_t buf[256];
	unsigned pcp = 0;
	size_t n;

	if (natpmp)
		*natpmp = 0;
	while ((n = next_request(f, buf, sizeof(buf)))) {
		if (n == PCP_MAP_LEN && buf[0] == PCP_VERSION) {
			memcpy(req, buf, PCP_MAP_LEN);
			pcp++;
		} else if (natpmp && buf[0] == NATPMP_VERSION) {
			(*natpmp)++;
		}
	}
	return pcp;
}

static void
reply(struct fx *f, const uint8_t *buf, size_t len)
{
	assert_int_equal(
	    sendto(f->router, buf, len, 0, (struct sockaddr *)&f->client, sizeof(f->client)),
	    (ssize_t)len);
	assert_int_equal(ev_run_once(f->loop, 0), 0);
}

/* The router's answer to PCP request req: 198.18.0.202:port for lifetime s. */
static void
pcp_answer(struct fx *f, const uint8_t *req, uint16_t port, uint32_t lifetime, bool same_nonce)
{
	uint8_t b[PCP_MAP_LEN];

	memcpy(b, req, PCP_MAP_LEN);
	b[1] = 0x81;
	b[2] = b[3] = 0;
	b[4] = (uint8_t)(lifetime >> 24);
	b[5] = (uint8_t)(lifetime >> 16);
	b[6] = (uint8_t)(lifetime >> 8);
	b[7] = (uint8_t)lifetime;
	memset(b + 8, 0, 16); /* epoch, reserved */
	if (!same_nonce)
		b[24] ^= 1;
	b[42] = (uint8_t)(port >> 8);
	b[43] = (uint8_t)port;
	memcpy(b + 56, "\xc6\x12\x00\xca", 4);
	reply(f, b, sizeof(b));
}

static void
test_portmap_pcp_maps_and_renews(void **state)
{
	struct fx *f = *state;
	uint8_t req[PCP_MAP_LEN], again[PCP_MAP_LEN];
	struct portmap_info info;
	char addr[INET_ADDRSTRLEN];

	start(f);
	assert_int_equal(pcp_requests(f, req, NULL), 1);
	assert_int_equal(req[1], PCP_OP_MAP);
	assert_memory_equal(req + 20, "\x7f\x00\x00\x01", 4); /* the client: our source address */
	pcp_answer(f, req, 4800, 120, true);
	portmap_info(f->pm, &info);
	assert_int_equal(info.proto, PORTMAP_PCP);
	assert_true(info.answered & PORTMAP_PCP);
	assert_int_equal(info.lifetime, 120);
	assert_string_equal(inet_ntop(AF_INET, &info.external.sin_addr, addr, sizeof(addr)),
			    "198.18.0.202");
	assert_int_equal(ntohs(info.external.sin_port), 4800);
	assert_int_equal(f->changes, 1);
	/* Half the lifetime: the same request again (same nonce), and nothing before. */
	advance(f, 59000);
	assert_int_equal(pcp_requests(f, again, NULL), 0);
	advance(f, 1100);
	assert_int_equal(pcp_requests(f, again, NULL), 1);
	assert_memory_equal(again + 24, req + 24, PCP_NONCE_LEN);
	pcp_answer(f, again, 4800, 120, true);
	assert_int_equal(portmap_stats(f->pm)->renewals, 1);
	assert_int_equal(f->changes, 1); /* the same mapping: nobody needs to hear of it */
	/* The router gives another port at the next renewal: that is news. */
	advance(f, 60100);
	assert_int_equal(pcp_requests(f, again, NULL), 1);
	pcp_answer(f, again, 4900, 120, true);
	assert_int_equal(ntohs(portmap_external(f->pm)->sin_port), 4900);
	assert_int_equal(f->changes, 2);
	/* Free deletes it: a MAP with lifetime 0 and the same nonce. */
	portmap_free(f->pm);
	f->pm = NULL;
	assert_int_equal(pcp_requests(f, again, NULL), 1);
	assert_memory_equal(again + 4, "\0\0\0\0", 4);
	assert_memory_equal(again + 24, req + 24, PCP_NONCE_LEN);
}

static void
test_portmap_pcp_wrong_nonce_dropped(void **state)
{
	struct fx *f = *state;
	uint8_t req[PCP_MAP_LEN];
	struct portmap_info info;

	start(f);
	assert_int_equal(pcp_requests(f, req, NULL), 1);
	pcp_answer(f, req, 4800, 7200, false);
	portmap_info(f->pm, &info);
	assert_int_equal(info.proto, 0);
	assert_int_equal(info.answered, 0);
	assert_int_equal(portmap_stats(f->pm)->bad, 1);
	assert_int_equal(f->changes, 0);
}

static void
test_portmap_natpmp_only_router(void **state)
{
	static const uint8_t unsupported[] = { 0, 129, 0, 1, 0, 0, 0, 5 };
	static const uint8_t address[] = { 0, 128, 0, 0, 0, 0, 0, 5, 198, 18, 0, 202 };
	static const uint8_t mapped[] = { 0,    129,  0,    0,    0, 0, 0,    5,
					  0x12, 0xc0, 0x13, 0x00, 0, 0, 0x0e, 0x10 };
	struct fx *f = *state;
	uint8_t req[PCP_MAP_LEN], buf[64];
	struct portmap_info info;
	size_t n;
	unsigned natpmp;

	start(f);
	assert_int_equal(pcp_requests(f, req, &natpmp), 1);
	assert_int_equal(natpmp, 1); /* the address request, sent at once too */
	reply(f, unsupported, sizeof(unsupported));
	reply(f, address, sizeof(address));
	n = next_request(f, buf, sizeof(buf));
	assert_int_equal(n, NATPMP_MAP_REQUEST_LEN);
	assert_int_equal(buf[1], NATPMP_OP_MAP_UDP);
	reply(f, mapped, sizeof(mapped));
	portmap_info(f->pm, &info);
	assert_int_equal(info.proto, PORTMAP_NATPMP);
	assert_int_equal(info.answered, PORTMAP_NATPMP);
	assert_int_equal(ntohs(info.external.sin_port), 4864);
	assert_int_equal(ntohl(info.external.sin_addr.s_addr), 0xc61200ca);
	assert_int_equal(info.lifetime, 3600);
	portmap_free(f->pm);
	f->pm = NULL;
	n = next_request(f, buf, sizeof(buf));
	assert_int_equal(n, NATPMP_MAP_REQUEST_LEN);
	assert_memory_equal(buf + 8, "\0\0\0\0", 4); /* lifetime 0: deleted */
}

static void
test_portmap_nothing_answers_retry_later(void **state)
{
	struct fx *f = *state;
	uint8_t req[PCP_MAP_LEN];
	struct portmap_info info;
	unsigned sent = 0;

	start(f);
	for (int i = 0; i < 200; i++) { /* 10 s */
		advance(f, 50);
		sent += pcp_requests(f, req, NULL);
	}
	assert_int_equal(sent, PORTMAP_TRIES);
	portmap_info(f->pm, &info);
	assert_false(info.asking);
	assert_int_equal(info.answered, 0);
	assert_int_equal(info.proto, 0);
	/* Sent at 0, 250, 750 and 1750 ms; given up at 3750 ms; asked again a minute later. */
	advance(f, 3750 + PORTMAP_RETRY_MS - 10000 - 100);
	assert_int_equal(pcp_requests(f, req, NULL), 0);
	advance(f, 200);
	assert_int_equal(pcp_requests(f, req, NULL), 1); /* a new round */
	portmap_info(f->pm, &info);
	assert_true(info.asking);
}

static void
test_portmap_not_renewed_is_lost(void **state)
{
	struct fx *f = *state;
	uint8_t req[PCP_MAP_LEN];

	start(f);
	assert_int_equal(pcp_requests(f, req, NULL), 1);
	pcp_answer(f, req, 4800, 120, true);
	assert_int_equal(f->changes, 1);
	advance(f, 119000);
	assert_int_equal(portmap_external(f->pm)->sin_family, AF_INET); /* still ours */
	advance(f, 1100);
	assert_int_equal(portmap_external(f->pm)->sin_family, 0);
	assert_int_equal(f->changes, 2);
	assert_int_equal(portmap_stats(f->pm)->lost, 1);
	assert_true(pcp_requests(f, req, NULL) >= 1); /* and asked again at once */
}

/* A 10 s grant is renewed as if 60 s: at 30 s, not in a storm, and not lost at 10 s. */
static void
test_portmap_short_grant_renewed_as_minimum(void **state)
{
	struct fx *f = *state;
	uint8_t req[PCP_MAP_LEN];

	start(f);
	assert_int_equal(pcp_requests(f, req, NULL), 1);
	pcp_answer(f, req, 4800, 10, true);
	advance(f, 29000);
	assert_int_equal(pcp_requests(f, req, NULL), 0);
	assert_int_equal(portmap_external(f->pm)->sin_family, AF_INET);
	assert_int_equal(f->changes, 1);
	advance(f, 1100);
	assert_int_equal(pcp_requests(f, req, NULL), 1); /* the renewal, the mapping still ours */
	assert_int_equal(portmap_stats(f->pm)->lost, 0);
	assert_int_equal(f->changes, 1);
}

/*
 * The TCP mapping (the peer port): PCP asks for protocol 6, an answer for UDP (another
 * mapping of ours) is dropped, the TCP one maps; deleted for TCP at free.
 */
static void
test_portmap_pcp_tcp(void **state)
{
	struct fx *f = *state;
	uint8_t req[PCP_MAP_LEN], again[PCP_MAP_LEN];
	struct portmap_info info;

	start_proto(f, 6);
	assert_int_equal(pcp_requests(f, req, NULL), 1);
	assert_int_equal(req[36], 6); /* the payload's protocol */
	memcpy(again, req, sizeof(again));
	again[36] = 17;
	pcp_answer(f, again, 4800, 120, true);
	portmap_info(f->pm, &info);
	assert_int_equal(info.proto, 0);
	assert_int_equal(portmap_stats(f->pm)->bad, 1);
	pcp_answer(f, req, 4800, 120, true);
	portmap_info(f->pm, &info);
	assert_int_equal(info.proto, PORTMAP_PCP);
	assert_int_equal(ntohs(info.external.sin_port), 4800);
	assert_int_equal(f->changes, 1);
	portmap_free(f->pm);
	f->pm = NULL;
	assert_int_equal(pcp_requests(f, again, NULL), 1);
	assert_int_equal(again[36], 6);
	assert_memory_equal(again + 4, "\0\0\0\0", 4);
}

/* NAT-PMP only: the TCP map opcode (2), its answer (130) maps; a UDP answer (129) does not. */
static void
test_portmap_natpmp_tcp(void **state)
{
	static const uint8_t unsupported[] = { 0, 129, 0, 1, 0, 0, 0, 5 };
	static const uint8_t address[] = { 0, 128, 0, 0, 0, 0, 0, 5, 198, 18, 0, 202 };
	static const uint8_t udp[] = { 0,    129,  0,    0,    0, 0, 0,    5,
				       0x12, 0xc0, 0x13, 0x00, 0, 0, 0x0e, 0x10 };
	static const uint8_t tcp[] = { 0,    130,  0,    0,    0, 0, 0,    5,
				       0x12, 0xc0, 0x13, 0x01, 0, 0, 0x0e, 0x10 };
	struct fx *f = *state;
	uint8_t req[PCP_MAP_LEN], buf[64];
	struct portmap_info info;
	unsigned natpmp;

	start_proto(f, 6);
	assert_int_equal(pcp_requests(f, req, &natpmp), 1);
	reply(f, unsupported, sizeof(unsupported));
	reply(f, address, sizeof(address));
	assert_int_equal(next_request(f, buf, sizeof(buf)), NATPMP_MAP_REQUEST_LEN);
	assert_int_equal(buf[1], NATPMP_OP_MAP_TCP);
	reply(f, udp, sizeof(udp));
	portmap_info(f->pm, &info);
	assert_int_equal(info.proto, 0);
	reply(f, tcp, sizeof(tcp));
	portmap_info(f->pm, &info);
	assert_int_equal(info.proto, PORTMAP_NATPMP);
	assert_int_equal(ntohs(info.external.sin_port), 4865);
	portmap_free(f->pm);
	f->pm = NULL;
	assert_int_equal(next_request(f, buf, sizeof(buf)), NATPMP_MAP_REQUEST_LEN);
	assert_int_equal(buf[1], NATPMP_OP_MAP_TCP);
	assert_memory_equal(buf + 8, "\0\0\0\0", 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_portmap_pcp_maps_and_renews, setup, teardown),
		cmocka_unit_test_setup_teardown(test_portmap_pcp_wrong_nonce_dropped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_portmap_natpmp_only_router, setup, teardown),
		cmocka_unit_test_setup_teardown(test_portmap_pcp_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_portmap_natpmp_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_portmap_nothing_answers_retry_later, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_portmap_not_renewed_is_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_portmap_short_grant_renewed_as_minimum, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
