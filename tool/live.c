// SPDX-License-Identifier: MIT
/*
 * A live session on a fault queue: read whole groups with one large
 * buffer, answer them in batches, and print, record and check every
 * record on the way.  monitor, record and replay are built on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "live.h"
#include "vec.h"

int live_init(struct live *l, struct iopf_target *t, const struct iopf_check_cfg *cfg)
{
	memset(l, 0, sizeof(*l));
	l->target = t;
	l->queue_id = iopf_target_queue_id(t);
	l->cap = LIVE_READ_BYTES;
	l->buf = malloc(l->cap);
	if (!l->buf)
		return -ENOMEM;
	return iopf_check_new(&l->check, cfg);
}

void live_fini(struct live *l)
{
	iopf_check_free(l->check);
	free(l->buf);
	l->check = NULL;
	l->buf = NULL;
}

void live_realtime(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* Print and record one record; a capture write error is kept for the caller. */
static void emit(struct live *l, struct iopf_rec *r)
{
	r->version = IOPF_REC_VERSION;
	r->hdr_len = IOPF_REC_HDR_LEN;
	r->queue_id = l->queue_id;
	r->seq = l->seq++;
	if (l->out)
		iopf_print_rec(l->out, r);
	if (l->writer && !l->write_err) {
		int rc = iopf_writer_put(l->writer, r);

		if (rc)
			l->write_err = rc;
	}
}

/* The read buffer was too small for the first group: grow it (EINVAL, KERNEL-FACTS 1.5). */
static int grow(struct live *l)
{
	size_t cap = l->cap * 2;
	uint8_t *buf;

	if (l->cap >= LIVE_READ_MAX)
		return -EINVAL;
	if (cap > LIVE_READ_MAX)
		cap = LIVE_READ_MAX;
	buf = realloc(l->buf, cap);
	if (!buf)
		return -ENOMEM;
	l->buf = buf;
	l->cap = cap;
	return 0;
}

static void deliver(struct live *l, const struct iommu_hwpt_pgfault *grp, size_t n,
		    uint64_t t_ns, live_group_fn fn, void *ctx)
{
	iopf_check_delivered(l->check, l->queue_id, grp, n, t_ns);
	if (fn)
		fn(l, grp, n, t_ns, ctx);
}

/*
 * Hand out the groups of one read: runs of one cookie ending at
 * LAST_PAGE.  The buffer holds the kernel's own structs (not captured
 * bytes), so it is read in place.
 */
static size_t split_groups(struct live *l, const void *buf, size_t nrec, uint64_t t_ns,
			   live_group_fn fn, void *ctx)
{
	const struct iommu_hwpt_pgfault *recs = buf, *grp = recs;
	struct iopf_rec r = { .type = IOPF_REC_FAULT };
	size_t ngroups = 0, n = 0;

	live_realtime(&r.ts);
	for (size_t i = 0; i < nrec; i++) {
		if (n && recs[i].cookie != grp->cookie) {
			/* A cookie change without LAST_PAGE: hand out what we have. */
			deliver(l, grp, n, t_ns, fn, ctx);
			ngroups++;
			n = 0;
		}
		if (!n)
			grp = &recs[i];
		n++;
		r.u.fault = recs[i];
		emit(l, &r);
		if (recs[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE) {
			deliver(l, grp, n, t_ns, fn, ctx);
			ngroups++;
			n = 0;
		}
	}
	if (n) {
		deliver(l, grp, n, t_ns, fn, ctx);
		ngroups++;
	}
	l->faults += nrec;
	return ngroups;
}

/* Read at most what the group limit leaves: one record per group at the least. */
static size_t read_count(const struct live *l)
{
	uint64_t left = l->limit > l->groups ? l->limit - l->groups : 0;

	if (!l->limit || left * IOPF_FAULT_SIZE >= l->cap)
		return l->cap;
	return (size_t)left * IOPF_FAULT_SIZE;
}

ssize_t live_drain(struct live *l, live_group_fn fn, void *ctx)
{
	ssize_t total = 0;
	bool full = false;	/* the limited count was too small for the first group */

	while (!l->limit || l->groups < l->limit) {
		size_t count = full ? l->cap : read_count(l);
		ssize_t r = iopf_target_read(l->target, l->buf, count);

		if (r == -EINTR)
			continue;
		if (r == -EINVAL) {
			int rc = count < l->cap ? 0 : grow(l);

			if (rc)
				return rc;
			full = true;
			continue;
		}
		if (r == -EAGAIN || r == 0)
			break;
		if (r < 0)
			return r;
		full = false;
		l->reads++;
		size_t g = split_groups(l, l->buf, (size_t)r / IOPF_FAULT_SIZE, iopf_now_ns(), fn, ctx);
		l->groups += g;
		l->outstanding += g;
		total += g;
	}
	return total;
}

size_t live_account(struct live *l, const void *buf, size_t bytes, live_group_fn fn, void *ctx)
{
	size_t g = split_groups(l, buf, bytes / IOPF_FAULT_SIZE, iopf_now_ns(), fn, ctx);

	l->reads++;
	l->groups += g;
	l->outstanding += g;
	return g;
}

void live_note_response(struct live *l, const struct iommu_hwpt_page_response *resp,
			uint32_t status, uint64_t t_ns)
{
	struct iopf_rec r = { .type = IOPF_REC_RESPONSE, .status = status };
	uint64_t lat = 0;
	enum iopf_verdict v = iopf_check_response(l->check, l->queue_id, resp, status, t_ns, &lat);

	l->responses++;
	if (v == IOPF_OK || v == IOPF_V_LATE) {
		l->accepted++;
		if (l->outstanding)
			l->outstanding--;
	}
	live_realtime(&r.ts);
	r.latency_ns = lat;
	r.u.resp = *resp;
	emit(l, &r);
}

int live_respond(struct live *l, const struct iommu_hwpt_page_response *resp, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = iopf_target_write(l->target, resp + off, (n - off) * IOPF_RESP_SIZE);
		uint64_t t = iopf_now_ns();

		if (w == -EINTR)
			continue;
		if (w > 0) {
			size_t k = (size_t)w / IOPF_RESP_SIZE;

			for (size_t j = 0; j < k; j++)
				live_note_response(l, &resp[off + j], 0, t);
			off += k;
		} else if (w == -EINVAL) {
			/* The kernel refused entry off and applied none after it: resubmit the rest. */
			live_note_response(l, &resp[off], EINVAL, t);
			off++;
		} else {
			return w < 0 ? (int)w : -EIO;
		}
	}
	return 0;
}

int resp_batch_push(struct resp_batch *b, uint32_t cookie, uint32_t code)
{
	int rc = vec_reserve(&b->r, &b->cap, sizeof(*b->r), b->n + 1);

	if (!rc)
		b->r[b->n++] = (struct iommu_hwpt_page_response){ .cookie = cookie, .code = code };
	return rc;
}

int live_respond_batch(struct live *l, struct resp_batch *b)
{
	int rc = b->n ? live_respond(l, b->r, b->n) : 0;

	b->n = 0;
	return rc;
}

void resp_batch_free(struct resp_batch *b)
{
	free(b->r);
	*b = (struct resp_batch){ 0 };
}

uint32_t live_arg_policy(struct argp_state *state, const char *arg)
{
	if (!strcmp(arg, "success"))
		return IOMMUFD_PAGE_RESP_SUCCESS;
	if (strcmp(arg, "invalid"))
		argp_error(state, "--policy: '%s' is not success or invalid", arg);
	return IOMMUFD_PAGE_RESP_INVALID;
}

int live_write_meta_start(struct live *l, const char *source, const char *extra)
{
	char text[4096];
	struct utsname u;
	struct timespec ts;

	if (!l->writer)
		return 0;
	if (uname(&u))
		strcpy(u.release, "unknown");
	snprintf(text, sizeof(text),
		 "tool=iopftool\nversion=%s\nsource=%s\nkernel=%s\nfault_record_size=%zu\n%s",
		 IOPF_VERSION, source, u.release, IOPF_FAULT_SIZE, extra ? extra : "");
	live_realtime(&ts);
	l->seq++;
	return iopf_writer_meta(l->writer, &ts, text);
}

int live_write_meta_end(struct live *l, uint64_t lost)
{
	char text[256];
	struct timespec ts;

	if (!l->writer || l->write_err)
		return l->write_err;
	snprintf(text, sizeof(text), "end=1\nfaults=%llu\ngroups=%llu\nresponses=%llu\nlost=%llu\n",
		 (unsigned long long)l->faults, (unsigned long long)l->groups,
		 (unsigned long long)l->responses, (unsigned long long)lost);
	live_realtime(&ts);
	l->seq++;
	return iopf_writer_meta(l->writer, &ts, text);
}

/* Finish the capture: end record, flush, close; any failure is reported. */
int live_close_writer(struct live *l, const char *path)
{
	int rc, rc2;

	if (!l->writer)
		return 0;
	rc = l->write_err ? l->write_err : live_write_meta_end(l, 0);
	rc2 = iopf_writer_close(l->writer);
	l->writer = NULL;
	if (!rc)
		rc = rc2;
	if (rc)
		p_err("%s: write error: %s", path, strerror(-rc));
	return rc;
}
