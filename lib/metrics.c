// SPDX-License-Identifier: MIT
/*
 * Metrics of a live session or the tap in the Prometheus text exposition
 * format (version 0.0.4): the counters and the answer latency histogram
 * monitor and record export with --metrics and --metrics-listen
 * (iopftool-monitor(8) "METRICS").
 *
 * Everything is counted from the records the session or the tap emits,
 * so both sources feed one implementation.  Memory is fixed at creation:
 * at most IOPF_METRICS_QUEUES queues and IOPF_METRICS_SETS (queue,
 * device, PASID) label sets get series of their own, the rest are added
 * to one series whose labels are "other"; the text is rendered into a
 * buffer sized for the largest output those caps allow.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NQ IOPF_METRICS_QUEUES
#define NF IOPF_METRICS_SETS
#define NERR 4		/* refused-response errnos kept per queue, then "other" */

/* Fixed latency buckets, in ns (the le= labels are these in seconds). */
static const uint64_t bucket_ns[] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000,
	250000000, 500000000, 1000000000, 2500000000ull, 5000000000ull, 10000000000ull,
};
#define NB (sizeof(bucket_ns) / sizeof(bucket_ns[0]))

struct mqueue {
	bool used;
	uint32_t queue;
	uint32_t pid;		/* the tap: the process reading the queue (0: not known) */
	char comm[17];
	uint64_t resp[3];	/* by code: success, invalid, other */
	uint32_t err_no[NERR];
	uint64_t err_n[NERR + 1];	/* refused, by errno; [NERR]: other errnos */
	uint64_t autos[3];	/* auto-responses by reason: detach, destroy, unknown */
	uint64_t lost, groups, answered;
	uint64_t bucket[NB + 1];	/* not cumulative; [NB]: over the last bound */
	uint64_t lat_count, lat_sum_ns;
};

struct mset {
	bool used;
	uint32_t queue, dev, pasid;
	bool has_pasid;
	uint64_t faults, groups;
};

struct iopf_metrics {
	bool tap;		/* groups are DELIVERY records, not LAST_PAGE faults */
	struct mqueue q[NQ + 1];	/* [NQ]: "other" */
	struct mset f[NF + 1];		/* [NF]: "other" */
	size_t nq, nf, last_q, last_f;
	uint64_t folded;	/* records counted in an "other" series */
	char *buf;
	size_t cap;
};

/* The largest rendering the caps allow: lines times the longest line. */
#define LINE_MAX_BYTES 320
#define LINES_PER_QUEUE (3 + NERR + 1 + 3 + 2 + NB + 3)
#define MAX_LINES (40 + 2 * (NF + 1) + LINES_PER_QUEUE * (NQ + 1))

int iopf_metrics_new(struct iopf_metrics **mp, bool tap)
{
	struct iopf_metrics *m = calloc(1, sizeof(*m));

	*mp = NULL;
	if (!m)
		return -ENOMEM;
	m->cap = (size_t)MAX_LINES * LINE_MAX_BYTES;
	m->buf = malloc(m->cap);
	if (!m->buf) {
		free(m);
		return -ENOMEM;
	}
	m->tap = tap;
	*mp = m;
	return 0;
}

void iopf_metrics_free(struct iopf_metrics *m)
{
	if (!m)
		return;
	free(m->buf);
	free(m);
}

static struct mqueue *get_queue(struct iopf_metrics *m, uint32_t queue)
{
	struct mqueue *q = &m->q[m->last_q];

	if (q->used && q->queue == queue)
		return q;
	for (size_t i = 0; i < m->nq; i++)
		if (m->q[i].queue == queue) {
			m->last_q = i;
			return &m->q[i];
		}
	if (m->nq < NQ) {
		q = &m->q[m->nq];
		q->used = true;
		q->queue = queue;
		m->last_q = m->nq++;
		return q;
	}
	m->q[NQ].used = true;
	m->folded++;
	return &m->q[NQ];
}

static struct mset *get_set(struct iopf_metrics *m, uint32_t queue, uint32_t dev, bool has_pasid,
			    uint32_t pasid)
{
	struct mset *f = &m->f[m->last_f];

	if (!has_pasid)
		pasid = 0;
	if (f->used && f->queue == queue && f->dev == dev && f->has_pasid == has_pasid &&
	    f->pasid == pasid)
		return f;
	for (size_t i = 0; i < m->nf; i++) {
		f = &m->f[i];
		if (f->queue == queue && f->dev == dev && f->has_pasid == has_pasid &&
		    f->pasid == pasid) {
			m->last_f = i;
			return f;
		}
	}
	if (m->nf < NF) {
		f = &m->f[m->nf];
		*f = (struct mset){ .used = true, .queue = queue, .dev = dev, .pasid = pasid,
				    .has_pasid = has_pasid };
		m->last_f = m->nf++;
		return f;
	}
	m->f[NF].used = true;
	m->folded++;
	return &m->f[NF];
}

static uint32_t payload_u32(const struct iopf_rec *r, size_t off)
{
	struct iopf_cur c = { r->payload ? r->payload + off : NULL,
			      r->payload ? r->payload + r->payload_len : NULL };
	uint32_t v = 0;

	if (r->payload && off <= r->payload_len)
		iopf_get_le32(&c, &v);
	return v;
}

static void observe(struct mqueue *q, uint64_t ns)
{
	size_t b = 0;

	while (b < NB && ns > bucket_ns[b])
		b++;
	q->bucket[b]++;
	q->lat_count++;
	q->lat_sum_ns += ns;
}

static void on_response(struct mqueue *q, const struct iopf_rec *r)
{
	uint32_t code = r->u.resp.code;

	q->resp[code == IOMMUFD_PAGE_RESP_SUCCESS ? 0 : code == IOMMUFD_PAGE_RESP_INVALID ? 1 : 2]++;
	if (r->status) {
		size_t i;

		for (i = 0; i < NERR && q->err_no[i] && q->err_no[i] != r->status; i++)
			;
		if (i < NERR)
			q->err_no[i] = r->status;
		q->err_n[i]++;
		return;
	}
	q->answered++;
	if (r->latency_ns)
		observe(q, r->latency_ns);
}

void iopf_metrics_rec(struct iopf_metrics *m, const struct iopf_rec *r)
{
	struct mqueue *q;
	const struct iommu_hwpt_pgfault *f = &r->u.fault;
	uint32_t reason;

	switch (r->type) {
	case IOPF_REC_FAULT: {
		struct mset *s = get_set(m, r->queue_id, f->dev_id,
					 f->flags & IOMMU_PGFAULT_FLAGS_PASID_VALID, f->pasid);

		s->faults++;
		if (!m->tap && (f->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE)) {
			s->groups++;
			get_queue(m, r->queue_id)->groups++;
		}
		break;
	}
	case IOPF_REC_DELIVERY:
		q = get_queue(m, r->queue_id);
		q->groups++;
		if (!q->pid && r->payload_len >= 40) {
			q->pid = payload_u32(r, 8);
			memcpy(q->comm, r->payload + 24, 16);
			q->comm[16] = 0;
		}
		get_set(m, r->queue_id, payload_u32(r, 20), false, 0)->groups++;
		break;
	case IOPF_REC_RESPONSE:
		on_response(get_queue(m, r->queue_id), r);
		break;
	case IOPF_REC_AUTO_RESPONSE:
		reason = payload_u32(r, 12);
		get_queue(m, r->queue_id)->autos[reason == 1 ? 0 : reason == 2 ? 1 : 2]++;
		break;
	case IOPF_REC_LOST:
		get_queue(m, r->queue_id)->lost += r->u.lost;
		break;
	default:
		break;
	}
}

/* ---- rendering ---------------------------------------------------------- */

struct sink {
	char *p;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void put(struct sink *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->len >= s->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		s->len = (size_t)n >= s->cap - s->len ? s->cap : s->len + (size_t)n;
}

/* A label value: printable ASCII, with \\ \" escaped (the format's escapes); the rest '?'. */
static void label_value(char *out, size_t len, const char *in)
{
	size_t o = 0;

	for (; *in && o + 3 < len; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '\\' || c == '"')
			out[o++] = '\\';
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = 0;
}

/* queue="N" (the tap: pid="P",comm="C" too), or the "other" series' labels. */
static void queue_labels(const struct iopf_metrics *m, const struct mqueue *q, bool other,
			 char *out, size_t len)
{
	char comm[80];

	if (other) {
		snprintf(out, len, m->tap ? "queue=\"other\",pid=\"other\",comm=\"other\""
					  : "queue=\"other\"");
		return;
	}
	if (!m->tap) {
		snprintf(out, len, "queue=\"%" PRIu32 "\"", q->queue);
		return;
	}
	label_value(comm, sizeof(comm), q->comm);
	if (q->pid)
		snprintf(out, len, "queue=\"%" PRIu32 "\",pid=\"%" PRIu32 "\",comm=\"%s\"",
			 q->queue, q->pid, comm);
	else
		snprintf(out, len, "queue=\"%" PRIu32 "\",pid=\"\",comm=\"\"", q->queue);
}

static void head(struct sink *s, const char *name, const char *type, const char *help)
{
	put(s, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The series of the per-queue slots in use, "other" last. */
#define FOR_QUEUES(m, q, other) \
	for (size_t _i = 0; _i <= NQ; _i++) \
		if ((q = &(m)->q[_i]), (other = _i == NQ), q->used)

static void render_sets(const struct iopf_metrics *m, struct sink *s, bool groups)
{
	for (size_t i = 0; i <= NF; i++) {
		const struct mset *f = &m->f[i];
		char pasid[16];

		if (!f->used)
			continue;
		if (i == NF) {
			put(s, "iopf_%s_total{queue=\"other\",device=\"other\",pasid=\"other\"} %" PRIu64 "\n",
			    groups ? "groups" : "faults", groups ? f->groups : f->faults);
			continue;
		}
		if (f->has_pasid)
			snprintf(pasid, sizeof(pasid), "%" PRIu32, f->pasid);
		else
			snprintf(pasid, sizeof(pasid), "none");
		put(s, "iopf_%s_total{queue=\"%" PRIu32 "\",device=\"%" PRIu32 "\",pasid=\"%s\"} %" PRIu64 "\n",
		    groups ? "groups" : "faults", f->queue, f->dev, pasid,
		    groups ? f->groups : f->faults);
	}
}

static void fmt_seconds(char *out, size_t len, uint64_t ns)
{
	snprintf(out, len, "%.9g", (double)ns / 1e9);
}

const char *iopf_metrics_text(struct iopf_metrics *m, size_t *len)
{
	static const char *const codes[3] = { "success", "invalid", "other" };
	static const char *const reasons[3] = { "detach", "destroy", "unknown" };
	struct sink s = { m->buf, 0, m->cap };
	const struct mqueue *q;
	char l[200], v[32];
	bool other;

	head(&s, "iopf_faults_total", "counter", "Fault records read from the queue.");
	render_sets(m, &s, false);
	head(&s, "iopf_groups_total", "counter", "Fault groups (page requests) delivered.");
	render_sets(m, &s, true);

	head(&s, "iopf_responses_total", "counter", "Responses written, by response code.");
	FOR_QUEUES(m, q, other) {
		queue_labels(m, q, other, l, sizeof(l));
		for (int c = 0; c < 3; c++)
			put(&s, "iopf_responses_total{%s,code=\"%s\"} %" PRIu64 "\n", l, codes[c], q->resp[c]);
	}
	head(&s, "iopf_responses_refused_total", "counter",
	     "Responses the kernel refused, by errno.");
	FOR_QUEUES(m, q, other) {
		queue_labels(m, q, other, l, sizeof(l));
		for (int e = 0; e < NERR && q->err_no[e]; e++) {
			const char *name = iopf_errno_name(q->err_no[e]);

			if (name)
				put(&s, "iopf_responses_refused_total{%s,errno=\"%s\"} %" PRIu64 "\n", l,
				    name, q->err_n[e]);
			else
				put(&s, "iopf_responses_refused_total{%s,errno=\"%" PRIu32 "\"} %" PRIu64 "\n",
				    l, q->err_no[e], q->err_n[e]);
		}
		if (q->err_n[NERR])
			put(&s, "iopf_responses_refused_total{%s,errno=\"other\"} %" PRIu64 "\n", l,
			    q->err_n[NERR]);
	}
	head(&s, "iopf_auto_responses_total", "counter",
	     "Groups the kernel answered itself (a device detached, the queue destroyed), by reason.");
	FOR_QUEUES(m, q, other) {
		queue_labels(m, q, other, l, sizeof(l));
		for (int r = 0; r < 3; r++)
			put(&s, "iopf_auto_responses_total{%s,reason=\"%s\"} %" PRIu64 "\n", l, reasons[r],
			    q->autos[r]);
	}
	head(&s, "iopf_unanswered_groups", "gauge",
	     "Groups delivered and not answered yet (by a response or the kernel).");
	FOR_QUEUES(m, q, other) {
		uint64_t done = q->answered + q->autos[0] + q->autos[1] + q->autos[2];

		queue_labels(m, q, other, l, sizeof(l));
		put(&s, "iopf_unanswered_groups{%s} %" PRIu64 "\n", l,
		    q->groups > done ? q->groups - done : 0);
	}
	head(&s, "iopf_lost_records_total", "counter",
	     "Records lost (the tap's trace overflowed, or a read held more than it decodes).");
	FOR_QUEUES(m, q, other) {
		queue_labels(m, q, other, l, sizeof(l));
		put(&s, "iopf_lost_records_total{%s} %" PRIu64 "\n", l, q->lost);
	}
	head(&s, "iopf_response_latency_seconds", "histogram",
	     "Time from a group's delivery to its accepted response.");
	FOR_QUEUES(m, q, other) {
		uint64_t cum = 0;

		queue_labels(m, q, other, l, sizeof(l));
		for (size_t b = 0; b < NB; b++) {
			cum += q->bucket[b];
			fmt_seconds(v, sizeof(v), bucket_ns[b]);
			put(&s, "iopf_response_latency_seconds_bucket{%s,le=\"%s\"} %" PRIu64 "\n", l, v, cum);
		}
		put(&s, "iopf_response_latency_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", l,
		    q->lat_count);
		fmt_seconds(v, sizeof(v), q->lat_sum_ns);
		put(&s, "iopf_response_latency_seconds_sum{%s} %s\n", l, v);
		put(&s, "iopf_response_latency_seconds_count{%s} %" PRIu64 "\n", l, q->lat_count);
	}
	head(&s, "iopf_metrics_folded_total", "counter",
	     "Updates that went to an \"other\" series: more queues or (queue, device, PASID) "
	     "label sets than the exporter keeps apart.");
	put(&s, "iopf_metrics_folded_total %" PRIu64 "\n", m->folded);
	*len = s.len;
	return m->buf;
}
