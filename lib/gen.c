// SPDX-License-Identifier: MIT
/*
 * Seeded synthetic fault generator.
 *
 * The same seed and configuration give the same groups on every
 * platform: the random numbers come from xoshiro256** seeded through
 * splitmix64, and every step from them to a field is integer arithmetic
 * (the exponential inter-arrival times included, which use a fixed-point
 * logarithm rather than libm's log(), whose last bit may differ between
 * C libraries and with FMA contraction).  The only floating-point
 * operations are the conversion of cfg->rate and cfg->grpid_reuse, each
 * one correctly rounded IEEE operation.
 *
 * The random numbers are also the library's (struct iopf_rng): generate
 * draws its handler's latencies from one, so a seed gives the same bytes
 * on every C library.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PAGE_SHIFT	12
#define ADDR_MASK	0x0000fffffffff000ull	/* page-aligned, 48-bit */
#define RECENT		8			/* recent grpids remembered */
#define FRESH_TRIES	64

struct iopf_gen {
	struct iopf_gen_cfg cfg;
	struct iopf_rng rng;
	uint64_t done;			/* groups generated */
	uint64_t t_ns;			/* time of the last group */
	uint64_t mean_q16;		/* mean inter-arrival, ns << 16; 0: rate 0 */
	uint64_t reuse_q53;		/* grpid_reuse * 2^53 */
	uint32_t grpid_mask;
	uint32_t recent[RECENT];	/* ring of recently issued grpids */
	unsigned int nrecent, recent_cap, recent_pos;
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t iopf_rng_next(struct iopf_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

void iopf_rng_seed(struct iopf_rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

static uint64_t rnd(struct iopf_gen *g)
{
	return iopf_rng_next(&g->rng);
}

/*
 * The 128-bit product a * b as hi:lo: one multiply where the compiler has
 * __int128, else by 32-bit halves (32-bit targets).  Both are exact, so
 * the generated groups are the same either way.
 */
static inline void mul_64x64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 p = (unsigned __int128)a * b;

	*hi = (uint64_t)(p >> 64);
	*lo = (uint64_t)p;
#else
	uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
	uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;

	*lo = (mid << 32) | (uint32_t)ll;
	*hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/* (a * b) >> shift, for 0 < shift < 64 and a result that fits. */
static uint64_t mul_shr(uint64_t a, uint64_t b, unsigned int shift)
{
	uint64_t hi, lo;

	mul_64x64(a, b, &hi, &lo);
	return (hi << (64 - shift)) | (lo >> shift);
}

static uint64_t mul_hi(uint64_t a, uint64_t b)
{
	uint64_t hi, lo;

	mul_64x64(a, b, &hi, &lo);
	return hi;
}

uint64_t iopf_rng_below(struct iopf_rng *rng, uint64_t n)
{
	return mul_hi(iopf_rng_next(rng), n);
}

uint64_t iopf_rng_q53(double p)
{
	if (!(p > 0))	/* also NaN */
		return 0;
	return p >= 1 ? 1ull << 53 : (uint64_t)(p * 9007199254740992.0);
}

bool iopf_rng_chance(struct iopf_rng *rng, uint64_t q53)
{
	return (iopf_rng_next(rng) >> 11) < q53;
}

/* Uniform in [0, n), n >= 1 (multiply-shift: no division, tiny bias). */
static uint64_t rnd_below(struct iopf_gen *g, uint64_t n)
{
	return iopf_rng_below(&g->rng, n);
}

/* True with probability q53 / 2^53. */
static bool rnd_chance(struct iopf_gen *g, uint64_t q53)
{
	return iopf_rng_chance(&g->rng, q53);
}

/*
 * log2(x) for x >= 1, as a 32.32 fixed-point number: the integer part
 * from the highest bit, the fraction bit by bit by squaring the
 * mantissa (in [1, 2), 2.62 fixed point).
 */
static uint64_t log2_q32(uint64_t x)
{
	unsigned int k = 63 - (unsigned int)__builtin_clzll(x), i;
	uint64_t m = k >= 62 ? x >> (k - 62) : x << (62 - k);
	uint64_t frac = 0;

	for (i = 0; i < 32; i++) {
		m = mul_shr(m, m, 62);
		frac <<= 1;
		if (m >= (1ull << 63)) {
			m >>= 1;
			frac |= 1;
		}
	}
	return ((uint64_t)k << 32) | frac;
}

/* An Exp(1) variate as 32.32 fixed point: -ln(U), U uniform in (0, 1]. */
static uint64_t rng_exp_q32(struct iopf_rng *rng)
{
	static const uint64_t ln2_q64 = 0xb17217f7d1cf79acull;
	uint64_t u = (iopf_rng_next(rng) >> 11) + 1;	/* 1 .. 2^53 */
	uint64_t neg_log2 = (53ull << 32) - log2_q32(u);

	return mul_hi(neg_log2, ln2_q64);
}

static uint64_t rnd_exp_q32(struct iopf_gen *g)
{
	return rng_exp_q32(&g->rng);
}

uint64_t iopf_rng_exp(struct iopf_rng *rng, uint64_t mean)
{
	uint64_t hi, lo;

	mul_64x64(rng_exp_q32(rng), mean, &hi, &lo);
	if (hi >> 32)
		return UINT64_MAX;
	return (hi << 32) | (lo >> 32);
}

static int gen_cfg_check(struct iopf_gen_cfg *c)
{
	if (!c->min_group)
		c->min_group = 1;
	if (!c->max_group)
		c->max_group = c->min_group;
	if (!c->devs)
		c->devs = 1;
	if (!c->grpid_bits)
		c->grpid_bits = 9;
	if (c->min_group > c->max_group || c->grpid_bits > 32)
		return -EINVAL;
	if (!(c->rate >= 0) || !isfinite(c->rate))	/* also NaN */
		return -EINVAL;
	if (!(c->grpid_reuse >= 0 && c->grpid_reuse <= 1))
		return -EINVAL;
	return 0;
}

int iopf_gen_new(struct iopf_gen **gp, const struct iopf_gen_cfg *cfg)
{
	struct iopf_gen *g;
	int err;

	*gp = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	err = gen_cfg_check(&g->cfg);
	if (err) {
		free(g);
		return err;
	}
	iopf_rng_seed(&g->rng, g->cfg.seed);
	if (g->cfg.rate > 0) {
		double m = 65536e9 / g->cfg.rate;

		g->mean_q16 = m >= 0x1p64 ? UINT64_MAX : m < 1 ? 1 : (uint64_t)m;
	}
	g->reuse_q53 = iopf_rng_q53(g->cfg.grpid_reuse);
	g->grpid_mask = (uint32_t)((1ull << g->cfg.grpid_bits) - 1);
	/* Remember at most half the grpid space, so fresh values exist. */
	g->recent_cap = g->cfg.grpid_bits > 4 ? RECENT : (1u << g->cfg.grpid_bits) / 2;
	*gp = g;
	return 0;
}

void iopf_gen_free(struct iopf_gen *g)
{
	free(g);
}

static bool grpid_recent(const struct iopf_gen *g, uint32_t grpid)
{
	unsigned int i;

	for (i = 0; i < g->nrecent; i++)
		if (g->recent[i] == grpid)
			return true;
	return false;
}

/*
 * The next grpid: with probability grpid_reuse one issued recently
 * (so a grpid is reused while its group may still be outstanding),
 * else a fresh one that is not among the recent ones.
 */
static uint32_t gen_grpid(struct iopf_gen *g)
{
	uint32_t grpid;
	int i;

	if (g->nrecent && rnd_chance(g, g->reuse_q53))
		return g->recent[rnd_below(g, g->nrecent)];
	grpid = (uint32_t)rnd(g) & g->grpid_mask;
	for (i = 0; i < FRESH_TRIES && grpid_recent(g, grpid); i++)
		grpid = (uint32_t)rnd(g) & g->grpid_mask;
	if (g->recent_cap) {
		g->recent[g->recent_pos] = grpid;
		g->recent_pos = (g->recent_pos + 1) % g->recent_cap;
		if (g->nrecent < g->recent_cap)
			g->nrecent++;
	}
	return grpid;
}

/* Mostly read or read+write, some write, occasionally exec or priv. */
static uint32_t gen_perm(struct iopf_gen *g)
{
	uint64_t r = rnd_below(g, 100);

	if (r < 45)
		return IOMMU_PGFAULT_PERM_READ;
	if (r < 85)
		return IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE;
	if (r < 95)
		return IOMMU_PGFAULT_PERM_WRITE;
	if (r < 98)
		return IOMMU_PGFAULT_PERM_EXEC;
	return IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_PRIV;
}

static void gen_time(struct iopf_gen *g, uint64_t *t_ns)
{
	uint64_t dt;

	if (g->mean_q16 && g->done) {
		dt = mul_shr(rnd_exp_q32(g), g->mean_q16, 48);
		g->t_ns = g->t_ns + dt < g->t_ns ? UINT64_MAX : g->t_ns + dt;
	}
	*t_ns = g->t_ns;
}

/*
 * The next group.  Records share dev_id, pasid, grpid and a run of
 * consecutive pages; perm varies per record.  The first group is at
 * t 0, the next ones at exponential intervals (Poisson arrivals).
 * A group larger than cap is cut to cap records.
 */
int iopf_gen_next(struct iopf_gen *g, struct iommu_hwpt_pgfault *recs, size_t cap,
		  size_t *n, uint64_t *t_ns)
{
	const struct iopf_gen_cfg *c = &g->cfg;
	uint32_t dev, pasid, grpid, flags = 0;
	uint64_t addr, size;
	size_t i;

	if (c->groups && g->done >= c->groups)
		return 0;
	if (!cap)
		return -EINVAL;
	gen_time(g, t_ns);
	size = c->min_group + rnd_below(g, (uint64_t)c->max_group - c->min_group + 1);
	dev = 1 + (uint32_t)rnd_below(g, c->devs);
	pasid = c->pasids ? 1 + (uint32_t)rnd_below(g, c->pasids) : 0;
	if (pasid)
		flags = IOMMU_PGFAULT_FLAGS_PASID_VALID | c->unknown_flags;
	grpid = gen_grpid(g);
	addr = rnd(g) & ADDR_MASK;
	*n = size < cap ? (size_t)size : cap;
	for (i = 0; i < *n; i++) {
		memset(&recs[i], 0, sizeof(recs[i]));
		recs[i].flags = flags & ~(uint32_t)IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		recs[i].dev_id = dev;
		recs[i].pasid = pasid;
		recs[i].grpid = grpid;
		recs[i].perm = gen_perm(g);
		recs[i].addr = (addr + ((uint64_t)i << PAGE_SHIFT)) & ADDR_MASK;
	}
	recs[*n - 1].flags |= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	g->done++;
	return 1;
}
