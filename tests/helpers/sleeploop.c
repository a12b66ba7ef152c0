// SPDX-License-Identifier: MIT
/*
 * sleeploop CAPTURE: the baseline of a paced `replay` (the recorded
 * schedule).  Each fault group of the capture (a FAULT record with
 * LAST_PAGE) is due at the first group's start plus its recorded offset;
 * a bare clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) loop keeps that
 * schedule and nothing else: no queue, no handler, no spin.  It prints
 * "GROUPS P50_NS P99_NS MAX_NS": how late each wake-up was, as replay's
 * report gives its schedule_lag.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "iopf.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct iopf_reader *rd;
	struct iopf_rec r;
	uint64_t *lag = NULL, start = 0, ts0 = 0;
	size_t n = 0, cap = 0;
	char err[512];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: sleeploop CAPTURE\n");
		return 64;
	}
	if (iopf_reader_open(&rd, argv[1], err, sizeof(err))) {
		fprintf(stderr, "sleeploop: %s\n", err);
		return 2;
	}
	while ((rc = iopf_reader_next(rd, &r)) != 0) {
		uint64_t ts, due, now;
		struct timespec d;

		if (rc < 0 || r.type != IOPF_REC_FAULT ||
		    !(r.u.fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
			continue;
		ts = (uint64_t)r.ts.tv_sec * 1000000000ull + (uint64_t)r.ts.tv_nsec;
		if (!n) {
			start = now_ns();
			ts0 = ts;
		}
		due = start + (ts > ts0 ? ts - ts0 : 0);
		d.tv_sec = (time_t)(due / 1000000000ull);
		d.tv_nsec = (long)(due % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) == EINTR)
			;
		now = now_ns();
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			lag = realloc(lag, cap * sizeof(*lag));
			if (!lag) {
				fprintf(stderr, "sleeploop: out of memory\n");
				return 2;
			}
		}
		lag[n++] = now > due ? now - due : 0;
	}
	iopf_reader_free(rd);
	if (!n) {
		fprintf(stderr, "sleeploop: no fault groups in %s\n", argv[1]);
		return 2;
	}
	qsort(lag, n, sizeof(*lag), cmp);
	printf("%zu %llu %llu %llu\n", n, (unsigned long long)lag[(n - 1) / 2],
	       (unsigned long long)lag[(n * 99 + 99) / 100 - 1], (unsigned long long)lag[n - 1]);
	free(lag);
	return 0;
}
