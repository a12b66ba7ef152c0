// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the userspace fault queue (lib/queue.c, iopf_queue_*)
 * and the response checker (lib/check.c, iopf_check_*), driven by an
 * arbitrary sequence of operations, each checked against a small and
 * deliberately naive reference model written here from the kernel's
 * source (drivers/iommu/iommufd/fault.c: iommufd_fault_fops_read(),
 * iommufd_fault_fops_write(), iommufd_fault_fops_poll(),
 * iommufd_auto_response_faults(); drivers/iommu/io-pgfault.c:
 * iommu_report_device_fault()) and from iopftool-replay(8)'s rules for
 * classifying responses.
 *
 * Input: one configuration byte pair (queue id, checker deadline), then
 * operations, one opcode byte each followed by its arguments:
 *   attach DEV / detach DEV / inject DEV GRPID FLAGS PASID PERM ADDR /
 *   read SIZE-KIND ... / write N KIND (COOKIE-KIND CODE)... / poll / tick T
 * Missing bytes read as 0, so every input is a valid program.
 *
 * Asserted after every operation:
 *  - read(), write(), poll() and the counters equal the reference model's;
 *  - read returns whole groups only, in multiples of 40 bytes: the
 *    records of a group share a cookie, only the last has LAST_PAGE,
 *    length and __reserved are 0;
 *  - a cookie is never outstanding twice: a read never hands out a
 *    cookie that an earlier read handed out and nothing answered since
 *    (tracked from what the reads returned, not from the model);
 *  - every group is answered at most once: a write is accepted only for
 *    a cookie outstanding in that same view, which it then leaves;
 *  - a write's return value follows the partial-write rule: responses
 *    are taken in order up to the first bad one, and the result is the
 *    bytes consumed, or the errno when the first one was bad;
 *  - the counters add up: faults injected = refused (no handler) +
 *    delivered in groups + held partial + dropped partial by a detach;
 *    groups delivered = answered + auto-answered + pending + outstanding;
 *  - the eventfd is readable exactly while POLLIN is reported;
 *  - the checker classifies each response as the reference does, and its
 *    final report has the reference's counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz-queue: %s:%d: check failed: %s\n", \
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)
#define CHECK_EQ(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_) {							\
		fprintf(stderr, "fuzz-queue: %s:%d: %s = %lld, reference %lld\n", \
			__FILE__, __LINE__, #a, a_, b_);		\
		abort();						\
	}								\
} while (0)

#define MAX_RECS 1024		/* faults injected per input */
#define MAX_RESP 8		/* responses per write */
#define MAX_RW ((size_t)0x7ffff000)	/* MAX_RW_COUNT, include/linux/fs.h */
#define LAST IOMMU_PGFAULT_FLAGS_LAST_PAGE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_TRACE=1 in the environment: each operation and its result on stderr. */
static int trace = -1;
#define TRACE(...) do {							\
	if (trace < 0)							\
		trace = getenv("FUZZ_TRACE") != NULL;			\
	if (trace)							\
		fprintf(stderr, __VA_ARGS__);				\
} while (0)

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t u32(struct input *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | u8(in);
	return v;
}

/* dev_ids: small ones, and the edges of the sorted device array. */
static const uint32_t dev_ids[8] = { 1, 2, 3, 4, 0, UINT32_MAX, 0x80000000u, 7 };

/* ------------------------------------------------------------------ */
/* The reference queue: arrays and linear scans, nothing clever        */
/* ------------------------------------------------------------------ */

enum mstate { M_PARTIAL = 1, M_PENDING, M_OUTSTANDING, M_GONE };

struct mgroup {
	int state;
	uint32_t dev, grpid, cookie;
	uint32_t nrec;
	size_t first, last;	/* record chain in struct model.rec */
};

struct model {
	bool attached[8];
	struct mgroup g[MAX_RECS];	/* every group ever made, in creation order */
	size_t ng;
	struct iommu_hwpt_pgfault rec[MAX_RECS];	/* every fault accepted, in order */
	size_t next[MAX_RECS];	/* the next record of its group */
	size_t nrec;
	size_t fifo[MAX_RECS];	/* deliver list: group indices */
	size_t nfifo;
	bool zero_free;
	struct iopf_queue_counts cnt;
	uint64_t recs_delivered, recs_partial, recs_dropped;
};

static int dev_slot(uint32_t dev)
{
	for (int i = 0; i < 8; i++)
		if (dev_ids[i] == dev)
			return i;
	return -1;
}

static size_t m_count(const struct model *m, int state)
{
	size_t n = 0;

	for (size_t i = 0; i < m->ng; i++)
		n += m->g[i].state == state;
	return n;
}

static struct mgroup *m_outstanding(struct model *m, uint32_t cookie)
{
	for (size_t i = 0; i < m->ng; i++)
		if (m->g[i].state == M_OUTSTANDING && m->g[i].cookie == cookie)
			return &m->g[i];
	return NULL;
}

/* xa_alloc, XA_FLAGS_ALLOC1: the lowest free id >= 1; 0 after the index-0 erase. */
static uint32_t m_cookie(struct model *m)
{
	uint32_t id;

	if (m->zero_free && !m_outstanding(m, 0))
		return 0;
	for (id = 1; m_outstanding(m, id); id++)
		;
	return id;
}

static int m_inject(struct model *m, const struct iommu_hwpt_pgfault *f)
{
	int s = dev_slot(f->dev_id);
	struct mgroup *g = NULL;

	m->cnt.injected++;
	if (s < 0 || !m->attached[s]) {
		m->cnt.no_handler++;
		return -ENODEV;
	}
	for (size_t i = 0; i < m->ng && !g; i++)
		if (m->g[i].state == M_PARTIAL && m->g[i].dev == f->dev_id &&
		    m->g[i].grpid == f->grpid)
			g = &m->g[i];
	if (!g) {
		g = &m->g[m->ng++];
		g->state = M_PARTIAL;
		g->dev = f->dev_id;
		g->grpid = f->grpid;
		g->nrec = 0;
	}
	m->rec[m->nrec] = *f;
	m->rec[m->nrec].__reserved = 0;
	m->rec[m->nrec].length = 0;
	m->rec[m->nrec].cookie = 0;
	if (g->nrec++)
		m->next[g->last] = m->nrec;
	else
		g->first = m->nrec;
	g->last = m->nrec++;
	if (!(f->flags & LAST)) {
		m->cnt.partial++;
		m->recs_partial++;
		return 0;
	}
	m->recs_partial -= g->nrec - 1;
	m->recs_delivered += g->nrec;
	g->state = M_PENDING;
	m->fifo[m->nfifo++] = (size_t)(g - m->g);
	m->cnt.delivered_groups++;
	return 0;
}

static void fifo_remove(struct model *m, size_t k)
{
	memmove(&m->fifo[k], &m->fifo[k + 1], (m->nfifo - k - 1) * sizeof(m->fifo[0]));
	m->nfifo--;
}

static int m_detach(struct model *m, uint32_t dev)
{
	int s = dev_slot(dev);

	if (!m->attached[s])
		return -ENOENT;
	m->attached[s] = false;
	for (size_t i = 0; i < m->ng; i++) {
		struct mgroup *g = &m->g[i];

		if (g->dev != dev)
			continue;
		if (g->state == M_PENDING || g->state == M_OUTSTANDING)
			m->cnt.auto_invalid++;
		if (g->state == M_PARTIAL) {
			m->recs_partial -= g->nrec;
			m->recs_dropped += g->nrec;
		}
		if (g->state != M_GONE)
			g->state = M_GONE;
	}
	for (size_t k = m->nfifo; k-- > 0;)
		if (m->g[m->fifo[k]].state == M_GONE)
			fifo_remove(m, k);
	return 0;
}

/* iommufd_fault_fops_read(): fills want with the bytes the kernel returns. */
static ssize_t m_read(struct model *m, bool nullbuf, size_t count, uint8_t *want)
{
	size_t done = 0;
	ssize_t rc = 0;

	if (count > MAX_RW)
		count = MAX_RW;
	if (count % IOPF_FAULT_SIZE)
		return -ESPIPE;
	while (m->nfifo) {
		struct mgroup *g = &m->g[m->fifo[0]];

		if (done >= count || g->nrec * IOPF_FAULT_SIZE > count - done) {
			if (done == 0)
				rc = -EINVAL;
			break;
		}
		if (nullbuf) {
			rc = -EFAULT;
			break;
		}
		g->cookie = m_cookie(m);
		g->state = M_OUTSTANDING;
		fifo_remove(m, 0);
		for (size_t i = 0, ri = g->first; i < g->nrec; i++, ri = m->next[ri]) {
			struct iommu_hwpt_pgfault f = m->rec[ri];

			f.cookie = g->cookie;
			memcpy(want + done, &f, sizeof(f));
			done += sizeof(f);
		}
	}
	return done ? (ssize_t)done : rc;
}

/* iommufd_fault_fops_write(): code first, then the cookie; stop at the first bad one. */
static ssize_t m_write(struct model *m, const struct iommu_hwpt_page_response *r, size_t n,
		       bool nullbuf, size_t count)
{
	size_t done = 0, i = 0;
	ssize_t rc = 0;

	if (count > MAX_RW)
		count = MAX_RW;
	if (count % IOPF_RESP_SIZE)
		return -ESPIPE;
	while (count > done) {
		struct mgroup *g;

		if (nullbuf) {
			rc = -EFAULT;
			break;
		}
		CHECK(i < n);	/* the caller's buffer ends with a bad code */
		if (r[i].code != IOMMUFD_PAGE_RESP_SUCCESS &&
		    r[i].code != IOMMUFD_PAGE_RESP_INVALID) {
			rc = -EINVAL;
			break;
		}
		g = m_outstanding(m, r[i].cookie);
		if (!g) {
			if (r[i].cookie == 0 && m_count(m, M_OUTSTANDING))
				m->zero_free = true;
			rc = -EINVAL;
			break;
		}
		g->state = M_GONE;
		m->cnt.responses++;
		done += IOPF_RESP_SIZE;
		i++;
	}
	return done ? (ssize_t)done : rc;
}

/* ------------------------------------------------------------------ */
/* The reference checker (iopftool-replay(8), "Verdicts")               */
/* ------------------------------------------------------------------ */

enum cstate { C_NONE, C_OUT, C_ANSWERED };

struct ccookie {
	uint32_t cookie;
	int state;
	uint32_t grpid;
	uint64_t t;
};

struct cmodel {
	struct ccookie c[MAX_RECS + 1];
	size_t n;
	uint64_t deadline;
	uint64_t groups, faults, responses, v[IOPF_V_COUNT], out;
	uint64_t lat_min, lat_max;
};

static struct ccookie *c_find(struct cmodel *cm, uint32_t cookie)
{
	for (size_t i = 0; i < cm->n; i++)
		if (cm->c[i].cookie == cookie)
			return &cm->c[i];
	return NULL;
}

static void c_delivered(struct cmodel *cm, uint32_t cookie, uint32_t grpid, size_t n, uint64_t t)
{
	struct ccookie *c = c_find(cm, cookie);

	cm->groups++;
	cm->faults += n;
	if (c && c->state == C_OUT) {
		cm->v[IOPF_V_UNANSWERED]++;
		cm->out--;
	}
	if (!c) {
		CHECK(cm->n < MAX_RECS + 1);
		c = &cm->c[cm->n++];
		c->cookie = cookie;
	}
	c->state = C_OUT;
	c->grpid = grpid;
	c->t = t;
	cm->out++;
}

static enum iopf_verdict c_response(struct cmodel *cm, const struct iommu_hwpt_page_response *r,
				    uint32_t status, uint64_t t, uint64_t *lat)
{
	struct ccookie *c = c_find(cm, r->cookie);
	enum iopf_verdict v = IOPF_V_UNKNOWN_COOKIE;

	*lat = 0;
	cm->responses++;
	if (r->code != IOMMUFD_PAGE_RESP_SUCCESS && r->code != IOMMUFD_PAGE_RESP_INVALID) {
		v = IOPF_V_BAD_CODE;
	} else if (c && c->state == C_OUT && status == 0) {
		*lat = t > c->t ? t - c->t : 0;
		c->state = C_ANSWERED;
		cm->out--;
		cm->v[IOPF_OK]++;
		if (cm->v[IOPF_OK] == 1 || *lat < cm->lat_min)
			cm->lat_min = *lat;
		if (*lat > cm->lat_max)
			cm->lat_max = *lat;
		if (cm->deadline && *lat > cm->deadline) {
			cm->v[IOPF_V_LATE]++;
			return IOPF_V_LATE;
		}
		return IOPF_OK;
	} else if (c && c->state == C_OUT) {
		v = IOPF_V_REJECTED;
	} else if (c) {
		v = IOPF_V_DUPLICATE;
	} else {
		for (size_t i = 0; i < cm->n; i++)
			if (cm->c[i].state == C_OUT && cm->c[i].grpid == r->cookie)
				v = IOPF_V_GRPID_ECHO;
	}
	cm->v[v]++;
	return v;
}

/* ------------------------------------------------------------------ */
/* The run                                                             */
/* ------------------------------------------------------------------ */

/* What the reads returned, independent of the model: outstanding cookies. */
struct seen {
	uint32_t cookie[MAX_RECS];
	uint32_t dev[MAX_RECS];
	size_t n;
};

static ssize_t seen_find(const struct seen *s, uint32_t cookie)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->cookie[i] == cookie)
			return (ssize_t)i;
	return -1;
}

static void seen_drop(struct seen *s, size_t i)
{
	s->cookie[i] = s->cookie[s->n - 1];
	s->dev[i] = s->dev[s->n - 1];
	s->n--;
}

struct run {
	struct iopf_queue *q;
	struct iopf_check *chk;
	struct model m;
	struct cmodel cm;
	struct seen seen;
	uint32_t qid;
	uint64_t t;
	uint8_t *buf, *want;
	size_t bufsize;
};

static void check_counts(struct run *r)
{
	struct iopf_queue_counts c;
	const struct iopf_queue_counts *w = &r->m.cnt;

	iopf_queue_counts(r->q, &c);
	CHECK_EQ(c.injected, w->injected);
	CHECK_EQ(c.partial, w->partial);
	CHECK_EQ(c.no_handler, w->no_handler);
	CHECK_EQ(c.delivered_groups, w->delivered_groups);
	CHECK_EQ(c.responses, w->responses);
	CHECK_EQ(c.auto_invalid, w->auto_invalid);
	CHECK_EQ(c.pending_groups, r->m.nfifo);
	CHECK_EQ(c.outstanding_groups, m_count(&r->m, M_OUTSTANDING));
	CHECK_EQ(c.outstanding_groups, r->seen.n);
	/* every fault is refused, delivered in a group, held, or dropped by a detach */
	CHECK_EQ(c.injected, c.no_handler + r->m.recs_delivered + r->m.recs_partial +
		 r->m.recs_dropped);
	/* every delivered group is answered, auto-answered, pending or outstanding */
	CHECK_EQ(c.delivered_groups, c.responses + c.auto_invalid + c.pending_groups +
		 c.outstanding_groups);
}

static void check_poll(struct run *r, bool with_fd)
{
	short ev = iopf_queue_poll(r->q);
	struct pollfd pfd = { .fd = iopf_queue_fd(r->q), .events = POLLIN };

	CHECK_EQ(ev, POLLOUT | (r->m.nfifo ? POLLIN | POLLRDNORM : 0));
	if (with_fd) {
		CHECK(poll(&pfd, 1, 0) >= 0);
		CHECK_EQ(!!(pfd.revents & POLLIN), !!r->m.nfifo);
	}
}

static void op_inject(struct run *r, struct input *in)
{
	struct iommu_hwpt_pgfault f;
	uint8_t gsel, flags;
	int rc, want;

	f.dev_id = dev_ids[u8(in) % 8];
	gsel = u8(in);
	f.grpid = gsel < 128 ? gsel % 6 : gsel < 240 ? gsel : u32(in);
	flags = u8(in);
	f.flags = flags & 0x7;
	if (flags & 0x80)
		f.flags |= u32(in);
	f.pasid = u8(in);
	f.perm = u8(in) & 0x1f;
	f.addr = (uint64_t)u32(in) << 12;
	f.__reserved = 0xdeadbeef;	/* the queue must not pass these on */
	f.length = 0x1000;
	f.cookie = 0x55;
	if (r->m.cnt.injected >= MAX_RECS)
		return;
	rc = iopf_queue_inject(r->q, &f);
	want = m_inject(&r->m, &f);
	TRACE("inject dev %u grpid %u flags 0x%x -> %d\n", f.dev_id, f.grpid, f.flags, rc);
	CHECK_EQ(rc, want);
}

/* Split a read's bytes into groups: check their shape, feed the checker. */
static void read_groups(struct run *r, const uint8_t *p, size_t len)
{
	size_t start = 0;

	CHECK(len % IOPF_FAULT_SIZE == 0);
	for (size_t off = 0; off < len; off += IOPF_FAULT_SIZE) {
		struct iommu_hwpt_pgfault f, first;

		memcpy(&f, p + off, sizeof(f));
		memcpy(&first, p + start, sizeof(first));
		CHECK(f.length == 0 && f.__reserved == 0);
		CHECK(f.cookie == first.cookie && f.dev_id == first.dev_id &&
		      f.grpid == first.grpid);
		if (!(f.flags & LAST))
			continue;
		/* a whole group [start, off]: its cookie must not be outstanding */
		CHECK(seen_find(&r->seen, f.cookie) < 0);
		CHECK(r->seen.n < MAX_RECS);
		r->seen.cookie[r->seen.n] = f.cookie;
		r->seen.dev[r->seen.n++] = f.dev_id;
		{
			size_t n = (off - start) / IOPF_FAULT_SIZE + 1;

			/* p is malloc'd and off a multiple of 40: aligned */
			iopf_check_delivered(r->chk, r->qid,
					     (const struct iommu_hwpt_pgfault *)(p + start), n, r->t);
			c_delivered(&r->cm, f.cookie, f.grpid, n, r->t);
		}
		start = off + IOPF_FAULT_SIZE;
	}
	CHECK(start == len);	/* ends on a LAST_PAGE record: whole groups only */
}

static void op_read(struct run *r, struct input *in)
{
	uint8_t kind = u8(in) % 8, a = u8(in);
	size_t count = 0;
	bool nullbuf = false;
	ssize_t got, want;

	switch (kind) {
	case 0: count = 0; break;
	case 1: count = IOPF_FAULT_SIZE * (a % 8 + 1); break;
	case 2: count = IOPF_FAULT_SIZE * (a % 8) + 1 + u8(in) % 39; break;
	case 3: count = r->bufsize; break;
	case 4: count = IOPF_FAULT_SIZE * (a % 8 + 1); nullbuf = true; break;
	case 5: count = a & 1 ? SIZE_MAX : MAX_RW; break;
	case 6: count = MAX_RW / IOPF_FAULT_SIZE * IOPF_FAULT_SIZE; break;
	default:
		count = r->m.nfifo ? r->m.g[r->m.fifo[0]].nrec * IOPF_FAULT_SIZE : 0;
		count -= count && (a & 1) ? IOPF_FAULT_SIZE : 0;	/* one short */
		break;
	}
	/* counts past bufsize are safe: the buffer holds every fault of an input */
	got = iopf_queue_read(r->q, nullbuf ? NULL : r->buf, count);
	want = m_read(&r->m, nullbuf, count, r->want);
	TRACE("read %zu%s -> %zd\n", count, nullbuf ? " (NULL)" : "", got);
	CHECK_EQ(got, want);
	if (got > 0) {
		CHECK(!memcmp(r->buf, r->want, (size_t)got));
		read_groups(r, r->buf, (size_t)got);
	}
}

static void op_write(struct run *r, struct input *in)
{
	struct iommu_hwpt_page_response resp[MAX_RESP + 1];
	size_t n = u8(in) % (MAX_RESP + 1), count, i;
	uint8_t kind = u8(in) % 6;
	bool nullbuf = kind == 4;
	ssize_t got, want;

	for (i = 0; i < n; i++) {
		uint8_t ck = u8(in), code = u8(in);

		switch (ck % 6) {
		case 0: case 1:	/* an outstanding cookie, as a read returned it */
			resp[i].cookie = r->seen.n ? r->seen.cookie[(ck / 6) % r->seen.n] : 1;
			break;
		case 2: resp[i].cookie = 0; break;
		case 3:	/* the grpid of something delivered */
			resp[i].cookie = r->m.ng ? r->m.g[(ck / 6) % r->m.ng].grpid : 0;
			break;
		case 4: resp[i].cookie = u32(in); break;
		default: resp[i].cookie = ck / 6 % 8; break;
		}
		resp[i].code = code < 200 ? code & 1 : code < 250 ? code : u32(in);
	}
	/* a bad code after the last: what a count past the array reaches */
	resp[n] = (struct iommu_hwpt_page_response){ .cookie = 1, .code = 2 };
	switch (kind) {
	case 3: count = IOPF_RESP_SIZE * n + 1 + u8(in) % 7; break;
	case 5: count = u8(in) & 1 ? SIZE_MAX : MAX_RW; break;
	default: count = IOPF_RESP_SIZE * n; break;
	}
	got = iopf_queue_write(r->q, nullbuf ? NULL : resp, count);
	want = m_write(&r->m, resp, n + 1, nullbuf, count);
	TRACE("write %zu%s", count, nullbuf ? " (NULL)" : "");
	for (i = 0; i < n; i++)
		TRACE(" {%u,%u}", resp[i].cookie, resp[i].code);
	TRACE(" -> %zd\n", got);
	CHECK_EQ(got, want);
	if (got == 0 || (got < 0 && got != -EINVAL))
		return;		/* nothing was looked at */

	/*
	 * The partial-write rule: the first ok responses were taken, in
	 * order; if that is short of the count, response ok was refused.
	 */
	size_t ok = got > 0 ? (size_t)got / IOPF_RESP_SIZE : 0;
	bool refused = ok * IOPF_RESP_SIZE < (count > MAX_RW ? MAX_RW : count);

	CHECK(got == -EINVAL || (got > 0 && got % IOPF_RESP_SIZE == 0));
	CHECK(ok <= n && (got > 0 || refused));
	for (i = 0; i < ok + refused; i++) {
		uint32_t status = i < ok ? 0 : EINVAL;
		uint64_t lat, wlat;
		enum iopf_verdict v, w;
		ssize_t k;

		k = seen_find(&r->seen, resp[i].cookie);
		if (status == 0) {	/* answered at most once */
			CHECK(k >= 0);
			seen_drop(&r->seen, (size_t)k);
		} else if (resp[i].code <= IOMMUFD_PAGE_RESP_INVALID) {
			CHECK(k < 0);	/* a good code is refused only for a cookie not outstanding */
		}
		v = iopf_check_response(r->chk, r->qid, &resp[i], status, r->t, &lat);
		w = c_response(&r->cm, &resp[i], status, r->t, &wlat);
		TRACE("  check cookie %u status %u: %s\n", resp[i].cookie, status, iopf_verdict_name(v));
		CHECK_EQ(v, w);
		CHECK_EQ(lat, wlat);
	}
}

static void op_detach(struct run *r, uint32_t dev)
{
	int rc = iopf_queue_detach(r->q, dev), want = m_detach(&r->m, dev);

	TRACE("detach %u -> %d\n", dev, rc);
	CHECK_EQ(rc, want);
	if (rc)
		return;
	for (size_t i = r->seen.n; i-- > 0;)
		if (r->seen.dev[i] == dev)
			seen_drop(&r->seen, i);
}

static void check_report(struct run *r)
{
	struct iopf_report rep;
	const struct cmodel *cm = &r->cm;

	iopf_check_finish(r->chk, &rep);
	CHECK_EQ(rep.groups, cm->groups);
	CHECK_EQ(rep.faults, cm->faults);
	CHECK_EQ(rep.responses, cm->responses);
	for (int i = 0; i < IOPF_V_COUNT; i++)
		CHECK_EQ(rep.v[i], cm->v[i] + (i == IOPF_V_UNANSWERED ? cm->out : 0));
	CHECK_EQ(rep.latency_ns.count, cm->v[IOPF_OK]);
	if (cm->v[IOPF_OK]) {
		CHECK_EQ(rep.latency_ns.min, cm->lat_min);
		CHECK_EQ(rep.latency_ns.max, cm->lat_max);
		CHECK(rep.latency_ns.p50 >= rep.latency_ns.min &&
		      rep.latency_ns.p999 <= rep.latency_ns.max);
	}
	{
		bool ok = true;

		for (int i = IOPF_OK + 1; i < IOPF_V_COUNT; i++)
			ok &= rep.v[i] == 0;
		CHECK_EQ(rep.ok, ok);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run run;	/* large: reset field by field, not cleared */
	static uint8_t buf[MAX_RECS * IOPF_FAULT_SIZE], want[MAX_RECS * IOPF_FAULT_SIZE];
	struct input in = { data, size };
	struct iopf_check_cfg cfg = { 0 };
	struct run *r = &run;
	uint8_t dl;

	memset(&r->m.attached, 0, sizeof(r->m.attached));
	r->m.ng = r->m.nfifo = r->m.nrec = 0;
	r->m.zero_free = false;
	memset(&r->m.cnt, 0, sizeof(r->m.cnt));
	r->m.recs_delivered = r->m.recs_partial = r->m.recs_dropped = 0;
	memset(&r->cm.v, 0, sizeof(r->cm.v));
	r->cm.n = 0;
	r->cm.groups = r->cm.faults = r->cm.responses = r->cm.out = 0;
	r->cm.lat_min = r->cm.lat_max = 0;
	r->seen.n = 0;
	r->t = 0;
	r->qid = u8(&in);
	dl = u8(&in);
	cfg.deadline_ns = dl < 128 ? 0 : (uint64_t)(dl - 127) * 1000;
	r->cm.deadline = cfg.deadline_ns;
	r->bufsize = sizeof(buf);
	r->buf = buf;
	r->want = want;
	CHECK(iopf_queue_new(&r->q, r->qid) == 0);
	CHECK(iopf_check_new(&r->chk, &cfg) == 0);
	CHECK_EQ(iopf_queue_id(r->q), r->qid);

	while (in.n) {
		uint8_t op = u8(&in);
		uint32_t dev;

		switch (op % 10) {
		case 0:
			dev = dev_ids[u8(&in) % 8];
			CHECK_EQ(iopf_queue_attach(r->q, dev), 0);
			r->m.attached[dev_slot(dev)] = true;
			break;
		case 1:
			op_detach(r, dev_ids[u8(&in) % 8]);
			break;
		case 2: case 3: case 4:
			op_inject(r, &in);
			break;
		case 5: case 6:
			op_read(r, &in);
			break;
		case 7:
			op_write(r, &in);
			break;
		case 8:
			check_poll(r, true);
			break;
		default:
			r->t += (uint64_t)u8(&in) * 997;
			TRACE("tick -> %llu\n", (unsigned long long)r->t);
			break;
		}
		check_counts(r);
		check_poll(r, false);
	}
	check_report(r);
	TRACE("end: %llu groups, %llu responses checked\n", (unsigned long long)r->cm.groups,
	      (unsigned long long)r->cm.responses);
	iopf_check_free(r->chk);
	iopf_queue_free(r->q);
	return 0;
}
