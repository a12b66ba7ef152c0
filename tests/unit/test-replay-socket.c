// SPDX-License-Identifier: MIT
/* The replay's socket transport (lib/replay-socket.c) on the sim queue. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

#include "iopf.h"
#include "tap.h"
#include "hfd.h"

TAP_LOG_CAPTURE

static void test_forward_and_answer(void)
{
	struct test_host th;
	struct iopf_hfd *h;
	struct iommu_hwpt_pgfault f[8];
	struct iommu_hwpt_page_response r;
	struct iopf_session_counts c;
	int fd = -1, passes = 0;
	ssize_t n;

	host_init(&th, &tlog);
	is(iopf_hfd_socket_open(&h, &th.host, &fd), 0, "socket transport: opens");
	ok(fd >= 0 && h && strstr(h->ops->name, "socket"), "the handler's end, named a socket");
	ok(!h->ops->busy(h) && !h->ops->gone(h), "nothing waiting, the handler there");
	host_inject(&th, 7, 3);
	while (passes++ < 10 && !host_pass(&th, h, 100))
		;
	n = recv(fd, f, sizeof(f), MSG_DONTWAIT);
	is(n, 3 * IOPF_FAULT_SIZE, "the queue's group reaches the handler as one message");
	c = host_counts(&th);
	ok(c.reads == 1 && c.groups == 1 && c.outstanding == 1, "the session read it (1 outstanding)");
	r = (struct iommu_hwpt_page_response){ .cookie = f[2].cookie, .code = IOMMUFD_PAGE_RESP_SUCCESS };
	is(send(fd, &r, sizeof(r), 0), sizeof(r), "the handler answers");
	th.refreshes = 0;
	passes = 0;
	while (passes++ < 10 && (c = host_counts(&th)).accepted == 0)
		host_pass(&th, h, 100);
	ok(c.accepted == 1 && c.outstanding == 0, "its answer reaches the queue, accepted");
	ok(th.refreshes > 0, "the host was told its counts changed");
	h->ops->shutdown(h);
	is(recv(fd, f, sizeof(f), 0), 0, "shutdown: the handler sees its end of stream");
	close(fd);
	passes = 0;
	while (passes++ < 10 && !h->ops->gone(h))
		host_pass(&th, h, 100);
	ok(h->ops->gone(h), "the handler closed its end: gone");
	is(h->ops->finish(h), 0, "finish");
	is(th.err, 0, "no runtime error");
	h->ops->free(h);
	host_fini(&th);
}

/* While the handler's socket is full, groups stay in the queue. */
static void test_full_socket(void)
{
	struct test_host th;
	struct iopf_hfd *h;
	int fd = -1, sent = 0;

	host_init(&th, &tlog);
	is(iopf_hfd_socket_open(&h, &th.host, &fd), 0, "socket transport: opens (full socket)");
	for (int i = 0; i < 4000 && !h->ops->busy(h); i++) {
		host_inject(&th, (uint32_t)i, 1);
		host_pass(&th, h, 0);
		sent++;
	}
	ok(h->ops->busy(h), "a handler that reads nothing: the socket fills (%d groups)", sent);
	h->ops->hold(h, true);
	host_inject(&th, 9999, 1);
	is(host_pass(&th, h, 0), 0, "held: the queue is not watched");
	h->ops->hold(h, false);
	uint64_t groups = host_counts(&th).groups;

	host_pass(&th, h, 0);
	is(host_counts(&th).groups, groups, "watched again, but while busy the groups stay in the queue");
	for (int i = 0; i < 100 && h->ops->busy(h); i++) {
		struct iommu_hwpt_pgfault f[64];

		while (recv(fd, f, sizeof(f), MSG_DONTWAIT) > 0)
			;
		host_pass(&th, h, 10);
	}
	ok(!h->ops->busy(h), "the handler reads: what waited is sent");
	close(fd);
	h->ops->free(h);
	host_fini(&th);
}

static void test_bad_socket(void)
{
	struct test_host th;
	struct iopf_hfd *h;
	int fd = open("/dev/null", O_RDONLY);

	host_init(&th, &tlog);
	close(fd);
	ok(iopf_hfd_socket_new(&h, &th.host, fd) < 0 && !h, "a closed fd: an error, no transport");
	host_fini(&th);
}

int main(void)
{
	test_forward_and_answer();
	test_full_socket();
	test_bad_socket();
	return tap_done();
}
