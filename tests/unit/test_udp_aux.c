// SPDX-License-Identifier: MIT
/*
 * The UDP path's extra sockets (path/udp.h path_udp_aux_*), on loopback: one sends its opener
 * to its peer from a port of its own; what the peer sends back is handed up like the main
 * socket's datagrams and pins the peer's address to it (frames to the peer then leave from
 * it); nothing from anywhere else gets in (connected); the first socket hit keeps the pin;
 * closed, frames take the main socket again; the count is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ev.h"
#include "core/pkt.h"
#include "core/sockaddr.h"
#include "path/udp.h"

struct fx {
	struct ev_loop *loop;
	struct pkt_pool *pkts;
	struct path_udp *u;
	int peer, other; /* plain sockets on 127.0.0.1 */
	struct sockaddr_storage peer_addr;
	unsigned frames;
	uint8_t last[64];
	size_t last_len;
	struct sockaddr_storage last_from;
};

static void
on_frame(void *arg, struct pkt *p, const struct sockaddr_storage *from)
{
	struct fx *fx = arg;

	fx->frames++;
	fx->last_len = p->len < sizeof(fx->last) ? p->len : sizeof(fx->last);
	memcpy(fx->last, pkt_data(p), fx->last_len);
	fx->last_from = *from;
	pkt_put(fx->pkts, p);
}

static void
on_drop(void *arg, enum path_udp_drop why, const char *detail)
{
	(void)arg;
	(void)why;
	(void)detail;
}

static const struct path_udp_ops ops = { .on_frame = on_frame, .on_drop = on_drop };

static int
loopback_socket(struct sockaddr_storage *out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 2 };

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (out) {
		memset(out, 0, sizeof(*out));
		memcpy(out, &a, sizeof(a));
	}
	return fd;
}

static int
setup(void **state)
{
	static struct fx fx;

	memset(&fx, 0, sizeof(fx));
	assert_int_equal(ev_loop_new(&fx.loop), 0);
	assert_int_equal(pkt_pool_new(&fx.pkts, 64), 0);
	assert_int_equal(path_udp_open(&fx.u, fx.loop, fx.pkts, AF_INET, 0, &ops, &fx), 0);
	fx.peer = loopback_socket(&fx.peer_addr);
	fx.other = loopback_socket(NULL);
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	path_udp_close(fx->u);
	close(fx->peer);
	close(fx->other);
	pkt_pool_free(fx->pkts);
	ev_loop_free(fx->loop);
	return 0;
}

/* What the peer receives next: its bytes (into buf) and the sender's port. */
static uint16_t
peer_recv(struct fx *fx, char *buf, size_t cap, ssize_t *len)
{
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);

	*len = recvfrom(fx->peer, buf, cap, 0, (struct sockaddr *)&from, &fl);
	assert_true(*len >= 0);
	return ntohs(from.sin_port);
}

static void
queue_to_peer(struct fx *fx, const char *text)
{
	struct pkt *p = pkt_get(fx->pkts);

	assert_non_null(p);
	memcpy(pkt_data(p), text, strlen(text));
	p->len = (uint16_t)strlen(text);
	path_udp_queue(fx->u, &fx->peer_addr, p);
	path_udp_flush(fx->u);
}

/* Runs the loop until a frame more than `had` came, or 2 s of turns passed. */
static void
run_until_frame(struct fx *fx, unsigned had)
{
	for (int i = 0; i < 40 && fx->frames == had; i++)
		ev_run_once(fx->loop, 50);
}

static void
test_path_udp_aux_pin_and_send(void **state)
{
	struct fx *fx = *state;
	char buf[64];
	ssize_t len;
	uint16_t aux_port, main_port;
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int id = path_udp_aux_open(fx->u, &fx->peer_addr, (const uint8_t *)"open", 4);

	assert_true(id >= 0);
	assert_int_equal(path_udp_aux_count(fx->u), 1);
	aux_port = peer_recv(fx, buf, sizeof(buf), &len);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "open", 4);
	assert_int_equal(path_udp_aux_pinned(fx->u, &fx->peer_addr), -1);
	/* Not pinned yet: frames to the peer leave from the main socket. */
	queue_to_peer(fx, "main");
	main_port = peer_recv(fx, buf, sizeof(buf), &len);
	assert_int_not_equal(main_port, aux_port);

	/* Something from elsewhere never gets in (the socket is connected to the peer). */
	to.sin_port = htons(aux_port);
	assert_int_equal(sendto(fx->other, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
	for (int i = 0; i < 4; i++)
		ev_run_once(fx->loop, 25);
	assert_int_equal(fx->frames, 0);
	assert_int_equal(path_udp_aux_pinned(fx->u, &fx->peer_addr), -1);

	/* The peer's datagram: handed up as from the peer, and the peer's address pinned. */
	assert_int_equal(sendto(fx->peer, "abc", 3, 0, (struct sockaddr *)&to, sizeof(to)), 3);
	run_until_frame(fx, 0);
	assert_int_equal(fx->frames, 1);
	assert_int_equal(fx->last_len, 3);
	assert_true(sockaddr_same(&fx->last_from, &fx->peer_addr));
	assert_int_equal(path_udp_aux_pinned(fx->u, &fx->peer_addr), id);
	queue_to_peer(fx, "pinned");
	assert_int_equal(peer_recv(fx, buf, sizeof(buf), &len), aux_port);
	assert_int_equal(len, 6);

	/* Closed: the pin goes with it, frames take the main socket again. */
	path_udp_aux_close(fx->u, id);
	path_udp_aux_close(fx->u, id); /* twice: ignored */
	assert_int_equal(path_udp_aux_count(fx->u), 0);
	assert_int_equal(path_udp_aux_pinned(fx->u, &fx->peer_addr), -1);
	queue_to_peer(fx, "again");
	assert_int_equal(peer_recv(fx, buf, sizeof(buf), &len), main_port);
}

static void
test_path_udp_aux_first_hit_keeps_the_pin(void **state)
{
	struct fx *fx = *state;
	char buf[64];
	ssize_t len;
	int a = path_udp_aux_open(fx->u, &fx->peer_addr, (const uint8_t *)"", 0);
	uint16_t pa = peer_recv(fx, buf, sizeof(buf), &len);
	int b = path_udp_aux_open(fx->u, &fx->peer_addr, (const uint8_t *)"", 0);
	uint16_t pb = peer_recv(fx, buf, sizeof(buf), &len);
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	assert_true(a >= 0 && b >= 0 && a != b);
	assert_int_equal(len, 0); /* an empty opener */
	to.sin_port = htons(pb);
	sendto(fx->peer, "1", 1, 0, (struct sockaddr *)&to, sizeof(to));
	run_until_frame(fx, 0);
	to.sin_port = htons(pa);
	sendto(fx->peer, "2", 1, 0, (struct sockaddr *)&to, sizeof(to));
	run_until_frame(fx, 1);
	assert_int_equal(fx->frames, 2); /* both handed up */
	assert_int_equal(path_udp_aux_pinned(fx->u, &fx->peer_addr), b);
	queue_to_peer(fx, "z");
	assert_int_equal(peer_recv(fx, buf, sizeof(buf), &len), pb);
}

static void
test_path_udp_aux_bounded(void **state)
{
	struct fx *fx = *state;
	int n = 0;

	for (int i = 0; i < PATH_UDP_AUX_MAX; i++)
		n += path_udp_aux_open(fx->u, &fx->peer_addr, (const uint8_t *)"", 0) >= 0;
	assert_int_equal(n, PATH_UDP_AUX_MAX);
	assert_int_equal(path_udp_aux_open(fx->u, &fx->peer_addr, (const uint8_t *)"", 0), -EMFILE);
	assert_int_equal(path_udp_aux_count(fx->u), PATH_UDP_AUX_MAX);
	/* teardown closes them all (ASan: nothing leaks) */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_path_udp_aux_pin_and_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_udp_aux_first_hit_keeps_the_pin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_path_udp_aux_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
