// SPDX-License-Identifier: MIT
/* Live fault queues by name: dispatch to the back-ends in lib/target-*.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "internal.h"

static const struct {
	const char *prefix;	/* "name" or "name:" */
	int (*open)(struct iopf_target *t, const char *arg, char *err, size_t errlen);
} backends[] = {
	{ "sim", iopf_target_open_sim },
	{ "sim:", iopf_target_open_sim },
	{ "mock", iopf_target_open_mock },
	{ "mock:", iopf_target_open_mock },
	{ "fd:", iopf_target_open_fd },
	{ "pid:", iopf_target_open_pid },
	{ "device:", iopf_target_open_device },
};

/* The model of the running kernel (uname -r); the default if it cannot be told. */
static enum iopf_kernel_model running_kernel_model(void)
{
	enum iopf_kernel_model m = IOPF_KERNEL_DEFAULT;
	struct utsname u;

	if (uname(&u) == 0)
		iopf_kernel_model_from_release(u.release, &m);
	return m;
}

int iopf_target_open(struct iopf_target **tp, const char *spec, const struct iopf_log *log,
		     char *err, size_t errlen)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		const char *p = backends[i].prefix;
		size_t n = strlen(p);
		bool has_arg = p[n - 1] == ':';

		if (has_arg ? strncmp(spec, p, n) : strcmp(spec, p))
			continue;
		struct iopf_target *t = calloc(1, sizeof(*t));
		if (!t) {
			snprintf(err, errlen, "%s: out of memory", spec);
			return -ENOMEM;
		}
		snprintf(t->name, sizeof(t->name), "%s", spec);
		t->fd = -1;
		t->model = running_kernel_model();	/* sim sets its own */
		if (log)
			t->log = *log;
		int rc = backends[i].open(t, has_arg ? spec + n : "", err, errlen);
		if (rc < 0) {
			free(t);
			return rc;
		}
		*tp = t;
		return 0;
	}
	snprintf(err, errlen, "unknown queue '%s' (expected sim, sim:6.12, sim:7.3, mock, mock:single, fd:N, pid:PID:FD or device:PATH)",
		 spec);
	return -EINVAL;
}

void iopf_target_close(struct iopf_target *t)
{
	if (!t)
		return;
	if (t->ops && t->ops->close)
		t->ops->close(t);
	free(t);
}

int iopf_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int iopf_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

ssize_t iopf_target_fd_read(struct iopf_target *t, void *buf, size_t count)
{
	ssize_t n = read(t->fd, buf, count);

	return n < 0 ? -errno : n;
}

ssize_t iopf_target_fd_write(struct iopf_target *t, const void *buf, size_t count)
{
	ssize_t n = write(t->fd, buf, count);

	return n < 0 ? -errno : n;
}

const char *iopf_target_name(const struct iopf_target *t) { return t->name; }
uint32_t iopf_target_queue_id(const struct iopf_target *t) { return t->queue_id; }
int iopf_target_fd(const struct iopf_target *t) { return t->fd; }
bool iopf_target_can_inject(const struct iopf_target *t) { return t->max_group > 0; }
size_t iopf_target_max_group(const struct iopf_target *t) { return t->max_group; }
enum iopf_kernel_model iopf_target_kernel_model(const struct iopf_target *t) { return t->model; }

int iopf_target_err(struct iopf_target *t, int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	iopf_log_printf(&t->log, IOPF_LOG_ERR, "%s", msg);
	t->said = true;
	return rc;
}

/*
 * The error contract (iopf.h): what a back-end did not say itself
 * (iopf_target_err()) is said here, naming the target and the device or
 * the fault, so that the caller never has to.
 */
int iopf_target_device(struct iopf_target *t, uint32_t capture_dev_id, uint32_t *live_dev_id)
{
	int rc;

	if (!t->ops->device)
		return iopf_target_err(t, -EOPNOTSUPP, "%s: cannot make devices: faults can only be "
				       "injected into sim and mock", t->name);
	t->said = false;
	rc = t->ops->device(t, capture_dev_id, live_dev_id);
	if (rc && !t->said)
		iopf_target_err(t, rc, "%s: cannot attach device %u: %s", t->name, capture_dev_id,
				strerror(-rc));
	return rc;
}

int iopf_target_inject(struct iopf_target *t, const struct iommu_hwpt_pgfault *f)
{
	int rc;

	if (!t->ops->inject)
		return iopf_target_err(t, -EOPNOTSUPP, "%s: cannot inject faults: only sim and mock can",
				       t->name);
	t->said = false;
	rc = t->ops->inject(t, f);
	if (rc && !t->said)
		iopf_target_err(t, rc, "%s: cannot inject a fault (dev %u, grpid %u, addr %#llx): %s",
				t->name, f->dev_id, f->grpid, (unsigned long long)f->addr, strerror(-rc));
	return rc;
}

ssize_t iopf_target_read(struct iopf_target *t, void *buf, size_t count)
{
	return t->ops->read(t, buf, count);
}

ssize_t iopf_target_write(struct iopf_target *t, const void *buf, size_t count)
{
	return t->ops->write(t, buf, count);
}

int iopf_target_detach(struct iopf_target *t, uint32_t live_dev_id)
{
	if (!t->ops->detach)
		return -EOPNOTSUPP;
	return t->ops->detach(t, live_dev_id);
}
