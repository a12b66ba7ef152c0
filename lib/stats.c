// SPDX-License-Identifier: MIT
/*
 * The stats engine: summarise captures (counts per device, PASID, perm,
 * response code and status, group sizes, latency percentiles and
 * histogram, cookie-echo violations, grpid reuse) and run the response
 * checker offline over them (stats --check), as iopftool-stats(8)
 * describes.  Printing goes through iopf_out: text and JSON from one path.
 *
 * Streaming, in memory bounded whatever the input:
 *  - display tables (per device, PASID, perm, code, status) keep at most
 *    TABLE_KEYS distinct keys, the rest is counted in an "other" row;
 *  - groups are assembled by lib/group.c (iopftool-capture(5) "Groups
 *    and cookies"), which keeps no records for stats: memory is bounded
 *    by the groups open at once;
 *  - grpid reuse: the multiset of (queue, dev_id, grpid) of outstanding
 *    groups, bounded by GROUP_LIMIT.
 * The checker (lib/check.c) runs once per capture, since cookie spaces
 * and clocks belong to one recording; the reports are summed and the
 * latency histograms merged.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "u64map.h"

#define TABLE_KEYS	64
#define GROUP_LIMIT	(1u << 20)
#define SIZE_BUCKETS	33	/* 1, 2, 3-4, 5-8, ... 2^31+1 - 2^32 */
#define BAR_WIDTH	40

/* ------------------------------------------------------------------ */
/* Display tables: a few distinct keys, then "other"                   */
/* ------------------------------------------------------------------ */
struct trow {
	uint64_t key, a, b;
};

struct table {
	struct trow row[TABLE_KEYS];
	size_t n;
	struct trow other;	/* a, b of the keys that did not fit */
};

static struct trow *table_row(struct table *t, uint64_t key)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->row[i].key == key)
			return &t->row[i];
	if (t->n == TABLE_KEYS)
		return &t->other;
	t->row[t->n].key = key;
	return &t->row[t->n++];
}

static int trow_cmp(const void *a, const void *b)
{
	const struct trow *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */
/* A group's user word: its reuse key ((queue, dev) index << 32 | grpid) while outstanding. */
#define REUSE_TRACKED (1ull << 63)

struct file_info {
	char *path;
	uint64_t records, bad;
	bool complete, opened;
	bool cookie0;		/* a record with cookie 0 was reported */
	int linktype;
};

struct iopf_stats {
	struct iopf_stats_cfg cfg;
	struct file_info *file;
	size_t nfiles, fcap;
	uint64_t records, faults, groups, responses, lost, lost_records, meta, bad, unknown;
	uint64_t incomplete, seq_gaps, grpid_reuse, untracked, mixed_pasid;
	uint64_t first_ns, last_ns;
	struct table devs, pasids, perms, codes, statuses;
	uint64_t sizes[SIZE_BUCKETS];
	struct iopf_hist *lat, *check_lat;
	struct iopf_timeline *tl;	/* faults and latency over time, for --svg */
	struct iopf_report rep;	/* summed over the captures */
	char source[128];
	bool source_mixed;
	char *capture_names;	/* "a.pcap,b.pcap" for the check report */
	/* per capture, between iopf_stats_begin() and iopf_stats_end() */
	struct iopf_check *chk;
	struct file_info *fi;
	struct iopf_grouper *grouper;
	struct u64map qdev;	/* (queue, dev_id) -> small index + 1 */
	struct u64map outst;	/* reuse key -> outstanding groups */
	uint64_t next_seq;
	bool seq_started;
};

/* ------------------------------------------------------------------ */
/* Groups, the checker and grpid reuse                                 */
/* ------------------------------------------------------------------ */

static void reuse_release(struct iopf_stats *st, struct iopf_group *g)
{
	uint64_t *n;

	if (!(g->user & REUSE_TRACKED))
		return;
	n = u64map_ref(&st->outst, g->user & ~REUSE_TRACKED, false);
	if (n && *n)
		(*n)--;
	g->user = 0;
}

/* A delivered group: was its (queue, dev_id, grpid) already outstanding? */
static void reuse_deliver(struct iopf_stats *st, struct iopf_group *g)
{
	uint64_t *qd = u64map_ref(&st->qdev, (uint64_t)g->queue_id << 32 | g->last.dev_id, true);
	uint64_t *n, key;

	g->user = 0;
	if (!qd)
		return;
	if (!*qd)
		*qd = st->qdev.len;
	key = *qd << 32 | g->last.grpid;
	n = u64map_ref(&st->outst, key, true);
	if (!n)
		return;
	if (*n)
		st->grpid_reuse++;
	(*n)++;
	g->user = key | REUSE_TRACKED;
}

static unsigned int size_bucket(uint64_t n)
{
	unsigned int b = 0;

	while (b + 1 < SIZE_BUCKETS && n > (1ull << b))
		b++;
	return b;
}

/* The grouper's complete callback: a group was delivered (at its newest record's time). */
static int group_delivered(void *ctx, struct iopf_group *g)
{
	struct iopf_stats *st = ctx;
	const struct iommu_hwpt_pgfault *f = &g->last;
	bool pv = f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;

	st->groups++;
	st->sizes[size_bucket(g->n)]++;
	table_row(&st->devs, f->dev_id)->b++;
	table_row(&st->pasids, pv ? f->pasid : UINT64_MAX)->b++;
	reuse_deliver(st, g);
	if (g->mixed_pasid && st->mixed_pasid++ < 10)
		iopf_log_printf(st->cfg.log, IOPF_LOG_WARN,
				"%s: the group of record %" PRIu64 " (grpid %u, cookie %u) has faults of more "
				"than one PASID: the kernel joined partial faults by group id alone, and its "
				"response goes to the PASID of the last", st->fi ? st->fi->path : "capture",
				g->first_recno, g->last.grpid, g->cookie);
	iopf_check_group(st->chk, g, g->last_ns);
	return 0;
}

/* The grouper's forget callback: an unanswered group no longer holds its grpid. */
static void group_forget(void *ctx, const struct iopf_group *g)
{
	struct iopf_group copy = *g;

	reuse_release(ctx, &copy);
}

static void on_fault(struct iopf_stats *st, const struct iopf_rec *r, uint64_t recno)
{
	const struct iommu_hwpt_pgfault *f = &r->u.fault;
	bool pv = f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;

	st->faults++;
	iopf_timeline_fault(st->tl, iopf_rec_ns(r), f->dev_id);
	table_row(&st->devs, f->dev_id)->a++;
	table_row(&st->pasids, pv ? f->pasid : UINT64_MAX)->a++;
	table_row(&st->perms, f->perm)->a++;
	iopf_grouper_rec(st->grouper, r, recno, NULL);
}

static void on_response(struct iopf_stats *st, const struct iopf_rec *r, uint64_t recno)
{
	const struct iommu_hwpt_page_response *p = &r->u.resp;
	struct iopf_group *g;

	iopf_grouper_rec(st->grouper, r, recno, &g);
	st->responses++;
	table_row(&st->codes, p->code)->a++;
	table_row(&st->statuses, r->status)->a++;
	if (r->status == 0) {
		iopf_hist_add(st->lat, r->latency_ns);
		iopf_timeline_response(st->tl, iopf_rec_ns(r), r->latency_ns);
	}
	iopf_check_response(st->chk, r->queue_id, p, r->status, iopf_rec_ns(r), NULL);
	if (g && g->state == IOPF_GROUP_ANSWERED)
		reuse_release(st, g);
}

/* ------------------------------------------------------------------ */
/* META: source= and end=1                                             */
/* ------------------------------------------------------------------ */
static void on_meta(struct iopf_stats *st, const struct iopf_rec *r)
{
	char val[128];

	st->meta++;
	if (iopf_meta_get(r, "end", val, sizeof(val)) && !strcmp(val, "1"))
		st->fi->complete = true;
	if (!iopf_meta_get(r, "source", val, sizeof(val)))
		return;
	if (!st->source[0])
		snprintf(st->source, sizeof(st->source), "%s", val);
	else if (strcmp(st->source, val))
		st->source_mixed = true;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */
static void on_seq(struct iopf_stats *st, const struct iopf_rec *r)
{
	uint64_t t = iopf_rec_ns(r);

	if (st->seq_started && r->seq > st->next_seq)
		st->seq_gaps += r->seq - st->next_seq;
	st->seq_started = true;
	st->next_seq = r->seq + 1;
	if (!st->first_ns || t < st->first_ns)
		st->first_ns = t;
	if (t > st->last_ns)
		st->last_ns = t;
}

/* ------------------------------------------------------------------ */
/* Captures and records                                                */
/* ------------------------------------------------------------------ */
int iopf_stats_new(struct iopf_stats **stp, const struct iopf_stats_cfg *cfg)
{
	struct iopf_stats *st = calloc(1, sizeof(*st));

	*stp = NULL;
	if (!st)
		return -ENOMEM;
	if (cfg)
		st->cfg = *cfg;
	st->qdev.limit = st->outst.limit = GROUP_LIMIT;
	if (iopf_hist_new(&st->lat) || iopf_hist_new(&st->check_lat) || iopf_timeline_new(&st->tl)) {
		iopf_stats_free(st);
		return -ENOMEM;
	}
	*stp = st;
	return 0;
}

static void capture_free(struct iopf_stats *st)
{
	iopf_grouper_free(st->grouper);
	iopf_check_free(st->chk);
	st->grouper = NULL;
	st->chk = NULL;
	u64map_free(&st->qdev);
	u64map_free(&st->outst);
}

void iopf_stats_free(struct iopf_stats *st)
{
	if (!st)
		return;
	capture_free(st);
	for (size_t i = 0; i < st->nfiles; i++)
		free(st->file[i].path);
	free(st->file);
	free(st->capture_names);
	iopf_hist_free(st->lat);
	iopf_hist_free(st->check_lat);
	iopf_timeline_free(st->tl);
	free(st);
}

/* A new file entry, made the current one. */
static struct file_info *file_add(struct iopf_stats *st, const char *name)
{
	struct file_info *f;

	if (st->nfiles == st->fcap) {
		size_t cap = st->fcap ? st->fcap * 2 : 8;

		f = realloc(st->file, cap * sizeof(*f));
		if (!f)
			return NULL;
		st->file = f;
		st->fcap = cap;
	}
	f = &st->file[st->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = strdup(name);
	if (!f->path)
		return NULL;
	st->nfiles++;
	st->fi = f;
	return f;
}

int iopf_stats_begin(struct iopf_stats *st, const char *name)
{
	struct iopf_check_cfg cfg = { .deadline_ns = st->cfg.deadline_ns };
	struct iopf_grouper_cfg gcfg = { .log = st->cfg.log, .complete = group_delivered,
					 .forget = group_forget, .ctx = st };
	struct file_info *f;

	if (st->chk)
		iopf_stats_end(st);
	f = file_add(st, name);
	if (!f)
		return -ENOMEM;
	gcfg.name = f->path;
	st->seq_started = false;
	if (iopf_check_new(&st->chk, &cfg) || iopf_grouper_new(&st->grouper, &gcfg)) {
		capture_free(st);
		return -ENOMEM;
	}
	return 0;
}

void iopf_stats_add(struct iopf_stats *st, const struct iopf_rec *r, uint64_t recno, uint64_t offset)
{
	if (!st->chk)
		return;
	st->records++;
	st->fi->records++;
	on_seq(st, r);
	if (!st->fi->cookie0 && ((r->type == IOPF_REC_FAULT && r->u.fault.cookie == 0) ||
				 (r->type == IOPF_REC_RESPONSE && r->u.resp.cookie == 0))) {
		st->fi->cookie0 = true;
		iopf_log_printf(st->cfg.log, IOPF_LOG_WARN, "%s: record %" PRIu64 " %s", st->fi->path,
				recno, IOPF_COOKIE0_WARNING);
	}
	switch (r->type) {
	case IOPF_REC_FAULT: on_fault(st, r, recno); break;
	case IOPF_REC_RESPONSE: on_response(st, r, recno); break;
	case IOPF_REC_LOST: st->lost += r->u.lost; st->lost_records++; break;
	case IOPF_REC_META: on_meta(st, r); break;
	default:
		/* The tap's records (iopftool-capture(5)) say nothing the FAULT and RESPONSE records don't. */
		if (iopf_rec_type_info(r->type))
			break;
		st->unknown++;
		if (offset == UINT64_MAX)	/* pcapng from a pipe */
			iopf_log_printf(st->cfg.log, IOPF_LOG_WARN, "%s: record %" PRIu64 " (offset unknown)"
					": unknown record type %u, skipped", st->fi->path, recno, r->type);
		else
			iopf_log_printf(st->cfg.log, IOPF_LOG_WARN, "%s: record %" PRIu64 " at offset %" PRIu64
					": unknown record type %u, skipped", st->fi->path, recno, offset, r->type);
		break;
	}
}

void iopf_stats_bad(struct iopf_stats *st)
{
	st->bad++;
	if (st->fi && st->chk)
		st->fi->bad++;
}

/* End of one capture: groups never completed, the checker's report. */
void iopf_stats_end(struct iopf_stats *st)
{
	struct iopf_grouper_counts gc;
	struct iopf_report rep;

	if (!st->chk)
		return;
	st->incomplete += iopf_grouper_end(st->grouper);
	iopf_grouper_counts(st->grouper, &gc);
	st->untracked += gc.untracked;
	iopf_check_finish(st->chk, &rep);
	iopf_hist_merge(st->check_lat, iopf_check_latency(st->chk));
	st->rep.groups += rep.groups;
	st->rep.faults += rep.faults;
	st->rep.responses += rep.responses;
	for (int v = 0; v < IOPF_V_COUNT; v++)
		st->rep.v[v] += rep.v[v];
	capture_free(st);
}

/*
 * Read one file into the capture: a new one, or with cont the next file
 * of the rotated recording being read (its groups, cookies and record
 * numbers go on from the file before).  The capture is left open.
 */
static int stats_read(struct iopf_stats *st, const char *path, volatile int *stop, bool cont)
{
	struct iopf_reader *rd;
	struct iopf_rec r;
	char err[512];
	int rc;

	if (iopf_reader_open(&rd, path, err, sizeof(err)) < 0) {
		iopf_log_printf(st->cfg.log, IOPF_LOG_ERR, "%s", err);
		rc = iopf_stats_begin(st, path);
		st->bad++;
		if (!rc)
			capture_free(st);	/* listed, unreadable */
		return -EIO;
	}
	if (cont && st->chk) {
		rc = file_add(st, path) ? 0 : -ENOMEM;
		if (!rc)
			iopf_grouper_set_name(st->grouper, st->fi->path);
	} else {
		rc = iopf_stats_begin(st, path);
	}
	if (rc) {
		iopf_reader_free(rd);
		return rc;
	}
	st->fi->opened = true;
	st->fi->linktype = iopf_reader_linktype(rd);
	for (;;) {
		memset(&r, 0, sizeof(r));
		rc = iopf_reader_next(rd, &r);
		if (rc == 0 && iopf_reader_torn(rd))
			iopf_log_printf(st->cfg.log, IOPF_LOG_WARN, "%s: %s", path, iopf_reader_torn(rd));
		if (rc == 0 || (stop && *stop))
			break;
		if (rc == 1) {
			iopf_stats_add(st, &r, iopf_reader_recno(rd), iopf_reader_offset(rd));
			if (st->cfg.progress) {
				uint64_t pos, size;

				iopf_reader_position(rd, &pos, &size);
				st->cfg.progress(st->cfg.ctx, path, st->fi->records, pos, size);
			}
			continue;
		}
		if (iopf_reader_bad_shown(rd) || rc != -EBADMSG)
			iopf_log_printf(st->cfg.log, IOPF_LOG_ERR, "%s: %s", path, iopf_reader_error(rd));
		iopf_stats_bad(st);
		if (rc != -EBADMSG)
			break;
	}
	if (iopf_reader_bad_summary(rd))
		iopf_log_printf(st->cfg.log, IOPF_LOG_ERR, "%s: %s", path, iopf_reader_bad_summary(rd));
	iopf_reader_free(rd);
	if (rc < 0 && rc != -EBADMSG)
		return rc;
	return st->fi->bad ? -EBADMSG : 0;
}

int iopf_stats_file(struct iopf_stats *st, const char *path, volatile int *stop)
{
	int rc = stats_read(st, path, stop, false);

	iopf_stats_end(st);
	return rc;
}

/* What a file's META start says of the recording it belongs to. */
struct part {
	const char *path;
	size_t arg;		/* its place among the arguments */
	uint64_t seq;		/* file_seq=; UINT64_MAX: not a rotated file */
	uint64_t rec_hash;	/* the META start's text but for its file lines */
};

static void part_peek(struct part *p)
{
	struct iopf_reader *rd;
	struct iopf_rec r;
	char err[512], val[32], *end;
	struct stat sb;

	p->seq = UINT64_MAX;
	/* only a regular file can be read twice (not "-", a pipe, a FIFO); errors are said when it is read */
	if (!strcmp(p->path, "-") || stat(p->path, &sb) || !S_ISREG(sb.st_mode) ||
	    iopf_reader_open(&rd, p->path, err, sizeof(err)) < 0)
		return;
	if (iopf_reader_next(rd, &r) == 1 && r.type == IOPF_REC_META &&
	    iopf_meta_get(&r, "file_seq", val, sizeof(val)) && val[0] >= '0' && val[0] <= '9') {
		errno = 0;
		p->seq = strtoull(val, &end, 10);
		if (errno || *end)
			p->seq = UINT64_MAX;
		/* FNV-1a over the lines, but file= and file_seq=, which differ per file */
		uint64_t h = 0xcbf29ce484222325ull;
		const char *t = (const char *)r.payload, *e = t + r.payload_len;

		while (t < e) {
			const char *nl = memchr(t, '\n', (size_t)(e - t));
			size_t n = nl ? (size_t)(nl - t) : (size_t)(e - t);

			if (strncmp(t, "file=", n < 5 ? n : 5) && strncmp(t, "file_seq=", n < 9 ? n : 9))
				for (size_t i = 0; i <= n && t + i < e; i++)
					h = (h ^ (uint8_t)t[i]) * 0x100000001b3ull;
			t += n + 1;
		}
		p->rec_hash = h;
	}
	iopf_reader_free(rd);
}

static int part_cmp_arg(const void *a, const void *b)
{
	const struct part *x = a, *y = b;

	return x->arg < y->arg ? -1 : x->arg > y->arg;
}

static int part_cmp(const void *a, const void *b)
{
	const struct part *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->arg < y->arg ? -1 : x->arg > y->arg;
}

int iopf_stats_files(struct iopf_stats *st, const char *const *paths, size_t n, volatile int *stop)
{
	struct part *p = calloc(n ? n : 1, sizeof(*p));
	bool one = n > 1;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p[i] = (struct part){ .path = paths[i], .arg = i };
		if (one)
			part_peek(&p[i]);
		one = one && p[i].seq != UINT64_MAX && p[i].rec_hash == p[0].rec_hash;
	}
	if (one) {
		qsort(p, n, sizeof(*p), part_cmp);
		for (size_t i = 1; i < n; i++)
			one = one && p[i].seq != p[i - 1].seq;	/* two recordings alike: as given */
		if (!one)
			qsort(p, n, sizeof(*p), part_cmp_arg);
	}
	if (one && p[0].seq)
		iopf_log_printf(st->cfg.log, IOPF_LOG_WARN, "%s: file %" PRIu64 " of its recording, "
				"the first given: the files before it are gone (-W), and a response at "
				"its start may answer a group recorded in them (unknown_cookie)",
				p[0].path, p[0].seq);
	for (size_t i = 0; i < n && !(stop && *stop); i++) {
		bool cont = one && i && p[i].seq == p[i - 1].seq + 1;
		int r;

		if (one && i && !cont)
			iopf_log_printf(st->cfg.log, IOPF_LOG_WARN, "%s: file %" PRIu64 " of its recording "
					"follows file %" PRIu64 " (%s): the files between are missing, and "
					"groups and responses across the gap are judged apart", p[i].path,
					p[i].seq, p[i - 1].seq, p[i - 1].path);
		r = stats_read(st, p[i].path, stop, cont);
		if (r && (!rc || rc == -EBADMSG))
			rc = r;
	}
	iopf_stats_end(st);
	free(p);
	return rc;
}

void iopf_stats_result(const struct iopf_stats *st, struct iopf_stats_result *res)
{
	memset(res, 0, sizeof(*res));
	res->records = st->records;
	res->faults = st->faults;
	res->groups = st->groups;
	res->incomplete_groups = st->incomplete;
	res->responses = st->responses;
	res->lost = st->lost;
	res->lost_records = st->lost_records;
	res->meta = st->meta;
	res->bad = st->bad;
	res->unknown = st->unknown;
	res->seq_gaps = st->seq_gaps;
	res->grpid_reuse = st->grpid_reuse;
	res->mixed_pasid = st->mixed_pasid;
	res->untracked_faults = st->untracked;
	res->duration_ns = st->last_ns > st->first_ns ? st->last_ns - st->first_ns : 0;
	res->source = st->source_mixed ? "mixed" : st->source[0] ? st->source : "unknown";
	res->complete = true;
	for (size_t i = 0; i < st->nfiles; i++)
		res->complete &= st->file[i].complete;
	res->latency = st->lat;
	res->check = st->rep;
	iopf_report_latency(&res->check, st->check_lat);
	res->check.wall_ns = res->duration_ns;
	/* answered groups, as replay counts them: one accepted response each */
	res->check.groups_per_s = res->duration_ns ?
		(double)res->check.v[IOPF_OK] * 1e9 / (double)res->duration_ns : 0;
	/* a capture that could not be read, or a bad record, is not a correct one */
	res->check.ok = !st->bad;
	for (int v = IOPF_OK + 1; v < IOPF_V_COUNT; v++)
		res->check.ok &= !res->check.v[v];
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */
static void print_files(struct iopf_out *o, const struct iopf_stats *st)
{
	iopf_out_open_array(o, "files", NULL);
	for (size_t i = 0; i < st->nfiles; i++) {
		const struct file_info *fi = &st->file[i];

		iopf_out_open_object(o, NULL, NULL);
		iopf_out_str(o, "path", "%s:", fi->path);
		iopf_out_uint(o, "records", " %" PRIu64 " records", fi->records);
		iopf_out_uint(o, "bad", fi->bad ? ", %" PRIu64 " bad" : NULL, fi->bad);
		iopf_out_bool(o, "complete", NULL, fi->complete);
		iopf_out_str(o, NULL, ", %s\n", !fi->opened ? "unreadable" :
			     fi->complete ? "complete (META end=1)" : "cut short (no META end=1)");
		iopf_out_close_object(o, NULL);
	}
	iopf_out_close_array(o, NULL);
}

static void print_totals(struct iopf_out *o, const struct iopf_stats *st)
{
	bool complete = true;

	for (size_t i = 0; i < st->nfiles; i++)
		complete &= st->file[i].complete;
	iopf_out_str(o, "source", "source %s\n", st->source_mixed ? "mixed" :
		     st->source[0] ? st->source : "unknown");
	iopf_out_bool(o, "complete", NULL, complete);
	iopf_out_uint(o, "records", "records %" PRIu64, st->records);
	iopf_out_uint(o, "faults", ", faults %" PRIu64, st->faults);
	iopf_out_uint(o, "groups", ", groups %" PRIu64, st->groups);
	iopf_out_uint(o, "incomplete_groups", ", incomplete groups %" PRIu64, st->incomplete);
	iopf_out_uint(o, "responses", ", responses %" PRIu64 "\n", st->responses);
	iopf_out_uint(o, "lost", "lost %" PRIu64, st->lost);
	iopf_out_uint(o, "lost_records", " (in %" PRIu64 " LOST records)", st->lost_records);
	iopf_out_uint(o, "seq_gaps", ", seq gaps %" PRIu64, st->seq_gaps);
	iopf_out_uint(o, "meta", ", meta %" PRIu64, st->meta);
	iopf_out_uint(o, "bad", ", bad %" PRIu64, st->bad);
	iopf_out_uint(o, "unknown", ", unknown type %" PRIu64 "\n", st->unknown);
	iopf_out_duration(o, "duration_ns", "duration %s\n",
			  st->last_ns > st->first_ns ? st->last_ns - st->first_ns : 0);
	if (st->untracked)
		iopf_out_uint(o, "untracked_faults", "untracked faults %" PRIu64 " (too many groups open)\n",
			      st->untracked);
}

static void sort_table(struct table *t)
{
	qsort(t->row, t->n, sizeof(t->row[0]), trow_cmp);
}

static void print_other(struct iopf_out *o, const struct trow *r, const char *a, const char *b)
{
	if (!r->a && !r->b)
		return;
	iopf_out_open_object(o, NULL, NULL);
	iopf_out_bool(o, "other", "  other:", true);
	iopf_out_uint(o, a, " %" PRIu64 " ", r->a);
	iopf_out_printf(o, "%s", a);
	if (b) {
		iopf_out_uint(o, b, ", %" PRIu64 " ", r->b);
		iopf_out_printf(o, "%s", b);
	}
	iopf_out_close_object(o, "\n");
}

static void print_devs(struct iopf_out *o, struct iopf_stats *st)
{
	sort_table(&st->devs);
	iopf_out_open_array(o, "devices", "devices:\n");
	for (size_t i = 0; i < st->devs.n; i++) {
		iopf_out_open_object(o, NULL, NULL);
		iopf_out_uint(o, "dev_id", "  dev %" PRIu64 ":", st->devs.row[i].key);
		iopf_out_uint(o, "faults", " %" PRIu64 " faults", st->devs.row[i].a);
		iopf_out_uint(o, "groups", ", %" PRIu64 " groups", st->devs.row[i].b);
		iopf_out_close_object(o, "\n");
	}
	print_other(o, &st->devs.other, "faults", "groups");
	iopf_out_close_array(o, NULL);
}

static void print_pasids(struct iopf_out *o, struct iopf_stats *st)
{
	sort_table(&st->pasids);
	iopf_out_open_array(o, "pasids", "pasids:\n");
	for (size_t i = 0; i < st->pasids.n; i++) {
		const struct trow *r = &st->pasids.row[i];
		bool none = r->key == UINT64_MAX;

		iopf_out_open_object(o, NULL, NULL);
		iopf_out_uint(o, "pasid", none ? NULL : "  pasid %" PRIu64 ":", none ? 0 : r->key);
		iopf_out_bool(o, "pasid_valid", none ? "  none:" : NULL, !none);
		iopf_out_uint(o, "faults", " %" PRIu64 " faults", r->a);
		iopf_out_uint(o, "groups", ", %" PRIu64 " groups", r->b);
		iopf_out_close_object(o, "\n");
	}
	print_other(o, &st->pasids.other, "faults", "groups");
	iopf_out_close_array(o, NULL);
}


/* Names of the known bits, then each unknown bit as hex: never dropped. */

static void print_perms(struct iopf_out *o, struct iopf_stats *st)
{
	sort_table(&st->perms);
	iopf_out_open_array(o, "perms", "perm:\n");
	for (size_t i = 0; i < st->perms.n; i++) {
		iopf_out_open_object(o, NULL, NULL);
		iopf_print_bits(o, "perm", "  ", iopf_perm_bits(), (uint32_t)st->perms.row[i].key,
				IOPF_BITS_NAMES);
		iopf_out_uint(o, "perm_raw", " (0x%" PRIx64 "):", st->perms.row[i].key);
		iopf_out_uint(o, "faults", " %" PRIu64 " faults", st->perms.row[i].a);
		iopf_out_close_object(o, "\n");
	}
	print_other(o, &st->perms.other, "faults", NULL);
	iopf_out_close_array(o, NULL);
}

static void print_sizes(struct iopf_out *o, const struct iopf_stats *st)
{
	iopf_out_open_array(o, "group_sizes", "group sizes:\n");
	for (unsigned int b = 0; b < SIZE_BUCKETS; b++) {
		uint64_t max = 1ull << b, min = b ? (1ull << (b - 1)) + 1 : 1;

		if (!st->sizes[b])
			continue;
		iopf_out_open_object(o, NULL, NULL);
		iopf_out_uint(o, "min", "  %" PRIu64, min);
		iopf_out_uint(o, "max", min == max ? NULL : "-%" PRIu64, max);
		iopf_out_uint(o, "groups", ": %" PRIu64 " groups", st->sizes[b]);
		iopf_out_close_object(o, "\n");
	}
	iopf_out_close_array(o, NULL);
}

static void print_codes(struct iopf_out *o, struct iopf_stats *st)
{
	sort_table(&st->codes);
	iopf_out_open_array(o, "codes", "response codes:\n");
	for (size_t i = 0; i < st->codes.n; i++) {
		const struct trow *r = &st->codes.row[i];

		iopf_out_open_object(o, NULL, NULL);
		iopf_out_str(o, "code", "  %s", iopf_code_name((uint32_t)r->key));
		iopf_out_uint(o, "code_raw", " (%" PRIu64 "):", r->key);
		iopf_out_uint(o, "responses", " %" PRIu64 " responses", r->a);
		iopf_out_close_object(o, "\n");
	}
	print_other(o, &st->codes.other, "responses", NULL);
	iopf_out_close_array(o, NULL);
}

static void print_statuses(struct iopf_out *o, struct iopf_stats *st)
{
	sort_table(&st->statuses);
	iopf_out_open_array(o, "statuses", "response statuses:\n");
	for (size_t i = 0; i < st->statuses.n; i++) {
		const struct trow *r = &st->statuses.row[i];

		iopf_out_open_object(o, NULL, NULL);
		iopf_out_uint(o, "status", "  status %" PRIu64, r->key);
		iopf_out_printf(o, " (%s):", !r->key ? "accepted" :
				r->key < 4096 ? strerror((int)r->key) : "unknown");
		iopf_out_uint(o, "responses", " %" PRIu64 " responses", r->a);
		iopf_out_close_object(o, "\n");
	}
	print_other(o, &st->statuses.other, "responses", NULL);
	iopf_out_close_array(o, NULL);
}

static void print_latency(struct iopf_out *o, const struct iopf_hist *h)
{
	iopf_out_open_object(o, "latency_ns", "latency (accepted responses):");
	iopf_out_uint(o, "count", " count %" PRIu64, iopf_hist_count(h));
	iopf_out_duration(o, "min", " min %s", iopf_hist_min(h));
	iopf_out_duration(o, "mean", " mean %s", iopf_hist_mean(h));
	iopf_out_duration(o, "p50", " p50 %s", iopf_hist_quantile(h, 0.50));
	iopf_out_duration(o, "p90", " p90 %s", iopf_hist_quantile(h, 0.90));
	iopf_out_duration(o, "p99", " p99 %s", iopf_hist_quantile(h, 0.99));
	iopf_out_duration(o, "p999", " p99.9 %s", iopf_hist_quantile(h, 0.999));
	iopf_out_duration(o, "max", " max %s", iopf_hist_max(h));
	iopf_out_close_object(o, "\n");
}

/* 1024-based like bpftrace: 0, 1, 512, 1K, 2K ... 1M ... */
static const char *pow2_label(char buf[24], int shift)
{
	static const char suffix[] = " KMGTPE";
	int k = shift / 10;

	if (shift >= 64)
		return "inf";
	snprintf(buf, 24, "%llu%.*s", 1ull << (shift - 10 * k), k ? 1 : 0, &suffix[k]);
	return buf;
}

/*
 * The log2 histogram, one row per bucket between the first and the last
 * non-empty one, in the style of bpftrace's hist(): "[lo, hi) count |@@@|",
 * bounds in ns.  JSON: {"le_ns": upper bound, "count": n} per non-empty one.
 */
static void print_hist(struct iopf_out *o, const struct iopf_hist *h)
{
	uint64_t b[IOPF_HIST_LOG2_BUCKETS], peak = 0;
	int lo = -1, hi = -1;
	char l1[24], l2[24], range[56];

	iopf_hist_log2(h, b);
	for (int i = 0; i < IOPF_HIST_LOG2_BUCKETS; i++) {
		if (!b[i])
			continue;
		lo = lo < 0 ? i : lo;
		hi = i;
		peak = b[i] > peak ? b[i] : peak;
	}
	iopf_out_open_array(o, "latency_hist", "latency histogram (ns):\n");
	for (int i = lo; lo >= 0 && i <= hi; i++) {
		uint64_t le = i == 63 ? UINT64_MAX : (2ull << i) - 1;
		int w = (int)((b[i] * BAR_WIDTH + peak - 1) / peak);

		if (!b[i] && iopf_out_is_json(o))
			continue;
		if (i == 0)
			snprintf(range, sizeof(range), "[0, 2)");
		else
			snprintf(range, sizeof(range), "[%s, %s)", pow2_label(l1, i), pow2_label(l2, i + 1));
		iopf_out_open_object(o, NULL, NULL);
		iopf_out_printf(o, "%-16s", range);
		iopf_out_duration(o, "le_ns", NULL, le);
		iopf_out_uint(o, "count", " %8" PRIu64, b[i]);
		iopf_out_printf(o, " |%-*.*s|", BAR_WIDTH, w,
				"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@");
		iopf_out_close_object(o, "\n");
	}
	iopf_out_close_array(o, NULL);
}

int iopf_stats_svg(const struct iopf_stats *st, FILE *f, const char *title, uint64_t deadline_ns)
{
	return iopf_svg_write(f, title, st->lat, st->tl, deadline_ns);
}

static const enum iopf_verdict violation_order[] = {
	IOPF_V_UNKNOWN_COOKIE, IOPF_V_GRPID_ECHO, IOPF_V_DUPLICATE, IOPF_V_BAD_CODE,
	IOPF_V_UNANSWERED, IOPF_V_REJECTED, IOPF_V_LATE,
};

static void print_violations(struct iopf_out *o, const struct iopf_stats *st)
{
	iopf_out_open_object(o, "violations", "violations:");
	for (size_t i = 0; i < sizeof(violation_order) / sizeof(violation_order[0]); i++) {
		enum iopf_verdict v = violation_order[i];
		char fmt[48];

		snprintf(fmt, sizeof(fmt), " %s %%" PRIu64, iopf_verdict_name(v));
		iopf_out_uint(o, iopf_verdict_name(v), fmt, st->rep.v[v]);
	}
	iopf_out_close_object(o, "\n");
	iopf_out_uint(o, "grpid_reuse", "grpid reuse while outstanding: %" PRIu64 " groups\n",
		      st->grpid_reuse);
	iopf_out_uint(o, "mixed_pasid", "groups with faults of more than one PASID: %" PRIu64 "\n",
		      st->mixed_pasid);
}

void iopf_stats_print(struct iopf_out *o, struct iopf_stats *st)
{
	iopf_out_begin(o);
	print_files(o, st);
	print_totals(o, st);
	print_devs(o, st);
	print_pasids(o, st);
	print_perms(o, st);
	print_sizes(o, st);
	print_codes(o, st);
	print_statuses(o, st);
	print_latency(o, st->lat);
	print_hist(o, st->lat);
	print_violations(o, st);
	iopf_out_end(o);
}

/* The summed report of all captures, with the merged latency histogram. */
void iopf_stats_print_check(struct iopf_out *o, struct iopf_stats *st)
{
	struct iopf_stats_result res;
	size_t len = 0;

	for (size_t i = 0; i < st->nfiles; i++)
		len += strlen(st->file[i].path) + 1;
	free(st->capture_names);
	st->capture_names = malloc(len + 1);
	if (st->capture_names) {
		st->capture_names[0] = 0;
		for (size_t i = 0; i < st->nfiles; i++) {
			if (i)
				strcat(st->capture_names, ",");
			strcat(st->capture_names, st->file[i].path);
		}
	}
	iopf_stats_result(st, &res);
	iopf_report_print(o, st->capture_names, res.source, "recorded", &res.check);
}
