// SPDX-License-Identifier: MIT
/*
 * The "sim" queue: libiopf's userspace model of the kernel fault queue
 * (lib/queue.c), fault object id 1.  Devices map to themselves and
 * groups of any size can be injected.  "sim:X.Y" follows kernel X.Y where
 * the kernels differ (iopf_kernel_model_parse(); doc/kernel-notes.md);
 * plain "sim" follows IOPF_KERNEL_DEFAULT.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define SIM_FAULT_ID 1

static struct iopf_queue *sim_queue(struct iopf_target *t)
{
	return t->priv;
}

/* A capture device becomes the live device of the same id, attached. */
static int sim_device(struct iopf_target *t, uint32_t capture_dev_id, uint32_t *live_dev_id)
{
	int rc = iopf_queue_attach(sim_queue(t), capture_dev_id);

	if (rc < 0)
		return rc;
	*live_dev_id = capture_dev_id;
	return 0;
}

static int sim_inject(struct iopf_target *t, const struct iommu_hwpt_pgfault *f)
{
	return iopf_queue_inject(sim_queue(t), f);
}

static ssize_t sim_read(struct iopf_target *t, void *buf, size_t count)
{
	return iopf_queue_read(sim_queue(t), buf, count);
}

static ssize_t sim_write(struct iopf_target *t, const void *buf, size_t count)
{
	return iopf_queue_write(sim_queue(t), buf, count);
}

static int sim_detach(struct iopf_target *t, uint32_t live_dev_id)
{
	return iopf_queue_detach(sim_queue(t), live_dev_id);
}

static void sim_close(struct iopf_target *t)
{
	iopf_queue_free(sim_queue(t));
	t->priv = NULL;
	t->fd = -1;
}

static const struct iopf_target_ops sim_ops = {
	.device = sim_device,
	.inject = sim_inject,
	.read = sim_read,
	.write = sim_write,
	.detach = sim_detach,
	.close = sim_close,
};

int iopf_target_open_sim(struct iopf_target *t, const char *arg, char *err, size_t errlen)
{
	enum iopf_kernel_model model = IOPF_KERNEL_DEFAULT;
	struct iopf_queue *q;
	int rc;

	if (arg && *arg && iopf_kernel_model_parse(arg, &model)) {
		snprintf(err, errlen, "unknown kernel model in 'sim:%s' (expected sim:6.12 or sim:7.3)", arg);
		return -EINVAL;
	}
	rc = iopf_queue_new_version(&q, SIM_FAULT_ID, model);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create the userspace fault queue: %s",
			 strerror(-rc));
		return rc;
	}
	t->ops = &sim_ops;
	t->priv = q;
	t->queue_id = SIM_FAULT_ID;
	t->fd = iopf_queue_fd(q);
	t->max_group = SIZE_MAX;
	t->model = model;
	return 0;
}

bool iopf_target_is_sim(const struct iopf_target *t)
{
	return t->ops == &sim_ops;
}
