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

/* The inverse of x -> x * c mod 2^64 for odd c (Newton's iteration). */
static uint64_t mul_inverse(uint64_t c)
{
	uint64_t x = c;

	for (int i = 0; i < 5; i++)
		x *= 2 - c * x;
	return x;
}

/* The key an unkeyed mixer (one or two rounds of murmur3's finaliser) maps to h. */
static uint64_t unmix(uint64_t h, bool two_rounds)
{
	h ^= h >> 33;
	if (two_rounds) {
		h *= mul_inverse(0xc4ceb9fe1a85ec53ull);
		h ^= h >> 33;
	}
	h *= mul_inverse(0xff51afd7ed558ccdull);
	h ^= h >> 33;
	return h;
}

/* The longest run of occupied slots: what a lookup may have to probe. */
static size_t longest_run(const struct u64map *m)
{
	size_t best = 0, run = 0;

	for (size_t i = 0; i < 2 * m->cap; i++) {
		run = m->s[i & (m->cap - 1)].used ? run + 1 : 0;
		best = run > best ? run : best;
	}
	return best;
}

/*
 * Keys crafted against an unkeyed hash, all with home slot 0 in any
 * table: with the mixer as it was (one round, no secret) or as it is
 * without its secret they would make one probe run of every key, and
 * each lookup linear (issue M3's quadratic replay, from a crafted
 * capture).  With the secret they spread as any keys do.
 */
static void test_crafted(void)
{
	const unsigned n = 4096;

	for (int two = 0; two <= 1; two++) {
		struct u64map m = { 0 };
		unsigned bad = 0;
		uint64_t v;

		ok(unmix(0, two) == 0 && unmix(1ull << 32, two) != 1ull << 32, "the crafting inverts the mixer");
		for (unsigned i = 0; i < n; i++)
			bad += u64map_put(&m, unmix((uint64_t)(i + 1) << 32, two), i) != 0;
		for (unsigned i = 0; i < n; i++)
			bad += !u64map_get(&m, unmix((uint64_t)(i + 1) << 32, two), &v) || v != i;
		is(bad, 0, "%u crafted keys (%s mixer): put and found", n, two ? "two-round" : "one-round");
		size_t run = longest_run(&m);
		ok(run < 128, "crafted keys (%s mixer) spread: longest probe run %zu of %u keys in %zu slots",
		   two ? "two-round" : "one-round", run, n, m.cap);
		u64map_free(&m);
	}
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
	test_crafted();
	test_limit();
	return tap_done();
}
