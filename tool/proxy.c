// SPDX-License-Identifier: MIT
/* The handler-fd proxy: see proxy.h and iopftool-replay(8) for how the socket differs from the kernel's fd. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"
#include "vec.h"

#define HANDLER_FD 3
/* The largest message an AF_UNIX socket takes with default buffers is below this. */
#define RECV_BYTES (1u << 20)

static void child(int fd, const char *cmd)
{
	if (fd != HANDLER_FD) {
		if (dup2(fd, HANDLER_FD) < 0)
			_exit(127);
	} else {
		fcntl(fd, F_SETFD, 0);	/* dup2 to itself would keep FD_CLOEXEC */
	}
	dup2(STDERR_FILENO, STDOUT_FILENO);	/* keep our stdout for the report */
	setenv("IOPF_FAULT_FD", "3", 1);
	signal(SIGPIPE, SIG_DFL);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

int proxy_start(struct proxy *p, const char *cmd)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->rbuf = malloc(RECV_BYTES);
	if (!p->rbuf)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (p->pid == 0)
		child(sv[1], cmd);
	close(sv[1]);
	p->sock = sv[0];
	fcntl(p->sock, F_SETFL, O_NONBLOCK);
	return 0;
}

static int queue_group(struct proxy *p, const void *grp, size_t len)
{
	uint32_t l = (uint32_t)len;
	int rc;

	if (p->qhead == p->qlen)
		p->qhead = p->qlen = 0;
	rc = vec_reserve(&p->q, &p->qcap, 1, p->qlen + sizeof(l) + len);
	if (rc)
		return rc;
	memcpy(p->q + p->qlen, &l, sizeof(l));
	memcpy(p->q + p->qlen + sizeof(l), grp, len);
	p->qlen += sizeof(l) + len;
	if (p->qlen > p->queued_max)
		p->queued_max = p->qlen;
	return 0;
}

/* 1 sent, 0 socket full, <0 error (the handler went away: its groups stay unanswered). */
static int send_one(struct proxy *p, const void *grp, size_t len)
{
	if (p->eof)
		return 1;
	if (send(p->sock, grp, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len) {
		p->sent++;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
		return 0;
	if (errno == EMSGSIZE) {
		p_warn("handler socket: a group of %zu records (%zu bytes) does not fit one message "
		       "(the socket's send buffer); not sent, it stays unanswered",
		       len / IOPF_FAULT_SIZE, len);
		return 1;
	}
	p->eof = true;
	return 1;
}

int proxy_forward(struct proxy *p, const void *grp, size_t len)
{
	if (!proxy_pending(p)) {
		int rc = send_one(p, grp, len);

		if (rc)
			return rc < 0 ? rc : 0;
	}
	return queue_group(p, grp, len);
}

int proxy_flush(struct proxy *p)
{
	while (proxy_pending(p)) {
		uint32_t len;

		memcpy(&len, p->q + p->qhead, sizeof(len));
		if (!send_one(p, p->q + p->qhead + sizeof(len), len))
			return 1;
		p->qhead += sizeof(len) + len;
	}
	return 0;
}

ssize_t proxy_recv(struct proxy *p, const struct iommu_hwpt_page_response **r)
{
	ssize_t n;

	if (p->eof)
		return -1;
	n = recv(p->sock, p->rbuf, RECV_BYTES, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : (p->eof = true, -1);
	if (n == 0) {
		p->eof = true;
		return -1;
	}
	if (n > (ssize_t)RECV_BYTES) {
		p_warn("handler wrote %zd bytes in one write; only the first %u are taken", n, RECV_BYTES);
		n = RECV_BYTES;
	}
	if (n % (ssize_t)IOPF_RESP_SIZE)
		p_warn("handler wrote %zd bytes, not a multiple of %zu: the tail is ignored "
		       "(the kernel would refuse the write with ESPIPE)", n, IOPF_RESP_SIZE);
	*r = p->rbuf;
	return n / (ssize_t)IOPF_RESP_SIZE;
}

void proxy_shutdown(struct proxy *p)
{
	shutdown(p->sock, SHUT_WR);
}

static bool wait_for(struct proxy *p, uint64_t ns)
{
	uint64_t end = iopf_now_ns() + ns;

	do {
		if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
			p->pid = -1;
			return true;
		}
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	} while (iopf_now_ns() < end);
	return false;
}

void proxy_reap(struct proxy *p, uint64_t grace_ns)
{
	if (p->pid <= 0)
		return;
	if (wait_for(p, grace_ns))
		return;
	kill(p->pid, SIGTERM);
	if (wait_for(p, 1000000000ull))
		return;
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &p->status, 0);
	p->pid = -1;
}

void proxy_free(struct proxy *p)
{
	if (p->sock > 0)
		close(p->sock);
	free(p->q);
	free(p->rbuf);
	p->q = p->rbuf = NULL;
}
