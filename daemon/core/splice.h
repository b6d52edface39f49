/* SPDX-License-Identifier: MIT */
/*
 * Bytes copied both ways between pairs of stream descriptors, on the event loop: a port
 * forward's client and its overlay connection, a purpose's overlay connection and its local
 * target (docs/userspace.md). Each direction has one buffer (SPLICE_BUF): its source is read
 * only while the buffer is empty, so a slow side slows the other down instead of memory
 * growing. EOF from one side, once what it sent is written, shuts the other's writing half
 * (SHUT_WR), so half-closed protocols work; both EOFs, or an error on either side, end the
 * pair and close both descriptors.
 */
#ifndef VERTEX_SPLICE_H
#define VERTEX_SPLICE_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct splicer;

enum {
	SPLICE_BUF = 65536,
	SPLICE_PAIRS_DEFAULT = 256,
};

struct splicer_stats {
	uint64_t pairs, ended, refused, bytes_ab, bytes_ba;
};

/* At most max pairs at once (0: SPLICE_PAIRS_DEFAULT). Borrows loop. 0 or -ENOMEM. */
int splicer_new(struct splicer **out, struct ev_loop *loop, size_t max);
/* Closes every pair. NULL is fine. */
void splicer_free(struct splicer *s);

/*
 * Splices a and b (both taken: made non-blocking, closed when the pair ends or on failure).
 * 0, -EMFILE (max pairs: both closed, counted), -ENOMEM.
 */
int splicer_add(struct splicer *s, int a, int b);
/*
 * The same, with bytes already read that go first: ab (nab bytes) to b, ba (nba bytes) to a,
 * each at most SPLICE_BUF (copied). -EINVAL (both closed) if one is larger.
 */
int splicer_add_with(struct splicer *s, int a, int b, const uint8_t *ab, size_t nab,
		     const uint8_t *ba, size_t nba);

size_t splicer_pairs(const struct splicer *s);
const struct splicer_stats *splicer_stats(const struct splicer *s);

#endif
