// SPDX-License-Identifier: MIT
/*
 * The firewall's rule update latency (tests/bench/bench_firewall.sh runs it in a namespace of its
 * own): installs the table on interface IF, adds N peers (one batch each, each approved for two
 * purposes and a port range), then changes every peer once (a revocation: flush and refill of its
 * chain) and removes every peer, timing each batch. Prints one line per phase:
 *
 *   add N total_ms median_us p99_us max_us
 *
 * Usage: nft_bench IF N
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "kernel-iface/nft.h"
#include "policy/policy.h"

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *phase, uint64_t *t, size_t n, uint64_t total)
{
	qsort(t, n, sizeof(*t), cmp_u64);
	printf("%s %zu total_ms %.1f median_us %llu p99_us %llu max_us %llu\n", phase, n,
	       (double)total / 1000.0, (unsigned long long)t[n / 2],
	       (unsigned long long)t[n * 99 / 100], (unsigned long long)t[n - 1]);
}

static void
build(struct policy_peer *pp, const struct purpose *p, uint32_t i, size_t napproved)
{
	static const char *const approved[] = { "web", "ssh" };
	struct policy_config pc = { 0 };
	uint8_t a4[4] = { 100, 64, (uint8_t)(i >> 8), (uint8_t)i };
	uint8_t a6[16] = { 0xfd, 0x12, [14] = (uint8_t)(i >> 8), [15] = (uint8_t)i };
	char id[64], *rule[] = { "allow", id, "tcp/8000-8100" };
	struct policy_peer_facts f = { id, i, a4, a6, false, approved, napproved };
	const char *why;

	snprintf(id, sizeof(id), "user%u@a.example.com", i);
	if (policy_config_parse(&pc, rule, 3, &why) || policy_peer_build(pp, &pc, p, 2, &f))
		exit(1);
}

int
main(int argc, char **argv)
{
	char *ssh[] = { "ssh", "tcp/22" }, *web[] = { "web", "tcp/80" };
	struct purpose p[2];
	struct policy_peer pp;
	const char *why;
	struct nft *n;
	uint64_t *t, t0, start;
	size_t count;

	if (argc != 3 || !(count = strtoul(argv[2], NULL, 10)) || count > 60000) {
		fprintf(stderr, "usage: nft_bench IF N (1..60000)\n");
		return 2;
	}
	log_init("nft_bench");
	if (purpose_parse(&p[0], ssh, 2, &why) || purpose_parse(&p[1], web, 2, &why) ||
	    !(t = calloc(count, sizeof(*t))))
		return 1;
	if (nft_open(&n, argv[1], p, 2)) {
		fprintf(stderr, "nft_bench: cannot install the table\n");
		return 1;
	}
	for (int phase = 0; phase < 3; phase++) {
		start = now_us();
		for (size_t i = 0; i < count; i++) {
			build(&pp, p, (uint32_t)i + 2, phase == 0 ? 2 : 1);
			t0 = now_us();
			if ((phase < 2 ? nft_peer_set(n, &pp) : nft_peer_del(n, &pp)) != 0) {
				fprintf(stderr, "nft_bench: batch %zu of phase %d failed\n", i,
					phase);
				return 1;
			}
			t[i] = now_us() - t0;
		}
		report(phase == 0   ? "add"
		       : phase == 1 ? "update"
				    : "remove",
		       t, count, now_us() - start);
	}
	nft_close(n);
	free(t);
	return 0;
}
