// SPDX-License-Identifier: MIT
/* The group rule (lib/group.c, iopftool-capture(5) "Groups and cookies"). */
#include <stdlib.h>
#include <string.h>

#include "iopf.h"
#include "internal.h"	/* what only libiopf and its tests use */
#include "tap.h"

#define MAXLOG 16

struct seen {
	uint64_t ids[64], forgot[64];
	size_t n[64], kept[64];
	bool term[64];
	enum iopf_group_state forgot_state[64];
	size_t ncomplete, nforgot;
	uint32_t first_addr_ok;
	int warnings;
	char last_warning[512];
};

static int on_complete(void *ctx, struct iopf_group *g)
{
	struct seen *s = ctx;

	if (s->ncomplete < 64) {
		s->ids[s->ncomplete] = g->id;
		s->n[s->ncomplete] = g->n;
		s->kept[s->ncomplete] = g->nkept;
		s->term[s->ncomplete] = g->terminated;
		/* records kept in order: addr i * 0x1000 */
		bool inorder = true;

		for (size_t i = 0; g->recs && i < g->nkept; i++)
			inorder &= g->recs[i].addr == (i + 1) * 0x1000;
		s->first_addr_ok += inorder;
	}
	s->ncomplete++;
	return 0;
}

static void on_forget(void *ctx, const struct iopf_group *g)
{
	struct seen *s = ctx;

	if (s->nforgot < 64) {
		s->forgot[s->nforgot] = g->id;
		s->forgot_state[s->nforgot] = g->state;
	}
	s->nforgot++;
}

static void on_log(void *ctx, enum iopf_log_level level, const char *msg)
{
	struct seen *s = ctx;

	(void)level;
	s->warnings++;
	snprintf(s->last_warning, sizeof(s->last_warning), "%s", msg);
}

static struct iopf_grouper *new_grouper(struct seen *s, struct iopf_log *log, bool keep)
{
	struct iopf_grouper_cfg cfg = { .name = "t.pcap", .log = log, .keep_records = keep,
					.complete = on_complete, .forget = on_forget, .ctx = s };
	struct iopf_grouper *gr;

	memset(s, 0, sizeof(*s));
	log->fn = on_log;
	log->ctx = s;
	if (iopf_grouper_new(&gr, &cfg))
		abort();
	return gr;
}

static uint64_t recno;

static struct iopf_group *fault(struct iopf_grouper *gr, uint32_t cookie, bool last, uint64_t addr)
{
	struct iopf_rec r = { .type = IOPF_REC_FAULT, .queue_id = 1 };
	struct iopf_group *g;

	r.u.fault.cookie = cookie;
	r.u.fault.addr = addr;
	r.u.fault.grpid = cookie + 100;
	r.u.fault.flags = last ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0;
	if (iopf_grouper_rec(gr, &r, ++recno, &g))
		abort();
	return g;
}

static struct iopf_group *resp(struct iopf_grouper *gr, uint32_t cookie, uint32_t status)
{
	struct iopf_rec r = { .type = IOPF_REC_RESPONSE, .queue_id = 1, .status = status };
	struct iopf_group *g;

	r.u.resp.cookie = cookie;
	if (iopf_grouper_rec(gr, &r, ++recno, &g))
		abort();
	return g;
}

static void test_interleaved(void)
{
	struct seen s;
	struct iopf_log log;
	struct iopf_grouper *gr = new_grouper(&s, &log, true);
	struct iopf_grouper_counts c;
	struct iopf_group *g;

	recno = 0;
	g = fault(gr, 1, false, 0x1000);
	ok(g && g->id == 1 && g->state == IOPF_GROUP_OPEN, "fault opens group 1");
	g = fault(gr, 2, false, 0x1000);
	ok(g && g->id == 2, "another cookie opens group 2 while 1 is open");
	g = fault(gr, 2, true, 0x2000);
	ok(g && g->id == 2 && g->state == IOPF_GROUP_COMPLETE, "group 2 completes first");
	g = fault(gr, 1, true, 0x2000);
	ok(g && g->id == 1 && g->state == IOPF_GROUP_COMPLETE, "then group 1");
	is(s.ncomplete, 2, "two groups completed");
	ok(s.ids[0] == 2 && s.ids[1] == 1, "in completion order");
	ok(s.n[0] == 2 && s.n[1] == 2 && s.kept[0] == 2 && s.term[0] && s.term[1], "2 records each, terminated");
	is(s.first_addr_ok, 2, "records kept in capture order");
	g = resp(gr, 1, 0);
	ok(g && g->id == 1 && g->state == IOPF_GROUP_ANSWERED, "response refers to group 1, answers it");
	g = resp(gr, 2, 22);
	ok(g && g->id == 2 && g->state == IOPF_GROUP_COMPLETE, "a refused response does not answer");
	g = resp(gr, 3, 0);
	ok(!g, "a response to no group refers to none");
	is(iopf_grouper_end(gr), 0, "no incomplete group");
	iopf_grouper_counts(gr, &c);
	is(c.groups, 2, "counts: 2 groups");
	is(s.warnings, 0, "no warnings");
	is(iopf_grouper_open_records(gr), 0, "nothing held");
	iopf_grouper_free(gr);
}

static void test_response_completes(void)
{
	struct seen s;
	struct iopf_log log;
	struct iopf_grouper *gr = new_grouper(&s, &log, false);
	struct iopf_group *g;

	recno = 0;
	fault(gr, 1, false, 0x1000);
	fault(gr, 1, false, 0x2000);
	g = resp(gr, 1, 0);
	ok(g && g->n == 2 && !g->terminated && g->state == IOPF_GROUP_ANSWERED,
	   "a response completes the open group, then answers it");
	is(s.ncomplete, 1, "complete callback ran");
	is(s.warnings, 1, "one warning");
	ok(strstr(s.last_warning, "record 3") && strstr(s.last_warning, "group of record 1"),
	   "it names the response and the first fault: %s", s.last_warning);
	g = fault(gr, 1, true, 0x1000);
	ok(g && g->id == 2 && s.nforgot == 1 && s.forgot[0] == 1, "answered group forgotten when its key is used again");
	iopf_grouper_free(gr);
}

static void test_reuse_outstanding(void)
{
	struct seen s;
	struct iopf_log log;
	struct iopf_grouper *gr = new_grouper(&s, &log, false);
	struct iopf_grouper_counts c;
	struct iopf_group *g;

	recno = 0;
	fault(gr, 1, true, 0x1000);
	g = fault(gr, 1, true, 0x1000);
	ok(g && g->id == 2, "a fault on an unanswered key starts a new group");
	ok(s.nforgot == 1 && s.forgot[0] == 1 && s.forgot_state[0] == IOPF_GROUP_COMPLETE,
	   "the old one is forgotten unanswered");
	ok(strstr(s.last_warning, "reused while") != NULL, "warning: %s", s.last_warning);
	g = resp(gr, 1, 0);
	ok(g && g->id == 2, "the response refers to the newer group");
	iopf_grouper_counts(gr, &c);
	is(c.reused, 1, "reused counted");
	iopf_grouper_free(gr);
}

static void test_unterminated(void)
{
	struct seen s;
	struct iopf_log log;
	struct iopf_grouper *gr = new_grouper(&s, &log, true);

	recno = 0;
	fault(gr, 1, true, 0x1000);
	fault(gr, 2, false, 0x1000);
	fault(gr, 2, false, 0x2000);
	fault(gr, 3, false, 0x1000);
	is(s.ncomplete, 1, "only the terminated group completes");
	ok(iopf_grouper_open_records(gr) == 3, "three records held for open groups");
	is(iopf_grouper_end(gr), 2, "two incomplete groups at the end");
	is(s.warnings, 2, "one warning each");
	ok(strstr(s.last_warning, "record 4") && strstr(s.last_warning, "cut short"),
	   "naming the first record: %s", s.last_warning);
	is(s.nforgot, 3, "every group forgotten at the end");
	ok(s.forgot_state[0] != IOPF_GROUP_OPEN || s.forgot_state[1] == IOPF_GROUP_OPEN, "open ones forgotten open");
	is(iopf_grouper_open_records(gr), 0, "nothing held after the end");
	/* the grouper goes on: ids keep counting */
	ok(fault(gr, 1, true, 0x1000)->id == 4, "ids stay unique after the end");
	iopf_grouper_free(gr);
}

static void test_big_group(void)
{
	struct seen s;
	struct iopf_log log;
	struct iopf_grouper *gr = new_grouper(&s, &log, true);
	bool held = true;

	recno = 0;
	for (uint64_t i = 0; i < 39999; i++) {
		fault(gr, 7, false, (i + 1) * 0x1000);
		held &= iopf_grouper_open_records(gr) == i + 1;
	}
	ok(held, "an open group's records are held, one by one");
	fault(gr, 7, true, 40000 * 0x1000ull);
	ok(s.ncomplete == 1 && s.n[0] == 40000 && s.kept[0] == 40000, "a 40000-record group, all kept");
	is(s.first_addr_ok, 1, "in order");
	is(iopf_grouper_open_records(gr), 0, "freed once complete");
	iopf_grouper_free(gr);
}

/* Memory is bounded by open groups: a million answered cookies do not fill it. */
static void test_many_keys(void)
{
	struct seen s;
	struct iopf_log log;
	struct iopf_grouper *gr = new_grouper(&s, &log, false);
	struct iopf_grouper_counts c;

	recno = 0;
	for (uint32_t k = 1; k <= (1u << 20) + 1000; k++) {
		fault(gr, k, true, 0x1000);
		resp(gr, k, 0);
	}
	iopf_grouper_counts(gr, &c);
	is(c.untracked, 0, "answered groups are swept: none untracked");
	is(c.groups, (1u << 20) + 1000, "every group completed");
	iopf_grouper_free(gr);
}

struct split_seen {
	size_t n[8];
	bool term[8];
	size_t count;
	const struct iommu_hwpt_pgfault *base, *recs[8];
};

static int on_split(void *ctx, struct iopf_group *g)
{
	struct split_seen *s = ctx;

	s->n[s->count] = g->n;
	s->term[s->count] = g->terminated;
	s->recs[s->count] = g->recs;
	s->count++;
	return 0;
}

static int stop_at_2(void *ctx, struct iopf_group *g)
{
	(void)g;
	return ++*(int *)ctx == 2 ? -42 : 0;
}

static void test_split(void)
{
	struct iommu_hwpt_pgfault b[7] = {
		{ .cookie = 1 }, { .cookie = 1, .flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE },
		{ .cookie = 2, .flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE },
		{ .cookie = 3 }, /* cookie change before LAST_PAGE */
		{ .cookie = 1, .flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE },
		{ .cookie = 4 }, { .cookie = 4 }, /* the end of the buffer */
	};
	struct split_seen s = { 0 };
	int calls = 0;

	is(iopf_group_split(1, b, 7, 0, on_split, &s), 5, "five groups in the buffer");
	ok(s.n[0] == 2 && s.term[0] && s.recs[0] == &b[0], "2 records, in place, terminated");
	ok(s.n[1] == 1 && s.term[1] && s.recs[1] == &b[2], "1 record");
	ok(s.n[2] == 1 && !s.term[2], "a cookie change ends a group, unterminated");
	ok(s.n[3] == 1 && s.term[3], "then cookie 1 again");
	ok(s.n[4] == 2 && !s.term[4] && s.recs[4] == &b[5], "the end of the buffer ends the last");
	is(iopf_group_split(1, b, 7, 0, stop_at_2, &calls), -42, "a callback's error stops it");
	is(iopf_group_split(1, b, 0, 0, on_split, &s), 0, "an empty buffer has no group");
}

static struct iopf_group *pfault(struct iopf_grouper *gr, uint32_t cookie, bool last, bool pv,
				  uint32_t pasid)
{
	struct iopf_rec r = { .type = IOPF_REC_FAULT, .queue_id = 1 };
	struct iopf_group *g;

	r.u.fault.cookie = cookie;
	r.u.fault.grpid = 7;
	r.u.fault.pasid = pasid;
	r.u.fault.flags = (last ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0) |
			  (pv ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0);
	if (iopf_grouper_rec(gr, &r, ++recno, &g))
		abort();
	return g;
}

/* The kernel joins partial faults by grpid alone: one group, two PASIDs. */
static void test_mixed_pasid(void)
{
	struct seen s;
	struct iopf_log log;
	struct iopf_grouper *gr = new_grouper(&s, &log, false);
	struct iopf_group *g;

	recno = 0;
	g = pfault(gr, 1, false, true, 1);
	ok(g && !g->mixed_pasid, "one record of PASID 1: not mixed");
	g = pfault(gr, 1, true, true, 5);
	ok(g && g->mixed_pasid, "a record of PASID 5 in the same group: mixed");
	g = pfault(gr, 2, false, true, 5);
	ok(g && !g->mixed_pasid, "a new group starts unmixed");
	g = pfault(gr, 2, true, true, 5);
	ok(g && !g->mixed_pasid, "same PASID: not mixed");
	g = pfault(gr, 3, false, false, 0);
	g = pfault(gr, 3, true, true, 0);
	ok(g && g->mixed_pasid, "no PASID then PASID 0: mixed");
	iopf_grouper_free(gr);
}

static int split_mixed(void *ctx, struct iopf_group *g)
{
	bool *m = ctx;

	m[g->id - 1] = g->mixed_pasid;
	return 0;
}

static void test_split_mixed_pasid(void)
{
	const uint32_t pv = IOMMU_PGFAULT_FLAGS_PASID_VALID, lp = IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	struct iommu_hwpt_pgfault b[6] = {
		{ .cookie = 1, .flags = pv, .pasid = 1 }, { .cookie = 1, .flags = pv | lp, .pasid = 5 },
		{ .cookie = 2, .flags = pv, .pasid = 5 }, { .cookie = 2, .flags = pv | lp, .pasid = 5 },
		{ .cookie = 3, .pasid = 5 }, { .cookie = 3, .flags = pv | lp, .pasid = 5 },
	};
	bool m[3] = { false, true, false };

	is(iopf_group_split(1, b, 6, 0, split_mixed, m), 3, "split: three groups");
	ok(m[0] && !m[1] && m[2], "split: PASIDs 1 and 5 mixed, 5 and 5 not, none and 5 mixed");
}

int main(void)
{
	test_interleaved();
	test_response_completes();
	test_reuse_outstanding();
	test_unterminated();
	test_big_group();
	test_many_keys();
	test_split();
	test_mixed_pasid();
	test_split_mixed_pasid();
	return tap_done();
}
