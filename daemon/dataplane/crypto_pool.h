/* SPDX-License-Identifier: MIT */
/*
 * Sealing and opening data frames on worker threads (issue 15, "more than one core"; the
 * choice and its figures are in docs/performance.md, "More than one core").
 *
 * The event loop keeps every piece of state: it picks the keypair, takes the send counter and
 * writes the frame header (session_seal_begin), or checks the replay window (replay_check),
 * then fills a job of the current batch with the buffer, a copy of the key and the counter.
 * A worker only runs the AEAD over a whole batch (session_seal_finish, session_open_decrypt:
 * pure functions of key, counter and buffer) and writes each job's result. Finished batches come
 * back to the loop (an eventfd) strictly in the order they were submitted, whatever order the
 * workers finished them in, so the frames of a peer leave, and are accepted into the replay
 * window (session_open_accept, on the loop), in the order the loop handled them: the outcome is
 * the single-threaded path's, only later.
 *
 * Bounds: CRYPTO_POOL_DEPTH batches of CRYPTO_POOL_BATCH jobs at once. When all are taken, the
 * loop hands back what is finished, and if the oldest batch is still being worked on it waits
 * for it (counted as CRYPTO_POOL_FULL_WAITS), working meanwhile on queued batches itself: a
 * worker is on the oldest already, so the wait is one batch's AEAD at most, and it pushes back
 * into the kernel's queues (TUN, the UDP socket) instead of dropping packets already read.
 *
 * Latency: a batch of at most CRYPTO_POOL_INLINE_MAX jobs submitted while nothing is in flight
 * is worked on by the loop at once and handed back from crypto_pool_flush itself, so a lone
 * packet costs no thread wake-up; anything else goes to the workers.
 *
 * Batch states: FREE -> FILLING (the loop adds jobs) -> QUEUED (submitted: full, or
 * crypto_pool_flush at the end of a loop turn) -> RUNNING (a worker) -> DONE -> handed back to
 * ops->on_done on the loop -> FREE. No timers.
 *
 * Shutdown (crypto_pool_free): the workers finish the batch they are on and stop; nothing more
 * is handed back, and every buffer still in a batch goes back to the packet pool.
 */
#ifndef VERTEX_CRYPTO_POOL_H
#define VERTEX_CRYPTO_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "session/session.h" /* AEAD_KEY_LEN */

struct crypto_pool;
struct ev_loop;
struct pkt;
struct pkt_pool;

enum {
	CRYPTO_POOL_BATCH = 64,
	CRYPTO_POOL_DEPTH = 8,
	CRYPTO_POOL_MAX_WORKERS = 8,
	/* A batch this short, with nothing in flight, is worked on at once on the loop. */
	CRYPTO_POOL_INLINE_MAX = 4,
	/* Buffers a full pool can hold, for sizing the packet pool. */
	CRYPTO_POOL_PKTS = CRYPTO_POOL_BATCH * CRYPTO_POOL_DEPTH,
};

enum crypto_op {
	CRYPTO_SEAL, /* p holds header + plaintext: sealed, tag appended */
	CRYPTO_OPEN, /* p holds a whole frame: tag checked, payload decrypted in place */
};

struct crypto_job {
	struct pkt *p; /* the batch's while it is in the pool */
	uint8_t key[AEAD_KEY_LEN];
	uint64_t counter;
	uint8_t op; /* enum crypto_op */
	bool ok;    /* the result, when the batch is handed back */
	/* The caller's, carried untouched: */
	uint8_t kind;
	uint32_t ref;
	struct sockaddr_storage from;
};

struct crypto_batch {
	uint64_t seq; /* 0, 1, 2, ... in submission order */
	unsigned n;
	struct crypto_job jobs[CRYPTO_POOL_BATCH];
};

struct crypto_pool_ops {
	/*
	 * On the loop, each batch once, in submission order; takes every job's p. Must not add
	 * jobs to the pool (it runs from within crypto_pool_job when the pool is full, and from
	 * crypto_pool_flush and crypto_pool_commit).
	 */
	void (*on_done)(void *arg, struct crypto_batch *b);
	/*
	 * Tests only (may be NULL): before (done false) and after a batch's AEAD, on whichever
	 * thread works on it (a worker, or the loop: see above).
	 */
	void (*on_work)(void *arg, uint64_t seq, bool done);
};

enum crypto_pool_counter {
	CRYPTO_POOL_BATCHES,      /* batches submitted */
	CRYPTO_POOL_JOBS,         /* jobs submitted */
	CRYPTO_POOL_FULL_WAITS,   /* times the loop waited for a worker: every batch in use */
	CRYPTO_POOL_LOOP_BATCHES, /* batches the loop worked on itself (short or waiting) */
	CRYPTO_POOL_COUNTERS,
};

/*
 * Starts workers (1..CRYPTO_POOL_MAX_WORKERS) threads, which take no signals. Borrows loop
 * and pkts (where buffers go back at shutdown); copies ops. *out freed with crypto_pool_free.
 * 0, -EINVAL, -ENOMEM or the thread's or eventfd's -errno.
 */
int crypto_pool_new(struct crypto_pool **out, struct ev_loop *loop, struct pkt_pool *pkts,
		    unsigned workers, const struct crypto_pool_ops *ops, void *arg);
/* Stops and joins the workers; buffers in batches not handed back go to pkts. NULL ignored. */
void crypto_pool_free(struct crypto_pool *cp);

/*
 * The next job to fill (never NULL: may wait, see above); crypto_pool_commit adds it to the
 * batch, which is submitted when full.
 */
struct crypto_job *crypto_pool_job(struct crypto_pool *cp);
void crypto_pool_commit(struct crypto_pool *cp);
/* Submits the batch being filled, if any (the end of a loop turn). */
void crypto_pool_flush(struct crypto_pool *cp);
/* Hands back the finished batches now, in order (the eventfd's watcher does it too). */
void crypto_pool_poll(struct crypto_pool *cp);
/* Waits until every submitted batch is handed back (tests; the loop does not wait). */
void crypto_pool_drain(struct crypto_pool *cp);

unsigned crypto_pool_workers(const struct crypto_pool *cp);
uint64_t crypto_pool_count(const struct crypto_pool *cp, enum crypto_pool_counter c);

#endif
