// SPDX-License-Identifier: MIT
/* The replay's handler-file transport (lib/replay-fuse.c) on the sim queue: a handler process reads and writes the file. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>

#include "iopf.h"
#include "tap.h"
#include "hfd.h"

TAP_LOG_CAPTURE

/* The handler: wait for a group, read it, answer its last record and a cookie that is not there. */
static void handler(int fd)
{
	struct iommu_hwpt_pgfault f[8];
	struct iommu_hwpt_page_response r[2];
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, 5000) != 1 || !(p.revents & POLLIN))
		_exit(2);
	n = read(fd, f, sizeof(f));
	if (n <= 0 || n % IOPF_FAULT_SIZE)
		_exit(3);
	r[0] = (struct iommu_hwpt_page_response){ f[n / IOPF_FAULT_SIZE - 1].cookie, 0 };
	r[1] = (struct iommu_hwpt_page_response){ 99999, 0 };
	if (write(fd, &r[0], sizeof(r[0])) != sizeof(r[0]))
		_exit(4);
	if (write(fd, &r[1], sizeof(r[1])) != -1 || errno != EINVAL)
		_exit(5);
	_exit(0);
}

int main(void)
{
	struct test_host th;
	struct iopf_hfd *h;
	struct iopf_session_counts c;
	char why[256];
	int fd = -1, rc, status;
	pid_t pid;

	host_init(&th, &tlog);
	rc = iopf_hfd_fuse_open(&h, &th.host, &fd, why, sizeof(why));
	if (rc == -ENOENT || rc == -EACCES || rc == -EPERM || rc == -ENODEV || rc == -ENOSYS) {
		printf("ok 1 # skip no handler file on this machine: %s\n", why);
		printf("1..1\n");
		host_fini(&th);
		return 0;
	}
	if (!ok(rc == 0 && h && fd >= 0, "handler-file transport: opens (%s)", rc ? why : "ok"))
		return tap_done();
	ok(strstr(h->ops->name, "FUSE") != NULL, "named a file (FUSE)");
	ok(!h->ops->gone(h), "the file is open: not gone");

	pid = fork();
	if (pid == 0)
		handler(fd);
	close(fd);
	host_inject(&th, 5, 2);
	h->ops->injected(h);	/* wake the handler's poll */
	for (int i = 0; i < 500 && !h->ops->gone(h); i++)
		host_pass(&th, h, 10);
	ok(h->ops->gone(h), "the handler exited: its file is gone");
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status), "the handler ended");
	is(WEXITSTATUS(status), 0, "it was woken, read its group, one answer taken, one refused (EINVAL)");
	c = host_counts(&th);
	ok(c.reads == 1 && c.groups == 1 && c.faults == 2, "its read was noted: 1 read, 1 group, 2 faults");
	ok(c.responses == 2 && c.accepted == 1 && c.outstanding == 0,
	   "its writes were noted: 2 responses, 1 accepted, none outstanding");

	/* A group larger than a read of the file can carry: one warning. */
	struct iopf_group big = { .n = (size_t)1 << 30 }, small = { .n = 1 };

	warnings = 0;
	h->ops->group(h, &small, "c.pcap");
	is(warnings, 0, "a group of 1: no warning");
	h->ops->group(h, &big, "c.pcap");
	h->ops->group(h, &big, "c.pcap");
	ok(warnings == 1 && strstr(last_msg, "c.pcap: a group of") && strstr(last_msg, "--handler-fd socket"),
	   "a group of %zu records: warned once, naming the file (%s)", big.n, last_msg);
	is(h->ops->finish(h), 0, "finish");
	is(th.err, 0, "no runtime error");
	h->ops->free(h);
	host_fini(&th);
	return tap_done();
}
