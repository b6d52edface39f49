// SPDX-License-Identifier: MIT
/*
 * The packet buffer pool: exhaustion, reuse, headroom push/pull bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/pkt.h"

static void
test_pkt_get_exhausts_and_reuses(void **state)
{
	struct pkt_pool *pool;
	struct pkt *got[8];

	(void)state;
	assert_int_equal(pkt_pool_new(&pool, 8), 0);
	for (int i = 0; i < 8; i++) {
		got[i] = pkt_get(pool);
		assert_non_null(got[i]);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(got[i], got[j]);
	}
	assert_null(pkt_get(pool));
	assert_int_equal(pkt_pool_available(pool), 0);
	pkt_put(pool, got[3]);
	assert_int_equal(pkt_pool_available(pool), 1);
	assert_ptr_equal(pkt_get(pool), got[3]);
	for (int i = 0; i < 8; i++)
		pkt_put(pool, got[i]);
	pkt_put(pool, NULL);
	assert_int_equal(pkt_pool_available(pool), 8);
	pkt_pool_free(pool);
}

static void
test_pkt_get_resets_offsets(void **state)
{
	struct pkt_pool *pool;
	struct pkt *p;

	(void)state;
	assert_int_equal(pkt_pool_new(&pool, 1), 0);
	p = pkt_get(pool);
	p->len = 100;
	assert_non_null(pkt_push(p, 16));
	pkt_put(pool, p);
	p = pkt_get(pool);
	assert_int_equal(p->off, PKT_HEADROOM);
	assert_int_equal(p->len, 0);
	pkt_put(pool, p);
	pkt_pool_free(pool);
}

static void
test_pkt_push_pull_bounds(void **state)
{
	struct pkt_pool *pool;
	struct pkt *p;
	uint8_t *start;

	(void)state;
	assert_int_equal(pkt_pool_new(&pool, 1), 0);
	p = pkt_get(pool);
	memset(pkt_data(p), 0xab, 10);
	p->len = 10;
	start = pkt_push(p, 16);
	assert_ptr_equal(start, p->buf + PKT_HEADROOM - 16);
	assert_int_equal(p->len, 26);
	assert_int_equal(start[16], 0xab);
	assert_null(pkt_push(p, PKT_HEADROOM)); /* only 48 bytes of headroom left */
	assert_int_equal(p->len, 26);
	assert_true(pkt_pull(p, 16));
	assert_int_equal(pkt_data(p)[0], 0xab);
	assert_false(pkt_pull(p, 11));
	assert_true(pkt_pull(p, 10));
	assert_int_equal(p->len, 0);
	assert_int_equal(pkt_tailroom(p), PKT_BUF_SIZE - PKT_HEADROOM - 10);
	pkt_put(pool, p);
	pkt_pool_free(pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkt_get_exhausts_and_reuses),
		cmocka_unit_test(test_pkt_get_resets_offsets),
		cmocka_unit_test(test_pkt_push_pull_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
