// SPDX-License-Identifier: MIT
/*
 * repro-cookie0: minimal reproducer of an iommufd fault queue bug, against
 * the raw uAPI and the iommufd selftest mock (CONFIG_IOMMUFD_TEST=y,
 * CONFIG_IOMMU_IOPF=y).  Standalone: only <linux/iommufd.h>, no libiopf.
 *
 * The bug (drivers/iommu/iommufd/fault.c in 6.12, eventq.c from 6.15:
 * iommufd_fault_fops_write() and iommufd_fault_fops_read()): the response
 * xarray is XA_FLAGS_ALLOC1, so cookie 0 is never meant to be handed out.
 * But write() passes the user's cookie straight to
 * xa_erase(&fault->response, response.cookie).  A response {cookie 0,
 * valid code} written while any group is outstanding returns EINVAL, yet
 * the erase replaces the reserved zero entry at index 0 with NULL and
 * marks index 0 free.  read() allocates with xa_limit_32b (minimum 0), so
 * from then on the next group read gets cookie 0.
 * A fix is one line: reject cookie 0 in write(), or allocate with
 * XA_LIMIT(1, U32_MAX).
 *
 * Steps: trigger fault A, read it (cookie 1), write {0, SUCCESS} (EINVAL),
 * trigger fault B, read it: cookie 0 means the bug is present.
 *
 * Exit status: 0 the kernel is fixed (B got a cookie other than 0);
 * 1 the bug is present; 2 the test could not run (setup failed: says why).
 * Suitable for tools/testing/selftests/iommu (as a TEST_F of iommufd_ioas).
 *
 * Build: cc -I KERNEL/usr/include -o repro-cookie0 repro-cookie0.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>

/* drivers/iommu/iommufd/iommufd_test.h (not installed as uAPI); stable 6.12..7.3 */
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32)
#define IOMMU_TEST_OP_MOCK_DOMAIN 2
#define IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE 10
#define IOMMU_TEST_OP_TRIGGER_IOPF 15
#define IOMMU_HWPT_DATA_SELFTEST 0xdead
#define IOMMU_TEST_IOTLB_DEFAULT 0xbadbeef

struct test_cmd {
	__u32 size, op, id, __reserved;
	union {
		struct { __u32 out_stdev_id, out_hwpt_id, out_idev_id; } mock_domain;
		struct { __u32 pt_id; } mock_domain_replace;
		struct { __u32 dev_id, pasid, grpid, perm; __u64 addr; } trigger_iopf;
		__u8 pad[48];
	};
	__u32 last;
};
_Static_assert(sizeof(struct test_cmd) == 72, "struct iommu_test_cmd is 72 bytes");

static int iommufd = -1;

static int setup_fail(const char *what)
{
	fprintf(stderr, "repro-cookie0: cannot run: %s: %s\n", what, strerror(errno));
	return 2;
}

static int test_cmd(struct test_cmd *c)
{
	c->size = sizeof(*c);
	return ioctl(iommufd, IOMMU_TEST_CMD, c);
}

static int trigger(__u32 idev, __u32 grpid)
{
	struct test_cmd c = {
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = { .dev_id = idev, .pasid = 1, .grpid = grpid,
				  .perm = IOMMU_PGFAULT_PERM_READ, .addr = 0x1000ull * grpid },
	};

	return test_cmd(&c);
}

/* Read one record; its cookie in *cookie.  -1 with errno on failure. */
static int read_one(int fault_fd, __u32 *cookie)
{
	struct iommu_hwpt_pgfault f;
	ssize_t n = read(fault_fd, &f, sizeof(f));

	if (n != (ssize_t)sizeof(f)) {
		if (n >= 0)
			errno = n ? EIO : ENODATA;
		return -1;
	}
	*cookie = f.cookie;
	return 0;
}

static ssize_t respond(int fault_fd, __u32 cookie)
{
	struct iommu_hwpt_page_response r = { .cookie = cookie,
					      .code = IOMMUFD_PAGE_RESP_SUCCESS };

	return write(fault_fd, &r, sizeof(r));
}

int main(void)
{
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct test_cmd md = { .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	struct test_cmd rep = { .op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE };
	__u32 data = IOMMU_TEST_IOTLB_DEFAULT;	/* struct iommu_hwpt_selftest.iotlb */
	struct iommu_hwpt_alloc parent = { .size = sizeof(parent),
					   .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
	struct iommu_hwpt_alloc nested = { .size = sizeof(nested),
					   .flags = IOMMU_HWPT_FAULT_ID_VALID,
					   .data_type = IOMMU_HWPT_DATA_SELFTEST,
					   .data_len = sizeof(data),
					   .data_uptr = (uintptr_t)&data };
	__u32 a, b, idev;
	ssize_t w;

	iommufd = open("/dev/iommu", O_RDWR);
	if (iommufd < 0)
		return setup_fail("open /dev/iommu");
	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas))
		return setup_fail("IOMMU_IOAS_ALLOC");
	md.id = ioas.out_ioas_id;
	if (test_cmd(&md))
		return setup_fail("IOMMU_TEST_OP_MOCK_DOMAIN (CONFIG_IOMMUFD_TEST?)");
	idev = md.mock_domain.out_idev_id;
	parent.dev_id = idev;
	parent.pt_id = ioas.out_ioas_id;
	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &parent))
		return setup_fail("IOMMU_HWPT_ALLOC (nest parent)");
	if (ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fa))
		return setup_fail("IOMMU_FAULT_QUEUE_ALLOC");
	nested.dev_id = idev;
	nested.pt_id = parent.out_hwpt_id;
	nested.fault_id = fa.out_fault_id;
	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &nested))
		return setup_fail("IOMMU_HWPT_ALLOC (nested, with the fault queue)");
	rep.id = md.mock_domain.out_stdev_id;
	rep.mock_domain_replace.pt_id = nested.out_hwpt_id;
	if (test_cmd(&rep))
		return setup_fail("IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE (CONFIG_IOMMU_IOPF?)");

	if (trigger(idev, 1) || read_one(fa.out_fault_fd, &a))
		return setup_fail("trigger and read of fault A");
	printf("fault A read with cookie %u (outstanding)\n", a);
	w = respond(fa.out_fault_fd, 0);
	printf("response {cookie 0, SUCCESS} -> %s\n", w < 0 ? strerror(errno) : "accepted");
	if (w >= 0) {
		fprintf(stderr, "repro-cookie0: cannot run: write of cookie 0 was accepted\n");
		return 2;
	}
	if (trigger(idev, 2) || read_one(fa.out_fault_fd, &b))
		return setup_fail("trigger and read of fault B");
	printf("fault B read with cookie %u\n", b);
	if (b != 0) {
		printf("ok: cookie 0 was not handed out: the kernel is fixed\n");
		return 0;
	}
	w = respond(fa.out_fault_fd, 0);
	printf("response {cookie 0, SUCCESS} -> %s\n",
	       w < 0 ? strerror(errno) : "accepted (it answered fault B)");
	printf("BUG: the fault queue handed out cookie 0 after a rejected response with "
	       "cookie 0 (xa_erase of index 0 in iommufd_fault_fops_write())\n");
	return 1;
}
