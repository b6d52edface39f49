// SPDX-License-Identifier: MIT
/*
 * The birthday technique's decisions (birthday.h): port prediction, the spray's schedule and
 * the extra sockets' lifetimes. Pure: no clock, no sockets, no randomness of its own.
 */
#include "direct/birthday.h"

#include <string.h>

bool
birthday_predict(const uint16_t *ports, size_t n, uint16_t *next, int *delta)
{
	int step, at;

	if (n < 2)
		return false;
	step = (int)ports[1] - (int)ports[0];
	if (step == 0 || step > BIRTHDAY_PREDICT_DELTA_MAX || step < -BIRTHDAY_PREDICT_DELTA_MAX)
		return false;
	for (size_t i = 2; i < n; i++)
		if ((int)ports[i] - (int)ports[i - 1] != step)
			return false;
	at = (int)ports[n - 1] + step;
	if (at < BIRTHDAY_PORT_MIN || at > 65535)
		return false; /* the allocator wraps somewhere we cannot know */
	*next = (uint16_t)at;
	*delta = step;
	return true;
}

void
birthday_spray_init(struct birthday_spray *s, uint64_t start_ms, unsigned total, bool predicted,
		    uint16_t base, int delta)
{
	memset(s, 0, sizeof(*s));
	s->start_ms = start_ms;
	s->total = total > BIRTHDAY_PORTS ? BIRTHDAY_PORTS : total;
	s->predicted = predicted && base >= BIRTHDAY_PORT_MIN && delta != 0;
	s->base = base;
	s->delta = delta;
}

static bool
birthday_take(struct birthday_spray *s, int port)
{
	unsigned i;

	if (port < BIRTHDAY_PORT_MIN || port > 65535)
		return false;
	i = (unsigned)port - BIRTHDAY_PORT_MIN;
	if (s->used[i / 8] & (1u << (i % 8)))
		return false;
	s->used[i / 8] |= (uint8_t)(1u << (i % 8));
	return true;
}

/* The next port of the spray: a predicted one while there are, else a random unused one. */
static uint16_t
birthday_next_port(struct birthday_spray *s, birthday_rand_fn rnd, void *rarg)
{
	for (unsigned k = s->sent; s->predicted && k < BIRTHDAY_PREDICT_WINDOW; k++) {
		int port = (int)s->base + (int)k * s->delta;

		if (birthday_take(s, port))
			return (uint16_t)port;
	}
	s->predicted = false; /* the window is spent (or ran off the range) */
	for (;;) {
		/* total <= BIRTHDAY_PORTS, so an unused port exists; on a draw of a used one, walk.
		 */
		unsigned i = rnd(rarg) % BIRTHDAY_PORTS;

		for (unsigned k = 0; k < BIRTHDAY_PORTS; k++) {
			unsigned j = (i + k) % BIRTHDAY_PORTS;

			if (birthday_take(s, (int)j + BIRTHDAY_PORT_MIN))
				return (uint16_t)(j + BIRTHDAY_PORT_MIN);
		}
	}
}

size_t
birthday_spray_due(struct birthday_spray *s, uint64_t now, uint16_t *out, size_t max,
		   birthday_rand_fn rnd, void *rarg)
{
	uint64_t allowed;
	size_t n = 0;

	if (now < s->start_ms)
		return 0;
	allowed = (now - s->start_ms) * BIRTHDAY_RATE_PER_SEC / 1000 + 1;
	if (allowed > s->total)
		allowed = s->total;
	while (s->sent < allowed && n < max) {
		out[n++] = birthday_next_port(s, rnd, rarg);
		s->sent++;
	}
	return n;
}

bool
birthday_spray_is_done(const struct birthday_spray *s)
{
	return s->sent >= s->total;
}

void
birthday_socks_init(struct birthday_socks *s, uint64_t start_ms, unsigned target)
{
	memset(s, 0, sizeof(*s));
	s->start_ms = start_ms;
	s->target = target > BIRTHDAY_SOCKETS ? BIRTHDAY_SOCKETS : target;
	s->kept = -1;
	s->opening_over = s->target == 0;
}

unsigned
birthday_socks_due(const struct birthday_socks *s, uint64_t now, unsigned max)
{
	uint64_t allowed;
	unsigned due;

	if (s->opening_over || now < s->start_ms)
		return 0;
	allowed = (now - s->start_ms) * BIRTHDAY_RATE_PER_SEC / 1000 + 1;
	if (allowed > s->target)
		allowed = s->target;
	due = allowed > s->n ? (unsigned)(allowed - s->n) : 0;
	return due < max ? due : max;
}

void
birthday_socks_opened(struct birthday_socks *s, int id)
{
	if (id < 0 || s->n >= s->target) {
		s->opening_over = true;
		return;
	}
	s->id[s->n++] = id;
	if (s->n == s->target)
		s->opening_over = true;
}

/* Everything held but keep (-1: everything) into out, forgotten; how many. */
static size_t
birthday_socks_drop(struct birthday_socks *s, int keep, int *out)
{
	size_t n = 0;

	for (unsigned i = 0; i < s->n; i++)
		if (s->id[i] >= 0 && s->id[i] != keep) {
			out[n++] = s->id[i];
			s->id[i] = -1;
		}
	s->opening_over = true;
	return n;
}

size_t
birthday_socks_release(struct birthday_socks *s, uint64_t now, int pinned, bool works, int *out)
{
	bool ours = false;

	for (unsigned i = 0; i < s->n && pinned >= 0 && !ours; i++)
		ours = s->id[i] == pinned;
	if (!ours)
		pinned = -1; /* the main socket, or another peer's: not ours to weigh */
	if (works && pinned >= 0) {
		s->works_ms = now;
		if (s->kept == pinned)
			return 0;
		s->kept = pinned;
		return birthday_socks_drop(s, pinned, out);
	}
	if (works && s->kept < 0)
		return birthday_socks_drop(s, -1, out); /* direct without us: none needed */
	if (s->kept >= 0) {
		/* Kept: released once its path has not worked for the hold time. */
		if (works || now - s->works_ms < BIRTHDAY_HOLD_MS)
			return 0;
		s->kept = -1;
		return birthday_socks_drop(s, -1, out);
	}
	if (pinned >= 0) {
		if (!s->pinned_ms)
			s->pinned_ms = now;
		if (now - s->pinned_ms >= BIRTHDAY_VALIDATE_MS) {
			/* Hit, but never validated: a dud (a forged datagram?); the rest may still.
			 */
			for (unsigned i = 0; i < s->n; i++)
				if (s->id[i] == pinned)
					s->id[i] = -1;
			s->pinned_ms = 0;
			out[0] = pinned;
			return 1;
		}
	}
	if (now - s->start_ms >= BIRTHDAY_HOLD_MS)
		return birthday_socks_drop(s, -1, out);
	return 0;
}

size_t
birthday_socks_release_all(struct birthday_socks *s, int *out)
{
	s->kept = -1;
	return birthday_socks_drop(s, -1, out);
}

unsigned
birthday_socks_held(const struct birthday_socks *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->n; i++)
		n += s->id[i] >= 0;
	return n;
}

bool
birthday_socks_is_over(const struct birthday_socks *s)
{
	return s->opening_over && birthday_socks_held(s) == 0;
}
