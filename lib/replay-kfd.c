// SPDX-License-Identifier: MIT
/*
 * The replay's kernel-fd transport (iopftool-replay(8) "THE HANDLER
 * FD"), on mock: the handler gets the queue's own fault fd, so the
 * kernel answers its read(2) and write(2), and the tap (lib/tap.c)
 * shows us what the kernel gave it and took from it.
 *
 * Everything this transport knows of the handler comes from the tap's
 * typed events (iopf_hfd_kfd_event()): a READ is noted as the read it
 * was, whole; a WRITE carries the kernel's verdict on each response
 * written (the accepted ones, and the one refused, inside a partial
 * write too; a resubmission of that one is not judged again).  Both on
 * the tap's clock, so latencies are the handler's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "replay-hfd.h"

struct hfd_kfd {
	struct iopf_hfd h;
	struct iopf_tap *tap;
	uint64_t lost;
	uint64_t read_records;	/* records of a read the tap decodes */
};

static struct hfd_kfd *kfd_of(struct iopf_hfd *h)
{
	return (struct hfd_kfd *)h;
}

void iopf_hfd_kfd_event(struct iopf_hfd *h, const struct iopf_tap_event *ev)
{
	struct hfd_kfd *k = kfd_of(h);
	struct iopf_session *s = h->host.sess;

	if (ev->kind == IOPF_TAP_EV_LOST) {	/* the tap's buffer overflowed */
		k->lost += ev->lost;
		return;
	}
	if (ev->queue != iopf_target_queue_id(h->host.t))
		return;
	switch (ev->kind) {
	case IOPF_TAP_EV_READ:
		if (ev->n) {
			ssize_t g = iopf_session_note_read(s, ev->recs, ev->n * IOPF_FAULT_SIZE, ev->t_ns,
							   NULL, NULL);

			iopf_hfd_error(h, g < 0 ? (int)g : 0);
		}
		k->lost += ev->total - ev->n;
		break;
	case IOPF_TAP_EV_WRITE:
		for (size_t i = 0; i < ev->accepted && i < ev->n; i++)
			iopf_session_note_response(s, &ev->resps[i], 0, ev->t_ns);
		if (ev->refused_errno && !ev->retry && ev->accepted < ev->n)
			iopf_session_note_response(s, &ev->resps[ev->accepted], ev->refused_errno,
						   ev->t_ns);
		if (ev->accepted > ev->n)
			k->lost += ev->accepted - ev->n;
		break;
	default:
		break;
	}
}

void iopf_hfd_kfd_flush(struct iopf_hfd *h)
{
	iopf_hfd_refresh(h);
}

/* Everything the tap has for us now. */
static void take_tap(struct hfd_kfd *k)
{
	struct iopf_tap_event ev;
	int rc;

	while ((rc = iopf_tap_next_event(k->tap, &ev)) > 0)
		iopf_hfd_kfd_event(&k->h, &ev);
	iopf_hfd_kfd_flush(&k->h);
	if (rc < 0)
		iopf_hfd_error_said(&k->h, rc);	/* logged by the tap */
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

/* The tap's fd wakes late (trace_pipe per page, BPF past 1 MiB): look in anyway when the loop found nothing. */
static void pass(struct iopf_hfd *h, bool idle)
{
	struct hfd_kfd *k = kfd_of(h);

	if (idle && k->tap)
		take_tap(k);
}

/*
 * The tap decodes the first records of a read (IOPF_TAP_READ_RECORDS
 * with kprobe events, IOPF_TAP_BPF_MAX_BYTES of them with BPF): keep
 * fewer records than that unread, so that no read of the handler's can
 * hold more (a group larger than that is injected alone).
 */
static bool sees(const struct iopf_hfd *h, uint64_t unread, uint64_t max_group)
{
	return unread + max_group <= kfd_of((struct iopf_hfd *)h)->read_records;
}

static int finish(struct iopf_hfd *h)
{
	struct hfd_kfd *k = kfd_of(h);
	int rc = 0;

	if (k->tap) {
		rc = iopf_tap_drain(k->tap);
		if (rc && h->host.said)
			*h->host.said = rc;	/* logged by the tap */
		take_tap(k);
	}
	if (k->lost)
		iopf_log_printf(h->host.log, IOPF_LOG_WARN, "the tap could not see %llu records "
				"(it decodes the first %llu records of a read, and loses events when its "
				"buffer is full): groups it missed count as unanswered and "
				"answers to them as unknown; replay more slowly (--rate) or give "
				"--handler-fd socket", (unsigned long long)k->lost,
				(unsigned long long)k->read_records);
	return rc;
}

static void free_kfd(struct iopf_hfd *h)
{
	struct hfd_kfd *k = kfd_of(h);

	if (k->tap)
		iopf_tap_close(k->tap);
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
	if (!k) {
		if (tap)
			iopf_tap_close(tap);
		return -ENOMEM;
	}
	k->h.ops = &kfd_ops;
	k->h.host = *host;
	k->tap = tap;
	k->read_records = tap && iopf_tap_backend(tap) == IOPF_TAP_BPF ?
			  IOPF_TAP_BPF_MAX_BYTES / IOPF_FAULT_SIZE : IOPF_TAP_READ_RECORDS;
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
	struct iopf_tap_cfg tcfg = { .pid = 0, .fd = -1, .events = true };
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
