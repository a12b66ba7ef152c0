// SPDX-License-Identifier: MIT
/*
 * The replay engine (lib/replay.c) on the sim target: every schedule, the
 * builtin handlers, an in-process callback, a peer process, the stop
 * flag, loops, from-capture by group identity.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iopf.h"
#include "tap.h"

#define NGROUPS 12
#define GAP_NS	2000000ull	/* recorded time between groups */

static char path[64];
static uint64_t faults_in_capture;

static void put(struct iopf_writer *w, struct iopf_rec *r, uint64_t t_ns)
{
	r->ts.tv_sec = 1767225600 + (time_t)(t_ns / 1000000000u);
	r->ts.tv_nsec = (long)(t_ns % 1000000000u);
	r->queue_id = 1;
	if (iopf_writer_put(w, r))
		abort();
}

static void fault(struct iopf_writer *w, uint32_t cookie, uint32_t grpid, bool last, uint64_t t)
{
	struct iopf_rec r = { .type = IOPF_REC_FAULT };

	r.u.fault = (struct iommu_hwpt_pgfault){ .dev_id = 1, .grpid = grpid, .cookie = cookie,
						 .perm = IOMMU_PGFAULT_PERM_READ, .addr = 0x1000 * grpid,
						 .flags = last ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0 };
	put(w, &r, t);
	faults_in_capture++;
}

static void resp(struct iopf_writer *w, uint32_t cookie, uint64_t t)
{
	struct iopf_rec r = { .type = IOPF_REC_RESPONSE };

	r.u.resp.cookie = cookie;
	put(w, &r, t);
}

/*
 * NGROUPS groups GAP_NS apart: pairs interleaved (cookie 1 and 2 open at
 * once, 2 completes first), 2 records each, grpids 100+, each answered;
 * then one duplicate response and one group never answered, when recorded.
 */
static void make_capture(void)
{
	struct iopf_writer *w;
	char err[256];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test-replay.XXXXXX");
	fd = mkstemp(path);
	close(fd);
	if (iopf_writer_open(&w, path, IOPF_LINKTYPE_DEFAULT, err, sizeof(err)))
		abort();
	for (uint32_t k = 0; k < NGROUPS; k += 2) {
		uint64_t t = k * GAP_NS;

		fault(w, 1, 100 + k, false, t);
		fault(w, 2, 101 + k, false, t);
		fault(w, 2, 101 + k, true, t + GAP_NS);
		fault(w, 1, 100 + k, true, t + GAP_NS);
		resp(w, 2, t + GAP_NS + 1000);
		resp(w, 1, t + GAP_NS + 2000);
	}
	resp(w, 1, NGROUPS * GAP_NS);			/* a duplicate */
	fault(w, 3, 999, true, NGROUPS * GAP_NS);	/* never answered */
	iopf_writer_close(w);
}

static struct iopf_target *sim(void)
{
	struct iopf_target *t;
	char err[256];

	if (iopf_target_open(&t, "sim", NULL, err, sizeof(err)))
		abort();
	return t;
}

static int run(struct iopf_replay_cfg *cfg, struct iopf_report *rep)
{
	struct iopf_target *t = sim();
	struct iopf_replay *rp;
	int rc = iopf_replay_new(&rp, t, cfg);

	if (!rc) {
		rc = iopf_replay_run(rp, path, rep);
		rep->dev_capture = rep->dev_live = NULL;	/* they die with rp */
		iopf_replay_free(rp);
	}
	iopf_target_close(t);
	return rc;
}

static void test_schedules(void)
{
	static const struct {
		enum iopf_replay_schedule s;
		double speed, rate;
		const char *name;
		uint64_t min_wall;
	} cases[] = {
		{ IOPF_REPLAY_TOPSPEED, 0, 0, "top speed", 0 },
		{ IOPF_REPLAY_RECORDED, 0, 0, "recorded", NGROUPS * GAP_NS * 9 / 10 },
		{ IOPF_REPLAY_SPEED, 4, 0, "speed 4", NGROUPS * GAP_NS / 4 * 9 / 10 },
		{ IOPF_REPLAY_RATE, 0, 1000, "rate 1000/s", NGROUPS * 1000000ull * 9 / 10 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iopf_replay_cfg cfg = { .schedule = cases[i].s, .speed = cases[i].speed,
					       .rate = cases[i].rate, .handler = IOPF_REPLAY_SUCCESS };
		struct iopf_report rep;

		is(run(&cfg, &rep), 0, "%s: runs", cases[i].name);
		ok(rep.groups == NGROUPS + 1 && rep.faults == faults_in_capture && rep.responses == NGROUPS + 1 &&
		   rep.ok, "%s: %llu groups, every one answered, ok", cases[i].name,
		   (unsigned long long)rep.groups);
		/* a late first injection (a loaded machine) shortens the wall by its lag */
		ok(rep.wall_ns + rep.schedule_lag_ns.max >= cases[i].min_wall,
		   "%s: wall %llu ns + lag %llu ns >= %llu", cases[i].name, (unsigned long long)rep.wall_ns,
		   (unsigned long long)rep.schedule_lag_ns.max, (unsigned long long)cases[i].min_wall);
		ok(rep.groups_per_s > 0, "%s: %.0f groups/s", cases[i].name, rep.groups_per_s);
		if (cases[i].s != IOPF_REPLAY_TOPSPEED)
			ok(rep.schedule_lag_ns.max > 0, "%s: schedule lag measured", cases[i].name);
	}
}

static void test_builtins(void)
{
	struct iopf_replay_cfg cfg = { .schedule = IOPF_REPLAY_TOPSPEED, .handler = IOPF_REPLAY_INVALID };
	struct iopf_report rep;

	is(run(&cfg, &rep), 0, "invalid: runs");
	ok(rep.ok && rep.v[IOPF_OK] == NGROUPS + 1, "invalid: a correct answer to every group");
	cfg.handler = IOPF_REPLAY_FROM_CAPTURE;
	is(run(&cfg, &rep), 0, "from-capture: runs");
	ok(rep.groups == NGROUPS + 1 && rep.v[IOPF_OK] == NGROUPS, "from-capture: the recorded answers, by group");
	ok(rep.v[IOPF_V_DUPLICATE] == 1 && rep.v[IOPF_V_UNANSWERED] == 1 && !rep.ok,
	   "from-capture: the duplicate and the unanswered group reproduced (dup %llu, unanswered %llu)",
	   (unsigned long long)rep.v[IOPF_V_DUPLICATE], (unsigned long long)rep.v[IOPF_V_UNANSWERED]);
	cfg.loops = 2;
	is(run(&cfg, &rep), 0, "two loops: runs");
	ok(rep.groups == 2 * (NGROUPS + 1) && rep.v[IOPF_V_DUPLICATE] == 2, "two loops: twice everything");
}

struct cb {
	size_t calls, records;
};

/* Echo the grpid for every other group (a bug), answer the rest right. */
static int echo_some(void *ctx, const struct iopf_group *g, struct iommu_hwpt_page_response *out,
		     size_t cap)
{
	struct cb *c = ctx;

	(void)cap;
	c->records += g->n;
	out[0].cookie = c->calls++ % 2 ? g->last.grpid : g->cookie;
	out[0].code = IOMMUFD_PAGE_RESP_SUCCESS;
	return 1;
}

static int answer_none(void *ctx, const struct iopf_group *g, struct iommu_hwpt_page_response *out,
		       size_t cap)
{
	(void)ctx;
	(void)g;
	(void)out;
	(void)cap;
	return 0;
}

static void test_callback(void)
{
	struct cb c = { 0 };
	struct iopf_replay_cfg cfg = { .schedule = IOPF_REPLAY_TOPSPEED, .handler = IOPF_REPLAY_CALLBACK,
				       .fn = echo_some, .fn_ctx = &c };
	struct iopf_report rep;

	is(run(&cfg, &rep), 0, "callback: runs");
	ok(c.calls == NGROUPS + 1 && c.records == faults_in_capture, "callback: every group, with its records");
	ok(rep.v[IOPF_V_GRPID_ECHO] == NGROUPS / 2 && rep.v[IOPF_V_UNANSWERED] == NGROUPS / 2,
	   "callback: its grpid echoes found (%llu) and left unanswered (%llu)",
	   (unsigned long long)rep.v[IOPF_V_GRPID_ECHO], (unsigned long long)rep.v[IOPF_V_UNANSWERED]);
	cfg.fn = answer_none;
	is(run(&cfg, &rep), 0, "a handler that answers nothing: runs");
	ok(rep.groups == NGROUPS + 1 && rep.v[IOPF_V_UNANSWERED] == NGROUPS + 1 && rep.groups_per_s == 0,
	   "groups_per_s counts answered groups: 0");
}

static volatile int stop;

static void stop_after_3(void *ctx, uint64_t injected, uint64_t pos, uint64_t size)
{
	(void)ctx;
	(void)pos;
	(void)size;
	if (injected >= 3)
		stop = 1;
}

static void test_stop(void)
{
	struct iopf_replay_cfg cfg = { .schedule = IOPF_REPLAY_TOPSPEED, .handler = IOPF_REPLAY_SUCCESS,
				       .stop = &stop, .progress = stop_after_3 };
	struct iopf_report rep;

	stop = 0;
	is(run(&cfg, &rep), 0, "stop flag: runs");
	ok(rep.groups >= 3 && rep.groups < NGROUPS, "stopped early: %llu groups", (unsigned long long)rep.groups);
	ok(rep.v[IOPF_V_UNANSWERED] == 0, "what was injected was answered");
}

/* A handler process on the other end of a SOCK_SEQPACKET socket. */
static void test_peer(void)
{
	struct iopf_replay_cfg cfg = { .schedule = IOPF_REPLAY_TOPSPEED, .handler = IOPF_REPLAY_PEER,
				       .timeout_ns = 2000000000ull };
	struct iopf_report rep;
	int sv[2], status;
	pid_t pid;

	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
	pid = fork();
	if (pid == 0) {
		struct iommu_hwpt_pgfault f[64];
		ssize_t n;

		close(sv[0]);
		while ((n = recv(sv[1], f, sizeof(f), 0)) > 0) {
			struct iommu_hwpt_page_response r = { f[n / 40 - 1].cookie, 0 };

			if (send(sv[1], &r, sizeof(r), 0) != sizeof(r))
				_exit(1);
		}
		_exit(0);
	}
	close(sv[1]);
	cfg.peer_fd = sv[0];
	is(run(&cfg, &rep), 0, "peer: runs");
	ok(rep.groups == NGROUPS + 1 && rep.ok, "peer: every group answered by the other process");
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
	   "the handler saw the end of the stream and exited 0");
}

static void test_bad_cfg(void)
{
	struct iopf_replay_cfg cfg = { .handler = IOPF_REPLAY_CALLBACK };
	struct iopf_target *t = sim();
	struct iopf_replay *rp;

	is(iopf_replay_new(&rp, t, &cfg), -EINVAL, "a callback handler without a function: -EINVAL");
	cfg = (struct iopf_replay_cfg){ .schedule = IOPF_REPLAY_RATE };
	is(iopf_replay_new(&rp, t, &cfg), -EINVAL, "a rate of 0: -EINVAL");
	iopf_target_close(t);
}

int main(void)
{
	make_capture();
	test_schedules();
	test_builtins();
	test_callback();
	test_stop();
	test_peer();
	test_bad_cfg();
	unlink(path);
	return tap_done();
}
