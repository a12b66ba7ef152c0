// SPDX-License-Identifier: MIT
/*
 * tiny-handler: a fault handler independent of iopftool's own (tool/live.c),
 * for the tap's tests (tests/kernel/guest/40-tap.sh).  It allocates a mock
 * device and a fault queue through /dev/iommu (libiopf's "mock" target:
 * CONFIG_IOMMUFD_TEST), plays the device and the handler in turn, and logs
 * on stdout exactly what it saw and did, in the words of `iopftool read`:
 *
 *   fault q Q dev D grpid G addr 0x... cookie C     a record it read
 *   response q Q cookie C success|invalid [rejected EINVAL]   a response it wrote
 *   auto q Q cookie C        a group the kernel must answer at detach
 *                            (cookie 0: queued, never read)
 *
 * Usage: tiny-handler [-n GROUPS] [-u UNANSWERED] [-Q QUEUED] [-b] [-s MS]
 *   -n  groups to inject, read and answer (default 10); every fifth is
 *       answered invalid
 *   -u  of those, leave the last U unanswered (default 0)
 *   -Q  inject Q more groups and never read them (default 0)
 *   -b  also write one response with an unknown cookie (refused: EINVAL)
 *   -s  sleep MS milliseconds before starting and before the detach
 *   -r  groups per read: inject R groups, then read them all at once (1)
 * Then it detaches the device (the kernel answers -u and -Q groups
 * INVALID) and exits 0; 2 on any failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iopf.h"

static int fail(const char *what, int rc)
{
	fprintf(stderr, "tiny-handler: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	return 2;
}

static void pause_ms(long ms)
{
	if (ms > 0)
		usleep((useconds_t)ms * 1000);
}

int main(int argc, char **argv)
{
	long groups = 10, unanswered = 0, queued = 0, sleep_ms = 0, per_read = 1;
	bool bad = false;
	struct iopf_target *t;
	char err[512];
	uint32_t dev, q, pending[64];
	size_t npending = 0;
	int opt, rc;

	while ((opt = getopt(argc, argv, "n:u:Q:bs:r:")) != -1) {
		switch (opt) {
		case 'n': groups = atol(optarg); break;
		case 'u': unanswered = atol(optarg); break;
		case 'Q': queued = atol(optarg); break;
		case 'b': bad = true; break;
		case 's': sleep_ms = atol(optarg); break;
		case 'r': per_read = atol(optarg); break;
		default:
			fprintf(stderr, "usage: tiny-handler [-n N] [-u N] [-Q N] [-b] [-s MS] [-r N]\n");
			return 64;
		}
	}
	if (groups < 0 || unanswered < 0 || unanswered > groups || unanswered > 64 || queued < 0 ||
	    per_read < 1 || per_read > 64) {
		fprintf(stderr, "tiny-handler: bad counts\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = iopf_target_open(&t, "mock:single", NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "tiny-handler: %s\n", err);
		return 2;
	}
	rc = iopf_target_device(t, 1, &dev);
	if (rc)
		return fail("mock device", rc);
	q = iopf_target_queue_id(t);
	fprintf(stderr, "tiny-handler: pid %d queue %u dev %u\n", (int)getpid(), q, dev);
	pause_ms(sleep_ms);
	for (long i = 0; i < groups;) {
		long batch = groups - i < per_read ? groups - i : per_read;
		struct iommu_hwpt_pgfault recs[64];
		ssize_t n;

		for (long j = 0; j < batch; j++) {
			struct iommu_hwpt_pgfault f = {
				.flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE,
				.dev_id = dev,
				.grpid = (uint32_t)((i + j) % 511 + 1),
				.perm = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
				.addr = 0x100000ull + (uint64_t)(i + j) * 0x1000,
			};

			rc = iopf_target_inject(t, &f);
			if (rc)
				return fail("inject", rc);
		}
		do
			n = iopf_target_read(t, recs, sizeof(recs));
		while (n == -EINTR);
		if (n < 0)
			return fail("read", (int)n);
		for (size_t k = 0; k < (size_t)n / IOPF_FAULT_SIZE; k++, i++) {
			struct iommu_hwpt_page_response r = {
				.cookie = recs[k].cookie,
				.code = i % 5 == 4 ? IOMMUFD_PAGE_RESP_INVALID : IOMMUFD_PAGE_RESP_SUCCESS,
			};
			ssize_t w;

			printf("fault q%u dev %u grpid %u addr 0x%016" PRIx64 " cookie %u\n", q,
			       recs[k].dev_id, recs[k].grpid, (uint64_t)recs[k].addr, recs[k].cookie);
			if (i >= groups - unanswered) {
				pending[npending++] = recs[k].cookie;
				continue;
			}
			w = iopf_target_write(t, &r, sizeof(r));
			if (w != (ssize_t)sizeof(r))
				return fail("write", w < 0 ? (int)w : EIO);
			printf("response q%u cookie %u %s\n", q, r.cookie, iopf_code_name(r.code));
		}
	}
	if (bad) {
		struct iommu_hwpt_page_response r = { .cookie = 4242, .code = 0 };
		ssize_t w = iopf_target_write(t, &r, sizeof(r));

		if (w != -EINVAL)
			return fail("write of an unknown cookie was not refused", w < 0 ? (int)w : EIO);
		printf("response q%u cookie %u success rejected EINVAL\n", q, r.cookie);
	}
	for (long i = 0; i < queued; i++) {
		struct iommu_hwpt_pgfault f = {
			.flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE, .dev_id = dev,
			.grpid = (uint32_t)(400 + i), .perm = IOMMU_PGFAULT_PERM_READ,
			.addr = 0x900000ull + (uint64_t)i * 0x1000,
		};

		rc = iopf_target_inject(t, &f);
		if (rc)
			return fail("inject", rc);
		printf("auto q%u cookie 0\n", q);
	}
	for (size_t i = 0; i < npending; i++)
		printf("auto q%u cookie %u\n", q, pending[i]);
	pause_ms(sleep_ms);
	rc = iopf_target_detach(t, dev);
	if (rc)
		return fail("detach", rc);
	iopf_target_close(t);
	return 0;
}
