// SPDX-License-Identifier: MIT
/* The response checker: each class of iopftool-replay(8) THE REPORT, then a random run against a reference. */
#include <stdlib.h>
#include <string.h>

#include "iopf.h"
#include "tap.h"

#define EINVAL_STATUS 22

static struct iopf_check *new_check(uint64_t deadline_ns)
{
	struct iopf_check_cfg cfg = { .deadline_ns = deadline_ns };
	struct iopf_check *c;

	if (iopf_check_new(&c, &cfg))
		abort();
	return c;
}

/* A group of n records (n <= 8) with one cookie and grpid, LAST_PAGE last. */
static void deliver(struct iopf_check *c, uint32_t queue, uint32_t cookie, uint32_t grpid,
		    size_t n, uint64_t t)
{
	struct iommu_hwpt_pgfault f[8];
	size_t i;

	memset(f, 0, sizeof(f));
	for (i = 0; i < n; i++) {
		f[i].dev_id = 1;
		f[i].grpid = grpid;
		f[i].cookie = cookie;
		f[i].addr = 0x1000 * (i + 1);
		f[i].perm = IOMMU_PGFAULT_PERM_READ;
	}
	f[n - 1].flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE;
	iopf_check_delivered(c, queue, f, n, t);
}

static enum iopf_verdict respond(struct iopf_check *c, uint32_t queue, uint32_t cookie,
				 uint32_t code, uint32_t status, uint64_t t, uint64_t *lat)
{
	struct iommu_hwpt_page_response r = { .cookie = cookie, .code = code };

	return iopf_check_response(c, queue, &r, status, t, lat);
}

/* Only the named counter set, to the given value; every other violation 0. */
static int only(const struct iopf_report *rep, enum iopf_verdict v, uint64_t n)
{
	unsigned int i;

	for (i = IOPF_OK + 1; i < IOPF_V_COUNT; i++)
		if (rep->v[i] != (i == (unsigned int)v ? n : 0))
			return 0;
	return 1;
}

static void test_correct(void)
{
	struct iopf_check *c = new_check(0);
	struct iopf_report rep;
	uint64_t lat = 99;

	deliver(c, 1, 1, 7, 3, 100);
	is(respond(c, 1, 1, IOMMUFD_PAGE_RESP_SUCCESS, 0, 350, &lat), IOPF_OK, "correct: verdict ok");
	is(lat, 250, "correct: latency is response time minus delivery");
	deliver(c, 1, 1, 8, 1, 1000);	/* cookie 1 reused, lowest free */
	is(respond(c, 1, 1, IOMMUFD_PAGE_RESP_INVALID, 0, 1750, &lat), IOPF_OK,
	   "correct: an INVALID answer with the right cookie is correct too");
	iopf_check_finish(c, &rep);
	ok(rep.ok && only(&rep, IOPF_OK, 0), "correct: report ok, no violations");
	ok(rep.groups == 2 && rep.faults == 4 && rep.responses == 2 && rep.v[IOPF_OK] == 2,
	   "correct: groups 2 faults 4 responses 2 correct 2");
	ok(rep.latency_ns.count == 2 && rep.latency_ns.min == 250 && rep.latency_ns.max == 750 &&
	   rep.latency_ns.mean == 500 && rep.latency_ns.p50 == 250 && rep.latency_ns.p99 == 750,
	   "correct: latency count 2 min 250 mean 500 p50 250 p99 750 max 750");
	ok(rep.wall_ns == 0 && rep.groups_per_s == 0 && rep.split_groups == 0,
	   "correct: caller's fields left 0");
	iopf_check_free(c);
}

static void test_unknown(void)
{
	struct iopf_check *c = new_check(0);
	struct iopf_report rep;

	is(respond(c, 1, 5, 0, EINVAL_STATUS, 10, NULL), IOPF_V_UNKNOWN_COOKIE,
	   "unknown_cookie: nothing delivered");
	deliver(c, 1, 1, 3, 1, 20);
	is(respond(c, 1, 0, 0, EINVAL_STATUS, 30, NULL), IOPF_V_UNKNOWN_COOKIE,
	   "unknown_cookie: cookie 0 is never allocated");
	is(respond(c, 1, 1, 0, 0, 40, NULL), IOPF_OK, "unknown_cookie: the real answer is still ok");
	iopf_check_finish(c, &rep);
	ok(!rep.ok && only(&rep, IOPF_V_UNKNOWN_COOKIE, 2) && rep.responses == 3,
	   "unknown_cookie: counted twice, nothing else");
	iopf_check_free(c);
}

static void test_grpid_echo(void)
{
	struct iopf_check *c = new_check(0);
	struct iopf_report rep;

	deliver(c, 1, 1, 7, 2, 0);
	is(respond(c, 1, 7, 0, EINVAL_STATUS, 10, NULL), IOPF_V_GRPID_ECHO,
	   "grpid_echo: handler answers grpid 7 for cookie 1");
	iopf_check_finish(c, &rep);
	ok(only(&rep, IOPF_V_UNANSWERED, 1) == 0 && rep.v[IOPF_V_GRPID_ECHO] == 1 &&
	   rep.v[IOPF_V_UNANSWERED] == 1 && rep.v[IOPF_V_UNKNOWN_COOKIE] == 0,
	   "grpid_echo: 1, and the group is unanswered, not unknown_cookie");
	deliver(c, 1, 2, 9, 1, 20);
	respond(c, 1, 2, 0, 0, 30, NULL);
	is(respond(c, 1, 9, 0, EINVAL_STATUS, 40, NULL), IOPF_V_UNKNOWN_COOKIE,
	   "grpid_echo: a grpid no longer outstanding is an unknown cookie");
	iopf_check_free(c);
}

static void test_duplicate(void)
{
	struct iopf_check *c = new_check(0);
	struct iopf_report rep;

	deliver(c, 1, 1, 4, 1, 0);
	is(respond(c, 1, 1, 0, 0, 10, NULL), IOPF_OK, "duplicate: first answer ok");
	is(respond(c, 1, 1, 0, EINVAL_STATUS, 20, NULL), IOPF_V_DUPLICATE,
	   "duplicate: second answer before the cookie is reused");
	deliver(c, 1, 1, 5, 1, 30);
	is(respond(c, 1, 1, 0, 0, 40, NULL), IOPF_OK,
	   "duplicate: an answer after reuse is correct for the new group");
	deliver(c, 1, 2, 1, 1, 50);
	is(respond(c, 1, 1, 0, EINVAL_STATUS, 60, NULL), IOPF_V_DUPLICATE,
	   "duplicate: goes before grpid_echo (cookie 1 answered, grpid 1 outstanding)");
	iopf_check_finish(c, &rep);
	ok(rep.v[IOPF_V_DUPLICATE] == 2 && rep.v[IOPF_OK] == 2 && rep.v[IOPF_V_UNANSWERED] == 1 &&
	   rep.v[IOPF_V_GRPID_ECHO] == 0, "duplicate: 2 duplicates, 2 correct, 1 unanswered");
	iopf_check_free(c);
}

static void test_bad_code(void)
{
	struct iopf_check *c = new_check(0);
	struct iopf_report rep;
	uint64_t lat = 5;

	deliver(c, 1, 1, 4, 1, 0);
	is(respond(c, 1, 1, 2, EINVAL_STATUS, 10, &lat), IOPF_V_BAD_CODE, "bad_code: code 2");
	is(lat, 0, "bad_code: no latency");
	is(respond(c, 1, 99, 0xffffffff, EINVAL_STATUS, 10, NULL), IOPF_V_BAD_CODE,
	   "bad_code: checked before the cookie");
	iopf_check_finish(c, &rep);
	ok(rep.v[IOPF_V_BAD_CODE] == 2 && rep.v[IOPF_V_UNANSWERED] == 1 && rep.responses == 2 &&
	   rep.v[IOPF_V_UNKNOWN_COOKIE] == 0 && rep.latency_ns.count == 0,
	   "bad_code: counted once each, group unanswered at finish");
	iopf_check_free(c);
}

static void test_rejected(void)
{
	struct iopf_check *c = new_check(0);
	struct iopf_report rep;

	deliver(c, 1, 1, 4, 1, 0);
	is(respond(c, 1, 1, 0, EINVAL_STATUS, 10, NULL), IOPF_V_REJECTED,
	   "rejected: valid code, known cookie, status 22");
	iopf_check_finish(c, &rep);
	ok(rep.v[IOPF_V_REJECTED] == 1 && rep.v[IOPF_V_UNANSWERED] == 1 && !rep.ok,
	   "rejected: group whose only response was refused is unanswered");
	is(respond(c, 1, 1, 0, 0, 20, NULL), IOPF_OK, "rejected: the group stays outstanding");
	iopf_check_finish(c, &rep);
	ok(rep.v[IOPF_V_REJECTED] == 1 && rep.v[IOPF_V_UNANSWERED] == 0,
	   "rejected: finish again after the answer: no longer unanswered");
	iopf_check_free(c);
}

static void test_unanswered(void)
{
	struct iopf_check *c = new_check(0);
	struct iopf_report rep;

	deliver(c, 1, 1, 10, 1, 0);
	deliver(c, 1, 2, 11, 1, 0);
	deliver(c, 1, 3, 12, 1, 0);
	respond(c, 1, 2, 0, 0, 5, NULL);
	iopf_check_finish(c, &rep);
	ok(only(&rep, IOPF_V_UNANSWERED, 2) && !rep.ok, "unanswered: 2 of 3 groups");
	deliver(c, 1, 1, 13, 1, 10);	/* inconsistent: cookie 1 still outstanding */
	iopf_check_finish(c, &rep);
	ok(rep.v[IOPF_V_UNANSWERED] == 3 && rep.groups == 4,
	   "unanswered: a cookie delivered again while outstanding replaces the old group");
	is(respond(c, 1, 10, 0, EINVAL_STATUS, 20, NULL), IOPF_V_UNKNOWN_COOKIE,
	   "unanswered: the replaced group's grpid is gone");
	iopf_check_free(c);
}

static void test_late(void)
{
	struct iopf_check *c = new_check(1000);
	struct iopf_report rep;
	uint64_t lat;

	deliver(c, 1, 1, 1, 1, 0);
	deliver(c, 1, 2, 2, 1, 0);
	deliver(c, 1, 3, 3, 1, 0);
	is(respond(c, 1, 1, 0, 0, 1500, &lat), IOPF_V_LATE, "late: answered after the deadline");
	is(lat, 1500, "late: latency still reported");
	is(respond(c, 1, 2, 0, 0, 1000, NULL), IOPF_OK, "late: exactly the deadline is in time");
	is(respond(c, 1, 1, 0, EINVAL_STATUS, 2000, NULL), IOPF_V_DUPLICATE,
	   "late: a second answer to a late group is a duplicate, not late again");
	iopf_check_finish(c, &rep);
	ok(rep.v[IOPF_V_LATE] == 1 && rep.v[IOPF_OK] == 2 && rep.v[IOPF_V_UNANSWERED] == 1 && !rep.ok,
	   "late: late 1, counted as correct responses 2");
	ok(rep.latency_ns.count == 2 && rep.latency_ns.max == 1500 && rep.latency_ns.min == 1000,
	   "late: latency of both accepted answers");
	iopf_check_free(c);

	c = new_check(0);
	deliver(c, 1, 1, 1, 1, 0);
	is(respond(c, 1, 1, 0, 0, 1000000000000ull, NULL), IOPF_OK, "late: no deadline, never late");
	iopf_check_free(c);
}

static void test_queues(void)
{
	struct iopf_check *c = new_check(0);
	struct iopf_report rep;

	deliver(c, 1, 1, 7, 1, 0);
	deliver(c, 2, 1, 8, 1, 0);
	is(respond(c, 1, 1, 0, 0, 10, NULL), IOPF_OK, "queues: queue 1 cookie 1");
	is(respond(c, 1, 1, 0, EINVAL_STATUS, 10, NULL), IOPF_V_DUPLICATE, "queues: queue 1 duplicate");
	is(respond(c, 2, 7, 0, EINVAL_STATUS, 10, NULL), IOPF_V_UNKNOWN_COOKIE,
	   "queues: queue 1's grpid is no echo on queue 2");
	is(respond(c, 2, 8, 0, EINVAL_STATUS, 10, NULL), IOPF_V_GRPID_ECHO,
	   "queues: queue 2's grpid echoed on queue 2");
	is(respond(c, 2, 1, 0, 0, 30, NULL), IOPF_OK, "queues: queue 2 cookie 1 still outstanding");
	iopf_check_finish(c, &rep);
	ok(rep.v[IOPF_OK] == 2 && rep.v[IOPF_V_UNANSWERED] == 0 && rep.responses == 5,
	   "queues: independent books");
	iopf_check_free(c);
}

static void test_names(void)
{
	ok(!strcmp(iopf_verdict_name(IOPF_OK), "ok") &&
	   !strcmp(iopf_verdict_name(IOPF_V_UNKNOWN_COOKIE), "unknown_cookie") &&
	   !strcmp(iopf_verdict_name(IOPF_V_GRPID_ECHO), "grpid_echo") &&
	   !strcmp(iopf_verdict_name(IOPF_V_DUPLICATE), "duplicate") &&
	   !strcmp(iopf_verdict_name(IOPF_V_BAD_CODE), "bad_code") &&
	   !strcmp(iopf_verdict_name(IOPF_V_REJECTED), "rejected") &&
	   !strcmp(iopf_verdict_name(IOPF_V_UNANSWERED), "unanswered") &&
	   !strcmp(iopf_verdict_name(IOPF_V_LATE), "late") &&
	   !strcmp(iopf_verdict_name(IOPF_V_COUNT), "unknown"),
	   "verdict names are the JSON counter names");
}

/*
 * Random run: a reference model of two kernel queues (lowest free
 * cookie >= 1, doc/kernel-notes.md §5) with plain arrays and linear scans,
 * a handler that answers right, twice, with the grpid, a bad code or a
 * random cookie; the checker must agree with the reference on every
 * response and the totals must add up.
 */
#define RQ 2
#define RMAX 512

struct ref_queue {
	bool out[RMAX];		/* cookie outstanding */
	bool answered[RMAX];	/* answered and not handed out again */
	uint32_t grpid[RMAX];
	uint64_t t[RMAX];
	unsigned int nout;
};

static uint64_t rstate = 7;

static uint32_t rnd(uint32_t n)
{
	rstate = rstate * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((rstate >> 33) % n);
}

static enum iopf_verdict ref_class(struct ref_queue *q, uint32_t cookie, uint32_t code)
{
	unsigned int i;

	if (code > 1)
		return IOPF_V_BAD_CODE;
	if (cookie < RMAX && q->out[cookie])
		return IOPF_OK;
	if (cookie < RMAX && q->answered[cookie])
		return IOPF_V_DUPLICATE;
	for (i = 1; i < RMAX; i++)
		if (q->out[i] && q->grpid[i] == cookie)
			return IOPF_V_GRPID_ECHO;
	return IOPF_V_UNKNOWN_COOKIE;
}

static void ref_deliver(struct iopf_check *c, struct ref_queue *q, uint32_t qid, uint64_t t)
{
	uint32_t cookie = 1, n = 1 + rnd(4);

	while (q->out[cookie])
		cookie++;
	q->out[cookie] = true;
	q->answered[cookie] = false;
	q->grpid[cookie] = rnd(512);
	q->t[cookie] = t;
	q->nout++;
	deliver(c, qid, cookie, q->grpid[cookie], n, t);
}

/* A cookie the handler answers with: mostly an outstanding one. */
static uint32_t pick_cookie(struct ref_queue *q, uint32_t *grpid_out)
{
	uint32_t i, k = rnd(q->nout ? q->nout : 1), cookie = 0;

	for (i = 1; i < RMAX && q->nout; i++)
		if (q->out[i] && k-- == 0) {
			cookie = i;
			break;
		}
	*grpid_out = cookie ? q->grpid[cookie] : 0;
	return cookie;
}

static void ref_respond(struct iopf_check *c, struct ref_queue *q, uint32_t qid, uint64_t t,
			uint64_t *sum, unsigned int *disagree)
{
	uint32_t grpid, cookie = pick_cookie(q, &grpid), code = rnd(2), r = rnd(100);
	enum iopf_verdict want, got;
	uint32_t status;

	if (r < 8)
		cookie = grpid;				/* echo the grpid */
	else if (r < 14)
		cookie = rnd(RMAX);			/* anything */
	else if (r < 17)
		code = 2 + rnd(5);			/* bad code */
	want = ref_class(q, cookie, code);
	status = want == IOPF_OK ? 0 : EINVAL_STATUS;
	if (want == IOPF_OK && r >= 17 && r < 20) {	/* the queue refuses it anyway */
		status = 5;
		want = IOPF_V_REJECTED;
	}
	got = respond(c, qid, cookie, code, status, t, NULL);
	*disagree += got != want;
	if (want == IOPF_OK) {
		q->out[cookie] = false;
		q->answered[cookie] = true;
		q->nout--;
		*sum += t - q->t[cookie];
	}
}

static void test_random(void)
{
	struct iopf_check *c = new_check(0);
	struct ref_queue *q = calloc(RQ, sizeof(*q));
	unsigned int i, disagree = 0, qid, outstanding = 0;
	uint64_t sum = 0, delivered = 0, classes = 0;
	struct iopf_report rep;

	for (i = 0; i < 100000; i++) {
		qid = rnd(RQ);
		if (q[qid].nout < 300 && (q[qid].nout == 0 || rnd(100) < 48)) {
			ref_deliver(c, &q[qid], qid + 1, i);
			delivered++;
		} else {
			ref_respond(c, &q[qid], qid + 1, i, &sum, &disagree);
		}
	}
	is(disagree, 0, "random: checker agrees with the reference on every response");
	iopf_check_finish(c, &rep);
	for (i = IOPF_OK; i <= IOPF_V_REJECTED; i++)
		classes += rep.v[i];
	is(rep.responses, classes, "random: responses == sum of the response classes");
	is(rep.groups, delivered, "random: groups delivered");
	for (i = 0; i < RQ; i++)
		outstanding += q[i].nout;
	is(rep.v[IOPF_V_UNANSWERED], outstanding, "random: unanswered == outstanding at the end");
	is(rep.latency_ns.count, rep.v[IOPF_OK], "random: one latency per correct response");
	ok(rep.v[IOPF_V_DUPLICATE] && rep.v[IOPF_V_GRPID_ECHO] && rep.v[IOPF_V_UNKNOWN_COOKIE] &&
	   rep.v[IOPF_V_BAD_CODE] && rep.v[IOPF_V_REJECTED], "random: every class occurred");
	is(rep.latency_ns.mean, (sum + rep.v[IOPF_OK] / 2) / rep.v[IOPF_OK], "random: mean latency exact");
	printf("# random: %llu groups, %llu responses, ok %llu unknown %llu echo %llu dup %llu "
	       "bad_code %llu rejected %llu unanswered %llu\n",
	       (unsigned long long)rep.groups, (unsigned long long)rep.responses,
	       (unsigned long long)rep.v[IOPF_OK], (unsigned long long)rep.v[IOPF_V_UNKNOWN_COOKIE],
	       (unsigned long long)rep.v[IOPF_V_GRPID_ECHO], (unsigned long long)rep.v[IOPF_V_DUPLICATE],
	       (unsigned long long)rep.v[IOPF_V_BAD_CODE], (unsigned long long)rep.v[IOPF_V_REJECTED],
	       (unsigned long long)rep.v[IOPF_V_UNANSWERED]);
	free(q);
	iopf_check_free(c);
}

static void test_lag(void)
{
	struct iopf_check *c = new_check(0);
	struct iopf_report rep;
	uint64_t i;

	for (i = 1; i <= 100; i++)
		iopf_check_lag(c, i * 2);	/* below 256: exact */
	iopf_check_finish(c, &rep);
	ok(rep.schedule_lag_ns.p50 == 100 && rep.schedule_lag_ns.p99 == 198 &&
	   rep.schedule_lag_ns.max == 200, "schedule lag: p50 100 p99 198 max 200");
	ok(rep.ok && rep.groups == 0, "schedule lag: no violations, no groups");
	ok(iopf_hist_count(iopf_check_latency(c)) == 0, "schedule lag: not in the latency histogram");
	iopf_check_free(c);
}

int main(void)
{
	test_correct();
	test_unknown();
	test_grpid_echo();
	test_duplicate();
	test_bad_code();
	test_rejected();
	test_unanswered();
	test_late();
	test_queues();
	test_names();
	test_lag();
	test_random();
	return tap_done();
}
