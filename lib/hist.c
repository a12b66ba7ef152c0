// SPDX-License-Identifier: MIT
/*
 * Latency histogram in constant memory with real (nearest-rank)
 * percentiles.
 *
 * Layout: log-linear buckets.  Values below 2^(SUB_BITS+1) = 256 each
 * have their own bucket and are exact.  Above that, every power of two
 * [2^k, 2^(k+1)) is cut into SUB = 128 equal sub-buckets of width
 * 2^(k-7).  A percentile is reported as the middle of its bucket, so
 * its error is at most half a bucket width: 2^(k-8) / 2^k = 1/256
 * (0.39%) relative, for every uint64 value.  Clamping to [min, max]
 * can only bring it closer.
 *
 * Index of v, with s = max(0, msb(v) - 7):  (s << 7) + (v >> s).
 * For s = 0 this is v itself (v < 256); for s >= 1, v >> s lies in
 * [128, 256), so bucket indexes run contiguously from 0 to
 * 56 * 128 + 255 = 7423.  Each bucket lies inside one power of two,
 * which makes the log2 summary exact.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SUB_BITS	7
#define SUB		(1u << SUB_BITS)		/* 128 */
#define MAX_SHIFT	(64 - SUB_BITS - 1)		/* 56 */
#define NBUCKETS	((MAX_SHIFT << SUB_BITS) + 2 * SUB)	/* 7424 */

struct iopf_hist {
	uint64_t count, min, max;
	uint64_t sum_hi, sum_lo;	/* 128-bit sum: no overflow below 2^64 adds */
	uint64_t b[NBUCKETS];
};

static inline unsigned int bucket_shift(uint64_t v)
{
	/* msb(v | 128) - 7: 0 for v < 256, never negative */
	return (unsigned int)(63 - __builtin_clzll(v | SUB)) - SUB_BITS;
}

static inline unsigned int bucket_of(uint64_t v)
{
	unsigned int s = bucket_shift(v);

	return (s << SUB_BITS) + (unsigned int)(v >> s);
}

/* The lowest value of bucket i and its width as a shift (width 1 << *s). */
static uint64_t bucket_low(unsigned int i, unsigned int *s)
{
	unsigned int sh = i < 2 * SUB ? 0 : (i >> SUB_BITS) - 1;

	*s = sh;
	return (uint64_t)(i - (sh << SUB_BITS)) << sh;
}

int iopf_hist_new(struct iopf_hist **h)
{
	*h = malloc(sizeof(**h));
	if (!*h)
		return -ENOMEM;
	iopf_hist_reset(*h);
	return 0;
}

void iopf_hist_free(struct iopf_hist *h)
{
	free(h);
}

void iopf_hist_reset(struct iopf_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void iopf_hist_add(struct iopf_hist *h, uint64_t v)
{
	h->b[bucket_of(v)]++;
	h->count++;
	h->sum_lo += v;
	h->sum_hi += h->sum_lo < v;
	h->min = v < h->min ? v : h->min;
	h->max = v > h->max ? v : h->max;
}

void iopf_hist_merge(struct iopf_hist *dst, const struct iopf_hist *src)
{
	size_t i;

	if (!src->count)
		return;
	for (i = 0; i < NBUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum_lo += src->sum_lo;
	dst->sum_hi += src->sum_hi + (dst->sum_lo < src->sum_lo);
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t iopf_hist_count(const struct iopf_hist *h)
{
	return h->count;
}

uint64_t iopf_hist_min(const struct iopf_hist *h)
{
	return h->count ? h->min : 0;
}

uint64_t iopf_hist_max(const struct iopf_hist *h)
{
	return h->max;
}

/*
 * hi:lo / d by shift and subtract, for a quotient below 2^64 (hi < d).
 * Portable to targets without __int128; called once per report.
 */
static uint64_t div_128_64(uint64_t hi, uint64_t lo, uint64_t d)
{
	uint64_t q = 0, top;
	int i;

	for (i = 0; i < 64; i++) {
		top = hi >> 63;
		hi = (hi << 1) | (lo >> 63);
		lo <<= 1;
		q <<= 1;
		if (top || hi >= d) {
			hi -= d;
			q |= 1;
		}
	}
	return q;
}

/* The mean, rounded to the nearest integer. */
uint64_t iopf_hist_mean(const struct iopf_hist *h)
{
	uint64_t lo, hi;

	if (!h->count)
		return 0;
	lo = h->sum_lo + h->count / 2;
	hi = h->sum_hi + (lo < h->sum_lo);
	return div_128_64(hi, lo, h->count);
}

/*
 * The nearest rank ceil(q * count), in 1..count.  A product that is an
 * integer up to floating-point rounding (0.99 * 100) counts as that
 * integer, so the rank matches the decimal q the caller meant.
 */
static uint64_t nearest_rank(double q, uint64_t count)
{
	long double x = (long double)q * (long double)count;
	long double fl = floorl(x);
	uint64_t r;

	if (x - fl <= x * 1e-13L)
		r = (uint64_t)fl;
	else
		r = (uint64_t)fl + 1;
	if (r < 1)
		r = 1;
	return r > count ? count : r;
}

/* The reported value of bucket i: its middle, clamped to [min, max]. */
static uint64_t bucket_value(const struct iopf_hist *h, unsigned int i)
{
	unsigned int s;
	uint64_t lo = bucket_low(i, &s);
	uint64_t v = s ? lo + ((UINT64_C(1) << s) - 1) / 2 : lo;

	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

uint64_t iopf_hist_quantile(const struct iopf_hist *h, double q)
{
	uint64_t rank, cum = 0;
	unsigned int i;

	if (!h->count)
		return 0;
	if (!(q > 0.0))		/* also NaN */
		return h->min;
	if (q >= 1.0)
		return h->max;
	rank = nearest_rank(q, h->count);
	if (rank == 1)
		return h->min;
	if (rank == h->count)
		return h->max;
	for (i = 0; i < NBUCKETS; i++) {
		cum += h->b[i];
		if (cum >= rank)
			return bucket_value(h, i);
	}
	return h->max;	/* not reached: the buckets sum to count */
}

void iopf_hist_log2(const struct iopf_hist *h, uint64_t out[IOPF_HIST_LOG2_BUCKETS])
{
	unsigned int i, s;
	uint64_t lo;

	memset(out, 0, IOPF_HIST_LOG2_BUCKETS * sizeof(out[0]));
	for (i = 0; i < NBUCKETS; i++) {
		if (!h->b[i])
			continue;
		lo = bucket_low(i, &s);
		out[63 - __builtin_clzll(lo | 1)] += h->b[i];
	}
}
