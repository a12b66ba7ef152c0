// SPDX-License-Identifier: MIT
/* Histogram percentiles against exact ones computed by sorting. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iopf.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(void)	/* (0, 1] */
{
	return ((rng() >> 11) + 1) * 0x1p-53;
}

static double rng_normal(void)
{
	return sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());
}

static uint64_t clamp_d(double x)
{
	if (x < 0)
		return 0;
	if (x >= 0x1p64)
		return UINT64_MAX;
	return (uint64_t)x;
}

enum dist { UNIFORM, EXPONENTIAL, LOGNORMAL, BIMODAL, CONSTANT, ALLBITS, NDIST };
static const char *const dist_name[NDIST] = {
	"uniform 0..2s", "exponential mean 50us", "lognormal median 20us",
	"bimodal 2us/300ms", "constant", "all magnitudes to 2^64",
};

static uint64_t draw(enum dist d)
{
	switch (d) {
	case UNIFORM:
		return rng() % 2000000001ull;
	case EXPONENTIAL:
		return clamp_d(-log(rng_unit()) * 50000);
	case LOGNORMAL:
		return clamp_d(20000 * exp(2.5 * rng_normal()));
	case BIMODAL:
		if (rng() % 10 < 7)
			return clamp_d(2000 + 300 * rng_normal());
		return clamp_d(3e8 + 2e7 * rng_normal());
	case CONSTANT:
		return 12345;
	default:
		return rng() >> (rng() % 64);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double rel_err(uint64_t got, uint64_t exact)
{
	double d = fabs((double)got - (double)exact);

	if (!exact)
		return got ? INFINITY : 0;
	return d / (double)exact;
}

/* Exact nearest rank of k/10000 among n sorted values. */
static uint64_t exact_q(const uint64_t *v, size_t n, unsigned int k)
{
	uint64_t rank = ((uint64_t)k * n + 9999) / 10000;

	return v[(rank ? rank : 1) - 1];
}

static double worst;

/* The exact mean where the compiler has 128-bit integers. */
#ifdef __SIZEOF_INT128__
typedef unsigned __int128 sum_t;
static int mean_matches(uint64_t mean, sum_t sum, size_t n)
{
	return mean == (uint64_t)((sum + n / 2) / n);
}
#else
typedef long double sum_t;
static int mean_matches(uint64_t mean, sum_t sum, size_t n)
{
	return fabsl((long double)mean - sum / n) <= 1e-15L * (sum / n) + 1;
}
#endif

static void check_dist(enum dist d, size_t n)
{
	static const unsigned int qs[] = { 1, 100, 1000, 2500, 5000, 7500, 9000, 9900, 9990, 9999 };
	uint64_t *v = malloc(n * sizeof(*v));
	struct iopf_hist *h;
	double e, maxe = 0;
	sum_t sum = 0;
	size_t i;

	iopf_hist_new(&h);
	for (i = 0; i < n; i++) {
		v[i] = draw(d);
		sum += v[i];
		iopf_hist_add(h, v[i]);
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	is(iopf_hist_count(h), n, "%s: count", dist_name[d]);
	is(iopf_hist_min(h), v[0], "%s: min exact", dist_name[d]);
	ok(iopf_hist_max(h) == v[n - 1], "%s: max exact", dist_name[d]);
	ok(mean_matches(iopf_hist_mean(h), sum, n), "%s: mean exact", dist_name[d]);
	for (i = 0; i < ARRAY_SIZE(qs); i++) {
		e = rel_err(iopf_hist_quantile(h, qs[i] / 10000.0), exact_q(v, n, qs[i]));
		if (!ok(e <= 0.01, "%s: p%g within 1%% (%.5f%%)", dist_name[d], qs[i] / 100.0, e * 100))
			printf("#   got %llu exact %llu\n",
			       (unsigned long long)iopf_hist_quantile(h, qs[i] / 10000.0),
			       (unsigned long long)exact_q(v, n, qs[i]));
		maxe = e > maxe ? e : maxe;
	}
	ok(iopf_hist_quantile(h, 0) == v[0] && iopf_hist_quantile(h, 1) == v[n - 1],
	   "%s: q 0 and 1 are min and max", dist_name[d]);
	printf("# %s, %zu values: max relative error %.4f%%\n", dist_name[d], n, maxe * 100);
	worst = maxe > worst ? maxe : worst;
	iopf_hist_free(h);
	free(v);
}

/* Every q from 0.001 to 0.999 on one data set. */
static void check_sweep(void)
{
	size_t n = 200000, i;
	uint64_t *v = malloc(n * sizeof(*v));
	struct iopf_hist *h;
	double e, maxe = 0;
	unsigned int k, bad = 0;

	iopf_hist_new(&h);
	for (i = 0; i < n; i++) {
		v[i] = draw(LOGNORMAL);
		iopf_hist_add(h, v[i]);
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	for (k = 10; k < 10000; k += 10) {
		e = rel_err(iopf_hist_quantile(h, k / 10000.0), exact_q(v, n, k));
		bad += e > 0.01;
		maxe = e > maxe ? e : maxe;
	}
	is(bad, 0, "sweep of 999 quantiles: none off by more than 1%% (max %.4f%%)", maxe * 100);
	worst = maxe > worst ? maxe : worst;
	iopf_hist_free(h);
	free(v);
}

static void check_small(void)
{
	struct iopf_hist *h;
	uint64_t v;

	iopf_hist_new(&h);
	ok(!iopf_hist_count(h) && !iopf_hist_min(h) && !iopf_hist_max(h) && !iopf_hist_mean(h),
	   "empty: count, min, max, mean 0");
	ok(!iopf_hist_quantile(h, 0.5) && !iopf_hist_quantile(h, 0.99), "empty: quantiles 0");
	iopf_hist_add(h, 987654321);
	ok(iopf_hist_quantile(h, 0.5) == 987654321 && iopf_hist_quantile(h, 0.999) == 987654321 &&
	   iopf_hist_min(h) == 987654321 && iopf_hist_mean(h) == 987654321,
	   "single value: every statistic is that value");
	iopf_hist_reset(h);
	for (v = 1; v <= 100; v++)
		iopf_hist_add(h, v);
	is(iopf_hist_quantile(h, 0.5), 50, "1..100: p50 is 50 (nearest rank)");
	is(iopf_hist_quantile(h, 0.9), 90, "1..100: p90 is 90");
	is(iopf_hist_quantile(h, 0.99), 99, "1..100: p99 is 99");
	is(iopf_hist_quantile(h, 0.999), 100, "1..100: p99.9 is 100");
	is(iopf_hist_quantile(h, 0.001), 1, "1..100: p0.1 is 1");
	is(iopf_hist_mean(h), 51, "1..100: mean 50.5 rounds to 51");
	iopf_hist_reset(h);
	is(iopf_hist_count(h), 0, "reset empties");
	iopf_hist_free(h);
}

static void check_huge(void)
{
	struct iopf_hist *h;
	uint64_t q;

	iopf_hist_new(&h);
	iopf_hist_add(h, UINT64_MAX);
	iopf_hist_add(h, UINT64_MAX);
	iopf_hist_add(h, UINT64_MAX - 1000);
	iopf_hist_add(h, 1ull << 63);
	ok(iopf_hist_max(h) == UINT64_MAX && iopf_hist_min(h) == 1ull << 63, "huge: min, max");
	q = iopf_hist_quantile(h, 0.5);
	ok(rel_err(q, UINT64_MAX - 1000) <= 0.01, "huge: p50 near UINT64_MAX-1000");
	ok(iopf_hist_quantile(h, 0.6) == UINT64_MAX || rel_err(iopf_hist_quantile(h, 0.6), UINT64_MAX) <= 0.01,
	   "huge: p60 near UINT64_MAX");
	ok(rel_err(iopf_hist_mean(h), (uint64_t)(0.875 * 0x1p64)) <= 1e-6, "huge: mean without overflow");
	iopf_hist_reset(h);
	iopf_hist_add(h, UINT64_MAX);
	iopf_hist_add(h, UINT64_MAX);
	ok(iopf_hist_mean(h) == UINT64_MAX, "huge: mean of two UINT64_MAX is exact");
	iopf_hist_free(h);
}

static void check_merge(void)
{
	struct iopf_hist *a, *b, *all;
	uint64_t la[IOPF_HIST_LOG2_BUCKETS], lb[IOPF_HIST_LOG2_BUCKETS];
	unsigned int i, same = 1;
	uint64_t v;

	iopf_hist_new(&a);
	iopf_hist_new(&b);
	iopf_hist_new(&all);
	for (i = 0; i < 50000; i++) {
		v = draw(i % 2 ? EXPONENTIAL : BIMODAL);
		iopf_hist_add(i % 3 ? a : b, v);
		iopf_hist_add(all, v);
	}
	iopf_hist_merge(a, b);
	ok(iopf_hist_count(a) == iopf_hist_count(all) && iopf_hist_min(a) == iopf_hist_min(all) &&
	   iopf_hist_max(a) == iopf_hist_max(all) && iopf_hist_mean(a) == iopf_hist_mean(all),
	   "merge: count, min, max, mean as combined");
	for (i = 1; i < 1000; i++)
		same &= iopf_hist_quantile(a, i / 1000.0) == iopf_hist_quantile(all, i / 1000.0);
	ok(same, "merge: all quantiles as combined");
	iopf_hist_log2(a, la);
	iopf_hist_log2(all, lb);
	ok(!memcmp(la, lb, sizeof(la)), "merge: log2 buckets as combined");
	iopf_hist_reset(b);
	iopf_hist_merge(a, b);
	is(iopf_hist_count(a), iopf_hist_count(all), "merging an empty histogram changes nothing");
	is(iopf_hist_min(a), iopf_hist_min(all), "... not even min");
	iopf_hist_free(a);
	iopf_hist_free(b);
	iopf_hist_free(all);
}

static void check_log2(void)
{
	static const uint64_t vals[] = { 0, 1, 2, 3, 4, 255, 256, 1023, 1024, 1ull << 40,
					 (1ull << 41) - 1, 1ull << 63, UINT64_MAX };
	uint64_t out[IOPF_HIST_LOG2_BUCKETS], total = 0;
	struct iopf_hist *h;
	unsigned int i;

	iopf_hist_new(&h);
	for (i = 0; i < ARRAY_SIZE(vals); i++)
		iopf_hist_add(h, vals[i]);
	iopf_hist_log2(h, out);
	for (i = 0; i < IOPF_HIST_LOG2_BUCKETS; i++)
		total += out[i];
	is(total, ARRAY_SIZE(vals), "log2: buckets sum to count");
	is(out[0], 2, "log2: bucket 0 holds 0 and 1");
	is(out[1], 2, "log2: bucket 1 holds 2 and 3");
	is(out[2], 1, "log2: bucket 2 holds 4");
	is(out[7], 1, "log2: bucket 7 holds 255");
	is(out[8], 1, "log2: bucket 8 holds 256");
	is(out[9], 1, "log2: bucket 9 holds 1023");
	is(out[10], 1, "log2: bucket 10 holds 1024");
	is(out[40], 2, "log2: bucket 40 holds 2^40 and 2^41-1");
	is(out[63], 2, "log2: bucket 63 holds 2^63 and UINT64_MAX");
	iopf_hist_free(h);
}

int main(void)
{
	rng_state = 42;
	check_dist(UNIFORM, 1000000);
	check_dist(EXPONENTIAL, 100000);
	check_dist(LOGNORMAL, 1000000);
	check_dist(BIMODAL, 300000);
	check_dist(CONSTANT, 100000);
	check_dist(ALLBITS, 300000);
	check_sweep();
	printf("# worst relative error over all checks: %.4f%%\n", worst * 100);
	check_small();
	check_huge();
	check_merge();
	check_log2();
	return tap_done();
}
