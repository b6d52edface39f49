// SPDX-License-Identifier: MIT
/*
 * aead_bench: the AEAD's own ceiling on this CPU, for tests/bench/bench_dataplane.sh. It seals
 * frames of one size (default 1420 bytes, the overlay MTU) in place in a loop for about a
 * second, on one core, with the data plane's AEAD (daemon/crypto/aead.h), then opens them
 * again for as long, and prints the rates in Gbit/s of plaintext and the cipher:
 *
 *   aead_bench [FRAME_BYTES [CIPHER]]   ->   "seal 12.34 open 12.56 aes-256-gcm"
 *
 * CIPHER is chacha20-poly1305 or aes-256-gcm; by default the one two agents on this CPU use
 * (AES-256-GCM where the CPU has it, session/session.h).
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
rate(enum aead_cipher c, uint8_t *buf, size_t len, bool open)
{
	static const uint8_t key[AEAD_KEY_LEN] = { 1, 2, 3 };
	uint8_t aad[16] = { 0 };
	double t0 = now_s(), t;
	uint64_t n = 0;

	do {
		for (int i = 0; i < BATCH; i++, n++) {
			bool ok =
			    open ? aead_open(c, key, 7, aad, sizeof(aad), buf, len + AEAD_TAG_LEN)
				 : aead_seal(c, key, 7, aad, sizeof(aad), buf, len);

			if (!ok) {
				fprintf(stderr, "aead_bench: %s failed\n", open ? "open" : "seal");
				exit(1);
			}
			/* Opening decrypts in place: seal again so the next open has a frame. */
			if (open)
				aead_seal(c, key, 7, aad, sizeof(aad), buf, len);
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
	enum aead_cipher c = aead_aes256gcm_available() ? AEAD_AES256_GCM : AEAD_CHACHA20_POLY1305;
	double seal;

	if (argc > 2 && !strcmp(argv[2], aead_cipher_name(AEAD_CHACHA20_POLY1305)))
		c = AEAD_CHACHA20_POLY1305;
	else if (argc > 2 && !strcmp(argv[2], aead_cipher_name(AEAD_AES256_GCM)))
		c = AEAD_AES256_GCM;
	else if (argc > 2)
		len = 0;
	if (len <= 0 || len > MAX_FRAME || argc > 3) {
		fprintf(stderr,
			"usage: aead_bench [FRAME_BYTES (1..%d) [chacha20-poly1305|aes-256-gcm]]\n",
			MAX_FRAME);
		return 1;
	}
	memset(buf, 0xab, sizeof(buf));
	seal = rate(c, buf, (size_t)len, false);
	/* Each open is timed with the seal that makes its frame; take the seal's share out. */
	printf("seal %.2f open %.2f %s\n", seal,
	       1 / (1 / rate(c, buf, (size_t)len, true) - 1 / seal), aead_cipher_name(c));
	return 0;
}
