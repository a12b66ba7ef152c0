// SPDX-License-Identifier: MIT
/* The synthetic fault generator: determinism, bounds, flags, rate, grpid reuse. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "iopf.h"
#include "tap.h"

#define CAP 64
#define PINNED 0x396bedc49751a155ull

static struct iopf_gen *new_gen(const struct iopf_gen_cfg *cfg)
{
	struct iopf_gen *g;

	if (iopf_gen_new(&g, cfg))
		abort();
	return g;
}

static uint64_t fnv(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

/* A hash of the fields of the first groups and their times: byte-order free. */
static uint64_t fingerprint(const struct iopf_gen_cfg *cfg, unsigned int groups)
{
	struct iommu_hwpt_pgfault r[CAP];
	struct iopf_gen *g = new_gen(cfg);
	uint64_t h = 0xcbf29ce484222325ull, t;
	size_t n, i;

	while (groups-- && iopf_gen_next(g, r, CAP, &n, &t) == 1) {
		for (i = 0; i < n; i++) {
			h = fnv(h, r[i].flags);
			h = fnv(h, r[i].dev_id);
			h = fnv(h, r[i].pasid);
			h = fnv(h, r[i].grpid);
			h = fnv(h, r[i].perm);
			h = fnv(h, r[i].addr);
		}
		h = fnv(h, t);
	}
	iopf_gen_free(g);
	return h;
}

static void test_determinism(void)
{
	struct iopf_gen_cfg cfg = { .seed = 1, .min_group = 1, .max_group = 6, .devs = 3,
				    .pasids = 4, .rate = 1000, .grpid_reuse = 0.1 };
	uint64_t a = fingerprint(&cfg, 5000), b = fingerprint(&cfg, 5000);

	ok(a == b, "determinism: same seed, same groups and times");
	cfg.seed = 2;
	ok(fingerprint(&cfg, 5000) != a, "determinism: another seed, other groups");
	/*
	 * Pinned: the stream must not change between platforms or releases,
	 * so that a capture made with a seed can be made again.
	 */
	ok(a == PINNED, "determinism: seed 1 gives the pinned stream (0x%016llx)",
	   (unsigned long long)a);
}

static void test_records(void)
{
	struct iopf_gen_cfg cfg = { .seed = 9, .min_group = 2, .max_group = 5, .devs = 3,
				    .pasids = 4, .grpid_bits = 9, .unknown_flags = 0x4 };
	struct iommu_hwpt_pgfault r[CAP];
	unsigned int seen[8] = { 0 }, bad_size = 0, bad_last = 0, bad_pasid = 0, bad_dev = 0;
	unsigned int bad_grp = 0, bad_addr = 0, bad_misc = 0, perms[16] = { 0 };
	struct iopf_gen *g = new_gen(&cfg);
	uint64_t t;
	size_t n, i;
	int k;

	for (k = 0; k < 20000; k++) {
		if (iopf_gen_next(g, r, CAP, &n, &t) != 1)
			break;
		bad_size += n < 2 || n > 5;
		seen[n < 8 ? n : 7]++;
		for (i = 0; i < n; i++) {
			bad_last += !!(r[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE) != (i == n - 1);
			bad_pasid += r[i].pasid < 1 || r[i].pasid > 4 ||
				     (r[i].flags & ~IOMMU_PGFAULT_FLAGS_LAST_PAGE) !=
				     (IOMMU_PGFAULT_FLAGS_PASID_VALID | 0x4);
			bad_dev += r[i].dev_id < 1 || r[i].dev_id > 3 || r[i].dev_id != r[0].dev_id;
			bad_grp += r[i].grpid >= 512 || r[i].grpid != r[0].grpid;
			bad_addr += (r[i].addr & 0xfff) != 0 || (i && r[i].addr == r[i - 1].addr);
			bad_misc += r[i].cookie || r[i].length || r[i].__reserved || t != 0;
			perms[r[i].perm & 15]++;
		}
	}
	is(k, 20000, "records: 20000 groups");
	is(bad_size, 0, "records: group sizes within [2, 5]");
	ok(seen[2] && seen[3] && seen[4] && seen[5], "records: every size in [2, 5] occurs");
	is(bad_last, 0, "records: LAST_PAGE on the last record only");
	is(bad_pasid, 0, "records: PASID 1..4 with PASID_VALID and the unknown flag 0x4");
	is(bad_dev, 0, "records: dev_id 1..3, one per group");
	is(bad_grp, 0, "records: grpid below 2^9, one per group");
	is(bad_addr, 0, "records: page-aligned, distinct within a group");
	is(bad_misc, 0, "records: cookie, length, reserved 0; rate 0 puts every group at t 0");
	ok(perms[1] > perms[2] && perms[3] > perms[2] && perms[2] > perms[4] && perms[4] && perms[9],
	   "records: mostly R or R|W, some W, a few EXEC and PRIV");
	iopf_gen_free(g);
}

static void test_no_pasid(void)
{
	struct iopf_gen_cfg cfg = { .seed = 3, .unknown_flags = 0x4 };
	struct iommu_hwpt_pgfault r[CAP];
	struct iopf_gen *g = new_gen(&cfg);
	unsigned int bad = 0, k;
	uint64_t t;
	size_t n;

	for (k = 0; k < 1000 && iopf_gen_next(g, r, CAP, &n, &t) == 1; k++)
		bad += n != 1 || r[0].pasid || r[0].flags != IOMMU_PGFAULT_FLAGS_LAST_PAGE ||
		       r[0].dev_id != 1;
	is(bad, 0, "no pasid: defaults give one record, dev 1, pasid 0, flags LAST_PAGE only");
	iopf_gen_free(g);
}

static void test_rate(void)
{
	struct iopf_gen_cfg cfg = { .seed = 5, .rate = 1000 };
	struct iommu_hwpt_pgfault r[CAP];
	struct iopf_gen *g = new_gen(&cfg);
	double mean, sd, sum = 0, sq = 0, d;
	uint64_t t, prev = 0;
	unsigned int k, m = 100000;
	size_t n;

	for (k = 0; k <= m; k++) {
		iopf_gen_next(g, r, CAP, &n, &t);
		if (k) {
			d = (double)(t - prev);
			sum += d;
			sq += d * d;
		}
		prev = t;
	}
	mean = sum / m;
	sd = sqrt(sq / m - mean * mean);
	ok(fabs(mean - 1e6) < 0.05e6, "rate: mean inter-arrival %.0fns within 5%% of 1ms", mean);
	ok(fabs(sd / mean - 1) < 0.05, "rate: exponential, sd/mean %.3f within 5%% of 1", sd / mean);
	iopf_gen_free(g);
}

/* The fraction of groups whose grpid is one of the previous 8. */
static double reuse_fraction(double p)
{
	struct iopf_gen_cfg cfg = { .seed = 11, .grpid_reuse = p, .grpid_bits = 9 };
	struct iommu_hwpt_pgfault r[CAP];
	struct iopf_gen *g = new_gen(&cfg);
	uint32_t last[8] = { 0 };
	unsigned int k, j, nlast = 0, hits = 0, m = 100000, pos = 0;
	uint64_t t;
	size_t n;

	for (k = 0; k < m; k++) {
		iopf_gen_next(g, r, CAP, &n, &t);
		for (j = 0; j < nlast; j++)
			if (last[j] == r[0].grpid) {
				hits++;
				break;
			}
		if (j < nlast)
			continue;	/* a reuse: not a new issue */
		last[pos] = r[0].grpid;
		pos = (pos + 1) % 8;
		nlast += nlast < 8;
	}
	iopf_gen_free(g);
	return (double)hits / m;
}

static void test_grpid_reuse(void)
{
	double f0 = reuse_fraction(0), f3 = reuse_fraction(0.3);

	ok(f0 == 0, "grpid reuse 0: a fresh grpid is never one of the last 8 (%.4f)", f0);
	ok(fabs(f3 - 0.3) < 0.01, "grpid reuse 0.3: observed %.4f", f3);
}

static void test_limits(void)
{
	struct iopf_gen_cfg cfg = { .seed = 1, .groups = 3, .min_group = 10, .max_group = 10 };
	struct iommu_hwpt_pgfault r[CAP];
	struct iopf_gen *g = new_gen(&cfg);
	uint64_t t;
	size_t n = 0;

	ok(iopf_gen_next(g, r, 4, &n, &t) == 1 && n == 4 &&
	   (r[3].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE), "limits: a group is cut to cap, LAST_PAGE last");
	is(iopf_gen_next(g, r, 0, &n, &t), -EINVAL, "limits: cap 0 is -EINVAL");
	ok(iopf_gen_next(g, r, CAP, &n, &t) == 1 && n == 10, "limits: second group of 10");
	is(iopf_gen_next(g, r, CAP, &n, &t), 1, "limits: third group");
	is(iopf_gen_next(g, r, CAP, &n, &t), 0, "limits: 0 after `groups` groups");
	iopf_gen_free(g);

	cfg = (struct iopf_gen_cfg){ .min_group = 5, .max_group = 2 };
	is(iopf_gen_new(&g, &cfg), -EINVAL, "limits: min_group > max_group");
	cfg = (struct iopf_gen_cfg){ .grpid_bits = 33 };
	is(iopf_gen_new(&g, &cfg), -EINVAL, "limits: grpid_bits 33");
	cfg = (struct iopf_gen_cfg){ .rate = -1 };
	is(iopf_gen_new(&g, &cfg), -EINVAL, "limits: negative rate");
	cfg = (struct iopf_gen_cfg){ .rate = NAN };
	is(iopf_gen_new(&g, &cfg), -EINVAL, "limits: NaN rate");
	cfg = (struct iopf_gen_cfg){ .grpid_reuse = 1.5 };
	is(iopf_gen_new(&g, &cfg), -EINVAL, "limits: grpid_reuse above 1");
}

static void test_narrow_grpid(void)
{
	struct iopf_gen_cfg cfg = { .seed = 1, .grpid_bits = 1 };
	struct iommu_hwpt_pgfault r[CAP];
	struct iopf_gen *g = new_gen(&cfg);
	unsigned int k, seen[2] = { 0 }, bad = 0;
	uint64_t t;
	size_t n;

	for (k = 0; k < 1000; k++) {
		iopf_gen_next(g, r, CAP, &n, &t);
		if (r[0].grpid > 1)
			bad++;
		else
			seen[r[0].grpid]++;
	}
	ok(!bad && seen[0] && seen[1], "grpid_bits 1: both values, nothing wider");
	iopf_gen_free(g);
}

/*
 * The library's random numbers (generate's handler latencies): pinned
 * values, so a change of generator or arithmetic shows here before it
 * changes every seeded capture; the exponential's mean and tail; the
 * edges of q53 and of a mean too large for 64 bits.
 */
static void test_rng(void)
{
	struct iopf_rng r;
	uint64_t sum = 0, over3 = 0, sat = 0;
	const int n = 1000000;

	iopf_rng_seed(&r, 1);
	ok(iopf_rng_next(&r) == 0xb3f2af6d0fc710c5ull && iopf_rng_next(&r) == 0x853b559647364ceaull &&
	   iopf_rng_next(&r) == 0x92f89756082a4514ull, "rng: seed 1 gives the pinned numbers");
	ok(iopf_rng_exp(&r, 20000) == 18764 && iopf_rng_exp(&r, 20000) == 7214 &&
	   iopf_rng_exp(&r, 20000) == 38818 && iopf_rng_exp(&r, 20000) == 52888,
	   "rng: exponential draws of mean 20000 are the pinned integers (no libm)");
	is(iopf_rng_below(&r, 1000), 381, "rng: below 1000, pinned");
	iopf_rng_seed(&r, 7);
	for (int i = 0; i < n; i++) {
		uint64_t v = iopf_rng_exp(&r, 20000);

		sum += v;
		over3 += v > 60000;
	}
	ok(fabs((double)sum / n - 20000) < 100, "rng: mean of 10^6 draws %.1f (20000)", (double)sum / n);
	ok(fabs((double)over3 / n - exp(-3)) < 0.002, "rng: P(> 3 means) %.4f (e^-3 = %.4f)",
	   (double)over3 / n, exp(-3));
	for (int i = 0; i < 1000; i++)
		sat += iopf_rng_exp(&r, UINT64_MAX) == UINT64_MAX;
	ok(sat > 300 && sat < 450, "rng: a mean of 2^64-1 saturates every draw of a mean or more "
	   "(%llu of 1000, e^-1 expected), never wraps", (unsigned long long)sat);
	ok(iopf_rng_q53(0) == 0 && iopf_rng_q53(-1) == 0 && iopf_rng_q53(NAN) == 0 &&
	   iopf_rng_q53(1) == 1ull << 53 && iopf_rng_q53(2) == 1ull << 53 &&
	   iopf_rng_q53(0.5) == 1ull << 52, "rng: q53 of 0, -1, NaN, 1, 2, 0.5");
	bool never = false, always = true;

	for (int i = 0; i < 1000; i++) {
		never |= iopf_rng_chance(&r, 0);
		always &= iopf_rng_chance(&r, iopf_rng_q53(1));
	}
	ok(!never && always, "rng: chance 0 never, chance 1 always");
}

int main(void)
{
	test_rng();
	test_determinism();
	test_records();
	test_no_pasid();
	test_rate();
	test_grpid_reuse();
	test_limits();
	test_narrow_grpid();
	return tap_done();
}
