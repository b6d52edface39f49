// SPDX-License-Identifier: MIT
/*
 * Pairs of descriptors spliced both ways (splice.h). A pair's two directions are alike: a
 * `dir` reads its source into its buffer and writes the buffer to its sink. Each side's
 * watcher asks for EV_READ when that side's outgoing direction wants bytes and EV_WRITE when
 * its incoming direction has bytes waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/splice.h"

struct splice_dir {
	size_t len, off;
	bool eof;  /* the source's EOF was read */
	bool shut; /* ... and passed on: the sink's writing half is shut */
	uint64_t *bytes;
	uint8_t buf[SPLICE_BUF];
};

struct splice_pair {
	struct splicer *s;
	struct splice_pair *prev, *next;
	int fd[2];
	struct ev_io io[2];
	struct splice_dir dir[2]; /* dir[0]: fd[0] -> fd[1]; dir[1]: fd[1] -> fd[0] */
};

struct splicer {
	struct ev_loop *loop;
	struct splice_pair *pairs;
	size_t n, max;
	struct splicer_stats stats;
};

static void pair_on_io0(struct ev_io *io, uint32_t revents);
static void pair_on_io1(struct ev_io *io, uint32_t revents);

static void
pair_free(struct splice_pair *p)
{
	struct splicer *s = p->s;

	for (int i = 0; i < 2; i++) {
		if (p->io[i].active)
			ev_io_stop(s->loop, &p->io[i]);
		close(p->fd[i]);
	}
	if (p->prev)
		p->prev->next = p->next;
	else
		s->pairs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	s->n--;
	s->stats.ended++;
	free(p);
}

static bool
dir_has_data(const struct splice_dir *d)
{
	return d->off < d->len;
}

static bool
dir_wants_read(const struct splice_dir *d)
{
	return !dir_has_data(d) && !d->eof;
}

/* Reads src into d; false on an error. */
static bool
dir_fill(struct splice_dir *d, int src)
{
	ssize_t n = read(src, d->buf, sizeof(d->buf));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		d->eof = true;
	d->len = (size_t)n;
	d->off = 0;
	*d->bytes += (uint64_t)n;
	return true;
}

/* Writes d to dst, then passes its EOF on; false on an error. */
static bool
dir_drain(struct splice_dir *d, int dst)
{
	if (dir_has_data(d)) {
		ssize_t n = send(dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		d->off += (size_t)n;
		if (d->off < d->len)
			return true;
		d->off = d->len = 0;
	}
	if (d->eof && !d->shut) {
		shutdown(dst, SHUT_WR);
		d->shut = true;
	}
	return true;
}

/* Side i reads for dir[i] and writes for dir[1 - i]. */
static void
pair_watch(struct splice_pair *p)
{
	void (*cb[2])(struct ev_io *, uint32_t) = { pair_on_io0, pair_on_io1 };

	for (int i = 0; i < 2; i++) {
		uint32_t ev = (dir_wants_read(&p->dir[i]) ? EV_READ : 0) |
			      (dir_has_data(&p->dir[1 - i]) ? EV_WRITE : 0);
		struct ev_io *io = &p->io[i];

		/* Stopped when nothing is wanted: epoll reports a hang-up even for no events. */
		if (!ev) {
			if (io->active)
				ev_io_stop(p->s->loop, io);
		} else if (!io->active) {
			ev_io_start(p->s->loop, io, p->fd[i], ev, cb[i]);
		} else if (io->events != ev) {
			ev_io_set_events(p->s->loop, io, ev);
		}
	}
}

static void
pair_on_io(struct splice_pair *p, int i, uint32_t revents)
{
	bool ok = true;

	if (revents & EV_WRITE)
		ok = dir_drain(&p->dir[1 - i], p->fd[i]);
	if (ok && (revents & EV_READ) && dir_wants_read(&p->dir[i]))
		ok = dir_fill(&p->dir[i], p->fd[i]) && dir_drain(&p->dir[i], p->fd[1 - i]);
	if (!ok || (p->dir[0].shut && p->dir[1].shut)) {
		pair_free(p);
		return;
	}
	pair_watch(p);
}

static void
pair_on_io0(struct ev_io *io, uint32_t revents)
{
	pair_on_io(container_of(io, struct splice_pair, io[0]), 0, revents);
}

static void
pair_on_io1(struct ev_io *io, uint32_t revents)
{
	pair_on_io(container_of(io, struct splice_pair, io[1]), 1, revents);
}

int
splicer_new(struct splicer **out, struct ev_loop *loop, size_t max)
{
	struct splicer *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->max = max ? max : SPLICE_PAIRS_DEFAULT;
	*out = s;
	return 0;
}

void
splicer_free(struct splicer *s)
{
	if (!s)
		return;
	while (s->pairs)
		pair_free(s->pairs);
	free(s);
}

int
splicer_add(struct splicer *s, int a, int b)
{
	return splicer_add_with(s, a, b, NULL, 0, NULL, 0);
}

int
splicer_add_with(struct splicer *s, int a, int b, const uint8_t *ab, size_t nab, const uint8_t *ba,
		 size_t nba)
{
	struct splice_pair *p;

	if (nab > SPLICE_BUF || nba > SPLICE_BUF) {
		close(a);
		close(b);
		return -EINVAL;
	}
	if (s->n >= s->max) {
		s->stats.refused++;
		close(a);
		close(b);
		return -EMFILE;
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		close(a);
		close(b);
		return -ENOMEM;
	}
	p->s = s;
	p->fd[0] = a;
	p->fd[1] = b;
	p->dir[0].bytes = &s->stats.bytes_ab;
	p->dir[1].bytes = &s->stats.bytes_ba;
	if (nab)
		memcpy(p->dir[0].buf, ab, nab);
	if (nba)
		memcpy(p->dir[1].buf, ba, nba);
	p->dir[0].len = nab;
	p->dir[1].len = nba;
	for (int i = 0; i < 2; i++)
		fcntl(p->fd[i], F_SETFL, fcntl(p->fd[i], F_GETFL) | O_NONBLOCK);
	p->next = s->pairs;
	if (s->pairs)
		s->pairs->prev = p;
	s->pairs = p;
	s->n++;
	s->stats.pairs++;
	pair_watch(p);
	return 0;
}

size_t
splicer_pairs(const struct splicer *s)
{
	return s->n;
}

const struct splicer_stats *
splicer_stats(const struct splicer *s)
{
	return &s->stats;
}
