// SPDX-License-Identifier: MIT
/* The timeline keeps every count through its merges, in constant memory; the SVG is whole. */
#include <stdlib.h>
#include <string.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "tap.h"

static void totals(const struct iopf_timeline *tl, uint64_t *faults, uint64_t *resp,
		   uint64_t *lat_sum, uint64_t *lat_max, uint64_t per_slot[IOPF_TL_DEVS + 1])
{
	struct iopf_timeline_view v;

	iopf_timeline_get(tl, &v);
	*faults = *resp = *lat_sum = *lat_max = 0;
	memset(per_slot, 0, (IOPF_TL_DEVS + 1) * sizeof(per_slot[0]));
	for (uint32_t i = 0; i < v.nbins; i++) {
		for (int k = 0; k <= IOPF_TL_DEVS; k++) {
			*faults += v.bins[i].faults[k];
			per_slot[k] += v.bins[i].faults[k];
		}
		*resp += v.bins[i].responses;
		*lat_sum += v.bins[i].latency_sum;
		if (v.bins[i].latency_max > *lat_max)
			*lat_max = v.bins[i].latency_max;
	}
}

static void test_counts_survive_merges(void)
{
	struct iopf_timeline *tl;
	struct iopf_timeline_view v;
	uint64_t f, r, ls, lm, slot[IOPF_TL_DEVS + 1], want_sum = 0;
	const uint64_t t0 = 1700000000ull * 1000000000ull;

	ok(iopf_timeline_new(&tl) == 0, "new timeline");
	/* 100000 faults over 10 s from 12 devices, a response after each */
	for (uint64_t i = 0; i < 100000; i++) {
		uint64_t t = t0 + i * 100000;
		iopf_timeline_fault(tl, t, (uint32_t)(i % 12) + 1);
		iopf_timeline_response(tl, t + 5000, 1000 + i % 777);
		want_sum += 1000 + i % 777;
	}
	totals(tl, &f, &r, &ls, &lm, slot);
	is(f, 100000, "every fault is counted once after the bins widened");
	is(r, 100000, "every response is counted once");
	is(ls, want_sum, "latency sums add up");
	is(lm, 1776, "the largest latency is kept");
	iopf_timeline_get(tl, &v);
	ok(v.nbins <= IOPF_TL_BINS && v.nbins > IOPF_TL_BINS / 2, "bins in use %u: more than half, at most all", v.nbins);
	ok(v.width_ns * v.nbins >= 10000000000ull - 100000, "the bins span the capture (%llu ns wide)",
	   (unsigned long long)v.width_ns);
	is(v.t0_ns, t0, "the timeline starts at the first event");
	is(v.ndevs, IOPF_TL_DEVS, "the first devices get series of their own");
	ok(v.other, "the rest are counted as other devices");
	is(slot[IOPF_TL_DEVS], 100000 / 12 * 4, "faults of devices 9..12 are all in the other series");
	is(v.devs[0], 1, "slot 0 is the first device seen");
	iopf_timeline_free(tl);
}

static void test_out_of_order_and_extremes(void)
{
	struct iopf_timeline *tl;
	uint64_t f, r, ls, lm, slot[IOPF_TL_DEVS + 1];

	iopf_timeline_new(&tl);
	iopf_timeline_fault(tl, 5000000, 1);
	iopf_timeline_fault(tl, 1000, 1);		/* before the first: counted at the start */
	iopf_timeline_fault(tl, UINT64_MAX, 2);		/* a crafted time stamp */
	iopf_timeline_response(tl, 0, UINT64_MAX);
	totals(tl, &f, &r, &ls, &lm, slot);
	is(f, 3, "faults out of order and at the end of time are all counted");
	is(r, 1, "a response at time 0 is counted");
	ok(lm == UINT64_MAX, "a huge latency is kept as it is");
	iopf_timeline_free(tl);
}

static void test_svg(void)
{
	struct iopf_timeline *tl;
	struct iopf_hist *h;
	char *buf = NULL;
	size_t len = 0;

	iopf_timeline_new(&tl);
	iopf_hist_new(&h);
	for (int i = 0; i < 1000; i++) {
		iopf_timeline_fault(tl, 1000000ull * i, (uint32_t)i % 3);
		iopf_timeline_response(tl, 1000000ull * i + 10, 500 + 37 * (uint64_t)i);
		iopf_hist_add(h, 500 + 37 * (uint64_t)i);
	}
	FILE *f = open_memstream(&buf, &len);
	ok(iopf_svg_write(f, "cap<&\"\x1b[31m>.pcap", h, tl, 20000) == 0, "svg written");
	fclose(f);
	ok(strstr(buf, "<svg ") && strstr(buf, "</svg>\n"), "svg has its root element, closed");
	ok(strstr(buf, "cap&lt;&amp;&quot;?[31m&gt;.pcap"), "the title is escaped, the control byte replaced");
	ok(!strchr(buf, '\x1b'), "no control byte reaches the file");
	ok(strstr(buf, "deadline "), "the deadline line is drawn");
	ok(strstr(buf, "dev 2"), "each device has a legend entry");
	free(buf);
	iopf_hist_free(h);
	iopf_timeline_free(tl);
}

int main(void)
{
	test_counts_survive_merges();
	test_out_of_order_and_extremes();
	test_svg();
	return tap_done();
}
