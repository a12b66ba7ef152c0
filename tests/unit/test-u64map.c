// SPDX-License-Identifier: MIT
/* The u64 -> u64 hash map (lib/u64map.c): put, get, ref, delete by back-shifting, growth, the limit. */
#include <errno.h>
#include <stdlib.h>

#include "u64map.h"
#include "tap.h"

/* Keys that collide in a small table: multiples of a large power of two. */
#define K(i) ((uint64_t)(i) << 40)

static void test_basic(void)
{
	struct u64map m = { 0 };
	uint64_t v = 1, *p;

	ok(!u64map_get(&m, 5, &v) && v == 1, "empty: nothing found, the value untouched");
	ok(!u64map_del(&m, 5), "empty: delete finds nothing");
	ok(u64map_ref(&m, 5, false) == NULL, "empty: ref without create is NULL");
	is(u64map_put(&m, 5, 50), 0, "put 5");
	ok(u64map_get(&m, 5, &v) && v == 50, "get 5: 50");
	is(u64map_put(&m, 5, 55), 0, "put 5 again");
	ok(u64map_get(&m, 5, &v) && v == 55 && m.len == 1, "the value replaced, one key");
	p = u64map_ref(&m, 0, true);
	ok(p && *p == 0 && m.len == 2, "ref with create: key 0 is a key like any other, value 0");
	*p = 7;
	ok(u64map_get(&m, 0, &v) && v == 7, "a value set through its ref");
	ok(u64map_put(&m, UINT64_MAX, 1) == 0 && u64map_get(&m, UINT64_MAX, &v) && v == 1,
	   "key UINT64_MAX");
	ok(u64map_del(&m, 5) && !u64map_get(&m, 5, &v) && m.len == 2, "delete 5: gone, 2 keys left");
	u64map_free(&m);
	ok(m.len == 0 && !u64map_get(&m, 0, &v), "free: empty, still usable");
	is(u64map_put(&m, 9, 90), 0, "put after free");
	u64map_free(&m);
}

/* Many keys, many collisions, deletions in the middle of probe runs: every other key stays findable. */
static void test_many(void)
{
	struct u64map m = { 0 };
	const unsigned n = 4000;	/* half the keys share one slot (identity hash): long runs */
	unsigned bad = 0;
	uint64_t v;

	for (unsigned i = 0; i < n; i++)
		if (u64map_put(&m, i % 2 ? K(i) : i * 2654435761u, i))
			bad++;
	is(bad, 0, "%u puts", n);
	ok(m.len == n && m.cap >= 2 * n && !(m.cap & (m.cap - 1)),
	   "%u keys, at most half full, cap a power of two (%zu)", n, m.cap);
	for (unsigned i = 0; i < n; i += 3)
		bad += !u64map_del(&m, i % 2 ? K(i) : i * 2654435761u);
	is(bad, 0, "every third key deleted");
	for (unsigned i = 0; i < n; i++) {
		bool found = u64map_get(&m, i % 2 ? K(i) : i * 2654435761u, &v);

		bad += i % 3 ? !found || v != i : found;
	}
	is(bad, 0, "after the deletions (back-shifted runs): the rest found with their values, the deleted not");
	u64map_free(&m);
}

static void test_limit(void)
{
	struct u64map m = { .limit = 3 };
	uint64_t v;

	ok(!u64map_put(&m, 1, 1) && !u64map_put(&m, 2, 2) && !u64map_put(&m, 3, 3), "limit 3: 3 keys");
	is(u64map_put(&m, 4, 4), -ENOSPC, "a fourth: -ENOSPC");
	ok(u64map_ref(&m, 4, true) == NULL, "a fourth by ref: NULL");
	is(u64map_put(&m, 2, 22), 0, "an existing key can still be set");
	ok(u64map_del(&m, 1) && u64map_put(&m, 4, 4) == 0 && u64map_get(&m, 4, &v) && v == 4,
	   "after a delete there is room again");
	u64map_free(&m);
	is(m.limit, 3, "free keeps the limit");
}

int main(void)
{
	test_basic();
	test_many();
	test_limit();
	return tap_done();
}
