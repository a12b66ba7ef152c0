// SPDX-License-Identifier: MIT
/*
 * Fault groups: the one place that decides which FAULT records form a
 * group, when it is complete, and which group a RESPONSE answers.  The
 * rule is iopftool-capture(5) "Groups and cookies"; every verb (read,
 * stats, stats --check, replay, handle, monitor, record) goes through
 * here, so they cannot disagree.
 *
 * Two ways in, one struct iopf_group out:
 *  - iopf_grouper_rec(): capture records, one at a time.  Groups of
 *    different (queue, cookie) keys may be open at once; a group's FAULT
 *    records are copied (when the caller asks for them) only while it
 *    is open.  State is one slot per key: the most recent group with
 *    that key.  Answered slots are swept when the key table is full, so
 *    memory is bounded by the groups open or unanswered, not by the
 *    capture's size.
 *  - iopf_group_split(): a read() buffer from a live queue, which holds
 *    whole groups one after the other (drivers/iommu/iommufd/fault.c:
 *    iommufd_fault_fops_read() copies every fault of a group, or none);
 *    the groups point into the buffer, nothing is copied.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "u64map.h"

#define KEY_LIMIT	(1u << 20)	/* keys tracked at once (swept of answered groups when full) */
#define WARN_LIMIT	10		/* warnings of one kind printed per capture, then a summary */
#define SPARE_MAX	4096		/* a completed group's buffer up to this size is kept for the next */

struct slot {
	struct iopf_group g;
	struct iommu_hwpt_pgfault *buf;	/* kept records while open */
	size_t cap;
	bool used;
};

struct iopf_grouper {
	struct iopf_grouper_cfg cfg;
	struct u64map keys;		/* queue << 32 | cookie -> slot index + 1 */
	struct slot *s;
	size_t ns, cap;
	size_t *free_idx;		/* free slot indices */
	size_t nfree, free_cap;
	uint64_t next_id;
	size_t kept;			/* records held in open groups' buffers */
	struct iommu_hwpt_pgfault *spare;	/* a free buffer: no malloc per group */
	size_t spare_cap;
	struct iopf_grouper_counts n;
	struct iopf_grouper_counts base;	/* n at the start of this capture: warnings are per capture */
	/* the slot of the last key looked up: a group's records and its answer follow each other */
	uint64_t last_key;
	size_t last;			/* slot index + 1, 0: none */
};

static uint64_t key_of(uint32_t queue, uint32_t cookie)
{
	return (uint64_t)queue << 32 | cookie;
}


void iopf_grouper_set_name(struct iopf_grouper *gr, const char *name)
{
	gr->cfg.name = name;
}

static const char *gname(const struct iopf_grouper *gr)
{
	return gr->cfg.name ? gr->cfg.name : "capture";
}

int iopf_grouper_new(struct iopf_grouper **grp, const struct iopf_grouper_cfg *cfg)
{
	struct iopf_grouper *gr = calloc(1, sizeof(*gr));

	*grp = NULL;
	if (!gr)
		return -ENOMEM;
	if (cfg)
		gr->cfg = *cfg;
	if (!gr->cfg.max_records || gr->cfg.max_records > IOPF_GROUP_MAX_RECORDS)
		gr->cfg.max_records = IOPF_GROUP_MAX_RECORDS;
	gr->keys.limit = KEY_LIMIT;
	gr->next_id = 1;
	*grp = gr;
	return 0;
}

static void slot_release(struct iopf_grouper *gr, size_t i)
{
	struct slot *s = &gr->s[i];

	u64map_del(&gr->keys, key_of(s->g.queue_id, s->g.cookie));
	if (gr->last == i + 1)
		gr->last = 0;
	gr->kept -= s->g.state == IOPF_GROUP_OPEN ? s->g.nkept : 0;
	free(s->buf);
	s->buf = NULL;
	s->cap = 0;
	s->used = false;
	/* free_idx has room: it was grown when the slot was taken */
	gr->free_idx[gr->nfree++] = i;
}

/* A group leaves the books: the caller hears of it, then the slot is freed. */
static void slot_forget(struct iopf_grouper *gr, size_t i)
{
	if (gr->cfg.forget)
		gr->cfg.forget(gr->cfg.ctx, &gr->s[i].g);
	slot_release(gr, i);
}

/* Drop every answered group: the key table is full (a hostile capture). */
static void sweep(struct iopf_grouper *gr)
{
	for (size_t i = 0; i < gr->ns; i++)
		if (gr->s[i].used && gr->s[i].g.state == IOPF_GROUP_ANSWERED)
			slot_forget(gr, i);
}

static struct slot *slot_new(struct iopf_grouper *gr, uint64_t key)
{
	uint64_t *v = u64map_ref(&gr->keys, key, true);
	size_t i;

	if (!v) {
		sweep(gr);
		v = u64map_ref(&gr->keys, key, true);
		if (!v)
			return NULL;
	}
	if (gr->nfree) {
		i = gr->free_idx[--gr->nfree];
	} else {
		if (gr->ns == gr->cap) {
			size_t cap = gr->cap ? gr->cap * 2 : 64;
			struct slot *s = realloc(gr->s, cap * sizeof(*s));
			size_t *f = s ? realloc(gr->free_idx, cap * sizeof(*f)) : NULL;

			if (s)
				gr->s = s;
			if (!s || !f) {
				u64map_del(&gr->keys, key);
				return NULL;
			}
			gr->free_idx = f;
			gr->cap = cap;
		}
		i = gr->ns++;
	}
	*v = i + 1;
	memset(&gr->s[i], 0, sizeof(gr->s[i]));
	gr->s[i].used = true;
	gr->last_key = key;
	gr->last = i + 1;
	return &gr->s[i];
}

static struct slot *slot_of(struct iopf_grouper *gr, uint64_t key)
{
	uint64_t v;

	if (gr->last && gr->last_key == key)
		return &gr->s[gr->last - 1];
	if (!u64map_get(&gr->keys, key, &v))
		return NULL;
	gr->last_key = key;
	gr->last = (size_t)v;
	return &gr->s[v - 1];
}

static int complete(struct iopf_grouper *gr, struct slot *s)
{
	s->g.state = IOPF_GROUP_COMPLETE;
	gr->kept -= s->g.nkept;
	gr->n.groups++;
	int rc = gr->cfg.complete ? gr->cfg.complete(gr->cfg.ctx, &s->g) : 0;

	/* The records are the callback's to use; a complete group keeps none. */
	if (s->cap > gr->spare_cap && s->cap <= SPARE_MAX) {
		free(gr->spare);
		gr->spare = s->buf;
		gr->spare_cap = s->cap;
	} else {
		free(s->buf);
	}
	s->buf = NULL;
	s->cap = 0;
	s->g.recs = NULL;
	s->g.nkept = 0;
	return rc;
}

/* Count one more of a kind; true while its warnings are still printed. */
static bool warn_once_more(uint64_t *count, uint64_t base)
{
	return ++*count - base <= WARN_LIMIT;
}

/* Keep one more record of an open group; false when the group is at its size limit. */
static bool keep(struct iopf_grouper *gr, struct slot *s, const struct iommu_hwpt_pgfault *f)
{
	if (!gr->cfg.keep_records)
		return true;
	if (!s->buf && gr->spare) {
		s->buf = gr->spare;
		s->cap = gr->spare_cap;
		gr->spare = NULL;
		gr->spare_cap = 0;
	}
	if (s->g.nkept == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		struct iommu_hwpt_pgfault *b;

		if (cap > gr->cfg.max_records)
			cap = gr->cfg.max_records;
		if (cap <= s->cap)
			return false;
		b = realloc(s->buf, cap * sizeof(*b));
		if (!b)
			return false;
		s->buf = b;
		s->cap = cap;
	}
	s->buf[s->g.nkept++] = *f;
	s->g.recs = s->buf;
	gr->kept++;
	return true;
}

static int on_fault(struct iopf_grouper *gr, const struct iopf_rec *r, uint64_t recno,
		    struct iopf_group **out)
{
	const struct iommu_hwpt_pgfault *f = &r->u.fault;
	uint64_t key = key_of(r->queue_id, f->cookie);
	struct slot *s = slot_of(gr, key);
	int rc;

	if (s && s->g.state == IOPF_GROUP_COMPLETE) {
		/* The kernel would not hand out a cookie still outstanding. */
		if (warn_once_more(&gr->n.reused, gr->base.reused))
			iopf_log_printf(gr->cfg.log, IOPF_LOG_WARN,
					"%s: record %" PRIu64 ": cookie %u (queue %u) reused while its group "
					"(first record %" PRIu64 ") is unanswered: that group ends unanswered",
					gname(gr), recno, f->cookie, r->queue_id, s->g.first_recno);
	}
	bool fresh = !s;

	if (s && s->g.state != IOPF_GROUP_OPEN) {
		/* The key's last group leaves the books; its slot (kept, no records) is the new one's. */
		if (gr->cfg.forget)
			gr->cfg.forget(gr->cfg.ctx, &s->g);
		memset(&s->g, 0, sizeof(s->g));
		fresh = true;
	} else if (!s) {
		s = slot_new(gr, key);
		if (!s) {
			if (warn_once_more(&gr->n.untracked, gr->base.untracked))
				iopf_log_printf(gr->cfg.log, IOPF_LOG_WARN,
						"%s: record %" PRIu64 ": more than %u groups open at once; "
						"fault not tracked", gname(gr), recno, KEY_LIMIT);
			*out = NULL;
			return 0;
		}
	}
	if (fresh) {
		s->g.queue_id = r->queue_id;
		s->g.cookie = f->cookie;
		s->g.id = gr->next_id++;
		s->g.state = IOPF_GROUP_OPEN;
		s->g.first = *f;
		s->g.first_recno = recno;
		s->g.first_ns = iopf_rec_ns(r);
		s->g.mixed_pasid = false;
	} else if (!iopf_same_pasid(&s->g.first, f)) {
		s->g.mixed_pasid = true;
	}
	if (!keep(gr, s, f)) {
		if (!s->g.nkept && gr->cfg.keep_records)
			return -ENOMEM;
		/* Too big to keep (or out of memory): complete it here, go on with a new one. */
		if (warn_once_more(&gr->n.cut, gr->base.cut))
			iopf_log_printf(gr->cfg.log, IOPF_LOG_WARN,
					"%s: record %" PRIu64 ": the group of record %" PRIu64 " has more than "
					"%zu records; taken as complete there", gname(gr), recno,
					s->g.first_recno, s->g.nkept);
		rc = complete(gr, s);
		if (rc)
			return rc;
		slot_forget(gr, (size_t)(s - gr->s));	/* the rest is a new group, no reuse */
		return on_fault(gr, r, recno, out);
	}
	s->g.n++;
	s->g.last = *f;
	s->g.last_recno = recno;
	s->g.last_ns = iopf_rec_ns(r);
	*out = &s->g;
	if (!(f->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
		return 0;
	s->g.terminated = true;
	return complete(gr, s);
}

static int on_response(struct iopf_grouper *gr, const struct iopf_rec *r, uint64_t recno,
		       struct iopf_group **out)
{
	struct slot *s = slot_of(gr, key_of(r->queue_id, r->u.resp.cookie));
	int rc;

	*out = NULL;
	if (!s)
		return 0;	/* answers no group: the checker says why */
	if (s->g.state == IOPF_GROUP_OPEN) {
		/* Reads return whole groups only: an answered group was complete. */
		if (warn_once_more(&gr->n.closed_by_response, gr->base.closed_by_response))
			iopf_log_printf(gr->cfg.log, IOPF_LOG_WARN,
					"%s: record %" PRIu64 ": a response answers the group of record %" PRIu64
					" (cookie %u), which has no LAST_PAGE record; taken as complete",
					gname(gr), recno, s->g.first_recno, s->g.cookie);
		rc = complete(gr, s);
		if (rc)
			return rc;
	}
	if (r->status == 0 && r->u.resp.code <= IOMMUFD_PAGE_RESP_INVALID)
		s->g.state = IOPF_GROUP_ANSWERED;
	*out = &s->g;
	return 0;
}

int iopf_grouper_rec(struct iopf_grouper *gr, const struct iopf_rec *r, uint64_t recno,
		     struct iopf_group **group)
{
	struct iopf_group *dummy;

	if (!group)
		group = &dummy;
	*group = NULL;
	if (r->type == IOPF_REC_FAULT)
		return on_fault(gr, r, recno, group);
	if (r->type == IOPF_REC_RESPONSE)
		return on_response(gr, r, recno, group);
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct slot *x = *(const struct slot *const *)a, *y = *(const struct slot *const *)b;

	return x->g.id < y->g.id ? -1 : x->g.id > y->g.id;
}

/*
 * End of a capture: each open group is incomplete (the recording was
 * cut short), warned about by its first record and forgotten; the rest
 * are forgotten too.  The grouper is then empty, ready for the next
 * capture or the next loop.
 */
uint64_t iopf_grouper_end(struct iopf_grouper *gr)
{
	struct slot **open = NULL;
	size_t nopen = 0;
	uint64_t before = gr->n.incomplete;

	for (size_t i = 0; i < gr->ns; i++)
		nopen += gr->s[i].used && gr->s[i].g.state == IOPF_GROUP_OPEN;
	if (nopen)
		open = malloc(nopen * sizeof(*open));
	nopen = 0;
	for (size_t i = 0; open && i < gr->ns; i++)
		if (gr->s[i].used && gr->s[i].g.state == IOPF_GROUP_OPEN)
			open[nopen++] = &gr->s[i];
	if (open)
		qsort(open, nopen, sizeof(*open), by_id);
	for (size_t i = 0; i < nopen; i++) {
		gr->n.incomplete++;
		if (gr->n.incomplete - before <= WARN_LIMIT)
			iopf_log_printf(gr->cfg.log, IOPF_LOG_WARN,
					"%s: record %" PRIu64 ": its group (cookie %u, %zu records) has no "
					"LAST_PAGE record and no response: the recording was cut short; "
					"incomplete group left out", gname(gr), open[i]->g.first_recno,
					open[i]->g.cookie, open[i]->g.n);
	}
	if (gr->n.incomplete - before > WARN_LIMIT)
		iopf_log_printf(gr->cfg.log, IOPF_LOG_WARN, "%s: %" PRIu64 " incomplete groups in all",
				gname(gr), gr->n.incomplete - before);
	free(open);
	for (size_t i = 0; i < gr->ns; i++)
		if (gr->s[i].used)
			slot_forget(gr, i);
	if (gr->n.closed_by_response - gr->base.closed_by_response > WARN_LIMIT)
		iopf_log_printf(gr->cfg.log, IOPF_LOG_WARN, "%s: %" PRIu64 " groups without a LAST_PAGE "
				"record were answered, taken as complete", gname(gr),
				gr->n.closed_by_response - gr->base.closed_by_response);
	if (gr->n.reused - gr->base.reused > WARN_LIMIT)
		iopf_log_printf(gr->cfg.log, IOPF_LOG_WARN, "%s: %" PRIu64 " cookies were reused while "
				"outstanding", gname(gr), gr->n.reused - gr->base.reused);
	gr->base = gr->n;
	return gr->n.incomplete - before;
}

void iopf_grouper_counts(const struct iopf_grouper *gr, struct iopf_grouper_counts *c)
{
	*c = gr->n;
}

size_t iopf_grouper_open_records(const struct iopf_grouper *gr)
{
	return gr->kept;
}

void iopf_grouper_free(struct iopf_grouper *gr)
{
	if (!gr)
		return;
	for (size_t i = 0; i < gr->ns; i++)
		free(gr->s[i].buf);
	free(gr->s);
	free(gr->spare);
	free(gr->free_idx);
	u64map_free(&gr->keys);
	free(gr);
}

/*
 * A read() buffer: the first group runs to its LAST_PAGE record.  A
 * cookie change before it, or the end of the buffer, also ends it (the
 * kernel never does that; a foreign fd might): terminated is then false.
 */
ssize_t iopf_group_split(uint32_t queue, const struct iommu_hwpt_pgfault *recs, size_t nrec,
			 uint64_t t_ns, iopf_group_fn fn, void *ctx)
{
	ssize_t ngroups = 0;
	size_t i = 0;

	while (i < nrec) {
		struct iopf_group g = {
			.queue_id = queue, .cookie = recs[i].cookie, .state = IOPF_GROUP_COMPLETE,
			.recs = &recs[i], .first = recs[i], .first_ns = t_ns, .last_ns = t_ns,
		};
		size_t j = i;

		while (j < nrec && recs[j].cookie == g.cookie) {
			g.mixed_pasid |= !iopf_same_pasid(&recs[i], &recs[j]);
			if (recs[j++].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE) {
				g.terminated = true;
				break;
			}
		}
		g.n = g.nkept = j - i;
		g.last = recs[j - 1];
		g.id = (uint64_t)ngroups + 1;
		i = j;
		ngroups++;
		if (fn) {
			int rc = fn(ctx, &g);

			if (rc)
				return rc;
		}
	}
	return ngroups;
}
