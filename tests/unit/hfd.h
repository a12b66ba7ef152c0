/* SPDX-License-Identifier: MIT */
/* The replay transports' unit tests (lib/replay-*.c): a host as lib/replay.c makes one. */
#ifndef IOPF_TEST_HFD_H
#define IOPF_TEST_HFD_H

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "replay-hfd.h"

struct test_host {
	struct iopf_target *t;
	struct iopf_session *sess;
	struct iopf_hfd_host host;
	uint32_t dev;
	int err, refreshes;
};

static inline void test_refresh(void *ctx)
{
	((struct test_host *)ctx)->refreshes++;
}

static inline void host_init(struct test_host *th, const struct iopf_log *log)
{
	char err[256];

	*th = (struct test_host){ 0 };
	if (iopf_target_open(&th->t, "sim", NULL, err, sizeof(err)) ||
	    iopf_target_device(th->t, 1, &th->dev) || iopf_session_new(&th->sess, th->t, NULL))
		abort();
	th->host = (struct iopf_hfd_host){ .t = th->t, .sess = th->sess, .log = log,
					   .epfd = epoll_create1(EPOLL_CLOEXEC), .err = &th->err,
					   .refresh = test_refresh, .ctx = th };
	if (th->host.epfd < 0)
		abort();
}

static inline void host_fini(struct test_host *th)
{
	iopf_session_free(th->sess);
	iopf_target_close(th->t);
	close(th->host.epfd);
}

static inline struct iopf_session_counts host_counts(struct test_host *th)
{
	struct iopf_session_counts c;

	iopf_session_counts(th->sess, &c);
	return c;
}

/* A group of n records, grpid g, into the sim queue. */
static inline void host_inject(struct test_host *th, uint32_t grpid, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct iommu_hwpt_pgfault f = { .dev_id = th->dev, .grpid = grpid, .addr = 0x1000 * (i + 1),
						.perm = IOMMU_PGFAULT_PERM_READ };

		if (i + 1 == n)
			f.flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		if (iopf_target_inject(th->t, &f))
			abort();
	}
}

/*
 * One pass of the replay's event loop (lib/replay.c: pump()), waiting up to
 * ms: every event to the transport; how many it took as its own.
 */
static inline int host_pass(struct test_host *th, struct iopf_hfd *h, int ms)
{
	struct epoll_event ev[8];
	int n = epoll_wait(th->host.epfd, ev, 8, ms), mine = 0;

	for (int i = 0; i < n; i++)
		mine += h->ops->event(h, ev[i].data.fd, ev[i].events);
	if (h->ops->pass)
		h->ops->pass(h, n <= 0);
	return mine;
}

#endif
