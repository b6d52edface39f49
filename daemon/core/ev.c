// SPDX-License-Identifier: MIT
/*
 * epoll event loop with a timer heap and signalfd. See ev.h for the model.
 */
#include "ev.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

enum { EV_MAX_EVENTS = 64, EV_MAX_SIGNALS = 8 };

struct ev_signal_handler {
	int signo;
	void (*on_signal)(int signo, void *arg);
	void *arg;
};

struct ev_loop {
	int epfd;
	bool stop;
	uint64_t now_ms;

	struct ev_timer **heap; /* 1-based */
	size_t heap_len;
	size_t heap_cap;

	int sigfd;
	sigset_t sigmask;
	struct ev_io sig_io;
	struct ev_signal_handler signals[EV_MAX_SIGNALS];
	size_t nsignals;

	void (*before_sleep)(void *arg);
	void *before_sleep_arg;

	/* Events of the turn being dispatched, so ev_io_stop() can cancel pending ones. */
	struct epoll_event *pending;
	int npending;

	/* Where time comes from: the monotonic clock, or a test's (ev_loop_set_clock). */
	uint64_t (*clock)(void *arg);
	void *clock_arg;
};

uint64_t
ev_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
ev_loop_clock(const struct ev_loop *loop)
{
	return loop->clock ? loop->clock(loop->clock_arg) : ev_clock_ms();
}

void
ev_loop_set_clock(struct ev_loop *loop, uint64_t (*clock)(void *arg), void *arg)
{
	loop->clock = clock;
	loop->clock_arg = arg;
	loop->now_ms = ev_loop_clock(loop);
}

int
ev_loop_new(struct ev_loop **out)
{
	struct ev_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = -errno;

		free(loop);
		return err;
	}
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);
	loop->now_ms = ev_clock_ms();
	*out = loop;
	return 0;
}

void
ev_loop_free(struct ev_loop *loop)
{
	if (!loop)
		return;
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->epfd);
	free(loop->heap);
	free(loop);
}

uint64_t
ev_now_ms(const struct ev_loop *loop)
{
	return loop->now_ms;
}

static uint32_t
ev_to_epoll(uint32_t events)
{
	return (events & EV_READ ? EPOLLIN : 0) | (events & EV_WRITE ? EPOLLOUT : 0);
}

int
ev_io_start(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events,
	    void (*on_ready)(struct ev_io *, uint32_t))
{
	struct epoll_event ev = { .events = ev_to_epoll(events), .data.ptr = io };

	io->fd = fd;
	io->events = events;
	io->on_ready = on_ready;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	io->active = true;
	return 0;
}

int
ev_io_set_events(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = ev_to_epoll(events), .data.ptr = io };

	if (io->events == events)
		return 0;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

void
ev_io_stop(struct ev_loop *loop, struct ev_io *io)
{
	if (!io->active)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->active = false;
	/* The owner may free io right after this: forget any event still queued for it. */
	for (int i = 0; i < loop->npending; i++)
		if (loop->pending[i].data.ptr == io)
			loop->pending[i].data.ptr = NULL;
}

/* --- timer heap --- */

static void
heap_set(struct ev_loop *loop, size_t i, struct ev_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void
heap_up(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];

	while (i > 1 && loop->heap[i / 2]->when_ms > t->when_ms) {
		heap_set(loop, i, loop->heap[i / 2]);
		i /= 2;
	}
	heap_set(loop, i, t);
}

static void
heap_down(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];

	for (;;) {
		size_t c = 2 * i;

		if (c > loop->heap_len)
			break;
		if (c + 1 <= loop->heap_len && loop->heap[c + 1]->when_ms < loop->heap[c]->when_ms)
			c++;
		if (loop->heap[c]->when_ms >= t->when_ms)
			break;
		heap_set(loop, i, loop->heap[c]);
		i = c;
	}
	heap_set(loop, i, t);
}

bool
ev_timer_is_armed(const struct ev_timer *t)
{
	return t->heap_index != 0;
}

void
ev_timer_stop(struct ev_loop *loop, struct ev_timer *t)
{
	size_t i = t->heap_index;
	struct ev_timer *last;

	if (!i)
		return;
	t->heap_index = 0;
	last = loop->heap[loop->heap_len--];
	if (last == t)
		return;
	heap_set(loop, i, last);
	heap_up(loop, i);
	heap_down(loop, last->heap_index);
}

int
ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t after_ms,
	       void (*on_fire)(struct ev_timer *))
{
	ev_timer_stop(loop, t);
	if (loop->heap_len + 1 >= loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		struct ev_timer **h = realloc(loop->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		loop->heap = h;
		loop->heap_cap = cap;
	}
	t->when_ms = loop->now_ms + after_ms;
	t->on_fire = on_fire;
	heap_set(loop, ++loop->heap_len, t);
	heap_up(loop, loop->heap_len);
	return 0;
}

static void
ev_run_timers(struct ev_loop *loop)
{
	/* Bounded: a timer re-armed with 0 ms fires on the next turn, not in this loop. */
	uint64_t now = loop->now_ms;
	size_t budget = loop->heap_len;

	while (budget-- && loop->heap_len && loop->heap[1]->when_ms <= now) {
		struct ev_timer *t = loop->heap[1];

		ev_timer_stop(loop, t);
		t->on_fire(t);
	}
}

/* How long epoll may wait: until the next timer, at most max_ms (-1: no limit but 60 s). */
static int
ev_next_timeout(const struct ev_loop *loop, int max_ms)
{
	uint64_t now = ev_loop_clock(loop);
	uint64_t when;
	int wait;

	if (!loop->heap_len)
		return max_ms;
	when = loop->heap[1]->when_ms;
	wait = when <= now ? 0 : when - now > 60000 ? 60000 : (int)(when - now);
	return max_ms >= 0 && max_ms < wait ? max_ms : wait;
}

/* --- signals --- */

static void
ev_on_signalfd(struct ev_io *io, uint32_t revents)
{
	struct ev_loop *loop = container_of(io, struct ev_loop, sig_io);
	struct signalfd_siginfo si;

	(void)revents;
	while (read(loop->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (size_t i = 0; i < loop->nsignals; i++)
			if (loop->signals[i].signo == (int)si.ssi_signo)
				loop->signals[i].on_signal((int)si.ssi_signo, loop->signals[i].arg);
	}
}

int
ev_signal_add(struct ev_loop *loop, int signo, void (*on_signal)(int, void *), void *arg)
{
	int fd;

	if (loop->nsignals == EV_MAX_SIGNALS)
		return -ENOSPC;
	sigaddset(&loop->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) < 0)
		return -errno;
	fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (loop->sigfd < 0) {
		int err = ev_io_start(loop, &loop->sig_io, fd, EV_READ, ev_on_signalfd);

		if (err) {
			close(fd);
			return err;
		}
	}
	loop->sigfd = fd;
	loop->signals[loop->nsignals++] =
	    (struct ev_signal_handler){ .signo = signo, .on_signal = on_signal, .arg = arg };
	return 0;
}

void
ev_set_before_sleep(struct ev_loop *loop, void (*before_sleep)(void *), void *arg)
{
	loop->before_sleep = before_sleep;
	loop->before_sleep_arg = arg;
}

void
ev_loop_break(struct ev_loop *loop)
{
	loop->stop = true;
}

int
ev_run_once(struct ev_loop *loop, int max_wait_ms)
{
	struct epoll_event events[EV_MAX_EVENTS];
	int n;

	if (loop->before_sleep)
		loop->before_sleep(loop->before_sleep_arg);
	n = epoll_wait(loop->epfd, events, EV_MAX_EVENTS, ev_next_timeout(loop, max_wait_ms));
	if (n < 0 && errno != EINTR)
		return -errno;
	loop->now_ms = ev_loop_clock(loop);
	loop->pending = events;
	loop->npending = n > 0 ? n : 0;
	for (int i = 0; i < n && !loop->stop; i++) {
		struct ev_io *io = events[i].data.ptr;
		uint32_t re = 0;

		if (!io)
			continue;
		if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			re |= EV_READ;
		if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			re |= EV_WRITE;
		io->on_ready(io, re & (io->events | EV_READ));
	}
	loop->npending = 0;
	ev_run_timers(loop);
	return 0;
}

int
ev_run(struct ev_loop *loop)
{
	int err = 0;

	loop->stop = false;
	while (!loop->stop && !err)
		err = ev_run_once(loop, -1);
	return err;
}
