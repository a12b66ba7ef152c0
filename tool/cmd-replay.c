// SPDX-License-Identifier: MIT
/*
 * iopftool replay: play a capture's fault groups into a live queue as the
 * device, on the recorded schedule (or --speed, --rate, --topspeed), and
 * check every response the handler writes: a builtin one, or a command
 * (--exec) behind the handler-fd proxy.  The capture is streamed: memory
 * does not grow with its size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live.h"
#include "proxy.h"
#include "u64map.h"
#include "vec.h"

enum handler_kind { H_SUCCESS, H_INVALID, H_FROM_CAPTURE, H_EXEC };

/* Long-only options. */
enum { OPT_HANDLER = 256, OPT_SPEED, OPT_RATE, OPT_TOPSPEED, OPT_LOOP, OPT_TIMEOUT,
       OPT_DEADLINE, OPT_LINKTYPE, OPT_SETTLE, OPT_MAX_GAP };

#define MAX_GROUP_RECORDS 65536	/* a longer run of one cookie is split, with a warning */
#define MAX_DEVICES 4096
#define TOPSPEED_BATCH 64	/* groups injected between reads at --topspeed */

struct replay_opts {
	const char *capture;
	const char *target;
	const char *handler;
	const char *exec;
	const char *wfile;
	double speed;
	double rate;
	bool topspeed;
	uint64_t loops;
	uint64_t timeout_ns;
	uint64_t deadline_ns;
	uint64_t settle_ns;
	uint64_t max_gap_ns;
	int linktype;
};

struct replay {
	struct replay_opts o;
	enum handler_kind kind;
	struct iopf_target *t;
	struct live live;
	struct proxy proxy;
	int epfd, timerfd;
	/* the group being assembled from the capture */
	struct iommu_hwpt_pgfault *grp;
	size_t ngrp, grp_cap;
	uint32_t grp_queue;
	uint64_t grp_ts;
	/* capture dev_id -> live dev_id */
	uint32_t dev_cap[MAX_DEVICES], dev_live[MAX_DEVICES];
	size_t ndevs;
	/* schedule */
	uint64_t start_ns, ts0, injected, first_inject_ns, last_inject_ns;
	uint64_t ts_last, skipped, gaps_cut;	/* --max-gap */
	uint64_t injected_parts;	/* live groups injected (a split group is several) */
	bool have_ts0;
	uint64_t split, unterminated, bad_records;
	/* builtin:from-capture: see note_recorded_group() */
	struct u64map recorded;	/* (queue << 32 | cookie) -> serial << 16 | parts */
	struct u64map live_cookie;	/* serial << 16 | part -> live cookie */
	uint64_t *fifo;		/* injected (serial << 16 | part) awaiting delivery */
	size_t fifo_head, fifo_tail, fifo_cap;
	uint64_t serial;
	/* builtin answers collected during a drain */
	struct resp_batch batch;
	int err;		/* first runtime error */
};

static const struct argp_option options[] = {
	{ "read", 'r', "FILE", 0, "the capture to replay (or give it as the argument)", 0 },
	{ "target", 't', "QUEUE", 0, "sim (default) or mock: a queue the tool can inject faults into", 0 },
	{ "handler", OPT_HANDLER, "NAME", 0, "builtin:success (default), builtin:invalid or builtin:from-capture", 0 },
	{ "exec", 'x', "CMD", 0, "run CMD as the handler, with the fault fd as fd 3", 0 },
	{ "speed", OPT_SPEED, "X", 0, "play the recorded schedule X times faster", 0 },
	{ "rate", OPT_RATE, "N", 0, "inject N groups per second, evenly spaced", 0 },
	{ "topspeed", OPT_TOPSPEED, NULL, 0, "inject as fast as possible", 0 },
	{ "loop", OPT_LOOP, "N", 0, "play the capture N times (default 1)", 0 },
	{ "timeout", OPT_TIMEOUT, "DUR", 0, "wait this long after the last injection for answers (default 1s)", 0 },
	{ "deadline", OPT_DEADLINE, "DUR", 0, "count answers later than DUR after delivery as late", 0 },
	{ "max-gap", OPT_MAX_GAP, "DUR", 0, "cut recorded pauses longer than DUR to DUR (default 5s)", 0 },
	{ "settle", OPT_SETTLE, "DUR", 0, "with --exec: let the handler start this long before the first injection (default 100ms)", 0 },
	{ "write", 'w', "FILE", 0, "record the live session to a capture", 0 },
	{ "linktype", OPT_LINKTYPE, "N", 0, "link type of the -w capture, 147..162 (default 147)", 0 },
	{ 0 }
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct replay_opts *o = state->input;

	switch (key) {
	case 'r': o->capture = arg; return 0;
	case 't': o->target = arg; return 0;
	case OPT_HANDLER: o->handler = arg; return 0;
	case 'x': o->exec = arg; return 0;
	case OPT_SPEED: o->speed = arg_double(state, "--speed", arg, 1e-6, 1e9); return 0;
	case OPT_RATE: o->rate = arg_double(state, "--rate", arg, 1e-6, 1e10); return 0;
	case OPT_TOPSPEED: o->topspeed = true; return 0;
	case OPT_LOOP: o->loops = arg_u64(state, "--loop", arg, UINT32_MAX); return 0;
	case OPT_TIMEOUT: o->timeout_ns = arg_duration(state, "--timeout", arg); return 0;
	case OPT_DEADLINE: o->deadline_ns = arg_duration(state, "--deadline", arg); return 0;
	case OPT_MAX_GAP: o->max_gap_ns = arg_duration(state, "--max-gap", arg); return 0;
	case OPT_SETTLE: o->settle_ns = arg_duration(state, "--settle", arg); return 0;
	case 'w': o->wfile = arg; return 0;
	case OPT_LINKTYPE: o->linktype = (int)arg_u64(state, "--linktype", arg, IOPF_LINKTYPE_MAX);
		if (o->linktype < IOPF_LINKTYPE_MIN)
			argp_error(state, "--linktype: must be 147..162");
		return 0;
	case ARGP_KEY_ARG:
		if (o->capture)
			argp_error(state, "one capture only ('%s' and '%s')", o->capture, arg);
		o->capture = arg;
		return 0;
	case ARGP_KEY_END:
		if (!o->capture)
			argp_error(state, "no capture to replay");
		if ((o->speed > 0) + (o->rate > 0) + o->topspeed > 1)
			argp_error(state, "--speed, --rate and --topspeed exclude each other");
		if (o->exec && strcmp(o->handler, "builtin:success"))
			argp_error(state, "--exec and --handler exclude each other");
		if (!o->loops)
			argp_error(state, "--loop: must be 1 or more");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp_child children[] = { GLOBAL_CHILD, { 0 } };

static const struct argp replay_argp = {
	.options = options,
	.parser = parse_opt,
	.args_doc = "CAPTURE",
	.doc = "Replay a capture's faults into a queue as the device and check the handler's answers.\v"
	       "Prints the report (see iopftool-replay(8)); -v also prints the live records.\n"
	       "Exit status: 0 every response correct, 1 violations, 2 error, 64 usage.",
	.children = children,
};

/* ---- builtin handlers ------------------------------------------------ */

static uint64_t fifo_pop(struct replay *rp)
{
	return rp->fifo_head < rp->fifo_tail ? rp->fifo[rp->fifo_head++] : UINT64_MAX;
}

static int fifo_push(struct replay *rp, uint64_t v)
{
	int rc = vec_fifo_reserve(&rp->fifo, &rp->fifo_cap, sizeof(*rp->fifo),
				  &rp->fifo_head, &rp->fifo_tail);

	if (!rc)
		rp->fifo[rp->fifo_tail++] = v;
	return rc;
}

/* A group was read from the queue: answer it (builtin) or pass it on (exec). */
static void on_group(struct live *l, const struct iommu_hwpt_pgfault *recs, size_t n,
		     uint64_t t_ns, void *ctx)
{
	struct replay *rp = ctx;
	uint32_t cookie = recs[n - 1].cookie;
	int rc = 0;

	(void)l;
	(void)t_ns;
	switch (rp->kind) {
	case H_SUCCESS: rc = resp_batch_push(&rp->batch, cookie, IOMMUFD_PAGE_RESP_SUCCESS); break;
	case H_INVALID: rc = resp_batch_push(&rp->batch, cookie, IOMMUFD_PAGE_RESP_INVALID); break;
	case H_FROM_CAPTURE: {
		/* Injection order is delivery order (the queue is FIFO). */
		uint64_t key = fifo_pop(rp);

		if (key != UINT64_MAX)
			rc = u64map_put(&rp->live_cookie, key, cookie);
		break;
	}
	case H_EXEC: rc = proxy_forward(&rp->proxy, recs, n * IOPF_FAULT_SIZE); break;
	}
	if (rc && !rp->err)
		rp->err = rc;
}

/* Read everything waiting and answer it: the builtin handlers' whole job. */
static int service_builtin(struct replay *rp)
{
	ssize_t g = live_drain(&rp->live, on_group, rp);

	if (g < 0)
		return (int)g;
	if (rp->batch.n)
		return live_respond_batch(&rp->live, &rp->batch);
	return rp->err;
}

/* builtin:from-capture: a recorded response answers the live parts of its recorded group. */
static int answer_recorded(struct replay *rp, const struct iopf_rec *r)
{
	uint64_t key = (uint64_t)r->queue_id << 32 | r->u.resp.cookie, v, cookie;

	if (!u64map_get(&rp->recorded, key, &v))	/* answered nothing when recorded: send as is */
		return resp_batch_push(&rp->batch, r->u.resp.cookie, r->u.resp.code);
	for (uint64_t part = 0; part < (v & 0xffff); part++)
		if (u64map_get(&rp->live_cookie, (v & ~0xffffull) | part, &cookie)) {
			int rc = resp_batch_push(&rp->batch, (uint32_t)cookie, r->u.resp.code);

			if (rc)
				return rc;
		}
	return 0;
}

static void note_recorded_group(struct replay *rp, uint64_t parts)
{
	uint64_t key = (uint64_t)rp->grp_queue << 32 | rp->grp[rp->ngrp - 1].cookie, old;

	/* The cookie now names this group: forget the one it named before. */
	if (u64map_get(&rp->recorded, key, &old))
		for (uint64_t part = 0; part < (old & 0xffff); part++)
			u64map_del(&rp->live_cookie, (old & ~0xffffull) | part);
	u64map_put(&rp->recorded, key, rp->serial << 16 | parts);
}

/* ---- the exec handler ------------------------------------------------ */

static int epoll_set(struct replay *rp, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(rp->epfd, op, fd, &ev) ? -errno : 0;
}

static int take_responses(struct replay *rp)
{
	const struct iommu_hwpt_page_response *r;
	ssize_t n;

	while ((n = proxy_recv(&rp->proxy, &r)) > 0) {
		int rc = live_respond(&rp->live, r, (size_t)n);

		if (rc)
			return rc;
	}
	if (n < 0)
		epoll_ctl(rp->epfd, EPOLL_CTL_DEL, rp->proxy.sock, NULL);
	return 0;
}

/* Every injected group delivered and answered, nothing waiting to be forwarded. */
static bool quiet(const struct replay *rp)
{
	return rp->live.groups >= rp->injected_parts && !rp->live.outstanding &&
	       !proxy_pending(&rp->proxy);
}

static void on_event(struct replay *rp, const struct epoll_event *ev)
{
	int fd = ev->data.fd, rc = 0;
	uint64_t expirations;

	if (fd == rp->timerfd) {
		if (read(fd, &expirations, sizeof(expirations)) < 0)
			rc = 0;	/* EAGAIN: nothing to drain */
	} else if (fd == iopf_target_fd(rp->t)) {
		/* Leave groups in the queue while the handler's socket is full. */
		ssize_t g = proxy_pending(&rp->proxy) ? 0 : live_drain(&rp->live, on_group, rp);

		rc = g < 0 ? (int)g : 0;
	} else if (fd == rp->proxy.sock) {
		if ((ev->events & EPOLLOUT) && !proxy_flush(&rp->proxy))
			epoll_set(rp, EPOLL_CTL_MOD, fd, EPOLLIN);
		if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			rc = take_responses(rp);
	}
	if (rc && !rp->err)
		rp->err = rc;
}

/*
 * Service the queue and the handler: until deadline_ns (monotonic), or
 * for one non-blocking pass when deadline_ns is 0; with until_quiet stop
 * early once every injected group is answered (or the handler is gone).
 */
static int pump(struct replay *rp, uint64_t deadline_ns, bool until_quiet)
{
	struct itimerspec its = { .it_value = { (time_t)(deadline_ns / 1000000000ull),
						(long)(deadline_ns % 1000000000ull) } };

	if (deadline_ns)
		timerfd_settime(rp->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
	for (;;) {
		struct epoll_event ev[8];

		if (stop_requested || rp->err)
			return rp->err;
		if (until_quiet && (quiet(rp) || rp->proxy.eof))
			return 0;
		if (deadline_ns && iopf_now_ns() >= deadline_ns)
			return 0;
		int n = epoll_wait(rp->epfd, ev, 8, deadline_ns ? -1 : 0);

		for (int i = 0; i < n; i++)
			on_event(rp, &ev[i]);
		if (proxy_pending(&rp->proxy))
			epoll_set(rp, EPOLL_CTL_MOD, rp->proxy.sock, EPOLLIN | EPOLLOUT);
		if (!deadline_ns)
			return rp->err;
	}
}

/* ---- injection ---------------------------------------------------------- */

static int live_dev(struct replay *rp, uint32_t cap_dev, uint32_t *live_dev)
{
	for (size_t i = 0; i < rp->ndevs; i++)
		if (rp->dev_cap[i] == cap_dev) {
			*live_dev = rp->dev_live[i];
			return 0;
		}
	if (rp->ndevs == MAX_DEVICES)
		return -ENOSPC;
	int rc = iopf_target_device(rp->t, cap_dev, live_dev);

	if (rc)
		return rc;
	if (*live_dev != cap_dev)
		p_verbose("capture dev_id %u is live dev_id %u on %s", cap_dev, *live_dev,
		       iopf_target_name(rp->t));
	rp->dev_cap[rp->ndevs] = cap_dev;
	rp->dev_live[rp->ndevs++] = *live_dev;
	return 0;
}

/* Inject one group: whole where the target can, else split into single-record groups. */
static int inject_group(struct replay *rp)
{
	size_t max = iopf_target_max_group(rp->t), parts = rp->ngrp <= max ? 1 : rp->ngrp;
	int rc = 0;

	if (parts > 1)
		rp->split++;
	if (rp->kind == H_FROM_CAPTURE)
		note_recorded_group(rp, parts);
	for (size_t i = 0; i < rp->ngrp && !rc; i++) {
		struct iommu_hwpt_pgfault f = rp->grp[i];

		rc = live_dev(rp, f.dev_id, &f.dev_id);
		if (rc)
			break;
		f.cookie = 0;
		if (parts > 1 || i + 1 == rp->ngrp)
			f.flags |= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		else
			f.flags &= ~IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		rc = iopf_target_inject(rp->t, &f);
		if (!rc && (parts > 1 || i + 1 == rp->ngrp))
			rp->injected_parts++;
		if (!rc && rp->kind == H_FROM_CAPTURE && (parts > 1 || i + 1 == rp->ngrp))
			rc = fifo_push(rp, rp->serial << 16 | (parts > 1 ? i : 0));
	}
	rp->serial++;
	return rc;
}

/* When the group recorded at ts_ns is due, on the monotonic clock. */
static uint64_t due_ns(struct replay *rp, uint64_t ts_ns)
{
	if (rp->o.topspeed)
		return 0;
	if (rp->o.rate > 0)
		return rp->start_ns + (uint64_t)((double)rp->injected * 1e9 / rp->o.rate);
	if (!rp->have_ts0) {
		rp->ts0 = rp->ts_last = ts_ns;
		rp->skipped = 0;
		rp->have_ts0 = true;
	}
	/* A recorded pause longer than --max-gap is cut short (a crafted time stamp must not stall us for years). */
	if (ts_ns > rp->ts_last && ts_ns - rp->ts_last > rp->o.max_gap_ns) {
		if (!rp->gaps_cut++) {
			char gap[IOPF_DURATION_LEN], max[IOPF_DURATION_LEN];

			iopf_format_duration(ts_ns - rp->ts_last, gap, sizeof(gap));
			iopf_format_duration(rp->o.max_gap_ns, max, sizeof(max));
			p_info("%s: a pause of %s in the capture is cut to --max-gap %s", rp->o.capture,
			       gap, max);
		}
		rp->skipped += ts_ns - rp->ts_last - rp->o.max_gap_ns;
	}
	if (ts_ns > rp->ts_last)
		rp->ts_last = ts_ns;
	double off = ts_ns > rp->ts0 ? (double)(ts_ns - rp->ts0 - rp->skipped) : 0;

	return rp->start_ns + (uint64_t)(off / (rp->o.speed > 0 ? rp->o.speed : 1.0));
}

static int wait_until(struct replay *rp, uint64_t due)
{
	if (rp->kind == H_EXEC)
		return pump(rp, due, false);
	struct timespec ts = { (time_t)(due / 1000000000ull), (long)(due % 1000000000ull) };

	while (!stop_requested && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	return 0;
}

static int play_group(struct replay *rp)
{
	uint64_t due = due_ns(rp, rp->grp_ts);
	int rc = due ? wait_until(rp, due) : 0;

	if (rc || stop_requested)
		return rc;
	uint64_t now = iopf_now_ns();

	if (due)
		iopf_check_lag(rp->live.check, now > due ? now - due : 0);
	if (!rp->injected)
		rp->first_inject_ns = now;
	rc = inject_group(rp);
	rp->injected++;
	rp->last_inject_ns = iopf_now_ns();
	rp->ngrp = 0;
	if (rc)
		return rc;
	if (rp->kind == H_EXEC)
		return pump(rp, 0, false);	/* one pass: forward what was delivered */
	/*
	 * At top speed the success/invalid handlers read after every
	 * TOPSPEED_BATCH injections: whole-group reads pack several groups,
	 * and the queue's readiness flips once per batch, not per group.
	 * from-capture must see each group delivered before its answer.
	 */
	if (rp->o.topspeed && rp->kind != H_FROM_CAPTURE && rp->injected % TOPSPEED_BATCH)
		return 0;
	return service_builtin(rp);
}

/* ---- reading the capture -------------------------------------------------- */

static int grp_add(struct replay *rp, const struct iopf_rec *r)
{
	int rc = vec_reserve(&rp->grp, &rp->grp_cap, sizeof(*rp->grp), rp->ngrp + 1);

	if (rc)
		return rc;
	if (!rp->ngrp) {
		rp->grp_queue = r->queue_id;
		rp->grp_ts = (uint64_t)r->ts.tv_sec * 1000000000ull + (uint64_t)r->ts.tv_nsec;
	}
	rp->grp[rp->ngrp++] = r->u.fault;
	return 0;
}

static int on_fault(struct replay *rp, const struct iopf_rec *r)
{
	int rc;

	/* A group is a run of one cookie ending at LAST_PAGE (SPEC 4). */
	if (rp->ngrp && (r->queue_id != rp->grp_queue || r->u.fault.cookie != rp->grp[0].cookie ||
			 rp->ngrp == MAX_GROUP_RECORDS)) {
		rp->unterminated++;
		rc = play_group(rp);
		if (rc)
			return rc;
	}
	rc = grp_add(rp, r);
	if (!rc && (r->u.fault.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
		rc = play_group(rp);
	return rc;
}

static int play_capture(struct replay *rp)
{
	char err[512];
	struct iopf_reader *rd;
	struct iopf_rec r;
	int rc = iopf_reader_open(&rd, rp->o.capture, err, sizeof(err));

	if (rc) {
		p_err("%s", err);
		return rc;
	}
	rp->start_ns = iopf_now_ns();
	rp->have_ts0 = false;
	while (!stop_requested && (rc = iopf_reader_next(rd, &r)) != 0) {
		if (rc == -EBADMSG) {
			p_err("%s: %s", rp->o.capture, iopf_reader_error(rd));
			rp->bad_records++;
			continue;
		}
		if (rc < 0) {
			p_err("%s: %s", rp->o.capture, iopf_reader_error(rd));
			break;
		}
		/* A response to the group being assembled: it was complete (SPEC 4). */
		if (r.type == IOPF_REC_RESPONSE && rp->ngrp && r.queue_id == rp->grp_queue &&
		    r.u.resp.cookie == rp->grp[0].cookie) {
			rp->unterminated++;
			rc = play_group(rp);
			if (rc)
				break;
		}
		if (r.type == IOPF_REC_FAULT)
			rc = on_fault(rp, &r);
		else if (r.type == IOPF_REC_RESPONSE && rp->kind == H_FROM_CAPTURE)
			rc = answer_recorded(rp, &r) ?: service_builtin(rp);
		else
			rc = 0;
		if (rc)
			break;
		if (progress_wanted())
			progress("replay: %llu groups injected", (unsigned long long)rp->injected);
	}
	if (rc >= 0 && rp->ngrp) {
		rp->unterminated++;
		rc = play_group(rp);
	}
	iopf_reader_free(rd);
	return rc > 0 ? 0 : rc;
}

/* ---- set-up, the end, the report ---------------------------------------- */

static int start_handler(struct replay *rp)
{
	int rc;

	rp->epfd = epoll_create1(EPOLL_CLOEXEC);
	rp->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (rp->epfd < 0 || rp->timerfd < 0)
		return -errno;
	rc = epoll_set(rp, EPOLL_CTL_ADD, rp->timerfd, EPOLLIN);
	if (rc || rp->kind != H_EXEC)
		return rc;
	rc = proxy_start(&rp->proxy, rp->o.exec);
	if (rc) {
		p_err("cannot start handler '%s': %s", rp->o.exec, strerror(-rc));
		return rc;
	}
	rc = epoll_set(rp, EPOLL_CTL_ADD, iopf_target_fd(rp->t), EPOLLIN);
	rc = rc ?: epoll_set(rp, EPOLL_CTL_ADD, rp->proxy.sock, EPOLLIN);
	/* A handler needs a moment to start; latencies would measure its start-up. */
	return rc ?: pump(rp, iopf_now_ns() + rp->o.settle_ns, false);
}

/* After the last injection: wait for answers, then let the handler go. */
static int finish_handler(struct replay *rp)
{
	int rc;

	if (rp->kind != H_EXEC)
		return 0;
	rc = pump(rp, iopf_now_ns() + rp->o.timeout_ns, true);
	if (!rc && !rp->live.outstanding) /* stragglers (duplicates) get a moment */
		rc = pump(rp, iopf_now_ns() + rp->o.timeout_ns / 20, false);
	proxy_shutdown(&rp->proxy);
	if (!rc)
		rc = pump(rp, iopf_now_ns() + 200000000ull, true);
	p_verbose("handler: %llu groups sent in %llu reads of the queue, at most %llu bytes waiting "
		  "for its socket", (unsigned long long)rp->proxy.sent,
		  (unsigned long long)rp->live.reads, (unsigned long long)rp->proxy.queued_max);
	proxy_reap(&rp->proxy, 2000000000ull);
	if (WIFSIGNALED(rp->proxy.status))
		p_warn("handler '%s' died of signal %d", rp->o.exec, WTERMSIG(rp->proxy.status));
	else if (WIFEXITED(rp->proxy.status) && WEXITSTATUS(rp->proxy.status))
		p_warn("handler '%s' exited with status %d", rp->o.exec, WEXITSTATUS(rp->proxy.status));
	return rc;
}

static int pick_handler(struct replay *rp)
{
	static const char *const names[] = {
		[H_SUCCESS] = "builtin:success", [H_INVALID] = "builtin:invalid",
		[H_FROM_CAPTURE] = "builtin:from-capture",
	};

	if (rp->o.exec) {
		rp->kind = H_EXEC;
		return 0;
	}
	for (int k = H_SUCCESS; k <= H_FROM_CAPTURE; k++)
		if (!strcmp(rp->o.handler, names[k])) {
			rp->kind = (enum handler_kind)k;
			return 0;
		}
	p_err("unknown handler '%s' (builtin:success, builtin:invalid, builtin:from-capture, or --exec CMD)",
	      rp->o.handler);
	return -EINVAL;
}

static int open_all(struct replay *rp)
{
	char err[512];
	struct iopf_check_cfg cfg = { .deadline_ns = rp->o.deadline_ns };
	int rc = iopf_target_open(&rp->t, rp->o.target, &tool_log, err, sizeof(err));

	if (rc) {
		p_err("%s", err);
		return rc;
	}
	if (!iopf_target_can_inject(rp->t)) {
		p_err("cannot replay into %s: the tool can only inject faults into sim and mock",
		      rp->o.target);
		return -EOPNOTSUPP;
	}
	rc = live_init(&rp->live, rp->t, &cfg);
	if (rc)
		return rc;
	if (gopts.verbose && !gopts.json)
		rp->live.out = out_stdout();
	if (rp->o.wfile) {
		rc = iopf_writer_open(&rp->live.writer, rp->o.wfile, rp->o.linktype, err, sizeof(err));
		if (rc) {
			p_err("%s", err);
			return rc;
		}
		rc = live_write_meta_start(&rp->live, rp->o.target, NULL);
	}
	return rc;
}

static bool report(struct replay *rp)
{
	struct iopf_report rep;
	uint64_t end = rp->last_inject_ns > rp->first_inject_ns ? rp->last_inject_ns : iopf_now_ns();
	const char *handler = rp->o.exec ? rp->o.exec : rp->o.handler;

	iopf_check_finish(rp->live.check, &rep);
	rep.wall_ns = rp->injected ? end - rp->first_inject_ns : 0;
	rep.groups_per_s = rep.wall_ns ? (double)rp->injected * 1e9 / (double)rep.wall_ns : 0;
	rep.split_groups = rp->split;
	rep.dev_capture = rp->dev_cap;
	rep.dev_live = rp->dev_live;
	rep.ndevs = rp->ndevs;
	if (rp->split)
		p_warn("%llu multi-record groups were injected split into single-record groups: "
		       "%s makes only single-record groups", (unsigned long long)rp->split, rp->o.target);
	if (rp->unterminated)
		p_warn("%llu groups in the capture did not end with a LAST_PAGE record; injected as complete",
		       (unsigned long long)rp->unterminated);
	iopf_print_report(out_stdout(), rp->o.capture, iopf_target_name(rp->t), handler, &rep);
	return rep.ok;
}

static void cleanup(struct replay *rp)
{
	live_fini(&rp->live);
	iopf_target_close(rp->t);
	proxy_free(&rp->proxy);
	u64map_free(&rp->recorded);
	u64map_free(&rp->live_cookie);
	free(rp->grp);
	free(rp->fifo);
	resp_batch_free(&rp->batch);
	if (rp->epfd > 0)
		close(rp->epfd);
	if (rp->timerfd > 0)
		close(rp->timerfd);
}

static int replay(struct replay *rp)
{
	int rc = pick_handler(rp);

	rc = rc ?: open_all(rp);
	rc = rc ?: start_handler(rp);
	for (uint64_t i = 0; !rc && i < rp->o.loops && !stop_requested; i++)
		rc = play_capture(rp);
	if (rp->kind != H_EXEC && !rc)
		rc = service_builtin(rp);
	int rc2 = rp->t && rp->live.check ? finish_handler(rp) : 0;

	bool ok = true;

	rc = rc ?: rc2;
	if (rp->live.check && !rc)
		ok = report(rp);
	if (rp->live.writer && live_close_writer(&rp->live, rp->o.wfile))
		rc = rc ?: -EIO;
	if (rc < 0)
		p_verbose("replay stopped: %s", strerror(-rc));
	if (rc < 0 || rp->bad_records)
		return EXIT_ERROR;
	return ok ? EXIT_OK : EXIT_VIOLATIONS;
}

int cmd_replay(int argc, char **argv)
{
	struct replay rp = { .o = { .target = "sim", .handler = "builtin:success", .loops = 1,
				    .timeout_ns = 1000000000ull, .settle_ns = 100000000ull,
				    .max_gap_ns = 5000000000ull, .linktype = IOPF_LINKTYPE_DEFAULT } };

	parse_verb(&replay_argp, argc, argv, &rp.o);
	install_stop_handlers();
	int status = replay(&rp);

	progress_done();
	cleanup(&rp);
	return out_finish(status);
}
