// SPDX-License-Identifier: MIT
/*
 * A live session on a fault queue: read whole groups with one large
 * buffer (grown when a group does not fit), answer them in batches
 * (resubmitting after a refused entry), and print, record and check every
 * record on the way.  monitor, record and replay are built on it.
 *
 * The kernel's side, drivers/iommu/iommufd/fault.c:
 *  - iommufd_fault_fops_read() returns whole groups only, and -EINVAL
 *    when the first waiting group does not fit the count;
 *  - iommufd_fault_fops_write() stops at the first response it refuses
 *    and returns the bytes consumed before it, or the errno when it was
 *    the first: so after a short write the entry at the cut was refused
 *    and the rest was not looked at.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Read buffer: 64 KiB rounded down to whole records. */
#define READ_BYTES (65536 / IOPF_FAULT_SIZE * IOPF_FAULT_SIZE)
/* Largest read we grow to for a group that does not fit: the largest group lib/group.c keeps. */
#define READ_MAX ((size_t)IOPF_GROUP_MAX_RECORDS * IOPF_FAULT_SIZE)

struct iopf_session {
	struct iopf_session_cfg cfg;
	struct iopf_target *target;
	struct iopf_check *check;	/* always: every response is classified */
	uint32_t queue_id;
	uint64_t seq;			/* record number */
	uint8_t *buf;
	size_t cap;
	struct iommu_hwpt_page_response *batch;	/* responses to write in one go */
	size_t nbatch, batch_cap;
	struct iopf_session_counts n;
	bool cookie0_out;		/* a group with cookie 0 was read and not answered */
	bool warned_write0, warned_read0;
	bool rotate_failed;		/* the error is logged */
	int said;			/* the last error returned that was logged here */
};

/* Log an error the session returns (the error contract, iopf.h) and return it. */
static int fail(struct iopf_session *s, int rc, const char *what)
{
	iopf_log_printf(s->cfg.log, IOPF_LOG_ERR, "%s: %s: %s", iopf_target_name(s->target), what,
			strerror(-rc));
	return s->said = rc;
}

int iopf_session_said(const struct iopf_session *s)
{
	return s->said;
}

/*
 * Cookie 0 (doc/kernel-notes.md section 9.2, iopftool(8) "Kernel facts"): in
 * the 6.12.117 and 7.3.4 kernels
 * (drivers/iommu/iommufd/fault.c: iommufd_fault_fops_write()), a response
 * with cookie 0 and a valid code written while any group is outstanding
 * fails with EINVAL but erases the placeholder at index 0 of the cookie
 * xarray; from then on the queue hands out cookie 0.
 */
#define COOKIE0_KERNELS "the 6.12.117 and 7.3.4 kernels"


int iopf_session_new(struct iopf_session **sp, struct iopf_target *t,
		     const struct iopf_session_cfg *cfg)
{
	struct iopf_session *s = calloc(1, sizeof(*s));
	struct iopf_check_cfg ccfg = { 0 };

	*sp = NULL;
	if (!s)
		return -ENOMEM;
	if (cfg)
		s->cfg = *cfg;
	ccfg.deadline_ns = s->cfg.deadline_ns;
	s->target = t;
	s->queue_id = iopf_target_queue_id(t);
	s->cap = s->cfg.read_bytes / IOPF_FAULT_SIZE * IOPF_FAULT_SIZE;
	if (!s->cap)
		s->cap = READ_BYTES;
	s->buf = malloc(s->cap);
	if (!s->buf || iopf_check_new(&s->check, &ccfg)) {
		iopf_session_free(s);
		return -ENOMEM;
	}
	*sp = s;
	return 0;
}

void iopf_session_free(struct iopf_session *s)
{
	if (!s)
		return;
	iopf_check_free(s->check);
	free(s->buf);
	free(s->batch);
	free(s);
}

struct iopf_check *iopf_session_check(struct iopf_session *s)
{
	return s->check;
}

void iopf_session_counts(const struct iopf_session *s, struct iopf_session_counts *c)
{
	*c = s->n;
}

static void realtime(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* Print and record one record; a capture write error is kept for the caller. */
static void emit(struct iopf_session *s, struct iopf_rec *r)
{
	r->version = IOPF_REC_VERSION;
	r->hdr_len = IOPF_REC_HDR_LEN;
	r->queue_id = s->queue_id;
	r->seq = s->seq++;
	if (s->cfg.out)
		iopf_rec_print(s->cfg.out, r);
	if (s->cfg.metrics)
		iopf_metrics_rec(s->cfg.metrics, r);
	if (s->cfg.writer && !s->n.write_err) {
		int rc = iopf_writer_put(s->cfg.writer, r);

		if (rc)
			s->n.write_err = rc;
	}
}

/* The read buffer was too small for the first group: grow it. */
static int grow(struct iopf_session *s)
{
	size_t cap = s->cap * 2;
	uint8_t *buf;

	if (s->cap >= READ_MAX) {
		iopf_log_printf(s->cfg.log, IOPF_LOG_ERR, "%s: a group does not fit in a read of %zu bytes "
				"(%zu records, the most a group may have)", iopf_target_name(s->target),
				s->cap, s->cap / IOPF_FAULT_SIZE);
		return s->said = -EMSGSIZE;
	}
	if (cap > READ_MAX)
		cap = READ_MAX;
	buf = realloc(s->buf, cap);
	if (!buf)
		return fail(s, -ENOMEM, "growing the read buffer");
	s->buf = buf;
	s->cap = cap;
	return 0;
}

struct split_ctx {
	struct iopf_session *s;
	iopf_group_fn fn;
	void *ctx;
	struct timespec ts;
	int err;		/* the callback's first error: the rest of the read is still handled */
	uint64_t faults, groups;	/* of this read, handed out so far */
};

/*
 * A rotating writer (record -C, -G): switch files before a group or a
 * response, where the counts match what was written, so that a group's
 * records stay in one file and each file's META end has its own counts
 * (faults and groups: those of the read handed out so far).  A -G -W run
 * that has made its files stays in the last one (the caller stops).
 */
static void maybe_rotate(struct iopf_session *s, uint64_t faults, uint64_t groups, uint64_t now)
{
	struct iopf_capture_counts c = { .faults = s->n.faults + faults,
					 .groups = s->n.groups + groups,
					 .responses = s->n.responses };
	char err[4200];
	int rc;

	if (!s->cfg.writer || s->n.write_err || !iopf_writer_rotate_due(s->cfg.writer, now))
		return;
	rc = iopf_writer_rotate(s->cfg.writer, &c, err, sizeof(err));
	if (rc < 0) {
		iopf_log_printf(s->cfg.log, IOPF_LOG_ERR, "%s", err);
		s->n.write_err = rc;
		s->rotate_failed = true;
	}
}

bool iopf_session_rotate_failed(const struct iopf_session *s)
{
	return s->rotate_failed;
}

/* One group of a read (lib/group.c): print and record its records, check it, hand it out. */
static int on_split(void *ctx, struct iopf_group *g)
{
	struct split_ctx *sc = ctx;
	struct iopf_rec r = { .type = IOPF_REC_FAULT, .ts = sc->ts };

	if (!g->terminated)
		iopf_log_printf(sc->s->cfg.log, IOPF_LOG_WARN, "%s: a read returned a group (cookie %u) "
				"without its LAST_PAGE record; taken as complete",
				iopf_target_name(sc->s->target), g->cookie);
	maybe_rotate(sc->s, sc->faults, sc->groups, g->last_ns);
	if (sc->s->cfg.out || sc->s->cfg.writer || sc->s->cfg.metrics) {
		for (size_t i = 0; i < g->n; i++) {
			r.u.fault = g->recs[i];
			emit(sc->s, &r);
		}
	} else {
		sc->s->seq += g->n;	/* neither printed nor recorded: only numbered */
	}
	if (g->cookie == 0) {
		sc->s->cookie0_out = true;
		if (!sc->s->warned_read0) {
			sc->s->warned_read0 = true;
			iopf_log_printf(sc->s->cfg.log, IOPF_LOG_WARN, "%s: the queue handed out cookie 0: "
					"a response with cookie 0 written while groups were outstanding "
					"has poisoned it (a bug of %s, see iopftool(8) \"Kernel facts\"); "
					"a handler that takes cookie 0 for \"none\" never answers these groups",
					iopf_target_name(sc->s->target), COOKIE0_KERNELS);
		}
	}
	sc->faults += g->n;
	sc->groups++;
	iopf_check_group(sc->s->check, g, g->last_ns);
	if (sc->fn) {
		int rc = sc->fn(sc->ctx, g);

		if (rc && !sc->err)
			sc->err = rc;
	}
	return 0;
}

/* Read at most what the group limit leaves: one record per group at the least. */
static size_t read_count(const struct iopf_session *s)
{
	uint64_t left = s->cfg.limit > s->n.groups ? s->cfg.limit - s->n.groups : 0;

	if (!s->cfg.limit || left * IOPF_FAULT_SIZE >= s->cap)
		return s->cap;
	return (size_t)left * IOPF_FAULT_SIZE;
}

/* One read's records (whole groups): print, record and check them, hand each group to sc->fn. */
static ssize_t note_read(struct iopf_session *s, const void *buf, size_t bytes, uint64_t t_ns,
			 struct split_ctx *sc)
{
	size_t nrec = bytes / IOPF_FAULT_SIZE;
	ssize_t g;

	s->n.reads++;
	sc->faults = sc->groups = 0;	/* counted into s->n below */
	realtime(&sc->ts);
	g = iopf_group_split(s->queue_id, buf, nrec, t_ns, on_split, sc);
	s->n.faults += nrec;
	s->n.groups += (uint64_t)g;
	s->n.outstanding += (uint64_t)g;
	return g;
}

/* The queue polls readable: a group waits. */
static bool readable(const struct iopf_session *s)
{
	struct pollfd p = { .fd = iopf_target_fd(s->target), .events = POLLIN };

	return p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

ssize_t iopf_session_drain(struct iopf_session *s, iopf_group_fn fn, void *ctx)
{
	struct split_ctx sc = { .s = s, .fn = fn, .ctx = ctx };
	ssize_t total = 0;
	bool full = false;	/* the limited count was too small for the first group */

	while (!s->cfg.limit || s->n.groups < s->cfg.limit) {
		size_t count = full ? s->cap : read_count(s);
		ssize_t r = iopf_target_read(s->target, s->buf, count);

		if (r == -EINTR)
			continue;
		if (r == 0 && !total && !full && readable(s))
			r = -EINVAL;	/* older kernels: 0, not EINVAL, when the first group does not fit */
		if (r == -EINVAL) {
			int rc = count < s->cap ? 0 : grow(s);

			if (rc)
				return rc;
			full = true;
			continue;
		}
		if (r == -EAGAIN || r == 0)
			break;
		if (r == -ESHUTDOWN)	/* a handler-fd socket's end of stream: not an error */
			return r;
		if (r < 0)
			return fail(s, (int)r, "read");
		full = false;
		ssize_t g = note_read(s, s->buf, (size_t)r, iopf_time_now(), &sc);

		total += g;
		if (sc.err)
			return sc.err;
	}
	return total;
}

ssize_t iopf_session_note_read(struct iopf_session *s, const void *buf, size_t bytes, uint64_t t_ns,
			       iopf_group_fn fn, void *ctx)
{
	struct split_ctx sc = { .s = s, .fn = fn, .ctx = ctx };
	ssize_t g = note_read(s, buf, bytes, t_ns, &sc);

	return sc.err ? sc.err : g;
}

/* One response with its verdict; ts: its capture time stamp (one clock read a batch). */
static void note(struct iopf_session *s, const struct iommu_hwpt_page_response *resp,
		 uint32_t status, uint64_t t_ns, const struct timespec *ts)
{
	uint64_t lat = 0;
	enum iopf_verdict v;

	if (resp->cookie == 0 && !s->cookie0_out && s->n.outstanding && !s->warned_write0) {
		s->warned_write0 = true;
		iopf_log_printf(s->cfg.log, IOPF_LOG_WARN, "%s: the handler wrote a response with cookie 0 "
				"while %" PRIu64 " groups were outstanding: on %s this fails with EINVAL "
				"and from then on the queue hands out cookie 0 (iopftool(8) \"Kernel facts\")",
				iopf_target_name(s->target), s->n.outstanding, COOKIE0_KERNELS);
	}
	v = iopf_check_response(s->check, s->queue_id, resp, status, t_ns, &lat);

	maybe_rotate(s, 0, 0, t_ns);
	s->n.responses++;
	s->n.refused += status != 0;
	if (v == IOPF_OK || v == IOPF_V_LATE) {
		if (resp->cookie == 0)
			s->cookie0_out = false;
		s->n.accepted++;
		if (s->n.outstanding)
			s->n.outstanding--;
	}
	if (!s->cfg.out && !s->cfg.writer && !s->cfg.metrics) {
		s->seq++;	/* neither printed nor recorded: only numbered */
		return;
	}
	struct iopf_rec r = { .type = IOPF_REC_RESPONSE, .status = status, .ts = *ts,
			      .latency_ns = lat, .u.resp = *resp };

	emit(s, &r);
}

void iopf_session_note_response(struct iopf_session *s, const struct iommu_hwpt_page_response *resp,
				uint32_t status, uint64_t t_ns)
{
	struct timespec ts;

	realtime(&ts);
	note(s, resp, status, t_ns, &ts);
}

int iopf_session_respond(struct iopf_session *s, const struct iommu_hwpt_page_response *resp,
			 size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = iopf_target_write(s->target, resp + off, (n - off) * IOPF_RESP_SIZE);
		uint64_t t = iopf_time_now();
		struct timespec ts;

		realtime(&ts);

		if (w == -EINTR)
			continue;
		if (w > 0) {
			size_t k = (size_t)w / IOPF_RESP_SIZE;

			for (size_t j = 0; j < k; j++)
				note(s, &resp[off + j], 0, t, &ts);
			off += k;
		} else if (w == -EINVAL) {
			/* The kernel refused entry off and looked at none after it: resubmit the rest. */
			note(s, &resp[off], EINVAL, t, &ts);
			off++;
		} else {
			return fail(s, w < 0 ? (int)w : -EIO, "write of responses");
		}
	}
	return 0;
}

int iopf_session_queue(struct iopf_session *s, uint32_t cookie, uint32_t code)
{
	if (s->nbatch == s->batch_cap) {
		size_t cap = s->batch_cap ? s->batch_cap * 2 : 256;
		struct iommu_hwpt_page_response *b = realloc(s->batch, cap * sizeof(*b));

		if (!b)
			return fail(s, -ENOMEM, "queueing a response");
		s->batch = b;
		s->batch_cap = cap;
	}
	s->batch[s->nbatch++] = (struct iommu_hwpt_page_response){ .cookie = cookie, .code = code };
	return 0;
}

size_t iopf_session_queued(const struct iopf_session *s)
{
	return s->nbatch;
}

int iopf_session_flush(struct iopf_session *s)
{
	int rc = s->nbatch ? iopf_session_respond(s, s->batch, s->nbatch) : 0;

	s->nbatch = 0;
	return rc;
}

int iopf_session_meta_start(struct iopf_session *s, const char *source, const char *extra)
{
	struct timespec ts;

	if (!s->cfg.writer)
		return 0;
	realtime(&ts);
	s->seq++;
	return iopf_writer_meta_start(s->cfg.writer, &ts, source, NULL, extra);
}

int iopf_session_meta_end(struct iopf_session *s, uint64_t lost)
{
	struct timespec ts;

	if (!s->cfg.writer || s->n.write_err)
		return s->n.write_err;
	realtime(&ts);
	s->seq++;
	return iopf_writer_meta_end(s->cfg.writer, &ts, s->n.faults, s->n.groups, s->n.responses,
				    lost, NULL);
}

uint64_t iopf_session_in_flight(const struct iopf_session *s, uint64_t injected)
{
	uint64_t unread = injected > s->n.groups ? injected - s->n.groups : 0;

	return unread + s->n.outstanding;
}

bool iopf_session_window_full(const struct iopf_session *s, uint64_t injected, uint64_t window)
{
	return iopf_session_in_flight(s, injected) >= (window ? window : IOPF_WINDOW_GROUPS);
}
