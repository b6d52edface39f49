// SPDX-License-Identifier: MIT
/*
 * The SQLite state store and the overlay address pools: indices are stable across reopen, the
 * smallest free index is chosen, the file is 0600, and pool arithmetic round-trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "overlay/pool.h"
#include "store/store.h"

static char dir[] = "/tmp/vertex-test-store-XXXXXX";
static char path[256];

static int
setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/state.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void
test_store_peer_index_stable_across_reopen(void **state)
{
	struct store *st;
	uint32_t a, b, c, again;
	struct stat sb;

	(void)state;
	assert_int_equal(store_open(&st, path), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(store_peer_index(st, "bob@b.example.com", 2, &a), 0);
	assert_int_equal(store_peer_index(st, "carol@c.example.com", 2, &b), 0);
	assert_int_equal(store_peer_index(st, "dave@d.example.com", 2, &c), 0);
	assert_int_equal(a, 2);
	assert_int_equal(b, 3);
	assert_int_equal(c, 4);
	store_close(st);

	assert_int_equal(store_open(&st, path), 0);
	assert_int_equal(store_peer_index(st, "carol@c.example.com", 2, &again), 0);
	assert_int_equal(again, 3);
	assert_int_equal(store_peer_index(st, "bob@b.example.com", 2, &again), 0);
	assert_int_equal(again, 2);
	store_close(st);
}

static void
test_store_meta_roundtrip_and_bounds(void **state)
{
	struct store *st;
	uint8_t v[16] = { 0xfd, 1, 2, 3, 4, 5 }, out[16], small[4];
	size_t n;

	(void)state;
	assert_int_equal(store_open(&st, path), 0);
	assert_int_equal(store_meta_get(st, "missing", out, sizeof(out), &n), -ENOENT);
	assert_int_equal(store_meta_set(st, "pool6", v, sizeof(v)), 0);
	assert_int_equal(store_meta_get(st, "pool6", out, sizeof(out), &n), 0);
	assert_int_equal(n, 16);
	assert_memory_equal(out, v, 16);
	assert_int_equal(store_meta_get(st, "pool6", small, sizeof(small), &n), -EOVERFLOW);
	store_close(st);
}

static void
test_store_open_refuses_unwritable_path(void **state)
{
	struct store *st = NULL;

	(void)state;
	assert_true(store_open(&st, "/nonexistent-dir/x/state.db") < 0);
	assert_null(st);
}

/* Reference: the smallest index >= 2 not in the used set. */
static void
test_store_peer_index_matches_reference(void **state)
{
	char p2[300], name[64];
	struct store *st;
	uint32_t used[300] = { 0 }, idx;

	(void)state;
	snprintf(p2, sizeof(p2), "%s/ref.db", dir);
	assert_int_equal(store_open(&st, p2), 0);
	for (int i = 0; i < 200; i++) {
		uint32_t expect = 2;

		while (expect < 300 && used[expect])
			expect++;
		snprintf(name, sizeof(name), "user%d@example.com", i);
		assert_int_equal(store_peer_index(st, name, 2, &idx), 0);
		assert_int_equal(idx, expect);
		used[idx] = 1;
	}
	store_close(st);
}

static void
test_pool_index_roundtrip(void **state)
{
	struct pool p;
	uint8_t b4[4], b6[16], a4[4], a6[16];

	(void)state;
	inet_pton(AF_INET, "100.64.0.0", b4);
	inet_pton(AF_INET6, "fd00:1:2::", b6);
	assert_int_equal(pool_init(&p, b4, 10, b6, 48), 0);
	assert_int_equal(p.max_index, (1u << 22) - 2);
	for (uint32_t i = 1; i < 100000; i += 997) {
		pool_addr4(&p, i, a4);
		pool_addr6(&p, i, a6);
		assert_int_equal(pool_index4(&p, a4), i);
		assert_int_equal(pool_index6(&p, a6), i);
	}
	pool_addr4(&p, 2, a4);
	assert_int_equal(a4[3], 2);
	assert_int_equal(a4[0], 100);
	/* Outside the pool, the network address and the broadcast address are no index. */
	inet_pton(AF_INET, "100.128.0.1", a4);
	assert_int_equal(pool_index4(&p, a4), 0);
	inet_pton(AF_INET, "100.64.0.0", a4);
	assert_int_equal(pool_index4(&p, a4), 0);
	inet_pton(AF_INET, "100.127.255.255", a4);
	assert_int_equal(pool_index4(&p, a4), 0);
	inet_pton(AF_INET6, "fd00:1:3::2", a6);
	assert_int_equal(pool_index6(&p, a6), 0);
	inet_pton(AF_INET6, "fd00:1:2:0:1::2", a6);
	assert_int_equal(pool_index6(&p, a6), 0);
}

static void
test_pool_init_rejects_bad_prefixes(void **state)
{
	struct pool p;
	uint8_t b4[4] = { 100, 64, 0, 1 }, b6[16] = { 0xfd };

	(void)state;
	assert_int_equal(pool_init(&p, b4, 10, b6, 48), -EINVAL); /* host bits set */
	b4[3] = 0;
	assert_int_equal(pool_init(&p, b4, 31, b6, 48), -EINVAL);
	assert_int_equal(pool_init(&p, b4, 10, b6, 100), -EINVAL);
	b6[15] = 1;
	assert_int_equal(pool_init(&p, b4, 10, b6, 48), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_peer_index_stable_across_reopen),
		cmocka_unit_test(test_store_meta_roundtrip_and_bounds),
		cmocka_unit_test(test_store_open_refuses_unwritable_path),
		cmocka_unit_test(test_store_peer_index_matches_reference),
		cmocka_unit_test(test_pool_index_roundtrip),
		cmocka_unit_test(test_pool_init_rejects_bad_prefixes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
