// SPDX-License-Identifier: MIT
/*
 * The response checker: classifies every response to a fault queue as
 * iopftool-replay(8) "THE REPORT" defines, and measures how fast groups are answered.
 *
 * State, per fault queue:
 *  - per cookie (table "cookies", key queue:cookie): the group the
 *    cookie names while it is outstanding (delivered by a read, no
 *    accepted response yet): its grpid, record count and delivery time;
 *    after an accepted response the entry stays, marked ANSWERED, until
 *    a read hands the cookie out again, so that a second response can be
 *    told apart (duplicate) from a cookie that never existed;
 *  - the multiset of grpids of outstanding groups (table "grpids", key
 *    queue:grpid, value a count), to recognise a handler that echoes the
 *    device's group id instead of the cookie.
 *
 * Both live in u64map (lib/u64map.c, the one hash map in the tree):
 * "grpids" maps a key to its count and drops it when the count reaches
 * 0, so it holds only outstanding groups; "cookies" maps a key to an
 * index in an array of struct cookie, and entries are kept after the
 * answer.  Since the kernel hands out the lowest free cookie >= 1
 * (drivers/iommu/iommufd/fault.c: iommufd_fault_fops_read(), with
 * xa_alloc()), a queue never uses more distinct cookies than
 * it ever had groups outstanding at once, which bounds the table by the
 * input's peak number of groups in flight.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "u64map.h"

enum cookie_state { COOKIE_OUTSTANDING = 1, COOKIE_ANSWERED };

struct cookie {
	uint64_t t_ns;		/* delivery time */
	uint32_t grpid;		/* the group's grpid */
	uint32_t n;		/* records */
	uint32_t state;		/* enum cookie_state */
};

struct iopf_check {
	struct iopf_check_cfg cfg;
	struct u64map cookies;	/* queue << 32 | cookie -> index in cookie[] */
	struct cookie *cookie;
	size_t ncookie, cookie_cap;
	struct u64map grpids;	/* queue << 32 | grpid -> outstanding groups */
	struct iopf_hist *lat, *lag;
	uint64_t groups, faults, responses;
	uint64_t v[IOPF_V_COUNT];
	uint64_t outstanding;	/* groups delivered and not yet accepted */
};

static uint64_t key_of(uint32_t queue, uint32_t v)
{
	return (uint64_t)queue << 32 | v;
}

static struct cookie *cookie_find(const struct iopf_check *c, uint64_t key)
{
	uint64_t i;

	return u64map_get(&c->cookies, key, &i) ? &c->cookie[i] : NULL;
}

/* A new zeroed entry for key (known to be absent), or NULL when memory runs out. */
static struct cookie *cookie_insert(struct iopf_check *c, uint64_t key)
{
	if (c->ncookie == c->cookie_cap) {
		size_t cap = c->cookie_cap ? c->cookie_cap * 2 : 64;
		struct cookie *a = realloc(c->cookie, cap * sizeof(*a));

		if (!a)
			return NULL;
		c->cookie = a;
		c->cookie_cap = cap;
	}
	if (u64map_put(&c->cookies, key, c->ncookie))
		return NULL;
	memset(&c->cookie[c->ncookie], 0, sizeof(c->cookie[0]));
	return &c->cookie[c->ncookie++];
}

static void grpid_inc(struct iopf_check *c, uint32_t queue, uint32_t grpid)
{
	uint64_t *n = u64map_ref(&c->grpids, key_of(queue, grpid), true);

	if (n)
		(*n)++;	/* out of memory: only grpid_echo detection suffers */
}

static void grpid_dec(struct iopf_check *c, uint32_t queue, uint32_t grpid)
{
	uint64_t *n = u64map_ref(&c->grpids, key_of(queue, grpid), false);

	if (n && --*n == 0)
		u64map_del(&c->grpids, key_of(queue, grpid));
}

static bool grpid_outstanding(const struct iopf_check *c, uint32_t queue, uint32_t grpid)
{
	return u64map_get(&c->grpids, key_of(queue, grpid), NULL);
}

int iopf_check_new(struct iopf_check **cp, const struct iopf_check_cfg *cfg)
{
	struct iopf_check *c = calloc(1, sizeof(*c));

	*cp = NULL;
	if (!c)
		return -ENOMEM;
	if (cfg)
		c->cfg = *cfg;
	if (iopf_hist_new(&c->lat) || iopf_hist_new(&c->lag)) {
		iopf_check_free(c);
		return -ENOMEM;
	}
	*cp = c;
	return 0;
}

void iopf_check_free(struct iopf_check *c)
{
	if (!c)
		return;
	u64map_free(&c->cookies);
	u64map_free(&c->grpids);
	free(c->cookie);
	iopf_hist_free(c->lat);
	iopf_hist_free(c->lag);
	free(c);
}

/* An outstanding group leaves the books: answered, or replaced. */
static void group_close(struct iopf_check *c, uint32_t queue, struct cookie *s)
{
	grpid_dec(c, queue, s->grpid);
	s->state = COOKIE_ANSWERED;
	c->outstanding--;
}

/*
 * A group delivered by a read.  All records carry the same cookie; the
 * grpid is the last record's (the kernel answers the device with
 * last_fault's).  A cookie that is still outstanding cannot be handed
 * out again by a kernel queue: the input is inconsistent (a capture
 * that lost records), and the old group is counted unanswered.
 */
static void delivered(struct iopf_check *c, uint32_t queue,
		      const struct iommu_hwpt_pgfault *last, size_t n, uint64_t t_ns)
{
	uint64_t key = key_of(queue, last->cookie);
	struct cookie *s;

	c->groups++;
	c->faults += n;
	s = cookie_find(c, key);
	if (s && s->state == COOKIE_OUTSTANDING) {
		group_close(c, queue, s);
		c->v[IOPF_V_UNANSWERED]++;
	}
	if (!s)
		s = cookie_insert(c, key);
	if (!s) {	/* out of memory: the group can only end up unanswered */
		c->v[IOPF_V_UNANSWERED]++;
		return;
	}
	s->state = COOKIE_OUTSTANDING;
	s->grpid = last->grpid;
	s->n = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	s->t_ns = t_ns;
	c->outstanding++;
	grpid_inc(c, queue, last->grpid);
}

void iopf_check_delivered(struct iopf_check *c, uint32_t queue,
			  const struct iommu_hwpt_pgfault *recs, size_t n, uint64_t t_ns)
{
	if (n)
		delivered(c, queue, &recs[n - 1], n, t_ns);
}

void iopf_check_group(struct iopf_check *c, const struct iopf_group *g, uint64_t t_ns)
{
	if (g->n)
		delivered(c, g->queue_id, &g->last, g->n, t_ns);
}

/* An accepted response to an outstanding group. */
static enum iopf_verdict check_accept(struct iopf_check *c, uint32_t queue,
				      struct cookie *s, uint64_t t_ns, uint64_t *latency_ns)
{
	uint64_t lat = t_ns > s->t_ns ? t_ns - s->t_ns : 0;

	group_close(c, queue, s);
	iopf_hist_add(c->lat, lat);
	c->v[IOPF_OK]++;
	if (latency_ns)
		*latency_ns = lat;
	if (c->cfg.deadline_ns && lat > c->cfg.deadline_ns) {
		c->v[IOPF_V_LATE]++;
		return IOPF_V_LATE;
	}
	return IOPF_OK;
}

/*
 * Classify one response, in the kernel's order (drivers/iommu/iommufd/fault.c:
 * iommufd_fault_fops_write()): the
 * code first, then the cookie.
 *  - code not SUCCESS/INVALID: bad_code (the group stays outstanding);
 *  - cookie names an outstanding group: accepted (status 0) is correct,
 *    refused (status != 0) is rejected and the group stays outstanding;
 *  - otherwise the cookie names nothing the queue would take, and the
 *    reason is looked up in this order: a cookie answered before and
 *    not handed out again since is a duplicate; else one equal to the
 *    grpid of an outstanding group of this queue is a grpid_echo; else
 *    unknown_cookie.  Duplicate goes before grpid_echo: a cookie the
 *    checker has seen answered is explained by that, whatever grpids
 *    happen to be in flight.
 * An accepted response later than the deadline counts in v[IOPF_OK]
 * and, once for its group, in v[IOPF_V_LATE]; it returns IOPF_V_LATE.
 */
enum iopf_verdict iopf_check_response(struct iopf_check *c, uint32_t queue,
				      const struct iommu_hwpt_page_response *r,
				      uint32_t status, uint64_t t_ns, uint64_t *latency_ns)
{
	enum iopf_verdict v;
	struct cookie *s;

	if (latency_ns)
		*latency_ns = 0;
	c->responses++;
	s = cookie_find(c, key_of(queue, r->cookie));
	if (r->code != IOMMUFD_PAGE_RESP_SUCCESS && r->code != IOMMUFD_PAGE_RESP_INVALID)
		v = IOPF_V_BAD_CODE;
	else if (s && s->state == COOKIE_OUTSTANDING && status == 0)
		return check_accept(c, queue, s, t_ns, latency_ns);
	else if (s && s->state == COOKIE_OUTSTANDING)
		v = IOPF_V_REJECTED;
	else if (s)
		v = IOPF_V_DUPLICATE;
	else if (grpid_outstanding(c, queue, r->cookie))
		v = IOPF_V_GRPID_ECHO;
	else
		v = IOPF_V_UNKNOWN_COOKIE;
	c->v[v]++;
	return v;
}

void iopf_check_lag(struct iopf_check *c, uint64_t lag_ns)
{
	iopf_hist_add(c->lag, lag_ns);
}

const struct iopf_hist *iopf_check_latency(const struct iopf_check *c)
{
	return c->lat;
}

void iopf_report_latency(struct iopf_report *rep, const struct iopf_hist *h)
{
	rep->latency_ns.count = iopf_hist_count(h);
	rep->latency_ns.min = iopf_hist_min(h);
	rep->latency_ns.mean = iopf_hist_mean(h);
	rep->latency_ns.p50 = iopf_hist_quantile(h, 0.50);
	rep->latency_ns.p90 = iopf_hist_quantile(h, 0.90);
	rep->latency_ns.p99 = iopf_hist_quantile(h, 0.99);
	rep->latency_ns.p999 = iopf_hist_quantile(h, 0.999);
	rep->latency_ns.max = iopf_hist_max(h);
}

/*
 * The report of everything seen so far.  Groups still outstanding count
 * as unanswered (a group whose only responses were refused included).
 * The checker's state is not changed: calling it again, or after more
 * events, gives the report of the longer run.  wall_ns, groups_per_s
 * and split_groups are the caller's to measure: they are set to 0 here,
 * to be filled in after this call.
 */
void iopf_check_finish(struct iopf_check *c, struct iopf_report *rep)
{
	size_t i;

	memset(rep, 0, sizeof(*rep));
	rep->groups = c->groups;
	rep->faults = c->faults;
	rep->responses = c->responses;
	memcpy(rep->v, c->v, sizeof(rep->v));
	rep->v[IOPF_V_UNANSWERED] += c->outstanding;
	iopf_report_latency(rep, c->lat);
	rep->schedule_lag_ns.p50 = iopf_hist_quantile(c->lag, 0.50);
	rep->schedule_lag_ns.p99 = iopf_hist_quantile(c->lag, 0.99);
	rep->schedule_lag_ns.max = iopf_hist_max(c->lag);
	rep->ok = true;
	for (i = IOPF_OK + 1; i < IOPF_V_COUNT; i++)
		if (rep->v[i])
			rep->ok = false;
}

static const char *const verdict_names[IOPF_V_COUNT] = {
	[IOPF_OK] = "ok",
	[IOPF_V_UNKNOWN_COOKIE] = "unknown_cookie",
	[IOPF_V_GRPID_ECHO] = "grpid_echo",
	[IOPF_V_DUPLICATE] = "duplicate",
	[IOPF_V_BAD_CODE] = "bad_code",
	[IOPF_V_REJECTED] = "rejected",
	[IOPF_V_UNANSWERED] = "unanswered",
	[IOPF_V_LATE] = "late",
};

const char *iopf_verdict_name(enum iopf_verdict v)
{
	if ((unsigned int)v >= IOPF_V_COUNT)
		return "unknown";
	return verdict_names[v];
}

void iopf_write_judge(struct iopf_write_memo *m, const void *resps, uint64_t given, uint64_t have,
		      int64_t ret, struct iopf_write_verdict *v)
{
	struct iommu_hwpt_page_response r;

	memset(v, 0, sizeof(*v));
	if (have > given)
		have = given;
	v->accepted = ret > 0 ? (uint64_t)ret / IOPF_RESP_SIZE : 0;
	if (v->accepted > given)
		v->accepted = given;	/* never from the kernel */
	if (v->accepted < given && ret != 0) {
		v->refused_errno = ret < 0 ? (uint32_t)(0 - (uint64_t)ret) : EINVAL;
		v->partial = ret > 0;
	}
	if (m->pending && have && !v->accepted && ret < 0) {
		memcpy(&r, resps, sizeof(r));
		v->retry = r.cookie == m->refused.cookie && r.code == m->refused.code;
	}
	m->pending = v->partial && v->accepted < have;
	if (m->pending)
		memcpy(&m->refused, (const uint8_t *)resps + v->accepted * IOPF_RESP_SIZE,
		       sizeof(m->refused));
}
