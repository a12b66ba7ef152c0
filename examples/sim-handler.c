// SPDX-License-Identifier: MIT
/*
 * A fault handler against libiopf's userspace fault queue ("sim"), the
 * way a VMM's test harness would drive it: play the device (inject a few
 * fault groups), be the handler (read whole groups, answer each with the
 * cookie the queue handed out), and let the checker judge every answer.
 *
 *   cc sim-handler.c $(pkg-config --cflags --libs iopf) -o sim-handler
 *   ./sim-handler [GROUPS]      prints the check report as JSON, exit 0 if ok
 *
 * The kernel's fault fd behaves the same way: see iopftool-replay(8) and
 * drivers/iommu/iommufd/fault.c: iommufd_fault_fops_read()/_write().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf.h>

static int inject_group(struct iopf_target *t, uint32_t dev, uint32_t grpid, int pages)
{
	for (int i = 0; i < pages; i++) {
		struct iommu_hwpt_pgfault f = {
			.flags = i == pages - 1 ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0,
			.dev_id = dev,
			.grpid = grpid,
			.perm = IOMMU_PGFAULT_PERM_READ,
			.addr = 0x100000ull * grpid + 0x1000ull * i,
		};
		int rc = iopf_target_inject(t, &f);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Read every waiting group and answer each one: the handler's side. */
static int handle(struct iopf_target *t, struct iopf_check *chk, uint32_t queue)
{
	struct iommu_hwpt_pgfault recs[64];
	ssize_t n = iopf_target_read(t, recs, sizeof(recs));

	if (n < 0)
		return (int)n;
	size_t count = (size_t)n / sizeof(recs[0]), first = 0;
	for (size_t i = 0; i < count; i++) {
		if (!(recs[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
			continue;	/* reads return whole groups, LAST_PAGE last */
		uint64_t now = iopf_time_now();
		iopf_check_delivered(chk, queue, recs + first, i - first + 1, now);
		struct iommu_hwpt_page_response r = {
			.cookie = recs[i].cookie,	/* echo the cookie, not grpid */
			.code = IOMMUFD_PAGE_RESP_SUCCESS,
		};
		ssize_t w = iopf_target_write(t, &r, sizeof(r));
		uint64_t lat;
		iopf_check_response(chk, queue, &r, w < 0 ? (uint32_t)-w : 0, iopf_time_now(), &lat);
		first = i + 1;
	}
	return (int)count;
}

int main(int argc, char **argv)
{
	int groups = argc > 1 ? atoi(argv[1]) : 8;
	struct iopf_target *t;
	struct iopf_check *chk;
	struct iopf_check_cfg cfg = { .deadline_ns = 0 };
	struct iopf_report rep;
	char err[256];
	uint32_t dev;
	int rc;

	if ((rc = iopf_target_open(&t, "sim", NULL, err, sizeof(err))) < 0) {
		fprintf(stderr, "sim-handler: %s\n", err);
		return 2;
	}
	if ((rc = iopf_target_device(t, 1, &dev)) < 0 || (rc = iopf_check_new(&chk, &cfg)) < 0) {
		fprintf(stderr, "sim-handler: %s\n", strerror(-rc));
		return 2;
	}
	for (int g = 0; g < groups && rc >= 0; g++) {
		rc = inject_group(t, dev, (uint32_t)g % 512, 1 + g % 3);
		if (rc >= 0)
			rc = handle(t, chk, iopf_target_queue_id(t));
	}
	if (rc < 0) {
		fprintf(stderr, "sim-handler: %s\n", strerror(-rc));
		return 2;
	}
	iopf_check_finish(chk, &rep);
	struct iopf_out *o = iopf_out_new(stdout, IOPF_OUT_JSON);
	iopf_report_print(o, "-", "sim", "sim-handler", &rep);
	iopf_out_free(o);
	iopf_check_free(chk);
	iopf_target_close(t);
	return rep.ok ? 0 : 1;
}
