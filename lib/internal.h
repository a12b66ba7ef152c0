/* SPDX-License-Identifier: MIT */
/* libiopf private declarations: not installed, not for the tool. */
#ifndef IOPF_INTERNAL_H
#define IOPF_INTERNAL_H

#include "iopf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A live queue back-end (lib/target-*.c). */
struct iopf_target_ops {
	int (*device)(struct iopf_target *t, uint32_t capture_dev_id, uint32_t *live_dev_id);
	int (*inject)(struct iopf_target *t, const struct iommu_hwpt_pgfault *f);
	ssize_t (*read)(struct iopf_target *t, void *buf, size_t count);
	ssize_t (*write)(struct iopf_target *t, const void *buf, size_t count);
	int (*detach)(struct iopf_target *t, uint32_t live_dev_id);
	void (*close)(struct iopf_target *t);
};

struct iopf_target {
	const struct iopf_target_ops *ops;
	char name[128];		/* as given: "sim", "mock", "fd:3", ... */
	uint32_t queue_id;	/* fault object id, 0 if unknown */
	int fd;			/* pollable for POLLIN */
	size_t max_group;	/* 0: cannot inject; 1: single-record groups only */
	enum iopf_kernel_model model;	/* whose semantics the queue has */
	struct iopf_log log;
	void *priv;
};

/* Write a message to err and return rc: the back-ends' error path. */
int iopf_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* ioctl(2) as 0 or a negative errno. */
int iopf_ioctl(int fd, unsigned long req, void *arg);

/* read(2)/write(2) on t->fd as a count or a negative errno: the kernel fd back-ends' ops. */
ssize_t iopf_target_fd_read(struct iopf_target *t, void *buf, size_t count);
ssize_t iopf_target_fd_write(struct iopf_target *t, const void *buf, size_t count);

/* Back-end constructors: fill t (name and log are already set). */
int iopf_target_open_sim(struct iopf_target *t, const char *arg, char *err, size_t errlen);
int iopf_target_open_mock(struct iopf_target *t, const char *arg, char *err, size_t errlen);
int iopf_target_open_fd(struct iopf_target *t, const char *arg, char *err, size_t errlen);
int iopf_target_open_pid(struct iopf_target *t, const char *arg, char *err, size_t errlen);
int iopf_target_open_device(struct iopf_target *t, const char *arg, char *err, size_t errlen);

#endif
