// SPDX-License-Identifier: MIT
/*
 * iopftool stats: summarise captures, or with --check print the replay
 * report (SPEC.md section 5) for the faults and responses they recorded.
 *
 * Streaming, in memory bounded whatever the input:
 *  - display tables (per device, PASID, perm, code, status) keep at most
 *    TABLE_KEYS distinct keys, the rest is counted in an "other" row;
 *  - groups are assembled per (queue, cookie) (SPEC.md section 4: the
 *    FAULT records of one queue sharing a cookie, LAST_PAGE last) in a
 *    map bounded by GROUP_LIMIT; a group keeps at most GROUP_RECS
 *    records for the checker (the newest replaces the last one kept, so
 *    the LAST_PAGE record stays last), and all buffers together at most
 *    BUFFER_LIMIT records;
 *  - grpid reuse: the multiset of (queue, dev_id, grpid) of outstanding
 *    groups, bounded by GROUP_LIMIT too.
 * The checker (lib/check.c) runs once per capture, since cookie spaces
 * and clocks belong to one recording; the reports are summed and the
 * latency histograms merged.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "u64map.h"
#include "vec.h"

#define MAX_FILES	256
#define TABLE_KEYS	64
#define GROUP_LIMIT	(1u << 20)
#define GROUP_RECS	4096
#define BUFFER_LIMIT	(1u << 20)
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
struct sgroup {			/* the most recent group of one (queue, cookie) */
	struct iommu_hwpt_pgfault *recs;
	uint32_t n, cap;	/* records kept for the checker */
	uint64_t nrec;		/* records seen */
	uint64_t reuse_key;	/* (queue, dev) index << 32 | grpid, while outstanding */
	uint64_t last_ts;	/* time of its newest record */
	bool open, outstanding, reuse_tracked;
};

struct file_info {
	const char *path;
	uint64_t records, bad;
	bool complete, opened;
	int linktype;
};

struct stats_opts {
	const char *files[MAX_FILES];
	int nfiles;
	bool check;
	uint64_t deadline_ns;
};

struct stats {
	const struct stats_opts *o;
	struct file_info file[MAX_FILES];
	uint64_t records, faults, groups, responses, lost, lost_records, meta, bad, unknown;
	uint64_t incomplete, seq_gaps, grpid_reuse, untracked;
	uint64_t warned_unterminated;
	uint64_t first_ns, last_ns;
	struct table devs, pasids, perms, codes, statuses;
	uint64_t sizes[SIZE_BUCKETS];
	struct iopf_hist *lat, *check_lat;
	struct iopf_report rep;	/* summed over the captures */
	char source[128];
	bool source_mixed;
	/* per capture */
	struct iopf_check *chk;
	struct file_info *fi;
	struct u64map gmap;	/* (queue, cookie) -> index in g[] + 1 */
	struct sgroup *g;
	size_t ng, gcap;
	struct u64map qdev;	/* (queue, dev_id) -> small index + 1 */
	struct u64map outst;	/* reuse key -> outstanding groups */
	uint64_t buffered, next_seq;
	bool seq_started;
};

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */
enum { OPT_CHECK = 0x100, OPT_DEADLINE };

static const struct argp_option stats_options[] = {
	{ "check", OPT_CHECK, NULL, 0, "print the replay report of the recorded responses; exit 1 on violations", 0 },
	{ "deadline", OPT_DEADLINE, "DUR", 0, "a response later than DUR after its group's delivery is late", 0 },
	{ 0 }
};

static error_t parse_stats(int key, char *arg, struct argp_state *state)
{
	struct stats_opts *o = state->input;

	switch (key) {
	case OPT_CHECK: o->check = true; return 0;
	case OPT_DEADLINE: o->deadline_ns = arg_duration(state, "--deadline", arg); return 0;
	case ARGP_KEY_ARG:
		if (o->nfiles >= MAX_FILES)
			argp_error(state, "too many captures (at most %d)", MAX_FILES);
		o->files[o->nfiles++] = arg;
		return 0;
	case ARGP_KEY_END:
		if (!o->nfiles)
			argp_error(state, "no capture given");
		return 0;
	default: return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child stats_children[] = { GLOBAL_CHILD, { 0 } };

static const struct argp stats_argp = {
	.options = stats_options,
	.parser = parse_stats,
	.args_doc = "FILE...",
	.doc = "Summarise iopf captures: counts per device, PASID and perm, group sizes, "
	       "response codes, latency percentiles and histogram, cookie-echo violations, "
	       "grpid reuse."
	       "\vWith --check, print the replay report for the recorded faults and responses "
	       "instead (exit 1 when it finds violations).  Undecodable records make the exit "
	       "status 2, which wins over violations.",
	.children = stats_children,
};

/* ------------------------------------------------------------------ */
/* Groups, the checker and grpid reuse                                 */
/* ------------------------------------------------------------------ */
static uint64_t ts_ns(const struct iopf_rec *r)
{
	return (uint64_t)r->ts.tv_sec * 1000000000ull + (uint64_t)r->ts.tv_nsec;
}

static struct sgroup *group_of(struct stats *st, uint32_t queue, uint32_t cookie, bool create)
{
	uint64_t *v = u64map_ref(&st->gmap, (uint64_t)queue << 32 | cookie, false);

	if (v)
		return &st->g[*v - 1];
	if (!create || st->ng >= GROUP_LIMIT)
		return NULL;
	if (vec_reserve(&st->g, &st->gcap, sizeof(*st->g), st->ng + 1))
		return NULL;
	v = u64map_ref(&st->gmap, (uint64_t)queue << 32 | cookie, true);
	if (!v)
		return NULL;
	*v = ++st->ng;
	memset(&st->g[*v - 1], 0, sizeof(st->g[0]));
	return &st->g[*v - 1];
}

static void reuse_release(struct stats *st, struct sgroup *g)
{
	uint64_t *n;

	if (!g->outstanding)
		return;
	g->outstanding = false;
	n = g->reuse_tracked ? u64map_ref(&st->outst, g->reuse_key, false) : NULL;
	if (n && *n)
		(*n)--;
}

/* A delivered group: was its (queue, dev_id, grpid) already outstanding? */
static void reuse_deliver(struct stats *st, struct sgroup *g, uint32_t queue,
			  const struct iommu_hwpt_pgfault *f)
{
	uint64_t *qd = u64map_ref(&st->qdev, (uint64_t)queue << 32 | f->dev_id, true);
	uint64_t *n;

	g->outstanding = true;
	g->reuse_tracked = false;
	if (!qd)
		return;
	if (!*qd)
		*qd = st->qdev.len;
	g->reuse_key = *qd << 32 | f->grpid;
	n = u64map_ref(&st->outst, g->reuse_key, true);
	if (!n)
		return;
	if (*n)
		st->grpid_reuse++;
	(*n)++;
	g->reuse_tracked = true;
}

static void group_keep(struct stats *st, struct sgroup *g, const struct iommu_hwpt_pgfault *f)
{
	if (g->n == g->cap && g->cap < GROUP_RECS && st->buffered < BUFFER_LIMIT) {
		uint32_t cap = g->cap ? g->cap * 2 : 4;
		struct iommu_hwpt_pgfault *r = realloc(g->recs, cap * sizeof(*r));

		if (r) {
			st->buffered += cap - g->cap;
			g->recs = r;
			g->cap = cap;
		}
	}
	if (g->n < g->cap)
		g->recs[g->n++] = *f;
	else if (g->n)
		g->recs[g->n - 1] = *f;	/* keep the newest last */
}

static void group_free_buf(struct stats *st, struct sgroup *g)
{
	st->buffered -= g->cap;
	free(g->recs);
	g->recs = NULL;
	g->n = g->cap = 0;
}

static unsigned int size_bucket(uint64_t n)
{
	unsigned int b = 0;

	while (b + 1 < SIZE_BUCKETS && n > (1ull << b))
		b++;
	return b;
}

static void group_delivered(struct stats *st, struct sgroup *g, const struct iopf_rec *r)
{
	const struct iommu_hwpt_pgfault *f = &r->u.fault;
	bool pv = f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;

	st->groups++;
	st->sizes[size_bucket(g->nrec)]++;
	table_row(&st->devs, f->dev_id)->b++;
	table_row(&st->pasids, pv ? f->pasid : UINT64_MAX)->b++;
	reuse_deliver(st, g, r->queue_id, f);
	if (g->n)
		iopf_check_delivered(st->chk, r->queue_id, g->recs, g->n, ts_ns(r));
	g->open = false;
	group_free_buf(st, g);
}

static void on_fault(struct stats *st, const struct iopf_rec *r)
{
	const struct iommu_hwpt_pgfault *f = &r->u.fault;
	bool pv = f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID;
	struct sgroup *g = group_of(st, r->queue_id, f->cookie, true);

	st->faults++;
	table_row(&st->devs, f->dev_id)->a++;
	table_row(&st->pasids, pv ? f->pasid : UINT64_MAX)->a++;
	table_row(&st->perms, f->perm)->a++;
	if (!g) {
		st->untracked++;
		return;
	}
	if (!g->open) {
		reuse_release(st, g);	/* a kernel would not reuse it yet */
		g->open = true;
		g->nrec = 0;
	}
	g->nrec++;
	g->last_ts = ts_ns(r);
	group_keep(st, g, f);
	if (f->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE)
		group_delivered(st, g, r);
}

/*
 * A response to a group whose LAST_PAGE record never came: reads return
 * whole groups, so it was delivered; close it before the response.
 */
static void close_unterminated(struct stats *st, struct sgroup *g, const struct iopf_rec *r)
{
	struct iopf_rec d = { .queue_id = r->queue_id };

	if (!st->warned_unterminated++)
		p_warn("%s: record %" PRIu64 ": a group (cookie %u) without a LAST_PAGE record is "
		       "answered; taken as complete", st->fi->path, st->fi->records, r->u.resp.cookie);
	d.ts.tv_sec = (time_t)(g->last_ts / 1000000000ull);
	d.ts.tv_nsec = (long)(g->last_ts % 1000000000ull);
	if (g->n)
		d.u.fault = g->recs[g->n - 1];
	group_delivered(st, g, &d);
}

static void on_response(struct stats *st, const struct iopf_rec *r)
{
	const struct iommu_hwpt_page_response *p = &r->u.resp;
	struct sgroup *g = group_of(st, r->queue_id, p->cookie, false);

	if (g && g->open)
		close_unterminated(st, g, r);
	st->responses++;
	table_row(&st->codes, p->code)->a++;
	table_row(&st->statuses, r->status)->a++;
	if (r->status == 0)
		iopf_hist_add(st->lat, r->latency_ns);
	iopf_check_response(st->chk, r->queue_id, p, r->status, ts_ns(r), NULL);
	if (g && r->status == 0 && p->code <= IOMMUFD_PAGE_RESP_INVALID)
		reuse_release(st, g);
}

/* ------------------------------------------------------------------ */
/* META: source= and end=1                                             */
/* ------------------------------------------------------------------ */
static bool meta_value(const struct iopf_rec *r, const char *key, char *val, size_t len)
{
	const char *p = (const char *)r->payload, *end = p + r->payload_len;
	size_t klen = strlen(key);

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - p) > klen && !memcmp(p, key, klen) && p[klen] == '=') {
			snprintf(val, len, "%.*s", (int)(eol - p - (long)klen - 1), p + klen + 1);
			return true;
		}
		p = eol + 1;
	}
	return false;
}

static void on_meta(struct stats *st, const struct iopf_rec *r)
{
	char val[128];

	st->meta++;
	if (meta_value(r, "end", val, sizeof(val)) && !strcmp(val, "1"))
		st->fi->complete = true;
	if (!meta_value(r, "source", val, sizeof(val)))
		return;
	if (!st->source[0])
		snprintf(st->source, sizeof(st->source), "%s", val);
	else if (strcmp(st->source, val))
		st->source_mixed = true;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */
static void on_seq(struct stats *st, const struct iopf_rec *r)
{
	uint64_t t = ts_ns(r);

	if (st->seq_started && r->seq > st->next_seq)
		st->seq_gaps += r->seq - st->next_seq;
	st->seq_started = true;
	st->next_seq = r->seq + 1;
	if (!st->first_ns || t < st->first_ns)
		st->first_ns = t;
	if (t > st->last_ns)
		st->last_ns = t;
}

static void on_record(struct stats *st, struct iopf_reader *rd, const struct iopf_rec *r)
{
	st->records++;
	st->fi->records++;
	on_seq(st, r);
	switch (r->type) {
	case IOPF_REC_FAULT: on_fault(st, r); break;
	case IOPF_REC_RESPONSE: on_response(st, r); break;
	case IOPF_REC_LOST: st->lost += r->u.lost; st->lost_records++; break;
	case IOPF_REC_META: on_meta(st, r); break;
	default:
		st->unknown++;
		p_warn("%s: record %" PRIu64 " at offset %" PRIu64 ": unknown record type %u, skipped",
		       iopf_reader_path(rd), iopf_reader_recno(rd), iopf_reader_offset(rd), r->type);
		break;
	}
}

/* End of one capture: groups never completed, the checker's report. */
static void file_done(struct stats *st)
{
	struct iopf_report rep;

	for (size_t i = 0; i < st->ng; i++) {
		st->incomplete += st->g[i].open;
		free(st->g[i].recs);
	}
	free(st->g);
	st->g = NULL;
	st->ng = st->gcap = 0;
	st->buffered = 0;
	u64map_free(&st->gmap);
	u64map_free(&st->qdev);
	u64map_free(&st->outst);
	iopf_check_finish(st->chk, &rep);
	iopf_hist_merge(st->check_lat, iopf_check_latency(st->chk));
	st->rep.groups += rep.groups;
	st->rep.faults += rep.faults;
	st->rep.responses += rep.responses;
	for (int v = 0; v < IOPF_V_COUNT; v++)
		st->rep.v[v] += rep.v[v];
	iopf_check_free(st->chk);
	st->chk = NULL;
}

static int read_capture(struct stats *st, struct iopf_reader *rd)
{
	struct iopf_rec r;
	int rc;

	for (;;) {
		memset(&r, 0, sizeof(r));
		rc = iopf_reader_next(rd, &r);
		if (rc == 0 || stop_requested)
			return 0;
		if (rc == 1) {
			on_record(st, rd, &r);
			progress("%s: %" PRIu64 " records", st->fi->path, st->fi->records);
			continue;
		}
		p_err("%s: %s", st->fi->path, iopf_reader_error(rd));
		st->bad++;
		st->fi->bad++;
		if (rc != -EBADMSG)
			return rc;
	}
}

static int stats_file(struct stats *st, struct file_info *fi)
{
	struct iopf_check_cfg cfg = { .deadline_ns = st->o->deadline_ns };
	struct iopf_reader *rd;
	char err[512];
	int rc;

	st->fi = fi;
	st->seq_started = false;
	if (iopf_reader_open(&rd, fi->path, err, sizeof(err)) < 0) {
		p_err("%s", err);
		st->bad++;
		return -EIO;
	}
	fi->opened = true;
	fi->linktype = iopf_reader_linktype(rd);
	if (iopf_check_new(&st->chk, &cfg)) {
		p_err("out of memory");
		iopf_reader_free(rd);
		return -ENOMEM;
	}
	rc = read_capture(st, rd);
	iopf_reader_free(rd);
	file_done(st);
	progress_done();
	return rc ? rc : fi->bad ? -EBADMSG : 0;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */
static void print_files(struct iopf_out *o, const struct stats *st)
{
	iopf_out_open_array(o, "files", NULL);
	for (int i = 0; i < st->o->nfiles; i++) {
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

static void print_totals(struct iopf_out *o, const struct stats *st)
{
	bool complete = true;

	for (int i = 0; i < st->o->nfiles; i++)
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
	iopf_out_text(o, "%s", a);
	if (b) {
		iopf_out_uint(o, b, ", %" PRIu64 " ", r->b);
		iopf_out_text(o, "%s", b);
	}
	iopf_out_close_object(o, "\n");
}

static void print_devs(struct iopf_out *o, struct stats *st)
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

static void print_pasids(struct iopf_out *o, struct stats *st)
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

static void print_perms(struct iopf_out *o, struct stats *st)
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

static void print_sizes(struct iopf_out *o, const struct stats *st)
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

static void print_codes(struct iopf_out *o, struct stats *st)
{
	sort_table(&st->codes);
	iopf_out_open_array(o, "codes", "response codes:\n");
	for (size_t i = 0; i < st->codes.n; i++) {
		const struct trow *r = &st->codes.row[i];

		iopf_out_open_object(o, NULL, NULL);
		iopf_out_str(o, "code", "  %s", iopf_code_str((uint32_t)r->key));
		iopf_out_uint(o, "code_raw", " (%" PRIu64 "):", r->key);
		iopf_out_uint(o, "responses", " %" PRIu64 " responses", r->a);
		iopf_out_close_object(o, "\n");
	}
	print_other(o, &st->codes.other, "responses", NULL);
	iopf_out_close_array(o, NULL);
}

static void print_statuses(struct iopf_out *o, struct stats *st)
{
	sort_table(&st->statuses);
	iopf_out_open_array(o, "statuses", "response statuses:\n");
	for (size_t i = 0; i < st->statuses.n; i++) {
		const struct trow *r = &st->statuses.row[i];

		iopf_out_open_object(o, NULL, NULL);
		iopf_out_uint(o, "status", "  status %" PRIu64, r->key);
		iopf_out_text(o, " (%s):", !r->key ? "accepted" :
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

/* Text: one bar per bucket between the first and the last non-empty one. */
static void print_hist(struct iopf_out *o, const struct iopf_hist *h)
{
	uint64_t b[IOPF_HIST_LOG2_BUCKETS], peak = 0;
	int lo = -1, hi = -1;

	iopf_hist_log2(h, b);
	for (int i = 0; i < IOPF_HIST_LOG2_BUCKETS; i++) {
		if (!b[i])
			continue;
		lo = lo < 0 ? i : lo;
		hi = i;
		peak = b[i] > peak ? b[i] : peak;
	}
	iopf_out_open_array(o, "latency_hist", "latency histogram:\n");
	for (int i = lo; lo >= 0 && i <= hi; i++) {
		uint64_t le = i == 63 ? UINT64_MAX : (2ull << i) - 1;
		int w = (int)((b[i] * BAR_WIDTH + peak - 1) / peak);

		if (!b[i] && iopf_out_is_json(o))
			continue;
		iopf_out_open_object(o, NULL, NULL);
		iopf_out_duration(o, "le_ns", "  <= %11s |", le);
		iopf_out_text(o, "%-*.*s|", BAR_WIDTH, w,
			      "########################################");
		iopf_out_uint(o, "count", " %" PRIu64, b[i]);
		iopf_out_close_object(o, "\n");
	}
	iopf_out_close_array(o, NULL);
}

static const enum iopf_verdict violation_order[] = {
	IOPF_V_UNKNOWN_COOKIE, IOPF_V_GRPID_ECHO, IOPF_V_DUPLICATE, IOPF_V_BAD_CODE,
	IOPF_V_UNANSWERED, IOPF_V_REJECTED, IOPF_V_LATE,
};

static void print_violations(struct iopf_out *o, const struct stats *st)
{
	iopf_out_open_object(o, "violations", "violations:");
	for (size_t i = 0; i < sizeof(violation_order) / sizeof(violation_order[0]); i++) {
		enum iopf_verdict v = violation_order[i];
		char fmt[48];

		snprintf(fmt, sizeof(fmt), " %s %%" PRIu64, iopf_verdict_str(v));
		iopf_out_uint(o, iopf_verdict_str(v), fmt, st->rep.v[v]);
	}
	iopf_out_close_object(o, "\n");
	iopf_out_uint(o, "grpid_reuse", "grpid reuse while outstanding: %" PRIu64 " groups\n",
		      st->grpid_reuse);
}

static void print_stats(struct iopf_out *o, struct stats *st)
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
static void print_check(struct iopf_out *o, struct stats *st)
{
	struct iopf_report *rep = &st->rep;
	const struct iopf_hist *h = st->check_lat;
	char capture[1024] = "";
	size_t len = 0;

	for (int i = 0; i < st->o->nfiles && len < sizeof(capture); i++)
		len += (size_t)snprintf(capture + len, sizeof(capture) - len, "%s%s",
					i ? "," : "", st->o->files[i]);
	iopf_report_latency(rep, h);
	rep->wall_ns = st->last_ns > st->first_ns ? st->last_ns - st->first_ns : 0;
	rep->groups_per_s = rep->wall_ns ? (double)rep->groups * 1e9 / (double)rep->wall_ns : 0;
	rep->ok = true;
	for (int v = IOPF_OK + 1; v < IOPF_V_COUNT; v++)
		rep->ok &= !rep->v[v];
	iopf_print_report(o, capture, st->source_mixed ? "mixed" :
			  st->source[0] ? st->source : "unknown", "recorded", rep);
}

static void stats_free(struct stats *st)
{
	iopf_hist_free(st->lat);
	iopf_hist_free(st->check_lat);
}

int cmd_stats(int argc, char **argv)
{
	struct stats_opts o = { 0 };
	static struct stats st;
	int status = EXIT_OK;

	parse_verb(&stats_argp, argc, argv, &o);
	install_stop_handlers();
	st.o = &o;
	st.gmap.limit = st.qdev.limit = st.outst.limit = GROUP_LIMIT;
	if (iopf_hist_new(&st.lat) || iopf_hist_new(&st.check_lat)) {
		p_err("out of memory");
		stats_free(&st);
		return EXIT_ERROR;
	}
	for (int i = 0; i < o.nfiles && !stop_requested; i++) {
		st.file[i].path = o.files[i];
		if (stats_file(&st, &st.file[i]))
			status = EXIT_ERROR;
	}
	if (o.check)
		print_check(out_stdout(), &st);
	else
		print_stats(out_stdout(), &st);
	if (o.check && status == EXIT_OK && !st.rep.ok)
		status = EXIT_VIOLATIONS;
	stats_free(&st);
	return out_finish(status);
}
