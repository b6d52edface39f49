/* SPDX-License-Identifier: MIT */
/*
 * The event loop: one per process, on epoll (STYLE §16, after Redis ae.c).
 *
 * Watchers are embedded in the objects that own them, so starting one never allocates; a
 * callback recovers its owner with container_of(). Timers use monotonic milliseconds and live
 * in a binary min-heap indexed from the timer itself (O(log n) start/stop). Signals arrive
 * through a signalfd. A before-sleep hook runs once per turn, after all ready events were
 * handled, to flush batched output (sendmmsg, TUN writes).
 *
 * ev_now_ms() is the time cached at the start of the turn: cheap, and the same for every
 * event of one turn. Tests may give the loop a clock of their own (ev_loop_set_clock).
 */
#ifndef VERTEX_EV_H
#define VERTEX_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct ev_loop;

enum { EV_READ = 1u << 0, EV_WRITE = 1u << 1 };

struct ev_io {
	int fd;
	uint32_t events; /* EV_READ | EV_WRITE */
	bool active;
	void (*on_ready)(struct ev_io *io, uint32_t revents);
};

struct ev_timer {
	uint64_t when_ms;
	size_t heap_index; /* 0 when not armed; heap slots are 1-based */
	void (*on_fire)(struct ev_timer *t);
};

/* Constructor: *out is owned by the caller, released with ev_loop_free(). */
int ev_loop_new(struct ev_loop **out);
void ev_loop_free(struct ev_loop *loop);

uint64_t ev_now_ms(const struct ev_loop *loop);
/* Monotonic clock read now, without the per-turn cache. */
uint64_t ev_clock_ms(void);

int ev_io_start(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events,
		void (*on_ready)(struct ev_io *, uint32_t));
int ev_io_set_events(struct ev_loop *loop, struct ev_io *io, uint32_t events);
void ev_io_stop(struct ev_loop *loop, struct ev_io *io);

/* Arms (or re-arms) t to fire after_ms from now. Returns 0 or -ENOMEM if the heap must grow. */
int ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t after_ms,
		   void (*on_fire)(struct ev_timer *));
void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t);
bool ev_timer_is_armed(const struct ev_timer *t);

/* Blocks signo and delivers it through the loop's signalfd. */
int ev_signal_add(struct ev_loop *loop, int signo, void (*on_signal)(int signo, void *arg),
		  void *arg);

void ev_set_before_sleep(struct ev_loop *loop, void (*before_sleep)(void *arg), void *arg);

/* Runs until ev_loop_break(). Returns 0, or -errno if epoll itself fails. */
int ev_run(struct ev_loop *loop);
/*
 * One turn: the before-sleep hook, a wait for I/O of at most max_wait_ms (-1: until the next
 * timer), the ready watchers, then the timers that are due. 0 or -errno. For tests that step a
 * loop, and for a caller that has other work between turns.
 */
int ev_run_once(struct ev_loop *loop, int max_wait_ms);
/*
 * Takes the time from clock(arg) (milliseconds, never decreasing) instead of the monotonic
 * clock: unit tests drive time themselves and step the loop with ev_run_once(loop, 0), so a
 * state machine's timers fire in milliseconds of real time, deterministically.
 */
void ev_loop_set_clock(struct ev_loop *loop, uint64_t (*clock)(void *arg), void *arg);
void ev_loop_break(struct ev_loop *loop);

#endif
