// SPDX-License-Identifier: MIT
/*
 * The userspace model of the kernel fault queue: the iommufd fault object
 * (drivers/iommu/iommufd/fault.c in 6.12, eventq.c from 6.15) together with
 * the part of drivers/iommu/io-pgfault.c that assembles page request
 * groups.  doc/kernel-notes.md describes the semantics; each function cites
 * its section (§N) and the kernel function it follows.  A queue mimics one
 * kernel version (enum iopf_kernel_model); where 6.12 and 7.3 differ the
 * code says so (doc/kernel-notes.md §10).
 *
 * Storage, chosen so that inject/read/write allocate nothing in steady state:
 *  - records and groups live in two index-addressed pools with free lists;
 *    a pool doubles only when it runs dry (indices stay valid on realloc);
 *  - a group is PARTIAL (held per device, found by (dev_id, grpid) through a
 *    chained hash), PENDING (on the doubly linked FIFO deliver list) or
 *    OUTSTANDING (read, owns a cookie);
 *  - cookies: cmap[cookie] -> group in O(1); the lowest free id >= 1 comes
 *    from a min-heap of the freed ids below a high-water mark, O(log n);
 *  - attached devices: a sorted array searched by bisection.
 *
 * Counters (struct iopf_queue_counts): injected counts every fault offered
 * by a device, no_handler those answered INVALID for want of an attached
 * handler, partial the accepted faults without LAST_PAGE; delivered_groups
 * the groups completed onto the deliver list, responses the groups answered
 * by write(), auto_invalid the groups answered INVALID by detach or destroy.
 * pending_groups and outstanding_groups are the current depths.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"
#include "u64map.h"

#define NIL UINT32_MAX
/* vfs_read()/vfs_write() clamp count to this before the fops run (§2). */
#define IOPF_MAX_RW_COUNT ((size_t)0x7ffff000)

struct qrec {
	struct iommu_hwpt_pgfault f;
	uint32_t next;		/* next record of the group, or free list */
};

enum qstate { Q_FREE, Q_PARTIAL, Q_PENDING, Q_OUTSTANDING };

struct qgroup {
	uint32_t first, last;	/* record chain, chronological, LAST_PAGE last */
	uint32_t nrec;
	uint32_t dev_id, grpid;
	uint32_t cookie;
	uint32_t prev, next;	/* deliver list; next also chains the free list */
	uint32_t hnext;		/* partial hash chain */
	uint8_t state;		/* enum qstate */
};

struct iopf_queue {
	uint32_t fault_id;
	enum iopf_kernel_model model;
	int efd;
	bool efd_set;

	struct qrec *rec;
	uint32_t rec_cap, rec_free;
	struct qgroup *grp;
	uint32_t grp_cap, grp_free;

	uint32_t dhead, dtail;	/* deliver list (fault->deliver) */
	uint64_t npending;

	uint32_t *pbucket;	/* partial groups by (dev_id, grpid) */
	uint32_t pbits, npartial;

	uint32_t *cmap;		/* cookie -> group (fault->response) */
	size_t cmap_cap;
	uint32_t *heap;		/* free cookies <= hwm, min-heap */
	size_t heap_n;
	uint32_t hwm;		/* every id above hwm is free */
	bool zero_free;		/* index 0 was erased: cookie 0 is handed out (§9.2 bug) */
	uint64_t nout;

	struct u64map devs;	/* attached dev_ids (a set: a hash, for a million devices) */

	struct iopf_queue_counts cnt;
};

/* ------------------------------------------------------------------ */
/* Pools                                                               */
/* ------------------------------------------------------------------ */

/* New capacity for a pool of cap entries: doubled, NIL stays reserved. */
static int pool_newcap(uint32_t cap, uint32_t *ncap)
{
	uint64_t n = cap ? (uint64_t)cap * 2 : 64;

	if (n > NIL)
		n = NIL;
	if (n <= cap)
		return -ENOMEM;
	*ncap = (uint32_t)n;
	return 0;
}

static int rec_grow(struct iopf_queue *q)
{
	uint32_t ncap;
	struct qrec *r;

	if (pool_newcap(q->rec_cap, &ncap))
		return -ENOMEM;
	r = realloc(q->rec, (size_t)ncap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint32_t i = q->rec_cap; i < ncap; i++)
		r[i].next = i + 1 < ncap ? i + 1 : q->rec_free;
	q->rec_free = q->rec_cap;
	q->rec = r;
	q->rec_cap = ncap;
	return 0;
}

static uint32_t rec_alloc(struct iopf_queue *q)
{
	uint32_t i;

	if (q->rec_free == NIL && rec_grow(q))
		return NIL;
	i = q->rec_free;
	q->rec_free = q->rec[i].next;
	q->rec[i].next = NIL;
	return i;
}

static void rec_put(struct iopf_queue *q, uint32_t ri)
{
	q->rec[ri].next = q->rec_free;
	q->rec_free = ri;
}

static int grp_grow(struct iopf_queue *q)
{
	uint32_t ncap;
	struct qgroup *g;

	if (pool_newcap(q->grp_cap, &ncap))
		return -ENOMEM;
	g = realloc(q->grp, (size_t)ncap * sizeof(*g));
	if (!g)
		return -ENOMEM;
	for (uint32_t i = q->grp_cap; i < ncap; i++) {
		g[i].state = Q_FREE;
		g[i].next = i + 1 < ncap ? i + 1 : q->grp_free;
	}
	q->grp_free = q->grp_cap;
	q->grp = g;
	q->grp_cap = ncap;
	return 0;
}

static uint32_t grp_alloc(struct iopf_queue *q, uint32_t dev_id, uint32_t grpid)
{
	struct qgroup *g;
	uint32_t i;

	if (q->grp_free == NIL && grp_grow(q))
		return NIL;
	i = q->grp_free;
	g = &q->grp[i];
	q->grp_free = g->next;
	*g = (struct qgroup){
		.first = NIL, .last = NIL, .dev_id = dev_id, .grpid = grpid,
		.prev = NIL, .next = NIL, .hnext = NIL, .state = Q_PARTIAL,
	};
	return i;
}

/* Give a group and all its records back to the pools (iopf_free_group). */
static void grp_free(struct iopf_queue *q, uint32_t gi)
{
	struct qgroup *g = &q->grp[gi];

	if (g->first != NIL) {
		q->rec[g->last].next = q->rec_free;
		q->rec_free = g->first;
	}
	g->state = Q_FREE;
	g->next = q->grp_free;
	q->grp_free = gi;
}

static void grp_append(struct iopf_queue *q, uint32_t gi, uint32_t ri)
{
	struct qgroup *g = &q->grp[gi];

	if (g->last == NIL)
		g->first = ri;
	else
		q->rec[g->last].next = ri;
	g->last = ri;
	g->nrec++;
}

/* ------------------------------------------------------------------ */
/* The eventfd mirrors "deliver is not empty" (level-triggered, 1.7)   */
/* ------------------------------------------------------------------ */

static void efd_raise(struct iopf_queue *q)
{
	uint64_t one = 1;

	if (!q->efd_set)
		q->efd_set = write(q->efd, &one, sizeof(one)) == sizeof(one);
}

static void efd_drain(struct iopf_queue *q)
{
	uint64_t v;

	if (q->efd_set)
		q->efd_set = read(q->efd, &v, sizeof(v)) != sizeof(v);
}

/* ------------------------------------------------------------------ */
/* Deliver list: list_add_tail in iommufd_fault_iopf_handler (§6)     */
/* ------------------------------------------------------------------ */

static void deliver_append(struct iopf_queue *q, uint32_t gi)
{
	struct qgroup *g = &q->grp[gi];

	g->state = Q_PENDING;
	g->next = NIL;
	g->prev = q->dtail;
	if (q->dtail == NIL)
		q->dhead = gi;
	else
		q->grp[q->dtail].next = gi;
	q->dtail = gi;
	q->npending++;
	q->cnt.delivered_groups++;
	efd_raise(q);
}

static void deliver_unlink(struct iopf_queue *q, uint32_t gi)
{
	struct qgroup *g = &q->grp[gi];

	if (g->prev == NIL)
		q->dhead = g->next;
	else
		q->grp[g->prev].next = g->next;
	if (g->next == NIL)
		q->dtail = g->prev;
	else
		q->grp[g->next].prev = g->prev;
	g->prev = g->next = NIL;
	q->npending--;
	if (q->dhead == NIL)
		efd_drain(q);
}

/* ------------------------------------------------------------------ */
/* Partial faults by (dev_id, grpid): fault_param->partial (§6)       */
/* ------------------------------------------------------------------ */

static uint32_t partial_hash(const struct iopf_queue *q, uint32_t dev_id, uint32_t grpid)
{
	uint64_t k = ((uint64_t)dev_id << 32 | grpid) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(k >> (64 - q->pbits));
}

/* The partial group of (dev_id, grpid), or NIL; *link is its hash slot. */
static uint32_t partial_find(struct iopf_queue *q, uint32_t dev_id, uint32_t grpid,
			     uint32_t **link)
{
	uint32_t *l = &q->pbucket[partial_hash(q, dev_id, grpid)];

	while (*l != NIL) {
		struct qgroup *g = &q->grp[*l];

		if (g->dev_id == dev_id && g->grpid == grpid)
			break;
		l = &g->hnext;
	}
	*link = l;
	return *l;
}

static int partial_rehash(struct iopf_queue *q, uint32_t bits)
{
	uint32_t *nb = malloc(sizeof(*nb) << bits);
	uint32_t *ob = q->pbucket, on = 1u << q->pbits;

	if (!nb)
		return -ENOMEM;
	memset(nb, 0xff, sizeof(*nb) << bits);
	q->pbucket = nb;
	q->pbits = bits;
	for (uint32_t b = 0; ob && b < on; b++) {
		uint32_t gi = ob[b];

		while (gi != NIL) {
			struct qgroup *g = &q->grp[gi];
			uint32_t next = g->hnext;
			uint32_t h = partial_hash(q, g->dev_id, g->grpid);

			g->hnext = nb[h];
			nb[h] = gi;
			gi = next;
		}
	}
	free(ob);
	return 0;
}

static int partial_insert(struct iopf_queue *q, uint32_t gi)
{
	struct qgroup *g = &q->grp[gi];
	uint32_t h;

	if (q->npartial >= (1u << q->pbits) && q->pbits < 30 &&
	    partial_rehash(q, q->pbits + 1))
		return -ENOMEM;
	h = partial_hash(q, g->dev_id, g->grpid);
	g->hnext = q->pbucket[h];
	q->pbucket[h] = gi;
	q->npartial++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Cookies: xa_alloc on an XA_FLAGS_ALLOC1 xarray, lowest free >= 1 (§5) */
/* ------------------------------------------------------------------ */

static void heap_push(struct iopf_queue *q, uint32_t id)
{
	size_t i = q->heap_n++;

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (q->heap[p] <= id)
			break;
		q->heap[i] = q->heap[p];
		i = p;
	}
	q->heap[i] = id;
}

static uint32_t heap_pop(struct iopf_queue *q)
{
	uint32_t top = q->heap[0], x = q->heap[--q->heap_n];
	size_t i = 0, n = q->heap_n;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && q->heap[c + 1] < q->heap[c])
			c++;
		if (x <= q->heap[c])
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	if (n)
		q->heap[i] = x;
	return top;
}

/* Room for cookie ids up to at least need (cmap and heap grow together). */
static int cookie_grow(struct iopf_queue *q, size_t need)
{
	size_t ncap = q->cmap_cap ? q->cmap_cap : 64;
	uint32_t *m, *h;

	while (ncap <= need)
		ncap *= 2;
	m = realloc(q->cmap, ncap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	q->cmap = m;
	h = realloc(q->heap, ncap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	q->heap = h;
	for (size_t i = q->cmap_cap; i < ncap; i++)
		m[i] = NIL;
	q->cmap_cap = ncap;
	return 0;
}

static int cookie_alloc(struct iopf_queue *q, uint32_t gi, uint32_t *cookie)
{
	uint32_t id;

	if (q->zero_free && q->cmap[0] == NIL) {
		id = 0;
	} else if (q->heap_n) {
		id = heap_pop(q);
	} else {
		if (q->hwm == UINT32_MAX)
			return -EBUSY;	/* xa_limit_32b is full */
		if ((size_t)q->hwm + 1 >= q->cmap_cap &&
		    cookie_grow(q, (size_t)q->hwm + 1))
			return -ENOMEM;
		id = ++q->hwm;
	}
	q->cmap[id] = gi;
	q->nout++;
	*cookie = id;
	return 0;
}

/*
 * xa_erase: the group that held cookie, now free, or NIL.
 *
 * Index 0 (KERNEL BUG in 6.12.117, found by tests/scenarios/18-cookie-zero.scn
 * against the kernel): while any cookie is outstanding, the ALLOC1 xarray's
 * node keeps an XA_ZERO_ENTRY placeholder at index 0.  xa_erase(0) replaces
 * it with NULL and marks index 0 free, so write() still fails with EINVAL
 * but from then on xa_alloc hands out cookie 0 first, for the life of the
 * fault object: the xarray-wide free mark stays set even after the array
 * empties (observed on 6.12.117; scenario 18).
 */
static uint32_t cookie_take(struct iopf_queue *q, uint32_t cookie)
{
	uint32_t gi;

	if (cookie == 0 && q->cmap[0] == NIL) {
		if (q->nout)
			q->zero_free = true;
		return NIL;
	}
	if (cookie > q->hwm || q->cmap[cookie] == NIL)
		return NIL;
	gi = q->cmap[cookie];
	q->cmap[cookie] = NIL;
	q->nout--;
	if (cookie == 0)
		return gi;
	if (cookie == q->hwm)
		q->hwm--;	/* the heap holds only ids below it */
	else
		heap_push(q, cookie);
	return gi;
}

/* ------------------------------------------------------------------ */
/* Attached devices                                                    */
/* ------------------------------------------------------------------ */

static bool dev_attached(const struct iopf_queue *q, uint32_t dev_id)
{
	return u64map_get(&q->devs, dev_id, NULL);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static const char *const model_names[IOPF_KERNEL_NMODELS] = {
	[IOPF_KERNEL_6_12] = "6.12",
	[IOPF_KERNEL_7_3] = "7.3",
};

int iopf_kernel_model_parse(const char *s, enum iopf_kernel_model *m)
{
	for (int i = 0; s && i < IOPF_KERNEL_NMODELS; i++)
		if (!strcmp(s, model_names[i])) {
			*m = (enum iopf_kernel_model)i;
			return 0;
		}
	return -EINVAL;
}

int iopf_kernel_model_from_release(const char *release, enum iopf_kernel_model *m)
{
	unsigned long major, minor;
	char *end;
	int best = 0;

	if (!release || release[0] < '0' || release[0] > '9')
		return -EINVAL;
	major = strtoul(release, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	minor = strtoul(end + 1, &end, 10);
	for (int i = 0; i < IOPF_KERNEL_NMODELS; i++) {
		unsigned long ma = strtoul(model_names[i], &end, 10);
		unsigned long mi = strtoul(end + 1, NULL, 10);

		if (ma < major || (ma == major && mi <= minor))
			best = i;
	}
	*m = (enum iopf_kernel_model)best;
	return 0;
}

const char *iopf_kernel_model_name(enum iopf_kernel_model m)
{
	return (unsigned int)m < IOPF_KERNEL_NMODELS ? model_names[m] : "?";
}

int iopf_queue_new(struct iopf_queue **qp, uint32_t fault_id)
{
	return iopf_queue_new_version(qp, fault_id, IOPF_KERNEL_DEFAULT);
}

enum iopf_kernel_model iopf_queue_kernel_model(const struct iopf_queue *q)
{
	return q->model;
}

int iopf_queue_new_version(struct iopf_queue **qp, uint32_t fault_id, enum iopf_kernel_model model)
{
	struct iopf_queue *q;
	int rc = -ENOMEM;

	if ((unsigned int)model >= IOPF_KERNEL_NMODELS)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->fault_id = fault_id;
	q->model = model;
	q->rec_free = q->grp_free = NIL;
	q->dhead = q->dtail = NIL;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		rc = -errno;
		goto fail;
	}
	if (rec_grow(q) || grp_grow(q) || partial_rehash(q, 6) || cookie_grow(q, 64))
		goto fail;
	*qp = q;
	return 0;
fail:
	iopf_queue_free(q);
	return rc;
}

/* iommufd_fault_destroy: answer everything INVALID, then free (§7). */
void iopf_queue_free(struct iopf_queue *q)
{
	if (!q)
		return;
	q->cnt.auto_invalid += q->npending + q->nout;
	if (q->efd >= 0)
		close(q->efd);
	free(q->rec);
	free(q->grp);
	free(q->pbucket);
	free(q->cmap);
	free(q->heap);
	u64map_free(&q->devs);
	free(q);
}

uint32_t iopf_queue_id(const struct iopf_queue *q)
{
	return q->fault_id;
}

/* Attaching an attached device is a no-op, like a replace to the same HWPT. */
int iopf_queue_attach(struct iopf_queue *q, uint32_t dev_id)
{
	return u64map_put(&q->devs, dev_id, 1);
}

/* Answer INVALID the pending groups of dev_id (auto-response, 1.8). */
static void detach_pending(struct iopf_queue *q, uint32_t dev_id)
{
	uint32_t gi = q->dhead;

	while (gi != NIL) {
		uint32_t next = q->grp[gi].next;

		if (q->grp[gi].dev_id == dev_id) {
			deliver_unlink(q, gi);
			grp_free(q, gi);
			q->cnt.auto_invalid++;
		}
		gi = next;
	}
}

/* Answer INVALID the read-but-unanswered groups of dev_id (§7). */
static void detach_outstanding(struct iopf_queue *q, uint32_t dev_id)
{
	for (uint64_t i = (uint64_t)q->hwm + 1; i-- > 0;) {
		uint32_t id = (uint32_t)i, gi = q->cmap[id];

		if (gi == NIL || q->grp[gi].dev_id != dev_id)
			continue;
		cookie_take(q, id);
		grp_free(q, gi);
		q->cnt.auto_invalid++;
	}
}

/*
 * Detaching disables IOPF for the device, and iopf_queue_remove_device()
 * frees its partial faults: a group cut in half by a detach never
 * completes (found by tests/scenarios/17-multi-record-detach.scn against
 * the kernel).
 */
static void detach_partials(struct iopf_queue *q, uint32_t dev_id)
{
	for (uint32_t b = 0; b < (1u << q->pbits); b++) {
		uint32_t *l = &q->pbucket[b];

		while (*l != NIL) {
			uint32_t gi = *l;

			if (q->grp[gi].dev_id != dev_id) {
				l = &q->grp[gi].hnext;
				continue;
			}
			*l = q->grp[gi].hnext;
			q->npartial--;
			grp_free(q, gi);
		}
	}
}

/* iommufd_hwpt_detach_device + iommufd_auto_response_faults (§7). */
int iopf_queue_detach(struct iopf_queue *q, uint32_t dev_id)
{
	if (!u64map_del(&q->devs, dev_id))
		return -ENOENT;
	detach_pending(q, dev_id);
	detach_outstanding(q, dev_id);
	detach_partials(q, dev_id);
	return 0;
}

/*
 * iommu_report_device_fault (§6): no handler -> INVALID, never seen; no
 * LAST_PAGE -> held as partial; LAST_PAGE -> the group of all partials of
 * this device with the same grpid (grpid only, not PASID), chronological,
 * LAST_PAGE record last, goes to the tail of the deliver list.
 */
int iopf_queue_inject(struct iopf_queue *q, const struct iommu_hwpt_pgfault *f)
{
	bool last = f->flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	uint32_t *link, gi, ri;
	bool fresh = false;

	q->cnt.injected++;
	if (!dev_attached(q, f->dev_id)) {
		q->cnt.no_handler++;
		return -ENODEV;
	}
	gi = partial_find(q, f->dev_id, f->grpid, &link);
	if (gi == NIL) {
		gi = grp_alloc(q, f->dev_id, f->grpid);
		if (gi == NIL)
			return -ENOMEM;
		fresh = true;
	}
	ri = rec_alloc(q);
	if (ri == NIL || (fresh && !last && partial_insert(q, gi))) {
		if (ri != NIL)
			rec_put(q, ri);
		if (fresh)
			grp_free(q, gi);
		return -ENOMEM;
	}
	q->rec[ri].f = *f;
	q->rec[ri].f.__reserved = 0;	/* data = {} (§1) */
	q->rec[ri].f.length = 0;
	q->rec[ri].f.cookie = 0;
	grp_append(q, gi, ri);
	if (!last) {
		q->cnt.partial++;
		return 0;
	}
	if (!fresh) {
		*link = q->grp[gi].hnext;	/* list_move off the partial list */
		q->npartial--;
	}
	deliver_append(q, gi);
	return 0;
}

/* Copy a group's records to out with cookie (iommufd_compose_fault_message). */
static size_t group_copy(const struct iopf_queue *q, const struct qgroup *g, uint8_t *out)
{
	size_t done = 0;

	for (uint32_t ri = g->first; ri != NIL; ri = q->rec[ri].next) {
		struct iommu_hwpt_pgfault f = q->rec[ri].f;

		f.cookie = g->cookie;
		memcpy(out + done, &f, sizeof(f));
		done += sizeof(f);
	}
	return done;
}

/*
 * iommufd_fault_fops_read (§2): whole groups, FIFO, packed while they fit;
 * -EINVAL when the first does not; 0 when empty (never blocks).  The cookie
 * is allocated as the group is read.
 */
ssize_t iopf_queue_read(struct iopf_queue *q, void *buf, size_t count)
{
	size_t done = 0;
	int rc = 0;

	if (count > IOPF_MAX_RW_COUNT)
		count = IOPF_MAX_RW_COUNT;
	if (count % IOPF_FAULT_SIZE)
		return -ESPIPE;
	while (q->dhead != NIL) {
		uint32_t gi = q->dhead;
		struct qgroup *g = &q->grp[gi];

		if (done >= count || (size_t)g->nrec * IOPF_FAULT_SIZE > count - done) {
			if (done == 0)
				rc = -EINVAL;
			break;
		}
		if (!buf) {
			rc = -EFAULT;	/* copy_to_user fails, group restored */
			break;
		}
		rc = cookie_alloc(q, gi, &g->cookie);
		if (rc)
			break;
		deliver_unlink(q, gi);
		g->state = Q_OUTSTANDING;
		done += group_copy(q, g, (uint8_t *)buf + done);
	}
	return done ? (ssize_t)done : rc;
}

/*
 * iommufd_fault_fops_write (§3): responses in array order; the code is
 * checked before the cookie; stop at the first bad one; 8*n if n applied.
 */
ssize_t iopf_queue_write(struct iopf_queue *q, const void *buf, size_t count)
{
	size_t done = 0;
	int rc = 0;

	if (count > IOPF_MAX_RW_COUNT)
		count = IOPF_MAX_RW_COUNT;
	if (count % IOPF_RESP_SIZE)
		return -ESPIPE;
	while (count > done) {
		struct iommu_hwpt_page_response r;
		uint32_t gi;

		if (!buf) {
			rc = -EFAULT;
			break;
		}
		memcpy(&r, (const uint8_t *)buf + done, sizeof(r));
		if (r.code != IOMMUFD_PAGE_RESP_SUCCESS &&
		    r.code != IOMMUFD_PAGE_RESP_INVALID) {
			rc = -EINVAL;
			break;
		}
		gi = cookie_take(q, r.cookie);
		if (gi == NIL) {
			rc = -EINVAL;
			break;
		}
		grp_free(q, gi);
		q->cnt.responses++;
		done += IOPF_RESP_SIZE;
	}
	return done ? (ssize_t)done : rc;
}

/* iommufd_fault_fops_poll (§4): never POLLHUP or POLLERR. */
short iopf_queue_poll(const struct iopf_queue *q)
{
	short ev = POLLOUT;

	if (q->dhead != NIL)
		ev |= POLLIN | POLLRDNORM;
	return ev;
}

int iopf_queue_fd(const struct iopf_queue *q)
{
	return q->efd;
}

void iopf_queue_counts(const struct iopf_queue *q, struct iopf_queue_counts *c)
{
	*c = q->cnt;
	c->pending_groups = q->npending;
	c->outstanding_groups = q->nout;
}
