// SPDX-License-Identifier: MIT
/*
 * The replay's kernel-fd transport (iopftool-replay(8) "THE HANDLER
 * FD"), on mock: the handler gets the queue's own fault fd, so the
 * kernel answers its read(2) and write(2), and the tap (lib/tap.c)
 * shows us what the kernel gave it and took from it.
 *
 * Everything this transport knows of the handler comes from the tap's
 * records (iopf_hfd_kfd_note()): a read's FAULT records are gathered and
 * noted as one read when its last group ends; RESPONSE records carry the
 * kernel's verdict on each response written.  Both on the tap's clock,
 * so latencies are the handler's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "replay-hfd.h"

#define TAP_GROUP_RECS	IOPF_GROUP_MAX_RECORDS	/* the most records of one read we gather from the tap */

struct hfd_kfd {
	struct iopf_hfd h;
	struct iopf_tap *tap;
	struct iommu_hwpt_pgfault *recs;	/* the tap's FAULT records of one read */
	size_t n;
	uint64_t t_ns, lost;
};

static struct hfd_kfd *kfd_of(struct iopf_hfd *h)
{
	return (struct hfd_kfd *)h;
}

static void flush_read(struct hfd_kfd *k)
{
	if (k->n) {
		ssize_t g = iopf_session_note_read(k->h.host.sess, k->recs, k->n * IOPF_FAULT_SIZE,
						   k->t_ns, NULL, NULL);

		iopf_hfd_error(&k->h, g < 0 ? (int)g : 0);
		k->n = 0;
	}
}

void iopf_hfd_kfd_note(struct iopf_hfd *h, const struct iopf_rec *r)
{
	struct hfd_kfd *k = kfd_of(h);

	if (r->type == IOPF_REC_LOST && !r->queue_id)	/* the trace buffer overflowed */
		k->lost += r->u.lost;
	if (r->queue_id != iopf_target_queue_id(h->host.t))
		return;
	/* one read's records share its time stamp; its DELIVERY records come between groups */
	if ((r->type != IOPF_REC_FAULT && r->type != IOPF_REC_DELIVERY) ||
	    (r->type == IOPF_REC_FAULT && k->n && iopf_rec_ns(r) != k->t_ns))
		flush_read(k);
	switch (r->type) {
	case IOPF_REC_FAULT:
		if (k->n == TAP_GROUP_RECS)
			flush_read(k);
		k->t_ns = iopf_rec_ns(r);
		k->recs[k->n++] = r->u.fault;
		break;
	case IOPF_REC_RESPONSE:
		iopf_session_note_response(h->host.sess, &r->u.resp, r->status, iopf_rec_ns(r));
		break;
	case IOPF_REC_LOST:
		k->lost += r->u.lost;
		break;
	default:
		break;
	}
}

void iopf_hfd_kfd_flush(struct iopf_hfd *h)
{
	flush_read(kfd_of(h));
	iopf_hfd_refresh(h);
}

/* Everything the tap has for us now. */
static void take_tap(struct hfd_kfd *k)
{
	struct iopf_rec r;
	int rc;

	while ((rc = iopf_tap_next(k->tap, &r)) > 0)
		iopf_hfd_kfd_note(&k->h, &r);
	iopf_hfd_kfd_flush(&k->h);
	if (rc < 0)
		iopf_hfd_error(&k->h, rc);
}

static bool event(struct iopf_hfd *h, int fd, uint32_t events)
{
	struct hfd_kfd *k = kfd_of(h);

	(void)events;
	if (!k->tap || fd != iopf_tap_fd(k->tap))
		return false;
	take_tap(k);
	return true;
}

/* trace_pipe's poll wakes per page: look in anyway when the loop found nothing. */
static void pass(struct iopf_hfd *h, bool idle)
{
	struct hfd_kfd *k = kfd_of(h);

	if (idle && k->tap)
		take_tap(k);
}

/*
 * The tap decodes IOPF_TAP_READ_RECORDS records of a read: keep fewer
 * records than that unread, so that no read of the handler's can hold
 * more (a group larger than that is injected alone).
 */
static bool sees(const struct iopf_hfd *h, uint64_t unread, uint64_t max_group)
{
	(void)h;
	return unread + max_group <= IOPF_TAP_READ_RECORDS;
}

static int finish(struct iopf_hfd *h)
{
	struct hfd_kfd *k = kfd_of(h);
	int rc = 0;

	if (k->tap) {
		rc = iopf_tap_drain(k->tap);
		take_tap(k);
	}
	if (k->lost)
		iopf_logf(h->host.log, IOPF_LOG_WARN, "the tap could not see %llu records "
			  "(it decodes the first 100 records of a read and the first 120 "
			  "responses of a write, and loses events when its trace buffer is full): groups it missed count as unanswered and "
			  "answers to them as unknown; replay more slowly (--rate) or give "
			  "--handler-fd socket", (unsigned long long)k->lost);
	return rc;
}

static void free_kfd(struct iopf_hfd *h)
{
	struct hfd_kfd *k = kfd_of(h);

	if (k->tap)
		iopf_tap_close(k->tap);
	free(k->recs);
	free(k);
}

static const struct iopf_hfd_ops kfd_ops = {
	.name = "the queue's own fault fd (its reads and writes seen through the tap)",
	.wait_ms = 10,
	.event = event,
	.pass = pass,
	.sees = sees,
	.finish = finish,
	.free = free_kfd,
};

int iopf_hfd_kfd_new(struct iopf_hfd **h, const struct iopf_hfd_host *host, struct iopf_tap *tap)
{
	struct hfd_kfd *k = calloc(1, sizeof(*k));

	*h = NULL;
	if (k)
		k->recs = malloc(TAP_GROUP_RECS * sizeof(*k->recs));
	if (!k || !k->recs) {
		free(k);
		if (tap)
			iopf_tap_close(tap);
		return -ENOMEM;
	}
	k->h.ops = &kfd_ops;
	k->h.host = *host;
	k->tap = tap;
	*h = &k->h;
	return 0;
}

/*
 * The queue's own fd, and the tap to see what the kernel gives the
 * handler and takes from it.  A zero-length write of ours tells the tap
 * which file is our queue (iommufd_fault_fops_write() answers nothing).
 */
int iopf_hfd_kfd_open(struct iopf_hfd **h, const struct iopf_hfd_host *host, int *fd,
		      char *why, size_t whylen)
{
	struct iopf_tap_cfg tcfg = { .pid = 0, .fd = -1 };
	struct iopf_tap *tap;
	int rc = iopf_tap_open(&tap, &tcfg, host->log, why, whylen);

	*h = NULL;
	if (rc)
		return rc;
	rc = iopf_hfd_kfd_new(h, host, tap);
	if (rc)
		return rc;
	if (write(iopf_target_fd(host->t), "", 0) < 0)
		rc = -errno;
	rc = rc ?: iopf_hfd_epoll_add(host, iopf_tap_fd(tap), EPOLLIN);
	if (!rc) {
		*fd = fcntl(iopf_target_fd(host->t), F_DUPFD_CLOEXEC, 3);
		if (*fd < 0) {
			rc = -errno;
			epoll_ctl(host->epfd, EPOLL_CTL_DEL, iopf_tap_fd(tap), NULL);
		}
	}
	if (rc) {
		free_kfd(*h);
		*h = NULL;
	}
	return rc;
}
