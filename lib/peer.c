// SPDX-License-Identifier: MIT
/*
 * The handler-fd peer protocol (iopftool-replay(8) "THE HANDLER FD"): a
 * handler under test holds one end of a SOCK_SEQPACKET socket in place of
 * a fault fd.  Each group goes to it as one message of whole 40-byte
 * records, the LAST_PAGE one last; it writes 8-byte responses back, any
 * number per message.  This is our end: sending (queued while the socket
 * is full, never blocking) and receiving.  Starting the handler process
 * is the caller's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* The largest message an AF_UNIX socket takes with default buffers is below this. */
#define RECV_BYTES (1u << 20)

struct iopf_peer {
	int sock;
	bool eof;		/* the handler closed its end or went away */
	uint8_t *q;		/* groups not yet sent: [u32 len][bytes]... */
	size_t qhead, qlen, qcap;
	struct iopf_peer_counts n;
	void *rbuf;		/* responses received, one message at a time */
	struct iopf_log log;
};

int iopf_peer_new(struct iopf_peer **pp, int sock, const struct iopf_log *log)
{
	struct iopf_peer *p = calloc(1, sizeof(*p));
	int fl;

	*pp = NULL;
	if (!p)
		return -ENOMEM;
	p->sock = sock;
	if (log)
		p->log = *log;
	p->rbuf = malloc(RECV_BYTES);
	fl = fcntl(sock, F_GETFL);
	if (!p->rbuf || fl < 0 || fcntl(sock, F_SETFL, fl | O_NONBLOCK)) {
		int rc = p->rbuf ? -errno : -ENOMEM;

		p->sock = -1;	/* not ours on failure */
		iopf_peer_free(p);
		return rc;
	}
	*pp = p;
	return 0;
}

void iopf_peer_free(struct iopf_peer *p)
{
	if (!p)
		return;
	if (p->sock >= 0)
		close(p->sock);
	free(p->q);
	free(p->rbuf);
	free(p);
}

int iopf_peer_fd(const struct iopf_peer *p)
{
	return p->sock;
}

bool iopf_peer_pending(const struct iopf_peer *p)
{
	return p && p->qhead < p->qlen;
}

bool iopf_peer_eof(const struct iopf_peer *p)
{
	return p && p->eof;
}

void iopf_peer_counts(const struct iopf_peer *p, struct iopf_peer_counts *c)
{
	*c = p->n;
}

static int queue_group(struct iopf_peer *p, const void *grp, size_t len)
{
	uint32_t l = (uint32_t)len;

	if (p->qhead == p->qlen)
		p->qhead = p->qlen = 0;
	if (p->qlen + sizeof(l) + len > p->qcap) {
		size_t cap = p->qcap ? p->qcap : 4096;
		uint8_t *q;

		while (cap < p->qlen + sizeof(l) + len)
			cap *= 2;
		q = realloc(p->q, cap);
		if (!q)
			return -ENOMEM;
		p->q = q;
		p->qcap = cap;
	}
	memcpy(p->q + p->qlen, &l, sizeof(l));
	memcpy(p->q + p->qlen + sizeof(l), grp, len);
	p->qlen += sizeof(l) + len;
	if (p->qlen > p->n.queued_max)
		p->n.queued_max = p->qlen;
	return 0;
}

/* A message bigger than the send buffer: grow the buffer to fit it, if we may. */
static bool make_room(struct iopf_peer *p, size_t len)
{
	int want = len > (size_t)INT32_MAX / 4 ? INT32_MAX / 2 : (int)(len * 2 + 65536);

	if (!setsockopt(p->sock, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)))
		return true;
	return !setsockopt(p->sock, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
}

/* 1 sent (or dropped), 0 socket full. */
static int send_one(struct iopf_peer *p, const void *grp, size_t len)
{
	bool grown = false;

	if (p->eof)
		return 1;
	for (;;) {
		if (send(p->sock, grp, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len) {
			p->n.sent++;
			return 1;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return 0;
		if (errno == EMSGSIZE && !grown && make_room(p, len)) {
			grown = true;
			continue;
		}
		break;
	}
	if (errno == EMSGSIZE) {
		iopf_log_printf(&p->log, IOPF_LOG_WARN, "handler socket: a group of %zu records (%zu bytes) "
				"does not fit one message (the socket's send buffer); not sent, it stays "
				"unanswered", len / IOPF_FAULT_SIZE, len);
		return 1;
	}
	p->eof = true;	/* the handler went away: its groups stay unanswered */
	return 1;
}

int iopf_peer_send(struct iopf_peer *p, const struct iommu_hwpt_pgfault *recs, size_t n)
{
	size_t len = n * IOPF_FAULT_SIZE;

	if (!iopf_peer_pending(p) && send_one(p, recs, len))
		return 0;
	return queue_group(p, recs, len);
}

int iopf_peer_flush(struct iopf_peer *p)
{
	while (iopf_peer_pending(p)) {
		uint32_t len;

		memcpy(&len, p->q + p->qhead, sizeof(len));
		if (!send_one(p, p->q + p->qhead + sizeof(len), len))
			return 1;
		p->qhead += sizeof(len) + len;
	}
	return 0;
}

ssize_t iopf_peer_recv(struct iopf_peer *p, const struct iommu_hwpt_page_response **r)
{
	ssize_t n;

	if (p->eof)
		return -EPIPE;
	n = recv(p->sock, p->rbuf, RECV_BYTES, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		p->eof = true;
		return -EPIPE;
	}
	if (n > (ssize_t)RECV_BYTES) {
		iopf_log_printf(&p->log, IOPF_LOG_WARN, "handler wrote %zd bytes in one write; only the "
				"first %u are taken", n, RECV_BYTES);
		n = RECV_BYTES;
	}
	if (n % (ssize_t)IOPF_RESP_SIZE)
		iopf_log_printf(&p->log, IOPF_LOG_WARN, "handler wrote %zd bytes, not a multiple of %zu: "
				"the tail is ignored (the kernel would refuse the write with ESPIPE)",
				n, IOPF_RESP_SIZE);
	*r = p->rbuf;
	return n / (ssize_t)IOPF_RESP_SIZE;
}

void iopf_peer_shutdown(struct iopf_peer *p)
{
	shutdown(p->sock, SHUT_WR);
}

/*
 * An AF_UNIX datagram write fails with EMSGSIZE above the writer's send
 * buffer less 32 bytes (net/unix/af_unix.c: unix_dgram_sendmsg()), by
 * default 212992: a handler's write of 26,620 responses would fail where
 * the kernel's fault fd takes it.  Give the handler's end room for
 * RECV_BYTES (the most we receive in one message): SO_SNDBUFFORCE as
 * root, else SO_SNDBUF, which the kernel caps at twice net.core.wmem_max
 * (425,952-byte writes by default).  iopftool-replay(8).
 */
int iopf_peer_socketpair(int *ours, int *theirs)
{
	int sv[2], want = (RECV_BYTES + 32) / 2;	/* the kernel doubles it */

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)))
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	*ours = sv[0];
	*theirs = sv[1];
	return 0;
}
