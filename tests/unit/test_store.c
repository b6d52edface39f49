// SPDX-License-Identifier: MIT
/*
 * The SQLite state store and the overlay address pools: indices are stable across reopen, the
 * smallest free index is chosen, the file is 0600, pins are stored, replaced, listed and deleted
 * and survive reopen, and pool arithmetic round-trips.
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
#include "trust/pins.h"

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

static struct pin
make_pin(const char *domain, uint8_t fill, int64_t when, const char *how)
{
	struct pin p;

	memset(&p, 0, sizeof(p));
	snprintf(p.domain, sizeof(p.domain), "%s", domain);
	memset(p.fpr, fill, sizeof(p.fpr));
	p.fpr[31] = (uint8_t)~fill;
	p.first_seen = when;
	snprintf(p.how, sizeof(p.how), "%s", how);
	return p;
}

static void
assert_pin_equal(const struct pin *a, const struct pin *b)
{
	assert_string_equal(a->domain, b->domain);
	assert_memory_equal(a->fpr, b->fpr, PIN_FPR_LEN);
	assert_int_equal(a->first_seen, b->first_seen);
	assert_string_equal(a->how, b->how);
}

static void
test_store_pin_put_get_persists_across_reopen(void **state)
{
	char p2[300];
	struct store *st;
	struct pin a =
	    make_pin("a.example.com", 0x11, 1700000000, "first use; agreed: c.example.com");
	struct pin b = make_pin("b.example.com", 0x22, 1700000100, "configured");
	struct pin out;

	(void)state;
	snprintf(p2, sizeof(p2), "%s/pins.db", dir);
	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_pin_get(st, "a.example.com", &out), -ENOENT);
	assert_int_equal(store_pin_put(st, &a), 0);
	assert_int_equal(store_pin_put(st, &b), 0);
	assert_int_equal(store_pin_get(st, "a.example.com", &out), 0);
	assert_pin_equal(&out, &a);
	store_close(st);

	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_pin_get(st, "a.example.com", &out), 0);
	assert_pin_equal(&out, &a);
	assert_int_equal(store_pin_get(st, "b.example.com", &out), 0);
	assert_pin_equal(&out, &b);
	assert_int_equal(store_pin_get(st, "c.example.com", &out), -ENOENT);
	store_close(st);
}

static void
test_store_pin_put_replaces(void **state)
{
	char p2[300];
	struct store *st;
	struct pin a = make_pin("a.example.com", 0x11, 1700000000, "first use; no notary asked");
	struct pin again = make_pin("a.example.com", 0x33, 1800000000, "re-pinned by user");
	struct pin out;

	(void)state;
	snprintf(p2, sizeof(p2), "%s/pins-replace.db", dir);
	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_pin_put(st, &a), 0);
	assert_int_equal(store_pin_put(st, &again), 0);
	store_close(st);
	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_pin_get(st, "a.example.com", &out), 0);
	assert_pin_equal(&out, &again);
	store_close(st);
}

static void
test_store_pin_delete_and_missing(void **state)
{
	char p2[300];
	struct store *st;
	struct pin a = make_pin("a.example.com", 0x11, 1, "configured");
	struct pin out;

	(void)state;
	snprintf(p2, sizeof(p2), "%s/pins-delete.db", dir);
	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_pin_delete(st, "a.example.com"), -ENOENT);
	assert_int_equal(store_pin_put(st, &a), 0);
	assert_int_equal(store_pin_delete(st, "a.example.com"), 0);
	assert_int_equal(store_pin_get(st, "a.example.com", &out), -ENOENT);
	assert_int_equal(store_pin_delete(st, "a.example.com"), -ENOENT);
	assert_int_equal(store_pin_put(st, &a), 0);
	store_close(st);
	/* A delete is as durable as a put. */
	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_pin_delete(st, "a.example.com"), 0);
	store_close(st);
	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_pin_get(st, "a.example.com", &out), -ENOENT);
	store_close(st);
}

struct pin_list {
	struct pin seen[8];
	int n, stop_after;
};

static int
collect_pin(const struct pin *p, void *arg)
{
	struct pin_list *l = arg;

	l->seen[l->n++] = *p;
	return l->n == l->stop_after ? 42 : 0;
}

static void
test_store_pin_each_in_order_and_stops(void **state)
{
	static const char *domains[] = { "d.example.com", "a.example.com", "c.example.com",
					 "b.example.com" };
	char p2[300];
	struct store *st;
	struct pin_list l = { .n = 0 };

	(void)state;
	snprintf(p2, sizeof(p2), "%s/pins-each.db", dir);
	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_pin_each(st, collect_pin, &l), 0);
	assert_int_equal(l.n, 0);
	for (int i = 0; i < 4; i++) {
		struct pin p = make_pin(domains[i], (uint8_t)i, i, "configured");

		assert_int_equal(store_pin_put(st, &p), 0);
	}
	assert_int_equal(store_pin_each(st, collect_pin, &l), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.seen[0].domain, "a.example.com");
	assert_string_equal(l.seen[3].domain, "d.example.com");
	assert_int_equal(l.seen[0].fpr[0], 1);
	assert_int_equal(l.seen[0].first_seen, 1);
	l = (struct pin_list){ .stop_after = 2 };
	assert_int_equal(store_pin_each(st, collect_pin, &l), 42);
	assert_int_equal(l.n, 2);
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

static int
approval_collect(const struct store_approval *a, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "%s/%s/%d ", a->peer, a->purpose, a->dir);
	return 0;
}

/* Approvals: replaced by key, survive a reopen, deleted per purpose or all, both ways. */
static void
test_store_approvals(void **state)
{
	struct store *st;
	struct store_approval a = { .peer = "bob@b.example.com",
				    .purpose = "ssh",
				    .dir = 2,
				    .proto = 6,
				    .port = 22,
				    .created = 1700000000 },
			      got;
	char p2[300], list[512] = "";
	int n = -1;

	(void)state;
	snprintf(p2, sizeof(p2), "%s/approvals.db", dir);
	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_approval_put(st, &a), 0);
	a.port = 2222; /* the same key: replaced */
	assert_int_equal(store_approval_put(st, &a), 0);
	a.dir = 1;
	a.fpr[0] = 0xee;
	assert_int_equal(store_approval_put(st, &a), 0);
	strcpy(a.purpose, "web");
	assert_int_equal(store_approval_put(st, &a), 0);
	strcpy(a.peer, "alice@a.example.com");
	assert_int_equal(store_approval_put(st, &a), 0);
	store_close(st);

	assert_int_equal(store_open(&st, p2), 0);
	assert_int_equal(store_approval_get(st, "bob@b.example.com", "ssh", 2, &got), 0);
	assert_int_equal(got.port, 2222);
	assert_int_equal(got.proto, 6);
	assert_int_equal(got.created, 1700000000);
	assert_int_equal(store_approval_get(st, "bob@b.example.com", "ssh", 1, &got), 0);
	assert_int_equal(got.fpr[0], 0xee);
	assert_int_equal(store_approval_get(st, "bob@b.example.com", "ftp", 1, NULL), -ENOENT);
	assert_int_equal(store_approval_count(st, NULL, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(store_approval_each(st, NULL, approval_collect, list), 0);
	assert_string_equal(list, "alice@a.example.com/web/1 bob@b.example.com/ssh/1 "
				  "bob@b.example.com/ssh/2 bob@b.example.com/web/1 ");
	assert_int_equal(store_approval_delete(st, "bob@b.example.com", "ssh", &n), 0);
	assert_int_equal(n, 2); /* both directions */
	assert_int_equal(store_approval_count(st, "bob@b.example.com", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_approval_delete(st, "bob@b.example.com", NULL, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_approval_delete(st, "bob@b.example.com", NULL, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_approval_count(st, NULL, &n), 0);
	assert_int_equal(n, 1);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_peer_index_stable_across_reopen),
		cmocka_unit_test(test_store_meta_roundtrip_and_bounds),
		cmocka_unit_test(test_store_open_refuses_unwritable_path),
		cmocka_unit_test(test_store_peer_index_matches_reference),
		cmocka_unit_test(test_store_pin_put_get_persists_across_reopen),
		cmocka_unit_test(test_store_pin_put_replaces),
		cmocka_unit_test(test_store_pin_delete_and_missing),
		cmocka_unit_test(test_store_pin_each_in_order_and_stops),
		cmocka_unit_test(test_store_approvals),
		cmocka_unit_test(test_pool_index_roundtrip),
		cmocka_unit_test(test_pool_init_rejects_bad_prefixes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
