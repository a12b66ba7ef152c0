// SPDX-License-Identifier: MIT
/*
 * The replay engine (iopftool-replay(8)): play a capture's fault groups
 * into a live queue as the device, on the recorded schedule (or a speed
 * factor, a fixed rate, or top speed), and check every response the
 * handler writes: a builtin one, an in-process callback, or a handler
 * process behind the handler-fd peer (lib/peer.c).
 *
 * The capture is streamed: groups come from the group rule (lib/group.c,
 * iopftool-capture(5) "Groups and cookies") as they complete, and are
 * injected in completion order; memory is bounded by the groups open in
 * the capture, not by its size.  The live side is a session
 * (lib/session.c): whole-group reads, batched responses, every record
 * printed, recorded and checked.
 *
 * A handler process gets one of three fds (iopftool-replay(8) "THE
 * HANDLER FD"), each a transport of its own behind one ops table
 * (lib/replay-hfd.h): the socket (lib/replay-socket.c), on sim the
 * handler file (lib/replay-fuse.c), on mock the queue's own fd seen
 * through the tap (lib/replay-kfd.c).  The scheduler, the injector and
 * the window are here.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "replay-hfd.h"
#include "u64map.h"

#define TOPSPEED_BATCH	64	/* groups injected between reads at top speed */
#define CALLBACK_RESPONSES 64	/* responses an in-process handler may give one group */
#define PEER_CLOSE_NS	200000000ull	/* after shutdown, how long the handler has to go */
/* Paced replay: the spin before a group is due (wait_until()) starts here and adapts. */
#define SPIN_START_NS	100000ull
#define SPIN_MIN_NS	5000ull
#define SPIN_MAX_NS	2000000ull
#define SPIN_ALONE_NS	20000ull	/* before due, stop serving the handler: a pass may take this long */

/* builtin:from-capture: the live cookies of one capture group's parts (UINT64_MAX: not delivered yet). */
struct parts {
	size_t n;
	uint64_t cookie[];
};

struct fifo_ent {
	uint64_t id;		/* capture group id */
	size_t part;
};

struct iopf_replay {
	struct iopf_replay_cfg cfg;
	struct iopf_target *t;
	struct iopf_session *sess;
	struct iopf_session_counts n;	/* the session's, refreshed as we go */
	struct iopf_hfd *x;		/* a handler process's transport (lib/replay-hfd.h) */
	uint64_t injected_recs, max_group_recs;	/* for the transport's window: records, not groups */
	bool handler_ended;
	struct iopf_grouper *grouper;	/* kept across loops, so group ids stay unique */
	const char *capture;
	int epfd, timerfd;
	int err;			/* first runtime error */
	int said;			/* an error returned that was logged where it happened */
	bool opened;			/* the capture was opened once: a later failure still has a report */
	bool unopened;			/* it never was */
	/* capture dev_id -> live dev_id */
	uint32_t *dev_cap, *dev_live;
	size_t ndevs, dev_capn;
	struct u64map dev_idx;		/* capture dev_id -> its index in dev_cap/dev_live */
	/* schedule */
	uint64_t start_ns, ts0, injected, injected_loop, first_inject_ns, last_inject_ns;
	uint64_t ts_last, skipped, gaps_cut;
	uint64_t injected_parts;	/* live groups injected (a split group is several) */
	bool have_ts0;
	uint64_t split, bad_records;
	/* flow control (backpressure()) and pacing (wait_until()) */
	uint64_t written_off;		/* groups given up on by a silent handler */
	uint64_t last_answer_ns;	/* when the last accepted answer came */
	uint64_t spin_ns;		/* wake this long before a group is due */
	/* builtin:from-capture: capture group id -> struct parts, until the grouper forgets it */
	struct u64map recorded;
	struct fifo_ent *fifo;		/* injected parts awaiting delivery, in injection order */
	size_t fifo_head, fifo_tail, fifo_cap;
};

/* now + d, saturated: --timeout 18446744073s must not wrap into the past. */
static uint64_t after(uint64_t d)
{
	uint64_t now = iopf_time_now();

	return d > UINT64_MAX - now ? UINT64_MAX : now + d;
}

static bool stopped(const struct iopf_replay *rp)
{
	return rp->cfg.stop && *rp->cfg.stop;
}

static void refresh(struct iopf_replay *rp)
{
	uint64_t accepted = rp->n.accepted;

	iopf_session_counts(rp->sess, &rp->n);
	if (rp->n.accepted != accepted)
		rp->last_answer_ns = iopf_time_now();
}

static void refresh_cb(void *ctx)
{
	refresh(ctx);
}

/* ---- builtin:from-capture bookkeeping ---------------------------------- */

static int fifo_push(struct iopf_replay *rp, uint64_t id, size_t part)
{
	if (rp->fifo_head == rp->fifo_tail)
		rp->fifo_head = rp->fifo_tail = 0;
	if (rp->fifo_tail == rp->fifo_cap && rp->fifo_head) {
		memmove(rp->fifo, rp->fifo + rp->fifo_head,
			(rp->fifo_tail - rp->fifo_head) * sizeof(*rp->fifo));
		rp->fifo_tail -= rp->fifo_head;
		rp->fifo_head = 0;
	}
	if (rp->fifo_tail == rp->fifo_cap) {
		size_t cap = rp->fifo_cap ? rp->fifo_cap * 2 : 256;
		struct fifo_ent *f = realloc(rp->fifo, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		rp->fifo = f;
		rp->fifo_cap = cap;
	}
	rp->fifo[rp->fifo_tail++] = (struct fifo_ent){ id, part };
	return 0;
}

static bool fifo_pop(struct iopf_replay *rp, struct fifo_ent *e)
{
	if (rp->fifo_head == rp->fifo_tail)
		return false;
	*e = rp->fifo[rp->fifo_head++];
	return true;
}

static struct parts *parts_of(struct iopf_replay *rp, uint64_t id)
{
	uint64_t v;

	return u64map_get(&rp->recorded, id, &v) ? (struct parts *)(uintptr_t)v : NULL;
}

static int note_recorded_group(struct iopf_replay *rp, const struct iopf_group *g, size_t parts)
{
	struct parts *p = malloc(sizeof(*p) + parts * sizeof(p->cookie[0]));
	int rc;

	if (!p)
		return -ENOMEM;
	p->n = parts;
	for (size_t i = 0; i < parts; i++)
		p->cookie[i] = UINT64_MAX;
	rc = u64map_put(&rp->recorded, g->id, (uint64_t)(uintptr_t)p);
	if (rc)
		free(p);
	return rc;
}

/* The grouper forgets a capture group: no response can refer to it any more. */
static void forget_group(void *ctx, const struct iopf_group *g)
{
	struct iopf_replay *rp = ctx;
	struct parts *p = parts_of(rp, g->id);

	if (p) {
		u64map_del(&rp->recorded, g->id);
		free(p);
	}
}

/*
 * A recorded response answers the live parts of the capture group it
 * refers to (g, from the grouper): by group identity, not by cookie
 * value.  One that referred to no group is sent as recorded.
 */
static int answer_recorded(struct iopf_replay *rp, const struct iopf_rec *r,
			   const struct iopf_group *g)
{
	struct parts *p = g ? parts_of(rp, g->id) : NULL;

	if (!g)
		return iopf_session_queue(rp->sess, r->u.resp.cookie, r->u.resp.code);
	for (size_t i = 0; p && i < p->n; i++)
		if (p->cookie[i] != UINT64_MAX) {
			int rc = iopf_session_queue(rp->sess, (uint32_t)p->cookie[i], r->u.resp.code);

			if (rc)
				return rc;
		}
	return 0;
}

/* ---- the handlers ------------------------------------------------------- */

/* A group was read from the queue: answer it, note it, or pass it on. */
static int on_live_group(void *ctx, struct iopf_group *g)
{
	struct iopf_replay *rp = ctx;
	const struct iopf_replay_cfg *c = &rp->cfg;

	switch (c->handler) {
	case IOPF_REPLAY_SUCCESS:
		return iopf_session_queue(rp->sess, g->cookie, IOMMUFD_PAGE_RESP_SUCCESS);
	case IOPF_REPLAY_INVALID:
		return iopf_session_queue(rp->sess, g->cookie, IOMMUFD_PAGE_RESP_INVALID);
	case IOPF_REPLAY_FROM_CAPTURE: {
		/* Injection order is delivery order (the queue is FIFO). */
		struct fifo_ent e;
		struct parts *p = fifo_pop(rp, &e) ? parts_of(rp, e.id) : NULL;

		if (p && e.part < p->n)
			p->cookie[e.part] = g->cookie;
		return 0;
	}
	case IOPF_REPLAY_CALLBACK: {
		struct iommu_hwpt_page_response out[CALLBACK_RESPONSES];
		int n = c->fn(c->fn_ctx, g, out, CALLBACK_RESPONSES);

		if (n < 0)
			return n;
		for (int i = 0; i < n && i < CALLBACK_RESPONSES; i++) {
			int rc = iopf_session_queue(rp->sess, out[i].cookie, out[i].code);

			if (rc)
				return rc;
		}
		return 0;
	}
	case IOPF_REPLAY_PEER:
		return rp->x && rp->x->ops->deliver ? rp->x->ops->deliver(rp->x, g) : 0;
	}
	return -EINVAL;
}

/* Read everything waiting and answer it: the in-process handlers' whole job. */
static int service(struct iopf_replay *rp)
{
	ssize_t g = iopf_session_drain(rp->sess, on_live_group, rp);
	int rc = g < 0 ? (int)g : iopf_session_flush(rp->sess);

	refresh(rp);
	return rc;
}

/* ---- the handler process, through its transport ----------------------- */

/* Groups wait for the handler's side (its socket is full). */
static bool busy(const struct iopf_replay *rp)
{
	return rp->x && rp->x->ops->busy && rp->x->ops->busy(rp->x);
}

/* Every injected group delivered and answered, nothing waiting to be forwarded. */
static bool quiet(const struct iopf_replay *rp)
{
	return rp->n.groups >= rp->injected_parts && !rp->n.outstanding && !busy(rp);
}

/* The handler process has gone: its socket is at end of stream, or its file is closed. */
static bool handler_gone(const struct iopf_replay *rp)
{
	return rp->x && rp->x->ops->gone && rp->x->ops->gone(rp->x);
}

static void on_event(struct iopf_replay *rp, const struct epoll_event *ev)
{
	int fd = ev->data.fd;
	uint64_t expirations;

	if (fd == rp->timerfd) {
		if (read(fd, &expirations, sizeof(expirations)) < 0)
			return;	/* EAGAIN: nothing to drain */
	} else if (rp->x) {
		rp->x->ops->event(rp->x, fd, ev->events);
	}
}

/* pump()'s early ends */
static bool answered(const struct iopf_replay *rp)
{
	return quiet(rp) || handler_gone(rp);
}

/*
 * Service the queue and the handler: until deadline_ns (monotonic), or for
 * one non-blocking pass when deadline_ns is 0; stop early once done(rp)
 * (answered: every injected group is answered or the handler is gone).
 */
static int pump(struct iopf_replay *rp, uint64_t deadline_ns,
		bool (*done)(const struct iopf_replay *rp))
{
	struct itimerspec its = { .it_value = { (time_t)(deadline_ns / 1000000000ull),
						(long)(deadline_ns % 1000000000ull) } };

	if (deadline_ns)
		timerfd_settime(rp->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
	for (;;) {
		struct epoll_event ev[8];

		if (stopped(rp) || rp->err)
			return rp->err;
		if (done && done(rp))
			return 0;
		if (deadline_ns && iopf_time_now() >= deadline_ns)
			return 0;
		int n = epoll_wait(rp->epfd, ev, 8, deadline_ns ? (rp->x ? rp->x->ops->wait_ms : -1) : 0);

		for (int i = 0; i < n; i++)
			on_event(rp, &ev[i]);
		if (rp->x && rp->x->ops->pass)
			rp->x->ops->pass(rp->x, n == 0);
		if (!deadline_ns)
			return rp->err;
	}
}

/* ---- injection ---------------------------------------------------------- */

static int live_dev(struct iopf_replay *rp, uint32_t cap_dev, uint32_t *live)
{
	uint64_t i;

	/* one look-up per record: a hash, not a search (a million devices) */
	if (u64map_get(&rp->dev_idx, cap_dev, &i)) {
		*live = rp->dev_live[i];
		return 0;
	}
	if (rp->ndevs == rp->dev_capn) {
		size_t cap = rp->dev_capn ? rp->dev_capn * 2 : 16;
		uint32_t *a = realloc(rp->dev_cap, cap * sizeof(*a));
		uint32_t *b = a ? realloc(rp->dev_live, cap * sizeof(*b)) : NULL;

		if (a)
			rp->dev_cap = a;
		if (!b) {
			iopf_log_printf(rp->cfg.log, IOPF_LOG_ERR, "replay: out of memory for %zu devices", cap);
			return rp->said = -ENOMEM;
		}
		rp->dev_live = b;
		rp->dev_capn = cap;
	}
	int rc = iopf_target_device(rp->t, cap_dev, live);

	if (rc)
		return rp->said = rc;	/* logged by the target (iopf.h) */
	if (*live != cap_dev)
		iopf_log_printf(rp->cfg.log, IOPF_LOG_DEBUG, "capture dev_id %u is live dev_id %u on %s",
				cap_dev, *live, iopf_target_name(rp->t));
	rc = u64map_put(&rp->dev_idx, cap_dev, rp->ndevs);
	if (rc) {
		iopf_log_printf(rp->cfg.log, IOPF_LOG_ERR, "replay: out of memory for %zu devices",
				rp->ndevs + 1);
		return rp->said = rc;
	}
	rp->dev_cap[rp->ndevs] = cap_dev;
	rp->dev_live[rp->ndevs++] = *live;
	return 0;
}

/* Inject one group: whole where the target can, else split into single-record groups. */
static int inject_group(struct iopf_replay *rp, const struct iopf_group *g)
{
	size_t max = iopf_target_max_group(rp->t), parts = g->n <= max ? 1 : g->n;
	int rc = 0;

	if (parts > 1)
		rp->split++;
	rp->injected_recs += g->n;
	if (g->n > rp->max_group_recs)
		rp->max_group_recs = g->n;
	if (rp->x && rp->x->ops->group)
		rp->x->ops->group(rp->x, g, rp->capture);
	if (rp->cfg.handler == IOPF_REPLAY_FROM_CAPTURE)
		rc = note_recorded_group(rp, g, parts);
	for (size_t i = 0; i < g->n && !rc; i++) {
		struct iommu_hwpt_pgfault f = g->recs[i];
		bool last = parts > 1 || i + 1 == g->n;

		rc = live_dev(rp, f.dev_id, &f.dev_id);
		if (rc)
			break;
		f.cookie = 0;
		if (last)
			f.flags |= IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		else
			f.flags &= ~IOMMU_PGFAULT_FLAGS_LAST_PAGE;
		rc = iopf_target_inject(rp->t, &f);
		if (rc)
			rp->said = rc;	/* logged by the target (iopf.h) */
		if (!rc && last && rp->x && rp->x->ops->injected)
			rp->x->ops->injected(rp->x);
		if (!rc && last)
			rp->injected_parts++;
		if (!rc && last && rp->cfg.handler == IOPF_REPLAY_FROM_CAPTURE)
			rc = fifo_push(rp, g->id, parts > 1 ? i : 0);
	}
	return rc;
}

/* When the group recorded at ts_ns is due, on the monotonic clock (0: now). */
static uint64_t due_ns(struct iopf_replay *rp, uint64_t ts_ns)
{
	const struct iopf_replay_cfg *c = &rp->cfg;

	if (c->schedule == IOPF_REPLAY_TOPSPEED)
		return 0;
	if (!rp->start_ns)	/* the schedule starts with the loop's first group */
		rp->start_ns = iopf_time_now();
	if (c->schedule == IOPF_REPLAY_RATE)
		return rp->start_ns + (uint64_t)((double)rp->injected_loop * 1e9 / c->rate);
	if (!rp->have_ts0) {
		rp->ts0 = rp->ts_last = ts_ns;
		rp->skipped = 0;
		rp->have_ts0 = true;
	}
	/* A recorded pause longer than max_gap_ns is cut short (a crafted time stamp must not stall us for years). */
	if (ts_ns > rp->ts_last && ts_ns - rp->ts_last > c->max_gap_ns) {
		if (!rp->gaps_cut++) {
			char gap[IOPF_DURATION_LEN], max[IOPF_DURATION_LEN];

			iopf_duration_format(ts_ns - rp->ts_last, gap, sizeof(gap));
			iopf_duration_format(c->max_gap_ns, max, sizeof(max));
			iopf_log_printf(c->log, IOPF_LOG_INFO, "%s: a pause of %s in the capture is cut to "
					"--max-gap %s", rp->capture, gap, max);
		}
		rp->skipped += ts_ns - rp->ts_last - c->max_gap_ns;
	}
	if (ts_ns > rp->ts_last)
		rp->ts_last = ts_ns;
	double off = ts_ns > rp->ts0 ? (double)(ts_ns - rp->ts0 - rp->skipped) : 0;
	double speed = c->schedule == IOPF_REPLAY_SPEED && c->speed > 0 ? c->speed : 1.0;

	return rp->start_ns + (uint64_t)(off / speed);
}

/* Groups in flight: injected, neither answered nor written off. */
static uint64_t in_flight(const struct iopf_replay *rp)
{
	uint64_t n = iopf_session_in_flight(rp->sess, rp->injected_parts);

	return n > rp->written_off ? n - rp->written_off : 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/*
 * Learn how late a sleep wakes up (timer slack, scheduling): the spin
 * margin follows the latest overshoot with headroom and decays slowly,
 * so one bad wake-up costs CPU for a while, not lag.
 */
static void learn_wakeup(struct iopf_replay *rp, uint64_t wake, uint64_t now)
{
	uint64_t over = now > wake ? now - wake : 0, want = over + over / 2 + SPIN_MIN_NS;

	rp->spin_ns -= rp->spin_ns / 64;
	if (want > rp->spin_ns)
		rp->spin_ns = want;
	if (rp->spin_ns < SPIN_MIN_NS)
		rp->spin_ns = SPIN_MIN_NS;
	if (rp->spin_ns > SPIN_MAX_NS)
		rp->spin_ns = SPIN_MAX_NS;
}

/*
 * Wait until due (monotonic): never when already late; else sleep until
 * shortly before (clock_nanosleep(TIMER_ABSTIME), or the epoll wait that
 * serves the handler's socket), then spin on the clock.  The stop flag is
 * looked at throughout, and a handler process is served while we wait.
 */
static int wait_until(struct iopf_replay *rp, uint64_t due)
{
	bool peer = rp->cfg.handler == IOPF_REPLAY_PEER;
	uint64_t now = iopf_time_now();
	int rc = 0;

	if (now >= due)
		return 0;
	if (!peer && in_flight(rp)) {	/* groups injected late wait for a batch: serve them first */
		rc = service(rp);
		now = iopf_time_now();
		if (rc || now >= due)
			return rc;
	}
	if (!rp->spin_ns)
		rp->spin_ns = SPIN_START_NS;
	if (due - now > rp->spin_ns) {
		uint64_t wake = due - rp->spin_ns;
		struct timespec ts = { (time_t)(wake / 1000000000ull), (long)(wake % 1000000000ull) };

		if (peer)
			rc = pump(rp, wake, NULL);
		else
			while (!stopped(rp) &&
			       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		now = iopf_time_now();
		if (!stopped(rp))
			learn_wakeup(rp, wake, now);
	}
	while (!rc && !stopped(rp) && now < due) {
		if (peer && due - now > SPIN_ALONE_NS)	/* the last moments are the clock's alone */
			rc = pump(rp, 0, NULL);
		else
			cpu_relax();
		now = iopf_time_now();
	}
	return rc;
}

/*
 * A transport that sees the handler's reads from outside (the tap sees
 * only so many records of one read) may ask for fewer records unread
 * than the window allows.
 */
static bool handler_seen(const struct iopf_replay *rp)
{
	uint64_t unread = rp->injected_recs > rp->n.faults ? rp->injected_recs - rp->n.faults : 0;

	return !rp->x || !rp->x->ops->sees || !unread ||
	       rp->x->ops->sees(rp->x, unread, rp->max_group_recs) ||
	       rp->written_off;	/* a handler that does not read: nothing to see */
}

/* pump()'s early ends for backpressure() */
static bool window_open(const struct iopf_replay *rp)
{
	return (in_flight(rp) < IOPF_WINDOW_GROUPS && handler_seen(rp)) || handler_gone(rp);
}

static bool socket_drained(const struct iopf_replay *rp)
{
	return !busy(rp) || window_open(rp);
}

/*
 * Flow control (IOPF_WINDOW_GROUPS, lib/iopf.h): while the groups in
 * flight fill the window, serve the queue and the handler instead of
 * injecting more, so that memory is bounded by the window and not by the
 * capture, and answers are not queued behind a backlog.  An in-process
 * handler answers as it reads (or never): one service() pass is all it
 * takes.  A handler process that answers nothing for --timeout while the
 * window is full has those groups written off (they stay unanswered in
 * the report): a silent handler slows the replay, it does not stall it.
 */
static int backpressure(struct iopf_replay *rp)
{
	uint64_t answered = rp->n.accepted, timeout = rp->cfg.timeout_ns ? rp->cfg.timeout_ns :
							    1000000000ull, deadline = after(timeout);
	int rc = 0;

	if (window_open(rp))
		return 0;
	if (rp->cfg.handler != IOPF_REPLAY_PEER)
		return service(rp);
	while (!rc && !window_open(rp) && !stopped(rp)) {
		if (rp->n.accepted != answered) {
			answered = rp->n.accepted;
			deadline = after(timeout);
		} else if (iopf_time_now() >= deadline) {
			if (!rp->written_off)
				iopf_log_printf(rp->cfg.log, IOPF_LOG_WARN, "the handler answered none of %llu "
						"groups in flight for %.3f s: not waiting for them",
						(unsigned long long)in_flight(rp), (double)timeout / 1e9);
			rp->written_off += in_flight(rp);
			break;
		}
		/*
		 * While the handler's socket is full the queue stays readable
		 * (on_event() leaves its groups there): wait for the socket
		 * alone, not in a spin on the queue's readiness.
		 */
		if (busy(rp)) {
			rp->x->ops->hold(rp->x, true);
			rc = pump(rp, deadline, socket_drained);
			rp->x->ops->hold(rp->x, false);
		} else {
			rc = pump(rp, deadline, window_open);
		}
	}
	return rc;
}

/* The grouper's complete callback: a capture group is complete; inject it when due. */
static int play_group(void *ctx, struct iopf_group *g)
{
	struct iopf_replay *rp = ctx;
	uint64_t due = due_ns(rp, g->last_ns);
	int rc = due ? wait_until(rp, due) : 0;

	if (rc || stopped(rp))
		return rc;
	/* At top speed the clock is read once a batch: the report's wall needs no more. */
	bool clock = due || !(rp->injected % TOPSPEED_BATCH);
	uint64_t now = clock ? iopf_time_now() : rp->last_inject_ns;

	bool late = due && now > due;

	if (due)
		iopf_check_lag(iopf_session_check(rp->sess), late ? now - due : 0);
	if (!rp->injected)
		rp->first_inject_ns = now;
	rc = inject_group(rp, g);
	rp->injected++;
	rp->injected_loop++;
	rp->last_inject_ns = clock ? iopf_time_now() : now;
	if (rc)
		return rc;
	if (rp->cfg.handler == IOPF_REPLAY_PEER)	/* one pass: forward what was delivered */
		return pump(rp, 0, NULL) ?: backpressure(rp);
	/*
	 * At top speed the success/invalid/callback handlers read after every
	 * TOPSPEED_BATCH injections: whole-group reads pack several groups,
	 * and the queue's readiness flips once per batch, not per group.  So
	 * does a paced replay while it is late (catching up, or a capture
	 * denser than one group per read and write), until it next waits
	 * (wait_until() serves what is left first).  from-capture must see
	 * each group delivered before its answer.
	 */
	if ((rp->cfg.schedule == IOPF_REPLAY_TOPSPEED || late) &&
	    rp->cfg.handler != IOPF_REPLAY_FROM_CAPTURE && rp->injected % TOPSPEED_BATCH)
		return backpressure(rp);
	return service(rp);
}

/* ---- reading the capture -------------------------------------------------- */

static int play_capture(struct iopf_replay *rp)
{
	char err[512];
	struct iopf_reader *rd;
	struct iopf_rec r;
	int rc = iopf_reader_open(&rd, rp->capture, err, sizeof(err));

	if (rc) {
		iopf_log_printf(rp->cfg.log, IOPF_LOG_ERR, "%s", err);
		rp->said = rc;
		rp->unopened = !rp->opened;
		return rc;
	}
	rp->opened = true;
	iopf_grouper_set_name(rp->grouper, rp->capture);	/* warnings name the file, not "capture" */
	rp->start_ns = 0;
	rp->injected_loop = 0;
	rp->have_ts0 = false;
	while (!stopped(rp) && (rc = iopf_reader_next(rd, &r)) != 0) {
		struct iopf_group *g;

		if (rc < 0) {
			if (iopf_reader_bad_shown(rd) || rc != -EBADMSG)
				iopf_log_printf(rp->cfg.log, IOPF_LOG_ERR, "%s: %s", rp->capture,
						iopf_reader_error(rd));
			if (rc != -EBADMSG) {
				rp->said = rc;
				break;
			}
			rp->bad_records++;
			rc = 0;
			continue;
		}
		/* The group rule (lib/group.c) injects each group as it completes. */
		rc = iopf_grouper_rec(rp->grouper, &r, iopf_reader_recno(rd), &g);
		if (!rc && r.type == IOPF_REC_RESPONSE && rp->cfg.handler == IOPF_REPLAY_FROM_CAPTURE)
			rc = answer_recorded(rp, &r, g) ?: service(rp);
		if (rc)
			break;
		if (rp->cfg.progress) {
			uint64_t pos, size;

			iopf_reader_position(rd, &pos, &size);
			rp->cfg.progress(rp->cfg.progress_ctx, rp->injected, pos, size);
		}
	}
	if (iopf_reader_bad_summary(rd))
		iopf_log_printf(rp->cfg.log, IOPF_LOG_ERR, "%s: %s", rp->capture, iopf_reader_bad_summary(rd));
	if (rc == 0 && iopf_reader_torn(rd))
		iopf_log_printf(rp->cfg.log, IOPF_LOG_WARN, "%s: %s", rp->capture, iopf_reader_torn(rd));
	if (rc >= 0 && !stopped(rp))
		iopf_grouper_end(rp->grouper);	/* incomplete groups: warned about, not injected */
	iopf_reader_free(rd);
	return rc > 0 ? 0 : rc;
}

/* ---- set-up, the end, the report ---------------------------------------- */

static int epoll_set(struct iopf_replay *rp, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(rp->epfd, op, fd, &ev) ? -errno : 0;
}

static struct iopf_hfd_host host_of(struct iopf_replay *rp)
{
	return (struct iopf_hfd_host){ .t = rp->t, .sess = rp->sess, .log = rp->cfg.log,
				       .epfd = rp->epfd, .err = &rp->err, .said = &rp->said,
				       .refresh = refresh_cb,
				       .ctx = rp };
}

int iopf_replay_new(struct iopf_replay **rpp, struct iopf_target *t, const struct iopf_replay_cfg *cfg)
{
	struct iopf_replay *rp = calloc(1, sizeof(*rp));
	struct iopf_session_cfg scfg = { 0 };
	struct iopf_grouper_cfg gcfg = { .log = cfg->log, .keep_records = true,
					 .complete = play_group, .forget = forget_group };
	bool peer_fd = cfg->handler == IOPF_REPLAY_PEER && cfg->peer_fd >= 0;
	int rc;

	*rpp = NULL;
	if (!rp) {
		if (peer_fd)
			close(cfg->peer_fd);	/* ours from here on, even on failure */
		return -ENOMEM;
	}
	rp->cfg = *cfg;
	rp->t = t;
	rp->epfd = rp->timerfd = -1;
	if (!rp->cfg.loops)
		rp->cfg.loops = 1;
	if (!rp->cfg.max_gap_ns)
		rp->cfg.max_gap_ns = UINT64_MAX;
	if ((rp->cfg.handler == IOPF_REPLAY_CALLBACK && !rp->cfg.fn) ||
	    (unsigned int)rp->cfg.handler > IOPF_REPLAY_PEER ||
	    (rp->cfg.schedule == IOPF_REPLAY_RATE && !(rp->cfg.rate > 0)))
		rc = -EINVAL;
	else if (!iopf_target_can_inject(t))
		rc = -EOPNOTSUPP;
	else
		rc = 0;
	if (rc) {
		if (rc == -EOPNOTSUPP)
			iopf_log_printf(cfg->log, IOPF_LOG_ERR, "cannot replay into %s: the tool can only "
					"inject faults into sim and mock", iopf_target_name(t));
		else
			iopf_log_printf(cfg->log, IOPF_LOG_ERR, "replay: invalid configuration (a callback "
					"handler without a function, an unknown handler, or a rate of 0)");
		if (peer_fd)
			close(cfg->peer_fd);
		free(rp);
		return rc;
	}
	gcfg.ctx = rp;
	scfg.deadline_ns = cfg->deadline_ns;
	scfg.out = cfg->out;
	scfg.writer = cfg->writer;
	scfg.log = cfg->log;
	rc = iopf_session_new(&rp->sess, t, &scfg);
	rc = rc ?: iopf_grouper_new(&rp->grouper, &gcfg);
	if (!rc) {
		rp->epfd = epoll_create1(EPOLL_CLOEXEC);
		rp->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (rp->epfd < 0 || rp->timerfd < 0)
			rc = -errno;
	}
	rc = rc ?: epoll_set(rp, EPOLL_CTL_ADD, rp->timerfd, EPOLLIN);
	if (peer_fd) {	/* the socket given: its transport owns it from here on */
		struct iopf_hfd_host host = host_of(rp);

		if (rc)
			close(cfg->peer_fd);
		else
			rc = iopf_hfd_socket_new(&rp->x, &host, cfg->peer_fd);
	}
	if (!rc && cfg->writer)
		rc = iopf_session_meta_start(rp->sess, cfg->source ? cfg->source : iopf_target_name(t),
					     NULL);
	if (rc) {
		iopf_log_printf(cfg->log, IOPF_LOG_ERR, "cannot set up the replay: %s", strerror(-rc));
		iopf_replay_free(rp);
		return rc;
	}
	*rpp = rp;
	return 0;
}

void iopf_replay_free(struct iopf_replay *rp)
{
	if (!rp)
		return;
	if (rp->x)
		rp->x->ops->free(rp->x);
	iopf_session_free(rp->sess);
	iopf_grouper_free(rp->grouper);
	for (size_t i = 0; i < rp->recorded.cap; i++)	/* groups not forgotten (a stop) */
		if (rp->recorded.s[i].used)
			free((void *)(uintptr_t)rp->recorded.s[i].val);
	u64map_free(&rp->recorded);
	free(rp->fifo);
	free(rp->dev_cap);
	free(rp->dev_live);
	u64map_free(&rp->dev_idx);
	if (rp->epfd >= 0)
		close(rp->epfd);
	if (rp->timerfd >= 0)
		close(rp->timerfd);
	free(rp);
}

/* ---- the handler's fd --------------------------------------------------- */

int iopf_replay_handler_open(struct iopf_replay *rp, enum iopf_handler_fd want, int *fd,
			     char *why, size_t whylen)
{
	struct iopf_hfd_host host = host_of(rp);
	bool mock = !iopf_target_is_sim(rp->t);
	int rc;

	*fd = -1;
	if (whylen)
		*why = '\0';
	if (rp->cfg.handler != IOPF_REPLAY_PEER || rp->x) {
		if (whylen)
			snprintf(why, whylen, "replay: no handler process (IOPF_REPLAY_PEER), or its fd "
				 "was made already");
		return -EINVAL;
	}
	if (want != IOPF_HFD_SOCKET) {
		rc = mock ? iopf_hfd_kfd_open(&rp->x, &host, fd, why, whylen) :
			    iopf_hfd_fuse_open(&rp->x, &host, fd, why, whylen);
		if (!rc)
			return IOPF_HFD_FILE;
		if (whylen && !*why)
			snprintf(why, whylen, "%s", strerror(-rc));
		if (want == IOPF_HFD_FILE)
			return rc;
	}
	rc = iopf_hfd_socket_open(&rp->x, &host, fd);
	if (rc && whylen)	/* the error contract (iopf.h): said in why */
		snprintf(why, whylen, "cannot make the handler's socket: %s", strerror(-rc));
	return rc ? rc : IOPF_HFD_SOCKET;
}

const char *iopf_replay_handler_fd_name(const struct iopf_replay *rp)
{
	return rp->x ? rp->x->ops->name : "none";
}

/*
 * After the last injection: wait for the handler's answers, then let it
 * go.  The socket's end of stream tells the handler; a file has none, so
 * the caller is asked to end it, and its file is served until it is
 * closed (it may answer what it held on its way out).
 */
static int finish_handler(struct iopf_replay *rp)
{
	struct iopf_hfd *x = rp->x;
	int rc = pump(rp, after(rp->cfg.timeout_ns), answered), xrc;

	if (!rc && !rp->n.outstanding)	/* stragglers (duplicates) get a moment */
		rc = pump(rp, after(rp->cfg.timeout_ns / 20), NULL);
	if (x->ops->shutdown) {
		x->ops->shutdown(x);
	} else if (rp->cfg.handler_end && !rp->handler_ended) {
		rp->handler_ended = true;
		rp->cfg.handler_end(rp->cfg.handler_end_ctx);
	}
	if (!rc)
		rc = pump(rp, after(PEER_CLOSE_NS), x->ops->shutdown ? answered : handler_gone);
	xrc = x->ops->finish ? x->ops->finish(x) : 0;
	return rc ?: xrc;
}

static void fill_report(struct iopf_replay *rp, struct iopf_report *rep)
{
	/* from the first injection to the last answer (or injection, if later) */
	uint64_t end = rp->last_answer_ns > rp->last_inject_ns ? rp->last_answer_ns : rp->last_inject_ns;

	if (end <= rp->first_inject_ns)
		end = iopf_time_now();

	iopf_check_finish(iopf_session_check(rp->sess), rep);
	if (rp->injected_parts > rp->n.groups && !stopped(rp)) {
		/* A handler with a file reads the queue itself: what it never read still waits. */
		uint64_t unread = rp->injected_parts - rp->n.groups;

		iopf_log_printf(rp->cfg.log, IOPF_LOG_WARN, "%llu injected groups were never read by the "
				"handler: they count as unanswered (a device would still be waiting)",
				(unsigned long long)unread);
		rep->v[IOPF_V_UNANSWERED] += unread;
		rep->ok = false;
	}
	rep->wall_ns = rp->injected ? end - rp->first_inject_ns : 0;
	/* answered groups: one accepted response each */
	rep->groups_per_s = rep->wall_ns ? (double)rep->v[IOPF_OK] * 1e9 / (double)rep->wall_ns : 0;
	rep->split_groups = rp->split;
	rep->dev_capture = rp->dev_cap;
	rep->dev_live = rp->dev_live;
	rep->ndevs = rp->ndevs;
	if (rp->unopened) {	/* nothing was played: the open's error was said */
		rep->unopened = true;
		rep->ok = false;
	}
	if (stopped(rp)) {	/* what ran was checked, but the capture was not played out */
		rep->interrupted = true;
		rep->ok = false;
	}
	if (rp->split)
		iopf_log_printf(rp->cfg.log, IOPF_LOG_WARN, "%llu multi-record groups were injected split "
				"into single-record groups: %s makes only single-record groups",
				(unsigned long long)rp->split, iopf_target_name(rp->t));
}

int iopf_replay_run(struct iopf_replay *rp, const char *capture, struct iopf_report *rep)
{
	int rc = 0, rc2;

	memset(rep, 0, sizeof(*rep));
	rp->capture = capture;
	if (rp->cfg.handler == IOPF_REPLAY_PEER && !rp->x) {
		iopf_log_printf(rp->cfg.log, IOPF_LOG_ERR, "replay: no handler fd (iopf_replay_handler_open() "
				"was not called)");
		return -EINVAL;
	}
	if (rp->cfg.handler == IOPF_REPLAY_PEER && rp->cfg.settle_ns)	/* a handler needs a moment to start */
		rc = pump(rp, after(rp->cfg.settle_ns), NULL);
	for (uint64_t i = 0; !rc && i < rp->cfg.loops && !stopped(rp); i++)
		rc = play_capture(rp);
	rc2 = rp->x ? finish_handler(rp) : service(rp);
	rc = rc ?: rc2;
	if (rp->cfg.writer) {	/* the -w capture's META end=1 (after a write error: that error) */
		int wrc = iopf_session_meta_end(rp->sess, 0);

		refresh(rp);
		if (wrc && !rp->n.write_err)
			rp->n.write_err = wrc;
	} else {
		refresh(rp);
	}
	fill_report(rp, rep);
	/* the error contract (lib/iopf.h): every error said once, here if not where it happened */
	if (rc < 0 && rc != rp->said && rc != iopf_session_said(rp->sess))
		iopf_log_printf(rp->cfg.log, IOPF_LOG_ERR, "replay stopped: %s", strerror(-rc));
	if (rc)
		return rc;
	return rp->bad_records ? -EBADMSG : 0;	/* each bad record was logged */
}

void iopf_replay_counts(const struct iopf_replay *rp, struct iopf_session_counts *c)
{
	*c = rp->n;
}
