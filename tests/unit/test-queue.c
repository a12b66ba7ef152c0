// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/queue.c, the userspace model of the kernel fault
 * queue, and for the "sim" back-end over it.  The behaviours are those of
 * doc/kernel-notes.md (its §N are cited).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "internal.h"
#include "tap.h"

#define LAST IOMMU_PGFAULT_FLAGS_LAST_PAGE
#define PASID IOMMU_PGFAULT_FLAGS_PASID_VALID
#define FSZ 40

static struct iommu_hwpt_pgfault mkfault(uint32_t dev, uint32_t grpid, uint32_t flags,
					 uint64_t addr)
{
	return (struct iommu_hwpt_pgfault){
		.flags = flags, .dev_id = dev, .grpid = grpid,
		.perm = IOMMU_PGFAULT_PERM_READ, .addr = addr,
	};
}

static int inject(struct iopf_queue *q, uint32_t dev, uint32_t grpid, uint32_t flags,
		  uint64_t addr)
{
	struct iommu_hwpt_pgfault f = mkfault(dev, grpid, flags, addr);

	return iopf_queue_inject(q, &f);
}

/* A queue with device 1 attached. */
static struct iopf_queue *newq(void)
{
	struct iopf_queue *q = NULL;
	int rc = iopf_queue_new(&q, 7);

	if (rc == 0)
		rc = iopf_queue_attach(q, 1);
	if (!ok(rc == 0 && q, "queue created and device attached (rc %d)", rc))
		exit(tap_done() | 1);
	return q;
}

static ssize_t answer(struct iopf_queue *q, uint32_t cookie, uint32_t code)
{
	struct iommu_hwpt_page_response r = { .cookie = cookie, .code = code };

	return iopf_queue_write(q, &r, sizeof(r));
}

/* Read one single-record group and return its cookie (0 on failure). */
static uint32_t read1(struct iopf_queue *q)
{
	struct iommu_hwpt_pgfault f;

	if (iopf_queue_read(q, &f, sizeof(f)) != FSZ)
		return 0;
	return f.cookie;
}

static bool fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_espipe(void)
{
	struct iopf_queue *q = newq();
	struct iommu_hwpt_pgfault buf[4];
	struct iommu_hwpt_page_response r[2] = { { 0 } };

	inject(q, 1, 1, LAST, 0x1000);
	is(iopf_queue_read(q, buf, 10), -ESPIPE, "1.5: read of 10 bytes is ESPIPE");
	is(iopf_queue_read(q, buf, 41), -ESPIPE, "1.5: read of 41 bytes is ESPIPE");
	is(iopf_queue_read(q, buf, 79), -ESPIPE, "1.5: read of 79 bytes is ESPIPE");
	is(iopf_queue_read(q, buf, (size_t)40 << 26), -ESPIPE,
	   "1.5: read >= MAX_RW_COUNT is clamped to a non-multiple: ESPIPE");
	is(iopf_queue_write(q, r, 4), -ESPIPE, "1.6: write of 4 bytes is ESPIPE");
	is(iopf_queue_write(q, r, 12), -ESPIPE, "1.6: write of 12 bytes is ESPIPE");
	is(iopf_queue_poll(q) & POLLIN, POLLIN, "ESPIPE reads left the group queued");
	is(iopf_queue_read(q, buf, 160), FSZ, "a multiple of 40 reads the group");
	is(iopf_queue_write(q, r, 0), 0, "1.6: write of 0 bytes returns 0");
	iopf_queue_free(q);
}

static void test_empty_and_zero(void)
{
	struct iopf_queue *q = newq();
	struct iommu_hwpt_pgfault buf[2];

	is(iopf_queue_read(q, buf, sizeof(buf)), 0, "1.5: read of an empty queue returns 0");
	is(iopf_queue_read(q, buf, 0), 0, "1.5: read of 0 bytes on an empty queue returns 0");
	is(iopf_queue_read(q, NULL, 80), 0, "1.5: empty queue never touches the buffer");
	inject(q, 1, 1, LAST, 0x1000);
	is(iopf_queue_read(q, buf, 0), -EINVAL, "1.5: read of 0 bytes with a group pending is EINVAL");
	is(iopf_queue_read(q, NULL, 80), -EFAULT, "1.5: bad buffer is EFAULT");
	is(iopf_queue_read(q, buf, sizeof(buf)), FSZ, "the group is still there after both");
	is(buf[0].cookie, 1, "and gets cookie 1 (the failed reads allocated none)");
	is(iopf_queue_read(q, buf, sizeof(buf)), 0, "read after draining returns 0 (not EOF)");
	iopf_queue_free(q);
}

static void test_fields(void)
{
	struct iopf_queue *q = newq();
	struct iommu_hwpt_pgfault f = mkfault(1, 0x1ff, LAST | PASID | 0x4 | 0x80, 0xdeadbeef123);
	struct iommu_hwpt_pgfault out;

	f.pasid = 42;
	f.perm = 0xf;
	f.length = 4096;
	f.__reserved = 0x55;
	f.cookie = 0x1234;
	is(iopf_queue_inject(q, &f), 0, "inject a complete fault");
	is(iopf_queue_read(q, &out, sizeof(out)), FSZ, "read it");
	is(out.flags, LAST | PASID | 0x4 | 0x80, "1.10: flags copied verbatim, unknown bits kept");
	is(out.dev_id, 1, "dev_id kept");
	is(out.pasid, 42, "pasid kept");
	is(out.grpid, 0x1ff, "grpid kept");
	is(out.perm, 0xf, "perm kept");
	ok(out.addr == 0xdeadbeef123ull, "addr kept");
	is(out.length, 0, "1.10: the kernel always writes length 0");
	is(out.__reserved, 0, "1.10: __reserved is 0");
	is(out.cookie, 1, "1.9: cookie assigned at read, not the injected one");
	iopf_queue_free(q);
}

static void test_first_group_too_big(void)
{
	struct iopf_queue *q = newq();
	struct iommu_hwpt_pgfault buf[4];

	inject(q, 1, 3, 0, 0x1000);
	inject(q, 1, 3, 0, 0x2000);
	inject(q, 1, 3, LAST, 0x3000);
	is(iopf_queue_read(q, buf, 80), -EINVAL, "1.5: 3-record group into 80 bytes is EINVAL");
	is(iopf_queue_poll(q), POLLOUT | POLLIN | POLLRDNORM, "the group is still pending");
	is(iopf_queue_read(q, buf, 120), 120, "120 bytes read the whole group");
	is(buf[0].cookie, 1, "cookie 1 on record 1 (no cookie burnt by the EINVAL)");
	is(buf[1].cookie, 1, "cookie 1 on record 2");
	is(buf[2].cookie, 1, "cookie 1 on record 3");
	ok(buf[0].addr == 0x1000 && buf[1].addr == 0x2000 && buf[2].addr == 0x3000,
	   "1.4: records in arrival order");
	iopf_queue_free(q);
}

static void test_packing(void)
{
	struct iopf_queue *q = newq();
	struct iommu_hwpt_pgfault buf[8];
	static const int sizes[] = { 1, 2, 1, 3 };
	uint64_t a = 0x1000;

	for (int g = 0; g < 4; g++)
		for (int i = 0; i < sizes[g]; i++)
			inject(q, 1, 10 + g, i == sizes[g] - 1 ? LAST : 0, a += 0x1000);
	is(iopf_queue_read(q, buf, 5 * FSZ), 4 * FSZ,
	   "1.5: groups of 1,2,1 packed into a 5-record read, the 3-group does not fit");
	ok(buf[0].grpid == 10 && buf[1].grpid == 11 && buf[2].grpid == 11 && buf[3].grpid == 12,
	   "FIFO group order");
	ok(buf[0].cookie == 1 && buf[1].cookie == 2 && buf[2].cookie == 2 && buf[3].cookie == 3,
	   "one cookie per group, identical within the group");
	is(iopf_queue_read(q, buf, 2 * FSZ), -EINVAL, "the 3-group alone does not fit 2 records");
	is(iopf_queue_read(q, buf, 8 * FSZ), 3 * FSZ, "then reads whole");
	ok(buf[0].cookie == 4 && buf[1].cookie == 4 && buf[2].cookie == 4, "with cookie 4");
	ok(buf[2].flags == LAST && buf[0].flags == 0, "LAST_PAGE record last");
	iopf_queue_free(q);
}

static void test_cookie_lowest_free(void)
{
	struct iopf_queue *q = newq();

	for (int i = 0; i < 5; i++)
		inject(q, 1, i, LAST, 0x1000);
	is(read1(q), 1, "1.9: first cookie is 1");
	is(read1(q), 2, "second cookie is 2");
	is(read1(q), 3, "third cookie is 3");
	is(answer(q, 2, 0), 8, "answer cookie 2");
	is(read1(q), 2, "1.9: cookie 2 reused at once (lowest free, not cyclic)");
	is(answer(q, 1, 1), 8, "answer cookie 1 INVALID");
	is(answer(q, 3, 0), 8, "answer cookie 3");
	is(read1(q), 1, "lowest free is 1 again");
	for (int i = 0; i < 3; i++)
		inject(q, 1, i, LAST, 0x1000);
	is(read1(q), 3, "then 3");
	is(read1(q), 4, "then the high-water mark + 1");
	is(answer(q, 4, 0), 8, "answer the highest");
	is(answer(q, 3, 0), 8, "and the next highest");
	is(read1(q), 3, "lowest free is 3 after freeing the top two");
	iopf_queue_free(q);
}

static void test_write_rules(void)
{
	struct iopf_queue *q = newq();
	struct iopf_queue_counts c;
	uint32_t ck[4];
	struct iommu_hwpt_page_response r[4];

	for (int i = 0; i < 4; i++) {
		inject(q, 1, i, LAST, 0x1000);
		ck[i] = read1(q);
	}
	is(answer(q, ck[0], 2), -EINVAL, "1.6: code 2 is EINVAL");
	is(answer(q, ck[0], 0xffffffff), -EINVAL, "1.6: code 0xffffffff is EINVAL");
	is(answer(q, 99, 2), -EINVAL, "bad code with bad cookie is EINVAL");
	/* cookie 0 while groups are outstanding: test_cookie_zero_bug() */
	is(answer(q, 99, 0), -EINVAL, "unknown cookie is EINVAL");
	is(answer(q, ck[0], 0), 8, "1.6: code is checked before the cookie is taken: still valid");
	is(answer(q, ck[0], 0), -EINVAL, "1.6: a second answer to the same cookie is EINVAL");
	r[0] = (struct iommu_hwpt_page_response){ ck[1], 0 };
	r[1] = (struct iommu_hwpt_page_response){ ck[2], 1 };
	r[2] = (struct iommu_hwpt_page_response){ 77, 0 };
	r[3] = (struct iommu_hwpt_page_response){ ck[3], 0 };
	is(iopf_queue_write(q, r, sizeof(r)), 16, "1.6: partial write returns 8*n, stops at bad entry");
	is(answer(q, ck[3], 0), 8, "the entry after the bad one was not applied");
	is(answer(q, ck[1], 0), -EINVAL, "applied entries are gone");
	inject(q, 1, 9, LAST, 0x1000);
	read1(q);
	inject(q, 1, 9, LAST, 0x1000);
	is(read1(q), 2, "cookies 1 and 2 outstanding");
	r[0] = (struct iommu_hwpt_page_response){ 1, 0 };
	r[1] = (struct iommu_hwpt_page_response){ 1, 0 };
	is(iopf_queue_write(q, r, 16), 8, "duplicate inside one write: first applied, second EINVAL");
	r[0] = (struct iommu_hwpt_page_response){ 2, 3 };
	r[1] = (struct iommu_hwpt_page_response){ 2, 0 };
	is(iopf_queue_write(q, r, 16), -EINVAL, "bad code first: nothing applied, errno returned");
	is(iopf_queue_write(q, NULL, 8), -EFAULT, "bad buffer is EFAULT");
	iopf_queue_counts(q, &c);
	is(c.responses, 5, "responses counted (5 applied)");
	is(c.outstanding_groups, 1, "one group still outstanding");
	iopf_queue_free(q);
}

static void test_poll_and_eventfd(void)
{
	struct iopf_queue *q = newq();
	int fd = iopf_queue_fd(q);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN }, got;
	struct iommu_hwpt_pgfault buf[2];

	ok(fd >= 0, "the queue has an eventfd");
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	is(iopf_queue_poll(q), POLLOUT, "1.7: empty queue: POLLOUT only");
	ok(!fd_readable(fd), "eventfd not readable while empty");
	inject(q, 1, 1, 0, 0x1000);
	is(iopf_queue_poll(q), POLLOUT, "a partial fault alone is not pending");
	ok(!fd_readable(fd), "nor makes the eventfd readable");
	inject(q, 1, 1, LAST, 0x2000);
	inject(q, 1, 2, LAST, 0x3000);
	is(iopf_queue_poll(q), POLLOUT | POLLIN | POLLRDNORM, "1.7: pending: POLLOUT|POLLIN|POLLRDNORM");
	ok(fd_readable(fd), "eventfd readable while groups wait");
	is(epoll_wait(ep, &got, 1, 0), 1, "epoll reports it");
	is(epoll_wait(ep, &got, 1, 0), 1, "and again (level-triggered)");
	is(read1(q), 0, "a 40-byte read does not fit the 2-record group (EINVAL)");
	ok(fd_readable(fd), "eventfd still readable after a failed read");
	is(iopf_queue_read(q, buf, 80), 80, "read the first group");
	ok(fd_readable(fd), "still readable: one group waits");
	is(read1(q), 2, "read the second");
	ok(!fd_readable(fd), "eventfd drained when the deliver list empties");
	is(epoll_wait(ep, &got, 1, 0), 0, "epoll reports nothing");
	is(iopf_queue_poll(q), POLLOUT, "POLLOUT only with groups outstanding");
	iopf_queue_detach(q, 1);
	is(iopf_queue_poll(q) & (POLLHUP | POLLERR), 0, "1.7: no POLLHUP/POLLERR after detach");
	inject(q, 2, 1, LAST, 0x1000);
	ok(!fd_readable(fd), "unattached device's fault does not wake the eventfd");
	close(ep);
	iopf_queue_free(q);
}

static void test_unattached(void)
{
	struct iopf_queue *q = newq();
	struct iommu_hwpt_pgfault buf[2];
	struct iopf_queue_counts c;

	is(inject(q, 5, 1, LAST, 0x1000), -ENODEV, "1.4: fault of an unattached device is ENODEV");
	is(inject(q, 5, 2, 0, 0x1000), -ENODEV, "a partial one too");
	is(iopf_queue_read(q, buf, sizeof(buf)), 0, "neither is ever delivered");
	iopf_queue_counts(q, &c);
	is(c.no_handler, 2, "counted no_handler");
	is(c.delivered_groups, 0, "nothing delivered");
	is(c.injected, 2, "both counted injected");
	is(iopf_queue_detach(q, 5), -ENOENT, "detaching an unattached device is ENOENT");
	is(iopf_queue_attach(q, 1), 0, "attaching an attached device is a no-op");
	iopf_queue_free(q);
}

static void test_detach(void)
{
	struct iopf_queue *q = newq();
	struct iommu_hwpt_pgfault buf[4];
	struct iopf_queue_counts c;
	uint32_t c1, c2, c3;

	iopf_queue_attach(q, 2);
	inject(q, 1, 1, LAST, 0x1000);
	inject(q, 2, 1, LAST, 0x2000);
	inject(q, 1, 2, LAST, 0x3000);
	c1 = read1(q);
	c2 = read1(q);
	c3 = read1(q);
	ok(c1 == 1 && c2 == 2 && c3 == 3, "three groups outstanding, cookies 1 2 3");
	inject(q, 1, 3, LAST, 0x4000);
	inject(q, 2, 3, LAST, 0x5000);
	inject(q, 1, 4, LAST, 0x6000);
	inject(q, 1, 7, 0, 0x7000);	/* a partial of dev 1: dropped by the detach */
	is(iopf_queue_detach(q, 1), 0, "detach device 1");
	iopf_queue_counts(q, &c);
	is(c.auto_invalid, 4, "1.8: 2 outstanding + 2 pending groups of dev 1 answered INVALID");
	is(c.pending_groups, 1, "dev 2's pending group stays");
	is(c.outstanding_groups, 1, "dev 2's outstanding group stays");
	is(answer(q, c1, 0), -EINVAL, "1.8: write to an auto-answered cookie is EINVAL");
	is(answer(q, c3, 0), -EINVAL, "the other one too");
	is(iopf_queue_read(q, buf, sizeof(buf)), FSZ, "only dev 2's group is left to read");
	is(buf[0].dev_id, 2, "it is dev 2's");
	is(buf[0].cookie, 1, "1.9: it takes the cookie freed by the auto-answer");
	is(answer(q, c2, 0), 8, "dev 2's outstanding group still answerable");
	is(inject(q, 1, 7, LAST, 0x8000), -ENODEV, "1.8: later faults of dev 1 have no handler");
	iopf_queue_attach(q, 1);
	is(inject(q, 1, 7, LAST, 0x9000), 0, "after attach again faults are accepted");
	/* The kernel frees a detached device's partials (iopf_queue_remove_device). */
	is(iopf_queue_read(q, buf, sizeof(buf)), FSZ, "detach dropped the partial: a group of one");
	ok(buf[0].addr == 0x9000, "only the LAST_PAGE request after the re-attach");
	iopf_queue_free(q);
}

/*
 * The 6.12.117 kernel bug the differential test found (queue.c
 * cookie_take): a response with cookie 0 while a group is outstanding
 * erases the xarray's index-0 placeholder, and cookie 0 is handed out
 * from then on, for the life of the queue (scenario 18 on the kernel).
 */
static void test_cookie_zero_bug(void)
{
	struct iopf_queue *q = newq();

	is(answer(q, 0, 0), -EINVAL, "cookie 0 with nothing outstanding: EINVAL, harmless");
	inject(q, 1, 1, LAST, 0x1000);
	is(read1(q), 1, "first cookie is 1");
	is(answer(q, 0, 0), -EINVAL, "cookie 0 while 1 is outstanding: still EINVAL");
	inject(q, 1, 2, LAST, 0x2000);
	is(read1(q), 0, "kernel bug: the next group gets cookie 0");
	is(answer(q, 0, 0), 8, "and cookie 0 answers it");
	inject(q, 1, 3, LAST, 0x3000);
	is(read1(q), 0, "cookie 0 is reused while the xarray is not empty");
	is(answer(q, 0, 0), 8, "answered");
	is(answer(q, 1, 0), 8, "the last outstanding group answered: the xarray empties");
	inject(q, 1, 4, LAST, 0x4000);
	is(read1(q), 0, "still cookie 0 once the xarray is empty again");
	inject(q, 1, 5, LAST, 0x5000);
	is(read1(q), 1, "with 0 taken, the next is 1");
	iopf_queue_free(q);
}

/* The first experiment on a real 6.12 kernel with the mock (doc/kernel-notes.md §8). */
static void test_kernel_experiment(void)
{
	struct iopf_queue *q = newq();
	struct iommu_hwpt_pgfault buf[8];
	struct iommu_hwpt_page_response r[3] = { { 1, 0 }, { 99, 0 }, { 2, 0 } };

	inject(q, 1, 5, PASID, 0x1000);
	inject(q, 1, 5, PASID, 0x2000);
	inject(q, 1, 9, PASID | LAST, 0x9000);
	inject(q, 1, 5, PASID | LAST, 0x3000);
	is(iopf_queue_read(q, buf, FSZ), FSZ, "7: first read returns one record");
	ok(buf[0].grpid == 9 && buf[0].cookie == 1, "7: the grpid-9 group with cookie 1");
	is(iopf_queue_read(q, buf, 80), -EINVAL, "7: an 80-byte read is EINVAL");
	is(iopf_queue_read(q, buf, 320), 120, "7: a 320-byte read returns 3 records");
	ok(buf[0].grpid == 5 && buf[1].grpid == 5 && buf[2].grpid == 5, "7: all grpid 5");
	ok(buf[0].flags == 0x1 && buf[1].flags == 0x1 && buf[2].flags == 0x3,
	   "7: flags 0x1 0x1 0x3");
	ok(buf[0].addr == 0x1000 && buf[1].addr == 0x2000 && buf[2].addr == 0x3000,
	   "7: in arrival order");
	ok(buf[0].cookie == 2 && buf[1].cookie == 2 && buf[2].cookie == 2, "7: all cookie 2");
	is(iopf_queue_read(q, buf, 320), 0, "7: the next read returns 0");
	is(iopf_queue_write(q, r, 16), 8, "7: 16-byte write with a bad second cookie returns 8");
	is(answer(q, 2, 0), 8, "the group after the bad entry is still outstanding");
	iopf_queue_free(q);
}

static void test_grouping(void)
{
	struct iopf_queue *q = newq();
	struct iommu_hwpt_pgfault buf[8];
	struct iommu_hwpt_pgfault f;

	iopf_queue_attach(q, 2);
	f = mkfault(1, 5, PASID, 0x1000);
	f.pasid = 1;
	iopf_queue_inject(q, &f);
	f = mkfault(1, 5, PASID | LAST, 0x2000);
	f.pasid = 2;
	iopf_queue_inject(q, &f);
	is(iopf_queue_read(q, buf, 320), 80, "1.4: grpid matches across PASIDs: one 2-record group");
	ok(buf[0].pasid == 1 && buf[1].pasid == 2, "each record keeps its own PASID");
	inject(q, 1, 6, 0, 0x1000);
	inject(q, 2, 6, LAST, 0x2000);
	is(iopf_queue_read(q, buf, 320), FSZ, "1.4: partials are per device: dev 2's group alone");
	inject(q, 1, 6, 0, 0x3000);
	inject(q, 1, 6, LAST, 0x4000);
	is(iopf_queue_read(q, buf, 320), 3 * FSZ, "dev 1's grpid 6 gathers both partials");
	inject(q, 1, 6, LAST, 0x5000);
	is(iopf_queue_read(q, buf, 320), FSZ, "a completed grpid starts afresh");
	for (uint32_t g = 0; g < 300; g++)
		inject(q, 1, 1000 + g, 0, g);
	for (uint32_t g = 0; g < 300; g++)
		inject(q, 1, 1000 + (g * 7) % 300, 0, 0x10000 + g);
	bool good = true;
	for (uint32_t g = 0; g < 300; g++) {
		uint32_t id = 1000 + (g * 13) % 300;

		inject(q, 1, id, LAST, 0x20000 + g);
		good &= iopf_queue_read(q, buf, 320) == 3 * FSZ && buf[0].grpid == id &&
			buf[0].addr == id - 1000 && buf[1].addr >= 0x10000 && buf[2].addr == 0x20000 + g;
	}
	ok(good, "300 interleaved partial groups (hash growth) each complete with 3 records");
	iopf_queue_free(q);
}

static void test_counts(void)
{
	struct iopf_queue *q = newq();
	struct iopf_queue_counts c;
	struct iommu_hwpt_pgfault buf[4];

	inject(q, 1, 1, 0, 0);
	inject(q, 1, 1, LAST, 0);
	inject(q, 1, 2, LAST, 0);
	inject(q, 1, 3, LAST, 0);
	inject(q, 9, 3, LAST, 0);
	iopf_queue_read(q, buf, 120);
	answer(q, 1, 0);
	iopf_queue_counts(q, &c);
	is(c.injected, 5, "counts: injected");
	is(c.partial, 1, "counts: partial");
	is(c.delivered_groups, 3, "counts: delivered_groups");
	is(c.responses, 1, "counts: responses");
	is(c.no_handler, 1, "counts: no_handler");
	is(c.pending_groups, 1, "counts: pending_groups");
	is(c.outstanding_groups, 1, "counts: outstanding_groups");
	is(c.auto_invalid, 0, "counts: auto_invalid");
	iopf_queue_free(q);	/* destroy answers the rest; ASan checks for leaks */
}

static void test_sim_target(void)
{
	struct iopf_target t = { .fd = -1 };
	char err[256] = "";
	struct iommu_hwpt_pgfault f = mkfault(42, 1, LAST, 0x1000), out;
	struct iommu_hwpt_page_response r;
	uint32_t live = 0;

	is(iopf_target_open_sim(&t, "x", err, sizeof(err)), -EINVAL, "sim rejects an argument");
	ok(err[0] != '\0', "with a message: %s", err);
	is(iopf_target_open_sim(&t, "", err, sizeof(err)), 0, "sim opens");
	is(t.queue_id, 1, "sim queue id is 1");
	ok(t.max_group == SIZE_MAX, "sim injects groups of any size");
	ok(t.fd >= 0, "sim fd is the queue eventfd");
	is(t.ops->device(&t, 42, &live), 0, "device 42 created");
	is(live, 42, "identity dev_id map");
	is(t.ops->device(&t, 42, &live), 0, "mapping it again is fine");
	is(t.ops->inject(&t, &f), 0, "inject");
	ok(fd_readable(t.fd), "fd readable");
	is(t.ops->read(&t, &out, 41), -ESPIPE, "read passes the queue's errno");
	is(t.ops->read(&t, &out, sizeof(out)), FSZ, "read");
	r = (struct iommu_hwpt_page_response){ out.cookie, 0 };
	is(t.ops->write(&t, &r, sizeof(r)), 8, "write");
	is(t.ops->write(&t, &r, sizeof(r)), -EINVAL, "write again is EINVAL");
	is(t.ops->detach(&t, 42), 0, "detach");
	is(t.ops->inject(&t, &f), -ENODEV, "then inject is ENODEV");
	t.ops->close(&t);
}

/* Kernel versions: names, uname -r releases, sim:X.Y (doc/kernel-notes.md §10). */
static void test_kernel_models(void)
{
	enum iopf_kernel_model m = IOPF_KERNEL_NMODELS;
	struct iopf_target t = { .fd = -1 };
	struct iopf_queue *q = NULL;
	char err[256] = "";

	is(iopf_kernel_model_parse("6.12", &m), 0, "model 6.12 parses");
	is(m, IOPF_KERNEL_6_12, "as IOPF_KERNEL_6_12");
	is(iopf_kernel_model_parse("7.3", &m), 0, "model 7.3 parses");
	is(m, IOPF_KERNEL_7_3, "as IOPF_KERNEL_7_3");
	is(iopf_kernel_model_parse("7.30", &m), -EINVAL, "7.30 is no model");
	is(iopf_kernel_model_parse("", &m), -EINVAL, "the empty string is no model");
	ok(!strcmp(iopf_kernel_model_name(IOPF_KERNEL_7_3), "7.3"), "7.3 prints as 7.3");
	ok(!strcmp(iopf_kernel_model_name(IOPF_KERNEL_NMODELS), "?"), "an out-of-range model prints as ?");
	is(iopf_kernel_model_from_release("6.12.117-cloud-amd64", &m), 0, "release 6.12.117");
	is(m, IOPF_KERNEL_6_12, "6.12.117 follows 6.12");
	is(iopf_kernel_model_from_release("7.3.4", &m), 0, "release 7.3.4");
	is(m, IOPF_KERNEL_7_3, "7.3.4 follows 7.3");
	is(iopf_kernel_model_from_release("7.2.1", &m), 0, "release 7.2.1");
	is(m, IOPF_KERNEL_6_12, "7.2 follows the newest model not newer: 6.12");
	is(iopf_kernel_model_from_release("7.10.0", &m), 0, "release 7.10.0");
	is(m, IOPF_KERNEL_7_3, "7.10 follows 7.3 (numeric, not string, order)");
	is(iopf_kernel_model_from_release("8.0", &m), 0, "release 8.0");
	is(m, IOPF_KERNEL_7_3, "8.0 follows 7.3");
	is(iopf_kernel_model_from_release("5.15.0", &m), 0, "release 5.15.0");
	is(m, IOPF_KERNEL_6_12, "older kernels follow the oldest model");
	is(iopf_kernel_model_from_release("linux", &m), -EINVAL, "a release without MAJOR.MINOR");
	is(iopf_kernel_model_from_release("7", &m), -EINVAL, "a release without a minor");
	is(iopf_queue_new_version(&q, 1, IOPF_KERNEL_NMODELS), -EINVAL, "no queue for an unknown model");
	is(iopf_queue_new_version(&q, 1, IOPF_KERNEL_7_3), 0, "a 7.3 queue");
	is(iopf_queue_kernel_model(q), IOPF_KERNEL_7_3, "says it is 7.3");
	iopf_queue_free(q);
	is(iopf_queue_new(&q, 1), 0, "a default queue");
	is(iopf_queue_kernel_model(q), IOPF_KERNEL_DEFAULT, "follows IOPF_KERNEL_DEFAULT");
	iopf_queue_free(q);
	is(iopf_target_open_sim(&t, "7.3", err, sizeof(err)), 0, "sim:7.3 opens");
	is(t.model, IOPF_KERNEL_7_3, "sim:7.3 follows 7.3");
	t.ops->close(&t);
	is(iopf_target_open_sim(&t, "6.12", err, sizeof(err)), 0, "sim:6.12 opens");
	is(t.model, IOPF_KERNEL_6_12, "sim:6.12 follows 6.12");
	t.ops->close(&t);
	is(iopf_target_open_sim(&t, "6.11", err, sizeof(err)), -EINVAL, "sim:6.11 is refused");
	ok(strstr(err, "sim:6.12") != NULL, "naming the models: %s", err);
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define STRESS_GROUPS 100000
#define STRESS_MAXOUT 4096

struct stress {
	struct iopf_queue *q;
	uint64_t seed;
	uint32_t next_seq, read_seq;	/* groups injected / read so far */
	uint8_t size[STRESS_GROUPS];
	uint32_t order[STRESS_GROUPS];	/* seq of each group, in LAST_PAGE order */
	uint32_t ncompleted;
	bool used[STRESS_MAXOUT + 2];	/* reference cookie space */
	uint32_t out[STRESS_MAXOUT];	/* outstanding cookies */
	size_t nout;
	unsigned bad_group, bad_cookie, bad_lowest;
};

/*
 * Inject k groups with their partials interleaved, round by round, so the
 * short groups complete first; grpid = sequence number.  order[] keeps
 * the completion (LAST_PAGE) order, which is the delivery order.
 */
static void stress_inject(struct stress *s, uint32_t k)
{
	uint32_t first = s->next_seq, maxn = 0;

	for (uint32_t g = first; g < first + k; g++) {
		s->size[g] = 1 + rng(&s->seed) % 4;
		maxn = s->size[g] > maxn ? s->size[g] : maxn;
	}
	for (uint32_t i = 0; i < maxn; i++) {
		for (uint32_t g = first; g < first + k; g++) {
			bool last = i == s->size[g] - 1u;

			if (i >= s->size[g])
				continue;
			inject(s->q, 1, g, last ? LAST : 0, (uint64_t)g << 8 | i);
			if (last)
				s->order[s->ncompleted++] = g;
		}
	}
	s->next_seq += k;
}

static uint32_t stress_lowest(const struct stress *s)
{
	uint32_t id = 1;

	while (s->used[id])
		id++;
	return id;
}

/* Check one group read at recs; note its cookie. */
static void stress_check(struct stress *s, const struct iommu_hwpt_pgfault *recs, uint32_t seq)
{
	uint32_t ck = recs[0].cookie;

	if (ck == 0 || ck > STRESS_MAXOUT || s->used[ck])
		s->bad_cookie++;
	else if (ck != stress_lowest(s))
		s->bad_lowest++;
	for (uint32_t i = 0; i < s->size[seq]; i++)
		if (recs[i].cookie != ck || recs[i].grpid != seq ||
		    recs[i].addr != ((uint64_t)seq << 8 | i) ||
		    !!(recs[i].flags & LAST) != (i == s->size[seq] - 1u))
			s->bad_group++;
	if (ck && ck <= STRESS_MAXOUT) {
		s->used[ck] = true;
		s->out[s->nout++] = ck;
	}
}

static void stress_read(struct stress *s)
{
	static struct iommu_hwpt_pgfault buf[64];
	ssize_t n;

	while ((n = iopf_queue_read(s->q, buf, sizeof(buf))) > 0) {
		size_t off = 0;

		while (off < (size_t)n / FSZ && s->read_seq < s->ncompleted) {
			uint32_t seq = s->order[s->read_seq++];

			stress_check(s, &buf[off], seq);
			off += s->size[seq];
		}
	}
}

/* Answer m random outstanding cookies, in one write, in random order. */
static void stress_answer(struct stress *s, size_t m)
{
	struct iommu_hwpt_page_response r[64];

	for (size_t i = 0; i < m && s->nout; i++) {
		size_t j = rng(&s->seed) % s->nout;

		r[i] = (struct iommu_hwpt_page_response){ s->out[j], rng(&s->seed) & 1 };
		s->used[s->out[j]] = false;
		s->out[j] = s->out[--s->nout];
	}
	if (m && iopf_queue_write(s->q, r, m * sizeof(r[0])) != (ssize_t)(m * sizeof(r[0])))
		s->bad_cookie++;
}

static void test_stress(void)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct iopf_queue_counts c;

	s->q = newq();
	s->seed = 0x9e3779b97f4a7c15ull;
	while (s->next_seq < STRESS_GROUPS) {
		uint32_t k = 1 + rng(&s->seed) % 16;
		size_t m;

		if (k > STRESS_GROUPS - s->next_seq)
			k = STRESS_GROUPS - s->next_seq;
		stress_inject(s, k);
		stress_read(s);
		m = rng(&s->seed) % (s->nout > 2000 ? 40 : 17);
		stress_answer(s, m < s->nout ? m : s->nout);
	}
	is(s->read_seq, STRESS_GROUPS, "stress: every group read once, FIFO");
	is(s->bad_group, 0, "stress: records grouped, ordered, cookie-consistent");
	is(s->bad_cookie, 0, "stress: cookies unique among outstanding groups");
	is(s->bad_lowest, 0, "stress: every cookie is the lowest free id");
	iopf_queue_counts(s->q, &c);
	is(c.outstanding_groups, s->nout, "stress: outstanding count agrees");
	is(c.responses + c.outstanding_groups, STRESS_GROUPS, "stress: responses + outstanding");
	while (s->nout)
		stress_answer(s, s->nout < 64 ? s->nout : 64);
	is(s->bad_cookie, 0, "stress: all remaining answers accepted");
	iopf_queue_counts(s->q, &c);
	is(c.outstanding_groups, 0, "stress: nothing outstanding at the end");
	iopf_queue_free(s->q);
	free(s);
}

int main(void)
{
	test_espipe();
	test_empty_and_zero();
	test_fields();
	test_first_group_too_big();
	test_packing();
	test_cookie_lowest_free();
	test_write_rules();
	test_poll_and_eventfd();
	test_unattached();
	test_detach();
	test_kernel_experiment();
	test_cookie_zero_bug();
	test_grouping();
	test_counts();
	test_sim_target();
	test_kernel_models();
	test_stress();
	return tap_done();
}
