// SPDX-License-Identifier: MIT
/*
 * aead_bench: the AEAD's own ceiling on this CPU, for tests/bench/bench_dataplane.sh. It seals
 * frames of one size (default 1420 bytes, the overlay MTU) in place in a loop for about a
 * second, on one core, with the data plane's AEAD (daemon/crypto/aead.h), then opens them
 * again for as long, and prints the rates in Gbit/s of plaintext:
 *
 *   aead_bench [FRAME_BYTES]   ->   "seal 12.34 open 12.56"
 *
 * A tunnel that seals on one side and opens on the other cannot move one stream faster than
 * the slower of the two (each side has its own core at best; on a shared machine less).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/aead.h"

enum { BATCH = 256, MAX_FRAME = 9000 };

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Gbit/s of plaintext over about a second of sealing (open false) or opening. */
static double
rate(uint8_t *buf, size_t len, bool open)
{
	static const uint8_t key[AEAD_KEY_LEN] = { 1, 2, 3 };
	uint8_t aad[16] = { 0 };
	double t0 = now_s(), t;
	uint64_t n = 0;

	do {
		for (int i = 0; i < BATCH; i++, n++) {
			bool ok = open
				      ? aead_open(key, 7, aad, sizeof(aad), buf, len + AEAD_TAG_LEN)
				      : aead_seal(key, 7, aad, sizeof(aad), buf, len);

			if (!ok) {
				fprintf(stderr, "aead_bench: %s failed\n", open ? "open" : "seal");
				exit(1);
			}
			/* Opening decrypts in place: seal again so the next open has a frame. */
			if (open)
				aead_seal(key, 7, aad, sizeof(aad), buf, len);
		}
		t = now_s() - t0;
	} while (t < 1.0);
	return (double)n * (double)len * 8 / t / 1e9;
}

int
main(int argc, char **argv)
{
	static uint8_t buf[MAX_FRAME + AEAD_TAG_LEN];
	long len = argc > 1 ? strtol(argv[1], NULL, 10) : 1420;
	double seal;

	if (len <= 0 || len > MAX_FRAME) {
		fprintf(stderr, "usage: aead_bench [FRAME_BYTES (1..%d)]\n", MAX_FRAME);
		return 1;
	}
	memset(buf, 0xab, sizeof(buf));
	seal = rate(buf, (size_t)len, false);
	/* Each open is timed with the seal that makes its frame; take the seal's share out. */
	printf("seal %.2f open %.2f\n", seal, 1 / (1 / rate(buf, (size_t)len, true) - 1 / seal));
	return 0;
}
