// SPDX-License-Identifier: MIT
/* The handler file as a handler's fd 3: see hfile.h and iopftool-replay(8). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hfile.h"

#define HANDLER_FD 3

/* iommufd_fault_fops_read() on the live queue; what it returns is delivered. */
static ssize_t op_read(void *ctx, void *buf, size_t count)
{
	struct hfile *h = ctx;
	ssize_t n = iopf_target_read(h->live->target, buf, count);

	if (n > 0)
		live_account(h->live, buf, (size_t)n, NULL, NULL);
	return n;
}

/*
 * iommufd_fault_fops_write(): the handler sees 8 * n applied, or the
 * errno of the first entry; each response it saw a verdict for is checked.
 */
static ssize_t op_write(void *ctx, const void *buf, size_t count)
{
	struct hfile *h = ctx;
	ssize_t n = iopf_target_write(h->live->target, buf, count);
	uint64_t t = iopf_now_ns();
	struct iommu_hwpt_page_response r;

	for (size_t i = 0; n > 0 && i < (size_t)n / IOPF_RESP_SIZE; i++) {
		memcpy(&r, (const uint8_t *)buf + i * IOPF_RESP_SIZE, sizeof(r));
		live_note_response(h->live, &r, 0, t);
	}
	if (n == -EINVAL && count >= IOPF_RESP_SIZE) {
		memcpy(&r, buf, sizeof(r));
		live_note_response(h->live, &r, EINVAL, t);
	} else if (n < 0) {
		p_verbose("handler wrote %zu bytes: %s", count, strerror((int)-n));
	}
	return n;
}

/* iommufd_fault_fops_poll(): the target's fd is readable while groups wait. */
static short op_poll(void *ctx)
{
	struct hfile *h = ctx;
	struct pollfd p = { iopf_target_fd(h->live->target), POLLIN, 0 };
	short ev = POLLOUT;

	if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN))
		ev |= POLLIN | POLLRDNORM;
	return ev;
}

int hfile_open(struct hfile *h, struct live *l, char *err, size_t errlen)
{
	static const struct iopf_handler_ops ops = { op_read, op_write, op_poll };

	memset(h, 0, sizeof(*h));
	h->live = l;
	h->fd = -1;
	h->pid = -1;
	return iopf_handler_file_open_ops(&h->hf, &ops, h, &tool_log, &h->fd, err, errlen);
}

int hfile_start(struct hfile *h, const char *cmd)
{
	fflush(NULL);
	h->pid = fork();
	if (h->pid < 0)
		return -errno;
	if (h->pid == 0) {
		setpgid(0, 0);	/* sh -c may fork: the handler is the whole group */
		if (h->fd != HANDLER_FD) {
			if (dup2(h->fd, HANDLER_FD) < 0)
				_exit(127);
		} else {
			fcntl(h->fd, F_SETFD, 0);
		}
		dup2(STDERR_FILENO, STDOUT_FILENO);	/* our stdout is the report */
		setenv("IOPF_FAULT_FD", "3", 1);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(h->pid, h->pid);
	h->pgid = h->pid;
	/* The handler holds the file now: when it is gone, so is the file. */
	close(h->fd);
	h->fd = -1;
	return 0;
}

int hfile_fd(const struct hfile *h)
{
	return iopf_handler_file_fd(h->hf);
}

int hfile_serve(struct hfile *h)
{
	int rc = iopf_handler_file_serve(h->hf);

	if (rc == -ENOTCONN) {
		h->gone = true;
		return 0;
	}
	return rc < 0 ? rc : 0;
}

bool hfile_ready(const struct hfile *h)
{
	struct iopf_handler_file_stats st;

	iopf_handler_file_stats(h->hf, &st);
	return h->gone || st.polls || st.reads || st.writes;
}

void hfile_notify(struct hfile *h)
{
	iopf_handler_file_notify(h->hf);
}

/* The shell is reaped and the file closed by every process of the group. */
static bool finished(struct hfile *h)
{
	if (h->pid > 0 && waitpid(h->pid, &h->status, WNOHANG) == h->pid)
		h->pid = -1;
	return h->pid <= 0 && (h->gone || kill(-h->pgid, 0));
}

/* Serve for up to ns while waiting for the handler to finish: true once it has. */
static bool serve_until_finished(struct hfile *h, uint64_t ns)
{
	uint64_t end = iopf_now_ns() + ns;

	do {
		struct pollfd p = { hfile_fd(h), POLLIN, 0 };

		if (finished(h))
			return true;
		if (!h->gone && poll(&p, 1, 2) > 0)
			hfile_serve(h);
		else if (h->gone)
			nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	} while (iopf_now_ns() < end);
	return finished(h);
}

void hfile_stop(struct hfile *h, uint64_t grace_ns)
{
	if (h->pgid <= 0 || serve_until_finished(h, 0))
		return;
	kill(-h->pgid, SIGTERM);
	h->terminated = true;
	if (serve_until_finished(h, grace_ns))
		return;
	kill(-h->pgid, SIGKILL);
	if (h->pid > 0)
		waitpid(h->pid, &h->status, 0);
	h->pid = -1;
}

void hfile_free(struct hfile *h)
{
	if (h->fd >= 0)
		close(h->fd);
	iopf_handler_file_close(h->hf);
	h->hf = NULL;
	h->fd = -1;
}
