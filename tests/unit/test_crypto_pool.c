// SPDX-License-Identifier: MIT
/*
 * The AEAD worker pool against the single-threaded path: frames sealed through the pool are
 * byte for byte those session_seal() makes with the same counters, in the order they were
 * given; frames opened through it, with the replay window checked before and moved after on the
 * "loop" (this thread), give exactly session_open()'s verdicts, also when a later batch is
 * finished first (a worker hook holds the first back); a pool freed with work in flight joins
 * its workers and gives every buffer back; bad arguments are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/ev.h"
#include "core/pkt.h"
#include "dataplane/crypto_pool.h"
#include "proto/frame.h"
#include "session/session.h"

enum { POOL_PKTS = 4096, MAX_FRAMES = 3000, OPEN_FRAMES = 1500 };

static struct pkt_pool *pkts;
static struct ev_loop *loop;

/* What the handed-back batches showed, in the order they came. */
struct seen {
	uint64_t next_seq;
	bool out_of_order;
	unsigned n;
	struct keypair *rx;                       /* open tests: the loop's keypair */
	enum session_open_result got[MAX_FRAMES]; /* open tests: verdicts */
	uint8_t frames[MAX_FRAMES][PKT_DATA_MAX]; /* seal tests: the bytes */
	uint16_t lens[MAX_FRAMES];
	/* The hook: batch 0 waits until batch 1 is done (bounded). */
	bool hold_first;
	atomic_bool second_done;
	atomic_bool hold_timed_out;
	atomic_bool hold_for_release; /* batch 0 waits for release instead */
	atomic_bool release;
	unsigned last_ref; /* open tests: refs come back increasing */
};

static struct seen *seen;

static int
setup(void **state)
{
	(void)state;
	seen = calloc(1, sizeof(*seen));
	assert_non_null(seen);
	assert_int_equal(pkt_pool_new(&pkts, POOL_PKTS), 0);
	assert_int_equal(ev_loop_new(&loop), 0);
	srandom(15);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(pkt_pool_available(pkts), POOL_PKTS);
	ev_loop_free(loop);
	pkt_pool_free(pkts);
	free(seen);
	return 0;
}

static void
make_pair(struct keypair *tx, struct keypair *rx, uint8_t salt)
{
	uint8_t exported[SESSION_EXPORT_LEN];

	for (size_t i = 0; i < sizeof(exported); i++)
		exported[i] = (uint8_t)(i * 13 + salt);
	session_keypair_init(tx, exported, true, 0);
	session_keypair_init(rx, exported, false, 0);
	tx->local_index = 0x11111111;
	rx->local_index = 0x22222222;
	tx->remote_index = rx->local_index;
	rx->remote_index = tx->local_index;
}

static struct pkt *
random_packet(void)
{
	struct pkt *p = pkt_get(pkts);
	uint16_t len = (uint16_t)(random() % 1421);

	assert_non_null(p);
	for (uint16_t i = 0; i < len; i++)
		pkt_data(p)[i] = (uint8_t)random();
	p->len = len;
	return p;
}

static void
check_order(struct crypto_batch *b)
{
	if (b->seq != seen->next_seq)
		seen->out_of_order = true;
	seen->next_seq = b->seq + 1;
}

static void
on_sealed(void *arg, struct crypto_batch *b)
{
	(void)arg;
	check_order(b);
	for (unsigned i = 0; i < b->n; i++) {
		struct pkt *p = b->jobs[i].p;

		assert_true(b->jobs[i].ok);
		assert_int_equal(b->jobs[i].ref, seen->n);
		memcpy(seen->frames[seen->n], pkt_data(p), p->len);
		seen->lens[seen->n++] = p->len;
		pkt_put(pkts, p);
	}
}

static void
on_opened(void *arg, struct crypto_batch *b)
{
	(void)arg;
	check_order(b);
	for (unsigned i = 0; i < b->n; i++) {
		struct crypto_job *j = &b->jobs[i];
		enum session_open_result r = SESSION_OPEN_AUTH;

		if (j->ok)
			r = session_open_accept(seen->rx, j->p, j->counter);
		if (seen->n)
			assert_true(j->ref > seen->last_ref);
		seen->last_ref = j->ref;
		seen->got[j->ref] = r;
		seen->n++;
		pkt_put(pkts, j->p);
	}
}

/* Bounded wait, so a broken pool fails the test instead of hanging it. */
static void
on_work_hold_first(void *arg, uint64_t seq, bool done)
{
	struct timespec ts = { 0, 1000000 };

	(void)arg;
	if (seq == 1 && done)
		atomic_store(&seen->second_done, true);
	if (seq != 0 || done || !seen->hold_first)
		return;
	for (int i = 0; i < 5000; i++) {
		if (atomic_load(&seen->hold_for_release) ? atomic_load(&seen->release)
							 : atomic_load(&seen->second_done))
			return;
		nanosleep(&ts, NULL);
	}
	/* No cmocka assertion off the test's thread: the main thread checks. */
	atomic_store(&seen->hold_timed_out, true);
}

static void
test_crypto_pool_seal_matches_inline(void **state)
{
	const struct crypto_pool_ops ops = { .on_done = on_sealed };
	struct keypair inl, pooled, rx;
	struct crypto_pool *cp;
	static uint8_t want[MAX_FRAMES][PKT_DATA_MAX];
	static uint16_t want_len[MAX_FRAMES];
	const unsigned n = 2500; /* more than the pool holds: the loop waits for workers */

	(void)state;
	make_pair(&inl, &rx, 1);
	pooled = inl;
	assert_int_equal(crypto_pool_new(&cp, loop, pkts, 2, &ops, NULL), 0);
	for (unsigned i = 0; i < n; i++) {
		struct pkt *p = random_packet(), *q = pkt_get(pkts);
		struct crypto_job *j;
		uint64_t counter;

		q->len = p->len;
		memcpy(pkt_data(q), pkt_data(p), p->len);
		assert_true(session_seal(&inl, q));
		memcpy(want[i], pkt_data(q), q->len);
		want_len[i] = q->len;
		pkt_put(pkts, q);

		assert_true(session_seal_begin(&pooled, p, &counter));
		j = crypto_pool_job(cp);
		*j = (struct crypto_job){ .p = p, .counter = counter, .op = CRYPTO_SEAL, .ref = i };
		memcpy(j->key, pooled.send_key, AEAD_KEY_LEN);
		crypto_pool_commit(cp);
		if (random() % 50 == 0)
			crypto_pool_flush(cp); /* a loop turn ends: a short batch */
	}
	crypto_pool_drain(cp);
	assert_false(seen->out_of_order);
	assert_int_equal(seen->n, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(seen->lens[i], want_len[i]);
		assert_memory_equal(seen->frames[i], want[i], want_len[i]);
	}
	assert_int_equal(crypto_pool_count(cp, CRYPTO_POOL_JOBS), n);
	assert_true(crypto_pool_count(cp, CRYPTO_POOL_BATCHES) >= n / CRYPTO_POOL_BATCH);
	crypto_pool_free(cp);
}

/*
 * count frames with counters around a window: in order, shuffled, duplicated, too old, and
 * every seventh with a flipped bit. Each frame is a copy for the reference and one for the pool.
 */
struct frame_set {
	struct pkt *ref[MAX_FRAMES], *pooled[MAX_FRAMES];
	uint64_t counter[MAX_FRAMES];
	unsigned n;
};

static void
make_frames(struct frame_set *fs, struct keypair *tx, unsigned n)
{
	struct pkt *sealed[MAX_FRAMES];
	unsigned made = n / 2;

	for (unsigned i = 0; i < made; i++) {
		sealed[i] = random_packet();
		assert_true(session_seal(tx, sealed[i]));
	}
	fs->n = n;
	for (unsigned i = 0; i < n; i++) {
		/* Mostly forward with local shuffles; some repeats; some far back. */
		unsigned k = i < made ? i : (unsigned)random() % made;
		struct frame_hdr h;

		if (i < made && i > 0 && random() % 4 == 0)
			k = i - 1 - (unsigned)random() % (i < 40 ? i : 40);
		fs->ref[i] = pkt_get(pkts);
		fs->pooled[i] = pkt_get(pkts);
		assert_non_null(fs->pooled[i]);
		*fs->ref[i] = *sealed[k];
		if (random() % 7 == 0)
			pkt_data(fs->ref[i])[FRAME_HDR_LEN + (size_t)random() % 8] ^= 0x20;
		*fs->pooled[i] = *fs->ref[i];
		assert_true(frame_hdr_decode(pkt_data(fs->ref[i]), fs->ref[i]->len, &h));
		fs->counter[i] = h.counter;
	}
	for (unsigned i = 0; i < made; i++)
		pkt_put(pkts, sealed[i]);
}

/* What the loop does with workers: check, a job, accept when it comes back (on_opened). */
static void
open_through_pool(struct crypto_pool *cp, struct frame_set *fs, struct keypair *rx)
{
	for (unsigned i = 0; i < fs->n; i++) {
		struct crypto_job *j;

		if (!replay_check(&rx->replay, fs->counter[i])) {
			/* Dropped before the pool, as dataplane_receive does. */
			seen->got[i] = SESSION_OPEN_REPLAY;
			pkt_put(pkts, fs->pooled[i]);
			continue;
		}
		j = crypto_pool_job(cp);
		*j = (struct crypto_job){
			.p = fs->pooled[i], .counter = fs->counter[i], .op = CRYPTO_OPEN, .ref = i
		};
		memcpy(j->key, rx->recv_key, AEAD_KEY_LEN);
		crypto_pool_commit(cp);
		if (random() % 30 == 0)
			crypto_pool_flush(cp);
	}
	crypto_pool_drain(cp);
}

static void
run_open(unsigned workers, bool hold_first)
{
	const struct crypto_pool_ops ops = { .on_done = on_opened, .on_work = on_work_hold_first };
	static struct frame_set fs;
	struct keypair tx, rx_ref, rx;
	struct crypto_pool *cp;
	unsigned accepted = 0;

	make_pair(&tx, &rx, 2);
	rx_ref = rx;
	seen->rx = &rx;
	seen->hold_first = hold_first;
	make_frames(&fs, &tx, OPEN_FRAMES);
	assert_int_equal(crypto_pool_new(&cp, loop, pkts, workers, &ops, NULL), 0);
	open_through_pool(cp, &fs, &rx);
	assert_false(seen->out_of_order);
	assert_false(atomic_load(&seen->hold_timed_out));
	for (unsigned i = 0; i < fs.n; i++) {
		enum session_open_result want = session_open(&rx_ref, fs.ref[i], fs.counter[i]);

		/*
		 * Accepted exactly when the single-threaded path accepts. The reason for a drop
		 * may differ: a forged copy of a frame still in flight fails its tag (AUTH) here,
		 * where inline its counter is already taken (REPLAY).
		 */
		assert_int_equal(seen->got[i] == SESSION_OPEN_OK, want == SESSION_OPEN_OK);
		if (want == SESSION_OPEN_OK || seen->got[i] == SESSION_OPEN_OK)
			assert_int_equal(seen->got[i], want);
		accepted += want == SESSION_OPEN_OK;
		pkt_put(pkts, fs.ref[i]);
	}
	/* Both windows ended alike, and the mix exercised every verdict. */
	assert_memory_equal(&rx.replay, &rx_ref.replay, sizeof(rx.replay));
	assert_true(accepted > 0 && accepted < fs.n);
	if (hold_first)
		assert_true(atomic_load(&seen->second_done));
	crypto_pool_free(cp);
}

static void
test_crypto_pool_open_matches_inline(void **state)
{
	(void)state;
	run_open(1, false);
}

static void
test_crypto_pool_open_out_of_order_completion(void **state)
{
	(void)state;
	run_open(2, true);
}

static void
test_crypto_pool_seal_out_of_order_completion(void **state)
{
	const struct crypto_pool_ops ops = { .on_done = on_sealed, .on_work = on_work_hold_first };
	struct keypair tx, rx;
	struct crypto_pool *cp;

	(void)state;
	make_pair(&tx, &rx, 3);
	seen->hold_first = true;
	atomic_store(&seen->hold_for_release, true);
	assert_int_equal(crypto_pool_new(&cp, loop, pkts, 2, &ops, NULL), 0);
	for (unsigned i = 0; i < 3 * CRYPTO_POOL_BATCH; i++) {
		struct pkt *p = random_packet();
		struct crypto_job *j = crypto_pool_job(cp);
		uint64_t counter;

		assert_true(session_seal_begin(&tx, p, &counter));
		*j = (struct crypto_job){ .p = p, .counter = counter, .op = CRYPTO_SEAL, .ref = i };
		memcpy(j->key, tx.send_key, AEAD_KEY_LEN);
		crypto_pool_commit(cp);
	}
	crypto_pool_flush(cp);
	/* Batch 1 is done, batch 0 held: nothing may come back yet. */
	for (int i = 0; i < 500 && !atomic_load(&seen->second_done); i++)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	assert_true(atomic_load(&seen->second_done));
	crypto_pool_poll(cp);
	assert_int_equal(seen->n, 0);
	atomic_store(&seen->release, true);
	crypto_pool_drain(cp);
	assert_false(atomic_load(&seen->hold_timed_out));
	assert_false(seen->out_of_order);
	assert_int_equal(seen->n, 3 * CRYPTO_POOL_BATCH);
	/* Each frame opens at the receiver, in order, with its counter. */
	for (unsigned i = 0; i < seen->n; i++) {
		struct pkt *p = pkt_get(pkts);
		struct frame_hdr h;

		memcpy(pkt_data(p), seen->frames[i], seen->lens[i]);
		p->len = seen->lens[i];
		assert_true(frame_hdr_decode(pkt_data(p), p->len, &h));
		assert_int_equal(h.counter, i);
		assert_int_equal(session_open(&rx, p, h.counter), SESSION_OPEN_OK);
		pkt_put(pkts, p);
	}
	crypto_pool_free(cp);
}

/* seal_some N: N jobs of fresh frames into the pool, committed (no flush). */
static void
seal_some(struct crypto_pool *cp, struct keypair *tx, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct pkt *p = random_packet();
		struct crypto_job *j = crypto_pool_job(cp);
		uint64_t counter;

		assert_true(session_seal_begin(tx, p, &counter));
		*j = (struct crypto_job){
			.p = p, .counter = counter, .op = CRYPTO_SEAL, .ref = (uint32_t)counter
		};
		memcpy(j->key, tx->send_key, AEAD_KEY_LEN);
		crypto_pool_commit(cp);
	}
}

/* A full batch goes to a worker and comes back through the loop's eventfd. */
static void
test_crypto_pool_hands_back_on_the_loop(void **state)
{
	const struct crypto_pool_ops ops = { .on_done = on_sealed };
	struct keypair tx, rx;
	struct crypto_pool *cp;

	(void)state;
	make_pair(&tx, &rx, 4);
	assert_int_equal(crypto_pool_new(&cp, loop, pkts, 1, &ops, NULL), 0);
	seal_some(cp, &tx, CRYPTO_POOL_BATCH);
	assert_int_equal(seen->n, 0); /* only the loop hands back */
	for (int i = 0; i < 50 && seen->n == 0; i++)
		assert_true(ev_run_once(loop, 100) >= 0);
	assert_int_equal(seen->n, CRYPTO_POOL_BATCH);
	assert_int_equal(crypto_pool_count(cp, CRYPTO_POOL_LOOP_BATCHES), 0);
	crypto_pool_free(cp);
}

/*
 * A short batch with nothing in flight is sealed by the loop at the flush, at once; with a
 * batch in flight it waits its turn behind it; and the workers go on after either.
 */
static void
test_crypto_pool_short_batch_inline_when_idle(void **state)
{
	const struct crypto_pool_ops ops = { .on_done = on_sealed };
	struct keypair tx, rx;
	struct crypto_pool *cp;

	(void)state;
	make_pair(&tx, &rx, 6);
	assert_int_equal(crypto_pool_new(&cp, loop, pkts, 1, &ops, NULL), 0);
	seal_some(cp, &tx, CRYPTO_POOL_INLINE_MAX);
	assert_int_equal(seen->n, 0);
	crypto_pool_flush(cp);
	assert_int_equal(seen->n, CRYPTO_POOL_INLINE_MAX);
	assert_int_equal(crypto_pool_count(cp, CRYPTO_POOL_LOOP_BATCHES), 1);

	/* A full batch for the worker, then a short one behind it: in order. */
	seal_some(cp, &tx, CRYPTO_POOL_BATCH);
	seal_some(cp, &tx, 1);
	crypto_pool_flush(cp);
	crypto_pool_drain(cp);
	assert_false(seen->out_of_order);
	assert_int_equal(seen->n, CRYPTO_POOL_INLINE_MAX + CRYPTO_POOL_BATCH + 1);
	/* And one more full batch: the worker still finds it. */
	seal_some(cp, &tx, CRYPTO_POOL_BATCH);
	for (int i = 0; i < 50 && seen->n < 2 * CRYPTO_POOL_BATCH + CRYPTO_POOL_INLINE_MAX + 1; i++)
		assert_true(ev_run_once(loop, 100) >= 0);
	assert_int_equal(seen->n, 2 * CRYPTO_POOL_BATCH + CRYPTO_POOL_INLINE_MAX + 1);
	crypto_pool_free(cp);
}

static void
on_never(void *arg, struct crypto_batch *b)
{
	(void)arg;
	(void)b;
	fail_msg("a batch was handed back after the pool was freed");
}

static void
test_crypto_pool_free_with_work_in_flight(void **state)
{
	const struct crypto_pool_ops ops = { .on_done = on_never };
	struct keypair tx, rx;

	(void)state;
	make_pair(&tx, &rx, 5);
	for (unsigned workers = 1; workers <= 3; workers++) {
		struct crypto_pool *cp;

		assert_int_equal(crypto_pool_new(&cp, loop, pkts, workers, &ops, NULL), 0);
		/* All but one batch submitted, one filling: queued, running, done at the free. */
		for (unsigned i = 0; i < (CRYPTO_POOL_DEPTH - 1) * CRYPTO_POOL_BATCH + 5; i++) {
			struct pkt *p = random_packet();
			struct crypto_job *j = crypto_pool_job(cp);
			uint64_t counter;

			assert_true(session_seal_begin(&tx, p, &counter));
			*j = (struct crypto_job){ .p = p, .counter = counter, .op = CRYPTO_SEAL };
			memcpy(j->key, tx.send_key, AEAD_KEY_LEN);
			crypto_pool_commit(cp);
		}
		crypto_pool_free(cp);
		assert_int_equal(pkt_pool_available(pkts), POOL_PKTS);
	}
}

static void
test_crypto_pool_new_bad_args(void **state)
{
	const struct crypto_pool_ops ops = { .on_done = on_never }, none = { 0 };
	struct crypto_pool *cp = NULL;

	(void)state;
	assert_int_equal(crypto_pool_new(&cp, loop, pkts, 0, &ops, NULL), -EINVAL);
	assert_int_equal(crypto_pool_new(&cp, loop, pkts, CRYPTO_POOL_MAX_WORKERS + 1, &ops, NULL),
			 -EINVAL);
	assert_int_equal(crypto_pool_new(&cp, loop, pkts, 1, &none, NULL), -EINVAL);
	assert_null(cp);
	crypto_pool_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crypto_pool_seal_matches_inline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_crypto_pool_open_matches_inline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_crypto_pool_open_out_of_order_completion,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_crypto_pool_seal_out_of_order_completion,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_crypto_pool_hands_back_on_the_loop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_crypto_pool_short_batch_inline_when_idle,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_crypto_pool_free_with_work_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_crypto_pool_new_bad_args, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
