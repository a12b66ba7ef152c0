// SPDX-License-Identifier: MIT
/*
 * The replay's kernel-fd transport (lib/replay-kfd.c): what the tap saw
 * the handler read and write, as records, reaches the session as reads
 * and answers on the tap's clock.  No tap here: the records are given.
 */
#include <errno.h>
#include <string.h>

#include "iopf.h"
#include "tap.h"
#include "hfd.h"

TAP_LOG_CAPTURE

static struct iopf_rec fault(uint32_t q, uint64_t t_us, uint32_t grpid, bool last, uint32_t cookie)
{
	struct iopf_rec r = { .type = IOPF_REC_FAULT, .queue_id = q };

	r.ts.tv_sec = (time_t)(t_us / 1000000);
	r.ts.tv_nsec = (long)(t_us % 1000000) * 1000;
	r.u.fault = (struct iommu_hwpt_pgfault){ .dev_id = 1, .grpid = grpid, .cookie = cookie,
						 .perm = IOMMU_PGFAULT_PERM_READ, .addr = 0x1000 * cookie,
						 .flags = last ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0 };
	return r;
}

static struct iopf_rec response(uint32_t q, uint64_t t_us, uint32_t cookie, uint32_t status)
{
	struct iopf_rec r = { .type = IOPF_REC_RESPONSE, .queue_id = q, .status = status };

	r.ts.tv_sec = (time_t)(t_us / 1000000);
	r.ts.tv_nsec = (long)(t_us % 1000000) * 1000;
	r.u.resp = (struct iommu_hwpt_page_response){ .cookie = cookie, .code = 0 };
	return r;
}

int main(void)
{
	struct test_host th;
	struct iopf_hfd *h;
	struct iopf_session_counts c;
	struct iopf_rec r;
	uint32_t q;

	host_init(&th, &tlog);
	q = iopf_target_queue_id(th.t);
	is(iopf_hfd_kfd_new(&h, &th.host, NULL), 0, "kernel-fd transport over no tap");
	ok(strstr(h->ops->name, "tap") != NULL, "named the queue's own fd, seen through the tap");
	is(h->ops->wait_ms, 10, "the event loop looks at the tap every 10 ms");
	ok(!h->ops->gone || !h->ops->gone(h), "a handler on the kernel's fd is never seen gone");
	is(h->ops->event(h, 0, 0), 0, "an fd not the tap's is not its own");

	/* one read of two groups (3 records) at t=10 s, one of one group at t=11 s */
	r = fault(q, 10000000, 1, false, 1);
	iopf_hfd_kfd_note(h, &r);
	r = fault(q, 10000000, 1, true, 1);
	iopf_hfd_kfd_note(h, &r);
	r = fault(q, 10000000, 2, true, 2);
	iopf_hfd_kfd_note(h, &r);
	c = host_counts(&th);
	is(c.reads, 0, "a read's records are gathered until its end");
	r = fault(q + 1, 10500000, 9, true, 9);	/* another queue's */
	iopf_hfd_kfd_note(h, &r);
	r = fault(q, 11000000, 3, true, 3);
	iopf_hfd_kfd_note(h, &r);
	c = host_counts(&th);
	ok(c.reads == 1 && c.groups == 2 && c.faults == 3, "a new time stamp ends the read: 1 read, 2 groups, 3 faults");
	iopf_hfd_kfd_flush(h);
	c = host_counts(&th);
	ok(c.reads == 2 && c.groups == 3 && c.faults == 4 && c.outstanding == 3,
	   "flush: the last read noted, the other queue's record not (2 reads, 3 groups, 4 faults)");
	ok(th.refreshes > 0, "the host was told its counts changed");

	r = response(q, 11000100, 1, 0);
	iopf_hfd_kfd_note(h, &r);
	r = response(q, 11000200, 3, EINVAL);
	iopf_hfd_kfd_note(h, &r);
	iopf_hfd_kfd_flush(h);
	c = host_counts(&th);
	ok(c.responses == 2 && c.accepted == 1 && c.outstanding == 2,
	   "the kernel's verdicts: 2 responses, 1 accepted, 2 outstanding");

	/* the window: the tap decodes IOPF_TAP_READ_RECORDS records of a read */
	ok(h->ops->sees(h, IOPF_TAP_READ_RECORDS - 4, 4), "%d unread with groups of 4: all seen",
	   IOPF_TAP_READ_RECORDS - 4);
	ok(!h->ops->sees(h, IOPF_TAP_READ_RECORDS - 3, 4), "%d unread with groups of 4: not",
	   IOPF_TAP_READ_RECORDS - 3);

	/* what the trace buffer lost is told at the end */
	r = (struct iopf_rec){ .type = IOPF_REC_LOST, .queue_id = 0 };
	r.u.lost = 5;
	iopf_hfd_kfd_note(h, &r);
	warnings = 0;
	is(h->ops->finish(h), 0, "finish");
	ok(warnings == 1 && strstr(last_msg, "could not see 5 records"), "the loss is told: %s", last_msg);
	is(th.err, 0, "no runtime error");
	h->ops->free(h);
	host_fini(&th);
	return tap_done();
}
