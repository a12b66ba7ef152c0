// SPDX-License-Identifier: MIT
/*
 * queueloop CAPTURE: the baseline of `replay --topspeed --target sim`
 * with the builtin handler.  One process, no checker, no report: each
 * FAULT of the capture is injected into libiopf's queue model, and at a
 * group's LAST_PAGE the group is read back and answered with one
 * write, as a handler would.  What is left of replay's time above this
 * is replay's own work.
 */
#include <stdio.h>
#include <stdlib.h>

#include "iopf.h"

int main(int argc, char **argv)
{
	struct iommu_hwpt_pgfault buf[256];
	struct iopf_reader *rd;
	struct iopf_queue *q;
	struct iopf_rec r;
	unsigned long long groups = 0;
	char err[512];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: queueloop CAPTURE\n");
		return 64;
	}
	if (iopf_reader_open(&rd, argv[1], err, sizeof(err)) || iopf_queue_new(&q, 1)) {
		fprintf(stderr, "queueloop: %s\n", err);
		return 2;
	}
	while ((rc = iopf_reader_next(rd, &r)) != 0) {
		struct iommu_hwpt_page_response resp = { 0 };
		ssize_t n;

		if (rc < 0 || r.type != IOPF_REC_FAULT)
			continue;
		iopf_queue_attach(q, r.u.fault.dev_id);
		iopf_queue_inject(q, &r.u.fault);
		if (!(r.u.fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
			continue;
		n = iopf_queue_read(q, buf, sizeof(buf));
		if (n < (ssize_t)sizeof(buf[0]))
			continue;
		resp.cookie = buf[n / sizeof(buf[0]) - 1].cookie;
		iopf_queue_write(q, &resp, sizeof(resp));
		groups++;
	}
	printf("%llu groups\n", groups);
	iopf_queue_free(q);
	iopf_reader_free(rd);
	return 0;
}
