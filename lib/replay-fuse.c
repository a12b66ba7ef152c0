// SPDX-License-Identifier: MIT
/*
 * The replay's handler-file transport (iopftool-replay(8) "THE HANDLER
 * FD"), on sim: the handler's fd is a file (lib/fusefd.c) whose read(2),
 * write(2) and poll(2) reach the queue model through us, exactly as
 * drivers/iommu/iommufd/fault.c: iommufd_fault_fops_read(), _write() and
 * _poll() would answer them; we note what they returned in the session.
 * The file is served from the replay's event loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "replay-hfd.h"

struct hfd_fuse {
	struct iopf_hfd h;
	struct iopf_handler_file *hf;
	uint64_t warned_big, warned_wake;
	struct iopf_write_memo memo;	/* the handler file's last refused response */
};

static struct hfd_fuse *fuse_of(struct iopf_hfd *h)
{
	return (struct hfd_fuse *)h;
}

static const struct hfd_fuse *cfuse_of(const struct iopf_hfd *h)
{
	return (const struct hfd_fuse *)h;
}

/* ---- the kernel's read, write and poll, noted ---- */

static ssize_t file_read(void *ctx, void *buf, size_t count)
{
	struct iopf_hfd *h = ctx;
	ssize_t r = iopf_target_read(h->host.t, buf, count);

	if (r > 0) {
		ssize_t g = iopf_session_note_read(h->host.sess, buf, (size_t)r, iopf_time_now(), NULL, NULL);

		iopf_hfd_error(h, g < 0 ? (int)g : 0);
		iopf_hfd_refresh(h);
	}
	return r;
}

/*
 * iommufd_fault_fops_write(): a count that is not whole responses is
 * refused before any is looked at; otherwise it stops at the first
 * response it refuses and returns the bytes before it, or the errno when
 * it was the first.  Note what it took, and the refused one (inside a
 * partial write too), judged once (lib/check.c: iopf_write_judge()).
 */
static ssize_t file_write(void *ctx, const void *buf, size_t count)
{
	struct iopf_hfd *h = ctx;
	ssize_t w = iopf_target_write(h->host.t, buf, count);
	uint64_t t = iopf_time_now();
	struct iommu_hwpt_page_response r;
	struct iopf_write_verdict v;
	uint64_t n = count / IOPF_RESP_SIZE;

	/* the kernel refuses a count that is not whole responses (ESPIPE) before looking at any */
	if (count % IOPF_RESP_SIZE || w == -EFAULT)
		n = 0;
	iopf_write_judge(&fuse_of(h)->memo, buf, n, n, w, &v);
	for (uint64_t i = 0; i < v.accepted; i++) {
		memcpy(&r, (const uint8_t *)buf + i * IOPF_RESP_SIZE, sizeof(r));
		iopf_session_note_response(h->host.sess, &r, 0, t);
	}
	if (v.refused_errno && !v.retry && v.accepted < n) {
		memcpy(&r, (const uint8_t *)buf + v.accepted * IOPF_RESP_SIZE, sizeof(r));
		iopf_session_note_response(h->host.sess, &r, v.refused_errno, t);
	}
	iopf_hfd_refresh(h);
	return w;
}

/* iommufd_fault_fops_poll(): POLLOUT always, POLLIN | POLLRDNORM while groups wait. */
static short file_poll(void *ctx)
{
	struct iopf_hfd *h = ctx;
	struct pollfd p = { .fd = iopf_target_fd(h->host.t), .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN) ? POLLOUT | POLLIN | POLLRDNORM : POLLOUT;
}

/* ---- the transport ---- */

static bool event(struct iopf_hfd *h, int fd, uint32_t events)
{
	struct hfd_fuse *f = fuse_of(h);
	int rc;

	(void)events;
	if (fd != iopf_handler_file_fd(f->hf))
		return false;
	rc = iopf_handler_file_serve(f->hf);
	if (rc < 0 && rc != -ENOTCONN)
		iopf_hfd_error(h, rc);
	return true;
}

static bool gone(const struct iopf_hfd *h)
{
	return iopf_handler_file_gone(cfuse_of(h)->hf);
}

static void group(struct iopf_hfd *h, const struct iopf_group *g, const char *capture)
{
	struct hfd_fuse *f = fuse_of(h);
	size_t max = iopf_handler_file_max_io(f->hf);

	if (g->n * IOPF_FAULT_SIZE > max && !f->warned_big++)
		iopf_log_printf(h->host.log, IOPF_LOG_WARN, "%s: a group of %zu records is larger than a "
				"read of the handler file can carry (%zu records: fs.fuse.max_pages_limit): "
				"the handler cannot read it, and it counts as unanswered; replay it with "
				"--handler-fd socket (iopftool-replay(8) \"THE HANDLER FD\")", capture,
				g->n, max / IOPF_FAULT_SIZE);
}

/*
 * iommufd_fault_iopf_handler(): wake the pollers.  A wake-up that cannot
 * be sent (the handler closed the file) is not the device's problem: the
 * group is injected; whoever never reads it leaves it unanswered, and the
 * report says so.
 */
static void injected(struct iopf_hfd *h)
{
	struct hfd_fuse *f = fuse_of(h);
	int rc = iopf_handler_file_notify(f->hf);

	if (rc && !f->warned_wake++)
		iopf_log_printf(h->host.log, IOPF_LOG_WARN, "handler file: cannot wake its pollers: %s",
				strerror(-rc));
}

static int finish(struct iopf_hfd *h)
{
	struct iopf_handler_file_stats st;
	struct iopf_session_counts n;

	iopf_handler_file_stats(fuse_of(h)->hf, &st);
	iopf_session_counts(h->host.sess, &n);
	iopf_log_printf(h->host.log, IOPF_LOG_DEBUG, "handler file: %llu reads of %llu groups, "
			"%llu writes, %llu polls, %llu wake-ups", (unsigned long long)st.reads,
			(unsigned long long)n.groups, (unsigned long long)st.writes,
			(unsigned long long)st.polls, (unsigned long long)st.notifies);
	return 0;
}

static void free_fuse(struct iopf_hfd *h)
{
	iopf_handler_file_close(fuse_of(h)->hf);
	free(h);
}

static const struct iopf_hfd_ops fuse_ops = {
	.name = "a file with the fault fd's read, write and poll (FUSE, served by iopftool)",
	.wait_ms = -1,
	.event = event,
	.gone = gone,
	.group = group,
	.injected = injected,
	.finish = finish,
	.free = free_fuse,
};

int iopf_hfd_fuse_open(struct iopf_hfd **h, const struct iopf_hfd_host *host, int *fd,
		       char *why, size_t whylen)
{
	static const struct iopf_handler_ops ops = { file_read, file_write, file_poll };
	struct hfd_fuse *f = calloc(1, sizeof(*f));
	int rc;

	*h = NULL;
	if (!f)
		return -ENOMEM;
	f->h.ops = &fuse_ops;
	f->h.host = *host;
	rc = iopf_handler_file_open_ops(&f->hf, &ops, &f->h, host->log, fd, why, whylen);
	if (rc) {
		free_fuse(&f->h);
		return rc;
	}
	rc = iopf_hfd_epoll_add(host, iopf_handler_file_fd(f->hf), EPOLLIN);
	if (rc) {
		free_fuse(&f->h);	/* the connection first: closing its file then waits for no one */
		close(*fd);
		*fd = -1;
		return rc;
	}
	*h = &f->h;
	return 0;
}
