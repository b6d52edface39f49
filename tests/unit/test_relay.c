// SPDX-License-Identifier: MIT
/*
 * The agent's end of the relay (relay/relay.h), two of them (alice and bob) on one event loop
 * with the test as the servers between them: what one sends is handed to the other. Covers:
 * a channel opened by a dial carries bytes both ways between the two socketpair ends the links
 * would hold, in order; a channel the other side refuses ends with a FIN back; a link closing
 * its end sends FIN and the far end sees its own end close; the home connection going away
 * ends every channel; frames are handed up, and dropped (counted) over the backlog or when the
 * home server cannot take them; records for others or for ended channels are dropped.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ev.h"
#include "proto/ctlmsg.h"
#include "relay/relay.h"
#include "support/steps.h"

#define ALICE "alice@a.example.com"
#define BOB   "bob@b.example.com"
enum { MAXQ = 64 };

struct end {
	struct relay *r;
	struct end *other;
	bool up, refuse;
	size_t backlog;
	struct ctlmsg q[MAXQ];
	uint8_t data[MAXQ][CTL_BLOB_MAX]; /* the bytes the queued messages point to */
	size_t nq;
	int accepted_fd; /* the link's end of a channel the other side opened */
	char frame_from[CTL_STR_MAX + 1];
	size_t frames;
};

struct fx {
	struct ev_loop *loop;
	struct end alice, bob;
};

static bool
end_send(void *arg, const struct ctlmsg *m)
{
	struct end *e = arg;

	if (!e->up || e->nq == MAXQ)
		return false;
	e->q[e->nq] = *m;
	if (m->type == CTL_RELAY && m->u.relay.data_len) {
		memcpy(e->data[e->nq], m->u.relay.data, m->u.relay.data_len);
		e->q[e->nq].u.relay.data = e->data[e->nq];
	} else if (m->type == CTL_RELAY_FRAME) {
		memcpy(e->data[e->nq], m->u.frame.frame, m->u.frame.frame_len);
		e->q[e->nq].u.frame.frame = e->data[e->nq];
	}
	e->nq++;
	return true;
}

static size_t
end_backlog(void *arg)
{
	return ((struct end *)arg)->backlog;
}

static bool
end_on_channel(void *arg, const char *from, int fd)
{
	struct end *e = arg;

	(void)from;
	if (e->refuse) {
		close(fd);
		return false;
	}
	e->accepted_fd = fd;
	return true;
}

static void
end_on_frame(void *arg, const char *from, const uint8_t *frame, size_t len)
{
	struct end *e = arg;

	(void)frame;
	(void)len;
	snprintf(e->frame_from, sizeof(e->frame_from), "%s", from);
	e->frames++;
}

static const struct relay_ops end_ops = {
	.send = end_send,
	.backlog = end_backlog,
	.on_channel = end_on_channel,
	.on_frame = end_on_frame,
};

/* The servers: what each side queued goes to the other. */
static size_t
pass_on(struct end *from)
{
	size_t n = from->nq;

	for (size_t i = 0; i < n; i++)
		relay_on_msg(from->other->r, &from->q[i]);
	from->nq = 0;
	return n;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(ev_loop_new(&f->loop), 0);
	f->alice.other = &f->bob;
	f->bob.other = &f->alice;
	f->alice.up = f->bob.up = true;
	f->alice.accepted_fd = f->bob.accepted_fd = -1;
	assert_int_equal(relay_new(&f->alice.r, f->loop, ALICE, &end_ops, &f->alice), 0);
	assert_int_equal(relay_new(&f->bob.r, f->loop, BOB, &end_ops, &f->bob), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	relay_free(f->alice.r);
	relay_free(f->bob.r);
	if (f->alice.accepted_fd >= 0)
		close(f->alice.accepted_fd);
	if (f->bob.accepted_fd >= 0)
		close(f->bob.accepted_fd);
	ev_loop_free(f->loop);
	free(f);
	return 0;
}

/* Reads exactly len bytes from fd, stepping the loop and the servers. */
static void
read_all(struct fx *f, int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	for (int i = 0; i < 2000 && got < len; i++) {
		ssize_t n;

		assert_int_equal(ev_run_once(f->loop, 1), 0);
		pass_on(&f->alice);
		pass_on(&f->bob);
		n = read(fd, buf + got, len - got);
		if (n > 0)
			got += (size_t)n;
	}
	assert_int_equal(got, len);
}

static void
test_channel_carries_bytes_both_ways(void **state)
{
	struct fx *f = *state;
	static uint8_t out[100000], in[100000];
	int fd;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(relay_dial(f->alice.r, BOB, &fd), 0);
	/* What alice's link writes reaches bob's accepted end, in order, through many records. */
	assert_int_equal(write(fd, out, 60000), 60000);
	RUN_UNTIL(f->loop, (pass_on(&f->alice), f->bob.accepted_fd >= 0));
	read_all(f, f->bob.accepted_fd, in, 60000);
	assert_memory_equal(in, out, 60000);
	/* And back. */
	assert_int_equal(write(f->bob.accepted_fd, out, 40000), 40000);
	read_all(f, fd, in, 40000);
	assert_memory_equal(in, out, 40000);
	assert_int_equal(relay_channels(f->alice.r), 1);
	assert_int_equal(relay_channels(f->bob.r), 1);
	/* alice's link closes its end: FIN, and bob's link sees its end close. */
	close(fd);
	RUN_UNTIL(f->loop, (pass_on(&f->alice), relay_channels(f->bob.r) == 0));
	{
		uint8_t b;

		assert_int_equal(read(f->bob.accepted_fd, &b, 1), 0);
	}
	assert_int_equal(relay_channels(f->alice.r), 0);
}

static void
test_refused_channel_ends(void **state)
{
	struct fx *f = *state;
	uint8_t b = 1;
	int fd;

	f->bob.refuse = true;
	assert_int_equal(relay_dial(f->alice.r, BOB, &fd), 0);
	assert_int_equal(write(fd, &b, 1), 1);
	RUN_UNTIL(f->loop, (pass_on(&f->alice), relay_stats(f->bob.r)->channels_refused == 1));
	assert_int_equal(relay_channels(f->bob.r), 0);
	assert_int_equal(pass_on(&f->bob), 1); /* the FIN */
	assert_int_equal(relay_channels(f->alice.r), 0);
	assert_int_equal(read(fd, &b, 1), 0); /* alice's link sees the end */
	close(fd);
}

static void
test_home_down_ends_channels(void **state)
{
	struct fx *f = *state;
	uint8_t b;
	int fd1, fd2;

	assert_int_equal(relay_dial(f->alice.r, BOB, &fd1), 0);
	assert_int_equal(relay_dial(f->alice.r, "carol@c.example.org", &fd2), 0);
	assert_int_equal(relay_channels(f->alice.r), 2);
	relay_home_down(f->alice.r);
	assert_int_equal(relay_channels(f->alice.r), 0);
	assert_int_equal(read(fd1, &b, 1), 0);
	assert_int_equal(read(fd2, &b, 1), 0);
	close(fd1);
	close(fd2);
	/* A write the home server cannot take ends the channel too. */
	assert_int_equal(relay_dial(f->alice.r, BOB, &fd1), 0);
	f->alice.up = false;
	assert_int_equal(write(fd1, "x", 1), 1);
	RUN_UNTIL(f->loop, relay_channels(f->alice.r) == 0);
	close(fd1);
}

static void
test_frames_and_drops(void **state)
{
	struct fx *f = *state;
	uint8_t frame[100] = { 4 };

	assert_true(relay_send_frame(f->alice.r, BOB, frame, sizeof(frame)));
	pass_on(&f->alice);
	assert_int_equal(f->bob.frames, 1);
	assert_string_equal(f->bob.frame_from, ALICE);
	f->alice.backlog = RELAY_FRAME_BACKLOG + 1; /* a congested home connection */
	assert_false(relay_send_frame(f->alice.r, BOB, frame, sizeof(frame)));
	f->alice.backlog = 0;
	f->alice.up = false;
	assert_false(relay_send_frame(f->alice.r, BOB, frame, sizeof(frame)));
	assert_int_equal(relay_stats(f->alice.r)->frames_dropped, 2);
	assert_int_equal(relay_stats(f->alice.r)->frames_tx, 1);
	/* A record for someone else, or the rest of a channel that ended, is dropped. */
	{
		struct ctlmsg m = { .type = CTL_RELAY_FRAME };

		strcpy(m.u.frame.from, ALICE);
		strcpy(m.u.frame.to, "carol@c.example.org");
		m.u.frame.frame = frame;
		m.u.frame.frame_len = sizeof(frame);
		relay_on_msg(f->bob.r, &m);
		memset(&m, 0, sizeof(m));
		m.type = CTL_RELAY;
		strcpy(m.u.relay.from, ALICE);
		strcpy(m.u.relay.to, BOB);
		m.u.relay.channel =
		    77; /* not the dialer's: a channel of bob's that does not exist */
		m.u.relay.data = frame;
		m.u.relay.data_len = 10;
		relay_on_msg(f->bob.r, &m);
	}
	assert_int_equal(f->bob.frames, 1);
	assert_int_equal(relay_stats(f->bob.r)->records_dropped, 2);
	assert_int_equal(relay_channels(f->bob.r), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_channel_carries_bytes_both_ways, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refused_channel_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_down_ends_channels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frames_and_drops, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
