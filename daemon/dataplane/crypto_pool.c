// SPDX-License-Identifier: MIT
/*
 * The AEAD on worker threads. See crypto_pool.h.
 *
 * A ring of CRYPTO_POOL_DEPTH batches. The loop alone moves head (the batch it fills) and tail
 * (the oldest not handed back); the workers take queued batches in ring order at next_run. One
 * mutex guards every batch's state, next_run and stop; a batch's jobs belong to whoever holds it
 * in its current state (the loop in FILLING and DONE, one worker in RUNNING), and each change
 * of state under the mutex publishes what the previous holder wrote.
 */
#include "dataplane/crypto_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/ev.h"
#include "core/log.h"
#include "core/pkt.h"
#include "session/session.h"

enum batch_state { BATCH_FREE, BATCH_FILLING, BATCH_QUEUED, BATCH_RUNNING, BATCH_DONE };

enum { CRYPTO_POOL_STACK = 256 * 1024 };

struct crypto_slot {
	enum batch_state state;
	struct crypto_batch b;
};

struct crypto_pool {
	struct ev_loop *loop;
	struct pkt_pool *pkts;
	struct crypto_pool_ops ops;
	void *arg;
	struct ev_io io;
	int efd;
	unsigned nworkers;
	pthread_t workers[CRYPTO_POOL_MAX_WORKERS];
	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* a batch was queued, or stop */
	pthread_cond_t done_cv; /* a batch is done */
	bool stop;
	unsigned head, tail, next_run;
	bool filling; /* slots[head] is FILLING */
	uint64_t next_seq;
	uint64_t counts[CRYPTO_POOL_COUNTERS];
	struct crypto_slot slots[CRYPTO_POOL_DEPTH];
};

static unsigned
crypto_pool_next(unsigned i)
{
	return (i + 1) % CRYPTO_POOL_DEPTH;
}

/* The AEAD of one batch: touches the batch alone. */
static void
crypto_pool_work(struct crypto_batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		struct crypto_job *j = &b->jobs[i];

		j->ok = j->op == CRYPTO_SEAL ? session_seal_finish(j->key, j->counter, j->p)
					     : session_open_decrypt(j->key, j->counter, j->p);
	}
}

/* One batch's AEAD, between the test hooks; on a worker or on the loop. */
static void
crypto_pool_run(struct crypto_pool *cp, struct crypto_batch *b)
{
	if (cp->ops.on_work)
		cp->ops.on_work(cp->arg, b->seq, false);
	crypto_pool_work(b);
	if (cp->ops.on_work)
		cp->ops.on_work(cp->arg, b->seq, true);
}

static void *
crypto_pool_worker(void *arg)
{
	struct crypto_pool *cp = arg;
	const uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&cp->mu);
	for (;;) {
		struct crypto_slot *s;

		while (!cp->stop && cp->slots[cp->next_run].state != BATCH_QUEUED)
			pthread_cond_wait(&cp->work_cv, &cp->mu);
		if (cp->stop)
			break;
		s = &cp->slots[cp->next_run];
		cp->next_run = crypto_pool_next(cp->next_run);
		s->state = BATCH_RUNNING;
		pthread_mutex_unlock(&cp->mu);
		crypto_pool_run(cp, &s->b);
		pthread_mutex_lock(&cp->mu);
		s->state = BATCH_DONE;
		pthread_cond_broadcast(&cp->done_cv);
		pthread_mutex_unlock(&cp->mu);
		/* Cannot fail: the count would have to reach 2^64 - 1 unread. */
		n = write(cp->efd, &one, sizeof(one));
		(void)n;
		pthread_mutex_lock(&cp->mu);
	}
	pthread_mutex_unlock(&cp->mu);
	return NULL;
}

static enum batch_state
crypto_pool_state(struct crypto_pool *cp, const struct crypto_slot *s)
{
	enum batch_state st;

	pthread_mutex_lock(&cp->mu);
	st = s->state;
	pthread_mutex_unlock(&cp->mu);
	return st;
}

static void
crypto_pool_set_state(struct crypto_pool *cp, struct crypto_slot *s, enum batch_state st)
{
	pthread_mutex_lock(&cp->mu);
	s->state = st;
	if (st == BATCH_QUEUED)
		pthread_cond_signal(&cp->work_cv);
	pthread_mutex_unlock(&cp->mu);
}

/* Wipes the keys of a batch and empties it. */
static void
crypto_pool_clear(struct crypto_batch *b)
{
	for (unsigned i = 0; i < b->n; i++)
		crypto_wipe(b->jobs[i].key, sizeof(b->jobs[i].key));
	b->n = 0;
}

void
crypto_pool_poll(struct crypto_pool *cp)
{
	for (;;) {
		struct crypto_slot *s = &cp->slots[cp->tail];

		if (crypto_pool_state(cp, s) != BATCH_DONE)
			return;
		cp->ops.on_done(cp->arg, &s->b);
		crypto_pool_clear(&s->b);
		crypto_pool_set_state(cp, s, BATCH_FREE);
		cp->tail = crypto_pool_next(cp->tail);
	}
}

static void
crypto_pool_on_readable(struct ev_io *io, uint32_t revents)
{
	struct crypto_pool *cp = container_of(io, struct crypto_pool, io);
	uint64_t v;

	(void)revents;
	if (read(cp->efd, &v, sizeof(v)) != sizeof(v) && errno != EAGAIN)
		log_warn("crypto pool: eventfd read");
	crypto_pool_poll(cp);
}

/*
 * Waits until the batch at tail is done, then hands back what is done. While it waits, the
 * loop works on queued batches itself, as a worker would (in ring order, so the order they
 * are handed back in is unchanged): a loop that waits has nothing better to do.
 */
static void
crypto_pool_wait_tail(struct crypto_pool *cp)
{
	struct crypto_slot *s = &cp->slots[cp->tail];

	pthread_mutex_lock(&cp->mu);
	while (s->state != BATCH_DONE) {
		struct crypto_slot *q = &cp->slots[cp->next_run];

		if (q->state != BATCH_QUEUED) {
			pthread_cond_wait(&cp->done_cv, &cp->mu);
			continue;
		}
		cp->next_run = crypto_pool_next(cp->next_run);
		q->state = BATCH_RUNNING;
		cp->counts[CRYPTO_POOL_LOOP_BATCHES]++;
		pthread_mutex_unlock(&cp->mu);
		crypto_pool_run(cp, &q->b);
		pthread_mutex_lock(&cp->mu);
		q->state = BATCH_DONE;
	}
	pthread_mutex_unlock(&cp->mu);
	crypto_pool_poll(cp);
}

struct crypto_job *
crypto_pool_job(struct crypto_pool *cp)
{
	struct crypto_slot *s = &cp->slots[cp->head];

	if (!cp->filling) {
		/* The ring is full: head is the oldest batch (tail), and it must come back first.
		 */
		if (crypto_pool_state(cp, s) != BATCH_FREE)
			crypto_pool_poll(cp);
		if (crypto_pool_state(cp, s) != BATCH_FREE) {
			cp->counts[CRYPTO_POOL_FULL_WAITS]++;
			crypto_pool_wait_tail(cp);
		}
		s->b.n = 0;
		crypto_pool_set_state(cp, s, BATCH_FILLING);
		cp->filling = true;
	}
	return &s->b.jobs[s->b.n];
}

void
crypto_pool_commit(struct crypto_pool *cp)
{
	struct crypto_slot *s = &cp->slots[cp->head];

	s->b.n++;
	cp->counts[CRYPTO_POOL_JOBS]++;
	if (s->b.n == CRYPTO_POOL_BATCH)
		crypto_pool_flush(cp);
}

void
crypto_pool_flush(struct crypto_pool *cp)
{
	struct crypto_slot *s = &cp->slots[cp->head];

	if (!cp->filling)
		return;
	cp->filling = false;
	if (!s->b.n) {
		crypto_pool_set_state(cp, s, BATCH_FREE);
		return;
	}
	s->b.seq = cp->next_seq++;
	cp->counts[CRYPTO_POOL_BATCHES]++;
	/*
	 * A short batch with nothing in flight (a ping, an interactive packet, a keepalive) is
	 * sealed here and now: handing it to a worker would cost two thread wake-ups of latency
	 * and more CPU than its AEAD. With nothing in flight the order is kept.
	 */
	if (s->b.n <= CRYPTO_POOL_INLINE_MAX && cp->tail == cp->head) {
		crypto_pool_run(cp, &s->b);
		cp->counts[CRYPTO_POOL_LOOP_BATCHES]++;
		cp->head = crypto_pool_next(cp->head);
		/* The workers' next batch is the one after this (next_run was this one). */
		pthread_mutex_lock(&cp->mu);
		cp->next_run = cp->head;
		s->state = BATCH_DONE;
		pthread_mutex_unlock(&cp->mu);
		crypto_pool_poll(cp);
		return;
	}
	crypto_pool_set_state(cp, s, BATCH_QUEUED);
	cp->head = crypto_pool_next(cp->head);
}

void
crypto_pool_drain(struct crypto_pool *cp)
{
	crypto_pool_flush(cp);
	while (crypto_pool_state(cp, &cp->slots[cp->tail]) != BATCH_FREE)
		crypto_pool_wait_tail(cp);
}

unsigned
crypto_pool_workers(const struct crypto_pool *cp)
{
	return cp->nworkers;
}

uint64_t
crypto_pool_count(const struct crypto_pool *cp, enum crypto_pool_counter c)
{
	return cp->counts[c];
}

/* Starts the threads with every signal blocked, so signals stay the loop's (signalfd). */
static int
crypto_pool_spawn(struct crypto_pool *cp, unsigned workers)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int err = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CRYPTO_POOL_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (cp->nworkers < workers && !err) {
		err = -pthread_create(&cp->workers[cp->nworkers], &attr, crypto_pool_worker, cp);
		if (!err)
			cp->nworkers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return err;
}

/* Ownership: *out is the caller's (crypto_pool_free); loop and pkts are borrowed. */
int
crypto_pool_new(struct crypto_pool **out, struct ev_loop *loop, struct pkt_pool *pkts,
		unsigned workers, const struct crypto_pool_ops *ops, void *arg)
{
	struct crypto_pool *cp;
	int err;

	if (workers < 1 || workers > CRYPTO_POOL_MAX_WORKERS || !ops->on_done)
		return -EINVAL;
	if (!(cp = calloc(1, sizeof(*cp))))
		return -ENOMEM;
	cp->loop = loop;
	cp->pkts = pkts;
	cp->ops = *ops;
	cp->arg = arg;
	pthread_mutex_init(&cp->mu, NULL);
	pthread_cond_init(&cp->work_cv, NULL);
	pthread_cond_init(&cp->done_cv, NULL);
	cp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cp->efd < 0) {
		err = -errno;
		goto fail;
	}
	if ((err = ev_io_start(loop, &cp->io, cp->efd, EV_READ, crypto_pool_on_readable))) {
		close(cp->efd);
		cp->efd = -1;
		goto fail;
	}
	if ((err = crypto_pool_spawn(cp, workers)))
		goto fail;
	*out = cp;
	return 0;

fail:
	crypto_pool_free(cp);
	return err;
}

void
crypto_pool_free(struct crypto_pool *cp)
{
	if (!cp)
		return;
	pthread_mutex_lock(&cp->mu);
	cp->stop = true;
	pthread_cond_broadcast(&cp->work_cv);
	pthread_mutex_unlock(&cp->mu);
	for (unsigned i = 0; i < cp->nworkers; i++)
		pthread_join(cp->workers[i], NULL);
	for (unsigned i = 0; i < CRYPTO_POOL_DEPTH; i++) {
		struct crypto_batch *b = &cp->slots[i].b;

		if (cp->slots[i].state == BATCH_FREE)
			continue;
		for (unsigned k = 0; k < b->n; k++)
			pkt_put(cp->pkts, b->jobs[k].p);
		crypto_pool_clear(b);
	}
	if (cp->efd >= 0) {
		ev_io_stop(cp->loop, &cp->io);
		close(cp->efd);
	}
	pthread_cond_destroy(&cp->done_cv);
	pthread_cond_destroy(&cp->work_cv);
	pthread_mutex_destroy(&cp->mu);
	free(cp);
}
