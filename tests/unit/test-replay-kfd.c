// SPDX-License-Identifier: MIT
/*
 * The replay's kernel-fd transport (lib/replay-kfd.c): what the tap saw
 * the handler read and write, as typed events, reaches the session as reads
 * and answers on the tap's clock.  No tap here: the events are given.
 */
#include <errno.h>
#include <string.h>

#include "iopf.h"
#include "tap.h"
#include "hfd.h"

TAP_LOG_CAPTURE

static struct iommu_hwpt_pgfault fault(uint32_t grpid, bool last, uint32_t cookie)
{
	return (struct iommu_hwpt_pgfault){ .dev_id = 1, .grpid = grpid, .cookie = cookie,
					    .perm = IOMMU_PGFAULT_PERM_READ, .addr = 0x1000 * cookie,
					    .flags = last ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0 };
}

static struct iopf_tap_event read_ev(uint32_t q, uint64_t t_us, const struct iommu_hwpt_pgfault *recs,
				     size_t n, uint64_t total)
{
	return (struct iopf_tap_event){ .kind = IOPF_TAP_EV_READ, .queue = q, .t_ns = t_us * 1000,
					.recs = recs, .n = n, .total = total,
					.ret = (int64_t)(total * IOPF_FAULT_SIZE) };
}

int main(void)
{
	struct test_host th;
	struct iopf_hfd *h;
	struct iopf_session_counts c;
	struct iopf_tap_event ev;
	uint32_t q;

	host_init(&th, &tlog);
	q = iopf_target_queue_id(th.t);
	is(iopf_hfd_kfd_new(&h, &th.host, NULL), 0, "kernel-fd transport over no tap");
	ok(strstr(h->ops->name, "tap") != NULL, "named the queue's own fd, seen through the tap");
	is(h->ops->wait_ms, 10, "the event loop looks at the tap every 10 ms");
	ok(!h->ops->gone || !h->ops->gone(h), "a handler on the kernel's fd is never seen gone");
	is(h->ops->event(h, 0, 0), 0, "an fd not the tap's is not its own");

	/* one read of two groups (3 records) at t=10 s, one of one group at t=11 s */
	struct iommu_hwpt_pgfault r1[3] = { fault(1, false, 1), fault(1, true, 1), fault(2, true, 2) };
	struct iommu_hwpt_pgfault r2[1] = { fault(3, true, 3) }, r9[1] = { fault(9, true, 9) };

	ev = read_ev(q, 10000000, r1, 3, 3);
	iopf_hfd_kfd_event(h, &ev);
	c = host_counts(&th);
	ok(c.reads == 1 && c.groups == 2 && c.faults == 3, "a READ event is one read: 2 groups, 3 faults");
	ev = read_ev(q + 1, 10500000, r9, 1, 1);	/* another queue's */
	iopf_hfd_kfd_event(h, &ev);
	ev = read_ev(q, 11000000, r2, 1, 1);
	iopf_hfd_kfd_event(h, &ev);
	iopf_hfd_kfd_flush(h);
	c = host_counts(&th);
	ok(c.reads == 2 && c.groups == 3 && c.faults == 4 && c.outstanding == 3,
	   "the other queue's read not noted (2 reads, 3 groups, 4 faults)");
	ok(th.refreshes > 0, "the host was told its counts changed");

	/* one write of three: the first accepted, the second (a duplicate of it) refused, the third never looked at */
	struct iommu_hwpt_page_response w[3] = { { .cookie = 1 }, { .cookie = 1 }, { .cookie = 2 } };

	ev = (struct iopf_tap_event){ .kind = IOPF_TAP_EV_WRITE, .queue = q, .t_ns = 11000100000ull,
				      .resps = w, .n = 3, .total = 3, .accepted = 1, .ret = 8,
				      .refused_errno = EINVAL, .refused_partial = true };
	iopf_hfd_kfd_event(h, &ev);
	/* the handler resubmits the rest: the duplicate refused again is not judged twice */
	ev = (struct iopf_tap_event){ .kind = IOPF_TAP_EV_WRITE, .queue = q, .t_ns = 11000200000ull,
				      .resps = w + 1, .n = 2, .total = 2, .accepted = 0, .ret = -EINVAL,
				      .refused_errno = EINVAL, .retry = true };
	iopf_hfd_kfd_event(h, &ev);
	iopf_hfd_kfd_flush(h);
	c = host_counts(&th);
	ok(c.responses == 2 && c.accepted == 1 && c.outstanding == 2,
	   "the kernel's verdicts: 2 responses (the duplicate once), 1 accepted, 2 outstanding");

	/* the window: the tap decodes IOPF_TAP_READ_RECORDS records of a read (no tap: the kprobe back-end's) */
	ok(h->ops->sees(h, IOPF_TAP_READ_RECORDS - 4, 4), "%d unread with groups of 4: all seen",
	   IOPF_TAP_READ_RECORDS - 4);
	ok(!h->ops->sees(h, IOPF_TAP_READ_RECORDS - 3, 4), "%d unread with groups of 4: not",
	   IOPF_TAP_READ_RECORDS - 3);

	/* what the tap's buffer lost is told at the end */
	ev = (struct iopf_tap_event){ .kind = IOPF_TAP_EV_LOST, .lost = 5 };
	iopf_hfd_kfd_event(h, &ev);
	warnings = 0;
	is(h->ops->finish(h), 0, "finish");
	ok(warnings == 1 && strstr(last_msg, "could not see 5 records"), "the loss is told: %s", last_msg);
	is(th.err, 0, "no runtime error");
	h->ops->free(h);
	host_fini(&th);
	return tap_done();
}
