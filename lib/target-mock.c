// SPDX-License-Identifier: MIT
/*
 * The "mock" target: a real kernel fault queue fed by the iommufd selftest
 * mock device (CONFIG_IOMMUFD_TEST, drivers/iommu/iommufd/selftest.c).
 * doc/kernel-notes.md §8 gives the ioctl sequence (the same on 6.12 and
 * 7.3), §7 the teardown rules (EBUSY).
 *
 * One iommufd context, one IOAS and one fault object per target.  Each
 * capture dev_id gets its own mock device, attached to a nested selftest
 * HWPT that carries the fault queue (6.12 cannot put a fault queue on a
 * paging HWPT):
 *
 *   IOAS <- MOCK_DOMAIN (stdev, idev) <- NEST_PARENT hwpt <- nested iopf
 *   hwpt (FAULT_ID_VALID, data 0xdead) <- MOCK_DOMAIN_REPLACE of the device
 *
 * Detach replaces the device back to the parent hwpt: the kernel answers
 * the device's groups INVALID and later faults find no handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

/*
 * From drivers/iommu/iommufd/iommufd_test.h (6.12; unchanged for these in 7.3): not a uAPI header, so
 * the layout is ours to keep in sync.  The ioctl's min_size is
 * offsetofend(last) = 68; we pass the full 72.
 */
#define IOMMU_TEST_CMD			_IO(IOMMUFD_TYPE, 0x80 + 32)	/* 0x3ba0 */
#define IOMMU_TEST_OP_MOCK_DOMAIN	2
#define IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE 10
#define IOMMU_TEST_OP_TRIGGER_IOPF	15
#define IOMMU_HWPT_DATA_SELFTEST	0xdead
#define IOMMU_TEST_IOTLB_DEFAULT	0xbadbeef
/*
 * tests/kernel/mock-partial-iopf-X.Y.patch (test kernels only): perm bit 31
 * makes the trigger a partial fault (LAST_PAGE clear); with dev_id 0 it is
 * a probe that returns 0.  Unpatched kernels fail the probe with ENOENT.
 */
#define MOCK_PERM_PARTIAL		(1u << 31)

struct iommu_test_cmd {
	__u32 size;
	__u32 op;
	__u32 id;
	__u32 __reserved;
	union {
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
		} mock_domain;
		struct {
			__u32 pt_id;
		} mock_domain_replace;
		struct {
			__u32 dev_id;
			__u32 pasid;
			__u32 grpid;
			__u32 perm;
			__u64 addr;
		} trigger_iopf;
		__u8 union_size[48];	/* the largest member ("dirty") */
	};
	__u32 last;
};

struct iommu_hwpt_selftest {
	__u32 iotlb;
};

_Static_assert(sizeof(struct iommu_test_cmd) == 72, "iommu_test_cmd is 72 bytes");
_Static_assert(offsetof(struct iommu_test_cmd, last) == 64, "test_cmd.last at 64");
_Static_assert(offsetof(struct iommu_test_cmd, mock_domain.out_idev_id) == 24,
	       "mock_domain.out_idev_id at 24");
_Static_assert(offsetof(struct iommu_test_cmd, mock_domain_replace.pt_id) == 16,
	       "mock_domain_replace.pt_id at 16");
_Static_assert(offsetof(struct iommu_test_cmd, trigger_iopf.perm) == 28, "trigger.perm at 28");
_Static_assert(offsetof(struct iommu_test_cmd, trigger_iopf.addr) == 32, "trigger.addr at 32");
_Static_assert(sizeof(struct iommu_hwpt_selftest) == 4, "hwpt_selftest is 4 bytes");

struct mock_dev {
	uint32_t capture_id;
	uint32_t stdev_id;	/* selftest object: replace and destroy go through it */
	uint32_t idev_id;	/* the dev_id in fault records */
	uint32_t parent_id;	/* NEST_PARENT paging hwpt */
	uint32_t iopf_hwpt_id;	/* nested hwpt with the fault queue */
	bool attached;		/* to iopf_hwpt_id */
};

struct mock {
	int iommufd;
	uint32_t ioas_id;
	uint32_t fault_id;
	bool partial;		/* the patched kernel: partial faults work */
	bool single;		/* "mock:single": partial faults not used even if they work */
	struct mock_dev *devs;
	size_t ndevs;
};

static int test_cmd(struct mock *m, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return iopf_ioctl(m->iommufd, IOMMU_TEST_CMD, cmd);
}

static int destroy_obj(struct mock *m, uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return iopf_ioctl(m->iommufd, IOMMU_DESTROY, &d);
}

static int replace(struct mock *m, uint32_t stdev_id, uint32_t pt_id)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = stdev_id,
		.mock_domain_replace.pt_id = pt_id,
	};

	return test_cmd(m, &cmd);
}

static int hwpt_alloc(struct mock *m, struct iommu_hwpt_alloc *a, uint32_t *out)
{
	a->size = sizeof(*a);
	int rc = iopf_ioctl(m->iommufd, IOMMU_HWPT_ALLOC, a);

	if (!rc)
		*out = a->out_hwpt_id;
	return rc;
}

static int open_iommufd(char *err, size_t errlen)
{
	int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
		return iopf_fail(err, errlen, -ENOENT,
			    "no /dev/iommu: this kernel has no iommufd (CONFIG_IOMMUFD)");
	case EACCES:
	case EPERM:
		return iopf_fail(err, errlen, -errno,
			    "no permission to open /dev/iommu: run as root, or chmod/chown /dev/iommu");
	case ENXIO:
	case ENODEV:
		return iopf_fail(err, errlen, -errno,
			    "/dev/iommu exists but no driver answers it: is the iommufd module loaded?");
	default:
		return iopf_fail(err, errlen, -errno, "cannot open /dev/iommu: %s", strerror(errno));
	}
}

/*
 * One trigger that both kernels understand differently: the patched test
 * kernel returns 0, an unpatched CONFIG_IOMMUFD_TEST kernel ENOENT (no
 * object 0), a kernel without the test command ENOTTY.
 */
static int probe_test_cmd(struct mock *m, char *err, size_t errlen)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf.perm = MOCK_PERM_PARTIAL,
	};
	int rc = test_cmd(m, &cmd);

	m->partial = rc == 0;
	switch (rc) {
	case 0:
	case -ENOENT:
		return 0;
	case -ENOTTY:
		return iopf_fail(err, errlen, rc,
			    "kernel lacks CONFIG_IOMMUFD_TEST: the mock target needs a kernel built with it "
			    "(tests/kernel/build-kernel.sh makes one)");
	case -EOPNOTSUPP:
		return iopf_fail(err, errlen, rc,
			    "kernel's CONFIG_IOMMUFD_TEST mock cannot trigger page faults "
			    "(IOMMU_TEST_OP_TRIGGER_IOPF needs Linux >= 6.11)");
	default:
		return iopf_fail(err, errlen, rc, "IOMMU_TEST_CMD probe failed: %s", strerror(-rc));
	}
}

static int alloc_queue(struct mock *m, char *err, size_t errlen)
{
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	int rc = iopf_ioctl(m->iommufd, IOMMU_IOAS_ALLOC, &ioas);

	if (rc)
		return iopf_fail(err, errlen, rc, "IOMMU_IOAS_ALLOC failed: %s", strerror(-rc));
	m->ioas_id = ioas.out_ioas_id;
	rc = iopf_ioctl(m->iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fa);
	if (rc == -ENOTTY)
		return iopf_fail(err, errlen, rc,
			    "kernel has no IOMMU_FAULT_QUEUE_ALLOC: iommufd fault queues need Linux >= 6.11");
	if (rc)
		return iopf_fail(err, errlen, rc, "IOMMU_FAULT_QUEUE_ALLOC failed: %s", strerror(-rc));
	m->fault_id = fa.out_fault_id;
	return (int)fa.out_fault_fd;
}

static const struct iopf_target_ops mock_ops;

int iopf_target_open_mock(struct iopf_target *t, const char *arg, char *err, size_t errlen)
{
	struct mock *m;
	int rc;

	/* "mock:single" ignores the test patch: single-record groups, as on a stock kernel. */
	if (*arg && strcmp(arg, "single"))
		return iopf_fail(err, errlen, -EINVAL, "unknown mock option '%s' (mock or mock:single)", arg);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->iommufd = open_iommufd(err, errlen);
	if (m->iommufd < 0) {
		rc = m->iommufd;
		free(m);
		return rc;
	}
	rc = probe_test_cmd(m, err, errlen);
	if (!rc)
		rc = alloc_queue(m, err, errlen);
	if (rc < 0) {
		close(m->iommufd);	/* the kernel frees the IOAS with the context */
		free(m);
		return rc;
	}
	if (*arg) {
		m->partial = false;
		m->single = true;
	}
	t->ops = &mock_ops;
	t->priv = m;
	t->fd = rc;
	t->queue_id = m->fault_id;
	t->max_group = m->partial ? SIZE_MAX : 1;
	iopf_log_printf(&t->log, IOPF_LOG_DEBUG, "mock: fault queue %u on fd %d, %s", m->fault_id, t->fd,
			m->partial ? "multi-record groups (patched test kernel)" : "single-record groups");
	return 0;
}

static struct mock_dev *find_dev(struct mock *m, bool by_capture, uint32_t id)
{
	for (size_t i = 0; i < m->ndevs; i++) {
		struct mock_dev *d = &m->devs[i];

		if ((by_capture ? d->capture_id : d->idev_id) == id)
			return d;
	}
	return NULL;
}

static int new_mock_device(struct iopf_target *t, struct mock_dev *d)
{
	struct mock *m = t->priv;
	struct iommu_test_cmd cmd = { .op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = m->ioas_id };
	int rc = test_cmd(m, &cmd);

	if (rc) {
		iopf_target_err(t, 0, "mock: cannot create a mock device: %s",
				strerror(-rc));
		return rc;
	}
	d->stdev_id = cmd.mock_domain.out_stdev_id;
	d->idev_id = cmd.mock_domain.out_idev_id;
	return 0;
}

static int new_fault_hwpt(struct iopf_target *t, struct mock_dev *d)
{
	struct mock *m = t->priv;
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc parent = {
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = d->idev_id,
		.pt_id = m->ioas_id,
	};
	struct iommu_hwpt_alloc nested = {
		.flags = IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = d->idev_id,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
		.fault_id = m->fault_id,
	};
	int rc = hwpt_alloc(m, &parent, &d->parent_id);

	if (rc) {
		iopf_target_err(t, 0, "mock: NEST_PARENT hwpt alloc failed: %s",
				strerror(-rc));
		return rc;
	}
	nested.pt_id = d->parent_id;
	rc = hwpt_alloc(m, &nested, &d->iopf_hwpt_id);
	if (rc)
		iopf_target_err(t, 0, "mock: fault hwpt alloc failed: %s", strerror(-rc));
	return rc;
}

static int attach(struct iopf_target *t, struct mock_dev *d)
{
	int rc = replace(t->priv, d->stdev_id, d->iopf_hwpt_id);

	if (rc == -ENODEV)
		iopf_target_err(t, 0,
				"mock: cannot enable IOPF on the mock device: the kernel lacks CONFIG_IOMMU_IOPF "
				"(select it with INTEL_IOMMU_SVM or AMD_IOMMU)");
	else if (rc)
		iopf_target_err(t, 0, "mock: attach to the fault hwpt failed: %s",
				strerror(-rc));
	d->attached = !rc;
	return rc;
}

/*
 * doc/kernel-notes.md §7: a hwpt cannot be destroyed while a device is attached
 * to it (EBUSY), nor the parent while the nested hwpt exists.  So replace
 * the device away onto an auto domain of the IOAS first (answering its
 * groups INVALID), then destroy the nested and parent hwpts.  Ids not yet
 * allocated are 0 and skipped.
 */
static void destroy_hwpts(struct iopf_target *t, struct mock_dev *d)
{
	struct mock *m = t->priv;
	uint32_t ids[] = { d->iopf_hwpt_id, d->parent_id };
	int rc = 0;

	if (d->attached)
		rc = replace(m, d->stdev_id, m->ioas_id);
	d->attached = false;
	for (size_t i = 0; i < ARRAY_SIZE(ids) && !rc; i++)
		if (ids[i])
			rc = destroy_obj(m, ids[i]);
	if (rc)
		iopf_log_printf(&t->log, IOPF_LOG_WARN, "mock: teardown of device %u: %s", d->idev_id,
				strerror(-rc));
}

/* Destroying the selftest object detaches, unbinds and frees the mock device. */
static void destroy_stdev(struct iopf_target *t, struct mock_dev *d)
{
	int rc = d->stdev_id ? destroy_obj(t->priv, d->stdev_id) : 0;

	if (rc)
		iopf_log_printf(&t->log, IOPF_LOG_WARN, "mock: destroy of mock device %u: %s",
				d->idev_id, strerror(-rc));
}

static int mock_device(struct iopf_target *t, uint32_t capture_dev_id, uint32_t *live_dev_id)
{
	struct mock *m = t->priv;
	struct mock_dev *d = find_dev(m, true, capture_dev_id);
	int rc;

	if (d) {
		*live_dev_id = d->idev_id;
		return d->attached ? 0 : attach(t, d);
	}
	d = realloc(m->devs, (m->ndevs + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	m->devs = d;
	d = &m->devs[m->ndevs];
	*d = (struct mock_dev){ .capture_id = capture_dev_id };
	rc = new_mock_device(t, d);
	if (!rc)
		rc = new_fault_hwpt(t, d);
	if (!rc)
		rc = attach(t, d);
	if (rc) {
		destroy_hwpts(t, d);
		destroy_stdev(t, d);
		return rc;
	}
	m->ndevs++;
	*live_dev_id = d->idev_id;
	return 0;
}

/*
 * The mock sets PASID_VALID iff pasid != 0 and LAST_PAGE always (unless
 * patched), so a PASID_VALID fault with PASID 0 cannot be reproduced.
 * Other flag bits (the kernel-internal RESPONSE_NEEDS_PASID) are dropped.
 */
static int mock_inject(struct iopf_target *t, const struct iommu_hwpt_pgfault *f)
{
	struct mock *m = t->priv;
	bool pasid_valid = f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = {
			.dev_id = f->dev_id,
			.pasid = pasid_valid ? f->pasid : 0,
			.grpid = f->grpid,
			.perm = f->perm,
			.addr = f->addr,
		},
	};

	if (pasid_valid && !f->pasid) {
		iopf_target_err(t, 0,
				"mock: cannot inject a PASID_VALID fault with PASID 0 (the mock sets "
				"PASID_VALID exactly when the PASID is not 0)");
		return -EOPNOTSUPP;
	}
	if (m->partial && (f->perm & MOCK_PERM_PARTIAL)) {
		iopf_target_err(t, 0,
				"mock: cannot inject perm bit 31: the test kernel uses it to mark partial faults");
		return -EOPNOTSUPP;
	}
	if (!(f->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE)) {
		/*
		 * A stock kernel's mock (and mock:single) always sets LAST_PAGE:
		 * a multi-record group cannot be made.  Say so instead of a bare
		 * EOPNOTSUPP (a multi-record generator on an unpatched 7.3 kernel
		 * failed with just "Operation not supported").
		 */
		if (!m->partial) {
			iopf_target_err(t, 0,
					"mock: cannot inject a partial fault (a multi-record group): this %s "
					"makes single-record groups only; multi-record groups need a kernel with "
					"tests/kernel/mock-partial-iopf-X.Y.patch",
					m->single ? "mock:single target" : "kernel's mock");
			return -EOPNOTSUPP;
		}
		cmd.trigger_iopf.perm |= MOCK_PERM_PARTIAL;
	}
	return test_cmd(m, &cmd);
}

/* Replace back to the parent: the kernel answers the device's groups INVALID. */
static int mock_detach(struct iopf_target *t, uint32_t live_dev_id)
{
	struct mock *m = t->priv;
	struct mock_dev *d = find_dev(m, false, live_dev_id);
	int rc;

	if (!d)
		return -ENOENT;
	if (!d->attached)
		return 0;
	rc = replace(m, d->stdev_id, d->parent_id);
	if (rc)
		iopf_target_err(t, 0, "mock: detach of device %u failed: %s",
				live_dev_id, strerror(-rc));
	else
		d->attached = false;
	return rc;
}

/*
 * Teardown order (doc/kernel-notes.md §7, §8): devices away from the fault
 * hwpts and the hwpts destroyed (they hold users references on the fault
 * object), then the fault fd closed, as IOMMU_DESTROY of the fault object
 * is EBUSY while it is open, then the fault object and the mock devices.
 */
static void mock_close(struct iopf_target *t)
{
	struct mock *m = t->priv;
	int rc;

	for (size_t i = 0; i < m->ndevs; i++)
		destroy_hwpts(t, &m->devs[i]);
	close(t->fd);
	rc = destroy_obj(m, m->fault_id);
	if (rc)
		iopf_log_printf(&t->log, IOPF_LOG_WARN, "mock: destroy of fault queue %u: %s",
				m->fault_id, strerror(-rc));
	for (size_t i = 0; i < m->ndevs; i++)
		destroy_stdev(t, &m->devs[i]);
	close(m->iommufd);
	free(m->devs);
	free(m);
}

static const struct iopf_target_ops mock_ops = {
	.device = mock_device,
	.inject = mock_inject,
	.read = iopf_target_fd_read,
	.write = iopf_target_fd_write,
	.detach = mock_detach,
	.close = mock_close,
};
