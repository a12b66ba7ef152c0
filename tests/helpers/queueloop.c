// SPDX-License-Identifier: MIT
/*
 * queueloop CAPTURE: the baseline of `replay --topspeed --target sim`
 * with the builtin handler.  One process, no checker, no report: each
 * FAULT of the capture is injected into libiopf's queue model, and
 * after every 64 complete groups (as replay's builtin handler does) the
 * waiting groups are read and each answered with one write.  What is left of replay's time above this
 * is replay's own work.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "iopf.h"

/* Read every waiting group and answer each with one write; returns the groups. */
static unsigned long long drain(struct iopf_queue *q, struct iommu_hwpt_pgfault *buf, size_t cap)
{
	unsigned long long groups = 0;
	ssize_t n;

	while ((n = iopf_queue_read(q, buf, cap)) >= (ssize_t)sizeof(buf[0])) {
		uint32_t last = UINT32_MAX;

		for (size_t i = 0; i < (size_t)n / sizeof(buf[0]); i++) {
			struct iommu_hwpt_page_response resp = { .cookie = buf[i].cookie };

			if (buf[i].cookie == last)
				continue;	/* a group's records share one cookie */
			last = buf[i].cookie;
			iopf_queue_write(q, &resp, sizeof(resp));
			groups++;
		}
	}
	return groups;
}

int main(int argc, char **argv)
{
	struct iommu_hwpt_pgfault buf[256];
	struct iopf_reader *rd;
	struct iopf_queue *q;
	struct iopf_rec r;
	unsigned long long groups = 0;
	unsigned int pending = 0;
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
		if (rc < 0 || r.type != IOPF_REC_FAULT)
			continue;
		iopf_queue_attach(q, r.u.fault.dev_id);
		iopf_queue_inject(q, &r.u.fault);
		/* as replay's builtin handler: a read every 64 groups */
		if ((r.u.fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE) && ++pending == 64) {
			groups += drain(q, buf, sizeof(buf));
			pending = 0;
		}
	}
	groups += drain(q, buf, sizeof(buf));
	printf("%llu groups\n", groups);
	iopf_queue_free(q);
	iopf_reader_free(rd);
	return 0;
}
