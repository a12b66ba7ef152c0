// SPDX-License-Identifier: MIT
/*
 * The replay's socket transport (iopftool-replay(8) "THE HANDLER FD"):
 * the handler process has one end of a SOCK_SEQPACKET socket; we read
 * the queue, forward each group as one message (lib/peer.c), and give
 * the session the responses that come back.  While the socket is full,
 * groups stay in the queue.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "replay-hfd.h"

struct hfd_socket {
	struct iopf_hfd h;
	struct iopf_peer *peer;
};

static struct hfd_socket *sock_of(struct iopf_hfd *h)
{
	return (struct hfd_socket *)h;
}

static const struct hfd_socket *csock_of(const struct iopf_hfd *h)
{
	return (const struct hfd_socket *)h;
}

int iopf_hfd_epoll_add(const struct iopf_hfd_host *host, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(host->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int epoll_mod(struct iopf_hfd *h, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(h->host.epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

static int forward(void *ctx, struct iopf_group *g)
{
	return iopf_peer_send(sock_of(ctx)->peer, g->recs, g->n);
}

static int deliver(struct iopf_hfd *h, const struct iopf_group *g)
{
	return iopf_peer_send(sock_of(h)->peer, g->recs, g->n);
}

static int take_responses(struct hfd_socket *s)
{
	const struct iommu_hwpt_page_response *r;
	ssize_t n;

	while ((n = iopf_peer_recv(s->peer, &r)) > 0) {
		int rc = iopf_session_respond(s->h.host.sess, r, (size_t)n);

		iopf_hfd_refresh(&s->h);
		if (rc)
			return rc;
	}
	if (n < 0)
		epoll_ctl(s->h.host.epfd, EPOLL_CTL_DEL, iopf_peer_fd(s->peer), NULL);
	return 0;
}

static bool event(struct iopf_hfd *h, int fd, uint32_t events)
{
	struct hfd_socket *s = sock_of(h);

	if (fd == iopf_target_fd(h->host.t)) {
		/* Leave groups in the queue while the handler's socket is full. */
		ssize_t g = iopf_peer_pending(s->peer) ? 0 :
			    iopf_session_drain(h->host.sess, forward, h);

		iopf_hfd_refresh(h);
		iopf_hfd_error(h, g < 0 ? (int)g : 0);
		return true;
	}
	if (fd != iopf_peer_fd(s->peer))
		return false;
	if ((events & EPOLLOUT) && !iopf_peer_flush(s->peer))
		epoll_mod(h, fd, EPOLLIN);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		iopf_hfd_error(h, take_responses(s));
	return true;
}

/* What waits for the socket is sent when it has room. */
static void pass(struct iopf_hfd *h, bool idle)
{
	struct hfd_socket *s = sock_of(h);

	(void)idle;
	if (iopf_peer_pending(s->peer))
		epoll_mod(h, iopf_peer_fd(s->peer), EPOLLIN | EPOLLOUT);
}

static bool busy(const struct iopf_hfd *h)
{
	return iopf_peer_pending(csock_of(h)->peer);
}

/* While the socket is full the queue stays readable: wait for the socket alone. */
static void hold(struct iopf_hfd *h, bool on)
{
	epoll_mod(h, iopf_target_fd(h->host.t), on ? 0 : EPOLLIN);
}

static bool gone(const struct iopf_hfd *h)
{
	return iopf_peer_eof(csock_of(h)->peer);
}

static void shutdown_peer(struct iopf_hfd *h)
{
	iopf_peer_shutdown(sock_of(h)->peer);
}

static int finish(struct iopf_hfd *h)
{
	struct iopf_peer_counts pc;
	struct iopf_session_counts n;

	iopf_peer_counts(sock_of(h)->peer, &pc);
	iopf_session_counts(h->host.sess, &n);
	iopf_log_printf(h->host.log, IOPF_LOG_DEBUG, "handler: %llu groups sent in %llu reads of the "
			"queue, at most %llu bytes waiting for its socket", (unsigned long long)pc.sent,
			(unsigned long long)n.reads, (unsigned long long)pc.queued_max);
	return 0;
}

static void free_socket(struct iopf_hfd *h)
{
	iopf_peer_free(sock_of(h)->peer);
	free(h);
}

static const struct iopf_hfd_ops socket_ops = {
	.name = "a socket (SOCK_SEQPACKET, one group per message)",
	.wait_ms = -1,
	.event = event,
	.pass = pass,
	.deliver = deliver,
	.busy = busy,
	.hold = hold,
	.gone = gone,
	.shutdown = shutdown_peer,
	.finish = finish,
	.free = free_socket,
};

int iopf_hfd_socket_new(struct iopf_hfd **h, const struct iopf_hfd_host *host, int sock)
{
	struct hfd_socket *s = calloc(1, sizeof(*s));
	int rc;

	*h = NULL;
	if (!s) {
		close(sock);
		return -ENOMEM;
	}
	s->h.ops = &socket_ops;
	s->h.host = *host;
	rc = iopf_peer_new(&s->peer, sock, host->log);
	if (rc) {
		close(sock);
		free(s);
		return rc;
	}
	rc = iopf_hfd_epoll_add(host, iopf_target_fd(host->t), EPOLLIN);
	rc = rc ?: iopf_hfd_epoll_add(host, iopf_peer_fd(s->peer), EPOLLIN);
	if (rc) {
		epoll_ctl(host->epfd, EPOLL_CTL_DEL, iopf_target_fd(host->t), NULL);
		free_socket(&s->h);
		return rc;
	}
	*h = &s->h;
	return 0;
}

int iopf_hfd_socket_open(struct iopf_hfd **h, const struct iopf_hfd_host *host, int *fd)
{
	int sv[2], rc = iopf_peer_socketpair(&sv[0], &sv[1]);

	*h = NULL;
	if (rc)
		return rc;
	rc = iopf_hfd_socket_new(h, host, sv[0]);
	if (rc) {
		close(sv[1]);
		return rc;
	}
	*fd = sv[1];
	return 0;
}
